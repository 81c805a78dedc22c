//! Configuration: a TOML file with `${ENV}` interpolation, overridden by flags and environment.
//!
//! Every setting has a default, so kiseki runs with no file at all. The file is parsed into
//! [`FileConfig`] (unknown keys are refused by name), then merged with the command line into the
//! validated [`Settings`] the server starts from.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use kiseki_server::{BodyLimits, ListenConfig, QueryLimits, ServerConfig};
use kiseki_store::embedded::EmbeddedOptions;
use kiseki_store::query::MAX_SEARCH_LIMIT;
use serde::Deserialize;

use crate::cli::ServeArgs;

/// The file's shape. Every field is optional; what is missing takes its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub listen: ListenSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub query: QuerySection,
    #[serde(default)]
    pub demo: DemoSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSection {
    /// Host every listener binds on unless its own address is given.
    pub host: Option<IpAddr>,
    pub otlp_grpc: Option<String>,
    pub otlp_http: Option<String>,
    pub zipkin: Option<String>,
    pub jaeger_compact: Option<String>,
    pub jaeger_binary: Option<String>,
    pub jaeger_http: Option<String>,
    pub jaeger_grpc: Option<String>,
    pub datadog: Option<String>,
    pub query: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_request_bytes: Option<usize>,
    pub max_decompressed_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `embedded` or `memory`.
    pub kind: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// A duration such as `14d`, or `off`.
    pub retention: Option<String>,
    /// A size such as `50GiB`, or `off`.
    pub retention_max_bytes: Option<String>,
    pub head_max_spans: Option<usize>,
    /// A duration such as `2m`.
    pub head_max_age: Option<String>,
    pub memory_max_spans: Option<usize>,
}

/// Bounds on every query API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySection {
    /// The widest time window of one search, a duration such as `7d`.
    pub max_lookback: Option<String>,
    /// The most traces one search may return.
    pub max_results: Option<usize>,
    /// How long one query may run, a duration such as `10s`.
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    pub enabled: Option<bool>,
    pub traces_per_second: Option<f64>,
}

/// Everything `kiseki serve` needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub server: ServerConfig,
    pub store: StoreSettings,
    /// Traces per second of generated demo traffic; `None` when the demo is off.
    pub demo_traces_per_second: Option<f64>,
}

/// Which store keeps the spans, and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreSettings {
    Embedded(EmbeddedOptions),
    Memory { max_spans: usize },
}

pub const DEFAULT_MEMORY_MAX_SPANS: usize = 1_000_000;
pub const DEFAULT_DEMO_TRACES_PER_SECOND: f64 = 5.0;

