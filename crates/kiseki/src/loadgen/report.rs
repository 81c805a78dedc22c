//! What the load generator counts, and how it reports it: a progress line every few seconds,
//! a summary at the end, and the same summary as one JSON object for benchmark scripts.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 2xx, or gRPC OK.
    Acknowledged,
    /// 429, or gRPC RESOURCE_EXHAUSTED: the server is behind and asked for time.
    Throttled,
    /// 503, or gRPC UNAVAILABLE.
    Unavailable,
    /// Another 4xx, or a gRPC code that blames the request (INVALID_ARGUMENT, UNIMPLEMENTED, ...).
    ClientError,
    /// Another status: 5xx other than 503, gRPC INTERNAL, UNKNOWN, ...
    ServerError,
    /// No answer: the connection failed, broke or timed out.
    TransportError,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Acknowledged,
        Class::Throttled,
        Class::Unavailable,
        Class::ClientError,
        Class::ServerError,
        Class::TransportError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Acknowledged => "acknowledged",
            Class::Throttled => "throttled",
            Class::Unavailable => "unavailable",
            Class::ClientError => "client_error",
            Class::ServerError => "server_error",
            Class::TransportError => "transport_error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub class: Class,
    /// Spans the server refused inside an acknowledged request (OTLP's `partial_success`).
    pub rejected_spans: u64,
    /// How long the server asked the client to wait before sending again.
    pub retry_after: Option<Duration>,
    /// The status and the server's message, or the transport error; empty when acknowledged.
    pub detail: String,
    /// From handing the request to the client until the whole answer was read.
    pub latency: Duration,
}

impl Outcome {
    pub fn acknowledged(rejected_spans: u64, latency: Duration) -> Self {
        Self {
            class: Class::Acknowledged,
            rejected_spans,
            retry_after: None,
            detail: String::new(),
            latency,
        }
    }

    pub fn refused(class: Class, detail: String, retry_after: Option<Duration>) -> Self {
        Self { class, rejected_spans: 0, retry_after, detail, latency: Duration::ZERO }
    }

    pub fn transport_error(detail: String) -> Self {
        Self::refused(Class::TransportError, detail, None)
    }
}

/// Requests and the spans in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub spans: u64,
}

/// Request latencies in buckets 2 % wide, from 1 µs to several minutes: enough for p50/p99
/// without keeping every sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: Duration,
}

const GROWTH: f64 = 1.02;
const BUCKETS: usize = 1_000;

impl Default for Histogram {
    fn default() -> Self {
        Self { buckets: vec![0; BUCKETS], count: 0, max: Duration::ZERO }
    }
}

impl Histogram {
    pub fn record(&mut self, value: Duration) {
        let micros = value.as_micros().max(1) as f64;
        let bucket = ((micros.ln() / GROWTH.ln()) as usize).min(BUCKETS - 1);
        self.buckets[bucket] += 1;
        self.count += 1;
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value below which a fraction `q` of the samples lie (within 2 %); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank == self.count {
            return Some(self.max);
        }
        let mut seen = 0;
        for (bucket, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let micros = GROWTH.powf(bucket as f64 + 0.5);
                return Some(Duration::from_secs_f64(micros / 1e6).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The largest sample; `None` when empty.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then_some(self.max)
    }

    /// The samples recorded since `earlier` (a copy of this histogram taken before). Their
    /// max is known to the bucket: the top of the highest one, or the overall max if lower.
    fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets: Vec<u64> =
            self.buckets.iter().zip(&earlier.buckets).map(|(a, b)| a.saturating_sub(*b)).collect();
        let max = match buckets.iter().rposition(|&n| n > 0) {
            Some(top) => {
                let micros = GROWTH.powf(top as f64 + 1.0);
                Duration::from_secs_f64(micros / 1e6).min(self.max)
            }
            None => Duration::ZERO,
        };
        Histogram { buckets, count: self.count.saturating_sub(earlier.count), max }
    }
}

/// Everything counted since the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    by_class: [Counts; 6],
    pub partially_rejected_spans: u64,
    /// Encoded payload bytes, as sent over HTTP; before gRPC's own compression.
    pub payload_bytes: u64,
    /// How long all senders were held back at the server's request.
    pub backoff: Duration,
    pub latency: Histogram,
}

