//! HTTP routes: the homepage visit counter and the liveness probe.
//!
//! Handlers only translate HTTP to calls on [`AppState`]; which Redis it talks to, and how, is
//! `state.rs`'s job.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/visits", get(visits))
        // Liveness: the process serves HTTP. It does not touch Redis, so an outage of Redis does
        // not make a platform kill and restart a process that is otherwise fine.
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

async fn home(State(state): State<AppState>) -> Result<String, AppError> {
    let visits = state.record_visit().await?;
    Ok(format!(
        "Hello from the noticeboard! This page has been visited {visits} times.\n"
    ))
}

async fn visits(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(json!({ "visits": state.visits().await? })))
}

// ANCHOR: app_error
/// Redis could not serve a request: log why, answer `503 Service Unavailable`, keep running.
struct AppError(anyhow::Error);

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "redis is unavailable; answering 503");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the visit counter is unavailable; try again shortly\n",
        )
            .into_response()
    }
}
// ANCHOR_END: app_error
