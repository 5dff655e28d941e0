//! # Factor IX — Disposability (reference solution)
//!
//! **Rule:** maximize robustness with fast start-up and graceful shutdown. A process can be
//! started or stopped at a moment's notice: it is ready within seconds, and on SIGTERM it stops
//! taking work, finishes (or hands back) what it holds, and exits.
//!
//! The exercise's web process warmed up for seconds before it bound its port, and neither process
//! type handled SIGTERM: the default action killed them mid-request and mid-job, and a worker's
//! job was deleted from the queue the moment it was taken. Here the web process binds at once and
//! warms up in the background; on SIGTERM or SIGINT it stops accepting, lets the requests in
//! flight finish for up to 3 s, closes its pool and exits 0. A worker stops between jobs at once;
//! during a job it lets the delivery finish for up to 3 s, or hands the job back to the queue,
//! then exits 0. A job leaves the queue only in the transaction that records its delivery, so even
//! a SIGKILL loses nothing.
//!
//! - Solved in: `src/shutdown.rs` (new), `src/web.rs`, `src/worker.rs`, `src/db.rs`, and
//!   `src/main.rs` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "IX. Disposability" (`book/src/09-disposability.md`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod db;
mod routes;
mod shutdown;
mod web;
mod worker;

use anyhow::Context;
use config::{Config, ProcessType};
use shutdown::Shutdown;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A fatal error at start-up is one line on stderr and a non-zero exit code.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let process = ProcessType::from_args(std::env::args().skip(1))?;
    let config = Config::from_env(process)?;
    // sqlx reports Postgres's notices ("relation already exists, skipping") at INFO: keep its
    // warnings only.
    // Unset means the default; a RUST_LOG that does not parse stops the process, as Factor XI
    // teaches, instead of being ignored.
    let filter = EnvFilter::try_new(
        std::env::var("RUST_LOG")
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| "info,sqlx=warn".into()),
    )
    .context("RUST_LOG is not a valid log filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).init();

    // ANCHOR: main
    // Solved: listen for SIGTERM and SIGINT before anything else, so that a signal that comes
    // while the process is still connecting ends it cleanly as soon as it can act on it.
    let shutdown = Shutdown::listen()?;
    let pool = db::connect(&config).await?;
    db::ensure_schema(&pool).await?;
    match process {
        ProcessType::Web => web::run(&config, pool, shutdown).await,
        ProcessType::Worker => worker::run(&config, pool, shutdown).await,
    }
    // ANCHOR_END: main
}
