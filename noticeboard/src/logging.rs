//! Where the logs go, and what they look like (Factor XI): one JSON object per line on stdout,
//! written as each event happens; the platform routes and keeps them.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` picks the level (unset: `info`, with sqlx's per-statement notices kept to
/// warnings); a value that does not parse stops the process at start-up instead of being ignored.
pub fn init() -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse(&value)
            .map_err(|err| anyhow::anyhow!("RUST_LOG is not a valid log filter: {err}"))?,
        _ => EnvFilter::new("info,sqlx=warn"),
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // Whole lines, unbuffered: each line is in the pipe before the response leaves.
        .with_writer(std::io::stdout)
        .init();
    Ok(())
}
