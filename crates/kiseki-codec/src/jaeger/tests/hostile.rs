//! Malformed and hostile payloads: each is refused with an error that says what and where.

use crate::limits::{self, LimitError};
use crate::thrift::{BinaryWriter, CompactWriter, FieldType, ThriftError, ThriftWriter};

use super::*;

/// Writes a batch by hand: field 1 process, field 2 one span whose fields `write_span` adds.
fn handmade_batch(write_span: impl Fn(&mut BinaryWriter)) -> Vec<u8> {
    let mut w = BinaryWriter::new();
    w.write_field_begin(FieldType::Struct, 1);
    w.write_field_begin(FieldType::Binary, 1);
    w.write_string("svc");
    w.write_field_stop();
    w.write_field_begin(FieldType::List, 2);
    w.write_list_begin(FieldType::Struct, 1);
    w.write_field_begin(FieldType::I64, 1);
    w.write_i64(1);
    w.write_field_begin(FieldType::I64, 3);
    w.write_i64(2);
    write_span(&mut w);
    w.write_field_stop();
    w.write_field_stop();
    w.out
}

fn tag_list(w: &mut BinaryWriter, field: i16, count: usize, key: impl Fn(usize) -> String) {
    w.write_field_begin(FieldType::List, field);
    w.write_list_begin(FieldType::Struct, count);
    for i in 0..count {
        w.write_field_begin(FieldType::Binary, 1);
        w.write_string(&key(i));
        w.write_field_begin(FieldType::I32, 2);
        w.write_i32(2);
        w.write_field_begin(FieldType::Bool, 5);
        w.write_bool(true);
        w.write_field_stop();
    }
}

#[test]
fn every_truncation_of_a_thrift_payload_is_an_error() {
    let spans = [sample_span()];
    let payloads = [
        (
            encode_thrift_batch(&spans, ThriftProtocol::Binary).remove(0),
            decode_thrift_batch_binary as Decoder,
        ),
        (
            encode_thrift_batch(&spans, ThriftProtocol::Compact).remove(0),
            decode_thrift_batch_compact,
        ),
        (encode_udp_emit_batch(&spans, true).remove(0), decode_udp_compact),
        (encode_udp_emit_batch(&spans, false).remove(0), decode_udp_binary),
    ];
    for (body, decode) in payloads {
        assert!(decode(&body).is_ok());
        for end in 0..body.len() {
            assert!(decode(&body[..end]).is_err(), "prefix of {end} bytes was accepted");
        }
    }
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let error = decode_thrift_batch_binary(b"hello, world").unwrap_err();
    assert!(error.to_string().starts_with("unknown thrift type"), "{error}");
    let error = decode_proto_post_spans(&[0x0a, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
    assert!(error.to_string().starts_with("malformed protobuf"), "{error}");
    assert!(decode_udp_binary(&[]).is_err());
    assert!(decode_udp_compact(&[0x82]).is_err());
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    // A span list claiming two billion spans in a few bytes.
    let body = [0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0x00];
    assert!(matches!(
        decode_thrift_batch_binary(&body),
        Err(DecodeError::Thrift(ThriftError::BadLength(_)))
    ));
    let body = [0x29, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert!(decode_thrift_batch_compact(&body).is_err());
    // A tag list with a string claiming 2 GiB.
    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::List, 10);
        w.write_list_begin(FieldType::Struct, 1);
        w.write_field_begin(FieldType::Binary, 1);
        w.write_i32(i32::MAX);
    });
    assert!(decode_thrift_batch_binary(&body).is_err());
}

