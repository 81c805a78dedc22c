//! Zipkin v2 JSON (`POST /api/v2/spans`, and the Zipkin query API's responses).
//!
//! Reading is lenient where tracers differ and Zipkin itself is: ids of 1 to 32 hex digits in
//! either case, `null` for any optional field, an all-zero or empty `parentId` for a root, kinds
//! in any case, timestamps written as floats, tags whose values are JSON numbers or booleans
//! (kept with their type). Writing follows Zipkin's own writer: lowercase hex ids (16 digits for
//! 64-bit trace ids), integer microseconds, and no field that is empty, zero or false.

use kiseki_model::{AnyValue, Span, SpanId, Str, TraceId};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use super::encoding::Encoding;
use super::error::{DecodeError, SpanError};
use super::from_model::from_model;
use super::to_model::to_model;
use super::values::{JsonStr, JsonValue, tag_text};
use super::wire::{Annotation, Endpoint, ZipkinKind, ZipkinSpan, dedupe_tags, port_from_number};
use kiseki_model::IdError;

/// Decodes a JSON array of Zipkin v2 spans. An empty body is an empty list, as Zipkin accepts it.
pub fn decode_v2_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let spans: Vec<JsonSpan> = serde_json::from_slice(body)?;
    if spans.iter().any(|span| span.binary_annotations.is_some()) {
        return Err(DecodeError::WrongEncoding {
            expected: Encoding::V2Json,
            found: Encoding::V1Json,
        });
    }
    let mut wire = Vec::with_capacity(spans.len());
    for (index, span) in spans.into_iter().enumerate() {
        wire.push((index, span.into_wire().map_err(|e| e.at(index))?));
    }
    to_model(wire)
}

/// Encodes spans as a Zipkin v2 JSON array, as Zipkin's API returns them.
///
/// Zipkin has no place for resource attributes other than `service.name` (the local endpoint's
/// service name), so they are not written. Also lost: attribute types (tags are text: numbers and
/// booleans as literals, bytes in base64, arrays and maps as JSON), trace flags, the dropped
/// counts of span attributes, events and links, and time below a microsecond. Status, scope,
/// trace state, links, INTERNAL kind and event attributes travel in tags and annotations, the way
/// OpenTelemetry's Zipkin exporters write them, and are read back by [`decode_v2_json`].
pub fn encode_v2_json(spans: &[Span]) -> Vec<u8> {
    let wire: Vec<ZipkinSpan> = spans.iter().map(from_model).collect();
    serde_json::to_vec(&SpanListOut(&wire)).unwrap_or_default()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: Option<JsonStr>,
    id: Option<JsonStr>,
    parent_id: Option<JsonStr>,
    kind: Option<JsonStr>,
    name: Option<JsonStr>,
    timestamp: Option<Micros>,
    duration: Option<Micros>,
    local_endpoint: Option<JsonEndpoint>,
    remote_endpoint: Option<JsonEndpoint>,
    annotations: Option<Vec<JsonAnnotation>>,
    tags: Option<JsonTags>,
    debug: Option<bool>,
    shared: Option<bool>,
    /// Only v1 has it: its presence means a v1 list was posted as v2.
    binary_annotations: Option<IgnoredAny>,
}

impl JsonSpan {
    fn into_wire(self) -> Result<ZipkinSpan, SpanError> {
        let (trace_id, id) = read_ids(self.trace_id, self.id)?;
        let mut z = ZipkinSpan::new(trace_id, id);
        z.set_parent(read_parent_id(self.parent_id)?);
        z.kind = match self.kind {
            Some(JsonStr(kind)) => Some(
                ZipkinKind::from_name(&kind.to_ascii_uppercase())
                    .ok_or_else(|| SpanError::UnknownKind(kind.to_string()))?,
            ),
            None => None,
        };
        z.name = self.name.map(|JsonStr(name)| name).unwrap_or_default();
        z.timestamp = self.timestamp.map_or(0, Micros::or_zero);
        z.duration = self.duration.map_or(0, Micros::or_zero);
        z.local_endpoint = self.local_endpoint.map(JsonEndpoint::into_wire).transpose()?.flatten();
        z.remote_endpoint =
            self.remote_endpoint.map(JsonEndpoint::into_wire).transpose()?.flatten();
        for (i, annotation) in self.annotations.unwrap_or_default().into_iter().enumerate() {
            let timestamp = annotation.timestamp.ok_or(SpanError::AnnotationWithoutTimestamp(i))?;
            let JsonStr(value) = annotation.value.ok_or(SpanError::AnnotationWithoutValue(i))?;
            z.annotations.push(Annotation { timestamp: timestamp.or_zero(), value });
        }
        if let Some(JsonTags(mut tags)) = self.tags {
            if let Some((key, _)) = tags.iter().find(|(_, value)| *value == AnyValue::Empty) {
                return Err(SpanError::TagWithoutValue(key.to_string()));
            }
            dedupe_tags(&mut tags);
            z.tags = tags;
        }
        z.debug = self.debug == Some(true);
        z.shared = self.shared == Some(true);
        Ok(z)
    }
}

