//! Demo traffic: the seeded online shop of `kiseki-testkit`, generated inside the server at a
//! gentle rate so a newcomer sees live traces at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiseki_server::ingest::Ingest;
use kiseki_testkit::Generator;

/// Generates `traces_per_second` traces until the process ends.
pub async fn run(ingest: Arc<Ingest>, traces_per_second: f64) {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1);
    let mut generator = Generator::new(seed);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / traces_per_second));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let now =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        let trace = generator.trace(now);
        if let Err(error) = ingest.accept("demo", "generated", 0, trace).await {
            tracing::warn!(%error, "demo traffic was refused");
        }
    }
}
