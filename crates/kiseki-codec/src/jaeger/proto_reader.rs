//! A streaming reader of the `PostSpans` protobuf request, straight into [`JaegerSpan`]s.
//!
//! Decoding into the prost structs first would allocate every message of a request before any
//! limit applies, and an empty `Span` costs two bytes on the wire but hundreds in memory. This
//! reader walks the wire format over the borrowed body instead: each span is checked (ids,
//! times, limits) as soon as it is read, strings are validated without copying, and a span's
//! own process is recognised by its bytes, so equal processes share one resource.

use std::collections::HashMap;
use std::sync::Arc;

use kiseki_model::{AnyValue, Resource, Span, SpanId, Str, TraceId};

use super::error::DecodeError;
use super::to_model::{ScopeCache, resource_from_process, span_to_model};
use super::wire::{self, JaegerSpan, Log, Process, RefType, Reference, TagSink};
use crate::limits;

/// Protobuf wire types that Jaeger's messages use; groups (3 and 4) are refused.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Where `bytes` starts in the whole body, for error positions.
    base: usize,
}

fn malformed(at: usize, problem: &'static str) -> DecodeError {
    DecodeError::Protobuf { at, problem }
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Self { bytes, pos: 0, base }
    }

    fn at(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte =
                *self.bytes.get(self.pos).ok_or_else(|| malformed(self.at(), "ends early"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(malformed(self.at(), "varint is longer than ten bytes"))
    }

    /// The next field number and wire type, or `None` at the end of the message.
    fn key(&mut self) -> Result<Option<(u64, u8)>, DecodeError> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(malformed(self.at(), "field number 0"));
        }
        Ok(Some((field, (key & 7) as u8)))
    }

    fn take(&mut self, len: usize) -> Result<Reader<'a>, DecodeError> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| malformed(self.at(), "length runs past the end"))?;
        let inner = Reader::new(&self.bytes[self.pos..end], self.at());
        self.pos = end;
        Ok(inner)
    }

    fn len_delimited(&mut self) -> Result<Reader<'a>, DecodeError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| malformed(self.at(), "length too large"))?;
        self.take(len)
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), DecodeError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(malformed(self.at(), "unsupported wire type (groups are not used by jaeger)")),
        }
    }

    /// Checks that a known field has the wire type its schema gives it.
    fn expect(&self, wire_type: u8, expected: u8) -> Result<(), DecodeError> {
        if wire_type == expected {
            Ok(())
        } else {
            Err(malformed(self.at(), "field has the wrong wire type"))
        }
    }

    fn message(&mut self, wire_type: u8) -> Result<Reader<'a>, DecodeError> {
        self.expect(wire_type, LEN)?;
        self.len_delimited()
    }

    fn bytes_field(&mut self, wire_type: u8) -> Result<&'a [u8], DecodeError> {
        Ok(self.message(wire_type)?.bytes)
    }

    fn string(&mut self, wire_type: u8) -> Result<&'a str, DecodeError> {
        let at = self.at();
        std::str::from_utf8(self.bytes_field(wire_type)?)
            .map_err(|_| malformed(at, "string is not UTF-8"))
    }

    fn varint_field(&mut self, wire_type: u8) -> Result<u64, DecodeError> {
        self.expect(wire_type, VARINT)?;
        self.varint()
    }

    fn double(&mut self, wire_type: u8) -> Result<f64, DecodeError> {
        self.expect(wire_type, FIXED64)?;
        let bytes = self.take(8)?.bytes;
        let array: [u8; 8] = bytes.try_into().map_err(|_| malformed(self.at(), "ends early"))?;
        Ok(f64::from_le_bytes(array))
    }
}

/// Reads the body of a `PostSpans` request.
pub(crate) fn decode_post_spans(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut request = Reader::new(body, 0);
    let mut spans = Vec::new();
    let mut scopes = ScopeCache::default();
    while let Some((field, wire_type)) = request.key()? {
        match field {
            // A repeated message field merges; each occurrence is read as more of the batch.
            1 => read_batch(request.message(wire_type)?, &mut spans, &mut scopes)?,
            _ => request.skip(wire_type)?,
        }
    }
    Ok(spans)
}

