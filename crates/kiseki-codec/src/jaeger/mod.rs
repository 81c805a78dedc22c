//! Jaeger's span formats: Thrift (HTTP 14268, agent UDP 6831/6832) and protobuf (gRPC 14250),
//! decoded into the model and encoded from it, plus the JSON of Jaeger's HTTP query API.
//!
//! All formats share one mapping, the OpenTelemetry Collector's: the process is the resource
//! (`hostname` → `host.name`), `span.kind` gives the kind, `error=true` then `otel.status_code`
//! give the status, `otel.scope.name` the scope, `w3c.tracestate` the trace state, logs are
//! events and references other than the parent are links typed by `opentracing.ref_type`.
//! Flag 1 (sampled) is the W3C sampled bit; flag 2 (debug) is the attribute `jaeger.debug=true`.
//!
//! What a receiver needs to know:
//! - HTTP `POST /api/traces` (`application/x-thrift`, `application/vnd.apache.thrift.binary`)
//!   carries a bare `Batch` in the binary protocol; [`sniff_thrift_batch_protocol`] tells binary
//!   from compact (`application/vnd.apache.thrift.compact`) when the content type does not.
//! - UDP 6831 carries a compact `emitBatch` message, UDP 6832 a binary one; no reply is sent.
//! - gRPC `jaeger.api_v2.CollectorService/PostSpans`: hand the raw message (after gRPC's frame
//!   header and decompression) to [`decode_proto_post_spans`], which checks limits as it reads;
//!   [`proto::PostSpansRequest`] with [`spans_from_post_spans_request`] also works but lets the
//!   framework allocate the whole request first. Answer with [`post_spans_response`].
//! - Errors are meant for the client (400 / `INVALID_ARGUMENT`): they name the span and, inside
//!   it, the reference or tag at fault.
//!
//! Where kiseki departs from the Collector, for fidelity: a `span.kind` tag that names no kind
//! stays an attribute; `FOLLOWS_FROM` alone never makes a parent; a log without `event` is
//! named by its `message` field (OpenTelemetry's Python exporters name events so); an
//! OpenTracing error log (`event=error`) becomes an `exception` event as OpenTelemetry's
//! OpenTracing shim records it.

mod error;
mod from_model;
pub mod proto;
mod proto_reader;
pub mod query_json;
mod thrift_batch;
mod to_model;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use kiseki_model::Span;

pub use error::DecodeError;

use crate::thrift::{BinaryReader, BinaryWriter, CompactReader, CompactWriter, ThriftWriter};
use thrift_batch::ThriftBatch;
use to_model::ScopeCache;

/// The two Thrift protocols Jaeger clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThriftProtocol {
    /// `TBinaryProtocol`: HTTP 14268 and UDP 6832.
    Binary,
    /// `TCompactProtocol`: UDP 6831.
    Compact,
}

/// Reads a bare `Batch` in Thrift's binary protocol (the body of `POST /api/traces`).
pub fn decode_thrift_batch_binary(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    spans_from_thrift_batch(thrift_batch::read_batch(&mut BinaryReader::new(body))?)
}

/// Reads a bare `Batch` in Thrift's compact protocol.
pub fn decode_thrift_batch_compact(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    spans_from_thrift_batch(thrift_batch::read_batch(&mut CompactReader::new(body))?)
}

/// Reads a bare `Batch` in the given protocol.
pub fn decode_thrift_batch(
    body: &[u8],
    protocol: ThriftProtocol,
) -> Result<Vec<Span>, DecodeError> {
    match protocol {
        ThriftProtocol::Binary => decode_thrift_batch_binary(body),
        ThriftProtocol::Compact => decode_thrift_batch_compact(body),
    }
}

/// Reads a UDP 6831 datagram: an `emitBatch` message in the compact protocol.
pub fn decode_udp_compact(datagram: &[u8]) -> Result<Vec<Span>, DecodeError> {
    spans_from_thrift_batch(thrift_batch::read_emit_batch(&mut CompactReader::new(datagram))?)
}

