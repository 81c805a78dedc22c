//! The native query API (`/api/kiseki/v1`) through the real query router (no sockets), over a
//! memory store holding generated shop traffic, hand-built traces and payloads captured from real
//! tracers. Every answer is checked against the OpenAPI document (field names, types, which
//! fields may be null, ids and times as strings) and against what the store holds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use common::{ReadSpan, TestServer, compare_trace, expected_traces};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kiseki_model::{
    AnyValue, Event, KeyValue, Link, Resource, Span, SpanId, SpanKind, Status, TraceId, semconv,
};
use kiseki_server::metrics::Metrics;
use kiseki_server::query::{QueryLimits, QueryState, router};
use kiseki_store::query::sort_newest_first;
use kiseki_store::{
    AttributeFilter, MemoryStore, Operation, Store, StoreError, TraceQuery, TraceSummary,
};
use serde_json::Value;
use tower::ServiceExt;

const BASE: &str = "/api/kiseki/v1";
const OPENAPI: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/query/native/openapi.json"));

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

/// The query router over one store.
struct Api {
    router: Router,
    store: Arc<dyn Store>,
}

/// One answer, with its body as JSON when it is JSON.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Api {
    async fn with_spans(spans: Vec<Span>) -> Self {
        Self::with_limits(spans, QueryLimits::default()).await
    }

    async fn with_limits(spans: Vec<Span>, limits: QueryLimits) -> Self {
        let store = Arc::new(MemoryStore::new(1_000_000));
        store.append(spans).await.expect("append");
        Self::over(store, limits)
    }

    fn over(store: Arc<dyn Store>, limits: QueryLimits) -> Self {
        let state =
            QueryState { store: Arc::clone(&store), metrics: Arc::new(Metrics::new()), limits };
        Self { router: router(state), store }
    }

    async fn get(&self, path: &str) -> Answer {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Answer { status, headers, body }
    }

    /// A 200 answer whose body conforms to the documented schema of `documented_path`.
    async fn ok(&self, path: &str, documented_path: &str) -> Value {
        let answer = self.get(path).await;
        let body = answer.json();
        assert_eq!(answer.status, StatusCode::OK, "{path}: {body}");
        assert_eq!(answer.header("content-type"), "application/json", "{path}");
        Contract::get().check_response(documented_path, "200", &body, path);
        body
    }

    /// An error answer: its status, and a body in the documented error shape.
    async fn error(&self, path: &str) -> (StatusCode, String) {
        let answer = self.get(path).await;
        let body = answer.json();
        assert_eq!(answer.header("content-type"), "application/json", "{path}");
        Contract::get().check(&Contract::get().schema("Error"), &body, path);
        assert_eq!(body["error"]["status"], answer.status.as_u16(), "{path}");
        (answer.status, body["error"]["message"].as_str().unwrap_or_default().to_owned())
    }
}

/// The OpenAPI document, used as the contract every answer is checked against.
struct Contract {
    doc: Value,
}

impl Contract {
    fn get() -> Self {
        Self { doc: serde_json::from_str(OPENAPI).expect("openapi.json") }
    }

    fn schema(&self, name: &str) -> Value {
        self.doc["components"]["schemas"][name].clone()
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(target) => self.resolve(
                self.doc.pointer(target.trim_start_matches('#')).expect("reference resolves"),
            ),
            None => value,
        }
    }

    fn check_response(&self, path: &str, status: &str, body: &Value, what: &str) {
        let response = self.resolve(&self.doc["paths"][path]["get"]["responses"][status]);
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path} documents no JSON {status}");
        self.check(schema, body, what);
    }

    /// Panics with every place where `value` breaks `schema`.
    fn check(&self, schema: &Value, value: &Value, what: &str) {
        let problems = self.problems(schema, value);
        assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
    }

    fn problems(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.walk(schema, value, "$", &mut problems);
        problems
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.walk(part, value, at, problems);
            }
        }
        if value.is_null() {
            if schema["nullable"] != true && schema.get("type").is_some() {
                problems.push(format!("{at}: null where the schema does not allow it"));
            }
            return;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        match schema["type"].as_str() {
            Some("object") => {
                let Some(object) = value.as_object() else {
                    return problems.push(format!("{at}: not an object: {value}"));
                };
                for required in schema["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap_or_default();
                    if !object.contains_key(key) {
                        problems.push(format!("{at}: {key:?} is missing"));
                    }
                }
                if let Some(properties) = schema["properties"].as_object() {
                    for (key, item) in object {
                        match properties.get(key) {
                            Some(property) => {
                                self.walk(property, item, &format!("{at}.{key}"), problems)
                            }
                            None => problems.push(format!("{at}: {key:?} is not documented")),
                        }
                    }
                }
            }
            Some("array") => match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(&schema["items"], item, &format!("{at}[{i}]"), problems);
                    }
                }
                None => problems.push(format!("{at}: not an array: {value}")),
            },
            Some("string") => match value.as_str() {
                Some(text) if !matches_pattern(schema["pattern"].as_str(), text) => {
                    problems.push(format!("{at}: {text:?} does not match {}", schema["pattern"]))
                }
                Some(_) => {}
                None => problems.push(format!("{at}: not a string: {value}")),
            },
            Some("integer") => {
                if !(value.is_i64() || value.is_u64()) {
                    problems.push(format!("{at}: not an integer: {value}"));
                } else if let Some(minimum) = schema["minimum"].as_i64()
                    && value.as_i64().is_some_and(|v| v < minimum)
                {
                    problems.push(format!("{at}: {value} is below {minimum}"));
                }
            }
            Some("number") if !value.is_number() => {
                problems.push(format!("{at}: not a number: {value}"))
            }
            Some("boolean") if !value.is_boolean() => {
                problems.push(format!("{at}: not a boolean: {value}"))
            }
            _ => {}
        }
    }
}

