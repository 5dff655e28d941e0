//! HTTP routes: the homepage, which release this is, health.
//!
//! Solved: the homepage template is compiled into the binary. The process reads nothing from the
//! source tree, so the artefact runs wherever it is copied, and no edit on a server can change a
//! release that is running.

use crate::config::Config;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

/// The commit this binary was built from, recorded by `build.rs`. Every release of one build
/// reports the same commit: it belongs to the build, so it is fine to compile it in.
pub const COMMIT: &str = env!("NOTICEBOARD_COMMIT");

// ANCHOR: template
// Solved: the template is part of the code (it changes with the code, in commits, and every release
// of a build must render the same page), so it is compiled in, like the Rust around it. Config that
// fills it in comes from the environment at run time.
const TEMPLATE: &str = include_str!("../templates/home.html");
// ANCHOR_END: template

pub fn router(config: Config) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/release", get(release))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(config))
}

// ANCHOR: home
async fn home(State(config): State<Arc<Config>>) -> Html<String> {
    Html(render(TEMPLATE, &config))
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
