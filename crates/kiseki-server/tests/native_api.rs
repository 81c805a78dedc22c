//! The native query API (`/api/kiseki/v1`) driven through the real query router over a memory
//! store, checked against its contract (`openapi.json` and the shapes the web UI reads).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use kiseki_model::Span;
use kiseki_server::metrics::Metrics;
use kiseki_server::query::{QueryLimits, QueryState, router};
use kiseki_store::{MemoryStore, Store};
use serde_json::Value;
use tower::ServiceExt;

const BASE: &str = "/api/kiseki/v1";

/// The query router over a memory store holding `spans`.
struct Api {
    router: Router,
}

impl Api {
    async fn new(spans: Vec<Span>, limits: QueryLimits) -> Self {
        let store = Arc::new(MemoryStore::new(1_000_000));
        store.append(spans).await.expect("append");
        let state = QueryState { store, metrics: Arc::new(Metrics::new()), limits };
        Self { router: router(state) }
    }

    async fn get(&self, path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        (status, headers, body)
    }

    async fn json(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.get(path).await;
        let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body))
        });
        (status, value)
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test]
async fn smoke() {
    let mut generator = kiseki_testkit::Generator::new(1);
    let start = now_nanos() - 60_000_000_000;
    let spans = generator.spans(200, start);
    let api = Api::new(spans, QueryLimits::default()).await;
    let (status, services) = api.json(&format!("{BASE}/services")).await;
    assert_eq!(status, StatusCode::OK);
    println!("{}", serde_json::to_string_pretty(&services["services"][0]).unwrap());
    let (status, found) = api.json(&format!("{BASE}/search?limit=3")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    println!("{}", serde_json::to_string_pretty(&found).unwrap());
    let id = found["traces"][0]["traceId"].as_str().unwrap();
    let (status, trace) = api.json(&format!("{BASE}/traces/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    println!("{}", serde_json::to_string_pretty(&trace["spans"][1]).unwrap());
    println!("{} {}", trace["adjustments"], trace["warnings"]);
    let (status, error) = api.json(&format!("{BASE}/search?limit=0")).await;
    println!("{status} {error}");
}
