//! The web process's HTTP routes.

use crate::db;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/notifications", post(create_notification))
        .route("/slow", get(slow).post(slow))
        .with_state(pool)
}

/// Liveness: the process serves requests.
async fn health() -> &'static str {
    "ok"
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

/// Queues the notification for a worker to deliver; answers at once with its id.
async fn create_notification(
    State(pool): State<PgPool>,
    Json(new): Json<NewNotification>,
) -> Result<(StatusCode, Json<Value>), (StatusCode, String)> {
    match db::enqueue(&pool, &new.name, &new.message).await {
        Ok(id) => Ok((StatusCode::ACCEPTED, Json(json!({ "id": id })))),
        Err(err) => {
            tracing::error!("cannot queue a notification: {err:#}");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the queue is unavailable".into(),
            ))
        }
    }
}

/// The longest `GET /slow` will sleep: two minutes.
const MAX_SLOW_MS: u64 = 120_000;

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

// ANCHOR: slow
/// A request that takes as long as the caller asks (`GET /slow?ms=1500`), up to two minutes: it
/// stands in for a slow report or a big upload, a request still in flight when the process is
/// told to stop. It answers `POST` too, so that it can also play a slow webhook for a worker.
async fn slow(Query(params): Query<SlowParams>) -> Json<Value> {
    let ms = params.ms.min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({ "slept_ms": ms }))
}
// ANCHOR_END: slow
