//! # Factor XI — Logs (exercise)
//!
//! **Rule:** treat logs as event streams: the app writes them, unbuffered, to stdout, and never
//! concerns itself with routing or storing them.
//!
//! This noticeboard writes sentences of text to `log/noticeboard.log`, a file it opens, rolls over
//! and keeps in its working directory, at a level fixed in the code. On a platform that runs it in
//! containers, the file dies with the container, nothing collects it, and nobody can turn the level
//! up without a rebuild.
//!
//! - Edit: `src/logging.rs` and `src/routes.rs` (look for `TODO(factor-11)`).
//! - Check: `cargo xtask check 11` (stuck? `cargo xtask hint 11`).
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
    tracing::info!("noticeboard listening on port {}", config.port);
    axum::serve(listener, routes::router()).await?;
    Ok(())
}
