//! Sending unary gRPC calls (OTLP `TraceService/Export`, Jaeger `PostSpans`) over one cleartext
//! HTTP/2 connection, on which every concurrent call is a stream, as gRPC clients do.
//!
//! tonic does the framing, compression and status handling; messages are passed as the bytes
//! the encoders of `kiseki-codec` wrote, so no generated message types are needed.

use std::time::{Duration, Instant};

use http::Uri;
use http::uri::PathAndQuery;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kiseki_server::receivers::grpc::RawCodec;
use tonic::Code;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;

use super::LoadgenError;
use super::answer;
use super::protocol::{Payload, Protocol};
use super::report::{Class, Outcome};

type Channel = Client<HttpConnector, tonic::body::Body>;

#[derive(Clone)]
pub struct GrpcSender {
    grpc: Grpc<Channel>,
    protocol: Protocol,
    path: PathAndQuery,
}

impl GrpcSender {
    pub fn new(
        protocol: Protocol,
        authority: &str,
        path: &'static str,
        gzip: bool,
    ) -> Result<Self, LoadgenError> {
        let origin = format!("http://{authority}")
            .parse::<Uri>()
            .map_err(|_| LoadgenError::Target(authority.to_string()))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let channel: Channel =
            Client::builder(TokioExecutor::new()).http2_only(true).build(connector);
        let mut grpc = Grpc::with_origin(channel, origin)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_encoding_message_size(usize::MAX);
        if gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        Ok(Self { grpc, protocol, path: PathAndQuery::from_static(path) })
    }

    pub async fn send(&self, payload: Payload) -> Outcome {
        let mut grpc = self.grpc.clone();
        let started = Instant::now();
        if let Err(error) = grpc.ready().await {
            return Outcome::transport_error(super::http::error_chain(&error));
        }
        let request = tonic::Request::new(payload.body);
        let answer = grpc.unary(request, self.path.clone(), RawCodec).await;
        let latency = started.elapsed();
        let mut outcome = match answer {
            Ok(response) => {
                let rejected = match self.protocol {
                    Protocol::OtlpGrpc => answer::otlp_rejected_spans_proto(response.get_ref()),
                    _ => 0,
                };
                Outcome::acknowledged(rejected, Duration::ZERO)
            }
            Err(status) => judge(&status),
        };
        outcome.latency = latency;
        outcome
    }
}

/// A status that came from the server, or a transport failure tonic turned into one.
fn judge(status: &tonic::Status) -> Outcome {
    // tonic keeps the underlying error as the source when no server status was read.
    if std::error::Error::source(status).is_some() {
        return Outcome::transport_error(super::http::error_chain(status));
    }
    let class = match status.code() {
        Code::Ok => Class::Acknowledged,
        Code::ResourceExhausted => Class::Throttled,
        Code::Unavailable => Class::Unavailable,
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Unauthenticated => Class::ClientError,
        _ => Class::ServerError,
    };
    let retry_after = answer::grpc_retry_info(status.details());
    let detail = format!("{:?}: {}", status.code(), status.message());
    Outcome::refused(class, detail, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classed_as_http_statuses_are() {
        let class = |code| judge(&tonic::Status::new(code, "x")).class;
        assert_eq!(class(Code::ResourceExhausted), Class::Throttled);
        assert_eq!(class(Code::Unavailable), Class::Unavailable);
        assert_eq!(class(Code::InvalidArgument), Class::ClientError);
        assert_eq!(class(Code::Unimplemented), Class::ClientError);
        assert_eq!(class(Code::Internal), Class::ServerError);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let transport = tonic::Status::from_error(Box::new(io));
        assert_eq!(judge(&transport).class, Class::TransportError);
    }
}
