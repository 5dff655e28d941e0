//! # Factor V — Build, release, run (exercise)
//!
//! **Rule:** strictly separate the build, release and run stages. The build turns the code into one
//! artefact; a release is that artefact plus one deploy's config, with an id of its own; the run
//! stage starts a release as it is, without the source tree.
//!
//! This noticeboard mixes the stages up. Its banner and its release id are read by the *compiler*
//! (`option_env!`, `include_str!`), so they are whatever the build machine had, and a new release
//! needs a new build. Its homepage template is read at run time from the source tree, at a path
//! compiled into the binary, so the binary only works next to the checkout it was built in.
//!
//! - Edit: `src/config.rs` and `src/routes.rs` (look for `TODO(factor-5)`). Nothing else needs
//!   touching.
//! - Check: `cargo xtask check 5` (stuck? `cargo xtask hint 5`).
//! - Read: the book, chapter "V. Build, release, run" (`book/src/05-build-release-run.md`,
//!   `cargo xtask book --open`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

mod config;
mod routes;

use anyhow::Context;
use config::Config;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

// ANCHOR: main
fn main() -> ExitCode {
    // A start-up error is one line on stderr and a non-zero exit, never a panic or a backtrace.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
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
    tracing::info!(release = %config.release_id, commit = %routes::COMMIT, "starting");

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(config)).await?;
    Ok(())
}
// ANCHOR_END: main
