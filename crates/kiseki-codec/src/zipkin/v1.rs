//! Zipkin v1 spans and their conversion to v2, with the semantics of Zipkin's own
//! `V1SpanConverter`.
//!
//! A v1 span is a bag of annotations, each recorded by some endpoint. The "core" annotations —
//! `cs`/`cr` (client send/receive), `sr`/`ss` (server receive/send), `ms`/`mr` (message
//! send/receive) — give the kind and the times, but only when they carry an endpoint; without one
//! they are ordinary annotations (zipkin-js sends `cs`/`cr` without an endpoint when it has no local
//! endpoint, and such a span keeps no kind, its `cs`/`cr` as events, and `sa` as remote).
//! Binary annotations become tags, except the address annotations `sa`/`ca`/`ma` which give the
//! remote endpoint. One v1 span holding both the client and the server side (Zipkin's old shared
//! span model) becomes two v2 spans with the same id: the client, and the server marked `shared`
//! with timestamp = `sr` and duration = `ss − sr`.

use std::collections::HashMap;

use kiseki_model::{AnyValue, SpanId, Str, TraceId};

use super::wire::{Annotation, Endpoint, ZipkinKind, ZipkinSpan};

/// A v1 span as read from JSON or Thrift. Times are microseconds, 0 meaning absent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct V1Span {
    pub trace_id: TraceId,
    pub id: SpanId,
    pub parent_id: Option<SpanId>,
    pub name: Str,
    pub timestamp: i64,
    pub duration: i64,
    pub annotations: Vec<V1Annotation>,
    pub binary_annotations: Vec<V1BinaryAnnotation>,
    pub debug: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct V1Annotation {
    pub timestamp: i64,
    pub value: Str,
    pub endpoint: Option<Endpoint>,
}

/// A tag (string or typed value) or, under the keys `sa`, `ca` and `ma`, an address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct V1BinaryAnnotation {
    pub key: Str,
    pub value: AnyValue,
    pub endpoint: Option<Endpoint>,
}

/// Whether a binary annotation is an address (`sa`, `ca`, `ma`), whatever its value: Zipkin reads
/// these keys as addresses even when a tracer sent `"1"` instead of `true`.
pub(crate) fn is_address_key(key: &str) -> bool {
    matches!(key, "sa" | "ca" | "ma")
}

impl V1Span {
    /// Orders annotations by time then value, and binary annotations by key, as Zipkin does
    /// before converting; the result depends on it (the first endpoint seen owns the first span).
    pub(crate) fn sort(&mut self) {
        self.annotations
            .sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.value.cmp(&b.value)));
        self.binary_annotations.sort_by(|a, b| a.key.cmp(&b.key));
    }
}

/// Converts one v1 span into one or more v2 spans. The span must be [sorted](V1Span::sort).
pub(crate) fn convert(source: &V1Span) -> Vec<ZipkinSpan> {
    let mut converter = Converter::new(source);
    converter.process_annotations();
    converter.process_binary_annotations();
    converter.finish()
}

/// A core annotation: its time and the endpoint that recorded it (always present).
#[derive(Debug, Clone)]
struct Core {
    timestamp: i64,
    endpoint: Endpoint,
}

/// A v2 span under construction. Timestamp and duration are clamped at zero as Zipkin does.
#[derive(Debug, Default)]
struct Builder {
    local: Option<Endpoint>,
    remote: Option<Endpoint>,
    kind: Option<ZipkinKind>,
    timestamp: u64,
    duration: u64,
    shared: bool,
    annotations: Vec<Annotation>,
    tags: Vec<(Str, AnyValue)>,
}

impl Builder {
    fn set_timestamp(&mut self, micros: i64) {
        self.timestamp = u64::try_from(micros).unwrap_or(0);
    }

    fn set_duration(&mut self, micros: i64) {
        self.duration = u64::try_from(micros).unwrap_or(0);
    }

    fn add_annotation(&mut self, timestamp: i64, value: &Str) {
        let timestamp = u64::try_from(timestamp).unwrap_or(0);
        self.annotations.push(Annotation { timestamp, value: value.clone() });
    }

    /// Binary annotations arrive sorted by key, so a repeated key is the last one pushed.
    fn put_tag(&mut self, key: &Str, value: &AnyValue) {
        match self.tags.last_mut() {
            Some((last, existing)) if last == key => *existing = value.clone(),
            _ => self.tags.push((key.clone(), value.clone())),
        }
    }
}

/// Service names compare as Zipkin stores them: lower-cased.
fn same_service(left: &Endpoint, right: &Endpoint) -> bool {
    service_key(left) == service_key(right)
}

