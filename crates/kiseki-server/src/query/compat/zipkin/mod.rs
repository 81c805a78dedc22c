//! Zipkin's v2 query API (`zipkin2-api.yaml` of openzipkin/zipkin-api, and what Zipkin's server
//! adds to it), in the JSON Zipkin's UI, Grafana's Zipkin data source and scripts read.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /api/v2/services` | service names |
//! | `GET /api/v2/spans?serviceName=` (`&spanKind=`, kiseki's) | span names of the service |
//! | `GET /api/v2/remoteServices?serviceName=` | services the service calls or is called by |
//! | `GET /api/v2/traces?...` ([`params`]) | traces: arrays of v2 spans |
//! | `GET /api/v2/trace/{traceId}` | one trace; 404 `<id> not found` |
//! | `GET /api/v2/traceMany?traceIds=a,b` | the traces found |
//! | `GET /api/v2/dependencies?endTs=&lookback=` | `[{parent, child, callCount, errorCount}]` |
//! | `GET /api/v2/autocompleteKeys` | attribute keys |
//! | `GET /api/v2/autocompleteValues?key=` | values of one attribute |
//!
//! Errors are plain text with the status code, as Zipkin answers them. Name lists are sorted.
//! Zipkin lower-cases service and span names when it stores them and when it is asked for them;
//! kiseki keeps names as sent, so a name asked for matches a stored name exactly or, failing
//! that, ignoring case. Traces are returned as stored, shared client/server span ids included:
//! Zipkin's UI joins those halves itself.

mod params;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kiseki_codec::jaeger::query_json::trace_id_text;
use kiseki_codec::zipkin::encode_v2_json;
use kiseki_model::{Span, SpanKind, TraceId};
use kiseki_store::Store;
use serde_json::json;

use super::dependencies::{links_in_window, remote_services};
use super::query_string::QueryString;
use super::search::{fetch_traces, find_traces, now_unix_nano, window_start};
use crate::error::ApiError;
use crate::query::QueryState;
use crate::query::limits::bad_parameter;

pub(super) fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/v2/services", get(services))
        .route("/api/v2/spans", get(span_names))
        .route("/api/v2/remoteServices", get(remote_service_names))
        .route("/api/v2/traces", get(traces))
        .route("/api/v2/trace/{trace_id}", get(trace_by_id))
        .route("/api/v2/traceMany", get(trace_many))
        .route("/api/v2/dependencies", get(dependencies))
        .route("/api/v2/autocompleteKeys", get(autocomplete_keys))
        .route("/api/v2/autocompleteValues", get(autocomplete_values))
}

/// A refused request, answered as Zipkin does: the message as plain text.
#[derive(Debug)]
struct ZipkinError(ApiError);

impl From<ApiError> for ZipkinError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ZipkinError {
    fn into_response(self) -> Response {
        let body = format!("{}\n", self.0.message).into_bytes();
        self.0.query_response("text/plain; charset=utf-8", body)
    }
}

type Answer = Result<Response, ZipkinError>;

fn query_string(uri: &Uri) -> Result<QueryString, ZipkinError> {
    QueryString::of(uri).map_err(|problem| ApiError::bad_request(problem).into())
}

fn json_bytes(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A sorted list of names as a JSON array of strings.
fn names(mut names: Vec<String>) -> Response {
    names.sort();
    names.dedup();
    axum::Json(names).into_response()
}

/// Traces as Zipkin's list of traces: an array of arrays of v2 spans.
fn traces_json(traces: &[Vec<Span>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + traces.iter().map(|t| t.len() * 512).sum::<usize>());
    out.push(b'[');
    for (i, spans) in traces.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&encode_v2_json(spans));
    }
    out.push(b']');
    out
}

/// Spans by start time, so a trace reads the same on every request.
fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    spans
}