/// The patterns the document uses for ids and times.
fn matches_pattern(pattern: Option<&str>, text: &str) -> bool {
    let lower_hex = |len: usize| {
        text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match pattern {
        Some("^[0-9a-f]{16}$") => lower_hex(16),
        Some("^[0-9a-f]{32}$") => lower_hex(32),
        Some("^[0-9]+$") => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

fn now_nanos() -> u64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    since.as_nanos() as u64
}

/// Generated shop traffic: `traces` traces, one every 100 ms, the last starting 10 s ago.
fn shop_traffic(seed: u64, traces: u64) -> Vec<Span> {
    let mut generator = kiseki_testkit::Generator::new(seed);
    let first = now_nanos() - 10 * SECOND - traces * 100 * MS;
    (0..traces).flat_map(|i| generator.trace(first + i * 100 * MS)).collect()
}

/// What the store's own matching rules say a search returns: the newest `limit` trace ids.
fn oracle(spans: &[Span], query: &TraceQuery) -> Vec<String> {
    let mut by_trace: BTreeMap<TraceId, Vec<&Span>> = BTreeMap::new();
    for span in spans {
        by_trace.entry(span.trace_id).or_default().push(span);
    }
    let mut summaries: Vec<TraceSummary> = by_trace
        .values()
        .filter(|trace| trace.iter().any(|span| query.matches(span)))
        .filter_map(|trace| TraceSummary::of_spans(trace.iter().copied()))
        .collect();
    sort_newest_first(&mut summaries);
    summaries.truncate(query.limit);
    summaries.iter().map(|s| s.trace_id.to_string()).collect()
}

fn trace_ids(body: &Value) -> Vec<String> {
    body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["traceId"].as_str().expect("traceId").to_owned())
        .collect()
}

#[tokio::test]
async fn services_list_every_service_with_its_operations_sorted() {
    let spans = shop_traffic(1, 200);
    let api = Api::with_spans(spans.clone()).await;
    let body = api.ok(&format!("{BASE}/services"), "/services").await;
    let mut expected: BTreeMap<String, BTreeSet<Operation>> = BTreeMap::new();
    for span in &spans {
        expected
            .entry(span.service_name().to_owned())
            .or_default()
            .insert(Operation { name: span.name.to_string(), kind: span.kind });
    }
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, expected.keys().map(String::as_str).collect::<Vec<_>>());
    for service in services {
        let name = service["name"].as_str().unwrap();
        let want: Vec<Value> = expected[name]
            .iter()
            .map(|op| serde_json::json!({"name": op.name, "kind": op.kind.as_str()}))
            .collect();
        assert_eq!(service["operations"].as_array().unwrap(), &want, "{name}");
        let path = format!("{BASE}/services/{}/operations", name.replace(' ', "%20"));
        let alone = api.ok(&path, "/services/{service}/operations").await;
        assert_eq!(alone["operations"], service["operations"], "{name}");
    }
    let unknown = api
        .ok(&format!("{BASE}/services/nobody/operations"), "/services/{service}/operations")
        .await;
    assert_eq!(unknown, serde_json::json!({"operations": []}));
}

