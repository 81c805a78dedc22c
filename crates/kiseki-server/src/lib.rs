//! kiseki's network side: the receivers of every wire format, the query APIs and own metrics.
//!
//! [`start`] binds every configured listener, then serves them until [`Server::shutdown`].
//! Receivers decode with `kiseki-codec` and store through the `kiseki-store` trait; nothing here
//! knows which store is behind it.

pub mod body;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod receivers;
mod serve;
pub mod ui;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use kiseki_store::Store;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use body::BodyLimits;
use ingest::Ingest;
use metrics::Metrics;
pub use query::QueryLimits;
use receivers::{Listener, RECEIVERS, ReceiverContext};

/// Where each listener binds; `None` leaves it off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenConfig {
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
    pub zipkin: Option<SocketAddr>,
    pub jaeger_compact: Option<SocketAddr>,
    pub jaeger_binary: Option<SocketAddr>,
    pub jaeger_http: Option<SocketAddr>,
    pub jaeger_grpc: Option<SocketAddr>,
    pub datadog: Option<SocketAddr>,
    pub query: Option<SocketAddr>,
}

impl ListenConfig {
    /// Every listener on its standard port on `host`.
    pub fn standard(host: IpAddr) -> Self {
        let at = |port| Some(SocketAddr::new(host, port));
        Self {
            otlp_grpc: at(4317),
            otlp_http: at(4318),
            zipkin: at(9411),
            jaeger_compact: at(6831),
            jaeger_binary: at(6832),
            jaeger_http: at(14268),
            jaeger_grpc: at(14250),
            datadog: at(8126),
            query: at(16686),
        }
    }

    /// Every listener on a port the system picks, for tests.
    pub fn ephemeral(host: IpAddr) -> Self {
        let any = Some(SocketAddr::new(host, 0));
        Self {
            otlp_grpc: any,
            otlp_http: any,
            zipkin: any,
            jaeger_compact: any,
            jaeger_binary: any,
            jaeger_http: any,
            jaeger_grpc: any,
            datadog: any,
            query: any,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: ListenConfig,
    pub limits: BodyLimits,
    pub query: QueryLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} for {name}: {source}")]
    Bind { name: &'static str, addr: SocketAddr, source: std::io::Error },
}

/// A running server: its bound addresses and the tasks serving them.
pub struct Server {
    addresses: BTreeMap<&'static str, SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    ingest: Arc<Ingest>,
}

impl Server {
    /// The address a listener is bound to (`otlp_grpc`, `zipkin`, `query`, ...).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addresses.get(name).copied()
    }

    pub fn addresses(&self) -> &BTreeMap<&'static str, SocketAddr> {
        &self.addresses
    }

    /// The pipeline entry, for traffic generated inside the process (`serve --demo`).
    pub fn ingest(&self) -> Arc<Ingest> {
        Arc::clone(&self.ingest)
    }

    /// Stops accepting, lets requests in flight finish, and waits for every listener to close.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Serves until a listener fails or stops.
    pub async fn wait(&mut self) {
        self.tasks.join_next().await;
    }
}

/// Everything the server serves, before any socket is bound: tests drive the routers and
/// datagram handlers directly.
pub struct App {
    pub listeners: Vec<Listener>,
    pub ingest: Arc<Ingest>,
}

/// Builds every configured receiver and the query API over one store.
pub fn app(config: &ServerConfig, store: Arc<dyn Store>) -> App {
    let mut metrics = Metrics::new();
    metrics.register_store(Arc::clone(&store));
    let metrics = Arc::new(metrics);
    let ingest = Arc::new(Ingest::new(Arc::clone(&store), Arc::clone(&metrics)));
    let query = query::QueryState { store, metrics, limits: config.query };
    let context = ReceiverContext {
        ingest: Arc::clone(&ingest),
        limits: config.limits,
        query: query.clone(),
    };
    let mut listeners: Vec<Listener> =
        RECEIVERS.iter().flat_map(|factory| factory(config, &context)).collect();
    if let Some(addr) = config.listen.query {
        listeners.push(Listener::Tcp { name: "query", addr, router: query::router(query) });
    }
    App { listeners, ingest }
}

/// Binds every configured listener, then serves them in background tasks.
pub async fn start(config: ServerConfig, store: Arc<dyn Store>) -> Result<Server, StartError> {
    let App { listeners, ingest } = app(&config, store);

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut addresses = BTreeMap::new();
    let mut bound = Vec::new();
    for listener in listeners {
        match listener {
            Listener::Tcp { name, addr, router } => {
                let socket = TcpListener::bind(addr).await.map_err(|source| StartError::Bind {
                    name,
                    addr,
                    source,
                })?;
                addresses.insert(name, socket.local_addr().unwrap_or(addr));
                bound.push(BoundListener::Tcp(socket, router));
            }
            Listener::Udp { name, addr, handler } => {
                let socket = UdpSocket::bind(addr).await.map_err(|source| StartError::Bind {
                    name,
                    addr,
                    source,
                })?;
                addresses.insert(name, socket.local_addr().unwrap_or(addr));
                bound.push(BoundListener::Udp(socket, handler));
            }
        }
    }

    let mut tasks = JoinSet::new();
    for listener in bound {
        let mut stop = shutdown_rx.clone();
        match listener {
            BoundListener::Tcp(socket, router) => {
                tasks.spawn(serve::serve_tcp(socket, router, stop));
            }
            BoundListener::Udp(socket, handler) => {
                tasks.spawn(async move {
                    let mut buffer = vec![0u8; 65_536];
                    loop {
                        tokio::select! {
                            received = socket.recv_from(&mut buffer) => match received {
                                Ok((len, _)) => handler.datagram(&buffer[..len]).await,
                                Err(error) => tracing::warn!(%error, "receiving a datagram failed"),
                            },
                            _ = stop.changed() => break,
                        }
                    }
                });
            }
        }
    }
    for (name, addr) in &addresses {
        tracing::info!(listener = name, %addr, "listening");
    }
    Ok(Server { addresses, shutdown, tasks, ingest })
}

enum BoundListener {
    Tcp(TcpListener, axum::Router),
    Udp(UdpSocket, Arc<dyn receivers::DatagramHandler>),
}
