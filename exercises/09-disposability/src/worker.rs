//! The worker process: takes notifications off the queue and delivers each to the webhook.

use crate::config::Config;
use crate::db::{self, Job};
use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// How long a worker waits before it looks at an empty queue again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The longest one delivery may take before the worker gives up on it.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config, pool: PgPool) -> anyhow::Result<()> {
    // The kit's reqwest speaks TLS through rustls with the ring provider (Factor II); it must be
    // installed once per process before a client is built (a second install is a harmless error).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    tracing::info!(worker = %config.worker_name, "worker started");

    // ANCHOR: worker_loop
    // TODO(factor-9): this loop never ends, and nothing listens for SIGTERM or SIGINT: the default
    // action kills the worker wherever it is, often in the middle of a delivery. Between jobs,
    // stop at once on a signal; during a job, finish it (for a few seconds at most) or hand it
    // back to the queue, then close the pool and return.
    loop {
        match db::take_job(&pool).await? {
            Some(job) => {
                if let Err(err) = deliver(&client, config, &job).await {
                    tracing::error!(
                        id = job.id,
                        "delivery failed, notification dropped: {err:#}"
                    );
                }
            }
            None => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
    // ANCHOR_END: worker_loop
}

/// POSTs the notification to the webhook; any answer but 2xx is an error.
async fn deliver(client: &reqwest::Client, config: &Config, job: &Job) -> anyhow::Result<()> {
    let body = json!({
        "id": job.id,
        "name": job.name,
        "message": job.message,
        "worker": config.worker_name,
    });
    client
        .post(&config.webhook_url)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    tracing::info!(id = job.id, "notification delivered");
    Ok(())
}
