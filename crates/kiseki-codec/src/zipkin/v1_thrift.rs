//! Zipkin v1 Thrift (`POST /api/v1/spans` with `application/x-thrift`): a TBinaryProtocol
//! `list<Span>` of `zipkinCore.thrift`.
//!
//! Binary annotations keep their declared type (BOOL, BYTES, I16, I32, I64, DOUBLE, STRING, values
//! big-endian as the IDL defines); one without a type, or with a type the IDL does not define, is
//! kept as bytes. A STRING value that is not UTF-8 is read as Latin-1 (see [`latin1`]): the value
//! is a Thrift `binary`, and zipkin-js fills it that way. Fields with an unexpected Thrift type are
//! skipped, as Zipkin's reader skips them.

use std::net::{Ipv4Addr, Ipv6Addr};

use kiseki_model::{AnyValue, IdError, Span, SpanId, Str, TraceId};

use super::encoding::{Encoding, sniff};
use super::error::{DecodeError, SpanError};
use super::to_model::to_model;
use super::v1::{V1Annotation, V1BinaryAnnotation, V1Span, convert, is_address_key};
use super::wire::Endpoint;
use crate::limits::{self, LimitError};
use crate::thrift::{BinaryReader, FieldType, ThriftReader};

/// `AnnotationType` of `zipkinCore.thrift`.
mod annotation_type {
    pub const BOOL: i32 = 0;
    pub const BYTES: i32 = 1;
    pub const I16: i32 = 2;
    pub const I32: i32 = 3;
    pub const I64: i32 = 4;
    pub const DOUBLE: i32 = 5;
    pub const STRING: i32 = 6;
}

/// Decodes a TBinaryProtocol `list<Span>`, splitting shared client/server spans in two as Zipkin
/// does. An empty body is an empty list.
pub fn decode_v1_thrift(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let Some(&first) = body.first() else { return Ok(Vec::new()) };
    // The list's element type: 12 (struct), or 11 from an old Java reporter's bug.
    if first != 12 && first != 11 {
        return Err(match sniff(body) {
            Some(found) => DecodeError::WrongEncoding { expected: Encoding::V1Thrift, found },
            None => DecodeError::NotAList { expected: Encoding::V1Thrift },
        });
    }
    let mut reader = BinaryReader::new(body);
    let (_, count) = reader.read_list_begin()?;
    let mut wire = Vec::with_capacity(count.min(1024));
    for index in 0..count {
        let mut v1 = read_span(&mut reader).map_err(|e| e.at(index))?;
        v1.sort();
        wire.extend(convert(&v1).into_iter().map(|z| (index, z)));
    }
    let trailing = body.len().saturating_sub(reader.position());
    if trailing > 0 {
        return Err(DecodeError::TrailingBytes { count: trailing });
    }
    to_model(wire)
}

fn read_span(r: &mut BinaryReader<'_>) -> Result<V1Span, SpanError> {
    let (mut trace_id, mut trace_id_high, mut id, mut parent_id) = (None, 0u64, None, None);
    let (mut name, mut timestamp, mut duration, mut debug) = (Str::default(), 0, 0, false);
    let (mut annotations, mut binary_annotations) = (Vec::new(), Vec::new());
    r.read_struct_begin()?;
    while let Some(field) = r.read_field_begin()? {
        // Ids are unsigned 64-bit values in Thrift's signed i64.
        match (field.id, field.ty) {
            (1, FieldType::I64) => trace_id = Some(r.read_i64()? as u64),
            (3, FieldType::Binary) => name = Str::new(r.read_string()?),
            (4, FieldType::I64) => id = Some(r.read_i64()? as u64),
            (5, FieldType::I64) => parent_id = SpanId::new(r.read_i64()? as u64),
            (6, FieldType::List) => {
                let count = read_struct_list(r, limits::MAX_EVENTS, |count| {
                    LimitError::TooManyEvents { count }
                })?;
                for _ in 0..count {
                    annotations.extend(read_annotation(r)?);
                }
            }
            (8, FieldType::List) => {
                let count = read_struct_list(r, limits::MAX_ATTRIBUTES, |count| {
                    LimitError::TooManyAttributes { count }
                })?;
                for _ in 0..count {
                    binary_annotations.extend(read_binary_annotation(r)?);
                }
            }
            (9, FieldType::Bool) => debug = r.read_bool()?,
            (10, FieldType::I64) => timestamp = r.read_i64()?,
            (11, FieldType::I64) => duration = r.read_i64()?,
            (12, FieldType::I64) => trace_id_high = r.read_i64()? as u64,
            _ => r.skip(field.ty)?,
        }
    }
    r.read_struct_end()?;
    let low = trace_id.ok_or(SpanError::MissingTraceId)?;
    let trace_id =
        TraceId::from_halves(trace_id_high, low).ok_or(SpanError::TraceId(IdError::Zero))?;
    let id = id.ok_or(SpanError::MissingSpanId)?;
    let id = SpanId::new(id).ok_or(SpanError::SpanId(IdError::Zero))?;
    Ok(V1Span {
        trace_id,
        id,
        parent_id,
        name,
        timestamp,
        duration,
        annotations,
        binary_annotations,
        debug,
    })
}