impl Tally {
    pub fn record(&mut self, outcome: &Outcome, spans: u64, payload_bytes: u64) {
        let counts = &mut self.by_class[outcome.class.index()];
        counts.requests += 1;
        counts.spans += spans;
        self.partially_rejected_spans += outcome.rejected_spans;
        self.payload_bytes += payload_bytes;
        if outcome.class != Class::TransportError {
            self.latency.record(outcome.latency);
        }
    }

    pub fn get(&self, class: Class) -> Counts {
        self.by_class[class.index()]
    }

    /// Every request that has ended, whatever its answer.
    pub fn sent(&self) -> Counts {
        self.by_class.iter().fold(Counts::default(), |sum, c| Counts {
            requests: sum.requests + c.requests,
            spans: sum.spans + c.spans,
        })
    }

    /// Spans the server took: those in acknowledged requests, less those it refused inside them.
    pub fn acknowledged_spans(&self) -> u64 {
        self.get(Class::Acknowledged).spans.saturating_sub(self.partially_rejected_spans)
    }

    fn since(&self, earlier: &Tally) -> Tally {
        let mut by_class = self.by_class;
        for (now, before) in by_class.iter_mut().zip(&earlier.by_class) {
            now.requests = now.requests.saturating_sub(before.requests);
            now.spans = now.spans.saturating_sub(before.spans);
        }
        Tally {
            by_class,
            partially_rejected_spans: self
                .partially_rejected_spans
                .saturating_sub(earlier.partially_rejected_spans),
            payload_bytes: self.payload_bytes.saturating_sub(earlier.payload_bytes),
            backoff: self.backoff.saturating_sub(earlier.backoff),
            latency: self.latency.since(&earlier.latency),
        }
    }
}

/// The tally at a moment of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub protocol: &'static str,
    pub target: String,
    pub elapsed: Duration,
    pub tally: Tally,
    /// CPU time this process used so far (Linux only); it includes a server in the same process.
    pub cpu: Option<Duration>,
}

impl Report {
    pub fn acknowledged_spans_per_second(&self) -> f64 {
        per_second(self.tally.acknowledged_spans() as f64, self.elapsed)
    }

    /// One line on what happened since `earlier`, for progress every few seconds.
    pub fn progress_since(&self, earlier: &Report) -> String {
        let tally = self.tally.since(&earlier.tally);
        let interval = self.elapsed.saturating_sub(earlier.elapsed);
        let rate = per_second(tally.acknowledged_spans() as f64, interval);
        let mut line = format!(
            "{:>6.1}s  {:>10.0} spans/s acknowledged  ({} spans in {} requests)",
            self.elapsed.as_secs_f64(),
            rate,
            tally.acknowledged_spans(),
            tally.get(Class::Acknowledged).requests,
        );
        for class in &Class::ALL[1..] {
            let counts = tally.get(*class);
            if counts.requests > 0 {
                line.push_str(&format!("  {} {}", class.as_str(), counts.requests));
            }
        }
        if tally.partially_rejected_spans > 0 {
            line.push_str(&format!("  spans refused {}", tally.partially_rejected_spans));
        }
        line.push_str(&format!(
            "  p50 {}  p99 {}",
            millis(tally.latency.quantile(0.5)),
            millis(tally.latency.quantile(0.99))
        ));
        line
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        let counts = |pick: fn(Counts) -> u64| ByClass {
            sent: pick(self.tally.sent()),
            acknowledged: pick(self.tally.get(Class::Acknowledged)),
            throttled: pick(self.tally.get(Class::Throttled)),
            unavailable: pick(self.tally.get(Class::Unavailable)),
            client_error: pick(self.tally.get(Class::ClientError)),
            server_error: pick(self.tally.get(Class::ServerError)),
            transport_error: pick(self.tally.get(Class::TransportError)),
        };
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        let summary = JsonReport {
            protocol: self.protocol,
            target: &self.target,
            seconds: self.elapsed.as_secs_f64(),
            requests: counts(|c| c.requests),
            spans: counts(|c| c.spans),
            partially_rejected_spans: self.tally.partially_rejected_spans,
            acknowledged_spans_per_second: self.acknowledged_spans_per_second(),
            payload_bytes: self.tally.payload_bytes,
            latency_ms: Latency {
                p50: ms(self.tally.latency.quantile(0.5)),
                p99: ms(self.tally.latency.quantile(0.99)),
                max: ms(self.tally.latency.max()),
            },
            backoff_seconds: self.tally.backoff.as_secs_f64(),
            cpu_seconds: self.cpu.map(|d| d.as_secs_f64()),
        };
        // Plain structs of numbers and strings always serialize.
        serde_json::to_string(&summary).unwrap_or_default()
    }
}

