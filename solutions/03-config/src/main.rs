//! # Factor III — Config (reference solution)
//!
//! **Rule:** store config in the environment, strictly separated from code. Everything that
//! varies between deploys (database URLs and credentials above all) is read at start-up from
//! environment variables; nothing deploy-specific is written in the source.
//!
//! The exercise had the database URL, password included, as a constant in the code. Here it comes
//! from `DATABASE_URL`: the same binary runs against any database it is given, a missing or
//! malformed URL stops it at once with a message naming the variable, and the start-up log shows
//! the URL with its password hidden.
//!
//! - Solved in: `src/config.rs` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "III. Config" (`book/src/03-config.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` in `exercises/03-config`.

mod config;
mod db;
mod routes;

use anyhow::Context;
use config::Config;
use db::Db;
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
    // ANCHOR: startup
    // A config error ends `run` here; `main` prints it on one line and exits with status 1.
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
    // What this shows is up to `Config`'s `Debug`.
    tracing::info!("starting with {config:?}");
    // ANCHOR_END: startup

    let db = Db::connect(&config)?;
    if let Err(err) = db.create_table_if_missing().await {
        // Not fatal: the database may come up later. Until it does, requests answer 503.
        tracing::warn!("cannot reach the database yet: {err:#}");
    }
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(db)).await?;
    Ok(())
}
