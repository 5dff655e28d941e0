//! HTTP routes: the notification API and health.
//!
//! Handlers only translate HTTP to calls on [`Store`]; where notifications live is `store.rs`'s job.

use crate::store::{Store, StoreError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn router(store: Store) -> Router {
    Router::new()
        .route("/notifications", get(list).post(create))
        .route("/health", get(|| async { "ok" }))
        .with_state(store)
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

async fn create(State(store): State<Store>, Json(new): Json<NewNotification>) -> Response {
    match store.add(&new.name, &new.message).await {
        Ok(notification) => (StatusCode::CREATED, Json(notification)).into_response(),
        Err(err) => failure(err),
    }
}

async fn list(State(store): State<Store>) -> Response {
    match store.list().await {
        Ok(notifications) => Json(notifications).into_response(),
        Err(err) => failure(err),
    }
}

fn failure(err: StoreError) -> Response {
    match err {
        StoreError::MessageTooLong => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "message is longer than 280 characters" })),
        )
            .into_response(),
        StoreError::Unavailable(err) => {
            tracing::error!(error = %err, "request failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "backing service unavailable\n",
            )
                .into_response()
        }
    }
}