impl FileConfig {
    /// Reads a file, replacing `${NAME}` with environment variables first.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let text = interpolate_env(&text, |name| std::env::var(name).ok())
            .with_context(|| format!("in {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Replaces `${NAME}` by the variable's value; an unset variable is an error, `$$` is a `$`.
pub fn interpolate_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(end) = tail.find('}') else { bail!("unclosed ${{ in configuration") };
            let name = &tail[..end];
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => bail!("environment variable {name} is not set"),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl Settings {
    /// Flags and environment win over the file; the file wins over defaults.
    pub fn resolve(args: &ServeArgs, file: FileConfig) -> anyhow::Result<Self> {
        let host = args.host.or(file.listen.host).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let standard = ListenConfig::standard(host);
        let pick = |name: &str,
                    flag: &Option<String>,
                    from_file: Option<String>,
                    default: Option<SocketAddr>| {
            match flag.clone().or(from_file) {
                Some(text) => parse_listen_addr(name, &text, host),
                None => Ok(default),
            }
        };
        let listen = ListenConfig {
            otlp_grpc: pick(
                "otlp_grpc",
                &args.otlp_grpc_addr,
                file.listen.otlp_grpc,
                standard.otlp_grpc,
            )?,
            otlp_http: pick(
                "otlp_http",
                &args.otlp_http_addr,
                file.listen.otlp_http,
                standard.otlp_http,
            )?,
            zipkin: pick("zipkin", &args.zipkin_addr, file.listen.zipkin, standard.zipkin)?,
            jaeger_compact: pick(
                "jaeger_compact",
                &args.jaeger_compact_addr,
                file.listen.jaeger_compact,
                standard.jaeger_compact,
            )?,
            jaeger_binary: pick(
                "jaeger_binary",
                &args.jaeger_binary_addr,
                file.listen.jaeger_binary,
                standard.jaeger_binary,
            )?,
            jaeger_http: pick(
                "jaeger_http",
                &args.jaeger_http_addr,
                file.listen.jaeger_http,
                standard.jaeger_http,
            )?,
            jaeger_grpc: pick(
                "jaeger_grpc",
                &args.jaeger_grpc_addr,
                file.listen.jaeger_grpc,
                standard.jaeger_grpc,
            )?,
            datadog: pick("datadog", &args.datadog_addr, file.listen.datadog, standard.datadog)?,
            query: pick("query", &args.query_addr, file.listen.query, standard.query)?,
        };
        let defaults = BodyLimits::default();
        let limits = BodyLimits {
            max_request_bytes: args
                .max_request_bytes
                .or(file.limits.max_request_bytes)
                .unwrap_or(defaults.max_request_bytes),
            max_decompressed_bytes: args
                .max_decompressed_bytes
                .or(file.limits.max_decompressed_bytes)
                .unwrap_or(defaults.max_decompressed_bytes),
        };
        if limits.max_request_bytes == 0 || limits.max_decompressed_bytes == 0 {
            bail!("request size limits must be at least 1 byte");
        }
        let store = resolve_store(args, file.store)?;
        let query = resolve_query_limits(args, file.query)?;
        let demo = args.demo || file.demo.enabled.unwrap_or(false);
        let rate = args
            .demo_traces_per_second
            .or(file.demo.traces_per_second)
            .unwrap_or(DEFAULT_DEMO_TRACES_PER_SECOND);
        if demo && !(rate > 0.0 && rate.is_finite()) {
            bail!("demo traces_per_second must be a positive number, not {rate}");
        }
        if demo && listen.otlp_http.is_none() && listen.otlp_grpc.is_none() {
            // Demo traffic takes a tracer's path in through an OTLP listener.
            bail!("the demo sends over OTLP: turn on otlp_http or otlp_grpc, or the demo off");
        }
        Ok(Settings {
            server: ServerConfig { listen, limits, query },
            store,
            demo_traces_per_second: demo.then_some(rate),
        })
    }
}

fn resolve_store(args: &ServeArgs, file: StoreSection) -> anyhow::Result<StoreSettings> {
    let kind = args.store.clone().or(file.kind).unwrap_or_else(|| "embedded".into());
    match kind.as_str() {
        "memory" => {
            let max_spans =
                args.memory_max_spans.or(file.memory_max_spans).unwrap_or(DEFAULT_MEMORY_MAX_SPANS);
            if max_spans == 0 {
                bail!("memory_max_spans must be at least 1");
            }
            Ok(StoreSettings::Memory { max_spans })
        }
        "embedded" => {
            let dir = args.data_dir.clone().or(file.data_dir);
            let mut options = EmbeddedOptions::new(
                dir.unwrap_or_else(|| PathBuf::from(EmbeddedOptions::DEFAULT_DIR)),
            );
            if let Some(text) = args.retention.as_deref().or(file.retention.as_deref()) {
                options.retention_max_age = parse_duration(text)
                    .context("retention must be a duration like 14d, or off")?;
            }
            if let Some(text) =
                args.retention_max_bytes.as_deref().or(file.retention_max_bytes.as_deref())
            {
                options.retention_max_bytes = parse_bytes(text)
                    .context("retention_max_bytes must be a size like 50GiB, or off")?;
            }
            if let Some(spans) = args.head_max_spans.or(file.head_max_spans) {
                if spans == 0 {
                    bail!("head_max_spans must be at least 1");
                }
                options.head_max_spans = spans;
            }
            if let Some(text) = file.head_max_age.as_deref() {
                options.head_max_age = parse_duration(text)
                    .context("head_max_age must be a duration like 2m")?
                    .context("head_max_age cannot be off")?;
            }
            Ok(StoreSettings::Embedded(options))
        }
        other => bail!("store must be embedded or memory, not {other:?}"),
    }
}

fn resolve_query_limits(args: &ServeArgs, file: QuerySection) -> anyhow::Result<QueryLimits> {
    let defaults = QueryLimits::default();
    let duration = |name: &str, text: Option<&str>, default: Duration| match text {
        None => Ok(default),
        Some(text) => parse_duration(text)
            .and_then(|d| d.context("cannot be off"))
            .with_context(|| format!("query {name} must be a duration like 30s, 1h or 7d")),
    };
    let max_lookback = duration(
        "max_lookback",
        args.query_max_lookback.as_deref().or(file.max_lookback.as_deref()),
        defaults.max_lookback,
    )?;
    let timeout = duration(
        "timeout",
        args.query_timeout.as_deref().or(file.timeout.as_deref()),
        defaults.timeout,
    )?;
    let max_results = args.query_max_results.or(file.max_results).unwrap_or(defaults.max_results);
    if !(1..=MAX_SEARCH_LIMIT).contains(&max_results) {
        bail!("query max_results must be between 1 and {MAX_SEARCH_LIMIT}, not {max_results}");
    }
    Ok(QueryLimits {
        max_lookback,
        max_results,
        default_results: defaults.default_results.min(max_results),
        timeout,
    })
}

/// `90s`, `15m`, `72h`, `14d` (a bare number is seconds), or `off` for none.
fn parse_duration(text: &str) -> anyhow::Result<Option<Duration>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("{text:?} is not a duration"))?;
    let seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => bail!("unknown duration unit {other:?} (use s, m, h, d or w)"),
    };
    let seconds = number.checked_mul(seconds).context("duration is too long")?;
    if seconds == 0 {
        bail!("a duration must be more than zero; use off for none");
    }
    Ok(Some(Duration::from_secs(seconds)))
}

