//! The command line: every flag defined once here, which is also what `--help` prints.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kiseki",
    version,
    about = "A self-hosted APM: traces from every tracer, in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive, store and serve traces.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file; `${NAME}` in it is replaced by the environment variable.
    #[arg(long, env = "KISEKI_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address every listener binds on unless given its own [default: 0.0.0.0].
    #[arg(long, env = "KISEKI_HOST")]
    pub host: Option<IpAddr>,

    /// OTLP gRPC listener (host:port, port, or off) [default: 4317].
    #[arg(long, env = "KISEKI_OTLP_GRPC_ADDR")]
    pub otlp_grpc_addr: Option<String>,

    /// OTLP HTTP listener [default: 4318].
    #[arg(long, env = "KISEKI_OTLP_HTTP_ADDR")]
    pub otlp_http_addr: Option<String>,

    /// Zipkin listener [default: 9411].
    #[arg(long, env = "KISEKI_ZIPKIN_ADDR")]
    pub zipkin_addr: Option<String>,

    /// Jaeger UDP compact Thrift listener [default: 6831].
    #[arg(long, env = "KISEKI_JAEGER_COMPACT_ADDR")]
    pub jaeger_compact_addr: Option<String>,

    /// Jaeger UDP binary Thrift listener [default: 6832].
    #[arg(long, env = "KISEKI_JAEGER_BINARY_ADDR")]
    pub jaeger_binary_addr: Option<String>,

    /// Jaeger HTTP Thrift listener [default: 14268].
    #[arg(long, env = "KISEKI_JAEGER_HTTP_ADDR")]
    pub jaeger_http_addr: Option<String>,

    /// Jaeger gRPC listener [default: 14250].
    #[arg(long, env = "KISEKI_JAEGER_GRPC_ADDR")]
    pub jaeger_grpc_addr: Option<String>,

    /// Datadog trace agent listener [default: 8126].
    #[arg(long, env = "KISEKI_DATADOG_ADDR")]
    pub datadog_addr: Option<String>,

    /// Query APIs, UI and /metrics [default: 16686].
    #[arg(long, env = "KISEKI_QUERY_ADDR")]
    pub query_addr: Option<String>,

    /// Largest request body accepted as sent, in bytes [default: 16 MiB].
    #[arg(long, env = "KISEKI_MAX_REQUEST_BYTES")]
    pub max_request_bytes: Option<usize>,

    /// Largest request body accepted after decompression, in bytes [default: 64 MiB].
    #[arg(long, env = "KISEKI_MAX_DECOMPRESSED_BYTES")]
    pub max_decompressed_bytes: Option<usize>,

    /// Spans the in-memory store keeps before it evicts the oldest traces [default: 1000000].
    #[arg(long, env = "KISEKI_MEMORY_MAX_SPANS")]
    pub memory_max_spans: Option<usize>,

    /// Generate traffic from a simulated online shop, so there is something to look at.
    #[arg(long, env = "KISEKI_DEMO")]
    pub demo: bool,

    /// Demo traces per second [default: 5].
    #[arg(long, env = "KISEKI_DEMO_TRACES_PER_SECOND")]
    pub demo_traces_per_second: Option<f64>,
}