fn read_batch(
    batch: Reader<'_>,
    out: &mut Vec<Span>,
    scopes: &mut ScopeCache,
) -> Result<(), DecodeError> {
    // The batch's process (field 2) usually follows the spans, so find it first.
    let mut scan = Reader::new(batch.bytes, batch.base);
    let mut batch_process = None;
    while let Some((field, wire_type)) = scan.key()? {
        match field {
            2 => batch_process = Some(scan.message(wire_type)?),
            _ => scan.skip(wire_type)?,
        }
    }
    let batch_resource = Arc::new(match batch_process {
        Some(process) => resource_from_process(read_process(process)?)?,
        None => Resource::default(),
    });
    let mut resources = ResourceCache::new(batch_resource.clone());
    let mut batch = batch;
    while let Some((field, wire_type)) = batch.key()? {
        match field {
            1 => {
                let index = out.len();
                let span = batch.message(wire_type)?;
                let span = read_span(span, &batch_resource, &mut resources, scopes)
                    .map_err(|e| e.in_span(index))?;
                out.push(span);
            }
            _ => batch.skip(wire_type)?,
        }
    }
    Ok(())
}

/// Shares one resource among spans whose own processes have the same bytes or read as equal
/// resources.
struct ResourceCache<'a> {
    by_bytes: HashMap<&'a [u8], Arc<Resource>>,
    /// Resources compared by value with each new one (the batch's first); bounded so that a
    /// request of many distinct processes costs linear time.
    distinct: Vec<Arc<Resource>>,
}

/// Most resources a new one is compared with by value.
const MAX_COMPARED_RESOURCES: usize = 64;

impl<'a> ResourceCache<'a> {
    fn new(batch_resource: Arc<Resource>) -> Self {
        Self { by_bytes: HashMap::new(), distinct: vec![batch_resource] }
    }

    fn get(&mut self, process: Reader<'a>) -> Result<Arc<Resource>, DecodeError> {
        if let Some(resource) = self.by_bytes.get(process.bytes) {
            return Ok(resource.clone());
        }
        let bytes = process.bytes;
        let resource = resource_from_process(read_process(process)?)?;
        let resource = match self.distinct.iter().find(|seen| ***seen == resource) {
            Some(seen) => seen.clone(),
            None => {
                let resource = Arc::new(resource);
                if self.distinct.len() < MAX_COMPARED_RESOURCES {
                    self.distinct.push(resource.clone());
                }
                resource
            }
        };
        self.by_bytes.insert(bytes, resource.clone());
        Ok(resource)
    }
}

fn read_process(mut process: Reader<'_>) -> Result<Process, DecodeError> {
    let mut service_name = Str::default();
    let mut tags = TagSink::new();
    while let Some((field, wire_type)) = process.key()? {
        match field {
            1 => service_name = Str::new(process.string(wire_type)?),
            2 => read_tag(process.message(wire_type)?, &mut tags)?,
            _ => process.skip(wire_type)?,
        }
    }
    Ok(Process { service_name, tags: tags.finish() })
}

