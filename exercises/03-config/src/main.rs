//! # Factor III — Config (exercise)
//!
//! **Rule:** store config in the environment, strictly separated from code. Everything that
//! varies between deploys (database URLs and credentials above all) is read at start-up from
//! environment variables; nothing deploy-specific is written in the source.
//!
//! This noticeboard serves its notifications from Postgres, and the database URL, password
//! included, is a constant in the code. It runs only where that database happens to exist, every
//! deploy shares one password, and anyone who can read the repository can read it too.
//!
//! - Edit: `src/config.rs` (look for `TODO(factor-3)`). Nothing else needs touching.
//! - Check: `cargo xtask check 3` (stuck? `cargo xtask hint 3`).
//! - Read: the book, chapter "III. Config" (`book/src/03-config.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

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
