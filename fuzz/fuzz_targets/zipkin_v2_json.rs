//! Feeds arbitrary bytes to the Zipkin v2 json decoder: it must return, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::zipkin::decode_v2_json(data);
});
