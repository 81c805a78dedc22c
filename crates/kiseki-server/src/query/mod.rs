//! The query port (16686): every API that reads traces back, and `/metrics`.
//!
//! Each API lives in its own module and adds its routes here with one `.merge(...)`; they share
//! one [`QueryState`] (the store, the metrics and the [`QueryLimits`]). Every response is counted
//! in `kiseki_query_requests_total` under its API's name and status code.

pub mod adjust;
pub mod compat;
mod compress;
pub mod duration;
pub mod limits;
mod native;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kiseki_store::Store;

use crate::error::ApiError;
use crate::metrics::Metrics;
pub use limits::QueryLimits;

/// What every query handler can reach.
#[derive(Clone)]
pub struct QueryState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub limits: QueryLimits,
}

/// The router of the query port.
pub fn router(state: QueryState) -> Router {
    Router::new()
        .merge(compat::routes(&state))
        .merge(counted("native", native::routes(), &state))
        .merge(counted("ui", crate::ui::routes(), &state))
        .route("/metrics", get(metrics_text))
        .fallback(|request: Request| async move {
            ApiError::not_found(format!("{} is not an endpoint of this port", request.uri().path()))
        })
        .layer(middleware::from_fn(compress::gzip_large_json))
        .with_state(state)
}

/// An API's routes, each response counted under `api`.
fn counted(
    api: &'static str,
    routes: Router<QueryState>,
    state: &QueryState,
) -> Router<QueryState> {
    let metrics = Arc::clone(&state.metrics);
    routes.layer(middleware::from_fn(move |request: Request, next: Next| {
        let metrics = Arc::clone(&metrics);
        async move {
            let response = next.run(request).await;
            metrics.query_answered(api, response.status().as_u16());
            response
        }
    }))
}

async fn metrics_text(State(state): State<QueryState>) -> Response {
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
