//! The Datadog trace agent API (port 8126): `/v0.3/traces` to `/v0.7/traces`, to and from the
//! span model.
//!
//! Every body is first read into Datadog's own types ([`DdPayload`], [`DdChunk`], [`DdSpan`]),
//! then mapped to the model as Datadog's OpenTelemetry mappings do ([`payload_to_model`]); the
//! encoders run the mapping backwards ([`model_to_dd_span`]) and derive operation, resource and
//! type for spans that did not come from Datadog the way the Datadog agent does
//! ([`datadog_operation_name`], [`datadog_resource_name`], [`datadog_span_type`]).
//!
//! | endpoint | body | function |
//! |---|---|---|
//! | `/v0.3/traces`, `/v0.4/traces` | msgpack `[[span map, ...], ...]` | [`decode_v04_msgpack`] |
//! | same, `Content-Type: application/json` | JSON of the same shape | [`decode_v04_json`] |
//! | `/v0.5/traces` | msgpack `[string table, [[12-element span array, ...], ...]]` | [`decode_v05`] |
//! | `/v0.7/traces` | msgpack `TracerPayload` map | [`decode_v07`] |
//!
//! For receivers: the agent reads a v0.3/v0.4 body as JSON when `Content-Type` is
//! `application/json`, `text/json` or missing, as msgpack for `application/msgpack`, and tries
//! JSON then msgpack for anything else. Pass `Datadog-Meta-Lang`, `Datadog-Meta-Lang-Version`,
//! `Datadog-Meta-Tracer-Version` and `Datadog-Container-ID` as [`TracerHeaders`] to [`decode`] so
//! the resource names the tracer. Tracers send native `span_events` only when `/info` lists
//! `span_events: true`; both forms are read.

mod encode;
mod error;
mod from_model;
mod meta_json;
mod msgpack;
mod naming;
mod read_json;
mod read_msgpack;
mod read_v05;
mod to_model;
mod wire;

#[cfg(test)]
mod tests;

use kiseki_model::Span;

pub use encode::{encode_v04_msgpack, encode_v05, write_v04, write_v05};
pub use error::{DecodeError, Location, Problem};
pub use from_model::{model_to_dd_chunks, model_to_dd_span};
pub use meta_json::{EVENTS_KEY, SPAN_LINKS_KEY};
pub use naming::{
    MAX_RESOURCE_LEN, datadog_operation_name, datadog_resource_name, datadog_span_type,
    kind_from_span_type,
};
pub use to_model::{DATADOG_SDK_NAME, payload_to_model, span_to_model};
pub use wire::{DdChunk, DdPayload, DdSpan, DdSpanEvent, DdSpanLink, TracerHeaders};

/// The body formats of the trace endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `/v0.3/traces` and `/v0.4/traces` with a msgpack body.
    V04Msgpack,
    /// `/v0.3/traces` and `/v0.4/traces` with a JSON body.
    V04Json,
    /// `/v0.5/traces`.
    V05,
    /// `/v0.7/traces`.
    V07,
}

/// Reads a body into Datadog's types, without mapping it.
pub fn read(format: Format, body: &[u8]) -> Result<DdPayload, DecodeError> {
    let chunks = match format {
        Format::V04Msgpack => read_msgpack::read_traces(body)?,
        Format::V04Json => read_json::read_traces(body)?,
        Format::V05 => read_v05::read_payload(body)?,
        Format::V07 => return read_msgpack::read_payload(body),
    };
    Ok(DdPayload { chunks, ..DdPayload::default() })
}

/// Decodes a body, with what the request headers say about the tracer.
pub fn decode(
    format: Format,
    body: &[u8],
    headers: &TracerHeaders,
) -> Result<Vec<Span>, DecodeError> {
    let mut payload = read(format, body)?;
    headers.fill(&mut payload);
    payload_to_model(payload)
}

/// `/v0.3/traces` with a msgpack body; the same format as v0.4.
pub fn decode_v03_msgpack(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V04Msgpack, body, &TracerHeaders::default())
}

/// `/v0.3/traces` with a JSON body; the same format as v0.4.
pub fn decode_v03_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V04Json, body, &TracerHeaders::default())
}

/// `/v0.4/traces` with a msgpack body.
pub fn decode_v04_msgpack(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V04Msgpack, body, &TracerHeaders::default())
}

/// `/v0.4/traces` with a JSON body.
pub fn decode_v04_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V04Json, body, &TracerHeaders::default())
}

/// `/v0.5/traces`.
pub fn decode_v05(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V05, body, &TracerHeaders::default())
}

/// `/v0.7/traces`.
pub fn decode_v07(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode(Format::V07, body, &TracerHeaders::default())
}
