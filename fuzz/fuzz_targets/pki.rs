//! libFuzzer harness of the `pki` target; the body is `ok2cry_fuzz::pki::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::pki::run(data));
