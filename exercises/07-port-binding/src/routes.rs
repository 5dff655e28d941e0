//! HTTP routes: the homepage visit counter and health. Nothing here depends on where the server
//! listens; that is decided once, in `main.rs`, from `config.rs`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The visit count. Process memory is enough for this exercise, which runs one process per port;
/// Factor VI (Processes) is where the count moves to Redis so that replicas share it.
#[derive(Clone, Default)]
pub struct Visits(Arc<AtomicU64>);

pub fn router() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/visits", get(visits))
        .route("/health", get(|| async { "ok" }))
        .with_state(Visits::default())
}

async fn home(State(visits): State<Visits>) -> String {
    let count = visits.0.fetch_add(1, Ordering::Relaxed) + 1;
    format!("Hello from the noticeboard! This page has been visited {count} times.\n")
}

async fn visits(State(visits): State<Visits>) -> Json<serde_json::Value> {
    Json(json!({ "visits": visits.0.load(Ordering::Relaxed) }))
}
