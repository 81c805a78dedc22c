//! Sending over HTTP/1.1, as tracers' HTTP exporters do: OTLP/HTTP, Zipkin, Jaeger Thrift and
//! the Datadog agent API, on a pool of kept-alive connections.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::LoadgenError;
use super::answer;
use super::protocol::{Payload, Protocol};
use super::report::{Class, Outcome};

/// More of an answer than anyone needs to see; the rest is not read.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// How much of a refusal's body the detail keeps.
const DETAIL_CHARS: usize = 200;

#[derive(Clone)]
pub struct HttpSender {
    client: Client<HttpConnector, Full<Bytes>>,
    protocol: Protocol,
    uri: Uri,
    method: Method,
    content_type: HeaderValue,
}

impl HttpSender {
    pub fn new(
        protocol: Protocol,
        authority: &str,
        method: Method,
        path: &str,
        content_type: &'static str,
        connections: usize,
    ) -> Result<Self, LoadgenError> {
        let uri = format!("http://{authority}{path}")
            .parse::<Uri>()
            .map_err(|_| LoadgenError::Target(authority.to_string()))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .build(connector);
        Ok(Self {
            client,
            protocol,
            uri,
            method,
            content_type: HeaderValue::from_static(content_type),
        })
    }

    pub async fn send(&self, payload: Payload) -> Outcome {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, self.content_type.clone());
        if payload.gzipped {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if matches!(self.protocol, Protocol::Datadog | Protocol::DatadogV05) {
            request = request.header("X-Datadog-Trace-Count", payload.traces);
        }
        let request = match request.body(Full::new(Bytes::from(payload.body))) {
            Ok(request) => request,
            Err(error) => return Outcome::transport_error(error.to_string()),
        };
        let started = Instant::now();
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(error) => return Outcome::transport_error(error_chain(&error)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(answer::retry_after_header);
        // Reading the whole answer lets the connection be used again.
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await;
        let latency = started.elapsed();
        let body = body.map(|collected| collected.to_bytes()).unwrap_or_default();
        let mut outcome = self.judge(status, &body, retry_after);
        outcome.latency = latency;
        outcome
    }

    fn judge(&self, status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Outcome {
        if status.is_success() {
            let rejected = match self.protocol {
                Protocol::OtlpHttp => answer::otlp_rejected_spans_proto(body),
                Protocol::OtlpHttpJson => answer::otlp_rejected_spans_json(body),
                _ => 0,
            };
            return Outcome::acknowledged(rejected, Duration::ZERO);
        }
        let class = match status {
            StatusCode::TOO_MANY_REQUESTS => Class::Throttled,
            StatusCode::SERVICE_UNAVAILABLE => Class::Unavailable,
            status if status.is_client_error() => Class::ClientError,
            _ => Class::ServerError,
        };
        // OTLP answers a protobuf `Status`; its message is readable text among the bytes.
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .filter(|c| !c.is_control())
            .take(DETAIL_CHARS)
            .collect();
        Outcome::refused(class, format!("{status}: {}", text.trim()), retry_after)
    }
}

/// An error and its causes, which hyper keeps apart ("client error (Connect)": "connection
/// refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
