//! The Zipkin v2 query API held to Zipkin's definition: the answers of each endpoint of
//! `zipkin2-api.yaml` (openzipkin/zipkin-api) checked against its definitions (`Span`,
//! `Endpoint`, `Annotation`, `Tags`, `Trace`, `ListOfTraces`, `DependencyLink`, lists of names),
//! on the query port and on the Zipkin collector's port, for traces that real tracers sent in
//! every format; the contents checked against what each tracer says it sent; every search
//! parameter on traces with known answers; a 400 naming each bad parameter; and no path of one
//! API shadowing another on either port.

// Helpers outside `#[test]` functions fail their test by panicking, as the tests do.
#![allow(clippy::unwrap_used)]

mod common;
mod query_compat;

use std::collections::BTreeSet;

use common::{ExpectedTrace, TestServer, get, post, request, same_trace_id};
use http::StatusCode;
use query_compat::{
    ITEMS_TRACE, PAYMENT_TRACE, RENDER_TRACE, an_hour_ago, encode, expected_links, hex,
    now_unix_nano, replay_every_capture, send_small_shop,
};
use serde_json::{Value, json};

/// Checks JSON against the definitions of `zipkin2-api.yaml`: required fields, JSON types,
/// formats (`ipv4`, `ipv6`, `int64`), patterns and lengths of ids, the `kind` enum, a `duration`
/// of at least 1, unique annotations, tags of string values. Fields the definition does not name
/// are reported too: Zipkin writes none.
mod zipkin_model {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use serde_json::{Map, Value};

    #[derive(Default)]
    pub struct Check {
        pub problems: Vec<String>,
    }

    impl Check {
        fn fail(&mut self, path: &str, problem: impl std::fmt::Display) {
            self.problems.push(format!("{path}: {problem}"));
        }

