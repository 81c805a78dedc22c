//! Turns the shop topology into traces: spans with semantic-convention attributes, resources per
//! service instance, long-tailed latencies and occasional errors with stack traces.

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, Resource, Scope, Span, SpanId, SpanKind, Status, Str, TraceId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::topology::{ENDPOINTS, ENTRY_POINTS, Endpoint, Protocol, SERVICES, Step, service_index};

/// Produces the same traffic for the same seed.
pub struct Generator {
    rng: ChaCha8Rng,
    /// Resources of each service's instances, shared by all their spans.
    instances: Vec<Vec<Arc<Resource>>>,
    /// One scope per service and instrumentation kind (http, grpc, db, messaging, internal).
    scopes: Vec<[Arc<Scope>; 5]>,
    /// Multiplies every latency; above 1 for a slow period.
    pub slowdown: f64,
}

const SCOPE_HTTP: usize = 0;
const SCOPE_GRPC: usize = 1;
const SCOPE_DB: usize = 2;
const SCOPE_MESSAGING: usize = 3;
const SCOPE_INTERNAL: usize = 4;

/// A trace under construction.
struct TraceBuilder {
    trace_id: TraceId,
    spans: Vec<Span>,
    /// Which instance of each service serves this trace.
    instance_of: Vec<usize>,
    user_id: String,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instances = SERVICES
            .iter()
            .map(|service| {
                (0..service.instances)
                    .map(|i| Arc::new(instance_resource(service, i, &mut rng)))
                    .collect()
            })
            .collect();
        let scopes =
            SERVICES.iter().map(|service| instrumentation_scopes(service.language)).collect();
        Self { rng, instances, scopes, slowdown: 1.0 }
    }

    /// Another generator of the same shop (the same service instances and scopes) drawing from
    /// its own random stream, for senders that generate in parallel. Its traffic depends only on
    /// the seed and `stream`; stream 0 is the one [`Generator::new`] draws from, so parallel
    /// senders take 1, 2, ... beside the original.
    pub fn fork(&self, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::from_seed(self.rng.get_seed());
        rng.set_stream(stream);
        Self {
            rng,
            instances: self.instances.clone(),
            scopes: self.scopes.clone(),
            slowdown: self.slowdown,
        }
    }

    /// One whole trace that starts at `start_unix_nano`.
    pub fn trace(&mut self, start_unix_nano: u64) -> Vec<Span> {
        let entry = self.pick_entry_point();
        let mut trace = TraceBuilder {
            trace_id: self.trace_id(),
            spans: Vec::with_capacity(48),
            instance_of: self.instances.iter().map(|i| self.rng.random_range(0..i.len())).collect(),
            user_id: format!("{:08x}-{:04x}", self.rng.random::<u32>(), self.rng.random::<u16>()),
        };
        self.serve(&mut trace, entry, None, start_unix_nano, None);
        trace.spans
    }

    /// Whole traces until at least `min_spans` spans, starting one millisecond apart.
    pub fn spans(&mut self, min_spans: usize, start_unix_nano: u64) -> Vec<Span> {
        let mut spans = Vec::with_capacity(min_spans + 64);
        let mut start = start_unix_nano;
        while spans.len() < min_spans {
            spans.extend(self.trace(start));
            start += 1_000_000;
        }
        spans
    }

    fn pick_entry_point(&mut self) -> usize {
        let total: u32 = ENTRY_POINTS.iter().map(|(_, share)| share).sum();
        let mut roll = self.rng.random_range(0..total);
        for &(endpoint, share) in ENTRY_POINTS {
            if roll < share {
                return endpoint;
            }
            roll -= share;
        }
        ENTRY_POINTS[0].0
    }

    fn trace_id(&mut self) -> TraceId {
        TraceId::new(self.rng.random::<u128>() | 1).expect("an odd number is not zero")
    }

    fn span_id(&mut self) -> SpanId {
        SpanId::new(self.rng.random::<u64>() | 1).expect("an odd number is not zero")
    }

    /// A latency around the given median: log-normal, with rare stalls far out in the tail.
    fn latency(&mut self, median_us: u64) -> u64 {
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let mut micros = median_us as f64 * (0.7 * normal).exp() * self.slowdown;
        // Now and then something stalls (a lock, a GC pause, a retry): the tail users complain of.
        if self.rng.random_range(0..1000) < 4 {
            micros *= self.rng.random_range(5.0..40.0);
        }
        (micros * 1_000.0) as u64
    }

    fn resource(&self, trace: &TraceBuilder, service: usize) -> Arc<Resource> {
        Arc::clone(&self.instances[service][trace.instance_of[service]])
    }

    /// Serves one endpoint: the server (or consumer) span and everything under it. Returns the end
    /// time and whether it failed.
    fn serve(
        &mut self,
        trace: &mut TraceBuilder,
        endpoint_index: usize,
        parent: Option<SpanId>,
        start: u64,
        consumer_of: Option<&'static str>,
    ) -> (u64, bool) {
        let endpoint = &ENDPOINTS[endpoint_index];
        let service = service_index(endpoint.service);
        let span_id = self.span_id();
        let slot = trace.spans.len();
        let mut span = Span::new(trace.trace_id, span_id);
        span.parent_span_id = parent;
        span.resource = self.resource(trace, service);
        span.start_time_unix_nano = start;
        span.flags = 1;
        trace.spans.push(span);

        let mut now = start + self.latency(endpoint.self_time_us / 3);
        let mut failure: Option<(&'static str, String)> = None;
        for step in endpoint.steps {
            match *step {
                Step::Call { endpoint: callee, repeat } => {
                    for _ in 0..repeat {
                        let (end, failed) = self.call(trace, service, span_id, callee, now);
                        now = end + self.latency(20);
                        if failed && failure.is_none() {
                            let callee_name = ENDPOINTS[callee].name;
                            failure = Some(("DownstreamError", format!("{callee_name} failed")));
                        }
                    }
                }
                Step::Query { system, namespace, operation, table, statement } => {
                    now = self.query(
                        trace,
                        service,
                        span_id,
                        now,
                        [system, namespace, operation, table, statement],
                    );
                }
                Step::Publish { topic, consumers } => {
                    now = self.publish(trace, service, span_id, now, topic, consumers);
                }
                Step::Internal { name } => {
                    let duration = self.latency(endpoint.self_time_us / 2);
                    let mut child = Span::new(trace.trace_id, self.span_id());
                    child.parent_span_id = Some(span_id);
                    child.name = Str::from_static(name);
                    child.kind = SpanKind::Internal;
                    child.start_time_unix_nano = now;
                    child.end_time_unix_nano = now + duration;
                    child.resource = self.resource(trace, service);
                    child.scope = Arc::clone(&self.scopes[service][SCOPE_INTERNAL]);
                    child.flags = 1;
                    trace.spans.push(child);
                    now += duration;
                }
                Step::Fail { per_mille, exception, message } => {
                    if self.rng.random_range(0..1000) < per_mille {
                        failure = Some((exception, message.to_string()));
                    }
                }
            }
        }
        let end = now + self.latency(endpoint.self_time_us * 2 / 3);
        let failed = failure.is_some();
        let span = &mut trace.spans[slot];
        span.end_time_unix_nano = end;
        self.describe_server_span(span, endpoint, service, consumer_of, &trace.user_id, failed);
        add_application_attributes(span, endpoint.service, &mut self.rng);
        if endpoint.protocol == Protocol::Grpc && consumer_of.is_none() {
            add_message_events(span, &mut self.rng);
        }
        if let Some((exception, message)) = failure {
            record_exception(span, end, exception, &message, endpoint.service);
        }
        (end, failed)
    }

    fn describe_server_span(
        &self,
        span: &mut Span,
        endpoint: &Endpoint,
        service: usize,
        consumer_of: Option<&'static str>,
        user_id: &str,
        failed: bool,
    ) {
        let attrs = &mut span.attributes;
        if let Some(topic) = consumer_of {
            span.name = Str::from_static(endpoint.name);
            span.kind = SpanKind::Consumer;
            span.scope = Arc::clone(&self.scopes[service][SCOPE_MESSAGING]);
            attrs.push("messaging.system", "kafka");
            attrs.push("messaging.operation.type", "process");
            attrs.push("messaging.destination.name", topic);
            attrs.push("messaging.consumer.group.name", endpoint.service);
            attrs.push(
                "messaging.kafka.offset",
                (span.start_time_unix_nano / 1_000_000 % 100_000) as i64,
            );
            return;
        }
        span.kind = SpanKind::Server;
        match endpoint.protocol {
            Protocol::Http => {
                let (method, route) =
                    endpoint.name.split_once(' ').unwrap_or(("GET", endpoint.name));
                span.name = Str::from_static(endpoint.name);
                span.scope = Arc::clone(&self.scopes[service][SCOPE_HTTP]);
                attrs.push("http.request.method", method);
                attrs.push("http.route", route);
                attrs.push("url.path", route.replace("{productId}", "OLJCESPC7Z"));
                attrs.push("url.scheme", "http");
                attrs.push("http.response.status_code", if failed { 500i64 } else { 200 });
                attrs.push("server.address", endpoint.service);
                attrs.push("server.port", 8080i64);
                attrs.push("network.protocol.version", "1.1");
                attrs.push("client.address", "10.42.0.17");
                if endpoint.service == "frontend" {
                    attrs.push(
                        "user_agent.original",
                        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                    );
                    attrs.push("app.user.id", user_id);
                }
            }
            Protocol::Grpc => {
                span.name = Str::from_static(endpoint.name);
                span.scope = Arc::clone(&self.scopes[service][SCOPE_GRPC]);
                push_rpc_attributes(attrs, endpoint.name, failed);
                attrs.push("network.peer.address", "10.42.0.23");
                attrs.push("network.peer.port", 41_312i64);
            }
        }
        if failed {
            span.status = Status::error(format!("{} failed", endpoint.name));
        }
    }

    /// A client span in `caller` and the callee's server span under it.
    fn call(
        &mut self,
        trace: &mut TraceBuilder,
        caller: usize,
        parent: SpanId,
        callee: usize,
        start: u64,
    ) -> (u64, bool) {
        let endpoint = &ENDPOINTS[callee];
        let client_id = self.span_id();
        let slot = trace.spans.len();
        let mut client = Span::new(trace.trace_id, client_id);
        client.parent_span_id = Some(parent);
        client.kind = SpanKind::Client;
        client.start_time_unix_nano = start;
        client.resource = self.resource(trace, caller);
        client.flags = 1;
        trace.spans.push(client);

        let network = self.latency(250);
        let (server_end, failed) =
            self.serve(trace, callee, Some(client_id), start + network, None);
        let end = server_end + self.latency(200);

        let client = &mut trace.spans[slot];
        client.end_time_unix_nano = end;
        let attrs = &mut client.attributes;
        match endpoint.protocol {
            Protocol::Http => {
                let (method, route) =
                    endpoint.name.split_once(' ').unwrap_or(("POST", endpoint.name));
                client.name = Str::from(method);
                client.scope = Arc::clone(&self.scopes[caller][SCOPE_HTTP]);
                attrs.push("http.request.method", method);
                attrs.push("url.full", format!("http://{}:8080{route}", endpoint.service));
                attrs.push("server.address", endpoint.service);
                attrs.push("server.port", 8080i64);
                attrs.push("http.response.status_code", if failed { 500i64 } else { 200 });
                attrs.push("network.protocol.version", "1.1");
            }
            Protocol::Grpc => {
                client.name = Str::from_static(endpoint.name);
                client.scope = Arc::clone(&self.scopes[caller][SCOPE_GRPC]);
                push_rpc_attributes(attrs, endpoint.name, failed);
                attrs.push("server.address", endpoint.service);
                attrs.push("server.port", 50051i64);
                add_message_events(client, &mut self.rng);
            }
        }
        if failed {
            client.status = Status::error("");
        }
        (end, failed)
    }

    fn query(
        &mut self,
        trace: &mut TraceBuilder,
        service: usize,
        parent: SpanId,
        start: u64,
        [system, namespace, operation, table, statement]: [&'static str; 5],
    ) -> u64 {
        let median = if system == "redis" { 300 } else { 1_200 };
        let duration = self.latency(median);
        let mut span = Span::new(trace.trace_id, self.span_id());
        span.parent_span_id = Some(parent);
        span.kind = SpanKind::Client;
        span.name = if table.is_empty() {
            Str::from_static(operation)
        } else {
            Str::from(format!("{operation} {namespace}.{table}"))
        };
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = start + duration;
        span.resource = self.resource(trace, service);
        span.scope = Arc::clone(&self.scopes[service][SCOPE_DB]);
        span.flags = 1;
        let attrs = &mut span.attributes;
        attrs.push("db.system", system);
        attrs.push("db.namespace", namespace);
        attrs.push("db.operation.name", operation);
        if !table.is_empty() {
            attrs.push("db.collection.name", table);
        }
        attrs.push("db.query.text", statement);
        attrs.push("server.address", if system == "redis" { "redis-cart" } else { "postgres" });
        attrs.push("server.port", if system == "redis" { 6379i64 } else { 5432 });
        if system == "postgresql" {
            attrs.push("db.response.returned_rows", self.rng.random_range(0..40i64));
        }
        trace.spans.push(span);
        start + duration
    }

    fn publish(
        &mut self,
        trace: &mut TraceBuilder,
        service: usize,
        parent: SpanId,
        start: u64,
        topic: &'static str,
        consumers: &'static [usize],
    ) -> u64 {
        let duration = self.latency(400);
        let producer_id = self.span_id();
        let mut span = Span::new(trace.trace_id, producer_id);
        span.parent_span_id = Some(parent);
        span.kind = SpanKind::Producer;
        span.name = Str::from(format!("{topic} publish"));
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = start + duration;
        span.resource = self.resource(trace, service);
        span.scope = Arc::clone(&self.scopes[service][SCOPE_MESSAGING]);
        span.flags = 1;
        span.attributes.push("messaging.system", "kafka");
        span.attributes.push("messaging.operation.type", "publish");
        span.attributes.push("messaging.destination.name", topic);
        span.attributes.push("messaging.kafka.message.key", trace.user_id.clone());
        span.attributes.push("server.address", "kafka");
        trace.spans.push(span);
        for &consumer in consumers {
            // Consumers pick the message up a little later, after the producer returned.
            let lag = self.latency(3_000);
            self.serve(trace, consumer, Some(producer_id), start + duration + lag, Some(topic));
        }
        start + duration
    }
}

/// The `rpc.*` attributes client and server spans of a gRPC call both carry.
fn push_rpc_attributes(attrs: &mut Attributes, full_method: &'static str, failed: bool) {
    let (rpc_service, method) = full_method.split_once('/').unwrap_or((full_method, ""));
    attrs.push("rpc.system", "grpc");
    attrs.push("rpc.service", rpc_service);
    attrs.push("rpc.method", method);
    attrs.push("rpc.grpc.status_code", if failed { 2i64 } else { 0 });
}

/// The `message` events that gRPC instrumentations record for each request and response.
fn add_message_events(span: &mut Span, rng: &mut ChaCha8Rng) {
    let sent = span.start_time_unix_nano + 20_000;
    let received = span.end_time_unix_nano.saturating_sub(15_000).max(sent);
    let (first, second) =
        if span.kind == SpanKind::Client { ("SENT", "RECEIVED") } else { ("RECEIVED", "SENT") };
    for (at, direction) in [(sent, first), (received, second)] {
        let mut attributes = Attributes::with_capacity(3);
        attributes.push("message.type", direction);
        attributes.push("message.id", 1i64);
        attributes.push("message.uncompressed_size", rng.random_range(12..4_000i64));
        span.events.push(Event {
            time_unix_nano: at,
            name: Str::from_static("message"),
            attributes,
            dropped_attributes_count: 0,
        });
    }
}

/// What the shop's own code records on its server spans.
fn add_application_attributes(span: &mut Span, service: &str, rng: &mut ChaCha8Rng) {
    const PRODUCTS: &[&str] =
        &["OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N", "0PUK6V6EV0"];
    let attrs = &mut span.attributes;
    match service {
        "product-catalog" => {
            attrs.push("app.product.id", PRODUCTS[rng.random_range(0..PRODUCTS.len())]);
            attrs.push("app.products.count", rng.random_range(1..10i64));
        }
        "cart" => {
            attrs.push("app.cart.items.count", rng.random_range(0..6i64));
            attrs.push("thread.id", rng.random_range(1..64i64));
            attrs.push("thread.name", ".NET ThreadPool Worker");
        }
        "checkout" => {
            attrs.push(
                "app.order.id",
                format!(
                    "{:08x}-{:04x}-4{:03x}",
                    rng.random::<u32>(),
                    rng.random::<u16>(),
                    rng.random::<u16>() & 0xfff
                ),
            );
            attrs.push("app.order.amount", (rng.random_range(500..50_000i64) as f64) / 100.0);
            attrs.push("app.order.items.count", rng.random_range(1..6i64));
            attrs.push("app.shipping.tracking.id", format!("{:016x}", rng.random::<u64>()));
        }
        "payment" => {
            attrs.push(
                "app.payment.card_type",
                if rng.random_bool(0.7) { "visa" } else { "mastercard" },
            );
            attrs.push("app.payment.card_valid", true);
            attrs.push("app.payment.charged", true);
            attrs.push("app.loyalty.level", ["gold", "silver", "platinum"][rng.random_range(0..3)]);
        }
        "currency" => {
            attrs.push("app.currency.conversion.from", "USD");
            attrs.push(
                "app.currency.conversion.to",
                ["EUR", "JPY", "GBP", "CAD"][rng.random_range(0..4)],
            );
        }
        "ad" => {
            attrs.push(
                "app.ads.contextKeys",
                AnyValue::Array(vec![AnyValue::from("accessories"), AnyValue::from("binoculars")]),
            );
            attrs.push("app.ads.count", rng.random_range(1..3i64));
            attrs.push("thread.id", rng.random_range(1..200i64));
            attrs.push("thread.name", "grpc-default-executor-0");
        }
        "recommendation" => {
            attrs.push("app.products_recommended.count", 5i64);
            attrs.push("app.filtered_products.count", rng.random_range(5..10i64));
        }
        _ => {}
    }
}

fn record_exception(span: &mut Span, at: u64, exception: &str, message: &str, service: &str) {
    let mut attributes = Attributes::with_capacity(3);
    attributes.push("exception.type", exception);
    attributes.push("exception.message", message);
    attributes.push("exception.stacktrace", stack_trace(exception, message, service));
    span.events.push(Event {
        time_unix_nano: at,
        name: Str::from_static("exception"),
        attributes,
        dropped_attributes_count: 0,
    });
    span.status = Status::error(message);
}

fn stack_trace(exception: &str, message: &str, service: &str) -> String {
    format!(
        "{exception}: {message}\n    at handle ({service}/src/handler.js:{line})\n    at process ({service}/src/server.js:88)\n    at Layer.handle (node_modules/express/lib/router/layer.js:95)\n    at next (node_modules/express/lib/router/route.js:149)",
        line = 40 + exception.len()
    )
}

fn instance_resource(
    service: &crate::topology::Service,
    instance: u8,
    rng: &mut ChaCha8Rng,
) -> Resource {
    let pod = format!(
        "{}-{:x}-{:05x}",
        service.name,
        rng.random::<u32>() & 0xffffff,
        rng.random::<u32>() & 0xfffff
    );
    let mut attributes = Attributes::with_capacity(12);
    attributes.push("service.name", service.name);
    attributes.push("service.namespace", "shop");
    attributes.push("service.version", service.version);
    attributes.push("service.instance.id", format!("{:032x}", rng.random::<u128>()));
    attributes.push("deployment.environment.name", "production");
    attributes.push("host.name", format!("node-{}", instance % 3 + 1));
    attributes.push("k8s.namespace.name", "shop");
    attributes.push("k8s.pod.name", pod);
    attributes.push("k8s.node.name", format!("node-{}", instance % 3 + 1));
    attributes.push("telemetry.sdk.name", "opentelemetry");
    attributes.push("telemetry.sdk.language", service.language);
    attributes.push("telemetry.sdk.version", "1.38.0");
    Resource { attributes, dropped_attributes_count: 0 }
}

fn instrumentation_scopes(language: &str) -> [Arc<Scope>; 5] {
    let scope = |name: String, version: &str| {
        Arc::new(Scope {
            name: Str::from(name),
            version: Str::new(version),
            attributes: Attributes::new(),
            dropped_attributes_count: 0,
        })
    };
    [
        scope(format!("{language}.instrumentation.http"), "0.57.0"),
        scope(format!("{language}.instrumentation.grpc"), "0.57.0"),
        scope(format!("{language}.instrumentation.db"), "0.49.1"),
        scope(format!("{language}.instrumentation.kafka"), "0.45.0"),
        scope(format!("{language}.app"), ""),
    ]
}

/// How traffic looks by the numbers, for tests and benchmark reports.
pub fn describe(spans: &[Span]) -> String {
    let errors = spans.iter().filter(|s| s.is_error()).count();
    let attrs: usize = spans.iter().map(|s| s.attributes.len()).sum();
    format!(
        "{} spans, {:.1} % errors, {:.1} attributes per span",
        spans.len(),
        errors as f64 * 100.0 / spans.len().max(1) as f64,
        attrs as f64 / spans.len().max(1) as f64
    )
}
