//! Feeds arbitrary text to every propagation extractor under every header name: extraction must
//! return, never panic, and a context it returns must write back and read again to the same ids.
//!
//! Each input line is one header: its first character picks the name, the rest is the value, so
//! the fuzzer can repeat headers (two `traceparent`s, split `tracestate`) and combine formats.
#![no_main]

use kiseki_codec::propagation::{Format, HEADER_NAMES as NAMES, b3, extract_any};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let headers: Vec<(&str, &str)> = text
        .split('\n')
        .filter_map(|line| {
            let mut chars = line.chars();
            let selector = chars.next()?;
            Some((NAMES[selector as usize % NAMES.len()], chars.as_str()))
        })
        .collect();
    for format in Format::ALL {
        if let Ok(Some(context)) = format.extract(headers.as_slice()) {
            let mut written = Vec::new();
            format.inject(&context, &mut written);
            let again = format.extract(written.as_slice());
            let again = again.ok().flatten().expect("a context that was read writes back");
            assert_eq!((again.trace_id, again.span_id), (context.trace_id, context.span_id));
            assert_eq!(again.is_sampled(), context.is_sampled());
        }
    }
    let _ = extract_any(headers.as_slice());
    let _ = b3::extract_sampling_only(headers.as_slice());
});
