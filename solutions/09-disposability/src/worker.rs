//! The worker process: takes notifications off the queue and delivers each to the webhook.

use crate::config::Config;
use crate::db::{self, Claim, Job};
use crate::shutdown::{GRACE, Shutdown};
use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// How long a worker waits before it looks at an empty queue again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long a worker waits before it retries after a failed delivery.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The longest one delivery may take before the worker gives up on it.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config, pool: PgPool, mut shutdown: Shutdown) -> anyhow::Result<()> {
    // The kit's reqwest speaks TLS through rustls with the ring provider (Factor II); it must be
    // installed once per process before a client is built (a second install is a harmless error).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    tracing::info!(worker = %config.worker_name, "worker started");

    // ANCHOR: worker_loop
    // Solved: every wait in the loop also waits for a signal. Between jobs the worker stops at
    // once. During a job it lets the delivery finish, for GRACE at most, then hands the job back:
    // a job it has not delivered is never lost, and the worker exits well before the platform's
    // SIGKILL.
    let signal = loop {
        let taken = tokio::select! {
            signal = shutdown.recv() => break signal,
            taken = db::take_job(&pool) => taken?,
        };
        let Some((job, claim)) = taken else {
            tokio::select! {
                signal = shutdown.recv() => break signal,
                () = tokio::time::sleep(POLL_INTERVAL) => continue,
            }
        };
        let mut delivery = std::pin::pin!(deliver(&client, config, &job));
        tokio::select! {
            result = &mut delivery => {
                if !settle(claim, &job, result).await? {
                    tokio::select! {
                        signal = shutdown.recv() => break signal,
                        () = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
            signal = shutdown.recv() => {
                tracing::info!(signal, id = job.id, "finishing the current job before stopping");
                match tokio::time::timeout(GRACE, &mut delivery).await {
                    Ok(result) => {
                        settle(claim, &job, result).await?;
                    }
                    Err(_) => {
                        db::hand_back(claim).await?;
                        tracing::warn!(
                            id = job.id,
                            "not delivered within {GRACE:?}: handed back to the queue"
                        );
                    }
                }
                break signal;
            }
        }
    };
    tracing::info!(signal, "worker stopped");
    db::close(&pool).await;
    Ok(())
    // ANCHOR_END: worker_loop
}

/// Records how a delivery went: a delivered job leaves the queue, a failed one goes back to it.
/// Returns whether the job was delivered.
async fn settle(claim: Claim, job: &Job, result: anyhow::Result<()>) -> anyhow::Result<bool> {
    match result {
        Ok(()) => {
            db::complete(claim, job.id).await?;
            Ok(true)
        }
        Err(err) => {
            db::hand_back(claim).await?;
            tracing::warn!(
                id = job.id,
                "delivery failed, handed back to the queue: {err:#}"
            );
            Ok(false)
        }
    }
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
