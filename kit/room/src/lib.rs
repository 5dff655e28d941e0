//! The class board: where an instructor sees the room (`cargo xtask room serve`).
//!
//! Learners' `cargo xtask check` posts each verdict here (factor, passed/total, the failing checks'
//! names, compiled or not, hints used, whether the checks were edited: never code, paths or
//! environment). The instructor's page shows learners × factors live (server-sent events), who has
//! been stuck longest, and which checks fail for how many people, each linked to its chapter and
//! speaker note.
//!
//! The board is itself a twelve-factor app on the book's stack: config from the environment
//! (`config`), state in Postgres (`store`), JSON logs to stdout, graceful shutdown on SIGTERM
//! (`serve`), admin tasks as one-off commands of the same binary (`main.rs`: `open`, `close`,
//! `export`). It is not part of the learner's build: xtask builds it on demand.
//!
//! - `catalog`: the factors, their checks and speaker notes, embedded from the kit's files.
//! - `api`: learners join and post; every input validated, every refusal a 4xx.
//! - `instructor`: the instructor's sign-in, the board, its live events, CSV.
//! - `board`: each learner's row, derived from the verdict log.
//! - `events`: the live stream to open pages.
//! - `security`: codes, tokens, rate limits, names, security headers.
//! - `store`: Postgres.
//! - `web`: the embedded pages and the built book.

pub mod api;
pub mod board;
pub mod catalog;
pub mod config;
pub mod events;
pub mod instructor;
pub mod security;
pub mod store;
pub mod web;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The largest request body: a verdict is a few hundred bytes.
pub const MAX_BODY: usize = 8 * 1024;

/// What every handler shares.
pub struct AppState {
    pub store: store::Store,
    pub catalog: catalog::Catalog,
    pub hub: events::Hub,
    /// Join and sign-in attempts per address: a class code cannot be guessed.
    pub joins: security::RateLimit<std::net::IpAddr>,
    /// Posts per learner token (counted before the database is asked).
    pub posts: security::RateLimit<String>,
    pub book_dir: Option<PathBuf>,
}

impl AppState {
    pub fn new(store: store::Store, config: &config::Config) -> Result<AppState> {
        Ok(AppState {
            store,
            catalog: catalog::Catalog::kit()?,
            hub: events::Hub::default(),
            joins: security::RateLimit::per_minute(config.joins_per_minute),
            posts: security::RateLimit::per_minute(config.posts_per_minute),
            book_dir: config.book_dir.clone().filter(|dir| dir.is_dir()),
        })
    }
}

pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/board", get(web::board))
        .route("/projector", get(web::board))
        .route("/assets/board.js", get(web::script))
        .route("/assets/board.css", get(web::style))
        .route("/health", get(web::health))
        .route("/ready", get(web::ready))
        .route("/book/", get(web::book))
        .route("/book/{*path}", get(web::book))
        .route("/api/join", post(api::join))
        .route("/api/learners/{id}/verdicts", post(api::post_verdict))
        .route("/api/learners/{id}/doctor", post(api::post_doctor))
        .route("/api/session", post(instructor::session))
        .route("/api/board", get(instructor::snapshot))
        .route("/api/events", get(instructor::events))
        .route("/api/export.csv", get(instructor::export))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(
            // One JSON line per request: method, path, status and how long the board took.
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .with_state(state)
}

/// Serves until `shutdown` completes, then stops accepting, ends the live streams and lets
/// requests in flight finish (at most `config.shutdown_grace`).
pub async fn serve(
    config: config::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let store = store::Store::connect(&config.database_url).await?;
    let state = Arc::new(AppState::new(store, &config)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set PORT to another port)",
                config.listen
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, book = state.book_dir.is_some(), "class board listening");
    let hub_state = Arc::clone(&state);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        hub_state.hub.close();
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let grace = config.shutdown_grace;
    let bounded = async move {
        // After the signal, in-flight requests get `grace` to finish.
        let _ = stopping_rx.await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("the server failed")?,
        () = bounded => tracing::warn!("requests still open after the grace period; stopping"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (a process manager, `kill`) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
