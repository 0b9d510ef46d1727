//! libFuzzer harness of the `audit_event` target; the body is `ok2cry_fuzz::audit_event::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::audit_event::run(data));