/// Reads a list header, checking the count against a limit. A list of other elements than
/// structs is skipped (count 0 returned).
fn read_struct_list(
    r: &mut BinaryReader<'_>,
    limit: usize,
    too_many: impl FnOnce(usize) -> LimitError,
) -> Result<usize, SpanError> {
    let (element, count) = r.read_list_begin()?;
    if element != FieldType::Struct {
        for _ in 0..count {
            r.skip(element)?;
        }
        return Ok(0);
    }
    if count > limit {
        return Err(too_many(count).into());
    }
    Ok(count)
}

/// An annotation, or `None` for one without timestamp or value (Zipkin drops those).
fn read_annotation(r: &mut BinaryReader<'_>) -> Result<Option<V1Annotation>, SpanError> {
    let (mut timestamp, mut value, mut endpoint) = (0i64, None, None);
    r.read_struct_begin()?;
    while let Some(field) = r.read_field_begin()? {
        match (field.id, field.ty) {
            (1, FieldType::I64) => timestamp = r.read_i64()?,
            (2, FieldType::Binary) => value = Some(Str::new(r.read_string()?)),
            (3, FieldType::Struct) => endpoint = read_endpoint(r)?,
            _ => r.skip(field.ty)?,
        }
    }
    r.read_struct_end()?;
    Ok(match value {
        Some(value) if timestamp != 0 => Some(V1Annotation { timestamp, value, endpoint }),
        _ => None,
    })
}

/// A binary annotation with its typed value, or `None` for one Zipkin drops: without key or
/// value, or an address (`sa`, `ca`, `ma`) that is not `true` or has no endpoint.
fn read_binary_annotation(
    r: &mut BinaryReader<'_>,
) -> Result<Option<V1BinaryAnnotation>, SpanError> {
    let (mut key, mut value, mut value_type, mut endpoint) = (None, None, None, None);
    r.read_struct_begin()?;
    while let Some(field) = r.read_field_begin()? {
        match (field.id, field.ty) {
            (1, FieldType::Binary) => key = Some(Str::new(r.read_string()?)),
            (2, FieldType::Binary) => value = Some(r.read_binary()?),
            (3, FieldType::I32) => value_type = Some(r.read_i32()?),
            (4, FieldType::Struct) => endpoint = read_endpoint(r)?,
            _ => r.skip(field.ty)?,
        }
    }
    r.read_struct_end()?;
    let (Some(key), Some(bytes)) = (key, value) else { return Ok(None) };
    if is_address_key(&key) && value_type == Some(annotation_type::BOOL) {
        if bytes != [1] || endpoint.is_none() {
            return Ok(None);
        }
        return Ok(Some(V1BinaryAnnotation { key, value: AnyValue::Bool(true), endpoint }));
    }
    let value = typed_value(&key, value_type, bytes)?;
    Ok(Some(V1BinaryAnnotation { key, value, endpoint }))
}

