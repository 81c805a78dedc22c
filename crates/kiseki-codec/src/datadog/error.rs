//! Why a Datadog payload was refused, and where in the payload the problem is.

use std::fmt;

use crate::limits::LimitError;

use super::msgpack::ReadError;

/// A payload that cannot be read. The message is meant for a 400 response body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not have the shape the endpoint defines, or a span is unusable.
    #[error("{at}: {problem}")]
    Malformed { at: Location, problem: Problem },
    /// A JSON body that does not parse; serde's message names the line and column.
    #[error("invalid json: {0}")]
    Json(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("payload ends early")]
    Truncated,
    #[error("expected {expected}, found {found}")]
    UnexpectedType { expected: &'static str, found: &'static str },
    #[error("a count of {count} entries is larger than the rest of the payload")]
    CountTooLarge { count: u64 },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("number does not fit in {0}")]
    OutOfRange(&'static str),
    #[error("trace_id is zero")]
    ZeroTraceId,
    #[error("span_id is zero")]
    ZeroSpanId,
    #[error("span has {0} elements, expected 12")]
    SpanArrayLength(usize),
    #[error("payload has {0} elements, expected 2 (string table and traces)")]
    PayloadArrayLength(usize),
    #[error("string index {index} is out of range, the string table has {len} entries")]
    StringIndex { index: u64, len: usize },
}

/// Where a problem is: the trace (chunk) and span indexes, the field, the byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    pub trace: Option<usize>,
    pub span: Option<usize>,
    pub field: Option<&'static str>,
    /// Byte offset in a msgpack body.
    pub offset: Option<usize>,
}

impl Location {
    pub(crate) fn trace(trace: usize) -> Self {
        Self { trace: Some(trace), ..Self::default() }
    }

    pub(crate) fn span(trace: usize, span: usize) -> Self {
        Self { trace: Some(trace), span: Some(span), ..Self::default() }
    }

    pub(crate) fn field(self, field: &'static str) -> Self {
        Self { field: Some(field), ..self }
    }

    /// The decode error for a reader error met at this location.
    pub(crate) fn read_error(self, error: ReadError) -> DecodeError {
        DecodeError::Malformed {
            at: Self { offset: Some(error.offset), ..self },
            problem: error.problem,
        }
    }

    pub(crate) fn error(self, problem: Problem) -> DecodeError {
        DecodeError::Malformed { at: self, problem }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::with_capacity(4);
        if let Some(trace) = self.trace {
            parts.push(format!("trace {trace}"));
        }
        if let Some(span) = self.span {
            parts.push(format!("span {span}"));
        }
        if let Some(field) = self.field {
            parts.push(format!("field {field:?}"));
        }
        if let Some(offset) = self.offset {
            parts.push(format!("byte {offset}"));
        }
        if parts.is_empty() {
            return f.write_str("payload");
        }
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let error = Location::span(1, 3)
            .field("trace_id")
            .read_error(ReadError { offset: 120, problem: Problem::OutOfRange("a 64-bit id") });
        assert_eq!(
            error.to_string(),
            "trace 1, span 3, field \"trace_id\", byte 120: number does not fit in a 64-bit id"
        );
        let error = Location::default().error(Problem::PayloadArrayLength(3));
        assert_eq!(
            error.to_string(),
            "payload: payload has 3 elements, expected 2 (string table and traces)"
        );
    }
}
