//! Feeds arbitrary bytes to the OTLP JSON decoder: it must return, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::otlp::decode_traces_json(data);
});
