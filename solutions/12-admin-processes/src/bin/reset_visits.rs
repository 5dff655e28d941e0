//! `sol12-admin-processes-reset-visits`: sets the homepage visit count back to zero, then exits.
//!
//! A one-off admin process of the noticeboard: built from the same package as the web process,
//! shipped in the same release, run against the same `DATABASE_URL`, by whoever may run processes
//! in production (not by whoever can reach the web process's port).

// Solved: the same modules as the web process and `migrate`: the same config, the same query.
#[path = "../config.rs"]
mod config;
#[path = "../db.rs"]
mod db;

use anyhow::Context;
use config::Config;
use tracing_subscriber::EnvFilter;

// ANCHOR: main
#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line on stderr and a failure status, even with RUST_BACKTRACE=1 (see `src/main.rs`).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
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
                    .unwrap_or_else(|| "info,sqlx=warn".into()),
            )
            .context("RUST_LOG is not a valid log filter")?,
        )
        .init();

    let pool = db::connect(&config).await?;
    // Solved: the reset is the exercise's `db::reset_visits`, now called by a process an operator
    // starts on purpose instead of an HTTP route anyone can call. Its log line is the audit trail:
    // what it changed, from what, to what.
    let before = db::reset_visits(&pool).await?;
    tracing::info!("visit count reset from {before} to 0");
    Ok(())
}
// ANCHOR_END: main