fn read_span<'a>(
    mut span: Reader<'a>,
    batch_resource: &Arc<Resource>,
    resources: &mut ResourceCache<'a>,
    scopes: &mut ScopeCache,
) -> Result<Span, DecodeError> {
    let (mut trace_id, mut span_id) = (None, None);
    let mut operation_name = Str::default();
    let mut references = Vec::new();
    let mut flags = 0;
    let (mut start, mut duration) = (0i128, 0i128);
    let mut tags = TagSink::new();
    let mut logs = Vec::new();
    let mut process = None;
    while let Some((field, wire_type)) = span.key()? {
        match field {
            1 => trace_id = Some(trace_id_from_bytes(span.bytes_field(wire_type)?)?),
            2 => span_id = Some(span_id_from_bytes(span.bytes_field(wire_type)?)?),
            3 => operation_name = Str::new(span.string(wire_type)?),
            4 => {
                limits::check_link_count(references.len())?;
                let index = references.len();
                let reference =
                    read_reference(span.message(wire_type)?).map_err(|e| e.in_reference(index))?;
                references.push(reference);
            }
            // uint32: the low 32 bits of the varint.
            5 => flags = span.varint_field(wire_type)? as u32,
            6 => start = read_time(span.message(wire_type)?)?,
            7 => duration = read_time(span.message(wire_type)?)?,
            8 => read_tag(span.message(wire_type)?, &mut tags)?,
            9 => {
                limits::check_event_count(logs.len())?;
                logs.push(read_log(span.message(wire_type)?)?);
            }
            10 => process = Some(span.message(wire_type)?),
            _ => span.skip(wire_type)?,
        }
    }
    let start_time_unix_nano =
        wire::nanos_in_range(start).ok_or(DecodeError::TimeOutOfRange { what: "start time" })?;
    let end_time_unix_nano = wire::nanos_in_range(start + duration)
        .ok_or(DecodeError::TimeOutOfRange { what: "start time plus duration" })?;
    let jaeger = JaegerSpan {
        trace_id: trace_id.ok_or(DecodeError::ZeroTraceId)?,
        span_id: span_id.ok_or(DecodeError::ZeroSpanId)?,
        // Protobuf spans name their parent only among the references.
        parent_span_id: None,
        operation_name,
        references,
        flags,
        start_time_unix_nano,
        end_time_unix_nano,
        tags: tags.finish(),
        logs,
    };
    // A span's own process takes precedence over the batch's.
    let resource = match process {
        Some(process) => resources.get(process)?,
        None => batch_resource.clone(),
    };
    Ok(span_to_model(jaeger, resource, scopes)?)
}

fn read_reference(mut reference: Reader<'_>) -> Result<Reference, DecodeError> {
    let (mut trace_id, mut span_id, mut ref_type) = (None, None, 0);
    while let Some((field, wire_type)) = reference.key()? {
        match field {
            1 => trace_id = Some(trace_id_from_bytes(reference.bytes_field(wire_type)?)?),
            2 => span_id = Some(span_id_from_bytes(reference.bytes_field(wire_type)?)?),
            3 => ref_type = reference.varint_field(wire_type)? as i32,
            _ => reference.skip(wire_type)?,
        }
    }
    Ok(Reference {
        ref_type: RefType::from_number(ref_type),
        trace_id: trace_id.ok_or(DecodeError::ZeroTraceId)?,
        span_id: span_id.ok_or(DecodeError::ZeroSpanId)?,
    })
}

fn read_log(mut log: Reader<'_>) -> Result<Log, DecodeError> {
    let mut time = 0;
    let mut fields = TagSink::new();
    while let Some((field, wire_type)) = log.key()? {
        match field {
            1 => time = read_time(log.message(wire_type)?)?,
            2 => read_tag(log.message(wire_type)?, &mut fields)?,
            _ => log.skip(wire_type)?,
        }
    }
    let time_unix_nano =
        wire::nanos_in_range(time).ok_or(DecodeError::TimeOutOfRange { what: "log timestamp" })?;
    Ok(Log { time_unix_nano, fields: fields.finish() })
}

/// A `Timestamp` or `Duration` in nanoseconds: int64 seconds and int32 nanos.
fn read_time(mut time: Reader<'_>) -> Result<i128, DecodeError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    while let Some((field, wire_type)) = time.key()? {
        match field {
            1 => seconds = time.varint_field(wire_type)? as i64,
            2 => nanos = time.varint_field(wire_type)? as i32,
            _ => time.skip(wire_type)?,
        }
    }
    Ok(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
}

/// `jaeger.api_v2.ValueType` numbers.
const STRING: i32 = 0;
const BOOL: i32 = 1;
const INT64: i32 = 2;
const FLOAT64: i32 = 3;
const BINARY: i32 = 4;

