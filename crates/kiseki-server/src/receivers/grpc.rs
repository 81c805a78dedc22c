//! Unary gRPC methods served inside an HTTP router, with messages passed through as raw bytes.
//!
//! tonic does the gRPC framing, compression and status handling; the codecs of `kiseki-codec`
//! decode the message bytes themselves, so no generated message types are needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, UnaryService};
use tonic::{Code, Status};

use super::Endpoint;
use crate::error::{ApiError, Reason, grpc_status};

/// Passes message bytes through untouched in both directions; clients use it too (the load
/// generator sends messages its codecs encoded).
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Adapts an async closure over the message bytes to tonic's unary service.
struct Handler<F> {
    handle: Option<F>,
    called: Arc<AtomicBool>,
}

impl<F, Fut> UnaryService<Bytes> for Handler<F>
where
    F: FnOnce(Bytes) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<u8>, ApiError>> + Send + 'static,
{
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<tonic::Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        self.called.store(true, Ordering::Relaxed);
        let handle = self.handle.take();
        Box::pin(async move {
            let handle = handle.ok_or_else(|| Status::internal("unary handler called twice"))?;
            match handle(request.into_inner()).await {
                Ok(response) => Ok(tonic::Response::new(response)),
                Err(error) => Err(grpc_status(&error)),
            }
        })
    }
}

/// Serves one unary call: `handle` gets the (decompressed) request message and returns the
/// response message. Its errors must already be counted; refusals by tonic itself (oversized,
/// corrupt framing) are counted here.
pub async fn serve_unary<F, Fut>(endpoint: &Endpoint, request: Request, handle: F) -> Response
where
    F: FnOnce(Bytes) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<u8>, ApiError>> + Send + 'static,
{
    let mut grpc = Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(endpoint.context.limits.max_decompressed_bytes);
    let called = Arc::new(AtomicBool::new(false));
    let handler = Handler { handle: Some(handle), called: Arc::clone(&called) };
    let mut response = grpc.unary(handler, request).await;
    if !called.load(Ordering::Relaxed) {
        let reason = match grpc_code(&response) {
            Some(Code::OutOfRange) => {
                // tonic says OUT_OF_RANGE for a message over the size limit; gRPC's own servers
                // say RESOURCE_EXHAUSTED, and clients treat the two differently.
                let code = HeaderValue::from(Code::ResourceExhausted as i32);
                response.headers_mut().insert("grpc-status", code);
                Reason::TooLarge
            }
            Some(Code::ResourceExhausted) => Reason::TooLarge,
            Some(Code::Unimplemented) => Reason::UnsupportedMediaType,
            _ => Reason::Malformed,
        };
        endpoint.count_rejection(&ApiError::new(reason, "refused by the gRPC layer"));
    }
    response.map(Body::new)
}

fn grpc_code(response: &http::Response<tonic::body::Body>) -> Option<Code> {
    let value = response.headers().get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

/// The answer to a gRPC method this server does not have: `UNIMPLEMENTED`, as gRPC clients expect
/// rather than an HTTP 404.
pub async fn unimplemented(request: Request) -> Response {
    let message = format!("method {} is not served here", request.uri().path());
    let mut response = ().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(Code::Unimplemented as i32));
    if let Ok(value) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", value);
    }
    response
}
