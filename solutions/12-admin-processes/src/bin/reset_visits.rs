//! `sol12-admin-processes-reset-visits`: sets the homepage visit count back to zero, then exits.
//!
//! A one-off admin process of the noticeboard: built from the same package as the web process,
//! shipped in the same release, run against the same `DATABASE_URL`, by whoever may run processes
//! in production (not by whoever can reach the web process's port).

// Solved: the same library as the web process and `migrate`: the same config, the same query.
use noticeboard::config::Config;
use noticeboard::db;

// ANCHOR: main
#[tokio::main]
async fn main() -> std::process::ExitCode {
    noticeboard::exit(run().await)
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    noticeboard::init_logging("info,sqlx=warn")?;

    let pool = db::connect(&config).await?;
    // Solved: the reset is the exercise's `db::reset_visits`, now called by a process an operator
    // starts on purpose instead of an HTTP route anyone can call. Its log line is the audit trail:
    // what it changed, from what, to what.
    let before = db::reset_visits(&pool).await?;
    tracing::info!("visit count reset from {before} to 0");
    Ok(())
}
// ANCHOR_END: main
