//! # Factor XII — Admin processes (exercise)
//!
//! **Rule:** run admin and management tasks, such as migrations and one-off fixes, as one-off
//! processes, from the same code and config as the app.
//!
//! This noticeboard keeps its visit count in Postgres and does its admin work the wrong way. The
//! web process creates its tables as it starts, so every replica races to change the schema at
//! every boot. An unauthenticated `POST /admin/reset` lets anyone who reaches a web process wipe
//! the count. And the package's two admin binaries, `migrate` and `reset-visits` (in `src/bin/`),
//! are notes telling a human to run SQL in psql.
//!
//! - Edit: `src/main.rs`, `src/routes.rs`, `src/db.rs` and the two admin binaries in `src/bin/`
//!   (look for `TODO(factor-12)`).
//! - Check: `cargo xtask check 12` (stuck? `cargo xtask hint 12`).
//! - Read: the book, chapter "XII. Admin processes" (`book/src/12-admin-processes.md`,
//!   `cargo xtask book --open`).
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
    // TODO(factor-12): the web process should not change the schema. Every replica runs this as
    // it starts, all at once during a deploy, and needs the privileges to alter tables to do so.
    // Leave it to the `migrate` task: `/health/ready` already answers 503 until the schema is
    // there.
    db::ensure_schema(&pool).await?;
    tracing::info!("database schema ensured");

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "noticeboard listening");
    axum::serve(listener, routes::router(pool)).await?;
    Ok(())
}
// ANCHOR_END: main
