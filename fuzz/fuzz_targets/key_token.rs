//! libFuzzer harness of the `key_token` target; the body is `ok2cry_fuzz::key_token::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::key_token::run(data));
