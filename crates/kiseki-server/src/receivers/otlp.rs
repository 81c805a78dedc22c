//! OTLP traces: gRPC `TraceService/Export` (4317) and HTTP `POST /v1/traces` (4318).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use kiseki_codec::otlp::{self, DecodedTraces};

use super::{Endpoint, Listener, ReceiverContext, decode_body, grpc, grpc_router, http_router};
use crate::ServerConfig;
use crate::body;
use crate::error::{ApiError, Reason};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

pub fn listeners(config: &ServerConfig, context: &ReceiverContext) -> Vec<Listener> {
    let mut listeners = Vec::new();
    if let Some(addr) = config.listen.otlp_grpc {
        let endpoint = Endpoint::new("otlp_grpc", context);
        let router =
            Router::new().route(EXPORT_PATH, post(export_grpc)).with_state(endpoint.clone());
        listeners.push(Listener::Tcp {
            name: "otlp_grpc",
            addr,
            router: grpc_router(router, &endpoint),
        });
    }
    if let Some(addr) = config.listen.otlp_http {
        let endpoint = Endpoint::new("otlp_http", context);
        let router =
            Router::new().route("/v1/traces", post(export_http)).with_state(endpoint.clone());
        listeners.push(Listener::Tcp {
            name: "otlp_http",
            addr,
            router: http_router(router, &endpoint),
        });
    }
    listeners
}

/// The two encodings OTLP/HTTP allows; the response uses the request's.
#[derive(Clone, Copy)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn format(self) -> &'static str {
        match self {
            Encoding::Protobuf => "otlp_proto",
            Encoding::Json => "otlp_json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }

    async fn decode(self, body: Bytes) -> Result<DecodedTraces, ApiError> {
        decode_body(body, move |body| {
            let decoded = match self {
                Encoding::Protobuf => otlp::decode_traces_proto(body),
                Encoding::Json => otlp::decode_traces_json(body),
            };
            decoded.map_err(|error| ApiError::malformed(error.to_string()))
        })
        .await
    }
}

async fn export_http(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    let media_type = body::media_type(&headers);
    let encoding = match media_type.as_deref() {
        Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => return body::unsupported_media_type(other, &[PROTOBUF, JSON]).into_response(),
    };
    match export(&endpoint, encoding, &headers, body).await {
        Ok(response) => response,
        Err(error) => error_response(encoding, error),
    }
}

async fn export(
    endpoint: &Endpoint,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = body::read(headers, body, endpoint.context.limits).await?;
    let (rejected, message) = accept(endpoint, encoding, body.wire_len, body.bytes).await?;
    let response_body = match encoding {
        Encoding::Protobuf => otlp::encode_response_proto(rejected, &message),
        Encoding::Json => otlp::encode_response_json(rejected, &message),
    };
    let mut response = (StatusCode::OK, response_body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    Ok(response)
}

/// Decodes and stores a request; returns how many spans were refused and why.
async fn accept(
    endpoint: &Endpoint,
    encoding: Encoding,
    wire_len: usize,
    body: Bytes,
) -> Result<(u64, String), ApiError> {
    let decoded = encoding.decode(body).await?;
    let message = decoded.rejection_message();
    if decoded.spans.is_empty() && decoded.rejected_spans > 0 {
        // Nothing usable: refuse the request, so a client that ignores partial success notices.
        let reason =
            if decoded.rejected_for_limit() { Reason::LimitExceeded } else { Reason::Malformed };
        return Err(ApiError::new(reason, message));
    }
    endpoint.accept(encoding.format(), wire_len, decoded.spans).await?;
    endpoint.spans_rejected(encoding.format(), decoded.rejected_spans);
    Ok((decoded.rejected_spans, message))
}

/// An OTLP/HTTP error: a `google.rpc.Status` in the request's encoding.
fn error_response(encoding: Encoding, error: ApiError) -> Response {
    let code = crate::error::grpc_status(&error).code() as i32;
    let body = match encoding {
        Encoding::Protobuf => otlp::encode_error_status_proto(code, &error.message),
        Encoding::Json => otlp::encode_error_status_json(code, &error.message),
    };
    error.into_response_with_body(encoding.content_type(), body)
}

async fn export_grpc(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let handler_endpoint = endpoint.clone();
    grpc::serve_unary(&endpoint, request, move |message: Bytes| async move {
        let result = accept(&handler_endpoint, Encoding::Protobuf, message.len(), message).await;
        match result {
            Ok((rejected, message)) => Ok(otlp::encode_response_proto(rejected, &message)),
            Err(error) => {
                handler_endpoint.count_rejection(&error);
                Err(error)
            }
        }
    })
    .await
}
