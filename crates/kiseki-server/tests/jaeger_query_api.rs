//! The Jaeger HTTP query API held to Jaeger's definitions: the JSON model of Jaeger's UI
//! (`model/json` of jaegertracing/jaeger: `Trace`, `Span`, `Reference`, `Process`, `Log`,
//! `KeyValue`, `DependencyLink`, `Operation`) inside the query handler's envelope
//! (`structuredResponse {data, total, limit, offset, errors}`, `structuredError {code, msg,
//! traceID}`), checked field by field on answers about traces that real tracers sent in every
//! format; the contents checked against what each tracer says it sent; every search parameter on
//! traces with known answers; a 400 naming each bad parameter.

// Helpers outside `#[test]` functions fail their test by panicking, as the tests do.
#![allow(clippy::unwrap_used)]

mod common;
mod query_compat;

use std::collections::BTreeSet;

use common::{ReadSpan, TestServer, compare_trace, get, read_spans, same_trace_id};
use http::StatusCode;
use query_compat::{
    ITEMS_TRACE, PAYMENT_TRACE, RENDER_TRACE, an_hour_ago, encode, expected_links, hex,
    replay_every_capture, send_small_shop,
};
use serde_json::{Value, json};

/// Checks JSON against Jaeger's query API model. Written from the Go structs' JSON tags: a
/// required field is one without `omitempty`; `references`, `tags` and `logs` are `omitempty` in
/// Jaeger, but its UI and Grafana's data source call `logs.map` and `references.find`, so kiseki
/// always writes them and this checker requires them.
mod jaeger_model {
    use std::collections::BTreeSet;

    use serde_json::{Map, Value};

    #[derive(Default)]
    pub struct Check {
        pub problems: Vec<String>,
    }

    impl Check {
        pub fn fail(&mut self, path: &str, problem: impl std::fmt::Display) {
            self.problems.push(format!("{path}: {problem}"));
        }

