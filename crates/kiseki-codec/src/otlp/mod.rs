//! OTLP traces: `ExportTraceServiceRequest` in protobuf and JSON, and the export response.
//!
//! Decoding is lenient where senders differ (JSON ids in either case, 64-bit integers as strings
//! or numbers, enums as numbers or names) and strict where data would be lost (ids, UTF-8,
//! limits). Spans that cannot be used are rejected one by one and reported through
//! [`DecodedTraces`], which the receiver turns into OTLP's `partial_success`.

mod json;
mod proto_decode;
mod proto_encode;
pub mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use kiseki_model::{IdError, Resource, Scope, Span, Str};

pub use json::{
    decode_traces_json, encode_error_status_json, encode_response_json, encode_traces_json,
};
pub use proto_decode::decode_traces_proto;
pub use proto_encode::{encode_error_status_proto, encode_response_proto, encode_traces_proto};

use crate::limits::LimitError;

/// A request that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    #[error("invalid OTLP JSON: {0}")]
    Json(String),
}

/// Why one span was rejected while the rest of its request was accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("span {1:?}: trace id: {0}")]
    TraceId(IdError, Str),
    #[error("span {1:?}: span id: {0}")]
    SpanId(IdError, Str),
    #[error("span {1:?}: parent span id: {0}")]
    ParentSpanId(IdError, Str),
    #[error("link trace id: {0}")]
    LinkTraceId(IdError),
    #[error("link span id: {0}")]
    LinkSpanId(IdError),
    #[error("string in protobuf field {field} is not valid UTF-8")]
    InvalidUtf8 { field: u32 },
    #[error("invalid value: {0}")]
    InvalidValue(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// The spans of one export request, and how many were rejected and why.
#[derive(Debug, Default)]
pub struct DecodedTraces {
    pub spans: Vec<Span>,
    pub rejected_spans: u64,
    /// The first rejection, as an example for the client; the rest are only counted.
    pub first_rejection: Option<SpanError>,
}

impl DecodedTraces {
    fn reject(&mut self, error: SpanError) {
        self.rejected_spans += 1;
        if self.first_rejection.is_none() {
            self.first_rejection = Some(error);
        }
    }

    /// Whether the first rejection was a limit, rather than bad data.
    pub fn rejected_for_limit(&self) -> bool {
        matches!(self.first_rejection, Some(SpanError::Limit(_)))
    }

    /// The message for `partial_success.error_message`.
    pub fn rejection_message(&self) -> String {
        match &self.first_rejection {
            Some(error) if self.rejected_spans > 1 => {
                format!("{} spans rejected, the first because {error}", self.rejected_spans)
            }
            Some(error) => format!("1 span rejected because {error}"),
            None => String::new(),
        }
    }
}

/// Spans grouped as OTLP nests them: by resource, then by scope, in order of first appearance.
type Grouped<'a> = Vec<(&'a Arc<Resource>, Vec<(&'a Arc<Scope>, Vec<&'a Span>)>)>;

fn group_spans(spans: &[Span]) -> Grouped<'_> {
    let mut groups: Grouped<'_> = Vec::new();
    for span in spans {
        let index = match groups.iter().position(|(r, _)| Arc::ptr_eq(r, &span.resource)) {
            Some(index) => index,
            None => {
                groups.push((&span.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let resource_group = &mut groups[index].1;
        match resource_group.iter().position(|(s, _)| Arc::ptr_eq(s, &span.scope)) {
            Some(index) => resource_group[index].1.push(span),
            None => resource_group.push((&span.scope, vec![span])),
        }
    }
    groups
}