fn typed_value(key: &Str, value_type: Option<i32>, bytes: &[u8]) -> Result<AnyValue, SpanError> {
    let wrong_length = |type_name: &str, expected: usize| SpanError::BinaryAnnotationValue {
        key: key.to_string(),
        problem: format!("{type_name} value has {} bytes, expected {expected}", bytes.len()),
    };
    Ok(match value_type {
        Some(annotation_type::BOOL) => match bytes {
            [b] => AnyValue::Bool(*b != 0),
            _ => return Err(wrong_length("BOOL", 1)),
        },
        Some(annotation_type::I16) => match <[u8; 2]>::try_from(bytes) {
            Ok(b) => AnyValue::Int(i16::from_be_bytes(b).into()),
            Err(_) => return Err(wrong_length("I16", 2)),
        },
        Some(annotation_type::I32) => match <[u8; 4]>::try_from(bytes) {
            Ok(b) => AnyValue::Int(i32::from_be_bytes(b).into()),
            Err(_) => return Err(wrong_length("I32", 4)),
        },
        Some(annotation_type::I64) => match <[u8; 8]>::try_from(bytes) {
            Ok(b) => AnyValue::Int(i64::from_be_bytes(b)),
            Err(_) => return Err(wrong_length("I64", 8)),
        },
        Some(annotation_type::DOUBLE) => match <[u8; 8]>::try_from(bytes) {
            Ok(b) => AnyValue::Double(f64::from_be_bytes(b)),
            Err(_) => return Err(wrong_length("DOUBLE", 8)),
        },
        Some(annotation_type::STRING) => AnyValue::Str(match std::str::from_utf8(bytes) {
            Ok(text) => Str::new(text),
            Err(_) => latin1(bytes),
        }),
        Some(annotation_type::BYTES) => AnyValue::Bytes(bytes.to_vec()),
        // A type that is missing or unknown: the bytes as sent.
        _ => AnyValue::Bytes(bytes.to_vec()),
    })
}

/// Text from bytes that are not UTF-8, one character per byte.
///
/// zipkin-js's Thrift encoder writes binary annotation values with Node's `"binary"` encoding,
/// which keeps the low byte of each UTF-16 unit: Latin-1 text arrives intact that way and is read
/// back exactly, anything beyond it was already lost by the tracer. Every byte maps to one
/// character, so the bytes that were sent can be recovered from the text.
fn latin1(bytes: &[u8]) -> Str {
    Str::from(bytes.iter().map(|&b| char::from(b)).collect::<String>())
}

/// An endpoint, `None` when it has no usable field.
fn read_endpoint(r: &mut BinaryReader<'_>) -> Result<Option<Endpoint>, SpanError> {
    let mut endpoint = Endpoint::default();
    r.read_struct_begin()?;
    while let Some(field) = r.read_field_begin()? {
        match (field.id, field.ty) {
            (1, FieldType::I32) => {
                let ip = r.read_i32()? as u32;
                endpoint.ipv4 = (ip != 0).then(|| Ipv4Addr::from(ip));
            }
            (2, FieldType::I16) => endpoint.port = r.read_i16()? as u16,
            (3, FieldType::Binary) => endpoint.set_service_name(r.read_string()?),
            (4, FieldType::Binary) => {
                if let Ok(octets) = <[u8; 16]>::try_from(r.read_binary()?) {
                    endpoint.ipv6 = Some(Ipv6Addr::from(octets));
                }
            }
            _ => r.skip(field.ty)?,
        }
    }
    r.read_struct_end()?;
    Ok(endpoint.non_empty())
}

