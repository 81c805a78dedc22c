//! Demo traffic: the seeded online shop of `kiseki-testkit`, generated inside the server at a
//! gentle rate so a newcomer sees live traces at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kiseki_server::ingest::Ingest;
use kiseki_testkit::Generator;

/// How often the log shows the address of a fresh demo trace.
const SHOW_TRACE_EVERY: Duration = Duration::from_secs(60);

/// Generates `traces_per_second` traces until the process ends; logs where to read one.
pub async fn run(ingest: Arc<Ingest>, traces_per_second: f64, query: Option<SocketAddr>) {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1);
    let mut generator = Generator::new(seed);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / traces_per_second));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_shown: Option<Instant> = None;
    loop {
        ticker.tick().await;
        let now =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        let trace = generator.trace(now);
        let trace_id = trace[0].trace_id;
        match ingest.accept("demo", "generated", 0, trace).await {
            Ok(()) => {
                if let Some(query) = query
                    && last_shown.is_none_or(|at| at.elapsed() >= SHOW_TRACE_EVERY)
                {
                    let port = query.port();
                    tracing::info!("demo trace: http://localhost:{port}/api/traces/{trace_id}");
                    last_shown = Some(Instant::now());
                }
            }
            Err(error) => tracing::warn!(%error, "demo traffic was refused"),
        }
    }
}
