//! # Factor VIII — Concurrency (reference solution)
//!
//! **Rule:** scale out via the process model. Each kind of work runs in a process type of its own
//! (`web` answers HTTP, `worker` does the background work), and each type is scaled on its own by
//! running more or fewer of its processes.
//!
//! The exercise delivered each notification from a task spawned inside the web process. Here the
//! web process only stores the notification, and a second process type, `worker`, takes
//! undelivered notifications from Postgres and delivers them. Run one web process and three
//! workers, or ten and one: the two scale apart, a web restart loses nothing, and a worker killed
//! in the middle of a delivery leaves the notification for another worker.
//!
//! - Solved in: `src/main.rs`, `src/web.rs`, `src/db.rs` and the new `src/worker.rs` (the
//!   `Solved:` comments explain each change), and the `Procfile`.
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "VIII. Concurrency" (`book/src/08-concurrency.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`; the process types
//!   are listed in its `Procfile`.

mod config;
mod db;
mod web;
mod webhook;
mod worker;

use anyhow::Context;
use anyhow::bail;
use config::Config;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A fatal error ends the process with one line on stderr and a non-zero exit code.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: main
/// `<binary> [web|worker]`: one binary; its first argument names the process type to run.
#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let process_type = std::env::args().nth(1);
    // Solved: two process types, from the same build and the same config. Which one a process
    // is, is decided when it is started (the `Procfile`), not in the code or the config.
    let process_type = match process_type.as_deref() {
        None | Some("web") => ProcessType::Web,
        Some("worker") => ProcessType::Worker,
        Some(other) => bail!("unknown process type {other:?}: this app has `web` and `worker`"),
    };
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
    match process_type {
        ProcessType::Web => web::serve(config).await,
        ProcessType::Worker => worker::run(config).await,
    }
}
// ANCHOR_END: main

enum ProcessType {
    Web,
    Worker,
}