/// The stored name that `name` means: the same name, else one equal ignoring case.
fn stored_name(stored: Vec<String>, name: &str) -> String {
    if stored.iter().any(|s| s == name) {
        return name.to_owned();
    }
    let lower = name.to_lowercase();
    stored.into_iter().find(|s| s.to_lowercase() == lower).unwrap_or_else(|| name.to_owned())
}

async fn stored_service(store: &Arc<dyn Store>, name: &str) -> Result<String, ApiError> {
    Ok(stored_name(store.services().await?, name))
}

fn service_name(params: &QueryString) -> Result<&str, ApiError> {
    params.get("serviceName").ok_or_else(|| bad_parameter("serviceName", "is required"))
}

/// `GET /api/v2/services`.
async fn services(State(state): State<QueryState>) -> Answer {
    let services = state.limits.run(async { Ok(state.store.services().await?) }).await?;
    Ok(names(services))
}

/// `GET /api/v2/spans?serviceName=`: the span names of one service; `spanKind` (`server`,
/// `client`, `producer`, `consumer`, `internal`, any case) keeps those of one kind.
async fn span_names(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let service = service_name(&params)?;
    let kind = match params.get("spanKind") {
        None => None,
        Some(name) => Some(SpanKind::from_name(name).ok_or_else(|| {
            bad_parameter(
                "spanKind",
                format!("{name:?} is not one of server, client, producer, consumer, internal"),
            )
        })?),
    };
    let operations = state
        .limits
        .run(async {
            let service = stored_service(&state.store, service).await?;
            Ok(state.store.operations(&service).await?)
        })
        .await?;
    let span_names = operations
        .into_iter()
        .filter(|op| kind.is_none_or(|kind| op.kind == kind))
        .map(|op| op.name)
        .collect();
    Ok(names(span_names))
}

/// `GET /api/v2/remoteServices?serviceName=`: the peers the service's spans name (see
/// [`super::dependencies::remote_peer`]), in the newest traces of the longest window allowed.
async fn remote_service_names(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let service = service_name(&params)?;
    let end = now_unix_nano();
    let start = window_start(end, state.limits.max_lookback);
    let remote = state
        .limits
        .run(async {
            let service = stored_service(&state.store, service).await?;
            remote_services(&state.store, &service, start, end).await
        })
        .await?;
    Ok(names(remote))
}

/// `GET /api/v2/traces`.
async fn traces(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let mut search = params::traces_search(&params, &state.limits, now_unix_nano())?;
    let traces = state
        .limits
        .run(async {
            if let Some(service) = search.query.service.take() {
                let service = stored_service(&state.store, &service).await?;
                if let Some(span_name) = search.query.operation.take() {
                    let operations = state.store.operations(&service).await?;
                    let stored = operations.into_iter().map(|op| op.name).collect();
                    search.query.operation = Some(stored_name(stored, &span_name));
                }
                search.query.service = Some(service);
            }
            find_traces(&state.store, &search).await
        })
        .await?;
    let traces: Vec<Vec<Span>> = traces.into_iter().map(sorted).collect();
    Ok(json_bytes(traces_json(&traces)))
}

/// A trace id as Zipkin takes it: 16 or 32 hex digits (shorter ones are padded), any case.
fn trace_id(text: &str) -> Result<TraceId, ApiError> {
    let text = text.trim();
    if text.len() > 32 {
        return Err(ApiError::bad_request(format!(
            "trace id {text:?} is longer than 32 hex characters"
        )));
    }
    TraceId::from_hex(text)
        .map_err(|error| ApiError::bad_request(format!("trace id {text:?} is invalid: {error}")))
}

/// `GET /api/v2/trace/{traceId}`.
async fn trace_by_id(State(state): State<QueryState>, Path(text): Path<String>) -> Answer {
    let id = trace_id(&text)?;
    let spans = state.limits.run(async { Ok(state.store.trace(id).await?) }).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!("{} not found", trace_id_text(id))).into());
    }
    Ok(json_bytes(encode_v2_json(&sorted(spans))))
}

