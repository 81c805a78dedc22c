//! Jaeger's protobuf messages (`jaeger.api_v2`, `model.proto` and `collector.proto`) and their
//! mapping to and from [`JaegerSpan`].
//!
//! The messages are written by hand for prost, without the gogoproto options of the published
//! files (which change only Go code generation, not the wire). gRPC receivers can use
//! [`PostSpansRequest`] and [`PostSpansResponse`] directly as their message types.

use std::collections::HashMap;
use std::sync::Arc;

use kiseki_model::{AnyValue, Attributes, Resource, Span, SpanId, TraceId};
use prost::Message;

use super::error::DecodeError;
use super::from_model::{process_from_resource, span_from_model};
use super::to_model::{ScopeCache, resource_from_process, span_to_model};
use super::wire::{self, JaegerSpan, Log, RefType, Reference, TagSink};
use crate::limits;

/// `jaeger.api_v2.ValueType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ValueType {
    String = 0,
    Bool = 1,
    Int64 = 2,
    Float64 = 3,
    Binary = 4,
}

/// `jaeger.api_v2.SpanRefType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SpanRefType {
    ChildOf = 0,
    FollowsFrom = 1,
}

/// `jaeger.api_v2.KeyValue`: a typed tag.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(enumeration = "ValueType", tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Duration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `jaeger.api_v2.Log`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoLog {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

/// `jaeger.api_v2.SpanRef`.
#[derive(Clone, PartialEq, Message)]
pub struct SpanRef {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(enumeration = "SpanRefType", tag = "3")]
    pub ref_type: i32,
}

/// `jaeger.api_v2.Process`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoProcess {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

/// `jaeger.api_v2.Span`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<SpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Duration>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<ProtoLog>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<ProtoProcess>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// `jaeger.api_v2.Batch`.
#[derive(Clone, PartialEq, Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<ProtoSpan>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<ProtoProcess>,
}

/// The request of `jaeger.api_v2.CollectorService/PostSpans`.
#[derive(Clone, PartialEq, Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<Batch>,
}

/// The (empty) response of `jaeger.api_v2.CollectorService/PostSpans`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct PostSpansResponse {}

/// Reads the protobuf body of a `PostSpans` request.
pub(crate) fn decode_post_spans(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    spans_from_request(PostSpansRequest::decode(body)?)
}

/// The spans of a decoded `PostSpans` request. A span's own process takes precedence over the
/// batch's; spans with equal processes share one resource.
pub(crate) fn spans_from_request(request: PostSpansRequest) -> Result<Vec<Span>, DecodeError> {
    let Batch { spans, process } = request.batch.unwrap_or_default();
    let batch_resource = Arc::new(match process {
        Some(process) => resource_from_proto(process)?,
        None => Resource::default(),
    });
    let mut resources = ResourceCache::new(batch_resource.clone());
    let mut scopes = ScopeCache::default();
    let mut out = Vec::with_capacity(spans.len());
    for (index, mut proto_span) in spans.into_iter().enumerate() {
        let convert = || {
            let resource = match proto_span.process.take() {
                Some(process) => resources.get(process)?,
                None => batch_resource.clone(),
            };
            let jaeger = jaeger_span_from_proto(proto_span)?;
            Ok::<_, DecodeError>(span_to_model(jaeger, resource, &mut scopes)?)
        };
        out.push(convert().map_err(|e| e.in_span(index))?);
    }
    Ok(out)
}

fn resource_from_proto(process: ProtoProcess) -> Result<Resource, DecodeError> {
    let tags = tags_from_proto(process.tags)?;
    Ok(resource_from_process(wire::Process { service_name: process.service_name.into(), tags })?)
}

/// Shares one resource among spans whose processes are equal or read as equal resources.
struct ResourceCache {
    last: Option<(ProtoProcess, Arc<Resource>)>,
    by_encoding: HashMap<Vec<u8>, Arc<Resource>>,
    /// Resources compared by value with each new one (the batch's first); bounded so that a
    /// payload of many distinct processes costs linear time.
    distinct: Vec<Arc<Resource>>,
}

/// Most resources a new one is compared with by value.
const MAX_COMPARED_RESOURCES: usize = 64;

impl ResourceCache {
    fn new(batch_resource: Arc<Resource>) -> Self {
        Self { last: None, by_encoding: HashMap::new(), distinct: vec![batch_resource] }
    }

