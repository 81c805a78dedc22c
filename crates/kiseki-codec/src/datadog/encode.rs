//! Writing v0.4 and v0.5 payloads.
//!
//! Events go into meta `events` as JSON in both versions, since every agent accepts that and
//! native `span_events` only newer ones; v0.4 sends links natively (`span_links`), v0.5 as JSON in
//! meta `_dd.span_links` since its span arrays have no place for them.

use std::collections::HashMap;

use kiseki_model::{AnyValue, Span, Str};

use super::from_model::model_to_dd_chunks;
use super::meta_json::{self, EVENTS_KEY, SPAN_LINKS_KEY};
use super::msgpack::Writer;
use super::wire::{DdChunk, DdSpan, DdSpanEvent, DdSpanLink};

/// A v0.4 body (`PUT /v0.4/traces`, `Content-Type: application/msgpack`); one trace per trace id.
pub fn encode_v04_msgpack(spans: &[Span]) -> Vec<u8> {
    let mut chunks = model_to_dd_chunks(spans);
    for span in chunks.iter_mut().flat_map(|chunk| &mut chunk.spans) {
        events_to_meta(span);
    }
    write_v04(&chunks)
}

/// A v0.5 body (`PUT /v0.5/traces`): a string table and spans as 12-element arrays.
pub fn encode_v05(spans: &[Span]) -> Vec<u8> {
    let mut chunks = model_to_dd_chunks(spans);
    for span in chunks.iter_mut().flat_map(|chunk| &mut chunk.spans) {
        events_to_meta(span);
        if !span.span_links.is_empty() {
            let text = meta_json::write_links(&span.span_links);
            span.meta.push((Str::from_static(SPAN_LINKS_KEY), Str::from(text)));
            span.span_links.clear();
        }
    }
    write_v05(&chunks)
}

fn events_to_meta(span: &mut DdSpan) {
    if !span.span_events.is_empty() {
        let text = meta_json::write_events(&span.span_events);
        span.meta.retain(|(key, _)| key != EVENTS_KEY);
        span.meta.push((Str::from_static(EVENTS_KEY), Str::from(text)));
        span.span_events.clear();
    }
}

/// Writes Datadog spans as a v0.4 body, with links and events natively where present.
pub fn write_v04(chunks: &[DdChunk]) -> Vec<u8> {
    let mut w = Writer::with_capacity(chunks.iter().map(|c| c.spans.len() * 512).sum());
    w.array_len(chunks.len());
    for chunk in chunks {
        w.array_len(chunk.spans.len());
        for span in &chunk.spans {
            write_span_map(&mut w, span);
        }
    }
    w.into_vec()
}

fn write_span_map(w: &mut Writer, span: &DdSpan) {
    let extra =
        usize::from(!span.span_links.is_empty()) + usize::from(!span.span_events.is_empty());
    w.map_len(12 + extra);
    w.str("service");
    w.str(&span.service);
    w.str("name");
    w.str(&span.name);
    w.str("resource");
    w.str(&span.resource);
    w.str("trace_id");
    w.u64(span.trace_id);
    w.str("span_id");
    w.u64(span.span_id);
    w.str("parent_id");
    w.u64(span.parent_id);
    w.str("start");
    w.i64(span.start);
    w.str("duration");
    w.i64(span.duration);
    w.str("error");
    w.i64(i64::from(span.error));
    w.str("meta");
    w.map_len(span.meta.len());
    for (key, value) in &span.meta {
        w.str(key);
        w.str(value);
    }
    w.str("metrics");
    w.map_len(span.metrics.len());
    for (key, value) in &span.metrics {
        w.str(key);
        w.f64(*value);
    }
    w.str("type");
    w.str(&span.span_type);
    if !span.span_links.is_empty() {
        w.str("span_links");
        w.array_len(span.span_links.len());
        for link in &span.span_links {
            write_link(w, link);
        }
    }
    if !span.span_events.is_empty() {
        w.str("span_events");
        w.array_len(span.span_events.len());
        for event in &span.span_events {
            write_event(w, event);
        }
    }
}

