#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kiseki_codec::datadog::decode_v07(data);
});