fn same_endpoint(left: &Endpoint, right: &Endpoint) -> bool {
    same_service(left, right)
        && left.ipv4 == right.ipv4
        && left.ipv6 == right.ipv6
        && left.port == right.port
}

/// The key spans are found by: the lower-cased service name.
fn service_key(endpoint: &Endpoint) -> Option<String> {
    endpoint.service_name.as_ref().map(|name| name.to_lowercase())
}

struct Converter<'a> {
    source: &'a V1Span,
    /// The first span is at 0; one more per distinct local service found.
    builders: Vec<Builder>,
    /// The first span with each service name, so finding one does not scan them all.
    by_service: HashMap<Option<String>, usize>,
    cs: Option<Core>,
    sr: Option<Core>,
    ss: Option<Core>,
    cr: Option<Core>,
    ms: Option<Core>,
    mr: Option<Core>,
    ws: Option<Core>,
    wr: Option<Core>,
}

impl<'a> Converter<'a> {
    fn new(source: &'a V1Span) -> Self {
        Self {
            source,
            builders: vec![Builder::default()],
            by_service: HashMap::new(),
            cs: None,
            sr: None,
            ss: None,
            cr: None,
            ms: None,
            mr: None,
            ws: None,
            wr: None,
        }
    }

    /// Index of the span an endpoint's data belongs to: the first one for no endpoint, else the
    /// first span without a local endpoint yet (which takes it) or with the same service name,
    /// else a new span.
    fn for_endpoint(&mut self, endpoint: Option<&Endpoint>) -> usize {
        let Some(endpoint) = endpoint else { return 0 };
        // Only the first span can lack a local endpoint; every other one starts with one.
        if self.builders.first().is_some_and(|first| first.local.is_none()) {
            self.at(0).local = Some(endpoint.clone());
            self.by_service.entry(service_key(endpoint)).or_insert(0);
            return 0;
        }
        match self.by_service.get(&service_key(endpoint)) {
            Some(&index) => index,
            None => self.new_builder(endpoint),
        }
    }

    fn new_builder(&mut self, endpoint: &Endpoint) -> usize {
        self.builders.push(Builder { local: Some(endpoint.clone()), ..Builder::default() });
        let index = self.builders.len() - 1;
        self.by_service.entry(service_key(endpoint)).or_insert(index);
        index
    }

    fn at(&mut self, index: usize) -> &mut Builder {
        // Indexes come from `for_endpoint` and `new_builder`, which only ever grow the list.
        let last = self.builders.len() - 1;
        &mut self.builders[index.min(last)]
    }

    fn process_annotations(&mut self) {
        let source = self.source;
        for a in &source.annotations {
            let current = self.for_endpoint(a.endpoint.as_ref());
            // Core annotations need an endpoint; without one they are ordinary annotations.
            let Some(endpoint) = &a.endpoint else {
                self.at(current).add_annotation(a.timestamp, &a.value);
                continue;
            };
            let core = || Some(Core { timestamp: a.timestamp, endpoint: endpoint.clone() });
            match a.value.as_str() {
                "cs" => {
                    self.at(current).kind = Some(ZipkinKind::Client);
                    self.cs = core();
                }
                "sr" => {
                    self.at(current).kind = Some(ZipkinKind::Server);
                    self.sr = core();
                }
                "ss" => {
                    self.at(current).kind = Some(ZipkinKind::Server);
                    self.ss = core();
                }
                "cr" => {
                    self.at(current).kind = Some(ZipkinKind::Client);
                    self.cr = core();
                }
                "ms" => {
                    self.at(current).kind = Some(ZipkinKind::Producer);
                    self.ms = core();
                }
                "mr" => {
                    self.at(current).kind = Some(ZipkinKind::Consumer);
                    self.mr = core();
                }
                "ws" => self.ws = core(),
                "wr" => self.wr = core(),
                _ => self.at(current).add_annotation(a.timestamp, &a.value),
            }
        }

        // When bridging from an event model, a span can miss its start annotation.
        if self.cs.is_none() && self.end_reflects_span_duration(self.cr.as_ref()) {
            let endpoint = self.cr.as_ref().map(|cr| cr.endpoint.clone()).unwrap_or_default();
            self.cs = Some(Core { timestamp: source.timestamp, endpoint });
        }
        if self.sr.is_none() && self.end_reflects_span_duration(self.ss.as_ref()) {
            let endpoint = self.ss.as_ref().map(|ss| ss.endpoint.clone()).unwrap_or_default();
            self.sr = Some(Core { timestamp: source.timestamp, endpoint });
        }

        match (self.cs.clone(), self.sr.clone()) {
            (Some(cs), Some(sr)) => {
                // In a shared span the client owns the span's timestamp and duration.
                self.maybe_timestamp_duration(&cs, self.cr.clone().as_ref());
                let client = self.for_endpoint(Some(&cs.endpoint));
                let server = if same_service(&cs.endpoint, &sr.endpoint) {
                    // Loopback: client and server are one service, so fork the server side.
                    self.at(client).kind = Some(ZipkinKind::Client);
                    let server = self.new_builder(&sr.endpoint);
                    self.at(server).kind = Some(ZipkinKind::Server);
                    server
                } else {
                    self.for_endpoint(Some(&sr.endpoint))
                };
                let ss = self.ss.clone();
                let server = self.at(server);
                server.shared = true;
                server.set_timestamp(sr.timestamp);
                if let Some(ss) = ss {
                    server.set_duration(ss.timestamp.saturating_sub(sr.timestamp));
                }
                if self.cr.is_none() && source.duration == 0 {
                    // One-way RPC: the client has no duration.
                    self.at(client).duration = 0;
                }
            }
            (Some(cs), None) if self.cr.is_some() => {
                self.maybe_timestamp_duration(&cs, self.cr.clone().as_ref());
            }
            (None, Some(sr)) if self.ss.is_some() => {
                self.maybe_timestamp_duration(&sr, self.ss.clone().as_ref());
            }
            _ => self.handle_incomplete_rpc(),
        }

        // v1 had no shared flag: a server side without the span's own timestamp (or without a
        // duration although `ss` is there) was recorded in a span the client started.
        if let (None, Some(sr)) = (&self.cs, &self.sr)
            && (source.timestamp == 0 || (self.ss.is_some() && source.duration == 0))
        {
            let endpoint = sr.endpoint.clone();
            let index = self.for_endpoint(Some(&endpoint));
            self.at(index).shared = true;
        }

        self.process_messaging();
    }

