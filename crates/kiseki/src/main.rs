//! The `kiseki` binary: `kiseki serve` runs every receiver, the store and the query APIs.

mod cli;
mod config;
mod demo;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use kiseki_store::MemoryStore;

use cli::{Cli, Command, ServeArgs};
use config::{FileConfig, Settings};

/// A faster allocator than the system's for many small allocations, as decoding makes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let settings = Settings::resolve(&args, file)?;
    let store = Arc::new(MemoryStore::new(settings.memory_max_spans));
    let mut server = kiseki_server::start(settings.server.clone(), store)
        .await
        .context("starting the server")?;
    if let Some(rate) = settings.demo_traces_per_second {
        tokio::spawn(demo::run(server.ingest(), rate, server.addr("query")));
        tracing::info!(traces_per_second = rate, "demo traffic on");
    }
    if let Some(query) = server.addr("query") {
        tracing::info!("traces readable at http://{query}/api/traces/<trace id>");
    }
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down"),
        _ = server.wait() => anyhow::bail!("a listener stopped unexpectedly"),
    }
    server.shutdown().await;
    Ok(())
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