        /// An object with every `required` key and no key outside `required` and `optional`.
        pub fn object<'a>(
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
                    self.fail(path, format!("unknown field {key:?}"));
                }
            }
            Some(object)
        }

        pub fn string<'a>(&mut self, path: &str, value: Option<&'a Value>) -> Option<&'a str> {
            match value {
                Some(Value::String(text)) => Some(text),
                None => None,
                Some(other) => {
                    self.fail(path, format!("expected a string, found {other}"));
                    None
                }
            }
        }

        /// A JSON integer that fits Go's `uint64`.
        pub fn unsigned(&mut self, path: &str, value: Option<&Value>) -> Option<u64> {
            match value {
                None => None,
                Some(v) if v.is_u64() => v.as_u64(),
                Some(other) => {
                    self.fail(path, format!("expected an unsigned integer, found {other}"));
                    None
                }
            }
        }

        pub fn integer(&mut self, path: &str, value: Option<&Value>) {
            if let Some(v) = value
                && !(v.is_i64() || v.is_u64())
            {
                self.fail(path, format!("expected an integer, found {v}"));
            }
        }

        pub fn array<'a>(&mut self, path: &str, value: Option<&'a Value>) -> &'a [Value] {
            match value {
                Some(Value::Array(items)) => items,
                None => &[],
                Some(other) => {
                    self.fail(path, format!("expected an array, found {other}"));
                    &[]
                }
            }
        }

        /// Lower-case hex of one of the given lengths (Jaeger's ids).
        pub fn hex(&mut self, path: &str, value: Option<&Value>, lengths: &[usize]) {
            if let Some(text) = self.string(path, value) {
                let hex = text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !hex || !lengths.contains(&text.len()) {
                    self.fail(path, format!("{text:?} is not {lengths:?} lower-case hex digits"));
                }
            }
        }

        /// `null` or an array of strings (Go's `[]string` with or without `omitempty`).
        pub fn warnings(&mut self, path: &str, value: Option<&Value>) {
            if let Some(Value::Null) | None = value {
                return;
            }
            for (i, item) in self.array(path, value).iter().enumerate() {
                self.string(&format!("{path}[{i}]"), Some(item));
            }
        }
    }

    /// `structuredResponse`: `{data, total, limit, offset, errors}`.
    pub fn envelope(value: &Value, data: impl FnOnce(&mut Check, &Value)) -> Vec<String> {
        let mut check = Check::default();
        if let Some(object) =
            check.object("$", value, &["data", "total", "limit", "offset", "errors"], &[])
        {
            for key in ["total", "limit", "offset"] {
                check.integer(&format!("$.{key}"), object.get(key));
            }
            errors(&mut check, object.get("errors"));
            if let Some(value) = object.get("data") {
                data(&mut check, value);
            }
        }
        check.problems
    }

    /// `[]structuredError` or `null`: `{code (omitempty), msg, traceID (omitempty)}`.
    pub fn errors(check: &mut Check, value: Option<&Value>) {
        if let Some(Value::Null) | None = value {
            return;
        }
        for (i, error) in check.array("$.errors", value).iter().enumerate() {
            let path = format!("$.errors[{i}]");
            if let Some(object) = check.object(&path, error, &["msg"], &["code", "traceID"]) {
                check.string(&format!("{path}.msg"), object.get("msg"));
                check.integer(&format!("{path}.code"), object.get("code"));
                check.hex(&format!("{path}.traceID"), object.get("traceID"), &[16, 32]);
            }
        }
    }

    /// The error answer: `data` null, one error whose `code` is the status.
    pub fn error_envelope(value: &Value, status: u16) -> Vec<String> {
        let mut problems = envelope(value, |check, data| {
            if !data.is_null() {
                check.fail("$.data", "an error answer has no data");
            }
        });
        if value["errors"].as_array().map(Vec::len) != Some(1) {
            problems.push("$.errors: expected one error".into());
        }
        if value["errors"][0]["code"] != status {
            problems.push(format!("$.errors[0].code: expected {status}"));
        }
        problems
    }

    pub fn strings(check: &mut Check, value: &Value) {
        for (i, item) in check.array("$.data", Some(value)).iter().enumerate() {
            check.string(&format!("$.data[{i}]"), Some(item));
        }
    }

    /// `[]Operation`: `{name, spanKind}`.
    pub fn operations(check: &mut Check, value: &Value) {
        const KINDS: [&str; 6] = ["", "server", "client", "producer", "consumer", "internal"];
        for (i, item) in check.array("$.data", Some(value)).iter().enumerate() {
            let path = format!("$.data[{i}]");
            if let Some(object) = check.object(&path, item, &["name", "spanKind"], &[]) {
                check.string(&format!("{path}.name"), object.get("name"));
                if let Some(kind) =
                    check.string(&format!("{path}.spanKind"), object.get("spanKind"))
                    && !KINDS.contains(&kind)
                {
                    check.fail(&format!("{path}.spanKind"), format!("unknown kind {kind:?}"));
                }
            }
        }
    }

    /// `[]DependencyLink`: `{parent, child, callCount}`.
    pub fn dependencies(check: &mut Check, value: &Value) {
        for (i, item) in check.array("$.data", Some(value)).iter().enumerate() {
            let path = format!("$.data[{i}]");
            if let Some(object) = check.object(&path, item, &["parent", "child", "callCount"], &[])
            {
                check.string(&format!("{path}.parent"), object.get("parent"));
                check.string(&format!("{path}.child"), object.get("child"));
                check.unsigned(&format!("{path}.callCount"), object.get("callCount"));
            }
        }
    }

    /// `[]Trace`.
    pub fn traces(check: &mut Check, value: &Value) {
        for (i, item) in check.array("$.data", Some(value)).iter().enumerate() {
            trace(check, &format!("$.data[{i}]"), item);
        }
    }

    /// `Trace`: `{traceID, spans, processes, warnings (omitempty)}`.
    pub fn trace(check: &mut Check, path: &str, value: &Value) {
        let Some(object) =
            check.object(path, value, &["traceID", "spans", "processes"], &["warnings"])
        else {
            return;
        };
        check.hex(&format!("{path}.traceID"), object.get("traceID"), &[16, 32]);
        check.warnings(&format!("{path}.warnings"), object.get("warnings"));
        let mut process_ids = BTreeSet::new();
        match object.get("processes") {
            Some(Value::Object(processes)) => {
                for (id, process_value) in processes {
                    process_ids.insert(id.as_str());
                    process(check, &format!("{path}.processes.{id}"), process_value);
                }
            }
            other => {
                check.fail(&format!("{path}.processes"), format!("expected an object: {other:?}"))
            }
        }
        let trace_id = object.get("traceID").and_then(Value::as_str).unwrap_or_default();
        for (i, span_value) in
            check.array(&format!("{path}.spans"), object.get("spans")).iter().enumerate()
        {
            span(check, &format!("{path}.spans[{i}]"), span_value, trace_id, &process_ids);
        }
    }

    /// `Span`.
    fn span(
        check: &mut Check,
        path: &str,
        value: &Value,
        trace_id: &str,
        processes: &BTreeSet<&str>,
    ) {
        let Some(object) = check.object(
            path,
            value,
            &[
                "traceID",
                "spanID",
                "operationName",
                "references",
                "startTime",
                "duration",
                "tags",
                "logs",
                "processID",
            ],
            &["flags", "warnings"],
        ) else {
            return;
        };
        let field = |key: &str| format!("{path}.{key}");
        check.hex(&field("traceID"), object.get("traceID"), &[16, 32]);
        if object.get("traceID").and_then(Value::as_str) != Some(trace_id) {
            check.fail(&field("traceID"), "differs from the trace's");
        }
        check.hex(&field("spanID"), object.get("spanID"), &[16]);
        check.string(&field("operationName"), object.get("operationName"));
        if let Some(flags) = check.unsigned(&field("flags"), object.get("flags"))
            && flags > u64::from(u32::MAX)
        {
            check.fail(&field("flags"), "does not fit uint32");
        }
        check.unsigned(&field("startTime"), object.get("startTime"));
        check.unsigned(&field("duration"), object.get("duration"));
        check.warnings(&field("warnings"), object.get("warnings"));
        if let Some(id) = check.string(&field("processID"), object.get("processID"))
            && !processes.contains(id)
        {
            check.fail(&field("processID"), format!("{id:?} is not a process of the trace"));
        }
        for (i, reference) in
            check.array(&field("references"), object.get("references")).iter().enumerate()
        {
            let path = format!("{path}.references[{i}]");
            if let Some(r) = check.object(&path, reference, &["refType", "traceID", "spanID"], &[])
            {
                match r.get("refType").and_then(Value::as_str) {
                    Some("CHILD_OF" | "FOLLOWS_FROM") => {}
                    other => check.fail(
                        &format!("{path}.refType"),
                        format!("{other:?} is not a reference type"),
                    ),
                }
                check.hex(&format!("{path}.traceID"), r.get("traceID"), &[16, 32]);
                check.hex(&format!("{path}.spanID"), r.get("spanID"), &[16]);
            }
        }
        key_values(check, &field("tags"), object.get("tags"));
        for (i, log) in check.array(&field("logs"), object.get("logs")).iter().enumerate() {
            let path = format!("{path}.logs[{i}]");
            if let Some(l) = check.object(&path, log, &["timestamp", "fields"], &[]) {
                check.unsigned(&format!("{path}.timestamp"), l.get("timestamp"));
                key_values(check, &format!("{path}.fields"), l.get("fields"));
            }
        }
    }

    /// `Process`: `{serviceName, tags (omitempty)}`.
    fn process(check: &mut Check, path: &str, value: &Value) {
        if let Some(object) = check.object(path, value, &["serviceName"], &["tags"]) {
            check.string(&format!("{path}.serviceName"), object.get("serviceName"));
            key_values(check, &format!("{path}.tags"), object.get("tags"));
        }
    }

    /// `[]KeyValue`: `{key, type, value}`, the value of the JSON type its `type` says. `int64`
    /// values beyond JavaScript's safe integers may be decimal strings, and non-finite `float64`
    /// values the strings `NaN`, `+Inf`, `-Inf`, which Jaeger's UI shows as written.
    fn key_values(check: &mut Check, path: &str, value: Option<&Value>) {
        for (i, kv) in check.array(path, value).iter().enumerate() {
            let path = format!("{path}[{i}]");
            let Some(object) = check.object(&path, kv, &["key", "type", "value"], &[]) else {
                continue;
            };
            check.string(&format!("{path}.key"), object.get("key"));
            let value = &object["value"];
            let ok = match object.get("type").and_then(Value::as_str) {
                Some("string") => value.is_string(),
                Some("binary") => value.as_str().is_some_and(is_base64),
                Some("bool") => value.is_boolean(),
                Some("int64") => {
                    value.is_i64() || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
                }
                Some("float64") => {
                    value.is_number() || matches!(value.as_str(), Some("NaN" | "+Inf" | "-Inf"))
                }
                other => {
                    check.fail(&format!("{path}.type"), format!("{other:?} is not a value type"));
                    true
                }
            };
            if !ok {
                check.fail(&format!("{path}.value"), format!("{value} does not match its type"));
            }
        }
    }

    fn is_base64(text: &str) -> bool {
        text.len().is_multiple_of(4)
            && text
                .trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    }
}

