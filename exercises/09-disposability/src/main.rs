//! # Factor IX — Disposability (exercise)
//!
//! **Rule:** maximize robustness with fast start-up and graceful shutdown. A process can be
//! started or stopped at a moment's notice: it is ready within seconds, and on SIGTERM it stops
//! taking work, finishes (or hands back) what it holds, and exits.
//!
//! This noticeboard has two process types in one binary. `web` accepts notifications
//! (`POST /notifications`) and queues them in Postgres; `worker` takes them from the queue and
//! delivers each to a webhook. Neither is disposable. The web process spends seconds warming up
//! before it binds its port, so a platform that starts it waits, and every deploy and scale-up is
//! slow. Neither process handles SIGTERM, which `docker stop`, Kubernetes and every other platform
//! send before they stop a process: the default action kills it on the spot, cutting off the
//! requests in flight and dropping the job a worker holds.
//!
//! - Edit: `src/web.rs` and `src/worker.rs` (look for `TODO(factor-9)`); `src/db.rs` too if you
//!   change how a worker takes a job.
//! - Check: `cargo xtask check 9` (stuck? `cargo xtask hint 9`).
//! - Read: the book, chapter "IX. Disposability" (`book/src/09-disposability.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod db;
mod routes;
mod web;
mod worker;

use anyhow::Context;
use config::{Config, ProcessType};
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

    let pool = db::connect(&config).await?;
    db::ensure_schema(&pool).await?;
    match process {
        ProcessType::Web => web::run(&config, pool).await,
        ProcessType::Worker => worker::run(&config, pool).await,
    }
}
