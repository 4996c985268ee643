//! Copernic's HTTP side: the JSON API under `/api/v1`, signed webhooks under `/hooks`, feed
//! polling, and the embedded web UI. The only crate that serves HTTP.

mod error;
pub mod feeds;
pub mod openapi;
pub mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use copernic_engage::Engine;
use copernic_pipeline::sources::feed::FeedConfig;
use copernic_pipeline::{Ingestor, Limits};
use copernic_store::Store;
use serde::Deserialize;

pub use error::ApiError;
pub use routes::hooks::{sign, WebhookConfig};

/// What `copernic serve` reads from its configuration file. Unknown keys are errors.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Signed webhook sources, each served at `/hooks/{name}`.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Feeds polled on their interval.
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    #[serde(default)]
    pub limits: Limits,
    /// Replace personal data in stored messages (`[email]`, `[card]`, …).
    #[serde(default)]
    pub redact_pii: bool,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub ingestor: Arc<Ingestor>,
    pub store: Arc<dyn Store>,
    pub webhooks: Arc<HashMap<String, WebhookConfig>>,
    pub limits: Limits,
    /// The care side: cases, routing, SLAs, replies.
    pub engine: Arc<Engine>,
    /// Wakes the outbox worker when a reply is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// How often the engine's workers (case follower, SLA clocks, outbox) run.
    pub worker_period: std::time::Duration,
}

impl AppState {
    pub fn new(ingestor: Arc<Ingestor>, engine: Arc<Engine>, config: &ServerConfig) -> AppState {
        AppState {
            engine,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            worker_period: std::time::Duration::from_secs(1),
            store: ingestor.store().clone(),
            ingestor,
            webhooks: Arc::new(
                config
                    .webhooks
                    .iter()
                    .map(|w| (w.name.clone(), w.clone()))
                    .collect(),
            ),
            limits: config.limits,
        }
    }
}

/// The whole application, without a socket: tests call it with `oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::ui::router())
        .nest(
            "/api/v1",
            routes::api::router()
                .merge(routes::queries::router())
                .merge(routes::labels::router())
                .merge(routes::cases::router())
                .merge(routes::people::router())
                // After routing, so the middleware sees the matched route.
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    routes::access::authorize,
                )),
        )
        .nest("/hooks", routes::hooks::router())
        .fallback(|| async { ApiError::NotFound("no such route; the API is under /api/v1".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Bodies are read as bytes with our own limit check (see routes::body), so axum's default
        // 2 MB cap must not cut first with a different error shape.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish. Feed pollers run
/// beside the server and stop with it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: &ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut pollers = feeds::spawn_pollers(&config.feeds, state.ingestor.clone(), stop_rx.clone());
    pollers.push(spawn_engine_worker(&state, stop_rx));
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(message = "serving", %addr);
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    for p in pollers {
        let _ = p.await;
    }
    result
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!(message = "shutting down");
}

/// Checks the `[sources]` of a `copernic.toml` against what `serve --config` accepts.
pub fn check_sources(file: &copernic_engage::ConfigFile) -> Result<(), String> {
    if let Some(t) = &file.sources {
        sources_config(t).map(|_| ())?;
    }
    Ok(())
}

/// `[sources]` (feeds and webhooks) read as a server configuration.
pub fn sources_config(t: &toml::Table) -> Result<ServerConfig, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sources {
        #[serde(default)]
        webhooks: Vec<WebhookConfig>,
        #[serde(default)]
        feeds: Vec<FeedConfig>,
    }
    let s: Sources = t
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("sources: {e}"))?;
    Ok(ServerConfig {
        webhooks: s.webhooks,
        feeds: s.feeds,
        ..ServerConfig::default()
    })
}

/// Runs the engine's background work until `stop`: new messages into cases, SLA clocks, the
/// outbox. Each pass is short; errors are logged and the next pass tries again.
pub fn spawn_engine_worker(
    state: &AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let engine = state.engine.clone();
    let wake = state.outbox_wake.clone();
    let period = state.worker_period;
    tokio::spawn(async move {
        loop {
            let e = engine.clone();
            let passes =
                tokio::task::spawn_blocking(move || -> Result<(), copernic_engage::EngageError> {
                    e.catch_up()?;
                    e.tick()?;
                    Ok(())
                })
                .await;
            match passes {
                Ok(Err(e)) => {
                    tracing::error!(message = "case follower or SLA clocks failed", error = %copernic_core::error_chain(&e))
                }
                Err(e) => tracing::error!(message = "engine worker panicked", error = %e),
                Ok(Ok(())) => {}
            }
            if let Err(e) = engine.outbox_once().await {
                tracing::error!(message = "outbox pass failed", error = %copernic_core::error_chain(&e));
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = wake.notified() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}
