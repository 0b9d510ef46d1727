//! libFuzzer harness of the `http_api` target; the body is `ok2cry_fuzz::http_api::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ok2cry_fuzz::http_api::run(data));
