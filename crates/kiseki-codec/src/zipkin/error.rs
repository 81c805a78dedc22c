//! Why a Zipkin payload was refused, in words a client can act on.

use kiseki_model::IdError;

use super::encoding::Encoding;
use crate::limits::LimitError;
use crate::thrift::ThriftError;

/// A payload that could not be turned into spans. Every message can be returned in a 400 body.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid protobuf: {0}")]
    Proto(#[from] prost::DecodeError),
    #[error("invalid thrift: {0}")]
    Thrift(#[from] ThriftError),
    /// The body is another Zipkin encoding than the one the endpoint or content type asked for.
    #[error("expected {expected}, but the body is {found}{hint}", hint = found.hint_for(*expected))]
    WrongEncoding { expected: Encoding, found: Encoding },
    /// The body does not start the way any list of spans in this encoding does.
    #[error("expected {expected}, but the body does not start like one")]
    NotAList { expected: Encoding },
    #[error("{count} bytes after the end of the span list")]
    TrailingBytes { count: usize },
    #[error("span {index}: {error}")]
    Span { index: usize, error: SpanError },
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// What is wrong with one span; [`DecodeError::Span`] says which span.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpanError {
    #[error("trace id is missing")]
    MissingTraceId,
    #[error("span id is missing")]
    MissingSpanId,
    #[error("trace id is invalid: {0}")]
    TraceId(IdError),
    #[error("span id is invalid: {0}")]
    SpanId(IdError),
    #[error("parent id is invalid: {0}")]
    ParentId(IdError),
    #[error("trace id has {0} bytes, expected 8 or 16")]
    TraceIdLength(usize),
    #[error("{field} has {len} bytes, expected 8")]
    SpanIdLength { field: &'static str, len: usize },
    #[error("kind {0:?} is not CLIENT, SERVER, PRODUCER or CONSUMER")]
    UnknownKind(String),
    #[error("{field} {value} is not a time in microseconds kiseki can hold")]
    TimeOutOfRange { field: &'static str, value: i128 },
    #[error("port {0} is out of range")]
    PortOutOfRange(i64),
    #[error("annotation {0} has no timestamp")]
    AnnotationWithoutTimestamp(usize),
    #[error("annotation {0} has no value")]
    AnnotationWithoutValue(usize),
    #[error("binary annotation {0} has no key")]
    BinaryAnnotationWithoutKey(usize),
    #[error("binary annotation {key:?}: {problem}")]
    BinaryAnnotationValue { key: String, problem: String },
    #[error("tag {0:?} has no value")]
    TagWithoutValue(String),
    #[error("invalid thrift: {0}")]
    Thrift(#[from] ThriftError),
    #[error("{0}")]
    Limit(#[from] LimitError),
}

impl SpanError {
    pub(crate) fn at(self, index: usize) -> DecodeError {
        match self {
            SpanError::Limit(limit) => DecodeError::Limit(limit),
            error => DecodeError::Span { index, error },
        }
    }
}