    fn process_messaging(&mut self) {
        match (self.ms.clone(), self.mr.clone()) {
            (Some(ms), Some(mr)) => {
                // Not supposed to share a span, but when they do, split as for RPC.
                let producer = self.for_endpoint(Some(&ms.endpoint));
                let consumer = if same_service(&ms.endpoint, &mr.endpoint) {
                    self.at(producer).kind = Some(ZipkinKind::Producer);
                    let consumer = self.new_builder(&mr.endpoint);
                    self.at(consumer).kind = Some(ZipkinKind::Consumer);
                    consumer
                } else {
                    self.for_endpoint(Some(&mr.endpoint))
                };
                let wr = self.wr.clone();
                let consumer = self.at(consumer);
                consumer.shared = true;
                match wr {
                    Some(wr) => {
                        consumer.set_timestamp(wr.timestamp);
                        consumer.set_duration(mr.timestamp.saturating_sub(wr.timestamp));
                    }
                    None => consumer.set_timestamp(mr.timestamp),
                }
                let ws = self.ws.clone();
                let producer = self.at(producer);
                producer.set_timestamp(ms.timestamp);
                producer.duration = 0;
                if let Some(ws) = ws {
                    producer.set_duration(ws.timestamp.saturating_sub(ms.timestamp));
                }
            }
            (Some(ms), None) => self.maybe_timestamp_duration(&ms, self.ws.clone().as_ref()),
            (None, Some(mr)) => match self.wr.clone() {
                Some(wr) => self.maybe_timestamp_duration(&wr, Some(&mr)),
                None => self.maybe_timestamp_duration(&mr, None),
            },
            (None, None) => {
                for (core, value) in [(self.ws.clone(), "ws"), (self.wr.clone(), "wr")] {
                    if let Some(core) = core {
                        let index = self.for_endpoint(Some(&core.endpoint));
                        self.at(index).add_annotation(core.timestamp, &Str::from_static(value));
                    }
                }
            }
        }
    }

    fn end_reflects_span_duration(&self, end: Option<&Core>) -> bool {
        let source = self.source;
        end.is_some_and(|end| {
            source.timestamp != 0
                && source.duration != 0
                && source.timestamp.checked_add(source.duration) == Some(end.timestamp)
        })
    }

    fn maybe_timestamp_duration(&mut self, begin: &Core, end: Option<&Core>) {
        let source = self.source;
        let index = self.for_endpoint(Some(&begin.endpoint));
        let span = self.at(index);
        if source.timestamp != 0 && source.duration != 0 {
            span.set_timestamp(source.timestamp);
            span.set_duration(source.duration);
        } else {
            span.set_timestamp(begin.timestamp);
            if let Some(end) = end {
                span.set_duration(end.timestamp.saturating_sub(begin.timestamp));
            }
        }
    }

