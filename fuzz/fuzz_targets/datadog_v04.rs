#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(spans) = kiseki_codec::datadog::decode_v04_msgpack(data) {
        // Whatever was read can be written and read again.
        let again = kiseki_codec::datadog::encode_v04_msgpack(&spans);
        let _ = kiseki_codec::datadog::decode_v04_msgpack(&again);
    }
    let _ = kiseki_codec::datadog::decode_v04_json(data);
});
