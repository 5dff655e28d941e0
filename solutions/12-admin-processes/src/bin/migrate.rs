//! `sol12-admin-processes-migrate`: brings the database schema up to date, then exits.
//!
//! A one-off admin process of the noticeboard: built from the same package as the web process,
//! shipped in the same release, run against the same `DATABASE_URL`. Run it once per release,
//! before the new web processes take traffic (a release phase, a Kubernetes Job, a compose
//! `run --rm`). Running it again is harmless: it applies only what the database has not seen.

// ANCHOR: shared
// Solved: the admin task is a thin binary over the package's library (`src/lib.rs`), as the web
// process is: it reads the same config the same way, logs and exits the same way, and uses the
// same database code.
use noticeboard::config::Config;
use noticeboard::db;
// ANCHOR_END: shared

// ANCHOR: main
#[tokio::main]
async fn main() -> std::process::ExitCode {
    noticeboard::exit(run().await)
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // sqlx logs Postgres's notices ("relation ... already exists, skipping") at info level: noise
    // in an admin task's short log, whose lines should each say what the task did.
    noticeboard::init_logging("info,sqlx=warn")?;

    let pool = db::connect(&config).await?;
    // Solved: the migrations are embedded and recorded (`db::MIGRATOR`); no psql, no SQL files
    // read from disk, no human in the loop. An error ends the process with a non-zero exit code,
    // which is what a deploy pipeline waits for before it rolls out the web processes.
    let applied = db::migrate(&pool).await?;
    let known = db::MIGRATOR.iter().count();
    if applied == 0 {
        tracing::info!("nothing to do: all {known} migration(s) were already applied");
    } else {
        tracing::info!("applied {applied} migration(s); the schema is up to date ({known} in all)");
    }
    Ok(())
}
// ANCHOR_END: main
