//! Receivers: one module per wire format family, each describing the listeners it needs.
//!
//! A receiver turns requests into spans with the pure codecs of `kiseki-codec` and hands them to
//! [`Ingest`]; transport concerns (ports, body limits, compression, content types, the response a
//! tracer expects) live here. [`RECEIVERS`] is the registry the server starts from.

pub mod datadog;
pub mod grpc;
pub mod jaeger;
pub mod otlp;
pub mod zipkin;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use kiseki_model::Span;

use crate::ServerConfig;
use crate::body::BodyLimits;
use crate::error::{ApiError, Rejected};
use crate::ingest::Ingest;
use crate::query::QueryState;

/// A socket a receiver wants, and what serves it.
pub enum Listener {
    /// HTTP/1.1 and HTTP/2 (cleartext, for gRPC) on one TCP port.
    Tcp { name: &'static str, addr: SocketAddr, router: Router },
    /// One datagram is one request.
    Udp { name: &'static str, addr: SocketAddr, handler: Arc<dyn DatagramHandler> },
}

/// Handles datagrams arriving on a UDP listener.
#[async_trait::async_trait]
pub trait DatagramHandler: Send + Sync + 'static {
    async fn datagram(&self, payload: &[u8]);
}

/// What every receiver gets to work with.
#[derive(Clone)]
pub struct ReceiverContext {
    pub ingest: Arc<Ingest>,
    pub limits: BodyLimits,
    /// For receivers that also answer queries, as Zipkin's does on its port.
    pub query: QueryState,
}

/// Builds a receiver's listeners from the server configuration; disabled ones are left out.
pub type ReceiverFactory = fn(&ServerConfig, &ReceiverContext) -> Vec<Listener>;

/// Every receiver kiseki has, in the order their listeners start.
pub const RECEIVERS: &[ReceiverFactory] =
    &[otlp::listeners, zipkin::listeners, jaeger::listeners, datadog::listeners];

/// One receiver endpoint's identity in metrics and its share of the context.
#[derive(Clone)]
pub struct Endpoint {
    pub receiver: &'static str,
    pub context: ReceiverContext,
}

impl Endpoint {
    pub fn new(receiver: &'static str, context: &ReceiverContext) -> Self {
        Self { receiver, context: context.clone() }
    }

    /// Stores decoded spans and counts them; fails when the store cannot take them.
    pub async fn accept(
        &self,
        format: &'static str,
        wire_bytes: usize,
        spans: Vec<Span>,
    ) -> Result<(), ApiError> {
        self.context.ingest.accept(self.receiver, format, wire_bytes, spans).await
    }

    /// Counts spans refused inside an accepted request.
    pub fn spans_rejected(&self, format: &'static str, count: u64) {
        self.context.ingest.metrics.spans_rejected(self.receiver, format, count);
    }

    /// Counts a refused request that did not go through an HTTP response (gRPC, UDP).
    pub fn count_rejection(&self, error: &ApiError) {
        self.context.ingest.metrics.rejected(self.receiver, error.reason);
        tracing::debug!(receiver = self.receiver, reason = error.reason.as_str(), message = %error.message, "request rejected");
    }
}

/// Bodies at least this large are decoded on the blocking pool, so one big request cannot hold
/// an async worker (and every connection it serves) for the time decoding takes.
pub const OFFLOAD_DECODE_BYTES: usize = 256 << 10;

/// Runs a decoder on the body, off the async workers when the body is large.
pub async fn decode_body<T, F>(body: Bytes, decode: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&[u8]) -> Result<T, ApiError> + Send + 'static,
{
    if body.len() < OFFLOAD_DECODE_BYTES {
        return decode(&body);
    }
    match tokio::task::spawn_blocking(move || decode(&body)).await {
        Ok(result) => result,
        Err(error) => {
            // Only a panic ends a decode early; decoders must not panic, so this is a bug.
            tracing::error!(%error, "decoding a request body failed unexpectedly");
            Err(ApiError::malformed("the request body could not be decoded"))
        }
    }
}

/// Finishes an HTTP receiver's router: unknown paths and methods get clear errors, and every
/// response that carries [`Rejected`] is counted under the receiver's name.
pub fn http_router(router: Router, endpoint: &Endpoint) -> Router {
    router
        .fallback(|request: Request| async move {
            ApiError::not_found(format!("{} is not an endpoint of this port", request.uri().path()))
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                crate::error::Reason::MethodNotAllowed,
                "method not allowed on this endpoint",
            )
        })
        .layer(middleware::from_fn_with_state(endpoint.clone(), count_rejected_response))
}

/// Finishes a gRPC receiver's router: unknown methods answer `UNIMPLEMENTED` and are counted.
pub fn grpc_router(router: Router, endpoint: &Endpoint) -> Router {
    let endpoint = endpoint.clone();
    router.fallback(move |request: Request| async move {
        let path = request.uri().path().to_owned();
        endpoint.count_rejection(&ApiError::not_found(format!("no gRPC method {path}")));
        grpc::unimplemented(request).await
    })
}

async fn count_rejected_response(
    State(endpoint): State<Endpoint>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(Rejected(reason)) = response.extensions().get::<Rejected>() {
        endpoint.context.ingest.metrics.rejected(endpoint.receiver, *reason);
        tracing::debug!(
            receiver = endpoint.receiver,
            reason = reason.as_str(),
            status = response.status().as_u16(),
            "request rejected"
        );
    }
    response
}
