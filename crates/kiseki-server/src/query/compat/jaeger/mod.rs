//! The Jaeger HTTP query API, in the JSON shapes Jaeger's UI, Grafana's Jaeger data source and
//! scripts written against Jaeger read.
//!
//! | endpoint | answer (`data`) |
//! |---|---|
//! | `GET /api/services` | service names |
//! | `GET /api/services/{service}/operations` | operation names |
//! | `GET /api/operations?service=&spanKind=` | `[{name, spanKind}]` |
//! | `GET /api/traces?service=...` ([`params`]) | traces |
//! | `GET /api/traces/{traceId}` | one trace; 404 when unknown |
//! | `GET /api/dependencies?endTs=&lookback=` | `[{parent, child, callCount}]` |
//!
//! Every answer is Jaeger's envelope `{"data", "total", "limit", "offset", "errors"}`; an error is
//! the same envelope with `data: null` and `errors: [{"code", "msg"}]`. Traces are read as
//! Jaeger's query service adjusts them (shared Zipkin span ids split) unless `raw=true`;
//! `prettyPrint` indents the JSON.

mod params;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kiseki_codec::jaeger::query_json;
use kiseki_model::{Span, SpanKind, TraceId};
use serde_json::{Value, json};

use self::params::TracesRequest;
use super::dependencies::links_in_window;
use super::query_string::QueryString;
use super::search::{fetch_traces, find_traces, now_unix_nano};
use crate::error::{ApiError, Reason};
use crate::query::limits::bad_parameter;
use crate::query::{QueryState, adjust};

pub(super) fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(service_operations))
        .route("/api/operations", get(operations))
        .route("/api/traces", get(traces))
        .route("/api/traces/{trace_id}", get(trace_by_id))
        .route("/api/dependencies", get(dependencies))
}

/// A refused request in Jaeger's error envelope.
#[derive(Debug)]
struct JaegerError(ApiError);

impl From<ApiError> for JaegerError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for JaegerError {
    fn into_response(self) -> Response {
        let error = self.0;
        let body = query_json::error_response(error.status().as_u16(), &error.message);
        // Writing a `Value` does not fail: its map keys are strings.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        error.query_response("application/json", body)
    }
}

type Answer = Result<Response, JaegerError>;

fn query_string(uri: &Uri) -> Result<QueryString, JaegerError> {
    QueryString::of(uri).map_err(|problem| ApiError::bad_request(problem).into())
}

/// `{"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}`, as JSON, indented
/// when the request asked for `prettyPrint`.
fn envelope(params: &QueryString, data: Value, total: usize, errors: Value) -> Response {
    let body = json!({ "data": data, "total": total, "limit": 0, "offset": 0, "errors": errors });
    json_response(params, &body)
}

fn json_response(params: &QueryString, body: &Value) -> Response {
    let bytes = if params.flag("prettyPrint") {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    };
    match bytes {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        // Writing a `Value` does not fail: its map keys are strings.
        Err(error) => JaegerError(ApiError::new(
            Reason::Internal,
            format!("writing the answer failed: {error}"),
        ))
        .into_response(),
    }
}

/// `GET /api/services`.
async fn services(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let services = state.limits.run(async { Ok(state.store.services().await?) }).await?;
    let total = services.len();
    Ok(envelope(&params, json!(services), total, Value::Null))
}

/// `GET /api/services/{service}/operations`: the names of the service's operations, each once.
async fn service_operations(
    State(state): State<QueryState>,
    Path(service): Path<String>,
    uri: Uri,
) -> Answer {
    let params = query_string(&uri)?;
    let operations =
        state.limits.run(async { Ok(state.store.operations(&service).await?) }).await?;
    let mut names: Vec<String> = operations.into_iter().map(|op| op.name).collect();
    names.sort();
    names.dedup();
    let total = names.len();
    Ok(envelope(&params, json!(names), total, Value::Null))
}

