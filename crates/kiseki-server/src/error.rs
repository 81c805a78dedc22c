//! The one error type of kiseki's HTTP APIs, and how each maps to a status code and a metric.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiseki_store::StoreError;

/// Why a request was refused, as counted in `kiseki_receiver_requests_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The payload could not be decoded.
    Malformed,
    /// The payload decoded but broke a limit on its shape (attribute count, nesting).
    LimitExceeded,
    /// The body (or its decompressed form) is larger than allowed.
    TooLarge,
    UnsupportedMediaType,
    /// A parameter of the request is invalid.
    BadRequest,
    NotFound,
    MethodNotAllowed,
    /// The store is behind; retry later.
    Overloaded,
    /// The store cannot take data now.
    Unavailable,
    /// The store failed in a way retrying will not fix.
    Internal,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::LimitExceeded => "limit_exceeded",
            Reason::TooLarge => "too_large",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::BadRequest => "bad_request",
            Reason::NotFound => "not_found",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::Overloaded => "overloaded",
            Reason::Unavailable => "unavailable",
            Reason::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Reason::Malformed | Reason::LimitExceeded | Reason::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            Reason::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::NotFound => StatusCode::NOT_FOUND,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            Reason::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether a client should send the same request again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, Reason::Overloaded | Reason::Unavailable)
    }
}

/// Seconds a client should wait before retrying an overloaded or unavailable store.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// A refused request: the status code follows from the reason; the message tells the client what
/// was wrong, in lowercase without a trailing period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
}

/// Put into a response's extensions so the receiver's metrics layer can count the rejection.
#[derive(Debug, Clone, Copy)]
pub struct Rejected(pub Reason);

impl ApiError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(Reason::Malformed, message)
    }

    /// A payload a codec could not decode: over a limit, or malformed.
    pub fn undecodable(error: impl std::fmt::Display, over_limit: bool) -> Self {
        let reason = if over_limit { Reason::LimitExceeded } else { Reason::Malformed };
        Self::new(reason, error.to_string())
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Reason::NotFound, message)
    }

    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// The response with a body the caller chose (e.g. OTLP's `Status` message), marked
    /// [`Rejected`] so a receiver's metrics layer counts it.
    pub fn into_response_with_body(self, content_type: &'static str, body: Vec<u8>) -> Response {
        let reason = self.reason;
        let mut response = self.query_response(content_type, body);
        response.extensions_mut().insert(Rejected(reason));
        response
    }

    /// The response with a body the caller chose, not marked [`Rejected`]: a query API's
    /// refusal, which is counted by its status, never as a refused ingest request.
    pub fn query_response(self, content_type: &'static str, body: Vec<u8>) -> Response {
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if self.reason.is_retryable() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = format!("{}\n", self.message).into_bytes();
        self.into_response_with_body("text/plain; charset=utf-8", body)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Overloaded => ApiError::new(Reason::Overloaded, error.to_string()),
            StoreError::Unavailable(_) => ApiError::new(Reason::Unavailable, error.to_string()),
            StoreError::Failed(_) => ApiError::new(Reason::Internal, error.to_string()),
        }
    }
}

impl From<kiseki_codec::LimitError> for ApiError {
    fn from(error: kiseki_codec::LimitError) -> Self {
        ApiError::new(Reason::LimitExceeded, error.to_string())
    }
}

/// The gRPC status for a refused request.
pub fn grpc_status(error: &ApiError) -> tonic::Status {
    let code = match error.reason {
        Reason::Malformed | Reason::LimitExceeded | Reason::BadRequest => {
            tonic::Code::InvalidArgument
        }
        Reason::TooLarge | Reason::Overloaded => tonic::Code::ResourceExhausted,
        Reason::Unavailable => tonic::Code::Unavailable,
        Reason::Internal => tonic::Code::Internal,
        Reason::UnsupportedMediaType | Reason::NotFound | Reason::MethodNotAllowed => {
            tonic::Code::Unimplemented
        }
    };
    tonic::Status::new(code, error.message.clone())
}
