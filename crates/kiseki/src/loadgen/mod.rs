//! The load generator: seeded, realistic traffic from the shop of `kiseki-testkit`, sent over
//! any protocol kiseki receives, at a fixed rate or as fast as the server acknowledges, counting
//! what was acknowledged and what was refused.
//!
//! `kiseki loadgen` drives it from the command line and `kiseki serve --demo` inside the server;
//! tests and benchmarks call [`start`]. Each of `concurrency` senders builds a batch of whole
//! traces, stamps it with the wall clock, encodes it, sends it and waits for the answer, so at
//! most `concurrency` requests are in flight. Refused batches are not sent again: they are
//! counted, and after a 429 or 503 every sender waits as long as the server asked.

mod answer;
mod batch;
mod grpc;
mod http;
mod pace;
mod protocol;
mod report;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiseki_model::Span;
use kiseki_testkit::Generator;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use batch::{Batch, BatchSource, end_at};
pub use pace::{Backoff, MAX_CATCH_UP, Pacer};
pub use protocol::{Payload, Protocol, Target, Transport};
pub use report::{Class, Counts, Histogram, Outcome, Report, Tally, process_cpu_time};

/// Spans per request unless told otherwise: the OpenTelemetry SDK's largest export batch.
pub const DEFAULT_BATCH_SPANS: usize = 512;
/// Requests in flight unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// How long a request may take unless told otherwise: the OpenTelemetry exporters' default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long senders wait after a refusal or failure that did not say how long.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the server acknowledges, with `concurrency` requests in flight.
    Max,
    SpansPerSecond(f64),
    TracesPerSecond(f64),
}

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub protocol: Protocol,
    pub target: Target,
    pub pace: Pace,
    /// Stop after this long; with no limit at all, run until [`Running::stop`].
    pub duration: Option<Duration>,
    /// Stop once this many spans were sent; whole traces, so up to one batch more.
    pub spans: Option<u64>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Most spans in one request; a trace is never split, so one larger trace goes alone.
    pub batch_spans: usize,
    /// Seed of the traffic: sender `i` sends the same traces for the same seed, whatever the
    /// timing (timestamps are fresh).
    pub seed: u64,
    /// Compress requests with gzip.
    pub gzip: bool,
    /// How long a request may take before it counts as a transport error.
    pub timeout: Duration,
}