        fn object<'a>(
            &mut self,
            path: &str,
            value: &'a Value,
            required: &[&str],
            optional: &[&str],
        ) -> Option<&'a Map<String, Value>> {
            let Some(object) = value.as_object() else {
                self.fail(path, format!("expected an object, found {value}"));
                return None;
            };
            for key in required {
                if !object.contains_key(*key) {
                    self.fail(path, format!("missing required field {key:?}"));
                }
            }
            for key in object.keys() {
                if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                    self.fail(path, format!("field {key:?} is not in the definition"));
                }
            }
            Some(object)
        }

        fn array<'a>(&mut self, path: &str, value: &'a Value) -> &'a [Value] {
            match value.as_array() {
                Some(items) => items,
                None => {
                    self.fail(path, format!("expected an array, found {value}"));
                    &[]
                }
            }
        }

        fn string<'a>(&mut self, path: &str, value: Option<&'a Value>) -> Option<&'a str> {
            let value = value?;
            let text = value.as_str();
            if text.is_none() {
                self.fail(path, format!("expected a string, found {value}"));
            }
            text
        }

        /// `type: integer, format: int64`, at least `minimum`.
        fn int64(&mut self, path: &str, value: Option<&Value>, minimum: i64) {
            let Some(value) = value else { return };
            match value.as_i64() {
                Some(n) if n >= minimum => {}
                Some(n) => self.fail(path, format!("{n} is below the minimum {minimum}")),
                None => self.fail(path, format!("expected an int64, found {value}")),
            }
        }

        /// `pattern: "[a-f0-9]{16,32}"` with the definition's length bounds.
        fn hex_id(&mut self, path: &str, value: Option<&Value>, min: usize, max: usize) {
            if let Some(text) = self.string(path, value) {
                let hex = text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !hex || text.len() < min || text.len() > max {
                    self.fail(
                        path,
                        format!("{text:?} is not {min} to {max} lower-case hex digits"),
                    );
                }
            }
        }

        fn boolean(&mut self, path: &str, value: Option<&Value>) {
            if let Some(value) = value
                && !value.is_boolean()
            {
                self.fail(path, format!("expected a boolean, found {value}"));
            }
        }
    }

    /// A list of names: `type: array, items: type: string`. Zipkin sorts them, without repeats.
    pub fn names(value: &Value) -> Vec<String> {
        let mut check = Check::default();
        let items = check.array("$", value);
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(name) = check.string(&format!("$[{i}]"), Some(item)) {
                names.push(name);
            }
        }
        if names.windows(2).any(|pair| pair[0] >= pair[1]) {
            check.fail("$", "names are not sorted and distinct");
        }
        check.problems
    }

    /// `ListOfTraces`: an array of `Trace`.
    pub fn list_of_traces(value: &Value) -> Vec<String> {
        let mut check = Check::default();
        for (i, item) in check.array("$", value).iter().enumerate() {
            trace(&mut check, &format!("$[{i}]"), item);
        }
        check.problems
    }

    /// `Trace`: an array of `Span` with one trace id.
    pub fn one_trace(value: &Value) -> Vec<String> {
        let mut check = Check::default();
        trace(&mut check, "$", value);
        check.problems
    }

    fn trace(check: &mut Check, path: &str, value: &Value) {
        let spans = check.array(path, value);
        if spans.is_empty() {
            check.fail(path, "a trace has spans");
        }
        let first_id = spans.first().and_then(|s| s["traceId"].as_str()).unwrap_or_default();
        for (i, item) in spans.iter().enumerate() {
            let path = format!("{path}[{i}]");
            span(check, &path, item);
            if item["traceId"].as_str() != Some(first_id) {
                check.fail(&path, "the spans of a trace differ in traceId");
            }
        }
    }

    /// `Span`.
    fn span(check: &mut Check, path: &str, value: &Value) {
        let Some(object) = check.object(
            path,
            value,
            &["traceId", "id"],
            &[
                "name",
                "parentId",
                "kind",
                "timestamp",
                "duration",
                "debug",
                "shared",
                "localEndpoint",
                "remoteEndpoint",
                "annotations",
                "tags",
            ],
        ) else {
            return;
        };
        let field = |key: &str| format!("{path}.{key}");
        check.hex_id(&field("traceId"), object.get("traceId"), 16, 32);
        check.hex_id(&field("id"), object.get("id"), 16, 16);
        check.hex_id(&field("parentId"), object.get("parentId"), 16, 16);
        check.string(&field("name"), object.get("name"));
        if let Some(kind) = check.string(&field("kind"), object.get("kind"))
            && !["CLIENT", "SERVER", "PRODUCER", "CONSUMER"].contains(&kind)
        {
            check.fail(&field("kind"), format!("{kind:?} is not in the enum"));
        }
        check.int64(&field("timestamp"), object.get("timestamp"), 0);
        check.int64(&field("duration"), object.get("duration"), 1);
        check.boolean(&field("debug"), object.get("debug"));
        check.boolean(&field("shared"), object.get("shared"));
        for key in ["localEndpoint", "remoteEndpoint"] {
            if let Some(value) = object.get(key) {
                endpoint(check, &field(key), value);
            }
        }
        if let Some(value) = object.get("annotations") {
            let annotations = check.array(&field("annotations"), value);
            for (i, annotation) in annotations.iter().enumerate() {
                let path = format!("{path}.annotations[{i}]");
                if let Some(a) = check.object(&path, annotation, &["timestamp", "value"], &[]) {
                    check.int64(&format!("{path}.timestamp"), a.get("timestamp"), 0);
                    check.string(&format!("{path}.value"), a.get("value"));
                }
            }
            // `uniqueItems: true`.
            let distinct: std::collections::BTreeSet<String> =
                annotations.iter().map(Value::to_string).collect();
            if distinct.len() != annotations.len() {
                check.fail(&field("annotations"), "annotations repeat");
            }
        }
        if let Some(value) = object.get("tags") {
            match value.as_object() {
                // `additionalProperties: type: string`.
                Some(tags) => {
                    for (key, tag) in tags {
                        check.string(&format!("{path}.tags.{key}"), Some(tag));
                    }
                }
                None => check.fail(&field("tags"), format!("expected an object, found {value}")),
            }
        }
    }

    /// `Endpoint`: `serviceName`, `ipv4` (`format: ipv4`), `ipv6` (`format: ipv6`), `port`.
    fn endpoint(check: &mut Check, path: &str, value: &Value) {
        let Some(object) = check.object(path, value, &[], &["serviceName", "ipv4", "ipv6", "port"])
        else {
            return;
        };
        check.string(&format!("{path}.serviceName"), object.get("serviceName"));
        if let Some(ip) = check.string(&format!("{path}.ipv4"), object.get("ipv4"))
            && ip.parse::<Ipv4Addr>().is_err()
        {
            check.fail(&format!("{path}.ipv4"), format!("{ip:?} is not an IPv4 address"));
        }
        if let Some(ip) = check.string(&format!("{path}.ipv6"), object.get("ipv6"))
            && ip.parse::<Ipv6Addr>().is_err()
        {
            check.fail(&format!("{path}.ipv6"), format!("{ip:?} is not an IPv6 address"));
        }
        // "Please don't set to zero."
        check.int64(&format!("{path}.port"), object.get("port"), 1);
        if object.get("port").and_then(Value::as_i64).is_some_and(|port| port > 65_535) {
            check.fail(&format!("{path}.port"), "is not a port");
        }
    }

    /// `type: array, items: DependencyLink`: `parent`, `child`, `callCount` required,
    /// `errorCount`.
    pub fn dependency_links(value: &Value) -> Vec<String> {
        let mut check = Check::default();
        for (i, item) in check.array("$", value).iter().enumerate() {
            let path = format!("$[{i}]");
            if let Some(link) =
                check.object(&path, item, &["parent", "child", "callCount"], &["errorCount"])
            {
                check.string(&format!("{path}.parent"), link.get("parent"));
                check.string(&format!("{path}.child"), link.get("child"));
                check.int64(&format!("{path}.callCount"), link.get("callCount"), 0);
                check.int64(&format!("{path}.errorCount"), link.get("errorCount"), 0);
            }
        }
        check.problems
    }
}

