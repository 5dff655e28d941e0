//! # Factor X — Dev/prod parity (reference solution)
//!
//! **Rule:** keep development, staging and production as similar as possible, down to the backing
//! services.
//!
//! The exercise stored notifications in Postgres in production and in a `Vec` in memory in
//! development. Here there is one store, Postgres, in every environment: `DATABASE_URL` is
//! required, a developer runs the same Postgres major version as production (`cargo xtask services
//! up`), and development answers exactly as production does. `APP_ENV` only chooses the log format.
//!
//! - Solved in: `src/store.rs` and `src/config.rs` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "X. Dev/prod parity" (`book/src/10-dev-prod-parity.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod routes;
mod store;

use anyhow::Context;
use config::{AppEnv, Config};
use store::Store;
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
    init_logging(config.app_env)?;

    let store = Store::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, env = ?config.app_env, "noticeboard listening");
    axum::serve(listener, routes::router(store)).await?;
    Ok(())
}

// ANCHOR: logging
/// Compact, human-readable lines for a developer's terminal; JSON for production's log pipeline.
fn init_logging(app_env: AppEnv) -> anyhow::Result<()> {
    // Unset means the default; a RUST_LOG that does not parse stops the process, as Factor XI
    // teaches, instead of being ignored.
    let filter = EnvFilter::try_new(
        std::env::var("RUST_LOG")
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| "info".into()),
    )
    .context("RUST_LOG is not a valid log filter")?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match app_env {
        AppEnv::Development => logs.compact().init(),
        AppEnv::Production => logs.json().init(),
    }
    Ok(())
}
// ANCHOR_END: logging
