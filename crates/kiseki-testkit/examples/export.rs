//! Writes the seeded shop traffic to a file, so every storage benchmark (kiseki's own and the
//! ClickHouse ones in `scripts/bench`) loads exactly the same spans.
//!
//! ```text
//! cargo run --release -p kiseki-testkit --example export -- \
//!     --spans 10000000 --seed 1 --format tsv --stats spans.json > spans.tsv
//! ```
//!
//! The traffic is fixed by `--seed`, `--start-unix-ns` and `--trace-interval-us`: trace k
//! (k = 0, 1, …) is the k-th `Generator::new(seed).trace(start + k × interval)`, and whole traces
//! are written until there are at least `--spans` spans. The defaults start on 2026-01-01 12:00
//! UTC with ten traces a second (about 150 spans a second), so ten million spans cover about 18
//! hours across two days.
//!
//! Formats:
//! - `tsv`: ClickHouse's `TabSeparatedWithNames`, one row per span with the columns of
//!   [`COLUMNS`]. Ids are lowercase hex (an empty parent for roots); attributes are parallel
//!   key and value arrays with every value as text (numbers in decimal, arrays JSON-like, as the
//!   OpenTelemetry Collector's ClickHouse exporter writes them); events and links are parallel
//!   arrays, their attributes arrays of arrays.
//! - `otlp`: the OTLP protobuf requests an SDK would send: each service instance exports its
//!   spans in batches of at most `--batch` spans. Each request is written as its length (4 bytes,
//!   big-endian) followed by an `ExportTraceServiceRequest`.
//!
//! Both formats count the OTLP bytes of those batches, so bytes per span on disk can be set
//! beside the bytes per span of the protocol. A summary goes to stderr and, as JSON, to
//! `--stats`.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use kiseki_codec::otlp::encode_traces_proto;
use kiseki_model::{AnyValue, Attributes, Span, TraceId};
use kiseki_testkit::Generator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The columns of the `tsv` format, in order, with their ClickHouse types.
const COLUMNS: &[(&str, &str)] = &[
    ("trace_id", "String"),
    ("span_id", "String"),
    ("parent_span_id", "String"),
    ("trace_state", "String"),
    ("name", "String"),
    ("kind", "String"),
    ("service_name", "String"),
    ("start_time_unix_nano", "UInt64"),
    ("duration_nano", "UInt64"),
    ("status_code", "String"),
    ("status_message", "String"),
    ("attribute_keys", "Array(String)"),
    ("attribute_values", "Array(String)"),
    ("resource_keys", "Array(String)"),
    ("resource_values", "Array(String)"),
    ("scope_name", "String"),
    ("scope_version", "String"),
    ("event_times_unix_nano", "Array(UInt64)"),
    ("event_names", "Array(String)"),
    ("event_attribute_keys", "Array(Array(String))"),
    ("event_attribute_values", "Array(Array(String))"),
    ("link_trace_ids", "Array(String)"),
    ("link_span_ids", "Array(String)"),
    ("link_trace_states", "Array(String)"),
    ("link_attribute_keys", "Array(Array(String))"),
    ("link_attribute_values", "Array(Array(String))"),
];

const USAGE: &str = "usage: export [--spans N] [--seed N] [--format tsv|otlp|none] \
[--start-unix-ns N] [--trace-interval-us N] [--batch N] [--stats FILE] [--columns]";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Tsv,
    Otlp,
    /// Only the summary: for counting OTLP bytes without writing gigabytes.
    None,
}

