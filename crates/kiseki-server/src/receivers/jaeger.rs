//! Jaeger: UDP `emitBatch` on 6831 (compact Thrift) and 6832 (binary Thrift), HTTP
//! `POST /api/traces` on 14268 (Thrift), and gRPC `CollectorService/PostSpans` on 14250.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use kiseki_codec::jaeger::{self, ThriftProtocol};
use kiseki_model::Span;

use super::{
    DatagramHandler, Endpoint, Listener, ReceiverContext, decode_body, grpc, grpc_router,
    http_router,
};
use crate::ServerConfig;
use crate::body;
use crate::error::ApiError;

const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

pub fn listeners(config: &ServerConfig, context: &ReceiverContext) -> Vec<Listener> {
    let mut listeners = Vec::new();
    let udp = [
        ("jaeger_compact", config.listen.jaeger_compact, UdpProtocol::Compact),
        ("jaeger_binary", config.listen.jaeger_binary, UdpProtocol::Binary),
    ];
    for (name, addr, protocol) in udp {
        if let Some(addr) = addr {
            let handler =
                Arc::new(UdpReceiver { endpoint: Endpoint::new(name, context), protocol });
            listeners.push(Listener::Udp { name, addr, handler });
        }
    }
    if let Some(addr) = config.listen.jaeger_http {
        let endpoint = Endpoint::new("jaeger_http", context);
        let router =
            Router::new().route("/api/traces", post(traces_http)).with_state(endpoint.clone());
        listeners.push(Listener::Tcp {
            name: "jaeger_http",
            addr,
            router: http_router(router, &endpoint),
        });
    }
    if let Some(addr) = config.listen.jaeger_grpc {
        let endpoint = Endpoint::new("jaeger_grpc", context);
        let router =
            Router::new().route(POST_SPANS_PATH, post(post_spans)).with_state(endpoint.clone());
        listeners.push(Listener::Tcp {
            name: "jaeger_grpc",
            addr,
            router: grpc_router(router, &endpoint),
        });
    }
    listeners
}

fn decode_error(error: jaeger::DecodeError) -> ApiError {
    let over_limit = error.is_limit();
    ApiError::undecodable(error, over_limit)
}

#[derive(Clone, Copy)]
enum UdpProtocol {
    Compact,
    Binary,
}

/// A Jaeger agent port: each datagram is one `emitBatch` call, which has no reply.
struct UdpReceiver {
    endpoint: Endpoint,
    protocol: UdpProtocol,
}

#[async_trait::async_trait]
impl DatagramHandler for UdpReceiver {
    async fn datagram(&self, payload: &[u8]) {
        let (decoded, format) = match self.protocol {
            UdpProtocol::Compact => (jaeger::decode_udp_compact(payload), "jaeger_thrift_compact"),
            UdpProtocol::Binary => (jaeger::decode_udp_binary(payload), "jaeger_thrift_binary"),
        };
        let result = match decoded {
            Ok(spans) => self.endpoint.accept(format, payload.len(), spans).await,
            Err(error) => Err(decode_error(error)),
        };
        if let Err(error) = result {
            self.endpoint.count_rejection(&error);
        }
    }
}

const THRIFT_TYPES: &[&str] = &["application/x-thrift", "application/vnd.apache.thrift.binary"];
const COMPACT_TYPE: &str = "application/vnd.apache.thrift.compact";

async fn traces_http(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Body) -> Response {
    match receive_http(&endpoint, &headers, body).await {
        // Jaeger's collector answers an accepted batch with 202 and no body.
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn receive_http(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), ApiError> {
    let protocol = match body::media_type(headers).as_deref() {
        None => None,
        Some(media) if THRIFT_TYPES.contains(&media) => Some(ThriftProtocol::Binary),
        Some(COMPACT_TYPE) => Some(ThriftProtocol::Compact),
        Some(other) => {
            let mut supported = THRIFT_TYPES.to_vec();
            supported.push(COMPACT_TYPE);
            return Err(body::unsupported_media_type(Some(other), &supported));
        }
    };
    let body = body::read(headers, body, endpoint.context.limits).await?;
    // Without a content type, the first bytes tell the two Thrift protocols apart.
    let protocol = protocol
        .or_else(|| jaeger::sniff_thrift_batch_protocol(&body.bytes))
        .unwrap_or(ThriftProtocol::Binary);
    let spans: Vec<Span> = decode_body(body.bytes, move |bytes| {
        jaeger::decode_thrift_batch(bytes, protocol).map_err(decode_error)
    })
    .await?;
    let format = match protocol {
        ThriftProtocol::Binary => "jaeger_thrift_binary",
        ThriftProtocol::Compact => "jaeger_thrift_compact",
    };
    endpoint.accept(format, body.wire_len, spans).await
}

async fn post_spans(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let handler_endpoint = endpoint.clone();
    grpc::serve_unary(&endpoint, request, move |message: Bytes| async move {
        let wire_len = message.len();
        let decoded = decode_body(message, |bytes| {
            jaeger::decode_proto_post_spans(bytes).map_err(decode_error)
        })
        .await;
        let result = match decoded {
            Ok(spans) => handler_endpoint.accept("jaeger_proto", wire_len, spans).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => Ok(jaeger::post_spans_response()),
            Err(error) => {
                handler_endpoint.count_rejection(&error);
                Err(error)
            }
        }
    })
    .await
}