/// Reads one `KeyValue` into the tag list: the value field its type names.
fn read_tag(mut tag: Reader<'_>, sink: &mut TagSink) -> Result<(), DecodeError> {
    let mut key = "";
    let mut value_type = STRING;
    let (mut text, mut boolean, mut int, mut double, mut binary) = ("", false, 0, 0.0, &[][..]);
    while let Some((field, wire_type)) = tag.key()? {
        match field {
            1 => key = tag.string(wire_type)?,
            2 => value_type = tag.varint_field(wire_type)? as i32,
            3 => text = tag.string(wire_type)?,
            4 => boolean = tag.varint_field(wire_type)? != 0,
            5 => int = tag.varint_field(wire_type)? as i64,
            6 => double = tag.double(wire_type)?,
            7 => binary = tag.bytes_field(wire_type)?,
            _ => tag.skip(wire_type)?,
        }
    }
    let value = match value_type {
        STRING => AnyValue::Str(Str::new(text)),
        BOOL => AnyValue::Bool(boolean),
        INT64 => AnyValue::Int(int),
        FLOAT64 => AnyValue::Double(double),
        BINARY => AnyValue::Bytes(binary.to_vec()),
        other => return Err(DecodeError::UnknownTagType { key: key.into(), value_type: other }),
    };
    Ok(sink.insert(Str::new(key), value)?)
}

pub(crate) fn trace_id_from_bytes(bytes: &[u8]) -> Result<TraceId, DecodeError> {
    match bytes.len() {
        8 | 16 => TraceId::from_slice(bytes).map_err(|_| DecodeError::ZeroTraceId),
        0 => Err(DecodeError::ZeroTraceId),
        n => Err(DecodeError::TraceIdLength(n)),
    }
}

