//! # Factor XII — Admin processes (reference solution)
//!
//! **Rule:** run admin and management tasks, such as migrations and one-off fixes, as one-off
//! processes, from the same code and config as the app.
//!
//! The exercise's web process created its tables as it started, offered an unauthenticated
//! `POST /admin/reset`, and its admin binaries told a human to paste SQL into psql. Here the web
//! process only serves: it never changes the schema, and `/health/ready` answers 503 until the
//! schema is there. The admin work runs as one-off processes built from the same package, with the
//! same config and the same database code: `src/bin/migrate.rs` applies the embedded migrations,
//! `src/bin/reset_visits.rs` resets the count.
//!
//! - Solved in: `src/main.rs`, `src/routes.rs`, `src/db.rs`, `src/bin/` (the `Solved:` comments
//!   explain each change).
//! - Check: `cargo xtask verify` runs the exercise's checks against this crate too.
//! - Read: the book, chapter "XII. Admin processes" (`book/src/12-admin-processes.md`).
//! - Contract the checks rely on: `README.md` next to this crate's `Cargo.toml`.

use anyhow::Context;
use noticeboard::config::Config;
use noticeboard::{db, routes};

// ANCHOR: main
#[tokio::main]
async fn main() -> std::process::ExitCode {
    noticeboard::exit(run().await)
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    noticeboard::init_logging("info")?;

    let pool = db::connect(&config).await?;
    // Solved: the web process no longer touches the schema. Ten replicas starting together would
    // all try to, and the right to alter tables is more than serving requests needs. The
    // `migrate` process does it, once per release. Until it has run, `/health/ready` answers 503,
    // so a platform sends this process no traffic.

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(pool)).await?;
    Ok(())
}
// ANCHOR_END: main
