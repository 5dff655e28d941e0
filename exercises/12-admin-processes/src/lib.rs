//! The noticeboard's shared code: what every process of this package uses (Factor XII, exercise).
//!
//! The package builds three processes from one codebase and one release: the web process
//! (`src/main.rs`) and two one-off admin tasks (`src/bin/migrate.rs`, `src/bin/reset_visits.rs`).
//! They share this library, as tokio's mini-redis shares its `src/lib.rs` between its server and
//! client binaries: the same config, read the same way, and the same database code, so an admin
//! task cannot drift from the app it administers.
//!
//! - [`config`]: the settings, from the environment.
//! - [`db`]: the connection, the schema and the queries on the visit count.
//! - [`routes`]: the web process's HTTP routes.
//! - [`init_logging`] and [`exit`]: how every process starts its logs and ends.

pub mod config;
pub mod db;
pub mod routes;

use anyhow::Context;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Logs for any process of the package: `RUST_LOG` picks the level, `default` when it is unset
/// or empty; a `RUST_LOG` that does not parse stops the process, as Factor XI teaches, instead of
/// being ignored.
pub fn init_logging(default: &str) -> anyhow::Result<()> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.into());
    let filter = EnvFilter::try_new(filter).context("RUST_LOG is not a valid log filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).init();
    Ok(())
}

/// How every process ends: status 0, or one line on stderr and a failure status, even with
/// `RUST_BACKTRACE=1`. `{err:#}` is the error and its causes on one line; returning the error
/// from `main` would print its `Debug` form instead, with a backtrace whenever `RUST_BACKTRACE` is
/// set.
pub fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            ExitCode::FAILURE
        }
    }
}