pub(crate) fn span_id_from_bytes(bytes: &[u8]) -> Result<SpanId, DecodeError> {
    match bytes.len() {
        8 => SpanId::from_slice(bytes).map_err(|_| DecodeError::ZeroSpanId),
        0 => Err(DecodeError::ZeroSpanId),
        n => Err(DecodeError::SpanIdLength(n)),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::jaeger::proto::{
        Batch, Duration, KeyValue, PostSpansRequest, ProtoProcess, ProtoSpan, SpanRef, Timestamp,
        ValueType,
    };

    fn tag(key: &str, v_type: ValueType) -> KeyValue {
        KeyValue { key: key.into(), v_type: v_type as i32, ..KeyValue::default() }
    }

    fn minimal_span() -> ProtoSpan {
        ProtoSpan {
            trace_id: vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 2],
            start_time: Some(Timestamp { seconds: 1_700_000_000, nanos: 5 }),
            duration: Some(Duration { seconds: 0, nanos: 1_500 }),
            ..ProtoSpan::default()
        }
    }

    fn decode(batch: Batch) -> Result<Vec<Span>, DecodeError> {
        decode_post_spans(&PostSpansRequest { batch: Some(batch) }.encode_to_vec())
    }

    #[test]
    fn span_process_wins_over_batch_process() {
        let own = ProtoProcess { service_name: "own".into(), tags: Vec::new() };
        let mut with_own = minimal_span();
        with_own.process = Some(own.clone());
        let mut also_own = minimal_span();
        also_own.process = Some(own);
        let batch = Batch {
            spans: vec![minimal_span(), with_own, also_own],
            process: Some(ProtoProcess { service_name: "batch".into(), tags: Vec::new() }),
        };
        let spans = decode(batch).unwrap();
        assert_eq!(spans[0].service_name(), "batch");
        assert_eq!(spans[1].service_name(), "own");
        assert!(Arc::ptr_eq(&spans[1].resource, &spans[2].resource));
        assert_eq!(spans[0].start_time_unix_nano, 1_700_000_000_000_000_005);
        assert_eq!(spans[0].end_time_unix_nano, 1_700_000_000_000_001_505);
    }

    #[test]
    fn ids_of_wrong_length_or_zero_are_errors() {
        let mut span = minimal_span();
        span.trace_id = vec![1; 5];
        let error = decode(Batch { spans: vec![span], process: None }).unwrap_err();
        assert_eq!(error.to_string(), "span 0: trace id has 5 bytes, expected 8 or 16");

        let mut span = minimal_span();
        span.span_id = vec![0; 8];
        let error = decode(Batch { spans: vec![minimal_span(), span], process: None });
        assert_eq!(error.unwrap_err().to_string(), "span 1: span id is zero");

        let mut span = minimal_span();
        span.references.push(SpanRef { trace_id: vec![0; 16], span_id: vec![1; 8], ref_type: 0 });
        let error = decode(Batch { spans: vec![span], process: None }).unwrap_err();
        assert_eq!(error.to_string(), "span 0: reference 0: trace id is zero");

        let mut span = minimal_span();
        span.trace_id = vec![0, 0, 0, 0, 0, 0, 0, 9];
        let spans = decode(Batch { spans: vec![span], process: None }).unwrap();
        assert_eq!(spans[0].trace_id, TraceId::new(9).unwrap());
    }

    #[test]
    fn typed_tags_and_unknown_types() {
        let mut span = minimal_span();
        let mut binary = tag("b", ValueType::Binary);
        binary.v_binary = vec![1, 2];
        let mut number = tag("n", ValueType::Int64);
        number.v_int64 = -3;
        span.tags = vec![binary, number, tag("f", ValueType::Float64), tag("t", ValueType::Bool)];
        let spans = decode(Batch { spans: vec![span], process: None }).unwrap();
        let attributes = &spans[0].attributes;
        assert_eq!(attributes.get("b"), Some(&AnyValue::Bytes(vec![1, 2])));
        assert_eq!(attributes.get("n"), Some(&AnyValue::Int(-3)));
        assert_eq!(attributes.get("f"), Some(&AnyValue::Double(0.0)));
        assert_eq!(attributes.get("t"), Some(&AnyValue::Bool(false)));

        let mut span = minimal_span();
        span.tags = vec![KeyValue { key: "odd".into(), v_type: 9, ..KeyValue::default() }];
        let error = decode(Batch { spans: vec![span], process: None }).unwrap_err();
        assert_eq!(error.to_string(), "span 0: tag \"odd\" has unknown value type 9");
    }

    #[test]
    fn negative_and_huge_times_are_errors() {
        let mut span = minimal_span();
        span.start_time = Some(Timestamp { seconds: -1, nanos: 0 });
        assert!(decode(Batch { spans: vec![span], process: None }).is_err());
        let mut span = minimal_span();
        span.duration = Some(Duration { seconds: i64::MAX, nanos: 0 });
        let error = decode(Batch { spans: vec![span], process: None }).unwrap_err();
        assert!(error.to_string().contains("start time plus duration is out of range"));
    }

    #[test]
    fn an_empty_request_has_no_spans() {
        assert_eq!(decode_post_spans(&[]).unwrap(), Vec::new());
    }

    #[test]
    fn varints_and_lengths_are_checked() {
        let mut reader = Reader::new(&[0xff; 11], 0);
        assert!(reader.varint().is_err());
        let mut reader = Reader::new(&[0x96, 0x01], 0);
        assert_eq!(reader.varint().unwrap(), 150);
        // Field 1, LEN, length 5 with 2 bytes left.
        let mut reader = Reader::new(&[0x0a, 0x05, 1, 2], 0);
        let (field, wire_type) = reader.key().unwrap().unwrap();
        assert_eq!((field, wire_type), (1, LEN));
        assert_eq!(
            reader.len_delimited().err().unwrap().to_string(),
            "malformed protobuf at byte 2: length runs past the end"
        );
        // Field 0 and groups are refused.
        assert!(Reader::new(&[0x02], 0).key().is_err());
        let mut reader = Reader::new(&[0x0b, 0x0c], 0);
        let (_, wire_type) = reader.key().unwrap().unwrap();
        assert!(reader.skip(wire_type).is_err());
    }

    #[test]
    fn empty_spans_fail_at_once() {
        // A batch of a million empty spans is refused at the first one.
        let mut batch = Vec::new();
        for _ in 0..1_000_000 {
            batch.extend_from_slice(&[0x0a, 0x00]);
        }
        let mut body = vec![0x0a];
        let mut len = batch.len();
        while len >= 0x80 {
            body.push((len as u8) | 0x80);
            len >>= 7;
        }
        body.push(len as u8);
        body.extend_from_slice(&batch);
        assert_eq!(decode_post_spans(&body), Err(DecodeError::ZeroTraceId.in_span(0)));
    }
}