    fn get(&mut self, process: ProtoProcess) -> Result<Arc<Resource>, DecodeError> {
        if let Some((last, resource)) = &self.last
            && *last == process
        {
            return Ok(resource.clone());
        }
        let encoding = process.encode_to_vec();
        let resource = match self.by_encoding.get(&encoding) {
            Some(resource) => resource.clone(),
            None => {
                let resource = resource_from_proto(process.clone())?;
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
                self.by_encoding.insert(encoding, resource.clone());
                resource
            }
        };
        self.last = Some((process, resource.clone()));
        Ok(resource)
    }
}

fn jaeger_span_from_proto(span: ProtoSpan) -> Result<JaegerSpan, DecodeError> {
    let trace_id = trace_id_from_bytes(&span.trace_id)?;
    let span_id = span_id_from_bytes(&span.span_id)?;
    if span.references.len() > limits::MAX_LINKS {
        return Err(limits::LimitError::TooManyLinks { count: span.references.len() }.into());
    }
    if span.logs.len() > limits::MAX_EVENTS {
        return Err(limits::LimitError::TooManyEvents { count: span.logs.len() }.into());
    }
    let mut references = Vec::with_capacity(span.references.len());
    for (index, reference) in span.references.into_iter().enumerate() {
        let read = || {
            Ok::<_, DecodeError>(Reference {
                ref_type: RefType::from_number(reference.ref_type),
                trace_id: trace_id_from_bytes(&reference.trace_id)?,
                span_id: span_id_from_bytes(&reference.span_id)?,
            })
        };
        references.push(read().map_err(|e| e.in_reference(index))?);
    }
    let start = timestamp_to_nanos(span.start_time.unwrap_or_default());
    let start_time_unix_nano =
        wire::nanos_in_range(start).ok_or(DecodeError::TimeOutOfRange { what: "start time" })?;
    let end = start + duration_to_nanos(span.duration.unwrap_or_default());
    let end_time_unix_nano = wire::nanos_in_range(end)
        .ok_or(DecodeError::TimeOutOfRange { what: "start time plus duration" })?;
    let mut logs = Vec::with_capacity(span.logs.len());
    for log in span.logs {
        let time = timestamp_to_nanos(log.timestamp.unwrap_or_default());
        let time_unix_nano = wire::nanos_in_range(time)
            .ok_or(DecodeError::TimeOutOfRange { what: "log timestamp" })?;
        logs.push(Log { time_unix_nano, fields: tags_from_proto(log.fields)? });
    }
    Ok(JaegerSpan {
        trace_id,
        span_id,
        // Protobuf spans name their parent only among the references.
        parent_span_id: None,
        operation_name: span.operation_name.into(),
        references,
        flags: span.flags,
        start_time_unix_nano,
        end_time_unix_nano,
        tags: tags_from_proto(span.tags)?,
        logs,
    })
}

fn trace_id_from_bytes(bytes: &[u8]) -> Result<TraceId, DecodeError> {
    match bytes.len() {
        8 | 16 => TraceId::from_slice(bytes).map_err(|_| DecodeError::ZeroTraceId),
        0 => Err(DecodeError::ZeroTraceId),
        n => Err(DecodeError::TraceIdLength(n)),
    }
}

fn span_id_from_bytes(bytes: &[u8]) -> Result<SpanId, DecodeError> {
    match bytes.len() {
        8 => SpanId::from_slice(bytes).map_err(|_| DecodeError::ZeroSpanId),
        0 => Err(DecodeError::ZeroSpanId),
        n => Err(DecodeError::SpanIdLength(n)),
    }
}

fn timestamp_to_nanos(timestamp: Timestamp) -> i128 {
    i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos)
}

fn duration_to_nanos(duration: Duration) -> i128 {
    i128::from(duration.seconds) * 1_000_000_000 + i128::from(duration.nanos)
}

fn tags_from_proto(tags: Vec<KeyValue>) -> Result<Attributes, DecodeError> {
    let mut sink = TagSink::new();
    for tag in tags {
        let value = match ValueType::try_from(tag.v_type) {
            Ok(ValueType::String) => AnyValue::Str(tag.v_str.into()),
            Ok(ValueType::Bool) => AnyValue::Bool(tag.v_bool),
            Ok(ValueType::Int64) => AnyValue::Int(tag.v_int64),
            Ok(ValueType::Float64) => AnyValue::Double(tag.v_float64),
            Ok(ValueType::Binary) => AnyValue::Bytes(tag.v_binary),
            Err(_) => {
                return Err(DecodeError::UnknownTagType { key: tag.key, value_type: tag.v_type });
            }
        };
        sink.insert(tag.key.into(), value)?;
    }
    Ok(sink.finish())
}