/// `GET` on a listener; a 200 whose JSON holds to `definition`.
async fn get_ok(
    server: &TestServer,
    listener: &str,
    path: &str,
    definition: fn(&Value) -> Vec<String>,
) -> Value {
    let reply = server.send(listener, get(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{listener} {path}: {}", reply.text());
    assert_eq!(reply.content_type(), "application/json", "{listener} {path}");
    let body = reply.json();
    let problems = definition(&body);
    assert!(problems.is_empty(), "{listener} {path}:\n  {}", problems.join("\n  "));
    body
}

/// The same answer on the query port and on the Zipkin port.
async fn get_both(server: &TestServer, path: &str, definition: fn(&Value) -> Vec<String>) -> Value {
    let on_query = get_ok(server, "query", path, definition).await;
    let on_zipkin = get_ok(server, "zipkin", path, definition).await;
    assert_eq!(on_query, on_zipkin, "{path}: the two ports answer alike");
    on_query
}

/// A span as a Zipkin v2 answer shows it.
#[derive(Debug)]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    name: String,
    service: String,
    /// Zipkin marks a failed span with an `error` tag.
    error: bool,
}

fn zipkin_spans(trace: &Value) -> Vec<ZipkinSpan> {
    let text = |span: &Value, key: &str| span[key].as_str().unwrap_or_default().to_owned();
    trace
        .as_array()
        .expect("a trace")
        .iter()
        .map(|span| ZipkinSpan {
            trace_id: text(span, "traceId"),
            id: text(span, "id"),
            parent_id: span["parentId"].as_str().map(str::to_owned),
            name: text(span, "name"),
            service: span["localEndpoint"]["serviceName"].as_str().unwrap_or_default().to_owned(),
            error: span["tags"].get("error").is_some(),
        })
        .collect()
}

/// Compares a trace with what its tracer sent, span by span. Zipkin returns the two halves of a
/// shared span as stored, with one id; they differ in service.
fn compare(want: &ExpectedTrace, got: &[ZipkinSpan], fold_case: bool) -> Vec<String> {
    let fold = |s: &str| if fold_case { s.to_lowercase() } else { s.to_owned() };
    let mut problems = Vec::new();
    if got.len() != want.spans.len() {
        problems.push(format!("expected {} spans, read {}", want.spans.len(), got.len()));
    }
    let mut used = vec![false; got.len()];
    for expected in &want.spans {
        let found = got.iter().enumerate().position(|(i, span)| {
            !used[i]
                && span.id == expected.span_id
                && fold(&span.name) == fold(&expected.name)
                && fold(&span.service) == fold(&expected.service)
        });
        let Some(i) = found else {
            problems.push(format!(
                "span {} {:?} of {} not found",
                expected.span_id, expected.name, expected.service
            ));
            continue;
        };
        used[i] = true;
        let span = &got[i];
        if !same_trace_id(&span.trace_id, &want.trace_id) {
            problems.push(format!("span {} has trace id {}", span.id, span.trace_id));
        }
        if span.parent_id != expected.parent_span_id {
            problems.push(format!(
                "span {} {:?}: parent {:?}, expected {:?}",
                span.id, span.name, span.parent_id, expected.parent_span_id
            ));
        }
        if span.error != expected.error {
            problems.push(format!("span {} {:?}: error is {}", span.id, span.name, span.error));
        }
    }
    problems
}

#[tokio::test]
async fn answers_about_every_captured_tracer_hold_to_zipkins_definition_and_what_was_sent() {
    let server = TestServer::new();
    let folders = replay_every_capture(&server).await;
    let services_body = get_both(&server, "/api/v2/services", zipkin_model::names).await;
    let services: Vec<&str> =
        services_body.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    get_both(&server, "/api/v2/autocompleteKeys", zipkin_model::names).await;
    get_both(&server, "/api/v2/autocompleteValues?key=http.method", zipkin_model::names).await;

    let mut folders_with_links = 0;
    for folder in &folders {
        let name = &folder.name;
        let mut problems = Vec::new();
        let (mut first, mut last) = (u64::MAX, 0u64);
        for trace in &folder.expected {
            let body = get_both(
                &server,
                &format!("/api/v2/trace/{}", trace.trace_id),
                zipkin_model::one_trace,
            )
            .await;
            problems.extend(compare(trace, &zipkin_spans(&body), folder.fold_case));
            for span in body.as_array().unwrap() {
                let start = span["timestamp"].as_u64().unwrap_or_default();
                first = first.min(start);
                last = last.max(start + span["duration"].as_u64().unwrap_or_default());
            }
        }

        let missing = "0123456789abcdef0123456789abcdef";
        let ids: Vec<&str> = folder.expected.iter().map(|t| t.trace_id.as_str()).collect();
        let path = format!("/api/v2/traceMany?traceIds={},{missing}", ids.join(","));
        let body = get_both(&server, &path, zipkin_model::list_of_traces).await;
        assert_eq!(body.as_array().unwrap().len(), ids.len(), "{name}: the traces found");

        // A search by each service, in a window of the folder's traces (ms).
        let end_ts = last / 1_000 + 1;
        let lookback = end_ts - first / 1_000 + 1;
        let folder_services: BTreeSet<&str> =
            folder.expected.iter().flat_map(|t| &t.spans).map(|s| s.service.as_str()).collect();
        for expected_service in folder_services {
            let service = services
                .iter()
                .find(|s| s.eq_ignore_ascii_case(expected_service))
                .unwrap_or_else(|| panic!("{name}: {expected_service} not in /api/v2/services"));
            let path = format!(
                "/api/v2/traces?serviceName={}&endTs={end_ts}&lookback={lookback}&limit=1000",
                encode(service)
            );
            let body = get_both(&server, &path, zipkin_model::list_of_traces).await;
            let found: Vec<Vec<ZipkinSpan>> =
                body.as_array().unwrap().iter().map(zipkin_spans).collect();
            for trace in folder.expected.iter().filter(|t| {
                t.spans.iter().any(|s| s.service.eq_ignore_ascii_case(expected_service))
            }) {
                match found.iter().find(|spans| same_trace_id(&spans[0].trace_id, &trace.trace_id))
                {
                    Some(spans) => problems.extend(compare(trace, spans, folder.fold_case)),
                    None => problems.push(format!("search by {service} misses {}", trace.trace_id)),
                }
            }
            for spans in &found {
                if !spans.iter().any(|s| s.service == *service) {
                    problems.push(format!("search by {service} found a trace without it"));
                }
            }

            let path = format!("/api/v2/spans?serviceName={}", encode(service));
            let body = get_both(&server, &path, zipkin_model::names).await;
            let span_names: Vec<&str> =
                body.as_array().unwrap().iter().filter_map(Value::as_str).collect();
            for span in folder.expected.iter().flat_map(|t| &t.spans) {
                if span.service.eq_ignore_ascii_case(expected_service)
                    && !span_names.iter().any(|n| n.eq_ignore_ascii_case(&span.name))
                {
                    problems.push(format!("{service} lacks span name {:?}", span.name));
                }
            }
            let path = format!("/api/v2/remoteServices?serviceName={}", encode(service));
            get_both(&server, &path, zipkin_model::names).await;
        }
        let path = format!("/api/v2/dependencies?endTs={end_ts}&lookback={lookback}");
        let links = get_both(&server, &path, zipkin_model::dependency_links).await;
        let fold = |s: &str| if folder.fold_case { s.to_lowercase() } else { s.to_owned() };
        let links: BTreeSet<(String, String)> = links
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (fold(l["parent"].as_str().unwrap()), fold(l["child"].as_str().unwrap())))
            .collect();
        let expected = expected_links(folder);
        folders_with_links += usize::from(!expected.is_empty());
        for link in expected {
            if !links.contains(&link) {
                problems.push(format!("no dependency link {link:?} in {links:?}"));
            }
        }
        assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
    }
    assert!(folders_with_links >= 10, "calls between services are checked");
}

