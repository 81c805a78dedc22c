//! kiseki's own query API under `/api/kiseki/v1`: what the web UI and scripts read. JSON in the
//! shapes of `openapi.json` (served at `/api/kiseki/v1/openapi.json`); every search runs under
//! the [`QueryLimits`](super::QueryLimits), and every error is `{"error": {"status", "message"}}`.

mod json;
mod params;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use kiseki_codec::otlp::encode_traces_json;
use kiseki_model::{Span, TraceId};

use self::json::{
    ErrorBody, ErrorDetail, KeysBody, OperationJson, OperationsBody, SearchBody, ServiceJson,
    ServicesBody, SummaryJson, TraceBody, ValuesBody,
};
use self::params::{DEFAULT_VALUES_LIMIT, Params, SEARCH_PARAMETERS, search_query};
use super::limits::bad_parameter;
use super::{QueryState, adjust};
use crate::error::ApiError;

/// Where the native API lives on the query port.
pub const BASE_PATH: &str = "/api/kiseki/v1";

/// The OpenAPI 3.0 document of this API.
const OPENAPI: &str = include_str!("openapi.json");

pub(super) fn routes() -> Router<QueryState> {
    route_table().into_iter().fold(Router::new(), |router, (path, method_router)| {
        router.route(&format!("{BASE_PATH}{path}"), method_router)
    })
}

/// Every path this API serves (below [`BASE_PATH`]) with its handlers, in one place, so a test
/// can hold the OpenAPI document to exactly these.
fn route_table() -> Vec<(&'static str, MethodRouter<QueryState>)> {
    vec![
        ("/services", get(services)),
        ("/services/{service}/operations", get(operations)),
        ("/attributes/keys", get(attribute_keys)),
        ("/attributes/values", get(attribute_values)),
        ("/search", get(search)),
        ("/traces/{traceId}", get(trace)),
        ("/traces/{traceId}/raw", get(raw_trace)),
        ("/openapi.json", get(openapi)),
    ]
}

/// An [`ApiError`] answered in this API's JSON error shape.
#[derive(Debug)]
pub struct NativeError(ApiError);

impl From<ApiError> for NativeError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<kiseki_store::StoreError> for NativeError {
    fn from(error: kiseki_store::StoreError) -> Self {
        Self(ApiError::from(error))
    }
}

impl IntoResponse for NativeError {
    fn into_response(self) -> Response {
        let error = self.0;
        let body = ErrorBody {
            error: ErrorDetail { status: error.status().as_u16(), message: &error.message },
        };
        // Serializing a struct of strings and numbers cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        error.query_response("application/json", body)
    }
}

type Answer = Result<Response, NativeError>;

/// The query string as name/value pairs, checked against the names an endpoint takes.
type RawParams = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn read_params(raw: RawParams, accepted: &[&str]) -> Result<Params, NativeError> {
    let Query(pairs) = raw.map_err(|rejection| {
        ApiError::bad_request(format!("the query string cannot be read: {}", rejection.body_text()))
    })?;
    Ok(Params::new(pairs, accepted)?)
}

