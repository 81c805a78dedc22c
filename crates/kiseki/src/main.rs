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

/// mimalloc's number for its `purge_delay` option (`mi_option_e` in mimalloc.h, v3), which
/// libmimalloc-sys names no constant for.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of giving it back to the OS a second after it is freed.
///
/// Ingest frees a head of hundreds of megabytes every few seconds and allocates the next at
/// once. Giving the pages back and faulting them in again (the kernel zeroes each one) cost 11 %
/// of the server's CPU at full ingest (BENCHMARKS.md, "The allocator"). Memory stays bounded by
/// the store's own limits; the process keeps its peak instead of shrinking after it. An operator's
/// `MIMALLOC_PURGE_DELAY` wins.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table. mimalloc documents it
    // as not thread safe; this runs first in `main`, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// How long `serve` waits at shutdown for demo requests in flight.
const DEMO_DRAIN: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<ExitCode> {
    keep_freed_memory();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc's `purge_delay`: its default (1000 ms in mimalloc v3) reads
    /// back, and a value set reads back.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_mimalloc_means() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads and writes of mimalloc's option table; no other test touches it.
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), -1);
        }
    }
}
