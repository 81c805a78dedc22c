//! Reading the map-based msgpack payloads: v0.3/v0.4 (`[[span, ...], ...]`) and v0.7
//! (a `TracerPayload` map whose chunks hold the same span maps).
//!
//! Every span field may be missing (tracers omit zeros), unknown keys are skipped, and numbers are
//! accepted in any width and sign as in the agent's decoder.

use kiseki_model::{AnyValue, Str};

use crate::limits::{self, LimitError, MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS};

use super::error::{DecodeError, Location};
use super::msgpack::{Number, ReadError, Reader, number_to_f64, number_to_i64};
use super::wire::{DdChunk, DdPayload, DdSpan, DdSpanEvent, DdSpanLink};

/// Reads a v0.3 or v0.4 body: an array of traces, each an array of span maps.
pub(crate) fn read_traces(body: &[u8]) -> Result<Vec<DdChunk>, DecodeError> {
    let mut reader = Reader::new(body);
    let at = Location::default();
    let count = reader.array_len_or_nil().map_err(|e| at.read_error(e))?;
    let mut chunks = Vec::with_capacity(count);
    for trace in 0..count {
        let spans = read_span_list(&mut reader, trace)?;
        chunks.push(DdChunk { spans, ..DdChunk::default() });
    }
    Ok(chunks)
}

/// Reads a v0.7 body: one `TracerPayload` map.
pub(crate) fn read_payload(body: &[u8]) -> Result<DdPayload, DecodeError> {
    let mut reader = Reader::new(body);
    let r = &mut reader;
    let at = Location::default();
    let mut payload = DdPayload::default();
    let fields = r.map_len_or_nil().map_err(|e| at.read_error(e))?;
    for _ in 0..fields {
        let key = r.str().map_err(|e| at.read_error(e))?;
        let field = |e| at.field(static_key(key)).read_error(e);
        match key {
            "container_id" => payload.container_id = r.str().map(Str::new).map_err(field)?,
            "language_name" => payload.language_name = r.str().map(Str::new).map_err(field)?,
            "language_version" => {
                payload.language_version = r.str().map(Str::new).map_err(field)?
            }
            "tracer_version" => payload.tracer_version = r.str().map(Str::new).map_err(field)?,
            "runtime_id" => payload.runtime_id = r.str().map(Str::new).map_err(field)?,
            "env" => payload.env = r.str().map(Str::new).map_err(field)?,
            "hostname" => payload.hostname = r.str().map(Str::new).map_err(field)?,
            "app_version" => payload.app_version = r.str().map(Str::new).map_err(field)?,
            "tags" => payload.tags = read_string_map(r, at.field("tags"))?,
            "chunks" => {
                let count = r.array_len_or_nil().map_err(field)?;
                payload.chunks = Vec::with_capacity(count);
                for trace in 0..count {
                    if r.take_nil().map_err(field)? {
                        continue;
                    }
                    payload.chunks.push(read_chunk(r, trace)?);
                }
            }
            _ => r.skip().map_err(|e| at.read_error(e))?,
        }
    }
    Ok(payload)
}

fn read_chunk(r: &mut Reader<'_>, trace: usize) -> Result<DdChunk, DecodeError> {
    let at = Location::trace(trace);
    let mut chunk = DdChunk::default();
    let fields = r.map_len().map_err(|e| at.read_error(e))?;
    for _ in 0..fields {
        let key = r.str().map_err(|e| at.read_error(e))?;
        let field = |e| at.field(static_key(key)).read_error(e);
        match key {
            "priority" => {
                let number = r.number_or_nil().map_err(field)?;
                chunk.priority = number.and_then(number_to_i64).map(clamp_i32);
            }
            "origin" => chunk.origin = r.str().map(Str::new).map_err(field)?,
            "tags" => chunk.tags = read_string_map(r, at.field("tags"))?,
            "dropped_trace" => chunk.dropped_trace = r.bool().map_err(field)?,
            "spans" => chunk.spans = read_span_list(r, trace)?,
            _ => r.skip().map_err(|e| at.read_error(e))?,
        }
    }
    Ok(chunk)
}

fn read_span_list(r: &mut Reader<'_>, trace: usize) -> Result<Vec<DdSpan>, DecodeError> {
    let count = r.array_len_or_nil().map_err(|e| Location::trace(trace).read_error(e))?;
    let mut spans = Vec::with_capacity(count);
    for index in 0..count {
        let at = Location::span(trace, index);
        // The agent accepts nil in place of a span and drops it.
        if r.take_nil().map_err(|e| at.read_error(e))? {
            continue;
        }
        spans.push(read_span(r, at)?);
    }
    Ok(spans)
}

