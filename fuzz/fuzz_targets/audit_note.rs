//! libFuzzer harness of the `audit_note` target; the body is `ok2cry_fuzz::audit_note::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::audit_note::run(data));
