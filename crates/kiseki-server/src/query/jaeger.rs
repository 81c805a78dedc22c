//! The Jaeger HTTP query API (`/api/traces/{id}`, ...) in the JSON shapes Jaeger's UI and
//! Grafana's Jaeger data source read.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kiseki_codec::jaeger::query_json;
use kiseki_model::TraceId;

use super::{QueryState, adjust};

pub(super) fn routes() -> Router<QueryState> {
    Router::new().route("/api/traces/{trace_id}", get(trace_by_id))
}

/// `GET /api/traces/{traceId}` as Jaeger's query service answers it.
async fn trace_by_id(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let id = match TraceId::from_hex(trace_id.trim()) {
        Ok(id) => id,
        Err(error) => {
            let message = format!("trace id {trace_id:?} is invalid: {error}");
            return jaeger_error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let mut spans = match state.store.trace(id).await {
        Ok(spans) => spans,
        Err(error) => return jaeger_error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    if spans.is_empty() {
        return jaeger_error(StatusCode::NOT_FOUND, "trace not found");
    }
    spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    adjust::split_shared_span_ids(&mut spans);
    axum::Json(query_json::traces_response(&[spans])).into_response()
}

fn jaeger_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(query_json::error_response(status.as_u16(), message))).into_response()
}
