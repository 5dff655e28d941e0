//! HTTP routes: the homepage, the notification API, the build's identity and a health probe.

use crate::board::{Board, Notification};
use crate::build_info;
use crate::config::Config;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub board: Board,
    pub config: Arc<Config>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/notifications", get(list).post(create))
        .route("/version", get(version))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

// ANCHOR: home
async fn home(State(state): State<AppState>) -> String {
    let count = state.board.count();
    let config = &state.config;
    // Solved: name and banner come from this deploy's config, not from its own copy of the code.
    let banner = config
        .banner
        .as_ref()
        .map(|banner| format!("{banner}\n"))
        .unwrap_or_default();
    format!(
        "{banner}Welcome to the noticeboard ({})! {count} notifications so far.\n",
        config.deploy_name
    )
}
// ANCHOR_END: home

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
}

async fn list(State(state): State<AppState>, Query(page): Query<Page>) -> Json<Vec<Notification>> {
    Json(state.board.latest(page.limit))
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

async fn create(
    State(state): State<AppState>,
    Json(new): Json<NewNotification>,
) -> (StatusCode, Json<Notification>) {
    (
        StatusCode::CREATED,
        Json(state.board.add(new.name, new.message)),
    )
}

// ANCHOR: version
/// Solved: which build of the codebase answers, so every deploy can be traced back to a commit.
async fn version() -> Json<Value> {
    Json(json!({
        "commit": build_info::COMMIT,
        "dirty": build_info::dirty(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
// ANCHOR_END: version
