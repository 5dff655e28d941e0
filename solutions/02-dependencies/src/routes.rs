//! HTTP routes: accept a notification and forward it to the webhook; health.
//!
//! Handlers only translate HTTP to calls on [`Webhook`]; how the call is made is `webhook.rs`'s job.

use crate::webhook::{Notification, Webhook};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub fn router(webhook: Webhook) -> Router {
    Router::new()
        .route("/notifications", post(create))
        .route("/health", get(|| async { "ok" }))
        .with_state(webhook)
}

// ANCHOR: create
/// `POST /notifications`: forwards the notification and answers once the webhook has accepted it.
async fn create(
    State(webhook): State<Webhook>,
    Json(notification): Json<Notification>,
) -> Response {
    match webhook.send(&notification).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(notification)).into_response(),
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "the webhook call failed");
            let error = json!({ "error": format!("the webhook call failed: {err:#}") });
            (StatusCode::BAD_GATEWAY, Json(error)).into_response()
        }
    }
}
// ANCHOR_END: create
