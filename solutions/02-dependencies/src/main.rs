//! # Factor II — Dependencies (reference solution)
//!
//! **Rule:** explicitly declare and isolate dependencies; never rely on the implicit existence of
//! system-wide tools or libraries.
//!
//! The exercise forwarded each notification by running `curl`, a program nothing declared. Here
//! the app makes the call itself with reqwest, declared in `Cargo.toml` and locked in
//! `Cargo.lock`, and its TLS stack, rustls, is compiled in: the binary runs on a machine with no
//! `curl` and no OpenSSL.
//!
//! - Solved in: `src/webhook.rs` and `Cargo.toml` (the `Solved:` comments explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "II. Dependencies" (`book/src/02-dependencies.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` in `exercises/02-dependencies`.

mod config;
mod routes;
mod webhook;

use anyhow::Context;
use config::Config;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use webhook::Webhook;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line that says what is wrong, without a backtrace, even with RUST_BACKTRACE=1.
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
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
                    .unwrap_or_else(|| "info".into()),
            )
            .context("RUST_LOG is not a valid log filter")?,
        )
        .init();

    let webhook = Webhook::new(config.webhook_url.clone())?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(webhook)).await?;
    Ok(())
}
