//! Demo traffic: the load generator run inside the server at a gentle rate, sending the seeded
//! online shop to the server's own OTLP listener on loopback, so a newcomer sees live traces at
//! once and the demo's spans take the path a tracer's take.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use kiseki::loadgen::{self, Class, Config, Outcome, Pace, Protocol, Running, Target};
use kiseki_model::Span;
use kiseki_server::Server;

/// How often the log shows the address of a fresh demo trace.
const SHOW_TRACE_EVERY: Duration = Duration::from_secs(60);
/// How often at most the log says that demo requests are refused.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Starts sending `traces_per_second` traces, one per request, to the first OTLP listener the
/// server has (HTTP, else gRPC); logs where to read a demo trace now and then.
pub fn start(server: &Server, traces_per_second: f64) -> anyhow::Result<Running> {
    let (protocol, addr) = [Protocol::OtlpHttp, Protocol::OtlpGrpc]
        .into_iter()
        .find_map(|protocol| server.addr(protocol.listener()).map(|addr| (protocol, addr)))
        .context("the demo sends over OTLP, but the OTLP listeners are off")?;
    let mut config = Config::new(protocol, Target::from(addr));
    config.pace = Pace::TracesPerSecond(traces_per_second);
    // One trace per request, so each shows up as soon as it has ended.
    config.batch_spans = 1;
    config.concurrency = 2;
    config.seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs());
    let target = config.target.authority(protocol);
    let log = Arc::new(DemoLog::new(server.addr("query")));
    let running = loadgen::start(
        config,
        Some(Arc::new(move |outcome: &Outcome, spans: &[Span]| log.response(outcome, spans))),
    )?;
    tracing::info!(traces_per_second, protocol = protocol.as_str(), %target, "demo traffic on");
    Ok(running)
}

/// What the demo writes to the log, at a pace a person can read.
struct DemoLog {
    query: Option<SocketAddr>,
    state: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    trace_shown: Option<Instant>,
    warned: Option<Instant>,
    refused_since_warning: u64,
}

impl DemoLog {
    fn new(query: Option<SocketAddr>) -> Self {
        Self { query, state: Mutex::new(LogState::default()) }
    }

    fn response(&self, outcome: &Outcome, spans: &[Span]) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if outcome.class != Class::Acknowledged {
            state.refused_since_warning += 1;
            if state.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                tracing::warn!(
                    refused = state.refused_since_warning,
                    class = outcome.class.as_str(),
                    detail = %outcome.detail,
                    "demo traffic was refused"
                );
                state.warned = Some(Instant::now());
                state.refused_since_warning = 0;
            }
            return;
        }
        let (Some(query), Some(span)) = (self.query, spans.first()) else { return };
        if state.trace_shown.is_none_or(|at| at.elapsed() >= SHOW_TRACE_EVERY) {
            let port = query.port();
            let url = format!("http://localhost:{port}/trace/{}", span.trace_id);
            tracing::info!(%url, "demo trace");
            state.trace_shown = Some(Instant::now());
        }
    }
}