impl fmt::Display for Report {
    /// The summary at the end of a run, for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let tally = &self.tally;
        writeln!(f, "{} to {} for {seconds:.1} s", self.protocol, self.target)?;
        writeln!(f, "{:<16} {:>12} {:>14}", "", "requests", "spans")?;
        let sent = tally.sent();
        writeln!(f, "{:<16} {:>12} {:>14}", "sent", sent.requests, sent.spans)?;
        for class in Class::ALL {
            let counts = tally.get(class);
            writeln!(f, "{:<16} {:>12} {:>14}", class.as_str(), counts.requests, counts.spans)?;
        }
        if tally.partially_rejected_spans > 0 {
            writeln!(
                f,
                "spans refused inside acknowledged requests: {}",
                tally.partially_rejected_spans
            )?;
        }
        writeln!(
            f,
            "acknowledged {:.0} spans/s; {:.1} MB/s of payload",
            self.acknowledged_spans_per_second(),
            per_second(tally.payload_bytes as f64, self.elapsed) / 1e6
        )?;
        writeln!(
            f,
            "latency p50 {}  p99 {}  max {}",
            millis(tally.latency.quantile(0.5)),
            millis(tally.latency.quantile(0.99)),
            millis(tally.latency.max())
        )?;
        if !tally.backoff.is_zero() {
            let seconds = tally.backoff.as_secs_f64();
            writeln!(f, "backed off for {seconds:.1} s (Retry-After, or the server unreachable)")?;
        }
        if let Some(cpu) = self.cpu {
            let cores = cpu.as_secs_f64() / seconds.max(f64::MIN_POSITIVE);
            writeln!(f, "cpu {:.1} s ({cores:.2} cores)", cpu.as_secs_f64())?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    protocol: &'a str,
    target: &'a str,
    seconds: f64,
    requests: ByClass,
    spans: ByClass,
    partially_rejected_spans: u64,
    acknowledged_spans_per_second: f64,
    payload_bytes: u64,
    latency_ms: Latency,
    backoff_seconds: f64,
    cpu_seconds: Option<f64>,
}

#[derive(Serialize)]
struct ByClass {
    sent: u64,
    acknowledged: u64,
    throttled: u64,
    unavailable: u64,
    client_error: u64,
    server_error: u64,
    transport_error: u64,
}

#[derive(Serialize)]
struct Latency {
    p50: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

fn per_second(amount: f64, over: Duration) -> f64 {
    if over.is_zero() { 0.0 } else { amount / over.as_secs_f64() }
}

fn millis(value: Option<Duration>) -> String {
    match value {
        Some(d) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        None => "-".to_string(),
    }
}

/// CPU time (user and system) this process used, from `/proc/self/stat`; `None` elsewhere.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks of 1/100 s on Linux.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut histogram = Histogram::default();
        assert_eq!(histogram.quantile(0.5), None);
        for ms in 1..=1_000 {
            histogram.record(ms * MS);
        }
        let close = |got: Option<Duration>, want: f64| {
            let got = got.unwrap().as_secs_f64() * 1e3;
            assert!((got - want).abs() <= want * 0.02, "{got} ms, want {want} ms");
        };
        close(histogram.quantile(0.5), 500.0);
        close(histogram.quantile(0.99), 990.0);
        assert_eq!(histogram.quantile(1.0), Some(1_000 * MS));
        assert_eq!(histogram.max(), Some(1_000 * MS));
        // Far out of range, values land in the last bucket and the max stays exact.
        histogram.record(Duration::from_secs(100_000));
        assert_eq!(histogram.quantile(1.0), Some(Duration::from_secs(100_000)));
        histogram.record(Duration::ZERO);
        assert_eq!(histogram.count(), 1_002);
    }

