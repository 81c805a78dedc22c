//! Feeds arbitrary bytes to the OTLP protobuf decoder: it must return, never panic, and what it
//! accepts must encode and decode again to the same spans.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = kiseki_codec::otlp::decode_traces_proto(data) {
        let again = kiseki_codec::otlp::encode_traces_proto(&decoded.spans);
        let reread = kiseki_codec::otlp::decode_traces_proto(&again).expect("own encoding decodes");
        assert_eq!(reread.spans.len(), decoded.spans.len());
    }
});
