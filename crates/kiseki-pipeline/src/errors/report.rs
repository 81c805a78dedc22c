//! What one error span says about its error, read the same way whichever format it arrived in:
//! the codecs already turn Datadog's `error`/`error.*` meta, Zipkin's `error` tag and Jaeger's
//! `error=true` tag and `error.kind` logs into the status and an `exception` event.

use kiseki_model::{AnyValue, Event, Span, SpanKind, Str, semconv};

/// Where a report's error type came from, most telling first. Lets a caller choose which errors
/// to track: Datadog's Error Tracking, for one, takes only spans with type, message and stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorSource {
    /// An `exception` event with `exception.type` (Datadog `error.type` and Jaeger `error.kind`
    /// arrive as one).
    Exception,
    /// The span's `error.type` attribute.
    ErrorTypeAttribute,
    /// The HTTP response status.
    HttpStatus,
    /// The gRPC status code.
    GrpcStatus,
    /// Only the span status: a type-like token leading its message, or nothing.
    Status,
}

/// The error one span reports.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorReport {
    pub service: Str,
    /// Where the error happened: the span name unless the caller sets a better one (a Datadog
    /// style resource such as `GET /users/{id}`).
    pub endpoint: Str,
    /// `exception.type`, else `error.type`, else `HTTP <status>` or `gRPC <code name>`, else the
    /// type-like token leading the status message, else `Error`.
    pub error_type: Str,
    /// `exception.message`, else the status message (without a leading type).
    pub message: Str,
    /// `exception.stacktrace`, empty when the tracer sent none.
    pub stacktrace: Str,
    /// `service.version`, empty when unknown.
    pub version: Str,
    /// `deployment.environment.name` (or the older `deployment.environment`), empty when unknown.
    pub environment: Str,
    pub source: ErrorSource,
    /// The span's kind: a client span's error may only echo the error of the server it called.
    pub span_kind: SpanKind,
}

/// The error type given when a span says nothing about the kind of its error.
pub const UNKNOWN_ERROR_TYPE: &str = "Error";

/// Older HTTP semantic conventions (and most Zipkin and Jaeger instrumentations).
const HTTP_STATUS_CODE_OLD: &str = "http.status_code";
const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";

impl ErrorReport {
    /// The error a span reports, or `None` when its status is not an error.
    pub fn of(span: &Span) -> Option<ErrorReport> {
        if !span.is_error() {
            return None;
        }
        let exception = span.events.iter().rev().find(|e| e.name == semconv::EXCEPTION_EVENT);
        let from_event = |key: &str| exception.and_then(|e| event_text(e, key));
        let status_message = span.status.message.trim();
        let (status_type, status_rest) = split_leading_type(status_message);

        let (error_type, source) = if let Some(t) = from_event(semconv::EXCEPTION_TYPE) {
            (Str::new(clean_type_name(t)), ErrorSource::Exception)
        } else if let Some(t) = nonempty(span.attributes.get_str(semconv::ERROR_TYPE)) {
            (Str::new(clean_type_name(t)), ErrorSource::ErrorTypeAttribute)
        } else if let Some(t) = http_status_type(span) {
            (t, ErrorSource::HttpStatus)
        } else if let Some(t) = grpc_status_type(span) {
            (t, ErrorSource::GrpcStatus)
        } else {
            let t = status_type.map_or_else(|| Str::from_static(UNKNOWN_ERROR_TYPE), Str::new);
            (t, ErrorSource::Status)
        };
        let message = match from_event(semconv::EXCEPTION_MESSAGE) {
            Some(message) => Str::new(message),
            None if source == ErrorSource::Status && status_type.is_some() => Str::new(status_rest),
            // `KeyError: 'x'` as the status of a span whose type is known as `builtins.KeyError`.
            None if status_type.is_some_and(|t| same_type(t, &error_type)) => Str::new(status_rest),
            None => Str::new(status_message),
        };
        Some(ErrorReport {
            service: Str::new(span.service_name()),
            endpoint: span.name.clone(),
            error_type,
            message,
            stacktrace: from_event(semconv::EXCEPTION_STACKTRACE).map(Str::new).unwrap_or_default(),
            version: resource_or_span(span, &[semconv::SERVICE_VERSION]),
            environment: resource_or_span(
                span,
                &[semconv::DEPLOYMENT_ENVIRONMENT_NAME, semconv::DEPLOYMENT_ENVIRONMENT],
            ),
            source,
            span_kind: span.kind,
        })
    }

    /// The same report with another endpoint name (a resource name computed by the caller).
    pub fn with_endpoint(mut self, endpoint: impl Into<Str>) -> Self {
        self.endpoint = endpoint.into();
        self
    }
}

/// Python's `builtins.KeyError` as `KeyError`; `<class 'shop.CouponExpired'>` (Python
/// jaeger-client's `error.kind`) as `shop.CouponExpired`.
fn clean_type_name(name: &str) -> &str {
    let name =
        name.strip_prefix("<class '").and_then(|rest| rest.strip_suffix("'>")).unwrap_or(name);
    name.strip_prefix("builtins.").unwrap_or(name)
}