/// Trace and span id from hex text, both required.
pub(crate) fn read_ids(
    trace_id: Option<JsonStr>,
    id: Option<JsonStr>,
) -> Result<(TraceId, SpanId), SpanError> {
    let JsonStr(trace_id) = trace_id.ok_or(SpanError::MissingTraceId)?;
    let JsonStr(id) = id.ok_or(SpanError::MissingSpanId)?;
    let trace_id = TraceId::from_hex(&trace_id).map_err(SpanError::TraceId)?;
    let id = SpanId::from_hex(&id).map_err(SpanError::SpanId)?;
    Ok((trace_id, id))
}

/// A parent id; absent, empty and all-zero all mean "root", as Zipkin reads them.
pub(crate) fn read_parent_id(parent_id: Option<JsonStr>) -> Result<Option<SpanId>, SpanError> {
    match parent_id {
        None => Ok(None),
        Some(JsonStr(text)) if text.is_empty() => Ok(None),
        Some(JsonStr(text)) => match SpanId::from_hex(&text) {
            Ok(id) => Ok(Some(id)),
            Err(IdError::Zero) => Ok(None),
            Err(e) => Err(SpanError::ParentId(e)),
        },
    }
}

#[derive(serde::Deserialize)]
struct JsonAnnotation {
    timestamp: Option<Micros>,
    value: Option<JsonStr>,
}

/// An endpoint in either JSON version.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JsonEndpoint {
    service_name: Option<JsonStr>,
    ipv4: Option<JsonStr>,
    ipv6: Option<JsonStr>,
    port: Option<i64>,
}

impl JsonEndpoint {
    /// `None` for an endpoint without any usable field.
    pub(crate) fn into_wire(self) -> Result<Option<Endpoint>, SpanError> {
        let mut endpoint = Endpoint::default();
        if let Some(JsonStr(name)) = &self.service_name {
            endpoint.set_service_name(name);
        }
        for JsonStr(ip) in [&self.ipv4, &self.ipv6].into_iter().flatten() {
            endpoint.set_ip_text(ip);
        }
        if let Some(port) = self.port {
            endpoint.port = port_from_number(port).map_err(SpanError::PortOutOfRange)?;
        }
        Ok(endpoint.non_empty())
    }
}

/// A time or duration in microseconds as JSON has it: an integer, or a float from tracers that
/// compute it in floating point (truncated). Zipkin reads negative values as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Micros(pub i64);

impl Micros {
    pub(crate) fn or_zero(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MicrosVisitor;
        impl Visitor<'_> for MicrosVisitor {
            type Value = Micros;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("microseconds as a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Micros, E> {
                Ok(Micros(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Micros, E> {
                i64::try_from(v).map(Micros).map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Micros, E> {
                // `as` saturates; the range check keeps that from passing silently.
                if v.is_finite() && v.abs() < 9.2e18 {
                    Ok(Micros(v as i64))
                } else {
                    Err(E::custom(format!("{v} is out of range")))
                }
            }
        }
        deserializer.deserialize_any(MicrosVisitor)
    }
}

/// The `tags` object, in order; `null` values are kept as `Empty` for the caller to refuse.
struct JsonTags(Vec<(Str, AnyValue)>);

impl<'de> Deserialize<'de> for JsonTags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = JsonTags;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<JsonTags, A::Error> {
                let mut tags = Vec::new();
                while let Some((JsonStr(key), JsonValue(value))) = map.next_entry()? {
                    tags.push((key, value));
                }
                Ok(JsonTags(tags))
            }
        }
        deserializer.deserialize_map(TagsVisitor)
    }
}

