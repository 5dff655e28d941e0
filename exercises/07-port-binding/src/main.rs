//! # Factor VII — Port binding (exercise)
//!
//! **Rule:** export services via port binding. The app is self-contained: it carries its own HTTP
//! server and listens on the port its environment gives it (`PORT`), on every interface unless
//! `HOST` says otherwise. No web server in front has to load it, and no port is written in the code.
//!
//! This noticeboard is self-contained already, but it listens on `127.0.0.1:8080`, an address
//! wired into its code. On the laptop it was written on, that works. On a platform that assigns
//! each process its port, or in a container whose port is forwarded from outside, nobody reaches
//! it; and a second copy on the same machine cannot even start. A broken `PORT` goes unnoticed.
//!
//! - Edit: `src/config.rs` (look for `TODO(factor-7)`). Nothing else needs touching.
//! - Check: `cargo xtask check 7` (stuck? `cargo xtask hint 7`).
//! - Read: the book, chapter "VII. Port binding" (`book/src/07-port-binding.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod routes;

use anyhow::Context;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

// ANCHOR: main
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line on stderr and a non-zero status, even with RUST_BACKTRACE=1: `{err:#}` is
            // the error and its causes on one line. (Returning the error from `main` would print
            // its `Debug` form instead, with a backtrace whenever RUST_BACKTRACE is set.)
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: main

async fn run() -> anyhow::Result<()> {
    let address = config::listen_address()?;
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

    // ANCHOR: bind
    // The app's own HTTP server: no Apache, no CGI, nothing to install next to it.
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(%address, "noticeboard listening");
    axum::serve(listener, routes::router()).await?;
    // ANCHOR_END: bind
    Ok(())
}
