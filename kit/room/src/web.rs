//! The pages and their assets, compiled into the binary (no CDN: the LAN may have no internet), and
//! the built book, served read-only so the heat-map's links work offline.

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::sync::Arc;

const INDEX: &str = include_str!("../assets/index.html");
const BOARD: &str = include_str!("../assets/board.html");
const SCRIPT: &str = include_str!("../assets/board.js");
const STYLE: &str = include_str!("../assets/board.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `/`: what the board is and how a learner joins.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `/board` and `/projector`: one page; the script picks the view from the path.
pub async fn board() -> Response {
    asset("text/html; charset=utf-8", BOARD)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn health() -> &'static str {
    "ok"
}

/// Ready when the database answers.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.store.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
            .into_response()
    }
}

/// `GET /book/{*path}`: a file of the built book, if the path is a plain relative one.
pub async fn book(State(state): State<Arc<AppState>>, path: Option<Path<String>>) -> Response {
    let Some(dir) = &state.book_dir else {
        return not_found("the book is not served here: build it with `cargo xtask book`");
    };
    let path = path.map(|Path(path)| path).unwrap_or_default();
    let Some(file) = book_file(dir, &path) else {
        return not_found("no such page in the book");
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let kind = content_type(&file);
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
                bytes,
            )
                .into_response()
        }
        Err(_) => not_found("no such page in the book"),
    }
}

fn not_found(message: &'static str) -> Response {
    (StatusCode::NOT_FOUND, message).into_response()
}

/// The file a request path names inside `dir`: only plain segments (no `..`, no hidden files, no
/// backslashes), and nothing a symbolic link leads outside of it.
fn book_file(dir: &std::path::Path, path: &str) -> Option<PathBuf> {
    let mut file = dir.to_path_buf();
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        let plain = !segment.starts_with('.')
            && segment
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_'));
        if !plain {
            return None;
        }
        file.push(segment);
    }
    if path.is_empty() || path.ends_with('/') {
        file.push("index.html");
    }
    let real = file.canonicalize().ok()?;
    real.starts_with(dir.canonicalize().ok()?).then_some(real)
}

fn content_type(file: &std::path::Path) -> &'static str {
    match file.extension().and_then(|ext| ext.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_book_are_served() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("index.html"), "i").unwrap();
        std::fs::write(dir.join("06-processes.html"), "p").unwrap();
        assert!(book_file(&dir, "").is_some());
        assert!(book_file(&dir, "06-processes.html").is_some());
        for bad in [
            "../Cargo.toml",
            "..",
            ".git/config",
            "a\\b",
            "%2e%2e/x",
            "missing.html",
        ] {
            assert!(book_file(&dir, bad).is_none(), "{bad} was served");
        }
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("room-book-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
