//! The query APIs of other tracing systems, so their UIs, Grafana's data sources and scripts
//! written against them work with kiseki unchanged: Jaeger's (`/api/...`) and Zipkin's v2
//! (`/api/v2/...`), and what the two share: searches beyond what a store indexes, dependency
//! links computed from stored traces, query strings with repeated parameters.
//!
//! Zipkin's API is served on the query port and, as a Zipkin server does, on the Zipkin
//! collector's port beside `POST /api/v2/spans` ([`zipkin_routes`]). No path of one API is a path
//! of another: Jaeger's paths never start with `/api/v2/`.

mod dependencies;
mod jaeger;
mod query_string;
mod search;
mod zipkin;

use axum::Router;

use super::{QueryState, counted};

/// The Jaeger and Zipkin routes of the query port, each response counted under its API.
pub(super) fn routes(state: &QueryState) -> Router<QueryState> {
    counted("jaeger", jaeger::routes(), state).merge(counted("zipkin", zipkin::routes(), state))
}

/// Zipkin's query API for the Zipkin collector's port: the same store, limits and
/// `kiseki_query_requests_total{api="zipkin"}` as on the query port. `GET /api/v2/spans` lists
/// span names there while `POST /api/v2/spans` stays the collector's.
pub fn zipkin_routes(state: &QueryState) -> Router {
    counted("zipkin", zipkin::routes(), state)
        .layer(axum::middleware::from_fn(super::compress::gzip_large_json))
        .with_state(state.clone())
}