/// `GET /api/v2/traceMany?traceIds=a,b`: at least two distinct ids; the traces found.
async fn trace_many(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let list = params.get("traceIds").ok_or_else(|| bad_parameter("traceIds", "is required"))?;
    let mut ids = Vec::new();
    for text in list.split(',') {
        let id = trace_id(text).map_err(|error| bad_parameter("traceIds", error.message))?;
        if ids.contains(&id) {
            return Err(bad_parameter("traceIds", format!("redundant trace id {text:?}")).into());
        }
        ids.push(id);
    }
    if ids.len() < 2 {
        return Err(bad_parameter(
            "traceIds",
            "needs at least two trace ids: use /api/v2/trace/{traceId} for one",
        )
        .into());
    }
    if ids.len() > state.limits.max_results {
        let problem = format!("at most {} trace ids at once", state.limits.max_results);
        return Err(bad_parameter("traceIds", problem).into());
    }
    let traces = state.limits.run(fetch_traces(&state.store, &ids)).await?;
    let found: Vec<Vec<Span>> =
        traces.into_iter().filter(|spans| !spans.is_empty()).map(sorted).collect();
    Ok(json_bytes(traces_json(&found)))
}

/// `GET /api/v2/dependencies?endTs=&lookback=`: calls between services, computed from the
/// newest traces of the window (see [`super::dependencies`]).
async fn dependencies(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    if params.get("endTs").is_none() {
        return Err(bad_parameter("endTs", "is required").into());
    }
    let (start, end) = params::window(&params, &state.limits, now_unix_nano())?;
    let links = state.limits.run(links_in_window(&state.store, start, end)).await?;
    let body: Vec<serde_json::Value> = links
        .iter()
        .map(|link| {
            json!({
                "parent": link.parent,
                "child": link.child,
                "callCount": link.call_count,
                "errorCount": link.error_count,
            })
        })
        .collect();
    Ok(axum::Json(body).into_response())
}

/// `GET /api/v2/autocompleteKeys`: every attribute key the store has seen.
async fn autocomplete_keys(State(state): State<QueryState>) -> Answer {
    let keys = state.limits.run(async { Ok(state.store.attribute_keys().await?) }).await?;
    Ok(names(keys))
}

/// `GET /api/v2/autocompleteValues?key=`: values seen for one attribute key.
async fn autocomplete_values(State(state): State<QueryState>, uri: Uri) -> Answer {
    let params = query_string(&uri)?;
    let key = params.get("key").ok_or_else(|| bad_parameter("key", "is required"))?;
    let limit = state.limits.max_results;
    let values =
        state.limits.run(async { Ok(state.store.attribute_values(key, limit).await?) }).await?;
    Ok(names(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_asked_for_match_stored_names_exactly_or_ignoring_case() {
        let stored = || vec!["Frontend".to_owned(), "frontend".to_owned(), "Cart".to_owned()];
        assert_eq!(stored_name(stored(), "frontend"), "frontend");
        assert_eq!(stored_name(stored(), "cart"), "Cart");
        assert_eq!(stored_name(stored(), "CART"), "Cart");
        assert_eq!(stored_name(stored(), "other"), "other");
    }

    #[test]
    fn trace_ids_are_read_as_zipkin_reads_them() {
        assert_eq!(trace_id(" ABC ").unwrap().get(), 0xabc);
        assert!(trace_id(&"1".repeat(33)).is_err());
        assert!(trace_id("xyz").is_err());
        assert!(trace_id("0").is_err());
    }

    #[test]
    fn a_list_of_traces_is_an_array_of_span_arrays() {
        assert_eq!(traces_json(&[]), b"[]");
        let span = |trace: u128| {
            Span::new(TraceId::new(trace).unwrap(), kiseki_model::SpanId::new(1).unwrap())
        };
        let json: serde_json::Value =
            serde_json::from_slice(&traces_json(&[vec![span(1)], vec![span(2), span(2)]])).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(json[1].as_array().unwrap().len(), 2);
        assert_eq!(json[1][0]["traceId"], "0000000000000002");
    }
}
