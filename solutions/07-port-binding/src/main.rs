//! # Factor VII — Port binding (reference solution)
//!
//! **Rule:** export services via port binding. The app is self-contained: it carries its own HTTP
//! server and listens on the port its environment gives it (`PORT`), on every interface unless
//! `HOST` says otherwise. No web server in front has to load it, and no port is written in the code.
//!
//! The exercise listened on `127.0.0.1:8080` whatever its environment said. Here `config.rs` reads
//! `PORT` and `HOST`: any number of copies run side by side on the ports they are given, traffic
//! forwarded into a container reaches them, and a `PORT` that is not a port stops the process at
//! once with one line naming it.
//!
//! - Solved in: `src/config.rs` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
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
    // The app's own HTTP server: no Apache, no CGI, nothing to install next to it. A port that
    // another process holds ends `run` here, and the error names the address.
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(%address, "noticeboard listening");
    axum::serve(listener, routes::router()).await?;
    // ANCHOR_END: bind
    Ok(())
}
