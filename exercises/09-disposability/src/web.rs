//! The web process: accepts notifications and queues them for the workers.

use crate::config::Config;
use crate::routes;
use anyhow::Context;
use sqlx::PgPool;
use std::time::Duration;

/// How long the start-up warm-up takes.
const WARM_UP: Duration = Duration::from_secs(5);

// ANCHOR: warm_up
/// Gets the process "ready" for its first requests: primes caches, loads reference data. Here a
/// sleep stands in for that work (reading a large file, loading a model, filling a cache from the
/// database), which in real services easily takes this long.
async fn warm_up() {
    tracing::info!("warming up for {WARM_UP:?} before accepting requests");
    tokio::time::sleep(WARM_UP).await;
    tracing::info!("warm-up done");
}
// ANCHOR_END: warm_up

pub async fn run(config: &Config, pool: PgPool) -> anyhow::Result<()> {
    // ANCHOR: startup
    // TODO(factor-9): nothing answers on the port until the warm-up is over, so whoever started
    // this process (a deploy, an autoscaler, a restart after a crash) waits 5 s before it can take
    // traffic. Bind first; do slow work in the background or when it is first needed.
    warm_up().await;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "web process listening");
    // ANCHOR_END: startup

    // ANCHOR: serve
    // TODO(factor-9): nothing here listens for SIGTERM or SIGINT, so the default action of either
    // signal ends the process at once: every request in flight is cut off, and the pool's
    // connections are dropped without a goodbye. On a signal, stop accepting new connections,
    // let the requests in flight finish (for a few seconds at most), close the pool, and return.
    axum::serve(listener, routes::router(pool)).await?;
    Ok(())
    // ANCHOR_END: serve
}
