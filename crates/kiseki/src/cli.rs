//! The command line: every flag defined once here, which is also what `--help` prints.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kiseki::loadgen::{Protocol, Target};

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
    Serve(Box<ServeArgs>),
    /// Send seeded, realistic traces from a simulated online shop to a server, and report what
    /// it acknowledged and refused.
    Loadgen(LoadgenArgs),
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

    /// Where spans are kept: `embedded` (on disk in --data-dir) or `memory` [default: embedded].
    #[arg(long, env = "KISEKI_STORE")]
    pub store: Option<String>,

    /// Directory of the embedded store [default: ./data].
    #[arg(long, env = "KISEKI_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Delete spans older than this, e.g. 72h, 14d, or off [default: 7d].
    #[arg(long, env = "KISEKI_RETENTION")]
    pub retention: Option<String>,

    /// Delete the oldest blocks while the store takes more disk than this, e.g. 50GiB, or off
    /// [default: off].
    #[arg(long, env = "KISEKI_RETENTION_MAX_BYTES")]
    pub retention_max_bytes: Option<String>,

    /// Spans held in memory before they are written as a block [default: 250000].
    #[arg(long, env = "KISEKI_HEAD_MAX_SPANS")]
    pub head_max_spans: Option<usize>,

    /// Spans the in-memory store keeps before it evicts the oldest traces [default: 1000000].
    #[arg(long, env = "KISEKI_MEMORY_MAX_SPANS")]
    pub memory_max_spans: Option<usize>,

    /// Widest time window one trace search may cover, e.g. 7d [default: 30d].
    #[arg(long, env = "KISEKI_QUERY_MAX_LOOKBACK")]
    pub query_max_lookback: Option<String>,

    /// Most traces one search may return [default: 1000].
    #[arg(long, env = "KISEKI_QUERY_MAX_RESULTS")]
    pub query_max_results: Option<usize>,

    /// Longest one query may run before it is answered 503, e.g. 10s [default: 30s].
    #[arg(long, env = "KISEKI_QUERY_TIMEOUT")]
    pub query_timeout: Option<String>,

    /// Generate traffic from a simulated online shop, so there is something to look at.
    #[arg(long, env = "KISEKI_DEMO")]
    pub demo: bool,

    /// Demo traces per second [default: 5].
    #[arg(long, env = "KISEKI_DEMO_TRACES_PER_SECOND")]
    pub demo_traces_per_second: Option<f64>,
}

#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// Protocol and encoding to send in.
    #[arg(long, env = "KISEKI_LOADGEN_PROTOCOL", value_enum, default_value = "otlp-http")]
    pub protocol: Protocol,

    /// Server to send to: host, host:port or address; the port defaults to the protocol's
    /// standard one (4317, 4318, 9411, 14268, 14250, 8126).
    #[arg(
        long,
        env = "KISEKI_LOADGEN_TARGET",
        value_name = "HOST[:PORT]",
        default_value = "127.0.0.1",
        value_parser = Target::parse
    )]
    pub target: Target,

    /// Spans per second to send; 0 sends as fast as the server acknowledges.
    #[arg(
        long,
        env = "KISEKI_LOADGEN_RATE",
        value_name = "SPANS_PER_SECOND",
        default_value_t = 0.0
    )]
    pub rate: f64,

    /// Stop after this long (e.g. 20s, 5m); without it or --spans, run until interrupted.
    #[arg(long, env = "KISEKI_LOADGEN_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Stop once this many spans were sent (whole traces, so up to one batch more).
    #[arg(long, env = "KISEKI_LOADGEN_SPANS")]
    pub spans: Option<u64>,

    /// Requests in flight at once.
    #[arg(long, env = "KISEKI_LOADGEN_CONCURRENCY", default_value_t = kiseki::loadgen::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,

    /// Most spans in one request; traces are never split, so a larger trace goes alone.
    #[arg(long, env = "KISEKI_LOADGEN_BATCH_SPANS", default_value_t = kiseki::loadgen::DEFAULT_BATCH_SPANS)]
    pub batch_spans: usize,

    /// Seed of the traffic: each sender sends the same traces for the same seed and concurrency
    /// (with fresh timestamps).
    #[arg(long, env = "KISEKI_LOADGEN_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Compress requests with gzip.
    #[arg(long, env = "KISEKI_LOADGEN_GZIP")]
    pub gzip: bool,

    /// How long a request may take before it counts as failed.
    #[arg(long, env = "KISEKI_LOADGEN_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,

    /// How often to print progress on stderr; 0 prints only the summary.
    #[arg(long, env = "KISEKI_LOADGEN_REPORT_EVERY", value_parser = parse_duration, default_value = "5s")]
    pub report_every: Duration,

    /// Print the summary as one JSON object on stdout, for scripts.
    #[arg(long, env = "KISEKI_LOADGEN_JSON")]
    pub json: bool,
}

/// A duration such as `20s`, `1.5s`, `500ms`, `5m` or `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3_600.0,
        _ => return Err(format!("{text:?} is not a duration like 20s, 500ms, 5m or 1h")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 20s, 500ms, 5m or 1h"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|error| format!("{text:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        for bad in ["", "s", "ten seconds", "5d", "-1s", "1e400"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn loadgen_defaults() {
        let cli = Cli::parse_from(["kiseki", "loadgen"]);
        let Command::Loadgen(args) = cli.command else { panic!("not loadgen") };
        assert_eq!(args.protocol, Protocol::OtlpHttp);
        assert_eq!(args.target.authority(args.protocol), "127.0.0.1:4318");
        assert_eq!(args.rate, 0.0);
        assert_eq!(args.duration, None);
        assert_eq!(args.report_every, Duration::from_secs(5));
        let cli = Cli::parse_from([
            "kiseki",
            "loadgen",
            "--protocol",
            "jaeger-grpc",
            "--target",
            "kiseki:1",
            "--rate",
            "1000",
            "--duration",
            "20s",
        ]);
        let Command::Loadgen(args) = cli.command else { panic!("not loadgen") };
        assert_eq!(args.protocol, Protocol::JaegerGrpc);
        assert_eq!(args.target.authority(args.protocol), "kiseki:1");
        assert_eq!(args.duration, Some(Duration::from_secs(20)));
    }
}
