//! The web process: accepts notifications over HTTP.
//!
//! Solved: it only stores them. Delivering is the `worker` process type's job (`src/worker.rs`),
//! so the web process answers in milliseconds whatever the webhook does, and nothing is lost when
//! it restarts: what it accepted is in Postgres.

use crate::config::Config;
use crate::db;
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

/// Runs the web process until it is killed.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(&config).await?;
    db::ensure_schema(&pool).await?;

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "web process listening");
    axum::serve(listener, router(pool)).await?;
    Ok(())
}

fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/notifications", post(post_notification))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(pool)
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

// ANCHOR: post
/// `POST /notifications`: stores the notification and answers `202 Accepted` at once; a worker
/// process delivers it later.
async fn post_notification(
    State(pool): State<PgPool>,
    Json(new): Json<NewNotification>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    // Solved: the row *is* the job. Once the INSERT has committed, the notification waits in
    // Postgres for any worker, however many web processes come and go. No task is spawned here.
    let notification = db::insert(&pool, &new.name, &new.message).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": notification.id.to_string() })),
    ))
}
// ANCHOR_END: post

/// A database failure: log it, answer 503.
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
            "backing service unavailable\n",
        )
            .into_response()
    }
}
