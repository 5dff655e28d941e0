//! HTTP routes: the notifications on the board, and health.
//!
//! The notifications are a fixed list compiled into the binary, so this snapshot of the noticeboard
//! needs no database: the lesson here is the logs, not where data lives.

use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Serialize)]
struct Notification {
    id: u64,
    name: &'static str,
    message: &'static str,
}

const BOARD: &[Notification] = &[
    Notification {
        id: 1,
        name: "ada",
        message: "The kitchen fridge is cleaned out on Fridays.",
    },
    Notification {
        id: 2,
        name: "grace",
        message: "Lost: one blue umbrella, probably in room 4.",
    },
    Notification {
        id: 3,
        name: "linus",
        message: "Bike shed meeting moved to Thursday.",
    },
];

// ANCHOR: router
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "Welcome to the noticeboard.\n" }))
        .route("/notifications", get(list))
        .route("/notifications/{id}", get(show))
        .route("/health", get(|| async { "ok" }))
        .layer(middleware::from_fn(log_request))
}
// ANCHOR_END: router

async fn list() -> Json<&'static [Notification]> {
    Json(BOARD)
}

// ANCHOR: show
async fn show(Path(id): Path<u64>) -> Response {
    match BOARD.iter().find(|notification| notification.id == id) {
        Some(notification) => Json(notification.clone()).into_response(),
        None => {
            // TODO(factor-11): the id is buried in a sentence. Give it a field of its own.
            tracing::warn!("someone asked for notification {id}, which does not exist");
            (StatusCode::NOT_FOUND, "no such notification\n").into_response()
        }
    }
}
// ANCHOR_END: show

// ANCHOR: log_request
/// Writes one line per request, after the response is ready.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let what = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    // TODO(factor-11): a sentence for a human to read. A log platform cannot filter on the status
    // or chart the latency without parsing the prose back apart: log method, path, status and
    // latency as fields of the event (or let tower-http's `TraceLayer` do it).
    tracing::info!(
        "{what} answered {} in {} ms",
        response.status(),
        started.elapsed().as_millis()
    );
    response
}
// ANCHOR_END: log_request
