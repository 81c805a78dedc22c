//! Zipkin v2 proto3 (`POST /api/v2/spans` with `application/x-protobuf`).
//!
//! The messages follow `zipkin.proto` of openzipkin/zipkin-api (package `zipkin.proto3`). Tags are
//! declared as the repeated key/value entries a proto3 `map<string, string>` is on the wire, so
//! their order is kept. Ids are big-endian bytes (8 or 16 for the trace id), IPv4 4 bytes, IPv6
//! 16; an address of another length is ignored as Zipkin ignores it.

use std::net::{Ipv4Addr, Ipv6Addr};

use kiseki_model::{AnyValue, Span, SpanId, TraceId};
use prost::Message;

use super::encoding::{Encoding, sniff};
use super::error::{DecodeError, SpanError};
use super::from_model::from_model;
use super::to_model::to_model;
use super::values::tag_text;
use super::wire::{Annotation, Endpoint, ZipkinKind, ZipkinSpan, dedupe_tags};
use kiseki_model::Str;

/// `zipkin.proto3.ListOfSpans`.
#[derive(Clone, PartialEq, Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<ProtoSpan>,
}

/// `zipkin.proto3.Span`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// `Span.Kind`: 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER.
    #[prost(int32, tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<ProtoEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<ProtoEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<ProtoAnnotation>,
    /// `map<string, string> tags = 11`, as its entries.
    #[prost(message, repeated, tag = "11")]
    pub tags: Vec<ProtoTag>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

/// `zipkin.proto3.Endpoint`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoEndpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAnnotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One entry of the `tags` map.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoTag {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Decodes a proto3 `ListOfSpans`.
pub fn decode_v2_proto(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    if let Some(found) = sniff(body).filter(|&found| found != Encoding::V2Proto) {
        // Without this, JSON or Thrift fail deep inside the protobuf reader with a puzzling error.
        if body.first() != Some(&0x0a) {
            return Err(DecodeError::WrongEncoding { expected: Encoding::V2Proto, found });
        }
    }
    let list = ListOfSpans::decode(body)?;
    let mut wire = Vec::with_capacity(list.spans.len());
    for (index, span) in list.spans.into_iter().enumerate() {
        wire.push((index, span.into_wire().map_err(|e| e.at(index))?));
    }
    to_model(wire)
}

/// Encodes spans as a proto3 `ListOfSpans`. As for [`super::encode_v2_json`], resource
/// attributes other than `service.name` are not written (Zipkin has no place for them), and
/// attributes become text tags.
pub fn encode_v2_proto(spans: &[Span]) -> Vec<u8> {
    let list = ListOfSpans {
        spans: spans.iter().map(|span| ProtoSpan::from_wire(&from_model(span))).collect(),
    };
    list.encode_to_vec()
}

impl ProtoSpan {
    fn into_wire(self) -> Result<ZipkinSpan, SpanError> {
        let trace_id = match self.trace_id.len() {
            0 => return Err(SpanError::MissingTraceId),
            8 | 16 => TraceId::from_slice(&self.trace_id).map_err(SpanError::TraceId)?,
            n => return Err(SpanError::TraceIdLength(n)),
        };
        let id = match self.id.len() {
            0 => return Err(SpanError::MissingSpanId),
            8 => SpanId::from_slice(&self.id).map_err(SpanError::SpanId)?,
            len => return Err(SpanError::SpanIdLength { field: "span id", len }),
        };
        let mut z = ZipkinSpan::new(trace_id, id);
        let parent = match self.parent_id.len() {
            0 => None,
            8 => SpanId::from_slice(&self.parent_id).ok(),
            len => return Err(SpanError::SpanIdLength { field: "parent id", len }),
        };
        z.set_parent(parent);
        z.kind = ZipkinKind::from_number(self.kind);
        z.name = Str::from(self.name);
        z.timestamp = self.timestamp;
        z.duration = self.duration;
        z.local_endpoint = self.local_endpoint.map(ProtoEndpoint::into_wire).transpose()?.flatten();
        z.remote_endpoint =
            self.remote_endpoint.map(ProtoEndpoint::into_wire).transpose()?.flatten();
        z.annotations = self
            .annotations
            .into_iter()
            .map(|a| Annotation { timestamp: a.timestamp, value: Str::from(a.value) })
            .collect();
        z.tags = self
            .tags
            .into_iter()
            .map(|tag| (Str::from(tag.key), AnyValue::Str(Str::from(tag.value))))
            .collect();
        dedupe_tags(&mut z.tags);
        z.debug = self.debug;
        z.shared = self.shared;
        Ok(z)
    }

    fn from_wire(z: &ZipkinSpan) -> Self {
        let trace_id = if z.trace_id.high() == 0 {
            z.trace_id.low().to_be_bytes().to_vec()
        } else {
            z.trace_id.to_bytes().to_vec()
        };
        ProtoSpan {
            trace_id,
            parent_id: z.parent_id.map(|id| id.to_bytes().to_vec()).unwrap_or_default(),
            id: z.id.to_bytes().to_vec(),
            kind: z.kind.map_or(0, ZipkinKind::number),
            name: z.name.to_string(),
            timestamp: z.timestamp,
            duration: z.duration,
            local_endpoint: z.local_endpoint.as_ref().map(ProtoEndpoint::from_wire),
            remote_endpoint: z.remote_endpoint.as_ref().map(ProtoEndpoint::from_wire),
            annotations: z
                .annotations
                .iter()
                .map(|a| ProtoAnnotation { timestamp: a.timestamp, value: a.value.to_string() })
                .collect(),
            tags: z
                .tags
                .iter()
                .map(|(key, value)| ProtoTag {
                    key: key.to_string(),
                    value: match value {
                        AnyValue::Str(text) => text.to_string(),
                        other => tag_text(other),
                    },
                })
                .collect(),
            debug: z.debug,
            shared: z.shared,
        }
    }
}

impl ProtoEndpoint {
    fn into_wire(self) -> Result<Option<Endpoint>, SpanError> {
        let mut endpoint = Endpoint::default();
        endpoint.set_service_name(&self.service_name);
        if let Ok(octets) = <[u8; 4]>::try_from(self.ipv4.as_slice()) {
            endpoint.ipv4 = Some(Ipv4Addr::from(octets));
        }
        if let Ok(octets) = <[u8; 16]>::try_from(self.ipv6.as_slice()) {
            endpoint.ipv6 = Some(Ipv6Addr::from(octets));
        }
        endpoint.port = super::wire::port_from_number(i64::from(self.port))
            .map_err(SpanError::PortOutOfRange)?;
        Ok(endpoint.non_empty())
    }

    fn from_wire(endpoint: &Endpoint) -> Self {
        ProtoEndpoint {
            service_name: endpoint.service_name.as_deref().unwrap_or_default().to_string(),
            ipv4: endpoint.ipv4.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            ipv6: endpoint.ipv6.map(|ip| ip.octets().to_vec()).unwrap_or_default(),
            port: i32::from(endpoint.port),
        }
    }
}
