//! # Factor I — Codebase (reference solution)
//!
//! **Rule:** one codebase tracked in revision control, many deploys. Every deploy (production,
//! staging, a preview, a developer's laptop) runs a build of the same code; what differs between
//! deploys is config, never code.
//!
//! The two diverged copies of the exercise are one app again: one `main`, one binary. Staging,
//! production and any deploy nobody has thought of yet run the same build, and differ only in
//! their environment (`DEPLOY_NAME`, `NOTICEBOARD_BANNER`). The bug fixed once is fixed for all of
//! them, and `GET /version` names the commit the binary was built from, so any deploy can be traced
//! back to the codebase.
//!
//! - Solved in: `src/main.rs` (was `src/bin/staging.rs` too: deleted), `src/config.rs`,
//!   `src/board.rs`, `src/build_info.rs`, and `build.rs` next to `Cargo.toml`
//!   (the `Solved:` comments explain each change).
//! - Check: `cargo xtask check 1 --solution`.
//! - Read: the book, chapter "I. Codebase" (`book/src/01-codebase.md`, `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod board;
mod build_info;
mod config;
mod routes;

use anyhow::Context;
use board::Board;
use config::Config;
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // One line and a non-zero status for a fatal error, not a debug dump.
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
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

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    // Which deploy, and which build of the codebase: the first two questions in any incident.
    tracing::info!(
        deploy = %config.deploy_name,
        commit = build_info::COMMIT,
        dirty = build_info::DIRTY,
        port = config.port,
        "noticeboard listening"
    );
    let state = routes::AppState {
        board: Board::default(),
        config: Arc::new(config),
    };
    axum::serve(listener, routes::router(state)).await?;
    Ok(())
}
