//! OTLP/protobuf `ExportTraceServiceRequest` → spans, straight from the wire into the model.
//!
//! A malformed message (bad wire types, truncation) fails the whole request. A span that is
//! well-formed protobuf but unusable (bad ids, invalid UTF-8, over a limit) is rejected on its own
//! and counted, so the receiver can answer with OTLP's `partial_success`.

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId,
};

use super::wire::{Reader, WireError, WireType, expect};
use super::{DecodeError, DecodedTraces, SpanError};
use crate::limits;

/// Decodes an `ExportTraceServiceRequest`.
pub fn decode_traces_proto(body: &[u8]) -> std::result::Result<DecodedTraces, DecodeError> {
    let mut out = DecodedTraces::default();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                resource_spans(reader.bytes()?, &mut out)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(out)
}

/// Whether a part of the request was unusable for its spans only, or broke the message.
enum Failure {
    Wire(WireError),
    Span(SpanError),
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Self {
        Failure::Wire(error)
    }
}

impl From<SpanError> for Failure {
    fn from(error: SpanError) -> Self {
        Failure::Span(error)
    }
}

impl From<limits::LimitError> for Failure {
    fn from(error: limits::LimitError) -> Self {
        Failure::Span(SpanError::Limit(error))
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn resource_spans(body: &[u8], out: &mut DecodedTraces) -> std::result::Result<(), WireError> {
    // Fields may come in any order: find the resource first, then decode the spans under it.
    let mut resource_parts = Vec::new();
    let mut scope_spans_parts = Vec::new();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                resource_parts.push(reader.bytes()?);
            }
            2 => {
                expect(field, wire_type, WireType::Len)?;
                scope_spans_parts.push(reader.bytes()?);
            }
            _ => reader.skip(wire_type)?,
        }
    }
    let resource = match resource(&resource_parts) {
        Ok(resource) => Ok(Arc::new(resource)),
        Err(Failure::Wire(error)) => return Err(error),
        Err(Failure::Span(error)) => Err(error),
    };
    for part in scope_spans_parts {
        scope_spans(part, &resource, out)?;
    }
    Ok(())
}

fn resource(parts: &[&[u8]]) -> Result<Resource> {
    let mut resource = Resource::default();
    for part in parts {
        let mut reader = Reader::new(part);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => {
                    expect(field, wire_type, WireType::Len)?;
                    key_value(reader.bytes()?, &mut resource.attributes)?;
                }
                2 => resource.dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
                _ => reader.skip(wire_type)?,
            }
        }
    }
    Ok(resource)
}

fn scope_spans(
    body: &[u8],
    resource: &std::result::Result<Arc<Resource>, SpanError>,
    out: &mut DecodedTraces,
) -> std::result::Result<(), WireError> {
    let mut scope_parts = Vec::new();
    let mut span_parts = Vec::new();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                scope_parts.push(reader.bytes()?);
            }
            2 => {
                expect(field, wire_type, WireType::Len)?;
                span_parts.push(reader.bytes()?);
            }
            _ => reader.skip(wire_type)?,
        }
    }
    let scope = match scope(&scope_parts) {
        Ok(scope) => Ok(Arc::new(scope)),
        Err(Failure::Wire(error)) => return Err(error),
        Err(Failure::Span(error)) => Err(error),
    };
    out.spans.reserve(span_parts.len());
    for part in span_parts {
        match (resource, &scope) {
            (Ok(resource), Ok(scope)) => match span(part, resource, scope) {
                Ok(span) => out.spans.push(span),
                Err(Failure::Span(error)) => out.reject(error),
                Err(Failure::Wire(error)) => return Err(error),
            },
            // Spans under an unusable resource or scope are rejected, but must still parse.
            (Err(error), _) | (_, Err(error)) => {
                if let Err(Failure::Wire(wire)) = span(part, &Arc::default(), &Arc::default()) {
                    return Err(wire);
                }
                out.reject(error.clone());
            }
        }
    }
    Ok(())
}