#[test]
fn too_many_tags_logs_or_references_hit_the_limits() {
    let body = handmade_batch(|w| tag_list(w, 10, limits::MAX_ATTRIBUTES + 1, |i| format!("k{i}")));
    assert_eq!(
        decode_thrift_batch_binary(&body).unwrap_err(),
        DecodeError::Limit(LimitError::TooManyAttributes { count: limits::MAX_ATTRIBUTES + 1 })
            .in_span(0)
    );
    // Repeated keys are one attribute, not a list past the limit.
    let body = handmade_batch(|w| tag_list(w, 10, limits::MAX_ATTRIBUTES + 1, |_| "same".into()));
    assert_eq!(decode_thrift_batch_binary(&body).unwrap()[0].attributes.len(), 1);

    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::List, 11);
        w.write_list_begin(FieldType::Struct, limits::MAX_EVENTS + 1);
        for _ in 0..=limits::MAX_EVENTS {
            w.write_field_stop();
        }
    });
    let error = decode_thrift_batch_binary(&body).unwrap_err();
    assert!(error.to_string().starts_with("span 0: 4097 events"), "{error}");

    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::List, 6);
        w.write_list_begin(FieldType::Struct, limits::MAX_LINKS + 1);
        for i in 0..=limits::MAX_LINKS {
            w.write_field_begin(FieldType::I64, 2);
            w.write_i64(7);
            w.write_field_begin(FieldType::I64, 4);
            w.write_i64(i as i64 + 1);
            w.write_field_stop();
        }
    });
    let error = decode_thrift_batch_binary(&body).unwrap_err();
    assert!(error.to_string().starts_with("span 0: 1025 links"), "{error}");

    let mut span = proto::ProtoSpan {
        trace_id: vec![1; 16],
        span_id: vec![1; 8],
        ..proto::ProtoSpan::default()
    };
    span.tags = (0..=limits::MAX_ATTRIBUTES)
        .map(|i| proto::KeyValue { key: format!("k{i}"), ..proto::KeyValue::default() })
        .collect();
    let request =
        proto::PostSpansRequest { batch: Some(proto::Batch { spans: vec![span], process: None }) };
    let error = spans_from_post_spans_request(&request).unwrap_err();
    assert!(error.to_string().starts_with("span 0: 4097 attributes"), "{error}");
}

#[test]
fn deep_nesting_in_unknown_fields_is_refused() {
    let mut body = vec![0x0c, 0x00, 0x09];
    for _ in 0..200 {
        body.extend_from_slice(&[0x0c, 0x00, 0x01]);
    }
    assert_eq!(decode_thrift_batch_binary(&body), Err(DecodeError::Thrift(ThriftError::TooDeep)));
}

#[test]
fn invalid_utf8_is_an_error_not_a_replacement() {
    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::Binary, 5);
        w.write_binary(&[b'o', 0xff, b'p']);
    });
    assert_eq!(
        decode_thrift_batch_binary(&body),
        Err(DecodeError::Thrift(ThriftError::InvalidUtf8).in_span(0))
    );
    let mut proto = encode_proto_post_spans(&[sample_span()]);
    let at = proto.windows(2).position(|w| w == b"op").unwrap();
    proto[at] = 0xff;
    let error = decode_proto_post_spans(&proto).unwrap_err().to_string();
    assert!(error.starts_with("span 0: malformed protobuf at byte"), "{error}");
    assert!(error.ends_with("string is not UTF-8"), "{error}");
}

#[test]
fn zero_ids_and_bad_times_name_the_span() {
    let zero_trace = handmade_batch(|w| {
        w.write_field_begin(FieldType::I64, 1);
        w.write_i64(0);
    });
    assert_eq!(
        decode_thrift_batch_binary(&zero_trace).unwrap_err().to_string(),
        "span 0: trace id is zero"
    );
    let zero_span = handmade_batch(|w| {
        w.write_field_begin(FieldType::I64, 3);
        w.write_i64(0);
    });
    assert_eq!(
        decode_thrift_batch_binary(&zero_span).unwrap_err().to_string(),
        "span 0: span id is zero"
    );
    let negative = handmade_batch(|w| {
        w.write_field_begin(FieldType::I64, 8);
        w.write_i64(-5);
    });
    assert_eq!(
        decode_thrift_batch_binary(&negative).unwrap_err().to_string(),
        "span 0: start time is out of range (negative or after the year 2554)"
    );
    let overflow = handmade_batch(|w| {
        w.write_field_begin(FieldType::I64, 8);
        w.write_i64(i64::MAX);
        w.write_field_begin(FieldType::I64, 9);
        w.write_i64(i64::MAX);
    });
    assert!(decode_thrift_batch_binary(&overflow).is_err());
    // A negative duration that still ends after the epoch is kept: end before start.
    let early_end = handmade_batch(|w| {
        w.write_field_begin(FieldType::I64, 8);
        w.write_i64(10);
        w.write_field_begin(FieldType::I64, 9);
        w.write_i64(-4);
    });
    let span = &decode_thrift_batch_binary(&early_end).unwrap()[0];
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (10_000, 6_000));
}

#[test]
fn wrong_field_types_and_list_elements_are_named() {
    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::Binary, 8);
        w.write_string("soon");
    });
    assert_eq!(
        decode_thrift_batch_binary(&body).unwrap_err().to_string(),
        "span 0: thrift field 8 has type Binary, expected I64"
    );
    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::List, 10);
        w.write_list_begin(FieldType::I64, 1);
        w.write_i64(1);
    });
    assert_eq!(
        decode_thrift_batch_binary(&body).unwrap_err().to_string(),
        "span 0: thrift list in field 10 holds I64, expected Struct"
    );
    let body = handmade_batch(|w| {
        w.write_field_begin(FieldType::List, 10);
        w.write_list_begin(FieldType::Struct, 1);
        w.write_field_begin(FieldType::Binary, 1);
        w.write_string("odd");
        w.write_field_begin(FieldType::I32, 2);
        w.write_i32(7);
        w.write_field_stop();
    });
    assert_eq!(
        decode_thrift_batch_binary(&body).unwrap_err().to_string(),
        "span 0: tag \"odd\" has unknown value type 7"
    );
}

