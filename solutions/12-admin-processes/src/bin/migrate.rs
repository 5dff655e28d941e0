//! `sol12-admin-processes-migrate`: brings the database schema up to date, then exits.
//!
//! A one-off admin process of the noticeboard: built from the same package as the web process,
//! shipped in the same release, run against the same `DATABASE_URL`. Run it once per release,
//! before the new web processes take traffic (a release phase, a Kubernetes Job, a compose
//! `run --rm`). Running it again is harmless: it applies only what the database has not seen.

// ANCHOR: shared
// Solved: the admin task compiles the web process's own modules, so it reads the same config the
// same way and uses the same database code. (A library target in this package would work too; the
// kit keeps its crates binary-only so that an edit rebuilds as little as possible.)
#[path = "../config.rs"]
mod config;
#[path = "../db.rs"]
mod db;
// ANCHOR_END: shared

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
    // sqlx logs Postgres's notices ("relation ... already exists, skipping") at info level: noise
    // in an admin task's short log, whose lines should each say what the task did.
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
    // Solved: the migrations are embedded and recorded (`db::MIGRATOR`); no psql, no SQL files
    // read from disk, no human in the loop. An error ends the process with a non-zero exit code,
    // which is what a deploy pipeline waits for before it rolls out the web processes.
    let applied = db::migrate(&pool).await?;
    let known = db::MIGRATOR.iter().count();
    if applied == 0 {
        tracing::info!("nothing to do: all {known} migration(s) were already applied");
    } else {
        tracing::info!("applied {applied} migration(s); the schema is up to date ({known} in all)");
    }
    Ok(())
}
// ANCHOR_END: main