fn scope(parts: &[&[u8]]) -> Result<Scope> {
    let mut scope = Scope::default();
    for part in parts {
        let mut reader = Reader::new(part);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => scope.name = string(&mut reader, field, wire_type)?,
                2 => scope.version = string(&mut reader, field, wire_type)?,
                3 => {
                    expect(field, wire_type, WireType::Len)?;
                    key_value(reader.bytes()?, &mut scope.attributes)?;
                }
                4 => scope.dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
                _ => reader.skip(wire_type)?,
            }
        }
    }
    Ok(scope)
}

fn span(body: &[u8], resource: &Arc<Resource>, scope: &Arc<Scope>) -> Result<Span> {
    let mut trace_id = None;
    let mut span_id = None;
    let mut parent_span_id = None;
    let mut trace_state = Str::default();
    let mut flags = 0;
    let mut name = Str::default();
    let mut kind = SpanKind::Unspecified;
    let mut start = 0;
    let mut end = 0;
    let mut attributes = Attributes::new();
    let mut dropped_attributes_count = 0;
    let mut events = Vec::new();
    let mut dropped_events_count = 0;
    let mut links = Vec::new();
    let mut dropped_links_count = 0;
    let mut status = Status::default();

    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => trace_id = Some(len(&mut reader, field, wire_type)?),
            2 => span_id = Some(len(&mut reader, field, wire_type)?),
            3 => trace_state = string(&mut reader, field, wire_type)?,
            4 => parent_span_id = Some(len(&mut reader, field, wire_type)?),
            5 => name = string(&mut reader, field, wire_type)?,
            6 => {
                expect(field, wire_type, WireType::Varint)?;
                // Unknown kinds from newer senders read as unspecified, as proto3 enums do.
                kind = SpanKind::from_number(reader.varint()? as i64).unwrap_or_default();
            }
            7 => {
                expect(field, wire_type, WireType::Fixed64)?;
                start = reader.fixed64()?;
            }
            8 => {
                expect(field, wire_type, WireType::Fixed64)?;
                end = reader.fixed64()?;
            }
            9 => {
                expect(field, wire_type, WireType::Len)?;
                key_value(reader.bytes()?, &mut attributes)?;
            }
            10 => dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
            11 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_event_count(events.len())?;
                events.push(event(reader.bytes()?)?);
            }
            12 => dropped_events_count = varint_u32(&mut reader, field, wire_type)?,
            13 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_link_count(links.len())?;
                links.push(link(reader.bytes()?)?);
            }
            14 => dropped_links_count = varint_u32(&mut reader, field, wire_type)?,
            15 => {
                expect(field, wire_type, WireType::Len)?;
                status = span_status(reader.bytes()?)?;
            }
            16 => {
                expect(field, wire_type, WireType::Fixed32)?;
                flags = reader.fixed32()?;
            }
            _ => reader.skip(wire_type)?,
        }
    }

    let trace_id = TraceId::from_slice(trace_id.unwrap_or_default())
        .map_err(|e| SpanError::TraceId(e, name.clone()))?;
    let span_id = SpanId::from_slice(span_id.unwrap_or_default())
        .map_err(|e| SpanError::SpanId(e, name.clone()))?;
    let parent_span_id = match parent_span_id {
        // Root spans leave the parent out or send it empty.
        None | Some([]) => None,
        Some(bytes) => {
            Some(SpanId::from_slice(bytes).map_err(|e| SpanError::ParentSpanId(e, name.clone()))?)
        }
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state,
        flags,
        name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        status,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn event(body: &[u8]) -> Result<Event> {
    let mut event = Event::default();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Fixed64)?;
                event.time_unix_nano = reader.fixed64()?;
            }
            2 => event.name = string(&mut reader, field, wire_type)?,
            3 => {
                expect(field, wire_type, WireType::Len)?;
                key_value(reader.bytes()?, &mut event.attributes)?;
            }
            4 => event.dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(event)
}

