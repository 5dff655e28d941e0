//! The web process: accepts notifications over HTTP.

use crate::config::Config;
use crate::db;
use crate::webhook::{Webhook, process_name};
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

#[derive(Clone)]
struct AppState {
    pool: PgPool,
    webhook: Webhook,
}

/// Runs the web process until it is killed.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(&config).await?;
    db::ensure_schema(&pool).await?;
    let webhook = Webhook::new(&config.webhook_url)?;
    let state = AppState { pool, webhook };

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "web process listening");
    axum::serve(listener, router(state)).await?;
    Ok(())
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/notifications", post(post_notification))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(state)
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

// ANCHOR: post
/// `POST /notifications`: stores the notification and answers `202 Accepted` at once; the
/// delivery to the webhook happens after the answer.
async fn post_notification(
    State(state): State<AppState>,
    Json(new): Json<NewNotification>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let notification = db::insert(&state.pool, &new.name, &new.message).await?;
    // TODO(factor-8): the web process does the work itself, in a task it spawns. It cannot be
    // scaled apart from the work (more deliveries means more web processes), and a delivery in
    // flight dies with it on every deploy, crash or scale-in: nothing ever retries that row. The
    // row is already stored; let a separate `worker` process type (see `src/main.rs`) take
    // undelivered rows from the table and deliver them, and only store here.
    tokio::spawn(deliver(state.clone(), notification.clone()));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": notification.id.to_string() })),
    ))
}

/// Delivers one notification from inside the web process.
async fn deliver(state: AppState, notification: db::Notification) {
    let outcome = match state.webhook.deliver(&notification, &process_name()).await {
        Ok(()) => db::mark_delivered(&state.pool, notification.id).await,
        Err(err) => {
            tracing::warn!(id = notification.id, "delivery failed: {err:#}");
            db::record_failure(&state.pool, notification.id, &format!("{err:#}")).await
        }
    };
    if let Err(err) = outcome {
        tracing::error!(id = notification.id, "cannot record the delivery: {err:#}");
    }
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
