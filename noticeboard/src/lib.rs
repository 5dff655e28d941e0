//! # The finished noticeboard: all twelve factors at once
//!
//! Every exercise of the kit is a snapshot of this app with one factor broken; this crate has them
//! all fixed, together, and is what `cargo xtask deploy`, `deploy/` (compose, Kubernetes) and the
//! "Deploy it" chapter run. It is one package (Factor I) whose binaries share this library:
//!
//! - `noticeboard web` / `noticeboard worker`: the process types (Factor VIII), see `Procfile`;
//! - `migrate`: the release phase, applies the embedded migrations (Factors V, XII);
//! - `reset-visits`: a one-off admin task (Factor XII).
//!
//! Modules, one job each:
//!
//! - [`config`]: the environment, read once, each process reading only what it uses (III).
//! - [`logging`]: JSON events on stdout, level from `RUST_LOG` (XI).
//! - [`shutdown`]: SIGTERM and SIGINT as a value the process awaits (IX).
//! - [`db`]: Postgres: the pool, the embedded migrations, notifications and their delivery queue.
//! - [`store`]: Redis: the visit counter (`INCR`) and sessions with a TTL (IV, VI).
//! - [`web`]: the HTTP routes and the web process's serve-and-drain loop (VII, IX).
//! - [`worker`]: takes deliveries off the queue, at least once (VIII, IX).
//! - [`build_info`]: the commit this binary was built from (`build.rs`, I and V).
//!
//! The contract (environment variables, endpoints) is `README.md` next to `Cargo.toml`. Where this
//! crate differs from a factor's solution, a comment says why (`Differs from solution N:`).

pub mod build_info;
pub mod config;
pub mod db;
pub mod logging;
pub mod shutdown;
pub mod store;
pub mod web;
pub mod worker;

/// Runs a binary's `main`: a fatal error is one line on stderr and a failure status, even with
/// `RUST_BACKTRACE=1` (returning the error from `main` would print its `Debug` form).
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("noticeboard: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