/// Writes a trace id as Zipkin does: 16 hex digits when the high half is zero, else 32.
pub(crate) fn trace_id_hex(trace_id: TraceId) -> String {
    if trace_id.high() == 0 { format!("{:016x}", trace_id.low()) } else { trace_id.to_string() }
}

struct SpanListOut<'a>(&'a [ZipkinSpan]);

impl Serialize for SpanListOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for span in self.0 {
            seq.serialize_element(&SpanOut(span))?;
        }
        seq.end()
    }
}

/// One span, fields in the order Zipkin writes them, empty ones left out.
struct SpanOut<'a>(&'a ZipkinSpan);

impl Serialize for SpanOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let z = self.0;
        let mut out = serializer.serialize_struct("Span", 13)?;
        out.serialize_field("traceId", &trace_id_hex(z.trace_id))?;
        if let Some(parent) = z.parent_id {
            out.serialize_field("parentId", &parent.to_string())?;
        }
        out.serialize_field("id", &z.id.to_string())?;
        if let Some(kind) = z.kind {
            out.serialize_field("kind", kind.as_str())?;
        }
        if !z.name.is_empty() {
            out.serialize_field("name", z.name.as_str())?;
        }
        if z.timestamp != 0 {
            out.serialize_field("timestamp", &z.timestamp)?;
        }
        if z.duration != 0 {
            out.serialize_field("duration", &z.duration)?;
        }
        if let Some(local) = &z.local_endpoint {
            out.serialize_field("localEndpoint", &EndpointOut(local))?;
        }
        if let Some(remote) = &z.remote_endpoint {
            out.serialize_field("remoteEndpoint", &EndpointOut(remote))?;
        }
        if !z.annotations.is_empty() {
            out.serialize_field("annotations", &AnnotationsOut(&z.annotations))?;
        }
        if !z.tags.is_empty() {
            out.serialize_field("tags", &TagsOut(&z.tags))?;
        }
        if z.debug {
            out.serialize_field("debug", &true)?;
        }
        if z.shared {
            out.serialize_field("shared", &true)?;
        }
        out.end()
    }
}

pub(crate) struct EndpointOut<'a>(pub &'a Endpoint);

impl Serialize for EndpointOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut out = serializer.serialize_struct("Endpoint", 4)?;
        if let Some(name) = &e.service_name {
            out.serialize_field("serviceName", name.as_str())?;
        }
        if let Some(ip) = e.ipv4 {
            out.serialize_field("ipv4", &ip.to_string())?;
        }
        if let Some(ip) = e.ipv6 {
            out.serialize_field("ipv6", &ip.to_string())?;
        }
        if e.port != 0 {
            out.serialize_field("port", &e.port)?;
        }
        out.end()
    }
}

struct AnnotationsOut<'a>(&'a [Annotation]);

impl Serialize for AnnotationsOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for annotation in self.0 {
            seq.serialize_element(&AnnotationOut(annotation))?;
        }
        seq.end()
    }
}

struct AnnotationOut<'a>(&'a Annotation);

impl Serialize for AnnotationOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Annotation", 2)?;
        out.serialize_field("timestamp", &self.0.timestamp)?;
        out.serialize_field("value", self.0.value.as_str())?;
        out.end()
    }
}

/// Tags in order, every value as text.
struct TagsOut<'a>(&'a [(Str, AnyValue)]);

impl Serialize for TagsOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            match value {
                AnyValue::Str(text) => map.serialize_entry(key.as_str(), text.as_str())?,
                other => map.serialize_entry(key.as_str(), &tag_text(other))?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kiseki_model::{Event, KeyValue, Resource, Scope, SpanKind, Status, semconv};

    use super::*;

