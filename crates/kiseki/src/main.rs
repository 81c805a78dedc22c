//! The `kiseki` binary: `kiseki serve` runs every receiver, the store and the query APIs;
//! `kiseki loadgen` sends it realistic traffic.

mod cli;
mod config;
mod demo;

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use kiseki::loadgen::{self, Class, Outcome, Pace};
use kiseki_model::Span;
use kiseki_store::embedded::EmbeddedStore;
use kiseki_store::{MemoryStore, Store};

use cli::{Cli, Command, LoadgenArgs, ServeArgs};
use config::{FileConfig, Settings, StoreSettings};

/// A faster allocator than the system's for many small allocations, as decoding makes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long `serve` waits at shutdown for demo requests in flight.
const DEMO_DRAIN: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.command {
        // The load generator's stdout is its report, for scripts to read.
        Command::Loadgen(_) => logs.with_writer(std::io::stderr).init(),
        Command::Serve(_) => logs.init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)).map(|()| ExitCode::SUCCESS),
        Command::Loadgen(args) => runtime.block_on(run_loadgen(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let settings = Settings::resolve(&args, file)?;
    let store: Arc<dyn Store> = match &settings.store {
        StoreSettings::Memory { max_spans } => Arc::new(MemoryStore::new(*max_spans)),
        StoreSettings::Embedded(options) => Arc::new(
            EmbeddedStore::open(options.clone()).await.context("opening the embedded store")?,
        ),
    };
    let mut server = kiseki_server::start(settings.server.clone(), store)
        .await
        .context("starting the server")?;
    let demo = match settings.demo_traces_per_second {
        Some(rate) => Some(demo::start(&server, rate).context("starting the demo traffic")?),
        None => None,
    };
    if let Some(query) = server.addr("query") {
        let url = format!("http://{query}/search");
        tracing::info!(%url, "web UI");
    }
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down"),
        _ = server.wait() => anyhow::bail!("a listener stopped unexpectedly"),
    }
    if let Some(demo) = demo {
        // Demo requests in flight finish before the listeners close.
        let _ = tokio::time::timeout(DEMO_DRAIN, demo.finish()).await;
    }
    server.shutdown().await;
    Ok(())
}

/// `kiseki loadgen`: progress on stderr every few seconds, the summary on stdout; fails when
/// nothing was acknowledged.
async fn run_loadgen(args: LoadgenArgs) -> anyhow::Result<ExitCode> {
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        anyhow::bail!("--rate must be 0 (as fast as possible) or a positive number of spans/s");
    }
    let config = loadgen::Config {
        protocol: args.protocol,
        target: args.target,
        pace: if args.rate > 0.0 { Pace::SpansPerSecond(args.rate) } else { Pace::Max },
        duration: args.duration,
        spans: args.spans,
        concurrency: args.concurrency,
        batch_spans: args.batch_spans,
        seed: args.seed,
        gzip: args.gzip,
        timeout: args.timeout,
    };
    let target = config.target.authority(config.protocol);
    tracing::info!(protocol = config.protocol.as_str(), %target, "sending");
    let mut running = loadgen::start(config, Some(warn_once_per_class()))?;
    let mut ticker = (!args.report_every.is_zero()).then(|| {
        tokio::time::interval_at(tokio::time::Instant::now() + args.report_every, args.report_every)
    });
    let mut last = running.report();
    let interrupted = shutdown_signal();
    tokio::pin!(interrupted);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = running.wait() => break,
            _ = async { ticker.as_mut()?.tick().await; Some(()) }, if ticker.is_some() => {
                let now = running.report();
                eprintln!("{}", now.progress_since(&last));
                last = now;
            }
            _ = &mut interrupted, if !stopping => {
                tracing::info!("stopping; waiting for the requests in flight");
                running.stop();
                stopping = true;
            }
        }
    }
    let report = running.report();
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if report.tally.get(Class::Acknowledged).requests == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Logs the first refusal of each kind, so the reason is seen once rather than thousands of
/// times; the report counts them all.
fn warn_once_per_class() -> loadgen::ResponseHook {
    let warned = Mutex::new(HashSet::new());
    Arc::new(move |outcome: &Outcome, _: &[Span]| {
        if outcome.class == Class::Acknowledged {
            return;
        }
        let mut warned = warned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if warned.insert(outcome.class) {
            tracing::warn!(
                class = outcome.class.as_str(),
                detail = %outcome.detail,
                "request refused; further ones of this kind are only counted"
            );
        }
    })
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
