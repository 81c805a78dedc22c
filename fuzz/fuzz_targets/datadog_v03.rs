#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::datadog::decode_v03_msgpack(data);
    let _ = kiseki_codec::datadog::decode_v03_json(data);
});