fn link(body: &[u8]) -> Result<Link> {
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut trace_state = Str::default();
    let mut attributes = Attributes::new();
    let mut dropped_attributes_count = 0;
    let mut flags = 0;
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => trace_id = len(&mut reader, field, wire_type)?,
            2 => span_id = len(&mut reader, field, wire_type)?,
            3 => trace_state = string(&mut reader, field, wire_type)?,
            4 => {
                expect(field, wire_type, WireType::Len)?;
                key_value(reader.bytes()?, &mut attributes)?;
            }
            5 => dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
            6 => {
                expect(field, wire_type, WireType::Fixed32)?;
                flags = reader.fixed32()?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(Link {
        trace_id: TraceId::from_slice(trace_id).map_err(SpanError::LinkTraceId)?,
        span_id: SpanId::from_slice(span_id).map_err(SpanError::LinkSpanId)?,
        trace_state,
        flags,
        attributes,
        dropped_attributes_count,
    })
}

fn span_status(body: &[u8]) -> Result<Status> {
    let mut status = Status::default();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            2 => status.message = string(&mut reader, field, wire_type)?,
            3 => {
                expect(field, wire_type, WireType::Varint)?;
                status.code = StatusCode::from_number(reader.varint()? as i64).unwrap_or_default();
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(status)
}

/// Decodes one `KeyValue` and appends it.
fn key_value(body: &[u8], into: &mut Attributes) -> Result<()> {
    limits::check_attribute_count(into.len())?;
    let (key, value) = key_value_parts(body, 0)?;
    into.push(key, value);
    Ok(())
}

fn key_value_parts(body: &[u8], depth: usize) -> Result<(Str, AnyValue)> {
    let mut key = Str::default();
    let mut value = AnyValue::Empty;
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => key = string(&mut reader, field, wire_type)?,
            2 => {
                expect(field, wire_type, WireType::Len)?;
                value = any_value(reader.bytes()?, depth)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok((key, value))
}

fn any_value(body: &[u8], depth: usize) -> Result<AnyValue> {
    let mut value = AnyValue::Empty;
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        value = match field {
            1 => AnyValue::Str(string(&mut reader, field, wire_type)?),
            2 => {
                expect(field, wire_type, WireType::Varint)?;
                AnyValue::Bool(reader.varint()? != 0)
            }
            3 => {
                expect(field, wire_type, WireType::Varint)?;
                AnyValue::Int(reader.varint()? as i64)
            }
            4 => {
                expect(field, wire_type, WireType::Fixed64)?;
                AnyValue::Double(f64::from_bits(reader.fixed64()?))
            }
            5 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_depth(depth + 1)?;
                AnyValue::Array(array_value(reader.bytes()?, depth + 1)?)
            }
            6 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_depth(depth + 1)?;
                AnyValue::Map(key_value_list(reader.bytes()?, depth + 1)?)
            }
            7 => AnyValue::Bytes(len(&mut reader, field, wire_type)?.to_vec()),
            _ => {
                reader.skip(wire_type)?;
                continue;
            }
        };
    }
    Ok(value)
}

fn array_value(body: &[u8], depth: usize) -> Result<Vec<AnyValue>> {
    let mut values = Vec::new();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_attribute_count(values.len())?;
                values.push(any_value(reader.bytes()?, depth)?);
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(values)
}

fn key_value_list(body: &[u8], depth: usize) -> Result<Vec<KeyValue>> {
    let mut values = Vec::new();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                limits::check_attribute_count(values.len())?;
                let (key, value) = key_value_parts(reader.bytes()?, depth)?;
                values.push(KeyValue { key, value });
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(values)
}

#[inline]
fn len<'a>(reader: &mut Reader<'a>, field: u32, wire_type: WireType) -> Result<&'a [u8]> {
    expect(field, wire_type, WireType::Len)?;
    Ok(reader.bytes()?)
}

#[inline]
fn string(reader: &mut Reader<'_>, field: u32, wire_type: WireType) -> Result<Str> {
    let bytes = len(reader, field, wire_type)?;
    Str::from_utf8(bytes).map_err(|_| Failure::Span(SpanError::InvalidUtf8 { field }))
}

fn varint_u32(reader: &mut Reader<'_>, field: u32, wire_type: WireType) -> Result<u32> {
    expect(field, wire_type, WireType::Varint)?;
    Ok(reader.varint()? as u32)
}