struct Options {
    spans: usize,
    seed: u64,
    format: Format,
    start_unix_nano: u64,
    trace_interval_nanos: u64,
    batch: usize,
    stats: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            spans: 1_000_000,
            seed: 1,
            format: Format::Tsv,
            start_unix_nano: 1_767_268_800_000_000_000,
            trace_interval_nanos: 100_000_000,
            batch: 512,
            stats: None,
        }
    }
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        if flag == "--columns" {
            for (name, ty) in COLUMNS {
                println!("{name} {ty}");
            }
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--spans" => options.spans = number()? as usize,
            "--seed" => options.seed = number()?,
            "--start-unix-ns" => options.start_unix_nano = number()?,
            "--trace-interval-us" => options.trace_interval_nanos = number()? * 1_000,
            "--batch" => options.batch = (number()? as usize).max(1),
            "--stats" => options.stats = Some(value),
            "--format" => {
                options.format = match value.as_str() {
                    "tsv" => Format::Tsv,
                    "otlp" => Format::Otlp,
                    "none" => Format::None,
                    other => return Err(format!("unknown format {other}")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

/// How many trace ids the summary lists for trace-by-id benchmarks.
const SAMPLE_TRACE_IDS: usize = 1_000;

/// What was written, for the benchmark reports.
#[derive(Default)]
struct Summary {
    spans: u64,
    traces: u64,
    error_spans: u64,
    first_start_unix_nano: u64,
    last_end_unix_nano: u64,
    otlp_requests: u64,
    otlp_bytes: u64,
    output_bytes: u64,
    /// A uniform sample of the trace ids written (reservoir sampling with a fixed seed), shuffled,
    /// for benchmarks that look traces up by id.
    sample_trace_ids: Vec<TraceId>,
}

impl Summary {
    /// The summary as one JSON object; the sample of trace ids only when `with_ids`.
    fn json(&self, options: &Options, with_ids: bool) -> String {
        let ids = if with_ids { self.sample_trace_ids.as_slice() } else { &[] };
        format!(
            "{{\"seed\": {}, \"spans\": {}, \"traces\": {}, \"error_spans\": {}, \
             \"start_unix_nano\": {}, \"trace_interval_nano\": {}, \
             \"first_start_unix_nano\": {}, \"last_end_unix_nano\": {}, \
             \"otlp_batch_spans\": {}, \"otlp_requests\": {}, \"otlp_bytes\": {}, \
             \"otlp_bytes_per_span\": {:.1}, \"output_bytes\": {}, \"sample_trace_ids\": [{}]}}",
            options.seed,
            self.spans,
            self.traces,
            self.error_spans,
            options.start_unix_nano,
            options.trace_interval_nanos,
            self.first_start_unix_nano,
            self.last_end_unix_nano,
            options.batch,
            self.otlp_requests,
            self.otlp_bytes,
            self.otlp_bytes as f64 / self.spans.max(1) as f64,
            self.output_bytes,
            ids.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(", "),
        )
    }
}

/// Counts what goes through, so the summary can say how large the output was.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Spans of each service instance waiting to be sent as one OTLP request, as an SDK batches.
struct OtlpBatcher {
    batch: usize,
    pending: HashMap<usize, Vec<Span>>,
}

impl OtlpBatcher {
    /// Takes a span; returns a full batch to send when its instance has one.
    fn push(&mut self, span: &Span) -> Option<Vec<Span>> {
        let instance = Arc::as_ptr(&span.resource) as usize;
        let pending = self.pending.entry(instance).or_default();
        pending.push(span.clone());
        (pending.len() >= self.batch).then(|| std::mem::take(pending))
    }

    /// The partial batches left at the end, in a fixed order.
    fn drain(&mut self) -> Vec<Vec<Span>> {
        let mut rest: Vec<Vec<Span>> =
            self.pending.drain().map(|(_, spans)| spans).filter(|s| !s.is_empty()).collect();
        rest.sort_by_key(|spans| (spans[0].start_time_unix_nano, spans[0].span_id));
        rest
    }
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("export: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match export(&options) {
        Ok(summary) => {
            eprintln!("export: {}", summary.json(&options, false));
            if let Some(path) = &options.stats
                && let Err(error) = std::fs::write(path, summary.json(&options, true) + "\n")
            {
                eprintln!("export: writing {path}: {error}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("export: {error}");
            ExitCode::FAILURE
        }
    }
}

fn export(options: &Options) -> io::Result<Summary> {
    let mut out =
        CountingWriter { inner: BufWriter::with_capacity(1 << 20, io::stdout()), bytes: 0 };
    let mut summary = Summary { first_start_unix_nano: u64::MAX, ..Summary::default() };
    let mut generator = Generator::new(options.seed);
    let mut batcher = OtlpBatcher { batch: options.batch, pending: HashMap::new() };
    let mut row = Vec::with_capacity(8192);
    let mut sampler = ChaCha8Rng::seed_from_u64(options.seed);
    let send = |spans: &[Span], out: &mut CountingWriter<_>, summary: &mut Summary| {
        let request = encode_traces_proto(spans);
        summary.otlp_requests += 1;
        summary.otlp_bytes += request.len() as u64;
        if options.format == Format::Otlp {
            let length = u32::try_from(request.len())
                .map_err(|_| io::Error::other("an OTLP request over 4 GiB"))?;
            out.write_all(&length.to_be_bytes())?;
            out.write_all(&request)?;
        }
        io::Result::Ok(())
    };

    if options.format == Format::Tsv {
        let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        writeln!(out, "{}", names.join("\t"))?;
    }
    while summary.spans < options.spans as u64 {
        let start = options.start_unix_nano + summary.traces * options.trace_interval_nanos;
        let trace = generator.trace(start);
        summary.traces += 1;
        if let Some(first) = trace.first() {
            sample(&mut summary.sample_trace_ids, summary.traces, first.trace_id, &mut sampler);
        }
        for span in &trace {
            summary.spans += 1;
            summary.error_spans += u64::from(span.is_error());
            summary.first_start_unix_nano =
                summary.first_start_unix_nano.min(span.start_time_unix_nano);
            summary.last_end_unix_nano = summary.last_end_unix_nano.max(span.end_time_unix_nano);
            if options.format == Format::Tsv {
                row.clear();
                write_tsv_row(&mut row, span);
                out.write_all(&row)?;
            }
            if let Some(batch) = batcher.push(span) {
                send(&batch, &mut out, &mut summary)?;
            }
        }
    }
    for batch in batcher.drain() {
        send(&batch, &mut out, &mut summary)?;
    }
    out.flush()?;
    summary.output_bytes = out.bytes;
    // Fisher-Yates, so taking the first n ids of the sample is a random pick at any n.
    for i in (1..summary.sample_trace_ids.len()).rev() {
        let j = sampler.random_range(0..=i);
        summary.sample_trace_ids.swap(i, j);
    }
    Ok(summary)
}

/// Keeps a uniform sample of the ids seen so far (the `seen`-th id is `id`): Algorithm R.
fn sample(reservoir: &mut Vec<TraceId>, seen: u64, id: TraceId, rng: &mut ChaCha8Rng) {
    if reservoir.len() < SAMPLE_TRACE_IDS {
        reservoir.push(id);
    } else {
        let slot = rng.random_range(0..seen) as usize;
        if slot < SAMPLE_TRACE_IDS {
            reservoir[slot] = id;
        }
    }
}

/// One span as a `TabSeparated` row, with the columns of [`COLUMNS`].
fn write_tsv_row(row: &mut Vec<u8>, span: &Span) {
    let tab = |row: &mut Vec<u8>| row.push(b'\t');
    let _ = write!(row, "{}\t{}\t", span.trace_id, span.span_id);
    if let Some(parent) = span.parent_span_id {
        let _ = write!(row, "{parent}");
    }
    tab(row);
    field(row, &span.trace_state);
    tab(row);
    field(row, &span.name);
    let _ = write!(row, "\t{}\t", span.kind.as_str());
    field(row, span.service_name());
    let _ = write!(
        row,
        "\t{}\t{}\t{}\t",
        span.start_time_unix_nano,
        span.duration_nanos(),
        span.status.code.as_str(),
    );
    field(row, &span.status.message);
    tab(row);
    attributes(row, &span.attributes);
    tab(row);
    attributes(row, &span.resource.attributes);
    tab(row);
    field(row, &span.scope.name);
    tab(row);
    field(row, &span.scope.version);
    tab(row);
    array(row, span.events.iter().map(|e| e.time_unix_nano), |row, t| {
        let _ = write!(row, "{t}");
    });
    tab(row);
    array(row, span.events.iter().map(|e| e.name.as_str()), quoted);
    tab(row);
    array(row, span.events.iter(), |row, e| keys(row, &e.attributes));
    tab(row);
    array(row, span.events.iter(), |row, e| values(row, &e.attributes));
    tab(row);
    array(row, span.links.iter(), |row, l| quoted(row, &l.trace_id.to_string()));
    tab(row);
    array(row, span.links.iter(), |row, l| quoted(row, &l.span_id.to_string()));
    tab(row);
    array(row, span.links.iter(), |row, l| quoted(row, &l.trace_state));
    tab(row);
    array(row, span.links.iter(), |row, l| keys(row, &l.attributes));
    tab(row);
    array(row, span.links.iter(), |row, l| values(row, &l.attributes));
    row.push(b'\n');
}

/// `keys<TAB>values` of one attribute list.
fn attributes(row: &mut Vec<u8>, attributes: &Attributes) {
    keys(row, attributes);
    row.push(b'\t');
    values(row, attributes);
}

fn keys(row: &mut Vec<u8>, attributes: &Attributes) {
    array(row, attributes.iter(), |row, kv| quoted(row, &kv.key));
}

fn values(row: &mut Vec<u8>, attributes: &Attributes) {
    array(row, attributes.iter(), |row, kv| match &kv.value {
        AnyValue::Str(text) => quoted(row, text),
        other => quoted(row, &other.to_string()),
    });
}

/// A ClickHouse array literal: `[a,b,c]` with each item written by `item`.
fn array<T>(row: &mut Vec<u8>, items: impl Iterator<Item = T>, item: impl Fn(&mut Vec<u8>, T)) {
    row.push(b'[');
    for (i, value) in items.enumerate() {
        if i > 0 {
            row.push(b',');
        }
        item(row, value);
    }
    row.push(b']');
}

/// A string inside an array: single-quoted, with quotes and control characters escaped.
fn quoted(row: &mut Vec<u8>, text: &str) {
    row.push(b'\'');
    escape_into(row, text, true);
    row.push(b'\'');
}

/// A plain `TabSeparated` string field.
fn field(row: &mut Vec<u8>, text: &str) {
    escape_into(row, text, false);
}

/// ClickHouse's escaping for `TabSeparated`: a backslash before tab, newline, carriage return,
/// NUL and backslash itself, and before the single quote inside quoted array items.
fn escape_into(row: &mut Vec<u8>, text: &str, in_quotes: bool) {
    for &byte in text.as_bytes() {
        match byte {
            b'\t' => row.extend_from_slice(b"\\t"),
            b'\n' => row.extend_from_slice(b"\\n"),
            b'\r' => row.extend_from_slice(b"\\r"),
            0 => row.extend_from_slice(b"\\0"),
            b'\\' => row.extend_from_slice(b"\\\\"),
            b'\'' if in_quotes => row.extend_from_slice(b"\\'"),
            other => row.push(other),
        }
    }
}