/// The first trace id of each trace a search on the small shop finds, in order.
async fn search(server: &TestServer, query: &str) -> Vec<u128> {
    let body =
        get_both(server, &format!("/api/v2/traces?{query}"), zipkin_model::list_of_traces).await;
    body.as_array()
        .unwrap()
        .iter()
        .map(|trace| u128::from_str_radix(trace[0]["traceId"].as_str().unwrap(), 16).unwrap())
        .collect()
}

#[tokio::test]
async fn every_search_parameter_narrows_the_search_as_zipkins_does() {
    let server = TestServer::new();
    let base = an_hour_ago();
    send_small_shop(&server, base).await;
    let all = [ITEMS_TRACE, RENDER_TRACE, PAYMENT_TRACE];
    let none = Vec::<u128>::new();

    assert_eq!(search(&server, "").await, all);
    assert_eq!(search(&server, "serviceName=frontend").await, [RENDER_TRACE, PAYMENT_TRACE]);
    assert_eq!(
        search(&server, "serviceName=FRONTEND").await,
        [RENDER_TRACE, PAYMENT_TRACE],
        "names ignore case"
    );
    assert_eq!(search(&server, "serviceName=frontend&spanName=render").await, [RENDER_TRACE]);
    assert_eq!(search(&server, "serviceName=frontend&spanName=RENDER").await, [RENDER_TRACE]);
    assert_eq!(
        search(&server, "serviceName=frontend&spanName=all").await,
        [RENDER_TRACE, PAYMENT_TRACE]
    );
    assert_eq!(search(&server, "spanName=SELECT%20orders").await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, "limit=1").await, [ITEMS_TRACE]);

    // Remote services: by `peer.service`, and by what a client reached (`db.system`).
    assert_eq!(search(&server, "remoteServiceName=payments").await, [PAYMENT_TRACE]);
    assert_eq!(
        search(&server, "serviceName=payments&remoteServiceName=postgresql").await,
        [PAYMENT_TRACE]
    );
    assert_eq!(search(&server, "serviceName=frontend&remoteServiceName=postgresql").await, none);
    assert_eq!(search(&server, "remoteServiceName=PostgreSQL").await, [PAYMENT_TRACE], "any case");

    // annotationQuery: `key=value` tags, bare tag keys, annotations (events), `error`.
    let q = |text: &str| format!("annotationQuery={}", encode(text));
    assert_eq!(search(&server, &q("error")).await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, &q("retried")).await, [PAYMENT_TRACE], "an annotation");
    assert_eq!(search(&server, &q("http.request.method")).await, [PAYMENT_TRACE], "a tag key");
    assert_eq!(search(&server, &q("deployment.environment=")).await, [ITEMS_TRACE], "any value");
    assert_eq!(
        search(&server, &q("http.request.method=GET and http.response.status_code=200")).await,
        [PAYMENT_TRACE]
    );
    assert_eq!(search(&server, &q("http.request.method=POST")).await, none);
    assert_eq!(search(&server, &q("deployment.environment=prod")).await, [ITEMS_TRACE]);
    assert_eq!(search(&server, &q("error and retried")).await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, &q("error=card declined")).await, [PAYMENT_TRACE]);
    // One span meets every condition: the database span did not fail.
    assert_eq!(search(&server, &q("error and db.system")).await, none);

    // Durations in microseconds.
    assert_eq!(search(&server, "minDuration=400000").await, [RENDER_TRACE]);
    assert_eq!(search(&server, "minDuration=1&maxDuration=5000").await, [PAYMENT_TRACE]);

    // The window: endTs and lookback in milliseconds.
    let base_ms = base / 1_000_000;
    assert_eq!(
        search(&server, &format!("endTs={}&lookback=15000", base_ms + 15_000)).await,
        [RENDER_TRACE, PAYMENT_TRACE]
    );
    assert_eq!(
        search(&server, &format!("endTs={}&lookback=10000", base_ms + 15_000)).await,
        [RENDER_TRACE]
    );
    assert_eq!(search(&server, "lookback=60000").await, none, "an hour ago is outside");

    let path = format!("/api/v2/traceMany?traceIds={},{}", hex(ITEMS_TRACE), hex(PAYMENT_TRACE));
    let body = get_both(&server, &path, zipkin_model::list_of_traces).await;
    assert_eq!(body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn names_remote_services_dependencies_and_autocompletion_of_the_small_shop() {
    let server = TestServer::new();
    send_small_shop(&server, an_hour_ago()).await;
    let body = get_both(&server, "/api/v2/services", zipkin_model::names).await;
    assert_eq!(body, json!(["cart", "frontend", "payments"]));
    let body = get_both(&server, "/api/v2/spans?serviceName=frontend", zipkin_model::names).await;
    assert_eq!(body, json!(["GET /cart", "POST /payments", "render"]));
    let body = get_both(
        &server,
        "/api/v2/spans?serviceName=Frontend&spanKind=CLIENT",
        zipkin_model::names,
    )
    .await;
    assert_eq!(body, json!(["POST /payments"]));
    let body = get_both(&server, "/api/v2/spans?serviceName=nobody", zipkin_model::names).await;
    assert_eq!(body, json!([]));

    let body =
        get_both(&server, "/api/v2/remoteServices?serviceName=frontend", zipkin_model::names).await;
    assert_eq!(body, json!(["payments"]));
    let body =
        get_both(&server, "/api/v2/remoteServices?serviceName=payments", zipkin_model::names).await;
    assert_eq!(body, json!(["postgresql"]));

    let end_ts = now_unix_nano() / 1_000_000;
    let path = format!("/api/v2/dependencies?endTs={end_ts}");
    let body = get_both(&server, &path, zipkin_model::dependency_links).await;
    assert_eq!(
        body,
        json!([
            {"parent": "frontend", "child": "payments", "callCount": 1, "errorCount": 1},
            {"parent": "payments", "child": "postgresql", "callCount": 1, "errorCount": 0},
        ])
    );
    let path = format!("/api/v2/dependencies?endTs={end_ts}&lookback=60000");
    assert_eq!(get_both(&server, &path, zipkin_model::dependency_links).await, json!([]));

    let keys = get_both(&server, "/api/v2/autocompleteKeys", zipkin_model::names).await;
    for key in ["db.system", "deployment.environment", "http.request.method", "peer.service"] {
        assert!(keys.as_array().unwrap().contains(&json!(key)), "{key}: {keys}");
    }
    let values =
        get_both(&server, "/api/v2/autocompleteValues?key=db.system", zipkin_model::names).await;
    assert_eq!(values, json!(["postgresql"]));
}

#[tokio::test]
async fn every_bad_parameter_gets_a_400_that_names_it() {
    let server = TestServer::new();
    let cases = [
        ("/api/v2/spans", "serviceName"),
        ("/api/v2/spans?serviceName=a&spanKind=up", "spanKind"),
        ("/api/v2/remoteServices", "serviceName"),
        ("/api/v2/traces?minDuration=0", "minDuration"),
        ("/api/v2/traces?minDuration=fast", "minDuration"),
        ("/api/v2/traces?maxDuration=-1", "maxDuration"),
        ("/api/v2/traces?minDuration=10&maxDuration=5", "maxDuration"),
        ("/api/v2/traces?endTs=0", "endTs"),
        ("/api/v2/traces?endTs=now", "endTs"),
        ("/api/v2/traces?lookback=0", "lookback"),
        ("/api/v2/traces?lookback=2678400001", "lookback"),
        ("/api/v2/traces?limit=0", "limit"),
        ("/api/v2/traces?limit=1001", "limit"),
        ("/api/v2/traces?annotationQuery=span.kind%3Dup", "annotationQuery"),
        ("/api/v2/traceMany", "traceIds"),
        ("/api/v2/traceMany?traceIds=abc", "traceIds"),
        ("/api/v2/traceMany?traceIds=abc,ABC", "traceIds"),
        ("/api/v2/traceMany?traceIds=abc,xyz", "traceIds"),
        ("/api/v2/dependencies", "endTs"),
        ("/api/v2/dependencies?endTs=x", "endTs"),
        ("/api/v2/dependencies?endTs=1&lookback=0", "lookback"),
        ("/api/v2/autocompleteValues", "key"),
    ];
    for listener in ["query", "zipkin"] {
        for (path, parameter) in cases {
            let reply = server.send(listener, get(path)).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{listener} {path}: {}",
                reply.text()
            );
            assert!(reply.content_type().starts_with("text/plain"), "{listener} {path}");
            let expected = format!("parameter \"{parameter}\"");
            assert!(reply.text().starts_with(&expected), "{listener} {path}: {}", reply.text());
        }
    }
    let metrics = server.metrics().await;
    let bad = metrics.sum("kiseki_query_requests_total", &[("api", "zipkin"), ("status", "400")]);
    assert_eq!(bad, 2 * cases.len() as u64, "counted on both ports");
    assert_eq!(metrics.rejections(), Default::default(), "queries are not receiver rejections");

    let reply = server.send("zipkin", get("/api/v2/trace/xyz")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let reply = server.send("zipkin", get("/api/v2/trace/0123456789ABCDEF")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text().trim(), "0123456789abcdef not found");
}

/// Which API answered: the query requests counted under each API by one request.
async fn answered_by(
    server: &TestServer,
    listener: &str,
    method: &str,
    path: &str,
) -> (StatusCode, Option<&'static str>) {
    let count = |metrics: &common::MetricsText, api: &str| {
        metrics.sum("kiseki_query_requests_total", &[("api", api)])
    };
    let before = server.metrics().await;
    let reply = server.send(listener, request(method, path, None, Vec::new())).await;
    let after = server.metrics().await;
    let apis: Vec<&'static str> = ["jaeger", "zipkin"]
        .into_iter()
        .filter(|api| count(&after, api) != count(&before, api))
        .collect();
    assert!(apis.len() <= 1, "{listener} {method} {path}: counted under {apis:?}");
    (reply.status, apis.first().copied())
}

#[tokio::test]
async fn no_path_of_one_api_shadows_another_on_either_port() {
    let server = TestServer::new();
    let now_us = now_unix_nano() / 1_000;
    let v2 = json!([{
        "traceId": "00000000000000a1", "id": "00000000000000b1", "name": "get /x", "kind": "SERVER",
        "timestamp": now_us, "duration": 10, "localEndpoint": {"serviceName": "shadow-v2"},
    }]);
    let reply =
        server.send("zipkin", post("/api/v2/spans", "application/json", v2.to_string())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "POST /api/v2/spans still collects");
    let v1 = json!([{
        "traceId": "00000000000000a2", "id": "00000000000000b2", "name": "get /y",
        "timestamp": now_us, "duration": 10,
        "annotations": [
            {"timestamp": now_us, "value": "sr", "endpoint": {"serviceName": "shadow-v1"}},
            {"timestamp": now_us + 10, "value": "ss", "endpoint": {"serviceName": "shadow-v1"}},
        ],
    }]);
    let reply =
        server.send("zipkin", post("/api/v1/spans", "application/json", v1.to_string())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    let end_ts = now_us / 1_000 + 1_000;
    let jaeger_paths = [
        "/api/services".to_owned(),
        "/api/services/shadow-v2/operations".to_owned(),
        "/api/operations?service=shadow-v2".to_owned(),
        "/api/traces?service=shadow-v2".to_owned(),
        "/api/traces/00000000000000a1".to_owned(),
        "/api/dependencies".to_owned(),
    ];
    let zipkin_paths = [
        "/api/v2/services".to_owned(),
        "/api/v2/spans?serviceName=shadow-v2".to_owned(),
        "/api/v2/remoteServices?serviceName=shadow-v2".to_owned(),
        "/api/v2/traces?serviceName=shadow-v1".to_owned(),
        "/api/v2/trace/00000000000000a1".to_owned(),
        "/api/v2/traceMany?traceIds=00000000000000a1,00000000000000a2".to_owned(),
        format!("/api/v2/dependencies?endTs={end_ts}"),
        "/api/v2/autocompleteKeys".to_owned(),
        "/api/v2/autocompleteValues?key=http.method".to_owned(),
    ];
    for path in &jaeger_paths {
        assert_eq!(
            answered_by(&server, "query", "GET", path).await,
            (StatusCode::OK, Some("jaeger")),
            "{path}"
        );
        // The Zipkin port serves Zipkin's API only.
        let (status, api) = answered_by(&server, "zipkin", "GET", path).await;
        assert_eq!((status, api), (StatusCode::NOT_FOUND, None), "zipkin port {path}");
    }
    for path in &zipkin_paths {
        for listener in ["query", "zipkin"] {
            let answer = answered_by(&server, listener, "GET", path).await;
            assert_eq!(answer, (StatusCode::OK, Some("zipkin")), "{listener} {path}");
        }
    }
    // The query port collects nothing; the Zipkin port's collector paths stay the collector's.
    assert_eq!(
        answered_by(&server, "query", "POST", "/api/v2/spans").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        answered_by(&server, "query", "POST", "/api/traces").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        answered_by(&server, "zipkin", "GET", "/api/v1/spans").await,
        (StatusCode::METHOD_NOT_ALLOWED, None)
    );

    // Both spans read back through both ports and both APIs.
    let names = get_both(&server, "/api/v2/spans?serviceName=shadow-v1", zipkin_model::names).await;
    assert_eq!(names, json!(["get /y"]));
    let reply = server.send("query", get("/api/traces/00000000000000a2")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let metrics = server.metrics().await;
    assert_eq!(
        metrics.sum("kiseki_receiver_requests_total", &[("receiver", "zipkin")]),
        2,
        "only the POSTs are receiver requests"
    );
}

/// The checker itself: a valid trace passes, and each way of breaking the definition is found.
#[test]
fn the_checker_finds_what_breaks_zipkins_definition() {
    let valid = json!([{
        "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "parentId": "6b221d5bc9e6496c",
        "name": "get /api", "timestamp": 1556604172355737u64, "duration": 1431, "kind": "SERVER",
        "localEndpoint": {"serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306},
        "remoteEndpoint": {"ipv6": "2001:db8::c001", "port": 58648},
        "annotations": [{"timestamp": 1556604172355740u64, "value": "retried"}],
        "tags": {"http.method": "GET"}, "shared": true, "debug": false,
    }]);
    assert_eq!(zipkin_model::one_trace(&valid), Vec::<String>::new());
    for (key, value) in [
        ("traceId", json!("5AF7183FB1D4CF5F")),
        ("traceId", json!("5af7183f")),
        ("id", json!("352bff9a74ca9ad2352bff9a74ca9ad2")),
        ("id", Value::Null),
        ("parentId", json!(12)),
        ("kind", json!("INTERNAL")),
        ("timestamp", json!("1556604172355737")),
        ("duration", json!(0)),
        ("shared", json!("true")),
        ("localEndpoint", json!({"ipv4": "999.1.1.1"})),
        ("remoteEndpoint", json!({"ipv6": "not-an-address"})),
        ("localEndpoint", json!({"port": 0})),
        ("localEndpoint", json!({"service": "backend"})),
        ("annotations", json!([{"value": "x"}])),
        ("annotations", json!([{"timestamp": 1, "value": "x"}, {"timestamp": 1, "value": "x"}])),
        ("tags", json!({"http.status_code": 200})),
        ("binaryAnnotations", json!([])),
    ] {
        let mut broken = valid.clone();
        if value.is_null() {
            broken[0].as_object_mut().unwrap().remove(key);
        } else {
            broken[0][key] = value.clone();
        }
        assert!(!zipkin_model::one_trace(&broken).is_empty(), "{key} = {value} passed");
    }
    assert!(!zipkin_model::names(&json!(["b", "a"])).is_empty(), "unsorted names");
    assert!(!zipkin_model::dependency_links(&json!([{"parent": "a", "child": "b"}])).is_empty());
    assert!(!zipkin_model::list_of_traces(&json!([[]])).is_empty(), "an empty trace");
}