/// `123`, `500MB`, `50GiB`, `2TB` (decimal and binary units), or `off` for none.
fn parse_bytes(text: &str) -> anyhow::Result<Option<u64>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("{text:?} is not a size"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => bail!("unknown size unit {other:?}"),
    };
    let bytes = number.checked_mul(multiplier).context("size is too large")?;
    if bytes == 0 {
        bail!("a size must be more than zero; use off for none");
    }
    Ok(Some(bytes))
}

/// `host:port`, a bare `port` (on the listen host), or `off`.
fn parse_listen_addr(name: &str, text: &str, host: IpAddr) -> anyhow::Result<Option<SocketAddr>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok(Some(SocketAddr::new(host, port)));
    }
    text.parse::<SocketAddr>().map(Some).with_context(|| {
        format!("listen address for {name} must be host:port, a port or off, not {text:?}")
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut all = vec!["kiseki", "serve"];
        all.extend_from_slice(args);
        let Command::Serve(args) = Cli::parse_from(all).command else { panic!("not serve") };
        *args
    }

    #[test]
    fn defaults_are_the_standard_ports() {
        let settings = Settings::resolve(&serve_args(&[]), FileConfig::default()).unwrap();
        assert_eq!(settings.server.listen, ListenConfig::standard(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(settings.demo_traces_per_second, None);
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: FileConfig = toml::from_str(
            "[listen]\nhost = \"127.0.0.1\"\nzipkin = \"off\"\notlp_http = \"5318\"\n[limits]\nmax_request_bytes = 10\n",
        )
        .unwrap();
        let args = serve_args(&["--max-request-bytes", "20", "--otlp-grpc-addr", "127.0.0.2:1234"]);
        let settings = Settings::resolve(&args, file).unwrap();
        let listen = &settings.server.listen;
        assert_eq!(listen.zipkin, None);
        assert_eq!(listen.otlp_http, Some("127.0.0.1:5318".parse().unwrap()));
        assert_eq!(listen.otlp_grpc, Some("127.0.0.2:1234".parse().unwrap()));
        assert_eq!(listen.query, Some("127.0.0.1:16686".parse().unwrap()));
        assert_eq!(settings.server.limits.max_request_bytes, 20);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let error = toml::from_str::<FileConfig>("[listen]\nzipkn = \"off\"\n").unwrap_err();
        assert!(error.to_string().contains("zipkn"), "{error}");
        let args = serve_args(&["--zipkin-addr", "nowhere"]);
        let error = Settings::resolve(&args, FileConfig::default()).unwrap_err();
        assert!(format!("{error:#}").contains("zipkin"), "{error:#}");
    }

    #[test]
    fn the_demo_needs_an_otlp_listener() {
        let both_off = ["--demo", "--otlp-http-addr", "off", "--otlp-grpc-addr", "off"];
        let error = Settings::resolve(&serve_args(&both_off), FileConfig::default()).unwrap_err();
        assert!(error.to_string().contains("otlp"), "{error}");
        let grpc_only = ["--demo", "--otlp-http-addr", "off"];
        let settings = Settings::resolve(&serve_args(&grpc_only), FileConfig::default()).unwrap();
        assert_eq!(settings.demo_traces_per_second, Some(DEFAULT_DEMO_TRACES_PER_SECOND));
    }

    #[test]
    fn the_embedded_store_is_the_default_and_its_settings_resolve() {
        let settings = Settings::resolve(&serve_args(&[]), FileConfig::default()).unwrap();
        assert_eq!(settings.store, StoreSettings::Embedded(EmbeddedOptions::default()));
        let file: FileConfig = toml::from_str(
            "[store]\ndata_dir = \"/var/lib/kiseki\"\nretention = \"14d\"\nhead_max_age = \"30s\"\n",
        )
        .unwrap();
        let args = serve_args(&["--retention-max-bytes", "50GiB", "--head-max-spans", "1000"]);
        let StoreSettings::Embedded(options) = Settings::resolve(&args, file).unwrap().store else {
            panic!("embedded store expected");
        };
        assert_eq!(options.dir, PathBuf::from("/var/lib/kiseki"));
        assert_eq!(options.retention_max_age, Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(options.retention_max_bytes, Some(50 << 30));
        assert_eq!(options.head_max_spans, 1000);
        assert_eq!(options.head_max_age, Duration::from_secs(30));
        let args = serve_args(&["--data-dir", "/tmp/x", "--retention", "off"]);
        let StoreSettings::Embedded(options) =
            Settings::resolve(&args, FileConfig::default()).unwrap().store
        else {
            panic!("embedded store expected");
        };
        assert_eq!(options.dir, PathBuf::from("/tmp/x"));
        assert_eq!(options.retention_max_age, None);
        let args = serve_args(&["--store", "memory", "--memory-max-spans", "10"]);
        let settings = Settings::resolve(&args, FileConfig::default()).unwrap();
        assert_eq!(settings.store, StoreSettings::Memory { max_spans: 10 });
        for bad in
            [&["--store", "disk"][..], &["--retention", "3 fortnights"], &["--retention", "0d"]]
        {
            assert!(Settings::resolve(&serve_args(bad), FileConfig::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_limits_resolve_and_are_validated() {
        let settings = Settings::resolve(&serve_args(&[]), FileConfig::default()).unwrap();
        assert_eq!(settings.server.query, QueryLimits::default());
        let file: FileConfig =
            toml::from_str("[query]\nmax_lookback = \"7d\"\nmax_results = 500\ntimeout = \"1m\"\n")
                .unwrap();
        let args = serve_args(&["--query-max-results", "10", "--query-timeout", "5s"]);
        let query = Settings::resolve(&args, file).unwrap().server.query;
        assert_eq!(query.max_lookback, Duration::from_secs(7 * 86_400));
        assert_eq!(query.max_results, 10, "the flag wins over the file");
        assert_eq!(query.default_results, 10, "the default never exceeds the maximum");
        assert_eq!(query.timeout, Duration::from_secs(5));
        let cases: [(&[&str], &str); 5] = [
            (&["--query-max-results", "0"], "max_results"),
            (&["--query-max-results", "10001"], "max_results"),
            (&["--query-max-lookback", "off"], "max_lookback"),
            (&["--query-max-lookback", "soon"], "max_lookback"),
            (&["--query-timeout", "0s"], "timeout"),
        ];
        for (args, named) in cases {
            let error = Settings::resolve(&serve_args(args), FileConfig::default()).unwrap_err();
            assert!(format!("{error:#}").contains(named), "{args:?}: {error:#}");
        }
        let error = toml::from_str::<FileConfig>("[query]\nmax_lookbak = \"1d\"\n").unwrap_err();
        assert!(error.to_string().contains("max_lookbak"), "{error}");
    }

    #[test]
    fn environment_is_interpolated() {
        let lookup = |name: &str| (name == "PORT").then(|| "9999".to_string());
        assert_eq!(
            interpolate_env("a = \"${PORT}\" $$x $y", lookup).unwrap(),
            "a = \"9999\" $x $y"
        );
        assert!(interpolate_env("${MISSING}", lookup).is_err());
        assert!(interpolate_env("${PORT", lookup).is_err());
    }
}
