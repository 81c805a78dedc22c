//! Why a Jaeger payload was refused, in words a client can act on.

use crate::limits::LimitError;
use crate::thrift::{FieldType, ThriftError};

/// A Jaeger payload that could not be read. Messages say what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Thrift(#[from] ThriftError),
    #[error("malformed protobuf at byte {at}: {problem}")]
    Protobuf { at: usize, problem: &'static str },
    #[error("thrift list in field {field} holds {found}, expected {expected}")]
    ListElement { field: i16, found: FieldType, expected: FieldType },
    #[error("thrift message {0:?} is not supported: the jaeger agent ports accept only emitBatch")]
    UnknownMessage(String),
    #[error(
        "thrift message emitZipkinBatch is not supported: send zipkin spans to the zipkin port 9411"
    )]
    ZipkinBatch,
    #[error("thrift message type {0} is not a call or a oneway call")]
    MessageType(u8),
    #[error("emitBatch arguments carry no batch (field 1)")]
    MissingBatch,
    #[error("trace id is zero")]
    ZeroTraceId,
    #[error("span id is zero")]
    ZeroSpanId,
    #[error("trace id has {0} bytes, expected 8 or 16")]
    TraceIdLength(usize),
    #[error("span id has {0} bytes, expected 8")]
    SpanIdLength(usize),
    #[error("reference {index}: {cause}")]
    Reference { index: usize, cause: Box<DecodeError> },
    #[error("{what} is out of range (negative or after the year 2554)")]
    TimeOutOfRange { what: &'static str },
    #[error("tag {key:?} has unknown value type {value_type}")]
    UnknownTagType { key: String, value_type: i32 },
    #[error("span {index}: {cause}")]
    Span { index: usize, cause: Box<DecodeError> },
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl DecodeError {
    /// Whether the payload was refused for breaking a limit (rather than for being malformed),
    /// however deep in a span or reference the limit was hit.
    pub fn is_limit(&self) -> bool {
        match self {
            DecodeError::Limit(_) => true,
            DecodeError::Span { cause, .. } | DecodeError::Reference { cause, .. } => {
                cause.is_limit()
            }
            _ => false,
        }
    }

    /// Places an error inside the span at `index` of the batch.
    pub(crate) fn in_span(self, index: usize) -> Self {
        DecodeError::Span { index, cause: Box::new(self) }
    }

    pub(crate) fn in_reference(self, index: usize) -> Self {
        DecodeError::Reference { index, cause: Box::new(self) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_say_where() {
        let error = DecodeError::ZeroSpanId.in_reference(1).in_span(3);
        assert_eq!(error.to_string(), "span 3: reference 1: span id is zero");
        let error = DecodeError::UnknownTagType { key: "x".into(), value_type: 9 }.in_span(0);
        assert_eq!(error.to_string(), "span 0: tag \"x\" has unknown value type 9");
    }
}