#[tokio::test]
async fn attribute_keys_and_values_come_from_the_spans() {
    let api = Api::with_spans(shop_traffic(2, 100)).await;
    let body = api.ok(&format!("{BASE}/attributes/keys"), "/attributes/keys").await;
    let keys: Vec<&str> =
        body["keys"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(keys.contains(&"http.request.method"), "{keys:?}");
    assert!(keys.contains(&semconv::SERVICE_NAME), "resource keys too: {keys:?}");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");

    let path = format!("{BASE}/attributes/values?key=http.request.method");
    let body = api.ok(&path, "/attributes/values").await;
    let values: Vec<&str> =
        body["values"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(values.contains(&"GET") && values.contains(&"POST"), "{values:?}");
    let path = format!("{BASE}/attributes/values?key=http.request.method&limit=1");
    let body = api.ok(&path, "/attributes/values").await;
    assert_eq!(body["values"].as_array().unwrap().len(), 1);
    let path = format!("{BASE}/attributes/values?key=no.such.key");
    assert_eq!(api.ok(&path, "/attributes/values").await, serde_json::json!({"values": []}));
}

#[tokio::test]
async fn search_applies_every_filter_as_the_store_defines_it() {
    let spans = shop_traffic(3, 400);
    let api = Api::with_spans(spans.clone()).await;
    let first_ms = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap() / MS;
    let window = |query: TraceQuery| TraceQuery {
        start_unix_nano: now_nanos() - 3_600 * SECOND,
        end_unix_nano: u64::MAX,
        ..query
    };
    let failing = spans.iter().find(|s| s.is_error()).expect("some failed spans");
    let cases: Vec<(String, TraceQuery)> = vec![
        (String::new(), window(TraceQuery::default())),
        (
            "service=checkout".into(),
            window(TraceQuery { service: Some("checkout".into()), ..Default::default() }),
        ),
        (
            "service=frontend&operation=GET%20%2F".into(),
            window(TraceQuery {
                service: Some("frontend".into()),
                operation: Some("GET /".into()),
                ..Default::default()
            }),
        ),
        (
            format!("operation={}", urlencode(&failing.name)),
            window(TraceQuery { operation: Some(failing.name.to_string()), ..Default::default() }),
        ),
        (
            "attr=http.response.status_code%3D500".into(),
            window(TraceQuery {
                attributes: vec![AttributeFilter::new("http.response.status_code", "500")],
                ..Default::default()
            }),
        ),
        (
            "attr=http.request.method%3DPOST&attr=service.name%3Dfrontend".into(),
            window(TraceQuery {
                attributes: vec![
                    AttributeFilter::new("http.request.method", "POST"),
                    AttributeFilter::new("service.name", "frontend"),
                ],
                ..Default::default()
            }),
        ),
        (
            "minDuration=20ms".into(),
            window(TraceQuery { min_duration_nanos: Some(20 * MS), ..Default::default() }),
        ),
        (
            "minDuration=1ms&maxDuration=2.5ms".into(),
            window(TraceQuery {
                min_duration_nanos: Some(MS),
                max_duration_nanos: Some(2_500_000),
                ..Default::default()
            }),
        ),
        ("errorsOnly=true".into(), window(TraceQuery { errors_only: true, ..Default::default() })),
        (
            "errorsOnly=true&service=payment&limit=3".into(),
            window(TraceQuery {
                errors_only: true,
                service: Some("payment".into()),
                limit: 3,
                ..Default::default()
            }),
        ),
        (
            format!("start={}&end={}&limit=1000", first_ms + 5_000, first_ms + 9_000),
            TraceQuery {
                start_unix_nano: (first_ms + 5_000) * MS,
                end_unix_nano: (first_ms + 9_000) * MS,
                limit: 1000,
                ..Default::default()
            },
        ),
        ("limit=7".into(), window(TraceQuery { limit: 7, ..Default::default() })),
        (
            "lookback=1m&limit=1000".into(),
            TraceQuery {
                start_unix_nano: now_nanos() - 60 * SECOND,
                limit: 1000,
                ..Default::default()
            },
        ),
    ];
    for (query, expected) in cases {
        let path = format!("{BASE}/search?{query}");
        let body = api.ok(&path, "/search").await;
        let got = trace_ids(&body);
        let want = oracle(&spans, &expected);
        assert!(!want.is_empty() || query.contains("status_code"), "{query}: matches nothing");
        if query.starts_with("lookback") {
            // The window ends "now" in the server: only the traces at its edge may differ.
            let got: BTreeSet<_> = got.iter().collect();
            let want: BTreeSet<_> = want.iter().collect();
            assert!(got.symmetric_difference(&want).count() <= 2, "{query}");
            continue;
        }
        assert_eq!(got, want, "{query}");
        assert_eq!(body["limit"], expected.limit, "{query}");
        let starts: Vec<u64> = body["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["startUnixNano"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{query}: newest first");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_summary_tells_the_trace_at_a_glance() {
    let spans = shop_traffic(4, 50);
    let api = Api::with_spans(spans.clone()).await;
    let body = api.ok(&format!("{BASE}/search?limit=50"), "/search").await;
    let traces = body["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 50);
    for summary in traces {
        let id = TraceId::from_hex(summary["traceId"].as_str().unwrap()).unwrap();
        let trace: Vec<&Span> = spans.iter().filter(|s| s.trace_id == id).collect();
        let want = TraceSummary::of_spans(trace.iter().copied()).unwrap();
        let root = want.root.as_ref().unwrap();
        assert_eq!(summary["rootService"], root.service.as_str());
        assert_eq!(summary["rootOperation"], root.operation.as_str());
        assert_eq!(summary["startUnixNano"], want.start_unix_nano.to_string());
        assert_eq!(summary["durationNanos"], want.duration_nanos());
        assert_eq!(summary["spanCount"], trace.len());
        assert_eq!(summary["errorCount"], trace.iter().filter(|s| s.is_error()).count());
        let services: Vec<(&str, u64, u64)> = summary["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["spanCount"].as_u64().unwrap(),
                    s["errorCount"].as_u64().unwrap(),
                )
            })
            .collect();
        let want_services: Vec<(&str, u64, u64)> = want
            .services
            .iter()
            .map(|s| (s.service.as_str(), u64::from(s.span_count), u64::from(s.error_count)))
            .collect();
        assert_eq!(services, want_services);
    }
    // A trace whose root never arrived has no root service or operation.
    let mut orphan = shop_traffic(5, 1);
    orphan.retain(|s| !s.is_root());
    let api = Api::with_spans(orphan).await;
    let body = api.ok(&format!("{BASE}/search"), "/search").await;
    assert_eq!(body["traces"][0]["rootService"], Value::Null);
    assert_eq!(body["traces"][0]["rootOperation"], Value::Null);
}

#[tokio::test]
async fn a_trace_reads_back_span_for_span() {
    let spans = shop_traffic(6, 30);
    let api = Api::with_spans(spans.clone()).await;
    let ids: BTreeSet<TraceId> = spans.iter().map(|s| s.trace_id).collect();
    for id in ids {
        let body = api.ok(&format!("{BASE}/traces/{id}"), "/traces/{traceId}").await;
        let stored: Vec<&Span> = spans.iter().filter(|s| s.trace_id == id).collect();
        let start = stored.iter().map(|s| s.start_time_unix_nano).min().unwrap();
        let end = stored.iter().map(|s| s.end_time_unix_nano).max().unwrap();
        assert_eq!(body["traceId"], id.to_string());
        assert_eq!(body["startUnixNano"], start.to_string());
        assert_eq!(body["durationNanos"], end - start);
        assert_eq!(body["adjustments"], serde_json::json!([]));
        assert_eq!(body["warnings"], serde_json::json!([]));
        let read = body["spans"].as_array().unwrap();
        assert_eq!(read.len(), stored.len());
        let mut seen = BTreeSet::new();
        for (i, json) in read.iter().enumerate() {
            let span_id = json["spanId"].as_str().unwrap();
            let span = stored.iter().find(|s| s.span_id.to_string() == span_id).unwrap();
            assert_eq!(
                json["parentSpanId"],
                span.parent_span_id.map_or(Value::Null, |p| p.to_string().into())
            );
            assert_eq!(json["name"], span.name.as_str());
            assert_eq!(json["kind"], span.kind.as_str());
            assert_eq!(json["service"], span.service_name());
            assert_eq!(json["startUnixNano"], span.start_time_unix_nano.to_string());
            assert_eq!(json["offsetNanos"], span.start_time_unix_nano - start);
            assert_eq!(json["durationNanos"], span.duration_nanos());
            let code = match span.status.code {
                kiseki_model::StatusCode::Unset => "unset",
                kiseki_model::StatusCode::Ok => "ok",
                kiseki_model::StatusCode::Error => "error",
            };
            assert_eq!(json["status"]["code"], code);
            assert_eq!(json["status"]["message"], span.status.message.as_str());
            assert_eq!(json["attributes"].as_array().unwrap().len(), span.attributes.len());
            assert_eq!(json["resource"].as_array().unwrap().len(), span.resource.attributes.len());
            assert_eq!(json["scope"]["name"], span.scope.name.as_str());
            assert_eq!(json["events"].as_array().unwrap().len(), span.events.len());
            for (event, json) in span.events.iter().zip(json["events"].as_array().unwrap()) {
                assert_eq!(json["offsetNanos"], event.time_unix_nano as i64 - start as i64);
            }
            // Sorted by start; a parent is listed before its children.
            if i > 0 {
                let previous: u64 = read[i - 1]["startUnixNano"].as_str().unwrap().parse().unwrap();
                assert!(previous <= span.start_time_unix_nano);
            }
            if let Some(parent) = span.parent_span_id {
                assert!(seen.contains(&parent.to_string()), "parent of {span_id} listed first");
            }
            seen.insert(span_id.to_owned());
        }
    }
}

/// A span of `service` from `start` to `end` (nanoseconds after 2025-10-09) in trace 0x…abc.
fn hand_built(id: u64, parent: Option<u64>, service: &str, start: u64, end: u64) -> Span {
    let base = 1_760_000_000 * SECOND;
    let mut span =
        Span::new(TraceId::new(0xabc).expect("non-zero"), SpanId::new(id).expect("non-zero"));
    span.parent_span_id = parent.and_then(SpanId::new);
    span.name = format!("op-{id}").into();
    span.resource = Arc::new(Resource::for_service(service));
    span.start_time_unix_nano = base + start;
    span.end_time_unix_nano = base + end;
    span
}

#[tokio::test]
async fn attributes_render_with_their_types() {
    let mut span = hand_built(1, None, "typed", 0, 1_000);
    let attributes = [
        ("s", AnyValue::from("Zoë 東京 🚀")),
        ("b", AnyValue::Bool(true)),
        ("i", AnyValue::Int(-42)),
        ("big", AnyValue::Int(1 << 60)),
        ("d", AnyValue::Double(0.25)),
        ("nan", AnyValue::Double(f64::NAN)),
        ("bytes", AnyValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
        ("array", AnyValue::Array(vec![AnyValue::Int(1), AnyValue::from("two")])),
        ("map", AnyValue::Map(vec![KeyValue::new("inner", AnyValue::Double(1.5))])),
        ("empty", AnyValue::Empty),
    ];
    for (key, value) in attributes {
        span.attributes.push(key, value);
    }
    span.status = Status::error("card declined");
    span.kind = SpanKind::Server;
    span.events.push(Event {
        time_unix_nano: span.start_time_unix_nano + 250,
        name: "exception".into(),
        attributes: [KeyValue::new("exception.type", "CardError")].into_iter().collect(),
        dropped_attributes_count: 0,
    });
    span.links.push(Link {
        trace_id: TraceId::new(0xfeed).unwrap(),
        span_id: SpanId::new(0xbeef).unwrap(),
        trace_state: Default::default(),
        flags: 0,
        attributes: [KeyValue::new("link.reason", "retry")].into_iter().collect(),
        dropped_attributes_count: 0,
    });
    span.dropped_attributes_count = 3;
    span.trace_state = "vendor=1".into();
    span.flags = 1;
    let api = Api::with_spans(vec![span]).await;
    let body = api.ok(&format!("{BASE}/traces/abc"), "/traces/{traceId}").await;
    let json = &body["spans"][0];
    let expected = serde_json::json!([
        {"key": "s", "type": "string", "value": "Zoë 東京 🚀"},
        {"key": "b", "type": "bool", "value": true},
        {"key": "i", "type": "int", "value": -42},
        {"key": "big", "type": "int", "value": "1152921504606846976"},
        {"key": "d", "type": "double", "value": 0.25},
        {"key": "nan", "type": "double", "value": "NaN"},
        {"key": "bytes", "type": "bytes", "value": "3q2+7w=="},
        {"key": "array", "type": "array", "value": [1, "two"]},
        {"key": "map", "type": "map", "value": {"inner": 1.5}},
        {"key": "empty", "type": "empty", "value": null},
    ]);
    assert_eq!(json["attributes"], expected);
    assert_eq!(json["status"], serde_json::json!({"code": "error", "message": "card declined"}));
    assert_eq!(json["kind"], "server");
    assert_eq!(json["parentSpanId"], Value::Null);
    assert_eq!(
        json["events"],
        serde_json::json!([{"name": "exception", "offsetNanos": 250,
            "attributes": [{"key": "exception.type", "type": "string", "value": "CardError"}]}])
    );
    assert_eq!(
        json["links"],
        serde_json::json!([{"traceId": "0000000000000000000000000000feed",
            "spanId": "000000000000beef",
            "attributes": [{"key": "link.reason", "type": "string", "value": "retry"}]}])
    );
    assert_eq!(json["droppedAttributesCount"], 3);
    assert_eq!(json["traceState"], "vendor=1");
    assert_eq!(json["flags"], 1);
    assert_eq!(body["traceId"], "00000000000000000000000000000abc");
}

#[tokio::test]
async fn the_trace_shows_what_hygiene_changed_and_what_looks_wrong() {
    let spans = vec![
        hand_built(1, None, "frontend", 0, 1_000_000),
        // `backend` runs 5 ms ahead of `frontend`.
        hand_built(2, Some(1), "backend", 5_100_000, 5_900_000),
        hand_built(3, Some(2), "backend", 5_200_000, 5_300_000),
        hand_built(4, Some(77), "worker", 400_000, 500_000),
    ];
    let stored = spans.clone();
    let api = Api::with_spans(spans).await;
    let body = api.ok(&format!("{BASE}/traces/abc"), "/traces/{traceId}").await;
    let adjustments = body["adjustments"].as_array().unwrap();
    let shifts: Vec<(&str, &str, i64)> = adjustments
        .iter()
        .map(|a| {
            (
                a["spanId"].as_str().unwrap(),
                a["kind"].as_str().unwrap(),
                a["shiftNanos"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shifts,
        [
            ("0000000000000002", "clock_skew", -5_000_000),
            ("0000000000000003", "clock_skew", -5_000_000)
        ]
    );
    assert!(adjustments[0]["message"].as_str().unwrap().contains("ended"), "{adjustments:?}");
    let offsets: BTreeMap<&str, u64> = body["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["spanId"].as_str().unwrap(), s["offsetNanos"].as_u64().unwrap()))
        .collect();
    assert_eq!(offsets["0000000000000002"], 100_000, "inside its parent after the shift");
    assert_eq!(offsets["0000000000000003"], 200_000, "moved with it");
    assert_eq!(body["durationNanos"], 1_000_000);
    assert_eq!(
        body["warnings"],
        serde_json::json!([
            "span 0000000000000004 has a parent 000000000000004d that is not in the trace"
        ])
    );
    // The raw download is what was received, unadjusted.
    let raw = api.get(&format!("{BASE}/traces/abc/raw")).await;
    let mut decoded = kiseki_codec::otlp::decode_traces_json(&raw.body).unwrap().spans;
    decoded.sort_by_key(|s| s.span_id);
    assert_eq!(decoded, stored);
}

#[tokio::test]
async fn zipkin_shared_spans_read_back_as_two_spans() {
    let capture = common::capture_for("node-zipkin-js-v2-json", "zipkin");
    let spans = kiseki_codec::zipkin::decode_v2_json(&capture.body).unwrap();
    let api = Api::with_spans(spans).await;
    for trace in expected_traces("node-zipkin-js-v2-json") {
        let body = api.ok(&format!("{BASE}/traces/{}", trace.trace_id), "/traces/{traceId}").await;
        let read = read_spans(&body);
        let problems = compare_trace(&trace, &read, true);
        assert!(problems.is_empty(), "{problems:#?}");
        let ids: BTreeSet<&str> = read.iter().map(|s| s.span_id.as_str()).collect();
        assert_eq!(ids.len(), read.len(), "every span has its own id");
        let shared = body["adjustments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "shared_span_id" && a["shiftNanos"].is_null())
            .count();
        let reported: Vec<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
        let twice = reported.iter().filter(|id| reported.iter().filter(|r| r == id).count() > 1);
        assert_eq!(shared, twice.count() / 2, "one adjustment per server half");
    }
}

/// The spans of a native trace answer, as the tracer comparisons read them.
fn read_spans(body: &Value) -> Vec<ReadSpan> {
    let trace_id = body["traceId"].as_str().unwrap_or_default();
    body["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|span| ReadSpan {
            trace_id: trace_id.to_owned(),
            span_id: span["spanId"].as_str().unwrap_or_default().to_owned(),
            parent_span_id: span["parentSpanId"].as_str().map(str::to_owned),
            name: span["name"].as_str().unwrap_or_default().to_owned(),
            service: span["service"].as_str().unwrap_or_default().to_owned(),
            error: span["status"]["code"] == "error",
        })
        .collect()
}

/// Every tracer capture, replayed into its receiver, reads back through the native API as the
/// tracer says it sent it, is found by a search for its service, and answers in the documented
/// shapes.
#[tokio::test]
async fn every_tracer_capture_reads_back_through_the_native_api() {
    let folders: Vec<String> = std::fs::read_dir(common::TRACERS)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("expected.json").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(folders.len() > 30);
    for folder in folders {
        let server = TestServer::new();
        for capture in common::captures(&folder).iter().filter(|c| c.carries_spans()) {
            match capture.transport.as_str() {
                "udp" => server.datagram(capture.listener(), &capture.body).await,
                "grpc" => {
                    let reply = server.grpc(capture.listener(), capture.grpc_request(false)).await;
                    assert_eq!(reply.code, Some(0), "{folder}: {}", reply.message);
                }
                _ => {
                    let reply = server.send(capture.listener(), capture.http_request()).await;
                    assert!(reply.status.is_success(), "{folder}: {}", reply.text());
                }
            }
        }
        let contract = Contract::get();
        for trace in expected_traces(&folder) {
            let path = format!("{BASE}/traces/{}", trace.trace_id);
            let reply = server.send("query", common::get(&path)).await;
            assert_eq!(reply.status, StatusCode::OK, "{folder}: {}", reply.text());
            let body = reply.json();
            contract.check_response("/traces/{traceId}", "200", &body, &folder);
            let read = read_spans(&body);
            let problems = compare_trace(&trace, &read, folder.contains("zipkin-js"));
            assert!(problems.is_empty(), "{folder}: {problems:#?}");

            let start: u64 = body["startUnixNano"].as_str().unwrap().parse().unwrap();
            let service = &trace.spans[0].service;
            let search = format!(
                "{BASE}/search?service={}&start={}&end={}&limit=1000",
                urlencode(
                    &read.iter().find(|s| s.service.eq_ignore_ascii_case(service)).unwrap().service
                ),
                start / MS,
                start / MS + 3_600_000
            );
            let reply = server.send("query", common::get(&search)).await;
            assert_eq!(reply.status, StatusCode::OK, "{folder}: {}", reply.text());
            let found = reply.json();
            contract.check_response("/search", "200", &found, &folder);
            let ids = trace_ids(&found);
            assert!(
                ids.iter().any(|id| common::same_trace_id(id, &trace.trace_id)),
                "{folder}: {search} did not find {}",
                trace.trace_id
            );
        }
        let reply = server.send("query", common::get(&format!("{BASE}/services"))).await;
        contract.check_response("/services", "200", &reply.json(), &folder);
    }
}

#[tokio::test]
async fn the_raw_download_is_the_stored_trace_in_otlp_json() {
    let capture = common::capture_for("node-otel-otlp-http-json", "otlp_http");
    let mut spans = kiseki_codec::otlp::decode_traces_json(&capture.body).unwrap().spans;
    spans.extend(shop_traffic(7, 5));
    let api = Api::with_spans(spans.clone()).await;
    let ids: BTreeSet<TraceId> = spans.iter().map(|s| s.trace_id).collect();
    for id in ids {
        let answer = api.get(&format!("{BASE}/traces/{id}/raw")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(
            answer.header("content-disposition"),
            format!("attachment; filename=\"trace-{id}.json\"")
        );
        let body = answer.json();
        Contract::get().check_response("/traces/{traceId}/raw", "200", &body, "raw");
        let mut decoded = kiseki_codec::otlp::decode_traces_json(&answer.body).unwrap().spans;
        let mut stored = api.store.trace(id).await.unwrap();
        decoded.sort_by_key(|s| s.span_id);
        stored.sort_by_key(|s| s.span_id);
        assert_eq!(decoded, stored, "trace {id}");
    }
}

#[tokio::test]
async fn unknown_traces_are_404_and_bad_ids_400() {
    let api = Api::with_spans(shop_traffic(8, 3)).await;
    for suffix in ["", "/raw"] {
        let (status, message) = api.error(&format!("{BASE}/traces/0123456789abcdef{suffix}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(message, "trace 00000000000000000123456789abcdef not found");
        for bad in ["xyz", "00000000000000000000000000000000", "0123456789abcdef0123456789abcdef0"]
        {
            let (status, message) = api.error(&format!("{BASE}/traces/{bad}{suffix}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(message.starts_with("parameter \"traceId\": "), "{message}");
        }
    }
    let (status, _) = api.error(&format!("{BASE}/traces/abc?pretty=true")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, message) = api.error(&format!("{BASE}/services/%FF/operations")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("parameter \"service\": "), "{message}");
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_that_names_it() {
    let limits = QueryLimits {
        max_lookback: std::time::Duration::from_secs(24 * 3_600),
        max_results: 50,
        ..QueryLimits::default()
    };
    let api = Api::with_limits(shop_traffic(9, 3), limits).await;
    let now_ms = now_nanos() / MS;
    let cases: Vec<(String, &str, &str)> = vec![
        ("search?limit=51".into(), "limit", "must be at most 50"),
        ("search?limit=0".into(), "limit", "must be at least 1"),
        ("search?limit=many".into(), "limit", "is not a whole number"),
        ("search?limit=1&limit=2".into(), "limit", "more than once"),
        ("search?lookback=25h".into(), "lookback", "must be at most 1d"),
        ("search?lookback=2x".into(), "lookback", "is not a duration"),
        (format!("search?start={}&end={now_ms}", now_ms - 25 * 3_600_000), "start", "at most 1d"),
        (format!("search?start={now_ms}&end={}", now_ms - 1), "end", "must not be before start"),
        ("search?start=soon".into(), "start", "Unix milliseconds"),
        ("search?end=1.5".into(), "end", "Unix milliseconds"),
        ("search?minDuration=quick".into(), "minDuration", "is not a duration"),
        ("search?maxDuration=-1s".into(), "maxDuration", "is negative"),
        ("search?minDuration=2s&maxDuration=1s".into(), "maxDuration", "minDuration"),
        ("search?attr=http.route".into(), "attr", "is not key=value"),
        ("search?errorsOnly=yes".into(), "errorsOnly", "neither true nor false"),
        ("search?servce=checkout".into(), "servce", "is not a parameter"),
        ("attributes/values".into(), "key", "is required"),
        ("attributes/values?key=k&limit=51".into(), "limit", "must be at most 50"),
        ("attributes/keys?prefix=http".into(), "prefix", "is not a parameter"),
        ("services?all=1".into(), "all", "is not a parameter"),
    ];
    for (query, name, problem) in cases {
        let (status, message) = api.error(&format!("{BASE}/{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {message}");
        let prefix = format!("parameter {name:?}: ");
        assert!(message.starts_with(&prefix), "{query}: {message}");
        assert!(message.contains(problem), "{query}: {message}");
    }
    // Within the limits, and with empty values as forms send them, the same searches pass.
    for query in [
        "search?limit=50&lookback=24h",
        "search?service=&operation=&attr=&minDuration=&maxDuration=&errorsOnly=&limit=",
    ] {
        api.ok(&format!("{BASE}/{query}"), "/search").await;
    }
}

/// A store that fails every read the same way, or never answers.
struct FailingStore(Option<StoreError>);

impl FailingStore {
    async fn fail<T>(&self) -> Result<T, StoreError> {
        match &self.0 {
            Some(error) => Err(error.clone()),
            None => std::future::pending().await,
        }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn append(&self, _: Vec<Span>) -> Result<(), StoreError> {
        self.fail().await
    }
    async fn trace(&self, _: TraceId) -> Result<Vec<Span>, StoreError> {
        self.fail().await
    }
    async fn search(&self, _: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        self.fail().await
    }
    async fn services(&self) -> Result<Vec<String>, StoreError> {
        self.fail().await
    }
    async fn operations(&self, _: &str) -> Result<Vec<Operation>, StoreError> {
        self.fail().await
    }
    async fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        self.fail().await
    }
    async fn attribute_values(&self, _: &str, _: usize) -> Result<Vec<String>, StoreError> {
        self.fail().await
    }
    async fn delete_before(&self, _: u64) -> Result<(), StoreError> {
        self.fail().await
    }
}

#[tokio::test]
async fn store_failures_and_slow_queries_keep_the_error_shape() {
    let cases = [
        (Some(StoreError::Overloaded), StatusCode::TOO_MANY_REQUESTS, true),
        (Some(StoreError::Unavailable("disk full".into())), StatusCode::SERVICE_UNAVAILABLE, true),
        (
            Some(StoreError::Failed("damaged block".into())),
            StatusCode::INTERNAL_SERVER_ERROR,
            false,
        ),
        // A store that never answers is cut off by the query timeout.
        (None, StatusCode::SERVICE_UNAVAILABLE, true),
    ];
    for (error, expected, retry) in cases {
        let limits =
            QueryLimits { timeout: std::time::Duration::from_millis(1), ..QueryLimits::default() };
        let api = Api::over(Arc::new(FailingStore(error.clone())), limits);
        for path in [
            "services",
            "services/checkout/operations",
            "attributes/keys",
            "attributes/values?key=k",
            "search",
            "traces/abc",
            "traces/abc/raw",
        ] {
            let what = format!("{error:?} {path}");
            let answer = api.get(&format!("{BASE}/{path}")).await;
            assert_eq!(answer.status, expected, "{what}");
            assert_eq!(answer.headers.contains_key("retry-after"), retry, "{what}");
            let (_, message) = api.error(&format!("{BASE}/{path}")).await;
            match &error {
                Some(error) => assert_eq!(message, error.to_string(), "{what}"),
                None => assert!(message.contains("longer than the limit"), "{what}: {message}"),
            }
        }
    }
}

#[tokio::test]
async fn answers_are_counted_under_the_native_api() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(1_000));
    store.append(shop_traffic(10, 2)).await.unwrap();
    let api = Api::over(store, QueryLimits::default());
    for path in ["services", "search", "search?limit=0", "traces/abc", "openapi.json"] {
        api.get(&format!("{BASE}/{path}")).await;
    }
    let metrics = common::MetricsText(String::from_utf8(api.get("/metrics").await.body).unwrap());
    let count = |status: &str| {
        metrics.sum("kiseki_query_requests_total", &[("api", "native"), ("status", status)])
    };
    assert_eq!(count("200"), 3);
    assert_eq!(count("400"), 1);
    assert_eq!(count("404"), 1);
    assert_eq!(metrics.sum("kiseki_query_requests_total", &[("api", "jaeger")]), 0);
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let api = Api::with_spans(Vec::new()).await;
    let answer = api.get(&format!("{BASE}/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.body, OPENAPI.as_bytes());
    // The document's own schemas hold examples of its shapes: every error example conforms.
    let contract = Contract::get();
    let example = serde_json::json!({"error": {"status": 400, "message": "parameter \"limit\": must be at most 1000"}});
    contract.check(&contract.schema("Error"), &example, "example");
    // And the checker sees what breaks the contract.
    let summary = serde_json::json!({
        "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "rootService": null, "rootOperation": 7,
        "startUnixNano": 1_700_000_000_000_000_000_u64, "durationNanos": 1.5, "spanCount": 1,
        "services": [], "extra": true
    });
    let problems = contract.problems(&contract.schema("TraceSummary"), &summary);
    for expected in [
        "$.traceId: \"4BF92F3577B34DA6A3CE929D0E0E4736\" does not match",
        "$.rootOperation: not a string",
        "$.startUnixNano: not a string",
        "$.durationNanos: not an integer",
        "$: \"errorCount\" is missing",
        "$: \"extra\" is not documented",
    ] {
        assert!(problems.iter().any(|p| p.starts_with(expected)), "{expected}: {problems:#?}");
    }
    assert_eq!(problems.len(), 6, "{problems:#?}");
}
