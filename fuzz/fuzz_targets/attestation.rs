//! libFuzzer harness of the `attestation` target; the body is `ok2cry_fuzz::attestation::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::attestation::run(data));