impl Config {
    /// As fast as possible, until stopped, with the defaults above.
    pub fn new(protocol: Protocol, target: Target) -> Self {
        Self {
            protocol,
            target,
            pace: Pace::Max,
            duration: None,
            spans: None,
            concurrency: DEFAULT_CONCURRENCY,
            batch_spans: DEFAULT_BATCH_SPANS,
            seed: 1,
            gzip: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn validate(&self) -> Result<(), LoadgenError> {
        let invalid = |message: &str| Err(LoadgenError::Config(message.to_string()));
        if self.concurrency == 0 {
            return invalid("concurrency must be at least 1");
        }
        if self.batch_spans == 0 {
            return invalid("batch spans must be at least 1");
        }
        if self.timeout.is_zero() {
            return invalid("timeout must be longer than zero");
        }
        match self.pace {
            Pace::SpansPerSecond(rate) | Pace::TracesPerSecond(rate)
                if !(rate > 0.0 && rate.is_finite()) =>
            {
                invalid("rate must be a positive number")
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadgenError {
    #[error("invalid load generator configuration: {0}")]
    Config(String),
    #[error("{0:?} is not a host, host:port or address to send to")]
    Target(String),
}

/// Called after every request with its outcome and the spans it carried, from the sending task:
/// it should be quick.
pub type ResponseHook = Arc<dyn Fn(&Outcome, &[Span]) + Send + Sync>;

/// Sends a protocol's requests.
#[derive(Clone)]
enum Sender {
    Http(http::HttpSender),
    Grpc(grpc::GrpcSender),
}

impl Sender {
    fn new(config: &Config) -> Result<Self, LoadgenError> {
        let authority = config.target.authority(config.protocol);
        Ok(match config.protocol.transport() {
            Transport::Http { method, path, content_type } => Sender::Http(http::HttpSender::new(
                config.protocol,
                &authority,
                method,
                path,
                content_type,
                config.concurrency,
            )?),
            Transport::Grpc { path } => {
                Sender::Grpc(grpc::GrpcSender::new(config.protocol, &authority, path, config.gzip)?)
            }
        })
    }

    async fn send(&self, payload: Payload) -> Outcome {
        match self {
            Sender::Http(sender) => sender.send(payload).await,
            Sender::Grpc(sender) => sender.send(payload).await,
        }
    }
}

/// What the senders share.
struct Shared {
    config: Config,
    sender: Sender,
    started: Instant,
    deadline: Option<Instant>,
    pacer: Option<Mutex<Pacer>>,
    backoff: Backoff,
    spans_claimed: AtomicU64,
    tally: Mutex<Tally>,
    on_response: Option<ResponseHook>,
}

/// A load generator at work.
pub struct Running {
    shared: Arc<Shared>,
    senders: JoinSet<()>,
    stop: watch::Sender<bool>,
    /// When the last sender finished.
    finished: Option<Instant>,
}

/// Starts the senders on the current Tokio runtime.
pub fn start(config: Config, on_response: Option<ResponseHook>) -> Result<Running, LoadgenError> {
    config.validate()?;
    let sender = Sender::new(&config)?;
    let started = Instant::now();
    let pacer = match config.pace {
        Pace::Max => None,
        Pace::SpansPerSecond(rate) | Pace::TracesPerSecond(rate) => {
            Some(Mutex::new(Pacer::new(rate)))
        }
    };
    // The first sender draws the seed's own stream, so one sender sends what
    // `Generator::new(seed)` makes; the others fork streams of their own from it.
    let original = Generator::new(config.seed);
    let mut generators: Vec<Generator> =
        (1..config.concurrency).map(|stream| original.fork(stream as u64)).collect();
    generators.insert(0, original);
    let shared = Arc::new(Shared {
        deadline: config.duration.map(|d| started + d),
        sender,
        started,
        pacer,
        backoff: Backoff::default(),
        spans_claimed: AtomicU64::new(0),
        tally: Mutex::new(Tally::default()),
        on_response,
        config,
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut senders = JoinSet::new();
    for generator in generators {
        let source = BatchSource::new(generator, shared.config.batch_spans);
        senders.spawn(send_batches(Arc::clone(&shared), source, stop_rx.clone()));
    }
    Ok(Running { shared, senders, stop, finished: None })
}

/// Sends until a limit (`duration` or `spans`) is reached and returns the final report; without
/// either limit it never returns, so use [`start`] and [`Running::stop`] then.
pub async fn run(
    config: Config,
    on_response: Option<ResponseHook>,
) -> Result<Report, LoadgenError> {
    let mut running = start(config, on_response)?;
    running.wait().await;
    Ok(running.report())
}

impl Running {
    /// What was counted so far.
    pub fn report(&self) -> Report {
        let shared = &self.shared;
        let now = self.finished.unwrap_or_else(Instant::now);
        Report {
            protocol: shared.config.protocol.as_str(),
            target: shared.config.target.authority(shared.config.protocol),
            elapsed: now - shared.started,
            tally: lock(&shared.tally).clone(),
            cpu: process_cpu_time(),
        }
    }

    /// Sends no more requests; those in flight finish. [`Running::wait`] then returns.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Returns when every sender has finished: the limits were reached or it was stopped.
    /// Cancel-safe, so it can wait beside a timer for progress reports.
    pub async fn wait(&mut self) {
        while self.senders.join_next().await.is_some() {}
        if self.finished.is_none() {
            self.finished = Some(Instant::now());
        }
    }

    /// Stops, waits for the requests in flight and returns the final report.
    pub async fn finish(mut self) -> Report {
        self.stop();
        self.wait().await;
        self.report()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking sender leaves counts that are still counts.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One sender: batch, pace, send, count, until a limit or the stop.
async fn send_batches(
    shared: Arc<Shared>,
    mut source: BatchSource,
    mut stop: watch::Receiver<bool>,
) {
    let config = &shared.config;
    loop {
        if let Some(until) = shared.backoff.held_until(Instant::now())
            && !wait_until(&shared, until, &mut stop).await
        {
            return;
        }
        if *stop.borrow() || shared.deadline.is_some_and(|at| Instant::now() >= at) {
            return;
        }
        let mut batch = source.next_batch(batch::unix_nanos_now());
        if let Some(limit) = config.spans {
            let before =
                shared.spans_claimed.fetch_add(batch.spans.len() as u64, Ordering::Relaxed);
            if before >= limit {
                return;
            }
        }
        if let Some(pacer) = &shared.pacer {
            let units = match config.pace {
                Pace::TracesPerSecond(_) => batch.traces,
                _ => batch.spans.len(),
            };
            let due = lock(pacer).reserve(units as u64, shared.started.elapsed());
            if !wait_until(&shared, shared.started + due, &mut stop).await {
                return;
            }
        }
        end_at(&mut batch.spans, batch::unix_nanos_now());
        let payloads = config.protocol.encode(&mut batch.spans, batch.traces, config.gzip);
        for payload in payloads {
            let spans = &batch.spans[payload.spans.clone()];
            let bytes = payload.body.len() as u64;
            let outcome =
                match tokio::time::timeout(config.timeout, shared.sender.send(payload)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::transport_error(format!(
                        "no answer within {:.1} s",
                        config.timeout.as_secs_f64()
                    )),
                };
            let wait = match outcome.class {
                Class::Throttled | Class::Unavailable | Class::TransportError => {
                    Some(outcome.retry_after.unwrap_or(DEFAULT_BACKOFF))
                }
                _ => None,
            };
            {
                let mut tally = lock(&shared.tally);
                tally.record(&outcome, spans.len() as u64, bytes);
                if let Some(wait) = wait {
                    tally.backoff += shared.backoff.hold(Instant::now(), wait);
                }
            }
            if let Some(hook) = &shared.on_response {
                hook(&outcome, spans);
            }
        }
    }
}

/// Sleeps until `at`; false when the run ends first (stopped, or the deadline is earlier).
async fn wait_until(shared: &Shared, at: Instant, stop: &mut watch::Receiver<bool>) -> bool {
    let (wake, in_time) = match shared.deadline {
        Some(deadline) if deadline < at => (deadline, false),
        _ => (at, true),
    };
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(wake) => in_time,
        _ = stop.changed() => false,
    }
}
