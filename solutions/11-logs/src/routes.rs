//! HTTP routes: the notifications on the board, and health.
//!
//! The notifications are a fixed list compiled into the binary, so this snapshot of the noticeboard
//! needs no database: the lesson here is the logs, not where data lives.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::time::Duration;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::{Level, Span};

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
        // Solved: tower-http's `TraceLayer` replaces the hand-written middleware. Each request gets
        // a span holding `method`, `uri` and `version`; the JSON formatter prints the span's fields
        // with every event inside it, so the warning in `show` carries the method and path too.
        // The span defaults to DEBUG; the request log is worth INFO. When the response is ready,
        // `finished` logs one event with the status and the latency as numbers. Not the layer's
        // `DefaultOnResponse`: it logs the latency as text (`"latency": "210 μs"`), which a log
        // platform cannot sum, compare or chart without parsing it back apart. Server errors (5xx)
        // get one more event, at ERROR, from the layer's `on_failure`.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(finished),
        )
}

/// The request log: one event per response, `status` and `latency_us` (microseconds) as numbers,
/// so "p99 latency per route" is a query on the log platform, not a regular expression.
fn finished<B>(response: &axum::http::Response<B>, latency: Duration, _span: &Span) {
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        status = response.status().as_u16(),
        latency_us,
        "finished processing request"
    );
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
            // Solved: the id is a field (`"id": 99`), not a word in a sentence.
            tracing::warn!(id, "no such notification");
            (StatusCode::NOT_FOUND, "no such notification\n").into_response()
        }
    }
}
// ANCHOR_END: show