    /// A span with only half of its core annotations keeps the other half as an annotation.
    fn handle_incomplete_rpc(&mut self) {
        let (cs, cr, sr, ss) = (self.cs.clone(), self.cr.clone(), self.sr.clone(), self.ss.clone());
        for builder in &mut self.builders {
            match builder.kind {
                Some(ZipkinKind::Client) => {
                    if let Some(cs) = &cs {
                        builder.set_timestamp(cs.timestamp);
                    }
                    if let Some(cr) = &cr {
                        builder.add_annotation(cr.timestamp, &Str::from_static("cr"));
                    }
                }
                Some(ZipkinKind::Server) => {
                    if let Some(sr) = &sr {
                        builder.set_timestamp(sr.timestamp);
                    }
                    if let Some(ss) = &ss {
                        builder.add_annotation(ss.timestamp, &Str::from_static("ss"));
                    }
                }
                _ => {}
            }
        }
        if self.source.timestamp != 0 {
            let (timestamp, duration) = (self.source.timestamp, self.source.duration);
            let first = self.at(0);
            first.set_timestamp(timestamp);
            first.set_duration(duration);
        }
    }

    fn process_binary_annotations(&mut self) {
        let source = self.source;
        let (mut ca, mut sa, mut ma): (Option<Endpoint>, Option<Endpoint>, Option<Endpoint>) =
            (None, None, None);
        for b in &source.binary_annotations {
            match b.key.as_str() {
                "ca" => ca = b.endpoint.clone(),
                "sa" => sa = b.endpoint.clone(),
                "ma" => ma = b.endpoint.clone(),
                key => {
                    let index = self.for_endpoint(b.endpoint.as_ref());
                    // An empty "lc" only marks the local endpoint of a local span.
                    if key == "lc" && b.value.as_str() == Some("") {
                        continue;
                    }
                    self.at(index).put_tag(&b.key, &b.value);
                }
            }
        }

        let no_core =
            self.cs.is_none() && self.cr.is_none() && self.ss.is_none() && self.sr.is_none();
        if no_core && (ca.is_some() || sa.is_some()) {
            match (ca, sa) {
                (Some(ca), Some(sa)) => {
                    let index = self.for_endpoint(Some(&ca));
                    self.at(index).remote = sa.non_empty();
                }
                // "sa" is a default for the remote address; it does not make a client span.
                (None, Some(sa)) => self.at(0).remote = sa.non_empty(),
                // "ca" alone: treat it like a server.
                (Some(ca), None) => {
                    let first = self.at(0);
                    first.kind = Some(ZipkinKind::Server);
                    first.remote = ca.non_empty();
                }
                (None, None) => {}
            }
            return;
        }

        let server = self.sr.clone().or_else(|| self.ss.clone());
        if let (Some(mut ca), Some(server)) = (ca, server)
            && !same_endpoint(&ca, &server.endpoint)
        {
            // Finagle adds "ca" on server spans with the server's own service name; without the
            // name it is only the client's socket and makes no loopback link.
            if same_service(&ca, &server.endpoint) {
                ca.service_name = None;
            }
            let index = self.for_endpoint(Some(&server.endpoint));
            self.at(index).remote = ca.non_empty();
        }
        if let Some(sa) = sa {
            let client = self.cs.clone().or_else(|| self.cr.clone());
            if let Some(client) = client {
                let index = self.for_endpoint(Some(&client.endpoint));
                self.at(index).remote = sa.non_empty();
            }
        }
        if let Some(ma) = ma {
            // Both sides get the broker's address in case a messaging span was shared.
            for side in [self.ms.clone(), self.mr.clone()].into_iter().flatten() {
                let index = self.for_endpoint(Some(&side.endpoint));
                self.at(index).remote = ma.clone().non_empty();
            }
        }
    }

    fn finish(self) -> Vec<ZipkinSpan> {
        let source = self.source;
        self.builders
            .into_iter()
            .map(|builder| {
                let mut span = ZipkinSpan::new(source.trace_id, source.id);
                span.set_parent(source.parent_id);
                span.name = source.name.clone();
                span.debug = source.debug;
                span.kind = builder.kind;
                span.timestamp = builder.timestamp;
                span.duration = builder.duration;
                span.local_endpoint = builder.local.and_then(Endpoint::non_empty);
                span.remote_endpoint = builder.remote.and_then(Endpoint::non_empty);
                // Shared describes a server side; Zipkin removes it from a client.
                span.shared = builder.shared && builder.kind != Some(ZipkinKind::Client);
                span.annotations = builder.annotations;
                span.annotations.sort_by(|a, b| {
                    a.timestamp.cmp(&b.timestamp).then_with(|| a.value.cmp(&b.value))
                });
                span.annotations.dedup();
                span.tags = builder.tags;
                span
            })
            .collect()
    }
}