/// Reads one span map.
pub(crate) fn read_span(r: &mut Reader<'_>, at: Location) -> Result<DdSpan, DecodeError> {
    let mut span = DdSpan::default();
    let fields = r.map_len().map_err(|e| at.read_error(e))?;
    for _ in 0..fields {
        let key = r.str().map_err(|e| at.read_error(e))?;
        let field = |e| at.field(static_key(key)).read_error(e);
        match key {
            "service" => span.service = r.str().map(Str::new).map_err(field)?,
            "name" => span.name = r.str().map(Str::new).map_err(field)?,
            "resource" => span.resource = r.str().map(Str::new).map_err(field)?,
            "type" => span.span_type = r.str().map(Str::new).map_err(field)?,
            "trace_id" => span.trace_id = r.id().map_err(field)?,
            "span_id" => span.span_id = r.id().map_err(field)?,
            "parent_id" => span.parent_id = r.id().map_err(field)?,
            "start" => span.start = r.i64().map_err(field)?,
            "duration" => span.duration = r.i64().map_err(field)?,
            "error" => span.error = i32::from(r.flag().map_err(field)?),
            "meta" => span.meta = read_string_map(r, at.field("meta"))?,
            "metrics" => span.metrics = read_metrics(r, at.field("metrics"))?,
            "span_links" => span.span_links = read_links(r, at.field("span_links"))?,
            "span_events" => span.span_events = read_events(r, at.field("span_events"))?,
            _ => r.skip().map_err(|e| at.read_error(e))?,
        }
    }
    Ok(span)
}

/// A map of strings to strings (`meta`, `tags`, link attributes); nil values read as empty.
fn read_string_map(r: &mut Reader<'_>, at: Location) -> Result<Vec<(Str, Str)>, DecodeError> {
    let count = r.map_len_or_nil().map_err(|e| at.read_error(e))?;
    check_attribute_list(count)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let key = r.str().map_err(|e| at.read_error(e))?;
        let value = r.str().map_err(|e| at.read_error(e))?;
        entries.push((Str::new(key), Str::new(value)));
    }
    Ok(entries)
}

fn read_metrics(r: &mut Reader<'_>, at: Location) -> Result<Vec<(Str, f64)>, DecodeError> {
    let count = r.map_len_or_nil().map_err(|e| at.read_error(e))?;
    check_attribute_list(count)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let key = r.str().map_err(|e| at.read_error(e))?;
        let value = r.f64().map_err(|e| at.read_error(e))?;
        entries.push((Str::new(key), value));
    }
    Ok(entries)
}

fn read_links(r: &mut Reader<'_>, at: Location) -> Result<Vec<DdSpanLink>, DecodeError> {
    let count = r.array_len_or_nil().map_err(|e| at.read_error(e))?;
    if count > MAX_LINKS {
        return Err(LimitError::TooManyLinks { count }.into());
    }
    let mut links = Vec::with_capacity(count);
    for _ in 0..count {
        if r.take_nil().map_err(|e| at.read_error(e))? {
            continue;
        }
        let mut link = DdSpanLink::default();
        let fields = r.map_len().map_err(|e| at.read_error(e))?;
        for _ in 0..fields {
            let key = r.str().map_err(|e| at.read_error(e))?;
            let err = |e| at.read_error(e);
            match key {
                "trace_id" => link.trace_id = r.id().map_err(err)?,
                "trace_id_high" => link.trace_id_high = r.id().map_err(err)?,
                "span_id" => link.span_id = r.id().map_err(err)?,
                "attributes" => link.attributes = read_string_map(r, at)?,
                "tracestate" => link.tracestate = r.str().map(Str::new).map_err(err)?,
                "flags" => {
                    link.flags =
                        r.id().map(|flags| u32::try_from(flags).unwrap_or(0)).map_err(err)?
                }
                _ => r.skip().map_err(err)?,
            }
        }
        links.push(link);
    }
    Ok(links)
}

