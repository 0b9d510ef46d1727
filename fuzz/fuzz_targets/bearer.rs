//! libFuzzer harness of the `bearer` target; the body is `ok2cry_fuzz::bearer::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::bearer::run(data));
