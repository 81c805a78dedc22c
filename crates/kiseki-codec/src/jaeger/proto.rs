//! Jaeger's protobuf messages (`jaeger.api_v2`, `model.proto` and `collector.proto`), and the
//! `PostSpans` encoder.
//!
//! The messages are written by hand for prost, without the gogoproto options of the published
//! files (which change only Go code generation, not the wire). Decoding does not go through
//! them (see `proto_reader`); they serve the encoder and gRPC frameworks that want
//! message types ([`PostSpansRequest`], [`PostSpansResponse`]).

use std::sync::Arc;

use kiseki_model::{AnyValue, Attributes, Resource, Span};
use prost::Message;

use super::error::DecodeError;
use super::from_model::{process_from_resource, span_from_model};
use super::wire::JaegerSpan;

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

/// The spans of a `PostSpans` request that a gRPC framework has already decoded into the prost
/// structs. It is written back to bytes and read by [`super::proto_reader`], so there is one
/// reading of the format; receivers that can hand over the raw message should do that instead.
pub(crate) fn spans_from_request(request: &PostSpansRequest) -> Result<Vec<Span>, DecodeError> {
    super::proto_reader::decode_post_spans(&request.encode_to_vec())
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
    use kiseki_model::{SpanId, TraceId};

    use super::*;
    use crate::jaeger::proto_reader::decode_post_spans;

    #[test]
    fn the_response_is_empty() {
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