/// `GET /api/operations?service=&spanKind=`: the service's operations with their span kind
/// (`server`, `client`, `producer`, `consumer`, `internal`, or empty when the tracer gave none).
async fn operations(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let service = params.get("service").ok_or_else(|| bad_parameter("service", "is required"))?;
    let kind = match params.get("spanKind") {
        None => None,
        Some(name) => Some(SpanKind::from_name(name).ok_or_else(|| {
            bad_parameter(
                "spanKind",
                format!("{name:?} is not one of server, client, producer, consumer, internal"),
            )
        })?),
    };
    let operations = state.limits.run(async { Ok(state.store.operations(service).await?) }).await?;
    let data: Vec<Value> = operations
        .iter()
        .filter(|op| kind.is_none_or(|kind| op.kind == kind))
        .map(|op| json!({ "name": op.name, "spanKind": span_kind_text(op.kind) }))
        .collect();
    let total = data.len();
    Ok(envelope(&params, Value::Array(data), total, Value::Null))
}

/// The span kind as Jaeger's operations list it: empty for an unspecified kind.
fn span_kind_text(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "",
        other => other.as_str(),
    }
}

/// `GET /api/traces`: a search, or the traces named by `traceID`.
async fn traces(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let request = params::traces_request(&params, &state.limits, now_unix_nano())?;
    let raw = params.flag("raw");
    let (traces, errors) = state
        .limits
        .run(async {
            match &request {
                TracesRequest::Search(search) => {
                    Ok((find_traces(&state.store, search).await?, Vec::new()))
                }
                TracesRequest::ByIds(ids) => {
                    let read = fetch_traces(&state.store, ids).await?;
                    let mut found = Vec::new();
                    let mut missing = Vec::new();
                    for (id, spans) in ids.iter().zip(read) {
                        if spans.is_empty() {
                            missing.push(*id);
                        } else {
                            found.push(spans);
                        }
                    }
                    Ok((found, missing))
                }
            }
        })
        .await?;
    let data: Vec<Value> =
        traces.into_iter().map(|spans| query_json::trace_to_json(&prepared(spans, raw))).collect();
    // Jaeger reports each trace id it did not find, without failing the request.
    let errors = if errors.is_empty() {
        Value::Null
    } else {
        errors
            .iter()
            .map(
                |id| json!({ "msg": "trace not found", "traceID": query_json::trace_id_text(*id) }),
            )
            .collect()
    };
    Ok(envelope(&params, Value::Array(data), 0, errors))
}

/// `GET /api/traces/{traceId}`.
async fn trace_by_id(
    State(state): State<QueryState>,
    Path(trace_id): Path<String>,
    uri: Uri,
) -> Answer {
    let params = query_string(&uri)?;
    let id = TraceId::from_hex(trace_id.trim()).map_err(|error| {
        ApiError::bad_request(format!("trace id {trace_id:?} is invalid: {error}"))
    })?;
    // Jaeger takes `start` and `end` as hints for where to look; every kiseki store finds a
    // trace without them, but they must still be numbers.
    for hint in ["start", "end"] {
        if let Some(text) = params.get(hint)
            && text.trim().parse::<u64>().is_err()
        {
            return Err(bad_parameter(
                hint,
                format!("{text:?} is not a time in Unix microseconds"),
            )
            .into());
        }
    }
    let spans = state.limits.run(async { Ok(state.store.trace(id).await?) }).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found("trace not found").into());
    }
    let trace = query_json::trace_to_json(&prepared(spans, params.flag("raw")));
    Ok(envelope(&params, json!([trace]), 0, Value::Null))
}

/// A trace as Jaeger's query service returns it: spans by start time, and adjusted unless the
/// request asked for it `raw` (identical copies dropped, shared span ids split, clock skew
/// between services corrected).
fn prepared(mut spans: Vec<Span>, raw: bool) -> Vec<Span> {
    if !raw {
        adjust::adjust_trace(&mut spans);
    }
    adjust::sort_for_display(&mut spans);
    spans
}

/// `GET /api/dependencies?endTs=&lookback=&service=`: calls between services, computed from the
/// newest traces of the window (see [`super::super::dependencies`]).
async fn dependencies(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let (start, end) = params::dependencies_window(&params, &state.limits, now_unix_nano())?;
    let links = state.limits.run(links_in_window(&state.store, start, end)).await?;
    let service = params.get("service");
    let data: Vec<Value> = links
        .iter()
        .filter(|link| service.is_none_or(|s| link.parent == s || link.child == s))
        .map(|link| {
            json!({ "parent": link.parent, "child": link.child, "callCount": link.call_count })
        })
        .collect();
    Ok(envelope(&params, Value::Array(data), 0, Value::Null))
}