/// Reads a UDP 6832 datagram: an `emitBatch` message in the binary protocol.
pub fn decode_udp_binary(datagram: &[u8]) -> Result<Vec<Span>, DecodeError> {
    spans_from_thrift_batch(thrift_batch::read_emit_batch(&mut BinaryReader::new(datagram))?)
}

/// Reads the protobuf message of a gRPC `PostSpans` call (without gRPC's 5-byte frame header).
pub fn decode_proto_post_spans(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    proto_reader::decode_post_spans(body)
}

/// The spans of a `PostSpans` request that a gRPC framework has already decoded. Prefer
/// [`decode_proto_post_spans`] on the raw message: decoding into the prost structs first
/// allocates the whole request before any limit applies.
pub fn spans_from_post_spans_request(
    request: &proto::PostSpansRequest,
) -> Result<Vec<Span>, DecodeError> {
    proto::spans_from_request(request)
}

/// The body of the (empty) `PostSpansResponse`.
pub fn post_spans_response() -> Vec<u8> {
    Vec::new()
}

/// Which protocol a bare `Batch` is written in, judged by its first field header (the process
/// in field 1 or the spans in field 2); `None` when it looks like neither.
pub fn sniff_thrift_batch_protocol(body: &[u8]) -> Option<ThriftProtocol> {
    match body {
        [0x0c, 0x00, 0x01, ..] | [0x0f, 0x00, 0x02, ..] => Some(ThriftProtocol::Binary),
        [0x1c, ..] | [0x29, ..] => Some(ThriftProtocol::Compact),
        _ => None,
    }
}

/// Spans as bare Thrift `Batch` structs, one per distinct resource (a batch has one process),
/// in the order the resources first appear. Each is one `POST /api/traces` body.
pub fn encode_thrift_batch(spans: &[Span], protocol: ThriftProtocol) -> Vec<Vec<u8>> {
    encode_batches(spans, protocol, false)
}

/// Spans as `emitBatch` datagrams for the agent's UDP ports (compact for 6831, binary for
/// 6832), one per distinct resource. The caller keeps datagrams under the agent's limit
/// (65,000 bytes by default) by passing fewer spans at a time.
pub fn encode_udp_emit_batch(spans: &[Span], compact: bool) -> Vec<Vec<u8>> {
    let protocol = if compact { ThriftProtocol::Compact } else { ThriftProtocol::Binary };
    encode_batches(spans, protocol, true)
}

/// Spans as the protobuf message of a `PostSpans` call, all in one batch.
pub fn encode_proto_post_spans(spans: &[Span]) -> Vec<u8> {
    proto::encode_post_spans(spans)
}

fn encode_batches(spans: &[Span], protocol: ThriftProtocol, as_message: bool) -> Vec<Vec<u8>> {
    from_model::group_by_resource(spans)
        .into_iter()
        .map(|(resource, members)| {
            let process = from_model::process_from_resource(resource);
            let jaeger: Vec<wire::JaegerSpan> =
                members.into_iter().map(from_model::span_from_model).collect();
            match protocol {
                ThriftProtocol::Binary => {
                    write_thrift(BinaryWriter::new(), &process, &jaeger, as_message).out
                }
                ThriftProtocol::Compact => {
                    write_thrift(CompactWriter::new(), &process, &jaeger, as_message).out
                }
            }
        })
        .collect()
}

fn write_thrift<W: ThriftWriter>(
    mut writer: W,
    process: &wire::Process,
    spans: &[wire::JaegerSpan],
    as_message: bool,
) -> W {
    if as_message {
        thrift_batch::write_emit_batch(&mut writer, process, spans);
    } else {
        thrift_batch::write_batch(&mut writer, process, spans);
    }
    writer
}

fn spans_from_thrift_batch(batch: ThriftBatch) -> Result<Vec<Span>, DecodeError> {
    let resource = match batch.process {
        Some(process) => to_model::resource_from_process(process)?,
        None => Default::default(),
    };
    let resource = Arc::new(resource);
    let mut scopes = ScopeCache::default();
    batch
        .spans
        .into_iter()
        .enumerate()
        .map(|(index, span)| {
            to_model::span_to_model(span, resource.clone(), &mut scopes)
                .map_err(|e| DecodeError::from(e).in_span(index))
        })
        .collect()
}
