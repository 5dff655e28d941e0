//! # Factor IV — Backing services (reference solution)
//!
//! **Rule:** treat backing services as attached resources: the app finds each one through a URL
//! in its config, and survives losing it.
//!
//! The exercise reached Redis at a host and port written into its code, over one connection made
//! at start-up. Here the app finds Redis through `REDIS_URL`, all of it (server, database index,
//! credentials), so any Redis can be attached without a code change; and its connection
//! reconnects by itself, with short timeouts, so while Redis is away requests answer `503`
//! quickly, the process stays up, and service resumes when Redis is back.
//!
//! - Solved in: `src/config.rs` and `src/state.rs` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "IV. Backing services" (`book/src/04-backing-services.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod routes;
mod state;

use anyhow::Context;
use config::Config;
use state::AppState;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line on stderr and a non-zero status, even with RUST_BACKTRACE=1: `{err:#}` is
            // the error and its causes on one line. (Returning the error from `main` would print
            // its `Debug` form instead, with a backtrace whenever RUST_BACKTRACE is set.)
            eprintln!("noticeboard: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    tracing_subscriber::fmt()
        // Unset means the default; a RUST_LOG that does not parse stops the process, as Factor XI
        // teaches, instead of being ignored.
        .with_env_filter(
            EnvFilter::try_new(
                std::env::var("RUST_LOG")
                    .ok()
                    .filter(|value| !value.is_empty())
                    .unwrap_or_else(|| "info".into()),
            )
            .context("RUST_LOG is not a valid log filter")?,
        )
        .init();

    let state = AppState::connect(&config).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(state)).await?;
    Ok(())
}
