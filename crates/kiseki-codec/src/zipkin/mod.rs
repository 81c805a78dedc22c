//! Zipkin: v1 JSON and Thrift, v2 JSON and proto3 → the span model, and the model → v2 JSON and
//! proto3 for Zipkin's query API.
//!
//! Every decoder reads a whole request body (after any gzip) and returns its spans, or an error
//! whose message can go back to the client in a 400. An empty body is an empty list.
//!
//! v1 spans are converted with the semantics of Zipkin's own `V1SpanConverter`: `cs`/`cr` make a
//! CLIENT span, `sr`/`ss` a SERVER, `ms` a PRODUCER, `mr` a CONSUMER, but only when the annotation
//! carries an endpoint; a span holding both the client and the server side becomes two spans with
//! the same id, the server one marked `zipkin.shared`; `sa`/`ca`/`ma` give the remote endpoint.
//! Typed binary annotations keep their type.
//!
//! v2 spans are mapped as the OpenTelemetry Collector's Zipkin receiver does: the local service is
//! the resource's `service.name` (one shared resource per service in a request), endpoint
//! addresses become `network.local.*` / `network.peer.*` and `peer.service`, tags become string
//! attributes except the ones that carry status (`otel.status_code`, `otel.status_description`,
//! `error`), scope (`otel.scope.*`, `otel.library.*`), trace state (`w3c.tracestate`), links
//! (`otlp.link.N`) and, without a Zipkin kind, `span.kind`; annotations become events in any of
//! the three forms tracers write (`{"name": {attrs}}`, `name|{attrs}|dropped`, a bare name);
//! `shared` and `debug` become `zipkin.shared` / `zipkin.debug`. Span names and service names are
//! kept as sent, although Zipkin itself lower-cases them.
//!
//! For receivers: Zipkin's collector answers `202 Accepted` with an empty body, and refuses a body
//! of the other API version with `400`. [`Encoding::for_request`] maps path and content type to an
//! encoding; [`check_encoding`] and [`sniff`] apply Zipkin's byte-level rules to tell encodings
//! apart; the decoders also refuse the other version's fields themselves
//! ([`DecodeError::WrongEncoding`]).

mod annotation;
mod encoding;
mod error;
mod from_model;
mod to_model;
mod v1;
mod v1_json;
mod v1_thrift;
mod v2_json;
mod v2_proto;
mod values;
mod wire;

#[cfg(test)]
mod tests;

pub use encoding::{ApiVersion, Encoding, check_encoding, sniff};
pub use error::{DecodeError, SpanError};
pub use v1_json::decode_v1_json;
pub use v1_thrift::decode_v1_thrift;
pub use v2_json::{decode_v2_json, encode_v2_json};
pub use v2_proto::{
    ListOfSpans, ProtoAnnotation, ProtoEndpoint, ProtoSpan, ProtoTag, decode_v2_proto,
    encode_v2_proto,
};

use kiseki_model::Span;

/// Decodes a body in the given encoding.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    match encoding {
        Encoding::V1Json => decode_v1_json(body),
        Encoding::V1Thrift => decode_v1_thrift(body),
        Encoding::V2Json => decode_v2_json(body),
        Encoding::V2Proto => decode_v2_proto(body),
    }
}
