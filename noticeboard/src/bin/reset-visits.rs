//! `reset-visits`: sets the homepage visit count back to zero, then exits (Factor XII). A one-off
//! process an operator starts on purpose, with the app's own config and code, instead of an HTTP
//! route anyone who reaches the web process could call.

use noticeboard::config::RedisUrl;
use noticeboard::store::Store;
use noticeboard::{exit_code, logging};

fn main() -> std::process::ExitCode {
    exit_code(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let redis = RedisUrl::from_env_only()?;
    logging::init()?;
    let store = Store::connect(&redis)?;
    let before = store.reset_visits().await?;
    // The log line is the audit trail: what it changed, from what, to what.
    tracing::info!(redis = %redis.redacted(), "visit count reset from {before} to 0");
    Ok(())
}