use jaeger_model::{Check, envelope, error_envelope};

/// `GET` on the query port; the answer must be JSON.
async fn get_json(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let reply = server.send("query", get(path)).await;
    assert_eq!(reply.content_type(), "application/json", "{path}: {}", reply.text());
    (reply.status, reply.json())
}

/// A 200 whose body holds to Jaeger's model.
async fn get_ok(server: &TestServer, path: &str, data: impl FnOnce(&mut Check, &Value)) -> Value {
    let (status, body) = get_json(server, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let problems = envelope(&body, data);
    assert!(problems.is_empty(), "{path}:\n  {}", problems.join("\n  "));
    body
}

/// The spans of each trace of a `data` array, as the interop checks read them.
fn spans_of_each(body: &Value) -> Vec<Vec<ReadSpan>> {
    let traces = body["data"].as_array().cloned().unwrap_or_default();
    traces.into_iter().map(|trace| read_spans(&json!({ "data": [trace] }))).collect()
}

fn trace_ids(body: &Value) -> Vec<String> {
    let traces = body["data"].as_array().cloned().unwrap_or_default();
    traces.iter().map(|t| t["traceID"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The earliest start and latest end of a trace's spans, in Unix microseconds.
fn time_range(trace: &Value) -> (u64, u64) {
    let spans = trace["spans"].as_array().expect("spans");
    let start = spans.iter().filter_map(|s| s["startTime"].as_u64()).min().expect("a span");
    let end = spans
        .iter()
        .filter_map(|s| Some(s["startTime"].as_u64()? + s["duration"].as_u64()?))
        .max()
        .expect("a span");
    (start, end)
}

#[tokio::test]
async fn answers_about_every_captured_tracer_hold_to_jaegers_model_and_what_was_sent() {
    let server = TestServer::new();
    let folders = replay_every_capture(&server).await;

    let services_body = get_ok(&server, "/api/services", jaeger_model::strings).await;
    let services: BTreeSet<&str> =
        services_body["data"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(services_body["total"], services.len());

    for folder in &folders {
        let name = &folder.name;
        let mut problems = Vec::new();
        let mut window = (u64::MAX, 0u64);
        for trace in &folder.expected {
            let path = format!("/api/traces/{}", trace.trace_id);
            let body = get_ok(&server, &path, jaeger_model::traces).await;
            let read = read_spans(&body);
            problems.extend(compare_trace(trace, &read, folder.fold_case));
            let (start, end) = time_range(&body["data"][0]);
            window = (window.0.min(start), window.1.max(end));
        }

        // Both traces at once by `traceID`, and one that is not there.
        let missing = "0123456789abcdef0123456789abcdef";
        let mut path = format!("/api/traces?traceID={missing}");
        for trace in &folder.expected {
            path.push_str(&format!("&traceID={}", trace.trace_id));
        }
        let body = get_ok(&server, &path, jaeger_model::traces).await;
        assert_eq!(body["data"].as_array().unwrap().len(), folder.expected.len(), "{name}");
        assert_eq!(body["errors"][0]["traceID"], missing, "{name}: {body}");
        for (trace, read) in folder.expected.iter().zip(spans_of_each(&body)) {
            problems.extend(compare_trace(trace, &read, folder.fold_case));
        }

        // A search by each service finds every trace with a span of that service in the window.
        let (start, end) = (window.0 - 1, window.1 + 1);
        let folder_services: BTreeSet<&str> =
            folder.expected.iter().flat_map(|t| &t.spans).map(|s| s.service.as_str()).collect();
        for expected_service in folder_services {
            let service = services
                .iter()
                .find(|s| s.eq_ignore_ascii_case(expected_service))
                .unwrap_or_else(|| panic!("{name}: {expected_service} not in /api/services"));
            let path = format!(
                "/api/traces?service={}&start={start}&end={end}&limit=1000&lookback=custom",
                encode(service)
            );
            let body = get_ok(&server, &path, jaeger_model::traces).await;
            let found = trace_ids(&body);
            for trace in folder.expected.iter().filter(|t| {
                t.spans.iter().any(|s| s.service.eq_ignore_ascii_case(expected_service))
            }) {
                if !found.iter().any(|id| same_trace_id(id, &trace.trace_id)) {
                    problems.push(format!("search by {service} misses {}", trace.trace_id));
                }
            }
            for read in spans_of_each(&body) {
                if !read.iter().any(|s| s.service == *service) {
                    problems.push(format!("search by {service} found a trace without it"));
                }
            }

            // Its operations, both ways Jaeger lists them.
            let path = format!("/api/services/{}/operations", encode(service));
            let names_body = get_ok(&server, &path, jaeger_model::strings).await;
            let names: BTreeSet<&str> =
                names_body["data"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            let path = format!("/api/operations?service={}", encode(service));
            let operations = get_ok(&server, &path, jaeger_model::operations).await;
            let operation_names: BTreeSet<&str> = operations["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|op| op["name"].as_str())
                .collect();
            assert_eq!(names, operation_names, "{name}: {service}");
            for span in folder.expected.iter().flat_map(|t| &t.spans) {
                if span.service.eq_ignore_ascii_case(expected_service)
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(&span.name))
                {
                    problems.push(format!("{service} lacks operation {:?}", span.name));
                }
            }
        }

        let path = format!(
            "/api/dependencies?endTs={}&lookback={}",
            end / 1000 + 1,
            (end - start) / 1000 + 2
        );
        let body = get_ok(&server, &path, jaeger_model::dependencies).await;
        let fold = |s: &str| if folder.fold_case { s.to_lowercase() } else { s.to_owned() };
        let links: BTreeSet<(String, String)> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (fold(l["parent"].as_str().unwrap()), fold(l["child"].as_str().unwrap())))
            .collect();
        for link in expected_links(folder) {
            if !links.contains(&link) {
                problems.push(format!("no dependency link {link:?} in {links:?}"));
            }
        }
        assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
    }
}

#[tokio::test]
async fn a_trace_not_found_and_a_bad_trace_id_answer_in_jaegers_error_shape() {
    let server = TestServer::new();
    let (status, body) = get_json(&server, "/api/traces/0123456789abcdef").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_envelope(&body, 404), Vec::<String>::new(), "{body}");
    let (status, body) = get_json(&server, "/api/traces/not-a-trace-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_envelope(&body, 400), Vec::<String>::new(), "{body}");
}

/// The ids of the traces a search on the small shop finds, newest first.
async fn search(server: &TestServer, query: &str) -> Vec<u128> {
    let body = get_ok(server, &format!("/api/traces?{query}"), jaeger_model::traces).await;
    trace_ids(&body).iter().map(|id| u128::from_str_radix(id, 16).expect("hex")).collect()
}

#[tokio::test]
async fn every_search_parameter_narrows_the_search_as_jaegers_does() {
    let server = TestServer::new();
    let base = an_hour_ago();
    send_small_shop(&server, base).await;
    let micros = |ns: u64| ns / 1_000;
    let all = [ITEMS_TRACE, RENDER_TRACE, PAYMENT_TRACE];

    assert_eq!(search(&server, "").await, all, "no service: every service, newest first");
    assert_eq!(search(&server, "service=frontend").await, [RENDER_TRACE, PAYMENT_TRACE]);
    assert_eq!(search(&server, "service=payments").await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, "service=nobody").await, Vec::<u128>::new());
    assert_eq!(search(&server, "service=frontend&operation=render").await, [RENDER_TRACE]);
    assert_eq!(
        search(&server, "service=frontend&operation=GET%20%2Fcart").await,
        [RENDER_TRACE, PAYMENT_TRACE]
    );
    assert_eq!(search(&server, "service=frontend&limit=1").await, [RENDER_TRACE]);

    // Tags, as `tag=key:value` and as `tags={json}`, on span or resource attributes.
    assert_eq!(search(&server, "tag=http.response.status_code:200").await, [PAYMENT_TRACE]);
    assert_eq!(
        search(&server, "tag=http.request.method:GET&tag=http.response.status_code:200").await,
        [PAYMENT_TRACE]
    );
    assert_eq!(search(&server, "tag=http.request.method:POST").await, Vec::<u128>::new());
    let tags = encode(r#"{"db.system":"postgresql"}"#);
    assert_eq!(search(&server, &format!("tags={tags}")).await, [PAYMENT_TRACE]);
    let tags = encode(r#"{"http.response.status_code":200}"#);
    assert_eq!(search(&server, &format!("tags={tags}")).await, [PAYMENT_TRACE], "numbers as text");
    assert_eq!(search(&server, "tag=deployment.environment:prod").await, [ITEMS_TRACE]);
    // One span meets every condition: the status code is on the root, POST on no span with it.
    assert_eq!(
        search(&server, "tag=http.response.status_code:200&tag=span.kind:client").await,
        Vec::<u128>::new()
    );

    // Tags that are fields of the span model.
    assert_eq!(search(&server, "tag=error:true").await, [PAYMENT_TRACE]);
    assert_eq!(
        search(&server, "service=payments&tag=error:false").await,
        [PAYMENT_TRACE],
        "the database span did not fail"
    );
    assert_eq!(
        search(&server, "service=frontend&tag=error:false").await,
        [RENDER_TRACE, PAYMENT_TRACE]
    );
    assert_eq!(search(&server, "tag=error:card%20declined").await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, "tag=span.kind:internal").await, [RENDER_TRACE]);
    assert_eq!(search(&server, "tag=span.kind:client&service=frontend").await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, "tag=otel.status_code:ERROR").await, [PAYMENT_TRACE]);

    // Durations as Go writes them.
    assert_eq!(search(&server, "minDuration=400ms").await, [RENDER_TRACE]);
    assert_eq!(search(&server, "minDuration=0.4s&maxDuration=1s").await, [RENDER_TRACE]);
    assert_eq!(search(&server, "service=frontend&maxDuration=100ms").await, [PAYMENT_TRACE]);
    assert_eq!(search(&server, "maxDuration=5ms").await, [PAYMENT_TRACE], "the database span");

    // The window: start and end in microseconds, or a lookback.
    let (start, end) = (micros(base), micros(base) + 15_000_000);
    assert_eq!(
        search(&server, &format!("start={start}&end={end}&lookback=custom")).await,
        [RENDER_TRACE, PAYMENT_TRACE]
    );
    let start = micros(base) + 5_000_000;
    assert_eq!(search(&server, &format!("start={start}&end={end}")).await, [RENDER_TRACE]);
    assert_eq!(search(&server, "lookback=5m").await, Vec::<u128>::new(), "an hour ago is outside");
    assert_eq!(search(&server, "lookback=2h").await, all);
    assert_eq!(search(&server, "lookback=1d").await, all);

    // Several traces by id; search parameters do not apply to them.
    let query =
        format!("traceID={}&traceID={}&service=nobody", hex(ITEMS_TRACE), hex(PAYMENT_TRACE));
    assert_eq!(search(&server, &query).await, [ITEMS_TRACE, PAYMENT_TRACE]);
}

#[tokio::test]
async fn every_bad_parameter_gets_a_400_that_names_it() {
    let server = TestServer::new();
    for (path, parameter) in [
        ("/api/traces?service=a&start=yesterday", "start"),
        ("/api/traces?service=a&end=later", "end"),
        ("/api/traces?service=a&lookback=fortnight", "lookback"),
        ("/api/traces?service=a&lookback=31d", "lookback"),
        ("/api/traces?service=a&start=1&end=2678400000001", "start"),
        ("/api/traces?service=a&limit=0", "limit"),
        ("/api/traces?service=a&limit=1001", "limit"),
        ("/api/traces?service=a&limit=many", "limit"),
        ("/api/traces?service=a&minDuration=10", "minDuration"),
        ("/api/traces?service=a&maxDuration=soon", "maxDuration"),
        ("/api/traces?service=a&minDuration=1s&maxDuration=1ms", "maxDuration"),
        ("/api/traces?service=a&tag=no-colon", "tag"),
        ("/api/traces?service=a&tags=not-json", "tags"),
        ("/api/traces?service=a&tags=%7B%22span.kind%22%3A%22up%22%7D", "tags"),
        ("/api/traces?traceID=xyz", "traceID"),
        ("/api/traces/0123456789abcdef?start=x", "start"),
        ("/api/operations", "service"),
        ("/api/operations?service=a&spanKind=sideways", "spanKind"),
        ("/api/dependencies?endTs=x", "endTs"),
        ("/api/dependencies?lookback=0", "lookback"),
        ("/api/dependencies?lookback=2678400001", "lookback"),
    ] {
        let (status, body) = get_json(&server, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(error_envelope(&body, 400), Vec::<String>::new(), "{path}: {body}");
        let message = body["errors"][0]["msg"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("parameter \"{parameter}\"")), "{path}: {message}");
    }
    let metrics = server.metrics().await;
    assert_eq!(
        metrics.sum("kiseki_query_requests_total", &[("api", "jaeger"), ("status", "400")]),
        21
    );
}

#[tokio::test]
async fn names_operations_and_dependencies_of_the_small_shop() {
    let server = TestServer::new();
    send_small_shop(&server, an_hour_ago()).await;

    let body = get_ok(&server, "/api/services", jaeger_model::strings).await;
    assert_eq!(body["data"], json!(["cart", "frontend", "payments"]));
    assert_eq!(body["total"], 3);

    let body = get_ok(&server, "/api/services/frontend/operations", jaeger_model::strings).await;
    assert_eq!(body["data"], json!(["GET /cart", "POST /payments", "render"]));
    let body = get_ok(&server, "/api/operations?service=frontend", jaeger_model::operations).await;
    assert_eq!(
        body["data"],
        json!([
            {"name": "GET /cart", "spanKind": "server"},
            {"name": "POST /payments", "spanKind": "client"},
            {"name": "render", "spanKind": "internal"},
        ])
    );
    let body = get_ok(
        &server,
        "/api/operations?service=frontend&spanKind=server",
        jaeger_model::operations,
    )
    .await;
    assert_eq!(body["data"], json!([{"name": "GET /cart", "spanKind": "server"}]));
    assert_eq!(body["total"], 1);

    let body = get_ok(&server, "/api/dependencies", jaeger_model::dependencies).await;
    assert_eq!(
        body["data"],
        json!([
            {"parent": "frontend", "child": "payments", "callCount": 1},
            {"parent": "payments", "child": "postgresql", "callCount": 1},
        ])
    );
    let body =
        get_ok(&server, "/api/dependencies?service=postgresql", jaeger_model::dependencies).await;
    assert_eq!(
        body["data"],
        json!([{"parent": "payments", "child": "postgresql", "callCount": 1}])
    );
    let path =
        format!("/api/dependencies?endTs={}&lookback=60000", an_hour_ago() / 1_000_000 - 60_000);
    let body = get_ok(&server, &path, jaeger_model::dependencies).await;
    assert_eq!(body["data"], json!([]), "a window without traces has no links");
}

#[tokio::test]
async fn a_shared_zipkin_span_reads_as_two_spans_unless_raw() {
    let server = TestServer::new();
    let folder = "node-zipkin-js-v2-json";
    for capture in common::captures(folder).iter().filter(|c| c.carries_spans()) {
        let reply = server.send("zipkin", capture.http_request()).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    let trace = &common::expected_traces(folder)[0];
    let body =
        get_ok(&server, &format!("/api/traces/{}", trace.trace_id), jaeger_model::traces).await;
    let ids: BTreeSet<String> = read_spans(&body).into_iter().map(|s| s.span_id).collect();
    assert_eq!(ids.len(), trace.spans.len(), "every span has its own id");
    let path = format!("/api/traces/{}?raw=true", trace.trace_id);
    let body = get_ok(&server, &path, jaeger_model::traces).await;
    let ids: BTreeSet<String> = read_spans(&body).into_iter().map(|s| s.span_id).collect();
    assert_eq!(ids.len(), trace.spans.len() - 1, "raw: the halves share their id");
}

#[tokio::test]
async fn a_child_skewed_before_its_parent_from_another_service_is_moved_inside_it_unless_raw() {
    let server = TestServer::new();
    let base = an_hour_ago();
    let mut spans = query_compat::small_shop(base);
    // The payments server (parent: the frontend client at 10..70 ms) reports a clock 40 ms
    // behind: it seems to start at -28 ms, before its parent.
    let skewed = spans.iter_mut().find(|s| s.span_id.get() == 0x13).unwrap();
    let shift = 40_000_000;
    skewed.start_time_unix_nano -= shift;
    skewed.end_time_unix_nano -= shift;
    let body = kiseki_codec::otlp::encode_traces_proto(&spans);
    let request = common::post("/v1/traces", "application/x-protobuf", body);
    assert_eq!(server.send("otlp_http", request).await.status, StatusCode::OK);

    let start_of = |body: &Value, span_id: &str| -> i64 {
        body["data"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["spanID"] == span_id)
            .map(|s| s["startTime"].as_i64().unwrap())
            .unwrap()
    };
    let path = format!("/api/traces/{}", hex(PAYMENT_TRACE));
    let adjusted = get_ok(&server, &path, jaeger_model::traces).await;
    let parent_start = start_of(&adjusted, "0000000000000012");
    let child_start = start_of(&adjusted, "0000000000000013");
    // Centred in the 60 ms client span: (60 - 55) / 2 = 2.5 ms after its start.
    assert_eq!(child_start - parent_start, 2_500, "{adjusted}");
    let raw = get_ok(&server, &format!("{path}?raw=true"), jaeger_model::traces).await;
    assert_eq!(start_of(&raw, "0000000000000013") - parent_start, -38_000, "{raw}");
}

#[tokio::test]
async fn pretty_print_indents_the_answer() {
    let server = TestServer::new();
    let reply = server.send("query", get("/api/services?prettyPrint=true")).await;
    assert!(reply.text().contains("\n  "), "{}", reply.text());
    let reply = server.send("query", get("/api/services")).await;
    assert!(!reply.text().contains('\n'), "{}", reply.text());
}

/// The checker itself: a valid answer passes, and each way of breaking Jaeger's model is found.
#[test]
fn the_checker_finds_what_breaks_jaegers_model() {
    let valid = json!({
        "data": [{
            "traceID": "00000000000000010000000000000002",
            "spans": [{
                "traceID": "00000000000000010000000000000002",
                "spanID": "0000000000000003",
                "operationName": "GET /",
                "references": [{"refType": "CHILD_OF", "traceID": "00000000000000010000000000000002", "spanID": "0000000000000004"}],
                "startTime": 1, "duration": 2, "flags": 1,
                "tags": [{"key": "a", "type": "int64", "value": 3}, {"key": "b", "type": "binary", "value": "AAE="}],
                "logs": [{"timestamp": 1, "fields": [{"key": "event", "type": "string", "value": "x"}]}],
                "processID": "p1", "warnings": null,
            }],
            "processes": {"p1": {"serviceName": "svc", "tags": []}},
            "warnings": null,
        }],
        "total": 0, "limit": 0, "offset": 0, "errors": null,
    });
    assert_eq!(envelope(&valid, jaeger_model::traces), Vec::<String>::new());
    let broken = |path: &[&str], value: Value| {
        let mut body = valid.clone();
        let mut target = &mut body;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                match key.parse::<usize>() {
                    Ok(index) => target[index] = value.clone(),
                    Err(_) if value.is_null() => {
                        target.as_object_mut().unwrap().remove(*key);
                    }
                    Err(_) => target[*key] = value.clone(),
                }
                break;
            }
            target = match key.parse::<usize>() {
                Ok(index) => &mut target[index],
                Err(_) => &mut target[*key],
            };
        }
        envelope(&body, jaeger_model::traces)
    };
    let span = ["data", "0", "spans", "0"];
    let at = |rest: &[&'static str]| [&span[..], rest].concat();
    for (path, value) in [
        (at(&["spanID"]), Value::Null),
        (at(&["spanID"]), json!("3")),
        (at(&["startTime"]), json!(-1)),
        (at(&["duration"]), json!("2")),
        (at(&["flags"]), json!(1u64 << 40)),
        (at(&["processID"]), json!("p9")),
        (at(&["traceID"]), json!("00000000000000010000000000000009")),
        (at(&["references", "0", "refType"]), json!("PARENT")),
        (at(&["tags", "0", "value"]), json!("three")),
        (at(&["tags", "1", "value"]), json!("not base64!")),
        (at(&["tags", "0", "type"]), json!("int32")),
        (at(&["logs", "0", "timestamp"]), json!(1.5)),
        (at(&["extra"]), json!(1)),
        (vec!["data", "0", "processes", "p1", "serviceName"], json!(1)),
        (vec!["data", "0", "traceID"], json!("XYZ")),
        (vec!["total"], json!("0")),
        (vec!["errors"], json!([{"code": 1}])),
    ] {
        assert!(!broken(&path, value.clone()).is_empty(), "{path:?} = {value} passed");
    }
}
