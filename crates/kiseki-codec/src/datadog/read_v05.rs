//! Reading v0.5 payloads: `[string_table, traces]`, where every span is a 12-element array and
//! every string in it is an index into the table.
//!
//! Span layout: service, name, resource, trace_id, span_id, parent_id, start, duration, error,
//! meta (index → index map), metrics (index → number map), type.

use kiseki_model::Str;

use super::error::{DecodeError, Location, Problem};
use super::msgpack::{ReadError, ReadResult, Reader};
use super::read_msgpack::check_attribute_list;
use super::wire::{DdChunk, DdSpan};

const SPAN_FIELDS: usize = 12;

pub(crate) fn read_payload(body: &[u8]) -> Result<Vec<DdChunk>, DecodeError> {
    let mut reader = Reader::new(body);
    let r = &mut reader;
    let at = Location::default();
    let parts = r.array_len().map_err(|e| at.read_error(e))?;
    if parts != 2 {
        return Err(at.error(Problem::PayloadArrayLength(parts)));
    }
    let table = read_string_table(r).map_err(|e| at.field("string table").read_error(e))?;
    let traces = r.array_len().map_err(|e| at.read_error(e))?;
    let mut chunks = Vec::with_capacity(traces);
    for trace in 0..traces {
        let count = r.array_len().map_err(|e| Location::trace(trace).read_error(e))?;
        let mut spans = Vec::with_capacity(count);
        for index in 0..count {
            spans.push(read_span(r, &table, Location::span(trace, index))?);
        }
        chunks.push(DdChunk { spans, ..DdChunk::default() });
    }
    Ok(chunks)
}

fn read_string_table(r: &mut Reader<'_>) -> ReadResult<Vec<Str>> {
    let count = r.array_len()?;
    let mut table = Vec::with_capacity(count);
    for _ in 0..count {
        table.push(Str::new(r.str()?));
    }
    Ok(table)
}

fn read_span(r: &mut Reader<'_>, table: &[Str], at: Location) -> Result<DdSpan, DecodeError> {
    let fields = r.array_len().map_err(|e| at.read_error(e))?;
    if fields != SPAN_FIELDS {
        return Err(at.error(Problem::SpanArrayLength(fields)));
    }
    let field = |name: &'static str| move |e| at.field(name).read_error(e);
    let mut span = DdSpan {
        service: string(r, table).map_err(field("service"))?,
        name: string(r, table).map_err(field("name"))?,
        resource: string(r, table).map_err(field("resource"))?,
        trace_id: r.id().map_err(field("trace_id"))?,
        span_id: r.id().map_err(field("span_id"))?,
        parent_id: r.id().map_err(field("parent_id"))?,
        start: r.i64().map_err(field("start"))?,
        duration: r.i64().map_err(field("duration"))?,
        error: i32::from(r.flag().map_err(field("error"))?),
        ..DdSpan::default()
    };

    let count = r.map_len().map_err(field("meta"))?;
    check_attribute_list(count)?;
    span.meta = Vec::with_capacity(count);
    for _ in 0..count {
        let key = string(r, table).map_err(field("meta"))?;
        let value = string(r, table).map_err(field("meta"))?;
        span.meta.push((key, value));
    }

    let count = r.map_len().map_err(field("metrics"))?;
    check_attribute_list(count)?;
    span.metrics = Vec::with_capacity(count);
    for _ in 0..count {
        let key = string(r, table).map_err(field("metrics"))?;
        let value = r.f64().map_err(field("metrics"))?;
        span.metrics.push((key, value));
    }

    span.span_type = string(r, table).map_err(field("type"))?;
    Ok(span)
}

/// A string-table index, checked against the table.
fn string(r: &mut Reader<'_>, table: &[Str]) -> ReadResult<Str> {
    let start = r.position();
    let index = r.unsigned("a string table index")?;
    usize::try_from(index).ok().and_then(|i| table.get(i)).cloned().ok_or(ReadError {
        offset: start,
        problem: Problem::StringIndex { index, len: table.len() },
    })
}