/// Writes v1 spans as Zipkin's Thrift list, every binary annotation with its type, for tests.
#[cfg(test)]
pub(crate) fn encode_v1_thrift_for_tests(spans: &[V1Span]) -> Vec<u8> {
    use crate::thrift::{BinaryWriter, ThriftWriter};

    fn endpoint(w: &mut BinaryWriter, id: i16, e: &Endpoint) {
        w.write_field_begin(FieldType::Struct, id);
        w.write_field_begin(FieldType::I32, 1);
        w.write_i32(e.ipv4.map_or(0, u32::from) as i32);
        w.write_field_begin(FieldType::I16, 2);
        w.write_i16(e.port as i16);
        w.write_field_begin(FieldType::Binary, 3);
        w.write_string(e.service_name.as_deref().unwrap_or_default());
        if let Some(ip) = e.ipv6 {
            w.write_field_begin(FieldType::Binary, 4);
            w.write_binary(&ip.octets());
        }
        w.write_field_stop();
    }

    let mut w = BinaryWriter::new();
    w.write_list_begin(FieldType::Struct, spans.len());
    for s in spans {
        w.write_field_begin(FieldType::I64, 1);
        w.write_i64(s.trace_id.low() as i64);
        if s.trace_id.high() != 0 {
            w.write_field_begin(FieldType::I64, 12);
            w.write_i64(s.trace_id.high() as i64);
        }
        w.write_field_begin(FieldType::Binary, 3);
        w.write_string(&s.name);
        w.write_field_begin(FieldType::I64, 4);
        w.write_i64(s.id.get() as i64);
        if let Some(parent) = s.parent_id {
            w.write_field_begin(FieldType::I64, 5);
            w.write_i64(parent.get() as i64);
        }
        w.write_field_begin(FieldType::List, 6);
        w.write_list_begin(FieldType::Struct, s.annotations.len());
        for a in &s.annotations {
            w.write_field_begin(FieldType::I64, 1);
            w.write_i64(a.timestamp);
            w.write_field_begin(FieldType::Binary, 2);
            w.write_string(&a.value);
            if let Some(e) = &a.endpoint {
                endpoint(&mut w, 3, e);
            }
            w.write_field_stop();
        }
        w.write_field_begin(FieldType::List, 8);
        w.write_list_begin(FieldType::Struct, s.binary_annotations.len());
        for b in &s.binary_annotations {
            w.write_field_begin(FieldType::Binary, 1);
            w.write_string(&b.key);
            let (value, value_type) = match &b.value {
                AnyValue::Bool(v) => (vec![u8::from(*v)], annotation_type::BOOL),
                AnyValue::Bytes(v) => (v.clone(), annotation_type::BYTES),
                AnyValue::Int(v) => (v.to_be_bytes().to_vec(), annotation_type::I64),
                AnyValue::Double(v) => (v.to_be_bytes().to_vec(), annotation_type::DOUBLE),
                other => (super::values::tag_text(other).into_bytes(), annotation_type::STRING),
            };
            w.write_field_begin(FieldType::Binary, 2);
            w.write_binary(&value);
            w.write_field_begin(FieldType::I32, 3);
            w.write_i32(value_type);
            if let Some(e) = &b.endpoint {
                endpoint(&mut w, 4, e);
            }
            w.write_field_stop();
        }
        if s.debug {
            w.write_field_begin(FieldType::Bool, 9);
            w.write_bool(true);
        }
        if s.timestamp != 0 {
            w.write_field_begin(FieldType::I64, 10);
            w.write_i64(s.timestamp);
        }
        if s.duration != 0 {
            w.write_field_begin(FieldType::I64, 11);
            w.write_i64(s.duration);
        }
        w.write_field_stop();
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiseki_model::{SpanKind, semconv};

    fn endpoint(service: &str, ip: &str, port: u16) -> Endpoint {
        let mut e = Endpoint::default();
        e.set_service_name(service);
        e.set_ip_text(ip);
        e.port = port;
        e
    }

    fn rpc_span() -> V1Span {
        let client = endpoint("frontend", "10.0.0.1", 0);
        let server = endpoint("backend", "10.0.0.2", 9000);
        let annotation = |timestamp, value: &str, e: &Endpoint| V1Annotation {
            timestamp,
            value: Str::new(value),
            endpoint: Some(e.clone()),
        };
        V1Span {
            trace_id: TraceId::from_halves(0x0102, 0x0304).unwrap(),
            id: SpanId::new(0xabc).unwrap(),
            parent_id: SpanId::new(0x111),
            name: Str::new("GET /api"),
            timestamp: 1_000,
            duration: 500,
            annotations: vec![
                annotation(1_000, "cs", &client),
                annotation(1_100, "sr", &server),
                annotation(1_400, "ss", &server),
                annotation(1_500, "cr", &client),
            ],
            binary_annotations: vec![
                V1BinaryAnnotation {
                    key: Str::new("http.status_code"),
                    value: AnyValue::Int(200),
                    endpoint: Some(server.clone()),
                },
                V1BinaryAnnotation {
                    key: Str::new("retry"),
                    value: AnyValue::Bool(false),
                    endpoint: Some(client.clone()),
                },
                V1BinaryAnnotation {
                    key: Str::new("sa"),
                    value: AnyValue::Bool(true),
                    endpoint: Some(server.clone()),
                },
            ],
            debug: true,
        }
    }

    #[test]
    fn reads_a_shared_rpc_span_with_128_bit_trace_id() {
        let spans = decode_v1_thrift(&encode_v1_thrift_for_tests(&[rpc_span()])).unwrap();
        assert_eq!(spans.len(), 2);
        let (client, server) = (&spans[0], &spans[1]);
        assert_eq!(client.trace_id, TraceId::from_halves(0x0102, 0x0304).unwrap());
        assert_eq!(client.span_id, server.span_id);
        assert_eq!(client.parent_span_id, SpanId::new(0x111));
        assert_eq!(client.name, "GET /api");
        assert_eq!((client.kind, server.kind), (SpanKind::Client, SpanKind::Server));
        assert_eq!(client.service_name(), "frontend");
        assert_eq!(server.service_name(), "backend");
        assert_eq!(client.start_time_unix_nano, 1_000_000);
        assert_eq!(client.duration_nanos(), 500_000);
        assert_eq!(server.start_time_unix_nano, 1_100_000);
        assert_eq!(server.duration_nanos(), 300_000);
        assert_eq!(server.attributes.get(semconv::ZIPKIN_SHARED), Some(&AnyValue::Bool(true)));
        assert_eq!(client.attributes.get(semconv::ZIPKIN_SHARED), None);
        assert_eq!(server.attributes.get("http.status_code"), Some(&AnyValue::Int(200)));
        assert_eq!(client.attributes.get("retry"), Some(&AnyValue::Bool(false)));
        assert_eq!(client.attributes.get_str(semconv::PEER_SERVICE), Some("backend"));
        assert_eq!(client.attributes.get(semconv::ZIPKIN_DEBUG), Some(&AnyValue::Bool(true)));
        assert!(client.events.is_empty() && server.events.is_empty());
    }

    #[test]
    fn typed_values_of_every_thrift_type() {
        let cases: [(i32, &[u8], AnyValue); 7] = [
            (annotation_type::BOOL, &[1], AnyValue::Bool(true)),
            (annotation_type::BYTES, &[0, 0xff], AnyValue::Bytes(vec![0, 0xff])),
            (annotation_type::I16, &[0xff, 0xfe], AnyValue::Int(-2)),
            (annotation_type::I32, &[0, 0, 1, 0], AnyValue::Int(256)),
            (annotation_type::I64, &[0, 0, 0, 1, 0, 0, 0, 1], AnyValue::Int(4_294_967_297)),
            (annotation_type::DOUBLE, &1.5f64.to_be_bytes(), AnyValue::Double(1.5)),
            (annotation_type::STRING, "ü".as_bytes(), AnyValue::from("ü")),
        ];
        let key = Str::new("k");
        for (value_type, bytes, expected) in cases {
            assert_eq!(typed_value(&key, Some(value_type), bytes).unwrap(), expected);
        }
        assert!(typed_value(&key, Some(annotation_type::I32), &[1]).is_err());
        assert_eq!(
            typed_value(&key, Some(annotation_type::STRING), &[0x5a, 0x6f, 0xeb]).unwrap(),
            AnyValue::from("Zoë")
        );
        assert_eq!(typed_value(&key, None, &[7]).unwrap(), AnyValue::Bytes(vec![7]));
        assert_eq!(typed_value(&key, Some(99), &[7]).unwrap(), AnyValue::Bytes(vec![7]));
    }

    #[test]
    fn hostile_and_wrong_bodies_are_refused() {
        let good = encode_v1_thrift_for_tests(&[rpc_span()]);
        for cut in 1..good.len() {
            assert!(decode_v1_thrift(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode_v1_thrift(&trailing),
            Err(DecodeError::TrailingBytes { count: 1 })
        ));
        assert!(matches!(
            decode_v1_thrift(b"[{}]"),
            Err(DecodeError::WrongEncoding { found: Encoding::V1Json, .. })
        ));
        // A list claiming two billion spans in nine bytes.
        assert!(decode_v1_thrift(&[12, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        // A span without ids.
        let err = decode_v1_thrift(&[12, 0, 0, 0, 1, 0]).unwrap_err();
        assert_eq!(err.to_string(), "span 0: trace id is missing");
        assert!(decode_v1_thrift(&[]).unwrap().is_empty());
    }
}
