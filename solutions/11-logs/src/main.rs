//! # Factor XI — Logs (reference solution)
//!
//! **Rule:** treat logs as event streams: the app writes them, unbuffered, to stdout, and never
//! concerns itself with routing or storing them.
//!
//! Every event is one JSON object on one line of stdout; `RUST_LOG` picks the level; every request
//! is an event with its method, path, status and latency as fields. The app opens no file.
//!
//! - Changed: `src/logging.rs` and `src/routes.rs` (look for `Solved:`).
//! - Check: `cargo xtask check 11 --solution`.
//! - Read: the book, chapter "XI. Logs" (`book/src/11-logs.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod logging;
mod routes;

use anyhow::Context;
use config::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // A start-up error is one line on stderr and a failing exit code: no panic, no backtrace.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    logging::init()?;

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router()).await?;
    Ok(())
}
