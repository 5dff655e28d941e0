//! Where the noticeboard's logs go, and what they look like.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

// ANCHOR: init
// Solved: the app writes its events and nothing else. One JSON object per line, on stdout, each
// written out as soon as it happens; where the lines are kept, for how long, and who reads them is
// the execution environment's job (a terminal in development; journald, `kubectl logs`, Fluent Bit
// or Vector in production). The file, its rotation and its folder are gone.
pub fn init() -> anyhow::Result<()> {
    // `RUST_LOG` picks the level, per module if need be (`warn,sol11_logs=debug`). Unset means
    // `info`; a value that does not parse stops the app at start-up instead of being ignored.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()
        .map_err(|err| anyhow::anyhow!("RUST_LOG is not a valid log filter: {err}"))?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // `std::io::stdout` locks stdout for each event and writes the whole line at once: the line
        // is in the pipe before the response leaves. No `BufWriter` (its lines would wait for the
        // buffer to fill, or for an exit that a crash never reaches), no colours (JSON has none).
        .with_writer(std::io::stdout)
        .init();
    Ok(())
}
// ANCHOR_END: init