fn write_link(w: &mut Writer, link: &DdSpanLink) {
    let optional = [
        link.trace_id_high != 0,
        !link.attributes.is_empty(),
        !link.tracestate.is_empty(),
        link.flags != 0,
    ];
    w.map_len(2 + optional.iter().filter(|present| **present).count());
    w.str("trace_id");
    w.u64(link.trace_id);
    if link.trace_id_high != 0 {
        w.str("trace_id_high");
        w.u64(link.trace_id_high);
    }
    w.str("span_id");
    w.u64(link.span_id);
    if !link.attributes.is_empty() {
        w.str("attributes");
        w.map_len(link.attributes.len());
        for (key, value) in &link.attributes {
            w.str(key);
            w.str(value);
        }
    }
    if !link.tracestate.is_empty() {
        w.str("tracestate");
        w.str(&link.tracestate);
    }
    if link.flags != 0 {
        w.str("flags");
        w.u64(u64::from(link.flags));
    }
}

fn write_event(w: &mut Writer, event: &DdSpanEvent) {
    w.map_len(3);
    w.str("time_unix_nano");
    w.u64(event.time_unix_nano);
    w.str("name");
    w.str(&event.name);
    w.str("attributes");
    w.map_len(event.attributes.len());
    for (key, value) in &event.attributes {
        w.str(key);
        write_any_value(w, value);
    }
}

/// The agent's typed value; maps, bytes and empty values have no type there and go as text.
fn write_any_value(w: &mut Writer, value: &AnyValue) {
    w.map_len(2);
    w.str("type");
    match value {
        AnyValue::Bool(flag) => {
            w.u64(1);
            w.str("bool_value");
            w.bool(*flag);
        }
        AnyValue::Int(int) => {
            w.u64(2);
            w.str("int_value");
            w.i64(*int);
        }
        AnyValue::Double(double) => {
            w.u64(3);
            w.str("double_value");
            w.f64(*double);
        }
        AnyValue::Array(items) => {
            w.u64(4);
            w.str("array_value");
            w.map_len(1);
            w.str("values");
            w.array_len(items.len());
            for item in items {
                write_any_value(w, item);
            }
        }
        AnyValue::Str(text) => {
            w.u64(0);
            w.str("string_value");
            w.str(text);
        }
        other => {
            w.u64(0);
            w.str("string_value");
            w.str(&other.to_string());
        }
    }
}

/// Writes Datadog spans as a v0.5 body. Links and events must already be in meta.
pub fn write_v05(chunks: &[DdChunk]) -> Vec<u8> {
    let mut table = StringTable::default();
    let mut spans = Writer::with_capacity(chunks.iter().map(|c| c.spans.len() * 64).sum());
    spans.array_len(chunks.len());
    for chunk in chunks {
        spans.array_len(chunk.spans.len());
        for span in &chunk.spans {
            spans.array_len(12);
            spans.u64(table.index(&span.service));
            spans.u64(table.index(&span.name));
            spans.u64(table.index(&span.resource));
            spans.u64(span.trace_id);
            spans.u64(span.span_id);
            spans.u64(span.parent_id);
            spans.i64(span.start);
            spans.i64(span.duration);
            spans.i64(i64::from(span.error));
            spans.map_len(span.meta.len());
            for (key, value) in &span.meta {
                spans.u64(table.index(key));
                spans.u64(table.index(value));
            }
            spans.map_len(span.metrics.len());
            for (key, value) in &span.metrics {
                spans.u64(table.index(key));
                spans.f64(*value);
            }
            spans.u64(table.index(&span.span_type));
        }
    }
    let spans = spans.into_vec();
    let mut w = Writer::with_capacity(table.bytes + spans.len() + 16);
    w.array_len(2);
    w.array_len(table.strings.len());
    for text in &table.strings {
        w.str(text);
    }
    let mut body = w.into_vec();
    body.extend_from_slice(&spans);
    body
}

/// Strings in first-use order; index 0 is the empty string, as tracers write it.
struct StringTable {
    strings: Vec<Str>,
    index: HashMap<Str, u64>,
    bytes: usize,
}

impl Default for StringTable {
    fn default() -> Self {
        let empty = Str::default();
        Self { strings: vec![empty.clone()], index: HashMap::from([(empty, 0)]), bytes: 1 }
    }
}

impl StringTable {
    fn index(&mut self, text: &Str) -> u64 {
        if let Some(&index) = self.index.get(text) {
            return index;
        }
        let index = self.strings.len() as u64;
        self.strings.push(text.clone());
        self.index.insert(text.clone(), index);
        self.bytes = self.bytes.saturating_add(text.len() + 5);
        index
    }
}