/// A `PostSpans` request holding the spans in one batch. The batch carries the first span's
/// process; spans of another resource carry their own.
pub(crate) fn encode_post_spans(spans: &[Span]) -> Vec<u8> {
    let batch_resource = spans.first().map(|span| &span.resource);
    let process = batch_resource.map(|resource| process_to_proto(resource));
    let spans = spans
        .iter()
        .map(|span| {
            let same = batch_resource.is_some_and(|batch| {
                Arc::ptr_eq(batch, &span.resource) || **batch == *span.resource
            });
            let mut proto = proto_span_from_jaeger(&span_from_model(span));
            if !same {
                proto.process = Some(process_to_proto(&span.resource));
            }
            proto
        })
        .collect();
    PostSpansRequest { batch: Some(Batch { spans, process }) }.encode_to_vec()
}

fn process_to_proto(resource: &Resource) -> ProtoProcess {
    let process = process_from_resource(resource);
    ProtoProcess {
        service_name: process.service_name.to_string(),
        tags: tags_to_proto(&process.tags),
    }
}

/// The parent goes first, as a `CHILD_OF` reference, where readers look for it.
fn proto_span_from_jaeger(span: &JaegerSpan) -> ProtoSpan {
    let mut references = Vec::with_capacity(span.references.len() + 1);
    if let Some(parent) = span.parent_span_id {
        references.push(SpanRef {
            trace_id: span.trace_id.to_bytes().to_vec(),
            span_id: parent.to_bytes().to_vec(),
            ref_type: SpanRefType::ChildOf as i32,
        });
    }
    references.extend(span.references.iter().map(|reference| SpanRef {
        trace_id: reference.trace_id.to_bytes().to_vec(),
        span_id: reference.span_id.to_bytes().to_vec(),
        ref_type: reference.ref_type.number(),
    }));
    let duration = i128::from(span.end_time_unix_nano) - i128::from(span.start_time_unix_nano);
    ProtoSpan {
        trace_id: span.trace_id.to_bytes().to_vec(),
        span_id: span.span_id.to_bytes().to_vec(),
        operation_name: span.operation_name.to_string(),
        references,
        flags: span.flags,
        start_time: Some(Timestamp {
            seconds: (span.start_time_unix_nano / 1_000_000_000) as i64,
            nanos: (span.start_time_unix_nano % 1_000_000_000) as i32,
        }),
        // Seconds and nanos share the sign, as `google.protobuf.Duration` requires.
        duration: Some(Duration {
            seconds: (duration / 1_000_000_000) as i64,
            nanos: (duration % 1_000_000_000) as i32,
        }),
        tags: tags_to_proto(&span.tags),
        logs: span
            .logs
            .iter()
            .map(|log| ProtoLog {
                timestamp: Some(Timestamp {
                    seconds: (log.time_unix_nano / 1_000_000_000) as i64,
                    nanos: (log.time_unix_nano % 1_000_000_000) as i32,
                }),
                fields: tags_to_proto(&log.fields),
            })
            .collect(),
        process: None,
        process_id: String::new(),
        warnings: Vec::new(),
    }
}

fn tags_to_proto(tags: &Attributes) -> Vec<KeyValue> {
    tags.iter()
        .map(|kv| {
            let mut tag = KeyValue { key: kv.key.to_string(), ..KeyValue::default() };
            match &kv.value {
                AnyValue::Bool(value) => {
                    tag.v_type = ValueType::Bool as i32;
                    tag.v_bool = *value;
                }
                AnyValue::Int(value) => {
                    tag.v_type = ValueType::Int64 as i32;
                    tag.v_int64 = *value;
                }
                AnyValue::Double(value) => {
                    tag.v_type = ValueType::Float64 as i32;
                    tag.v_float64 = *value;
                }
                AnyValue::Bytes(value) => {
                    tag.v_type = ValueType::Binary as i32;
                    tag.v_binary = value.clone();
                }
                AnyValue::Str(value) => tag.v_str = value.to_string(),
                other => tag.v_str = other.to_string(),
            }
            tag
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(PostSpansResponse {}.encode_to_vec().is_empty());
    }

    #[test]
    fn negative_durations_keep_one_sign() {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        span.start_time_unix_nano = 2_500_000_000;
        span.end_time_unix_nano = 1_000_000_000;
        let proto = proto_span_from_jaeger(&span_from_model(&span));
        assert_eq!(proto.duration, Some(Duration { seconds: -1, nanos: -500_000_000 }));
        let decoded = decode_post_spans(&encode_post_spans(&[span.clone()])).unwrap();
        assert_eq!(decoded[0].end_time_unix_nano, 1_000_000_000);
    }
}
