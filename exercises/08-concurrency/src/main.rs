//! # Factor VIII — Concurrency (exercise)
//!
//! **Rule:** scale out via the process model. Each kind of work runs in a process type of its own
//! (`web` answers HTTP, `worker` does the background work), and each type is scaled on its own by
//! running more or fewer of its processes.
//!
//! This noticeboard accepts a notification with `POST /notifications` and delivers it to
//! `WEBHOOK_URL`, from a task spawned inside the web process. There is one process type, `web`,
//! so the deliveries can only be scaled by adding web processes, and a delivery in flight dies
//! with its web process at every deploy, crash or scale-in.
//!
//! - Edit: `src/main.rs` and `src/web.rs` (look for `TODO(factor-8)`); add a module for the worker.
//! - Check: `cargo xtask check 8` (stuck? `cargo xtask hint 8`).
//! - Read: the book, chapter "VIII. Concurrency" (`book/src/08-concurrency.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`; the process types
//!   are listed in its `Procfile`.

mod config;
mod db;
mod web;
mod webhook;

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
/// `<binary> [web]`: one binary; its first argument names the process type to run.
#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let process_type = std::env::args().nth(1);
    // TODO(factor-8): there is only one process type. Add `worker`: a long-running process that
    // takes undelivered notifications from the database, one at a time, and delivers them. It
    // must not lose one when it is killed in the middle of a delivery, and two workers must never
    // deliver the same one. Then list it in the `Procfile`.
    if let Some(other) = process_type.as_deref().filter(|name| *name != "web") {
        bail!("unknown process type {other:?}: this app has only one, `web`");
    }
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
    web::serve(config).await
}
// ANCHOR_END: main
