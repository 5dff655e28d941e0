//! The web process: accepts notifications and queues them for the workers.

use crate::config::Config;
use crate::db;
use crate::routes;
use crate::shutdown::{GRACE, Shutdown};
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
    tracing::info!("warming up for {WARM_UP:?} in the background");
    tokio::time::sleep(WARM_UP).await;
    tracing::info!("warm-up done");
}
// ANCHOR_END: warm_up

pub async fn run(config: &Config, pool: PgPool, mut shutdown: Shutdown) -> anyhow::Result<()> {
    // ANCHOR: startup
    // Solved: bind first. The process answers within milliseconds of starting; the warm-up runs
    // in the background while it serves. Requests do not need its result; if yours did, they
    // could wait for it lazily (a `tokio::sync::OnceCell`), or a readiness probe could answer 503
    // until it is done, while the process is already up. (And if nobody needs it, delete it.)
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("cannot bind port {}", config.port))?;
    tracing::info!(port = config.port, "web process listening");
    tokio::spawn(warm_up());
    // ANCHOR_END: startup

    // ANCHOR: serve
    // Solved: the server drains when `stop` fires: axum stops accepting (the listening socket is
    // closed, so new connections are refused), closes idle keep-alive connections, and lets each
    // request in flight finish. `with_graceful_shutdown` alone would wait for them forever, so
    // the drain gets a deadline: GRACE, well inside the platform's own (10 s for `docker stop`).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        axum::serve(listener, routes::router(pool.clone())).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    let mut server = std::pin::pin!(server.into_future());
    let signal = tokio::select! {
        result = &mut server => {
            result.context("the server stopped")?;
            return Ok(());
        }
        signal = shutdown.recv() => signal,
    };
    tracing::info!(
        signal,
        "stopping: no new connections, finishing the requests in flight"
    );
    let _ = stop.send(());
    match tokio::time::timeout(GRACE, &mut server).await {
        Ok(result) => result.context("the server failed while draining")?,
        Err(_) => tracing::warn!("requests still in flight after {GRACE:?}: exiting without them"),
    }
    db::close(&pool).await;
    tracing::info!("web process stopped");
    Ok(())
    // ANCHOR_END: serve
}
