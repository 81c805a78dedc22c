#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::jaeger::decode_thrift_batch_compact(data);
});