fn message(writer: &mut impl ThriftWriter, name: &str, kind: u8, batch: bool) {
    writer.write_message_begin(name, kind, 1);
    writer.write_struct_begin();
    if batch {
        writer.write_field_begin(FieldType::Struct, 1);
        writer.write_struct_begin();
        writer.write_field_stop();
        writer.write_struct_end();
    }
    writer.write_field_stop();
    writer.write_struct_end();
}

#[test]
fn only_emit_batch_calls_are_accepted() {
    let compact = |name: &str, kind: u8, batch: bool| {
        let mut w = CompactWriter::new();
        message(&mut w, name, kind, batch);
        decode_udp_compact(&w.out)
    };
    let binary = |name: &str, kind: u8, batch: bool| {
        let mut w = BinaryWriter::new();
        message(&mut w, name, kind, batch);
        decode_udp_binary(&w.out)
    };
    type Decode<'a> = &'a dyn Fn(&str, u8, bool) -> Result<Vec<Span>, DecodeError>;
    for decode in [&compact as Decode, &binary] {
        assert_eq!(decode("emitBatch", 4, true), Ok(Vec::new()));
        // Older Thrift generators send oneway calls as plain calls.
        assert_eq!(decode("emitBatch", 1, true), Ok(Vec::new()));
        assert_eq!(decode("emitBatch", 2, true), Err(DecodeError::MessageType(2)));
        assert_eq!(decode("emitBatch", 4, false), Err(DecodeError::MissingBatch));
        let error = decode("emitZipkinBatch", 4, true).unwrap_err();
        assert_eq!(error, DecodeError::ZipkinBatch);
        assert!(error.to_string().contains("9411"));
        let error = decode("submitBatches", 1, true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "thrift message \"submitBatches\" is not supported: the jaeger agent ports accept only emitBatch"
        );
    }
    // Old-style binary message headers (no version word) are read too.
    let mut old = 9i32.to_be_bytes().to_vec();
    old.extend_from_slice(b"emitBatch");
    old.push(4);
    old.extend_from_slice(&0i32.to_be_bytes());
    old.extend_from_slice(&[0x0c, 0x00, 0x01, 0x00, 0x00]);
    assert_eq!(decode_udp_binary(&old), Ok(Vec::new()));
}

#[test]
fn a_batch_without_a_process_has_an_empty_resource() {
    let mut w = BinaryWriter::new();
    w.write_field_begin(FieldType::List, 2);
    w.write_list_begin(FieldType::Struct, 1);
    w.write_field_begin(FieldType::I64, 1);
    w.write_i64(1);
    w.write_field_begin(FieldType::I64, 3);
    w.write_i64(2);
    w.write_field_stop();
    w.write_field_stop();
    let spans = decode_thrift_batch_binary(&w.out).unwrap();
    assert_eq!(spans[0].service_name(), "unknown_service");
}

#[test]
fn thrift_protocol_sniffing() {
    let span = [sample_span()];
    let binary = encode_thrift_batch(&span, ThriftProtocol::Binary).remove(0);
    let compact = encode_thrift_batch(&span, ThriftProtocol::Compact).remove(0);
    assert_eq!(sniff_thrift_batch_protocol(&binary), Some(ThriftProtocol::Binary));
    assert_eq!(sniff_thrift_batch_protocol(&compact), Some(ThriftProtocol::Compact));
    assert_eq!(sniff_thrift_batch_protocol(b"{}"), None);
    assert_eq!(sniff_thrift_batch_protocol(&[]), None);
}

#[test]
fn encoders_write_one_batch_per_resource() {
    let mut other = sample_span();
    other.resource = Arc::new(Resource::for_service("other"));
    let spans = [sample_span(), other, sample_span()];
    assert_eq!(encode_thrift_batch(&spans, ThriftProtocol::Binary).len(), 2);
    assert_eq!(encode_udp_emit_batch(&spans, true).len(), 2);
    assert!(encode_thrift_batch(&[], ThriftProtocol::Compact).is_empty());
    let decoded = decode_proto_post_spans(&encode_proto_post_spans(&spans)).unwrap();
    let services: Vec<&str> = decoded.iter().map(Span::service_name).collect();
    assert_eq!(services, ["svc", "other", "svc"]);
    assert!(post_spans_response().is_empty());
}
