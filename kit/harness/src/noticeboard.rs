//! The noticeboard's HTTP contract, as many factors' checks use it: count a visit, read the count.
//!
//! A reply that breaks the contract (wrong status, wrong shape) fails the test saying so, so a
//! learner can tell "the app answered something unexpected" from "the factor is not fixed yet".

use crate::App;

/// `GET /visits` → `{"visits": <number>}`.
#[track_caller]
pub fn visits(app: &App) -> u64 {
    let reply = app.get("/visits");
    let count = reply
        .json::<serde_json::Value>()
        .and_then(|body| body["visits"].as_u64());
    match count {
        Some(count) if reply.status == 200 => count,
        _ => panic!(
            "GET /visits on {} answered {} {:?}; the contract is 200 with {{\"visits\": <number>}}",
            app.name(),
            reply.status,
            reply.body
        ),
    }
}

/// `GET /` counts one visit and answers 200.
#[track_caller]
pub fn visit(app: &App) {
    let reply = app.get("/");
    assert_eq!(
        reply.status,
        200,
        "GET / on {} answered {}: {}",
        app.name(),
        reply.status,
        reply.body
    );
}

/// `text` without ANSI escape sequences, e.g. a log line from a coloured logger.
pub fn strip_ansi(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}