/// One path parameter; a 400 naming it when it cannot be read (e.g. not UTF-8).
fn path_parameter(
    name: &str,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, NativeError> {
    match path {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => Err(bad_parameter(name, rejection.body_text()).into()),
    }
}

fn json_response(body: &impl serde::Serialize) -> Answer {
    let bytes = serde_json::to_vec(body)
        .map_err(|error| ApiError::new(crate::error::Reason::Internal, error.to_string()))?;
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `GET /services`: every service with its operations, by name.
async fn services(State(state): State<QueryState>, raw: RawParams) -> Answer {
    read_params(raw, &[])?;
    let store = &state.store;
    let services = state
        .limits
        .run(async {
            let mut names = store.services().await?;
            names.sort();
            names.dedup();
            let mut services = Vec::with_capacity(names.len());
            for name in names {
                let mut operations = store.operations(&name).await?;
                operations.sort();
                let operations = operations.into_iter().map(OperationJson::from).collect();
                services.push(ServiceJson { name, operations });
            }
            Ok(services)
        })
        .await?;
    json_response(&ServicesBody { services })
}

/// `GET /services/{service}/operations`: one service's operations, by name then kind.
async fn operations(
    State(state): State<QueryState>,
    service: Result<Path<String>, PathRejection>,
    raw: RawParams,
) -> Answer {
    let service = path_parameter("service", service)?;
    read_params(raw, &[])?;
    let store = &state.store;
    let mut operations = state.limits.run(async { Ok(store.operations(&service).await?) }).await?;
    operations.sort();
    let operations = operations.into_iter().map(OperationJson::from).collect();
    json_response(&OperationsBody { operations })
}

/// `GET /attributes/keys`: every attribute key seen, sorted.
async fn attribute_keys(State(state): State<QueryState>, raw: RawParams) -> Answer {
    read_params(raw, &[])?;
    let store = &state.store;
    let mut keys = state.limits.run(async { Ok(store.attribute_keys().await?) }).await?;
    keys.sort();
    keys.dedup();
    json_response(&KeysBody { keys })
}

/// `GET /attributes/values?key=K&limit=N`: values seen for one key.
async fn attribute_values(State(state): State<QueryState>, raw: RawParams) -> Answer {
    let params = read_params(raw, &["key", "limit"])?;
    let key = params.single("key")?.ok_or_else(|| bad_parameter("key", "is required"))?;
    let limit = params.limit("limit", DEFAULT_VALUES_LIMIT, state.limits.max_results)?;
    let store = &state.store;
    let values = state.limits.run(async { Ok(store.attribute_values(key, limit).await?) }).await?;
    json_response(&ValuesBody { values })
}

/// `GET /search`: the newest traces with a span that meets every condition.
async fn search(State(state): State<QueryState>, raw: RawParams) -> Answer {
    let params = read_params(raw, SEARCH_PARAMETERS)?;
    let query = search_query(&params, &state.limits, now_unix_nano())?;
    let store = &state.store;
    let summaries = state.limits.run(async { Ok(store.search(&query).await?) }).await?;
    let traces = summaries.iter().take(query.limit).map(SummaryJson::from).collect();
    json_response(&SearchBody { traces, limit: query.limit })
}

/// `GET /traces/{traceId}`: the trace after trace hygiene, with what it changed.
async fn trace(
    State(state): State<QueryState>,
    trace_id: Result<Path<String>, PathRejection>,
    raw: RawParams,
) -> Answer {
    let trace_id = path_parameter("traceId", trace_id)?;
    read_params(raw, &[])?;
    let mut spans = stored_trace(&state, &trace_id).await?;
    let adjustments = adjust::adjust_trace(&mut spans);
    let warnings = adjust::trace_warnings(&spans);
    adjust::sort_for_display(&mut spans);
    json_response(&TraceBody::new(&spans, &adjustments, &warnings))
}

/// `GET /traces/{traceId}/raw`: the spans as stored, in OTLP JSON, as a file to download.
async fn raw_trace(
    State(state): State<QueryState>,
    trace_id: Result<Path<String>, PathRejection>,
    raw: RawParams,
) -> Answer {
    let trace_id = path_parameter("traceId", trace_id)?;
    read_params(raw, &[])?;
    let spans = stored_trace(&state, &trace_id).await?;
    let id = spans.first().map(|s| s.trace_id.to_string()).unwrap_or_default();
    let mut response = encode_traces_json(&spans).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A trace id is hex, so the header value is always valid.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"trace-{id}.json\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The spans of one trace as stored; a 400 for an id that is not one, a 404 for an unknown trace.
async fn stored_trace(state: &QueryState, trace_id: &str) -> Result<Vec<Span>, NativeError> {
    let id = TraceId::from_hex(trace_id.trim())
        .map_err(|error| bad_parameter("traceId", format!("{trace_id:?}: {error}")))?;
    let store = &state.store;
    let spans = state.limits.run(async { Ok(store.trace(id).await?) }).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!("trace {id} not found")).into());
    }
    Ok(spans)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn now_unix_nano() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    /// Every `$ref` in `value`.
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => references(item, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, found)),
            _ => {}
        }
    }

    /// The parameters of one operation, with `$ref`s to shared parameters resolved.
    fn parameters<'a>(doc: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
        let Some(list) = operation["parameters"].as_array() else { return Vec::new() };
        list.iter()
            .map(|p| match p["$ref"].as_str() {
                Some(target) => doc.pointer(target.trim_start_matches('#')).expect("resolves"),
                None => p,
            })
            .collect()
    }

    #[test]
    fn the_document_is_openapi_3_0_and_every_reference_resolves() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."));
        assert_eq!(doc["servers"][0]["url"], BASE_PATH);
        let mut found = Vec::new();
        references(&doc, &mut found);
        assert!(found.len() > 20);
        for target in found {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }

    #[test]
    fn the_document_lists_exactly_the_routes_served() {
        let doc = document();
        let documented: BTreeSet<&str> =
            doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        let served: BTreeSet<&str> = route_table().into_iter().map(|(path, _)| path).collect();
        assert_eq!(documented, served);
        for (path, item) in doc["paths"].as_object().unwrap() {
            let methods: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(methods, ["get"], "{path}: every route answers GET only");
            let operation = &item["get"];
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{path}");
            if path != "/openapi.json" {
                for status in ["400", "429", "500", "503"] {
                    assert!(responses.contains_key(status), "{path} documents no {status}");
                }
            }
            if path.starts_with("/traces/") {
                assert!(responses.contains_key("404"), "{path}");
            }
            // Every `{name}` in the path is a documented path parameter.
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = parameters(&doc, operation)
                .into_iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(in_path, declared, "{path}");
        }
    }

    #[test]
    fn the_document_lists_exactly_the_query_parameters_accepted() {
        let doc = document();
        let query_parameters = |path: &str| -> BTreeSet<String> {
            parameters(&doc, &doc["paths"][path]["get"])
                .into_iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let accepted = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        assert_eq!(query_parameters("/search"), accepted(SEARCH_PARAMETERS));
        assert_eq!(query_parameters("/attributes/values"), accepted(&["key", "limit"]));
        for path in ["/services", "/attributes/keys", "/traces/{traceId}"] {
            assert_eq!(query_parameters(path), BTreeSet::new(), "{path}");
        }
    }
}