fn read_events(r: &mut Reader<'_>, at: Location) -> Result<Vec<DdSpanEvent>, DecodeError> {
    let count = r.array_len_or_nil().map_err(|e| at.read_error(e))?;
    if count > MAX_EVENTS {
        return Err(LimitError::TooManyEvents { count }.into());
    }
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        if r.take_nil().map_err(|e| at.read_error(e))? {
            continue;
        }
        let mut event = DdSpanEvent::default();
        let fields = r.map_len().map_err(|e| at.read_error(e))?;
        for _ in 0..fields {
            let key = r.str().map_err(|e| at.read_error(e))?;
            let err = |e| at.read_error(e);
            match key {
                "time_unix_nano" => event.time_unix_nano = r.id().map_err(err)?,
                "name" => event.name = r.str().map(Str::new).map_err(err)?,
                "attributes" => {
                    let count = r.map_len_or_nil().map_err(err)?;
                    check_attribute_list(count)?;
                    event.attributes = Vec::with_capacity(count);
                    for _ in 0..count {
                        let key = r.str().map_err(err)?;
                        let value = read_any_value(r, at, 0)?;
                        event.attributes.push((Str::new(key), value));
                    }
                }
                _ => r.skip().map_err(err)?,
            }
        }
        events.push(event);
    }
    Ok(events)
}

/// The agent's v0.4 attribute value: `{type, string_value | bool_value | int_value |
/// double_value | array_value: {values: [...]}}` with type 0 string, 1 bool, 2 int, 3 double,
/// 4 array. Unknown types read as an empty value, as the agent leaves them unset.
fn read_any_value(r: &mut Reader<'_>, at: Location, depth: usize) -> Result<AnyValue, DecodeError> {
    let err = |e: ReadError| at.read_error(e);
    if r.take_nil().map_err(err)? {
        return Ok(AnyValue::Empty);
    }
    let mut value_type = 0;
    let (mut text, mut flag, mut int, mut double) = ("", false, 0i64, 0f64);
    let mut array = Vec::new();
    let fields = r.map_len().map_err(err)?;
    for _ in 0..fields {
        let key = r.str().map_err(err)?;
        match key {
            "type" => {
                let number = r.number_or_nil().map_err(err)?;
                value_type = number.and_then(number_to_i64).unwrap_or(-1);
            }
            "string_value" => text = r.str().map_err(err)?,
            "bool_value" => flag = r.bool().map_err(err)?,
            "int_value" => {
                let start = r.position();
                let number = r.number_or_nil().map_err(err)?.unwrap_or(Number::Signed(0));
                int = number_to_i64(number).ok_or_else(|| {
                    at.read_error(ReadError {
                        offset: start,
                        problem: super::error::Problem::OutOfRange("a signed 64-bit integer"),
                    })
                })?;
            }
            "double_value" => double = r.number_or_nil().map_err(err)?.map_or(0.0, number_to_f64),
            "array_value" => {
                limits::check_depth(depth + 1)?;
                array.clear();
                let fields = r.map_len_or_nil().map_err(err)?;
                for _ in 0..fields {
                    if r.str().map_err(err)? != "values" {
                        r.skip().map_err(err)?;
                        continue;
                    }
                    let count = r.array_len_or_nil().map_err(err)?;
                    check_attribute_list(count)?;
                    array = Vec::with_capacity(count);
                    for _ in 0..count {
                        array.push(read_any_value(r, at, depth + 1)?);
                    }
                }
            }
            _ => r.skip().map_err(err)?,
        }
    }
    Ok(match value_type {
        0 => AnyValue::Str(Str::new(text)),
        1 => AnyValue::Bool(flag),
        2 => AnyValue::Int(int),
        3 => AnyValue::Double(double),
        4 => AnyValue::Array(array),
        _ => AnyValue::Empty,
    })
}

/// Field names for error locations; keys outside the schema are not named.
fn static_key(key: &str) -> &'static str {
    const KNOWN: [&str; 27] = [
        "service",
        "name",
        "resource",
        "type",
        "trace_id",
        "span_id",
        "parent_id",
        "start",
        "duration",
        "error",
        "meta",
        "metrics",
        "span_links",
        "span_events",
        "container_id",
        "language_name",
        "language_version",
        "tracer_version",
        "runtime_id",
        "env",
        "hostname",
        "app_version",
        "tags",
        "chunks",
        "priority",
        "origin",
        "dropped_trace",
    ];
    KNOWN.into_iter().find(|known| *known == key).unwrap_or("?")
}

/// Refuses an attribute map longer than the limit before reading it.
pub(crate) fn check_attribute_list(count: usize) -> Result<(), LimitError> {
    if count > MAX_ATTRIBUTES {
        return Err(LimitError::TooManyAttributes { count });
    }
    Ok(())
}

fn clamp_i32(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}
