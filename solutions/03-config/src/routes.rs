//! HTTP routes: the notification API and a health probe.
//!
//! Handlers only translate HTTP to calls on [`Db`]; which database that is, is `config.rs`'s job.

use crate::db::{Db, Notification};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/notifications", get(list).post(create))
        .route("/health", get(|| async { "ok" }))
        .with_state(db)
}

async fn list(State(db): State<Db>) -> Result<Json<Vec<Notification>>, AppError> {
    Ok(Json(db.notifications().await?))
}

#[derive(Deserialize)]
struct NewNotification {
    name: String,
    message: String,
}

async fn create(
    State(db): State<Db>,
    Json(new): Json<NewNotification>,
) -> Result<(StatusCode, Json<Notification>), AppError> {
    let notification = db.add(&new.name, &new.message).await?;
    Ok((StatusCode::CREATED, Json(notification)))
}

/// The database failed us: log why, answer 503.
struct AppError(anyhow::Error);

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // `{:#}` prints the whole chain: "cannot read the notifications: <what Postgres said>".
        tracing::error!("request failed: {:#}", self.0);
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
    }
}
