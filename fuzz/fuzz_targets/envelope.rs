//! libFuzzer harness of the `envelope` target; the body is `ok2cry_fuzz::envelope::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::envelope::run(data));
