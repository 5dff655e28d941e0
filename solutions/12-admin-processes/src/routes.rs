//! HTTP routes: the homepage visit counter and the health probes.
//!
//! Solved: no admin route. Resetting the count is the `reset-visits` process's job
//! (`src/bin/reset_visits.rs`); the web process's HTTP surface serves users and probes only.
//!
//! Handlers only translate HTTP to calls on the database module; the SQL lives in `db.rs`.

use crate::db;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;

// ANCHOR: router
pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/visits", get(visits))
        .route("/health", get(|| async { "ok\n" }))
        .route("/health/ready", get(ready))
        // Solved: `POST /admin/reset` is gone, not hidden behind a token. A protected route would
        // still put admin code in every web replica, on the network, running with the web
        // process's rights.
        .with_state(pool)
}
// ANCHOR_END: router

async fn home(State(pool): State<PgPool>) -> Result<String, AppError> {
    let visits = db::record_visit(&pool).await?;
    Ok(format!(
        "Hello from the noticeboard! This page has been visited {visits} times.\n"
    ))
}

async fn visits(State(pool): State<PgPool>) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(json!({ "visits": db::visit_count(&pool).await? })))
}

// ANCHOR: ready
/// Ready for traffic only when the database has the schema this code needs. Checked on every
/// probe, so a process started before the migration becomes ready once it has run.
async fn ready(State(pool): State<PgPool>) -> (StatusCode, &'static str) {
    match db::schema_ready(&pool).await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(err) => {
            tracing::warn!(error = %err, "not ready: the database is unreachable or not migrated");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database is unreachable or not migrated\n",
            )
        }
    }
}
// ANCHOR_END: ready

/// A database failure (or a missing schema): log it, answer 503.
struct AppError(anyhow::Error);

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable or not migrated\n",
        )
            .into_response()
    }
}
