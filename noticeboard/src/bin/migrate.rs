//! `migrate`: brings the database schema up to date, then exits (Factor XII). The release phase:
//! run once per release before the new processes take traffic (Procfile `release:`, the compose
//! `migrate` service, the Kubernetes Job). Running it again applies nothing.

use noticeboard::config::Database;
use noticeboard::{db, exit_code, logging};

fn main() -> std::process::ExitCode {
    exit_code(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let database = Database::from_env_only()?;
    logging::init()?;
    let pool = db::connect_now(&database).await?;
    let applied = db::migrate(&pool).await?;
    let known = db::MIGRATOR.iter().count();
    if applied == 0 {
        tracing::info!(database = %database.redacted(), "nothing to do: all {known} migration(s) were already applied");
    } else {
        tracing::info!(database = %database.redacted(), "applied {applied} migration(s); the schema is up to date ({known} in all)");
    }
    pool.close().await;
    Ok(())
}
