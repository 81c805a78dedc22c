#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::jaeger::decode_proto_post_spans(data);
});
