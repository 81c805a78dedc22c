//! Datadog trace agent API on 8126: `/v0.3`–`/v0.7/traces` by PUT or POST, and `/info`.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use kiseki_codec::datadog::{self, Format, TracerHeaders};
use kiseki_model::{Span, semconv};
use serde_json::json;

use super::{Endpoint, Listener, ReceiverContext, decode_body, http_router};
use crate::ServerConfig;
use crate::body;
use crate::error::ApiError;

/// The trace endpoints, as `/info` lists them so tracers pick a version kiseki reads.
const TRACE_ENDPOINTS: [&str; 4] = ["/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/v0.7/traces"];

pub fn listeners(config: &ServerConfig, context: &ReceiverContext) -> Vec<Listener> {
    let Some(addr) = config.listen.datadog else { return Vec::new() };
    let endpoint = Endpoint::new("datadog", context);
    let router = Router::new()
        .route("/info", get(info))
        .route("/v0.3/traces", put(traces_v03).post(traces_v03))
        .route("/v0.4/traces", put(traces_v04).post(traces_v04))
        .route("/v0.5/traces", put(traces_v05).post(traces_v05))
        .route("/v0.7/traces", put(traces_v07).post(traces_v07))
        // Tracers report their own health here; answering keeps them from logging errors.
        .route("/telemetry/proxy/{*path}", post(|| async { StatusCode::ACCEPTED }))
        .with_state(endpoint.clone());
    vec![Listener::Tcp { name: "datadog", addr, router: http_router(router, &endpoint) }]
}

/// What kiseki serves. `client_drop_p0s` stays false so tracers send every trace, including the
/// ones they would sample out: statistics are computed from all of them.
async fn info() -> impl IntoResponse {
    let mut endpoints = TRACE_ENDPOINTS.to_vec();
    endpoints.extend(["/info", "/telemetry/proxy/"]);
    axum::Json(json!({
        "version": concat!("kiseki-", env!("CARGO_PKG_VERSION")),
        "endpoints": endpoints,
        "client_drop_p0s": false,
        "span_events": true,
        "span_meta_structs": false,
        "long_running_spans": false,
        "feature_flags": [],
    }))
}

async fn traces_v03(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    match receive(&endpoint, Version::V03, &headers, body).await {
        Ok(_) => "OK".into_response(),
        Err(error) => error.into_response(),
    }
}

async fn traces_v04(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    rates_response(receive(&endpoint, Version::V04, &headers, body).await)
}

async fn traces_v05(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    rates_response(receive(&endpoint, Version::V05, &headers, body).await)
}

async fn traces_v07(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    rates_response(receive(&endpoint, Version::V07, &headers, body).await)
}

#[derive(Clone, Copy)]
enum Version {
    V03,
    V04,
    V05,
    V07,
}

const MSGPACK_TYPES: &[&str] =
    &["application/msgpack", "application/x-msgpack", "application/vnd.msgpack"];
const JSON_TYPES: &[&str] = &["application/json", "text/json"];

/// Chooses the decoder from the path and `Content-Type`; returns it with its metric label.
fn format(
    version: Version,
    media_type: Option<&str>,
    body: &[u8],
) -> Result<(Format, &'static str), ApiError> {
    let is_msgpack = media_type.is_some_and(|m| MSGPACK_TYPES.contains(&m));
    let is_json = media_type.is_some_and(|m| JSON_TYPES.contains(&m));
    match version {
        Version::V03 | Version::V04 => {
            // Without a type, a JSON array starts with `[` (after whitespace); msgpack never does.
            let json = is_json
                || (media_type.is_none()
                    && body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b == b'['));
            if !(json || is_msgpack || media_type.is_none()) {
                return Err(body::unsupported_media_type(
                    media_type,
                    &["application/msgpack", "application/json"],
                ));
            }
            Ok(match (version, json) {
                (Version::V03, true) => (Format::V04Json, "datadog_v03_json"),
                (Version::V03, false) => (Format::V04Msgpack, "datadog_v03_msgpack"),
                (_, true) => (Format::V04Json, "datadog_v04_json"),
                (_, false) => (Format::V04Msgpack, "datadog_v04_msgpack"),
            })
        }
        Version::V05 | Version::V07 => {
            if !(is_msgpack || media_type.is_none()) {
                return Err(body::unsupported_media_type(media_type, &["application/msgpack"]));
            }
            Ok(match version {
                Version::V05 => (Format::V05, "datadog_v05"),
                _ => (Format::V07, "datadog_v07"),
            })
        }
    }
}

/// Decodes and stores a payload; returns the (service, env) pairs it held, for the rates reply.
async fn receive(
    endpoint: &Endpoint,
    version: Version,
    headers: &HeaderMap,
    body: Body,
) -> Result<BTreeSet<(String, String)>, ApiError> {
    let media_type = body::media_type(headers);
    let body = body::read(headers, body, endpoint.context.limits).await?;
    let (format, label) = format(version, media_type.as_deref(), &body.bytes)?;
    let tracer = tracer_headers(headers);
    let spans = decode_body(body.bytes, move |bytes| {
        datadog::decode(format, bytes, &tracer).map_err(|error| {
            let over_limit = matches!(error, datadog::DecodeError::Limit(_));
            ApiError::undecodable(error, over_limit)
        })
    })
    .await?;
    let services = services_and_envs(&spans);
    endpoint.accept(label, body.wire_len, spans).await?;
    Ok(services)
}

fn tracer_headers(headers: &HeaderMap) -> TracerHeaders {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").into();
    TracerHeaders {
        language: text("datadog-meta-lang"),
        language_version: text("datadog-meta-lang-version"),
        tracer_version: text("datadog-meta-tracer-version"),
        container_id: text("datadog-container-id"),
    }
}

fn services_and_envs(spans: &[Span]) -> BTreeSet<(String, String)> {
    spans
        .iter()
        .map(|span| {
            let env = span
                .resource
                .attributes
                .get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME)
                .unwrap_or("");
            (span.service_name().to_string(), env.to_string())
        })
        .collect()
}

/// `{"rate_by_service": {...}}`: kiseki keeps everything, so every rate is 1.
fn rates_response(result: Result<BTreeSet<(String, String)>, ApiError>) -> Response {
    let services = match result {
        Ok(services) => services,
        Err(error) => return error.into_response(),
    };
    let mut rates = serde_json::Map::new();
    rates.insert("service:,env:".into(), json!(1.0));
    for (service, env) in services {
        rates.insert(format!("service:{service},env:{env}"), json!(1.0));
    }
    axum::Json(json!({ "rate_by_service": rates })).into_response()
}