    fn ok(latency: Duration) -> Outcome {
        Outcome::acknowledged(0, latency)
    }

    #[test]
    fn the_tally_adds_up_by_class() {
        let mut tally = Tally::default();
        tally.record(&ok(2 * MS), 500, 1_000);
        tally.record(&Outcome::acknowledged(3, 4 * MS), 500, 1_000);
        let throttled =
            Outcome::refused(Class::Throttled, "429".into(), Some(Duration::from_secs(1)));
        tally.record(&throttled, 400, 800);
        tally.record(&Outcome::transport_error("connection refused".into()), 100, 200);
        assert_eq!(tally.sent(), Counts { requests: 4, spans: 1_500 });
        assert_eq!(tally.get(Class::Acknowledged), Counts { requests: 2, spans: 1_000 });
        assert_eq!(tally.get(Class::Throttled), Counts { requests: 1, spans: 400 });
        assert_eq!(tally.get(Class::TransportError), Counts { requests: 1, spans: 100 });
        assert_eq!(tally.acknowledged_spans(), 997);
        assert_eq!(tally.payload_bytes, 3_000);
        assert_eq!(tally.latency.count(), 3, "a transport error has no latency");
    }

    fn report(elapsed: Duration, tally: Tally) -> Report {
        Report { protocol: "otlp-http", target: "127.0.0.1:4318".into(), elapsed, tally, cpu: None }
    }

    #[test]
    fn progress_shows_the_interval_only() {
        let mut tally = Tally::default();
        tally.record(&ok(2 * MS), 1_000, 0);
        tally.record(&ok(2_000 * MS), 1_000, 0);
        let first = report(Duration::from_secs(5), tally.clone());
        for _ in 0..10 {
            tally.record(&ok(40 * MS), 1_000, 0);
        }
        tally.record(&Outcome::refused(Class::Unavailable, "503".into(), None), 7, 0);
        let second = report(Duration::from_secs(10), tally);
        let line = second.progress_since(&first);
        // The slow request of the first interval is not the second's p99.
        assert!(line.contains("p99 40."), "{line}");
        assert!(line.contains(" 2000 spans/s"), "{line}");
        assert!(line.contains("(10000 spans in 10 requests)"), "{line}");
        assert!(line.contains("unavailable 1"), "{line}");
        assert!(!line.contains("throttled"), "{line}");
        assert!(line.contains("p50 40."), "{line}");
    }

    #[test]
    fn json_has_every_count() {
        let mut tally = Tally::default();
        tally.record(&ok(2 * MS), 500, 1_000);
        let mut refused = Outcome::refused(Class::ClientError, "400".into(), None);
        refused.latency = 3 * MS;
        tally.record(&refused, 20, 10);
        tally.backoff = Duration::from_millis(1_500);
        let json: serde_json::Value =
            serde_json::from_str(&report(Duration::from_secs(2), tally).to_json()).unwrap();
        assert_eq!(json["protocol"], "otlp-http");
        assert_eq!(json["requests"]["sent"], 2);
        assert_eq!(json["spans"]["acknowledged"], 500);
        assert_eq!(json["spans"]["client_error"], 20);
        assert_eq!(json["spans"]["throttled"], 0);
        assert_eq!(json["acknowledged_spans_per_second"], 250.0);
        assert_eq!(json["payload_bytes"], 1_010);
        assert_eq!(json["backoff_seconds"], 1.5);
        assert!(json["latency_ms"]["p50"].as_f64().unwrap() > 1.9);
        assert!(json["cpu_seconds"].is_null());
    }

    #[test]
    fn cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_time().is_some());
        }
    }
}
