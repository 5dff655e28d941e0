//! HTTP routes: the homepage visit counter, login sessions, health.
//!
//! Handlers only translate HTTP to calls on [`AppState`]; where the state lives is `state.rs`'s job.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/visits", get(visits))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/health", get(|| async { "ok" }))
        .route("/health/ready", get(ready))
        .with_state(state)
}

// ANCHOR: home
async fn home(State(state): State<AppState>) -> Result<String, AppError> {
    let visits = state.record_visit().await?;
    Ok(format!(
        "Hello from the noticeboard! This page has been visited {visits} times.\n"
    ))
}
// ANCHOR_END: home

async fn visits(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(json!({ "visits": state.visits().await? })))
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

async fn login(
    State(state): State<AppState>,
    Json(login): Json<Login>,
) -> Result<Response, AppError> {
    let token = state.create_session(&login.name).await?;
    let cookie = format!("session={token}; HttpOnly; Path=/");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "token": token })),
    )
        .into_response())
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(token) = bearer_token(&headers) else {
        return Ok((StatusCode::UNAUTHORIZED, "log in first\n").into_response());
    };
    Ok(match state.session_user(token).await? {
        Some(name) => Json(json!({ "name": name })).into_response(),
        None => (StatusCode::UNAUTHORIZED, "unknown or expired session\n").into_response(),
    })
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn ready(State(state): State<AppState>) -> StatusCode {
    match state.ping().await {
        Ok(()) => StatusCode::OK,
        Err(err) => {
            tracing::warn!(error = %err, "not ready: Redis does not answer");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Redis could not serve a request: log why, answer `503 Service Unavailable`, keep running (as
/// Factor IV taught: whoever is on call reads in the log which backing service is down).
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
            "backing service unavailable\n",
        )
            .into_response()
    }
}