    fn span() -> Span {
        let mut span = Span::new(TraceId::new(0x1d).unwrap(), SpanId::new(0xff).unwrap());
        span.parent_span_id = SpanId::new(0xee);
        span.name = Str::new("GET /users/{id}");
        span.kind = SpanKind::Server;
        span.start_time_unix_nano = 1_700_000_000_123_456_000;
        span.end_time_unix_nano = 1_700_000_000_123_999_999;
        let mut resource = Resource::for_service("users");
        resource.attributes.push("host.name", "box-1");
        span.resource = Arc::new(resource);
        span.scope =
            Arc::new(Scope { name: "lib".into(), version: "1.0".into(), ..Scope::default() });
        span.attributes.push("http.route", "/users/{id}");
        span.attributes.push("http.response.status_code", 500i64);
        span.attributes.push(semconv::NETWORK_LOCAL_ADDRESS, "10.0.0.1");
        span.attributes.push(semconv::NETWORK_LOCAL_PORT, 8080i64);
        span.attributes.push(semconv::PEER_SERVICE, "db");
        span.attributes.push(semconv::NETWORK_PEER_ADDRESS, "2001:db8::1");
        span.attributes.push(semconv::ZIPKIN_SHARED, true);
        span.status = Status::error("boom");
        span.events.push(Event {
            time_unix_nano: 1_700_000_000_123_500_000,
            name: "retry".into(),
            attributes: [KeyValue::new("attempt", 2i64)].into_iter().collect(),
            dropped_attributes_count: 0,
        });
        span.events.push(Event {
            time_unix_nano: 1_700_000_000_123_600_000,
            name: "done".into(),
            ..Event::default()
        });
        span
    }

    /// The exact shape of Zipkin's own writer: field order, lowercase fixed-width hex,
    /// microseconds, and nothing empty.
    #[test]
    fn writes_zipkins_v2_json() {
        let json = String::from_utf8(encode_v2_json(&[span()])).unwrap();
        let expected = concat!(
            r#"[{"traceId":"000000000000001d","parentId":"00000000000000ee","id":"00000000000000ff","#,
            r#""kind":"SERVER","name":"GET /users/{id}","timestamp":1700000000123456,"duration":543,"#,
            r#""localEndpoint":{"serviceName":"users","ipv4":"10.0.0.1","port":8080},"#,
            r#""remoteEndpoint":{"serviceName":"db","ipv6":"2001:db8::1"},"#,
            r#""annotations":[{"timestamp":1700000000123500,"value":"{\"retry\":{\"attempt\":2}}"},"#,
            r#"{"timestamp":1700000000123600,"value":"done"}],"#,
            r#""tags":{"http.route":"/users/{id}","http.response.status_code":"500","#,
            r#""otel.status_code":"ERROR","error":"boom","otel.scope.name":"lib","otel.scope.version":"1.0"},"#,
            r#""shared":true}]"#
        );
        assert_eq!(json, expected);
        let minimal = Span::new(TraceId::from_halves(1, 2).unwrap(), SpanId::new(3).unwrap());
        assert_eq!(
            String::from_utf8(encode_v2_json(&[minimal])).unwrap(),
            r#"[{"traceId":"00000000000000010000000000000002","id":"0000000000000003"}]"#
        );
        assert_eq!(encode_v2_json(&[]), b"[]");
    }

    #[test]
    fn what_zipkin_cannot_carry_is_dropped_or_turned_to_text() {
        let mut s = span();
        s.kind = SpanKind::Internal;
        s.end_time_unix_nano = s.start_time_unix_nano + 1;
        s.attributes.push("bytes", AnyValue::Bytes(vec![1, 2]));
        let back = decode_v2_json(&encode_v2_json(&[s])).unwrap().remove(0);
        assert_eq!(back.kind, SpanKind::Internal);
        // A span shorter than a microsecond lasts one, not "unknown".
        assert_eq!(back.duration_nanos(), 1000);
        assert_eq!(back.resource.attributes.len(), 1, "only service.name is written");
        assert_eq!(back.attributes.get_str("http.response.status_code"), Some("500"));
        assert_eq!(back.attributes.get_str("bytes"), Some("AQI="));
        assert_eq!(back.status, Status::error("boom"));
    }

    #[test]
    fn status_messages_that_read_as_booleans_survive() {
        for message in ["", "true", "FALSE", "false"] {
            let mut s = span();
            s.status = Status::error(message);
            let back = decode_v2_json(&encode_v2_json(&[s])).unwrap().remove(0);
            assert_eq!(back.status, Status::error(message), "{message:?}");
        }
        let mut s = span();
        s.status = Status { code: kiseki_model::StatusCode::Ok, message: "fine".into() };
        let back = decode_v2_json(&encode_v2_json(&[s.clone()])).unwrap().remove(0);
        assert_eq!(back.status, s.status);
    }
}
