//! # Factor I — Codebase (exercise)
//!
//! **Rule:** one codebase tracked in revision control, many deploys. Every deploy (production,
//! staging, a preview, a developer's laptop) runs a build of the same code; what differs between
//! deploys is config, never code.
//!
//! The noticeboard has two deploys, and two copies of the app to match. This file is the
//! production app. `src/bin/staging.rs` is a copy of it, made to give staging its own name and
//! banner, and the package builds both. Since then the copies have drifted: a bug fixed in
//! staging still answers in production, and neither deploy can say which code it runs (both
//! claim to be version 0.1.0).
//!
//! - Edit: this file and `src/bin/staging.rs` (look for `TODO(factor-1)`): one app, one binary,
//!   whose deploys differ only in environment variables, and which names the commit it was built
//!   from.
//! - Check: `cargo xtask check 1` (stuck? `cargo xtask hint 1`).
//! - Read: the book, chapter "I. Codebase" (`book/src/01-codebase.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tracing_subscriber::EnvFilter;

// ANCHOR: settings
// TODO(factor-1): production's settings, written into production's copy of the app; staging's copy
// has its own. Deploys should differ in config (environment variables), not in code.
const DEPLOY_NAME: &str = "production";
const BANNER: Option<&str> = None;
// ANCHOR_END: settings

fn main() -> ExitCode {
    // One line and a non-zero status for a fatal error, not a debug dump.
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")
        .unwrap_or_else(|_| "8080".into())
        .parse()
        .context("PORT is not a port number")?;
    tracing_subscriber::fmt()
        // Unset means the default; a RUST_LOG that does not parse stops the process, as Factor XI
        // teaches, instead of being ignored.
        .with_env_filter(
            EnvFilter::try_new(
                std::env::var("RUST_LOG")
                    .ok()
                    .filter(|value| !value.is_empty())
                    .unwrap_or_else(|| "info".into()),
            )
            .context("RUST_LOG is not a valid log filter")?,
        )
        .init();

    let board = Board::default();
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .with_context(|| format!("cannot bind port {port}"))?;
    tracing::info!(deploy = DEPLOY_NAME, port, "noticeboard listening");
    axum::serve(listener, router(board)).await?;
    Ok(())
}

fn router(board: Board) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/notifications", get(list).post(create))
        .route("/version", get(version))
        .route("/health", get(|| async { "ok" }))
        .with_state(board)
}

/// The notifications, kept in memory: where state belongs is Factor VI's lesson, not this one's.
#[derive(Clone, Default)]
struct Board(Arc<Mutex<Vec<Notification>>>);

#[derive(Clone, Serialize)]
struct Notification {
    id: u64,
    name: String,
    message: String,
}

async fn home(State(board): State<Board>) -> String {
    let count = board.0.lock().unwrap().len();
    let banner = BANNER
        .map(|banner| format!("{banner}\n"))
        .unwrap_or_default();
    format!("{banner}Welcome to the noticeboard ({DEPLOY_NAME})! {count} notifications so far.\n")
}

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
}

async fn list(State(board): State<Board>, Query(page): Query<Page>) -> Json<Vec<Notification>> {
    let notifications = board.0.lock().unwrap();
    Json(latest(
        &notifications,
        page.limit.unwrap_or(notifications.len()),
    ))
}

// ANCHOR: latest
/// The `limit` newest notifications, newest first.
fn latest(notifications: &[Notification], limit: usize) -> Vec<Notification> {
    let mut page = Vec::new();
    for back in 1..limit {
        let Some(index) = notifications.len().checked_sub(back) else {
            break;
        };
        page.push(notifications[index].clone());
    }
    page
}
// ANCHOR_END: latest

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

async fn create(
    State(board): State<Board>,
    Json(new): Json<NewNotification>,
) -> (StatusCode, Json<Notification>) {
    let mut notifications = board.0.lock().unwrap();
    let notification = Notification {
        id: notifications.len() as u64 + 1,
        name: new.name,
        message: new.message,
    };
    notifications.push(notification.clone());
    (StatusCode::CREATED, Json(notification))
}

// ANCHOR: version
// TODO(factor-1): both copies answer "0.1.0", whatever code they run. Name the commit of the
// codebase this binary was built from, and whether the files differed from it:
// `{"commit": "<40 hex digits>", "dirty": <bool>}`.
async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}
// ANCHOR_END: version