/// Whether two spellings name one type: equal, or one the qualified form of the other.
fn same_type(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short
        || long.strip_suffix(short).is_some_and(|qualifier| qualifier.ends_with(['.', ':']))
}

fn nonempty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn event_text<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    nonempty(event.attributes.get_str(key))
}

/// The first of `keys` found on the resource, else on the span; empty when none is there.
fn resource_or_span(span: &Span, keys: &[&str]) -> Str {
    keys.iter()
        .find_map(|key| nonempty(span.resource.attributes.get_str(key)))
        .or_else(|| keys.iter().find_map(|key| nonempty(span.attributes.get_str(key))))
        .map(Str::new)
        .unwrap_or_default()
}

/// An integer attribute, also when a format carried it as text or a double (Zipkin, Jaeger).
fn integer_attribute(span: &Span, key: &str) -> Option<i64> {
    match span.attributes.get(key)? {
        AnyValue::Int(n) => Some(*n),
        AnyValue::Double(d) if d.fract() == 0.0 => Some(*d as i64),
        AnyValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `HTTP 503` for an error span that carries an HTTP status of 400 or more.
fn http_status_type(span: &Span) -> Option<Str> {
    let status = integer_attribute(span, semconv::HTTP_RESPONSE_STATUS_CODE)
        .or_else(|| integer_attribute(span, HTTP_STATUS_CODE_OLD))?;
    (400..600).contains(&status).then(|| Str::from(format!("HTTP {status}")))
}

/// `gRPC UNAVAILABLE` for an error span with a gRPC status other than OK.
fn grpc_status_type(span: &Span) -> Option<Str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    let code = integer_attribute(span, RPC_GRPC_STATUS_CODE)?;
    let name = NAMES.get(usize::try_from(code).ok()?)?;
    (code != 0).then(|| Str::from(format!("gRPC {name}")))
}

/// Splits `CouponExpired: coupon expired` into the type-like token and the rest. A type-like
/// token has no space, starts with a letter, holds only letters, digits and `._$:` (so
/// `java.lang.IllegalStateException` and `Net::SMTPServerBusy` count) and has an upper-case
/// letter or a dot; plain words (`error: …`, `failed: …`) do not count.
fn split_leading_type(message: &str) -> (Option<&str>, &str) {
    let Some(colon) = message.find(": ") else {
        return (None, message);
    };
    let token = &message[..colon];
    let type_like = token.chars().next().is_some_and(|c| c.is_alphabetic())
        && token.chars().all(|c| c.is_alphanumeric() || "._$:".contains(c))
        && token.chars().any(|c| c.is_uppercase() || c == '.');
    if type_like { (Some(token), message[colon + 2..].trim_start()) } else { (None, message) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kiseki_model::{Attributes, Resource, SpanId, Status, TraceId};

    use super::*;

    fn span(status: Status) -> Span {
        let mut span = Span::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
        );
        span.name = Str::new("POST /checkout");
        let mut resource = Resource::for_service("checkout");
        resource.attributes.push(semconv::SERVICE_VERSION, "1.4.2");
        resource.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT, "staging");
        span.resource = Arc::new(resource);
        span.status = status;
        span
    }

    fn exception(kind: &str, message: &str, stack: &str) -> Event {
        let mut attributes = Attributes::new();
        attributes.push(semconv::EXCEPTION_TYPE, kind);
        attributes.push(semconv::EXCEPTION_MESSAGE, message);
        attributes.push(semconv::EXCEPTION_STACKTRACE, stack);
        Event { name: Str::from_static(semconv::EXCEPTION_EVENT), attributes, ..Event::default() }
    }

    #[test]
    fn spans_without_error_status_report_nothing() {
        assert_eq!(ErrorReport::of(&span(Status::default())), None);
        let mut ok = span(Status { code: kiseki_model::StatusCode::Ok, message: Str::default() });
        ok.events.push(exception("KeyError", "'x'", ""));
        assert_eq!(ErrorReport::of(&ok), None);
    }

    #[test]
    fn the_last_exception_event_wins() {
        let mut s = span(Status::error("CouponExpired: coupon SPRING24 expired"));
        s.events.push(exception("First", "first", ""));
        s.events.push(exception(
            "_otel_trace.CouponExpired",
            "coupon SPRING24 expired",
            "Traceback",
        ));
        let report = ErrorReport::of(&s).unwrap();
        assert_eq!(report.error_type, "_otel_trace.CouponExpired");
        assert_eq!(report.source, ErrorSource::Exception);
        assert_eq!(report.message, "coupon SPRING24 expired");
        assert_eq!(report.stacktrace, "Traceback");
        assert_eq!(report.service, "checkout");
        assert_eq!(report.endpoint, "POST /checkout");
        assert_eq!(report.version, "1.4.2");
        assert_eq!(report.environment, "staging");
        assert_eq!(report.with_endpoint("POST /checkout/{id}").endpoint, "POST /checkout/{id}");
    }

    #[test]
    fn python_builtins_prefix_is_dropped() {
        let mut s = span(Status::error(""));
        s.events.push(exception("builtins.KeyError", "'sku-42'", ""));
        assert_eq!(ErrorReport::of(&s).unwrap().error_type, "KeyError");
    }

    #[test]
    fn a_status_message_loses_the_type_the_exception_names() {
        let mut s = span(Status::error("KeyError: 'sku-42'"));
        let mut attributes = Attributes::new();
        attributes.push(semconv::EXCEPTION_TYPE, "builtins.KeyError");
        s.events.push(Event {
            name: Str::from_static(semconv::EXCEPTION_EVENT),
            attributes,
            ..Event::default()
        });
        let report = ErrorReport::of(&s).unwrap();
        assert_eq!((report.error_type.as_str(), report.message.as_str()), ("KeyError", "'sku-42'"));

        let mut other = span(Status::error("ValueError: bad"));
        other.attributes.push(semconv::ERROR_TYPE, "KeyError");
        assert_eq!(ErrorReport::of(&other).unwrap().message, "ValueError: bad");
        assert!(same_type("_otel_trace.CouponExpired", "CouponExpired"));
        assert!(!same_type("XCouponExpired", "CouponExpired"));
    }

    #[test]
    fn python_class_repr_is_unwrapped() {
        let mut s = span(Status::error(""));
        s.events.push(exception("<class '__main__.CouponExpired'>", "coupon expired", ""));
        assert_eq!(ErrorReport::of(&s).unwrap().error_type, "__main__.CouponExpired");
    }

    #[test]
    fn error_type_attribute_then_http_then_grpc() {
        let mut s = span(Status::error("upstream failed"));
        s.attributes.push(semconv::HTTP_RESPONSE_STATUS_CODE, 503i64);
        let report = ErrorReport::of(&s).unwrap();
        assert_eq!(
            (report.error_type.as_str(), report.source),
            ("HTTP 503", ErrorSource::HttpStatus)
        );
        assert_eq!(report.message, "upstream failed");
        s.attributes.push(semconv::ERROR_TYPE, "timeout");
        let report = ErrorReport::of(&s).unwrap();
        assert_eq!(
            (report.error_type.as_str(), report.source),
            ("timeout", ErrorSource::ErrorTypeAttribute)
        );

        let mut zipkin = span(Status::error(""));
        zipkin.attributes.push(HTTP_STATUS_CODE_OLD, "502");
        assert_eq!(ErrorReport::of(&zipkin).unwrap().error_type, "HTTP 502");

        let mut grpc = span(Status::error(""));
        grpc.attributes.push(RPC_GRPC_STATUS_CODE, 14i64);
        let report = ErrorReport::of(&grpc).unwrap();
        assert_eq!(
            (report.error_type.as_str(), report.source),
            ("gRPC UNAVAILABLE", ErrorSource::GrpcStatus)
        );

        let mut jaeger = span(Status::error(""));
        jaeger.attributes.push(semconv::HTTP_RESPONSE_STATUS_CODE, 500.0);
        assert_eq!(ErrorReport::of(&jaeger).unwrap().error_type, "HTTP 500");
    }

    #[test]
    fn type_from_the_status_message() {
        let report = ErrorReport::of(&span(Status::error(
            "java.lang.IllegalStateException: cache not loaded",
        )))
        .unwrap();
        assert_eq!(report.error_type, "java.lang.IllegalStateException");
        assert_eq!(report.source, ErrorSource::Status);
        assert_eq!(report.message, "cache not loaded");
        let report =
            ErrorReport::of(&span(Status::error("Net::SMTPServerBusy: 421 busy"))).unwrap();
        assert_eq!(report.error_type, "Net::SMTPServerBusy");
        let report = ErrorReport::of(&span(Status::error("failed: disk full"))).unwrap();
        assert_eq!(report.error_type, UNKNOWN_ERROR_TYPE);
        assert_eq!(report.message, "failed: disk full");
        let report = ErrorReport::of(&span(Status::error(""))).unwrap();
        assert_eq!((report.error_type.as_str(), report.message.as_str()), (UNKNOWN_ERROR_TYPE, ""));
    }

    #[test]
    fn version_and_environment_from_span_attributes_when_the_resource_has_none() {
        let mut s = span(Status::error("x"));
        s.resource = Arc::new(Resource::for_service("cart"));
        s.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT_NAME, "prod");
        s.attributes.push(semconv::SERVICE_VERSION, "2.0.0");
        let report = ErrorReport::of(&s).unwrap();
        assert_eq!((report.version.as_str(), report.environment.as_str()), ("2.0.0", "prod"));
    }
}
