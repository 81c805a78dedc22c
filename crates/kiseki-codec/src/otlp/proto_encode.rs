//! Spans → OTLP/protobuf `ExportTraceServiceRequest`, and the export response.

use kiseki_model::{AnyValue, Attributes, KeyValue, Resource, Scope, Span};

use super::group_spans;
use super::wire::Writer;

/// Encodes spans as one `ExportTraceServiceRequest`, grouped by their shared resource and scope.
pub fn encode_traces_proto(spans: &[Span]) -> Vec<u8> {
    let mut w = Writer::new();
    for (resource, scopes) in group_spans(spans) {
        w.message(1, |w| {
            w.message(1, |w| write_resource(w, resource));
            for (scope, spans) in scopes {
                w.message(2, |w| {
                    w.message(1, |w| write_scope(w, scope));
                    for span in spans {
                        w.message(2, |w| write_span(w, span));
                    }
                });
            }
        });
    }
    w.out
}

/// `ExportTraceServiceResponse`: empty when everything was accepted, else `partial_success`.
pub fn encode_response_proto(rejected_spans: u64, error_message: &str) -> Vec<u8> {
    let mut w = Writer::new();
    if rejected_spans > 0 || !error_message.is_empty() {
        w.message(1, |w| {
            w.uint64(1, rejected_spans);
            w.bytes(2, error_message.as_bytes());
        });
    }
    w.out
}

/// A `google.rpc.Status`, the body of an OTLP/HTTP error response.
pub fn encode_error_status_proto(grpc_code: i32, message: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.uint64(1, grpc_code as u64);
    w.bytes(2, message.as_bytes());
    w.out
}

fn write_resource(w: &mut Writer, resource: &Resource) {
    write_attributes(w, 1, &resource.attributes);
    w.uint64(2, u64::from(resource.dropped_attributes_count));
}

fn write_scope(w: &mut Writer, scope: &Scope) {
    w.bytes(1, scope.name.as_bytes());
    w.bytes(2, scope.version.as_bytes());
    write_attributes(w, 3, &scope.attributes);
    w.uint64(4, u64::from(scope.dropped_attributes_count));
}

fn write_span(w: &mut Writer, span: &Span) {
    w.bytes(1, &span.trace_id.to_bytes());
    w.bytes(2, &span.span_id.to_bytes());
    w.bytes(3, span.trace_state.as_bytes());
    if let Some(parent) = span.parent_span_id {
        w.bytes(4, &parent.to_bytes());
    }
    w.bytes(5, span.name.as_bytes());
    w.uint64(6, span.kind as u64);
    w.fixed64(7, span.start_time_unix_nano);
    w.fixed64(8, span.end_time_unix_nano);
    write_attributes(w, 9, &span.attributes);
    w.uint64(10, u64::from(span.dropped_attributes_count));
    for event in &span.events {
        w.message(11, |w| {
            w.fixed64(1, event.time_unix_nano);
            w.bytes(2, event.name.as_bytes());
            write_attributes(w, 3, &event.attributes);
            w.uint64(4, u64::from(event.dropped_attributes_count));
        });
    }
    w.uint64(12, u64::from(span.dropped_events_count));
    for link in &span.links {
        w.message(13, |w| {
            w.bytes(1, &link.trace_id.to_bytes());
            w.bytes(2, &link.span_id.to_bytes());
            w.bytes(3, link.trace_state.as_bytes());
            write_attributes(w, 4, &link.attributes);
            w.uint64(5, u64::from(link.dropped_attributes_count));
            w.fixed32(6, link.flags);
        });
    }
    w.uint64(14, u64::from(span.dropped_links_count));
    if span.status != Default::default() {
        w.message(15, |w| {
            w.bytes(2, span.status.message.as_bytes());
            w.uint64(3, span.status.code as u64);
        });
    }
    w.fixed32(16, span.flags);
}

fn write_attributes(w: &mut Writer, field: u32, attributes: &Attributes) {
    for kv in attributes {
        write_key_value(w, field, kv);
    }
}

fn write_key_value(w: &mut Writer, field: u32, kv: &KeyValue) {
    w.message(field, |w| {
        w.bytes(1, kv.key.as_bytes());
        w.message(2, |w| write_any_value(w, &kv.value));
    });
}

fn write_any_value(w: &mut Writer, value: &AnyValue) {
    // Oneof members are written even when they hold their type's zero value.
    match value {
        AnyValue::Empty => {}
        AnyValue::Str(s) => w.bytes_always(1, s.as_bytes()),
        AnyValue::Bool(v) => w.uint64_always(2, u64::from(*v)),
        AnyValue::Int(v) => w.uint64_always(3, *v as u64),
        AnyValue::Double(v) => w.double(4, *v),
        AnyValue::Array(values) => w.message(5, |w| {
            for value in values {
                w.message(1, |w| write_any_value(w, value));
            }
        }),
        AnyValue::Map(entries) => w.message(6, |w| {
            for kv in entries {
                write_key_value(w, 1, kv);
            }
        }),
        AnyValue::Bytes(bytes) => w.bytes_always(7, bytes),
    }
}
