//! libFuzzer harness of the `jwk` target; the body is `ok2cry_fuzz::jwk::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::jwk::run(data));
