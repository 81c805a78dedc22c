//! Zipkin collector on 9411: `POST /api/v1/spans` (JSON, Thrift) and `/api/v2/spans` (JSON, proto3).
//!
//! As on a Zipkin server, the port also answers Zipkin's query API (`GET /api/v2/...`, see
//! `query::compat`): `GET /api/v2/spans` lists span names where `POST` collects spans.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kiseki_codec::zipkin::{self, ApiVersion, Encoding};

use super::{Endpoint, Listener, ReceiverContext, decode_body, http_router};
use crate::ServerConfig;
use crate::body;
use crate::error::ApiError;

pub fn listeners(config: &ServerConfig, context: &ReceiverContext) -> Vec<Listener> {
    let Some(addr) = config.listen.zipkin else { return Vec::new() };
    let endpoint = Endpoint::new("zipkin", context);
    let router = Router::new()
        .route("/api/v1/spans", post(spans_v1))
        .route("/api/v2/spans", post(spans_v2))
        .with_state(endpoint.clone())
        .merge(crate::query::compat::zipkin_routes(&context.query));
    vec![Listener::Tcp { name: "zipkin", addr, router: http_router(router, &endpoint) }]
}

async fn spans_v1(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    respond(receive(&endpoint, ApiVersion::V1, &headers, body).await)
}

async fn spans_v2(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    respond(receive(&endpoint, ApiVersion::V2, &headers, body).await)
}

fn respond(result: Result<(), ApiError>) -> Response {
    match result {
        // Zipkin answers an accepted POST with 202 and no body.
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Media types Zipkin's collector reads as JSON; it treats a missing type as JSON too.
const JSON_TYPES: &[&str] = &["application/json", "text/json", "text/plain"];

fn encoding(version: ApiVersion, media_type: Option<&str>) -> Result<Encoding, ApiError> {
    let binary = match (version, media_type) {
        (_, None) => None,
        (_, Some(media)) if JSON_TYPES.contains(&media) => None,
        (ApiVersion::V1, Some("application/x-thrift" | "application/vnd.apache.thrift.binary")) => {
            Some(Encoding::V1Thrift)
        }
        (ApiVersion::V2, Some("application/x-protobuf" | "application/protobuf")) => {
            Some(Encoding::V2Proto)
        }
        (ApiVersion::V1, other) => {
            return Err(body::unsupported_media_type(
                other,
                &["application/json", "application/x-thrift"],
            ));
        }
        (ApiVersion::V2, other) => {
            return Err(body::unsupported_media_type(
                other,
                &["application/json", "application/x-protobuf"],
            ));
        }
    };
    Ok(binary.unwrap_or(match version {
        ApiVersion::V1 => Encoding::V1Json,
        ApiVersion::V2 => Encoding::V2Json,
    }))
}

fn format(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::V1Json => "zipkin_v1_json",
        Encoding::V1Thrift => "zipkin_v1_thrift",
        Encoding::V2Json => "zipkin_v2_json",
        Encoding::V2Proto => "zipkin_v2_proto",
    }
}

async fn receive(
    endpoint: &Endpoint,
    version: ApiVersion,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), ApiError> {
    let encoding = encoding(version, body::media_type(headers).as_deref())?;
    let body = body::read(headers, body, endpoint.context.limits).await?;
    let spans = decode_body(body.bytes, move |bytes| {
        zipkin::decode(encoding, bytes).map_err(|error| {
            let over_limit = matches!(error, zipkin::DecodeError::Limit(_));
            ApiError::undecodable(error, over_limit)
        })
    })
    .await?;
    endpoint.accept(format(encoding), body.wire_len, spans).await
}
