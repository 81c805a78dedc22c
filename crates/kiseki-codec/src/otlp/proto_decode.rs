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

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::wire::{Reader, WireError, WireType, expect};
use super::{DecodeError, DecodedTraces, SpanError};
use crate::limits;

/// Decodes an `ExportTraceServiceRequest`.
pub fn decode_traces_proto(body: &[u8]) -> std::result::Result<DecodedTraces, DecodeError> {
    // Sized by the body: a batch of a few hundred spans has a few hundred distinct strings and
    // attributes, a single span a handful.
    let mut decoder = Decoder {
        out: DecodedTraces::default(),
        strings: FxHashMap::with_capacity_and_hasher(
            (body.len() / 128).clamp(8, 256),
            Default::default(),
        ),
        attributes: FxHashMap::with_capacity_and_hasher(
            (body.len() / 64).clamp(8, 512),
            Default::default(),
        ),
    };
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.field()? {
        match field {
            1 => {
                expect(field, wire_type, WireType::Len)?;
                decoder.resource_spans(reader.bytes()?)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(decoder.out)
}

/// State kept across one request: the result, and what saves allocations from span to span.
struct Decoder<'a> {
    out: DecodedTraces,
    /// Strings already decoded in this request, by their bytes.
    strings: FxHashMap<&'a [u8], Str>,
    /// Short attributes already decoded in this request, by their encoded bytes.
    attributes: FxHashMap<&'a [u8], KeyValue>,
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

/// Encoded attributes up to this size are remembered for reuse within a request.
const MAX_SHARED_ATTRIBUTE_LEN: usize = 96;

/// Strings this short are cheaper to copy than to look up.
const SHORT_STRING_LEN: usize = 3;

impl<'a> Decoder<'a> {
    fn resource_spans(&mut self, body: &'a [u8]) -> std::result::Result<(), WireError> {
        // Fields may come in any order: find the resource first, then decode the spans under it.
        let mut resource_parts = Vec::new();
        let mut scope_spans_parts = Vec::new();
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => resource_parts.push(len(&mut reader, field, wire_type)?),
                2 => scope_spans_parts.push(len(&mut reader, field, wire_type)?),
                _ => reader.skip(wire_type)?,
            }
        }
        let resource = match self.resource(&resource_parts) {
            Ok(resource) => Ok(Arc::new(resource)),
            Err(Failure::Wire(error)) => return Err(error),
            Err(Failure::Span(error)) => Err(error),
        };
        for part in scope_spans_parts {
            self.scope_spans(part, &resource)?;
        }
        Ok(())
    }

    fn resource(&mut self, parts: &[&'a [u8]]) -> Result<Resource> {
        let mut resource = Resource::default();
        for part in parts {
            let mut reader = Reader::new(part);
            while let Some((field, wire_type)) = reader.field()? {
                match field {
                    1 => {
                        let body = len(&mut reader, field, wire_type)?;
                        self.key_value(body, &mut resource.attributes.0)?;
                    }
                    2 => {
                        resource.dropped_attributes_count =
                            varint_u32(&mut reader, field, wire_type)?
                    }
                    _ => reader.skip(wire_type)?,
                }
            }
        }
        Ok(resource)
    }

    fn scope_spans(
        &mut self,
        body: &'a [u8],
        resource: &std::result::Result<Arc<Resource>, SpanError>,
    ) -> std::result::Result<(), WireError> {
        let mut scope_parts = Vec::new();
        let mut span_parts = Vec::new();
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => scope_parts.push(len(&mut reader, field, wire_type)?),
                2 => span_parts.push(len(&mut reader, field, wire_type)?),
                _ => reader.skip(wire_type)?,
            }
        }
        let scope = match self.scope(&scope_parts) {
            Ok(scope) => Ok(Arc::new(scope)),
            Err(Failure::Wire(error)) => return Err(error),
            Err(Failure::Span(error)) => Err(error),
        };
        self.out.spans.reserve(span_parts.len());
        for part in span_parts {
            match (resource, &scope) {
                (Ok(resource), Ok(scope)) => match self.span(part, resource, scope) {
                    Ok(span) => self.out.spans.push(span),
                    Err(Failure::Span(error)) => self.out.reject(error),
                    Err(Failure::Wire(error)) => return Err(error),
                },
                // Spans under an unusable resource or scope are rejected, but must still parse.
                (Err(error), _) | (_, Err(error)) => {
                    if let Err(Failure::Wire(wire)) =
                        self.span(part, &Arc::default(), &Arc::default())
                    {
                        return Err(wire);
                    }
                    self.out.reject(error.clone());
                }
            }
        }
        Ok(())
    }

    fn scope(&mut self, parts: &[&'a [u8]]) -> Result<Scope> {
        let mut scope = Scope::default();
        for part in parts {
            let mut reader = Reader::new(part);
            while let Some((field, wire_type)) = reader.field()? {
                match field {
                    1 => scope.name = self.string(&mut reader, field, wire_type)?,
                    2 => scope.version = self.string(&mut reader, field, wire_type)?,
                    3 => {
                        let body = len(&mut reader, field, wire_type)?;
                        self.key_value(body, &mut scope.attributes.0)?;
                    }
                    4 => {
                        scope.dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?
                    }
                    _ => reader.skip(wire_type)?,
                }
            }
        }
        Ok(scope)
    }

    fn span(
        &mut self,
        body: &'a [u8],
        resource: &Arc<Resource>,
        scope: &Arc<Scope>,
    ) -> Result<Span> {
        let mut trace_id = None;
        let mut span_id = None;
        let mut parent_span_id = None;
        let mut trace_state = Str::default();
        let mut flags = 0;
        let mut name = Str::default();
        let mut kind = SpanKind::Unspecified;
        let mut start = 0;
        let mut end = 0;
        let mut dropped_attributes_count = 0;
        let [attribute_count, event_count] = count_fields(body, [9, 11]);
        let mut attributes = Vec::with_capacity(attribute_count.min(limits::MAX_ATTRIBUTES));
        let mut events = Vec::with_capacity(event_count.min(limits::MAX_EVENTS));
        let mut dropped_events_count = 0;
        let mut links = Vec::new();
        let mut dropped_links_count = 0;
        let mut status = Status::default();

        let mut reader = Reader::new(body);
        {
            while let Some((field, wire_type)) = reader.field()? {
                match field {
                    1 => trace_id = Some(len(&mut reader, field, wire_type)?),
                    2 => span_id = Some(len(&mut reader, field, wire_type)?),
                    3 => trace_state = self.string(&mut reader, field, wire_type)?,
                    4 => parent_span_id = Some(len(&mut reader, field, wire_type)?),
                    5 => name = self.string(&mut reader, field, wire_type)?,
                    6 => {
                        expect(field, wire_type, WireType::Varint)?;
                        // Kinds unknown to this version read as unspecified, as proto3 enums do.
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
                        let body = len(&mut reader, field, wire_type)?;
                        self.key_value(body, &mut attributes)?;
                    }
                    10 => dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?,
                    11 => {
                        let body = len(&mut reader, field, wire_type)?;
                        limits::check_event_count(events.len())?;
                        events.push(self.event(body)?);
                    }
                    12 => dropped_events_count = varint_u32(&mut reader, field, wire_type)?,
                    13 => {
                        let body = len(&mut reader, field, wire_type)?;
                        limits::check_link_count(links.len())?;
                        links.push(self.link(body)?);
                    }
                    14 => dropped_links_count = varint_u32(&mut reader, field, wire_type)?,
                    15 => status = self.status(len(&mut reader, field, wire_type)?)?,
                    16 => {
                        expect(field, wire_type, WireType::Fixed32)?;
                        flags = reader.fixed32()?;
                    }
                    _ => reader.skip(wire_type)?,
                }
            }
        }

        let trace_id = TraceId::from_slice(trace_id.unwrap_or_default())
            .map_err(|e| SpanError::TraceId(e, name.clone()))?;
        let span_id = SpanId::from_slice(span_id.unwrap_or_default())
            .map_err(|e| SpanError::SpanId(e, name.clone()))?;
        let parent_span_id = match parent_span_id {
            // Root spans leave the parent out or send it empty.
            None | Some([]) => None,
            Some(bytes) => Some(
                SpanId::from_slice(bytes).map_err(|e| SpanError::ParentSpanId(e, name.clone()))?,
            ),
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
            attributes: Attributes(attributes),
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

    fn event(&mut self, body: &'a [u8]) -> Result<Event> {
        let mut event = Event::default();
        let [attribute_count] = count_fields(body, [3]);
        let mut attributes = Vec::with_capacity(attribute_count.min(limits::MAX_ATTRIBUTES));
        let mut reader = Reader::new(body);
        {
            while let Some((field, wire_type)) = reader.field()? {
                match field {
                    1 => {
                        expect(field, wire_type, WireType::Fixed64)?;
                        event.time_unix_nano = reader.fixed64()?;
                    }
                    2 => event.name = self.string(&mut reader, field, wire_type)?,
                    3 => {
                        let body = len(&mut reader, field, wire_type)?;
                        self.key_value(body, &mut attributes)?;
                    }
                    4 => {
                        event.dropped_attributes_count = varint_u32(&mut reader, field, wire_type)?
                    }
                    _ => reader.skip(wire_type)?,
                }
            }
        }
        event.attributes = Attributes(attributes);
        Ok(event)
    }

    fn link(&mut self, body: &'a [u8]) -> Result<Link> {
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
                3 => trace_state = self.string(&mut reader, field, wire_type)?,
                4 => {
                    let body = len(&mut reader, field, wire_type)?;
                    self.key_value(body, &mut attributes.0)?;
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

    fn status(&mut self, body: &'a [u8]) -> Result<Status> {
        let mut status = Status::default();
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                2 => status.message = self.string(&mut reader, field, wire_type)?,
                3 => {
                    expect(field, wire_type, WireType::Varint)?;
                    status.code =
                        StatusCode::from_number(reader.varint()? as i64).unwrap_or_default();
                }
                _ => reader.skip(wire_type)?,
            }
        }
        Ok(status)
    }

    /// Decodes one `KeyValue` and appends it.
    fn key_value(&mut self, body: &'a [u8], into: &mut Vec<KeyValue>) -> Result<()> {
        limits::check_attribute_count(into.len())?;
        // Whole attributes repeat from span to span too (`rpc.system = grpc`): reuse them.
        let kv = match self.attributes.get(body) {
            Some(known) => known.clone(),
            None => {
                let kv = self.key_value_parts(body, 0)?;
                if body.len() <= MAX_SHARED_ATTRIBUTE_LEN {
                    self.attributes.insert(body, kv.clone());
                }
                kv
            }
        };
        into.push(kv);
        Ok(())
    }

    fn key_value_parts(&mut self, body: &'a [u8], depth: usize) -> Result<KeyValue> {
        let mut key = Str::default();
        let mut value = AnyValue::Empty;
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => key = self.string(&mut reader, field, wire_type)?,
                2 => value = self.any_value(len(&mut reader, field, wire_type)?, depth)?,
                _ => reader.skip(wire_type)?,
            }
        }
        Ok(KeyValue { key, value })
    }

    fn any_value(&mut self, body: &'a [u8], depth: usize) -> Result<AnyValue> {
        let mut value = AnyValue::Empty;
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            value = match field {
                1 => AnyValue::Str(self.string(&mut reader, field, wire_type)?),
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
                    let body = len(&mut reader, field, wire_type)?;
                    limits::check_depth(depth + 1)?;
                    AnyValue::Array(self.repeated(body, depth + 1, Self::any_value)?)
                }
                6 => {
                    let body = len(&mut reader, field, wire_type)?;
                    limits::check_depth(depth + 1)?;
                    AnyValue::Map(self.repeated(body, depth + 1, Self::key_value_parts)?)
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

    /// The items of `ArrayValue.values` or `KeyValueList.values` (field 1), each read by `item`.
    fn repeated<T>(
        &mut self,
        body: &'a [u8],
        depth: usize,
        item: fn(&mut Self, &'a [u8], usize) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut values = Vec::new();
        let mut reader = Reader::new(body);
        while let Some((field, wire_type)) = reader.field()? {
            match field {
                1 => {
                    let body = len(&mut reader, field, wire_type)?;
                    limits::check_attribute_count(values.len())?;
                    values.push(item(self, body, depth)?);
                }
                _ => reader.skip(wire_type)?,
            }
        }
        Ok(values)
    }

    /// A string field. Strings seen before in this request are shared rather than validated and
    /// copied again: keys and many values repeat in every span.
    #[inline]
    fn string(&mut self, reader: &mut Reader<'a>, field: u32, wire_type: WireType) -> Result<Str> {
        let bytes = len(reader, field, wire_type)?;
        if bytes.len() <= SHORT_STRING_LEN {
            return Str::from_utf8(bytes).map_err(|_| SpanError::InvalidUtf8 { field }.into());
        }
        match self.strings.entry(bytes) {
            Entry::Occupied(known) => Ok(known.get().clone()),
            Entry::Vacant(slot) => {
                let string = Str::from_utf8(bytes).map_err(|_| SpanError::InvalidUtf8 { field })?;
                Ok(slot.insert(string).clone())
            }
        }
    }
}

/// How often each of the given fields occurs in a message, so lists can be allocated once at
/// their final size. A malformed message stops the count; decoding reports the error.
fn count_fields<const N: usize>(body: &[u8], fields: [u32; N]) -> [usize; N] {
    let mut counts = [0; N];
    let mut reader = Reader::new(body);
    while let Ok(Some((field, wire_type))) = reader.field() {
        if let Some(at) = fields.iter().position(|&f| f == field) {
            counts[at] += 1;
        }
        if reader.skip(wire_type).is_err() {
            break;
        }
    }
    counts
}

#[inline]
fn len<'a>(
    reader: &mut Reader<'a>,
    field: u32,
    wire_type: WireType,
) -> std::result::Result<&'a [u8], WireError> {
    expect(field, wire_type, WireType::Len)?;
    reader.bytes()
}

fn varint_u32(reader: &mut Reader<'_>, field: u32, wire_type: WireType) -> Result<u32> {
    expect(field, wire_type, WireType::Varint)?;
    Ok(reader.varint()? as u32)
}
