//! HTTP routes: the homepage, which release this is, health.

use crate::config::Config;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

/// The commit this binary was built from, recorded by `build.rs`. Every release of one build
/// reports the same commit: it belongs to the build, so it is fine to compile it in.
pub const COMMIT: &str = env!("NOTICEBOARD_COMMIT");

// ANCHOR: template
// TODO(factor-5): this path is into the source tree, written into the binary by the compiler, and
// the file is read at run time. The binary works only where that checkout exists, and whoever edits
// the file there changes a running release. A template is code: compile it in with `include_str!`.
const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/home.html");
// ANCHOR_END: template

pub fn router(config: Config) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/release", get(release))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(config))
}

// ANCHOR: home
async fn home(State(config): State<Arc<Config>>) -> Result<Html<String>, AppError> {
    let template = std::fs::read_to_string(TEMPLATE)
        .map_err(|err| AppError(format!("cannot read the template {TEMPLATE}: {err}")))?;
    Ok(Html(render(&template, &config)))
}
// ANCHOR_END: home

// ANCHOR: release
/// Which release answers, and which build it runs.
async fn release(State(config): State<Arc<Config>>) -> Json<serde_json::Value> {
    Json(json!({ "release": config.release_id, "commit": COMMIT }))
}
// ANCHOR_END: release

/// Fills the template's `{{banner}}`, `{{release}}` and `{{commit}}`.
fn render(template: &str, config: &Config) -> String {
    let banner = match &config.banner {
        Some(text) => format!(r#"<p class="banner">{}</p>"#, escape(text)),
        None => String::new(),
    };
    template
        .replace("{{banner}}", &banner)
        .replace("{{release}}", &escape(&config.release_id))
        .replace("{{commit}}", COMMIT)
}

/// Config is text, not markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A request that cannot be served: log why, answer 500.
struct AppError(String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").into_response()
    }
}
