//! The worker process: takes deliveries off the Postgres queue and POSTs each notification to the
//! webhook (Factor VIII), at least once, and stops gracefully (Factor IX).

use crate::config::WorkerConfig;
use crate::db::{self, Claim, Notification};
use crate::shutdown::Shutdown;
use anyhow::Context;
use serde_json::json;
use std::time::Duration;

/// How long a worker waits before it looks at an empty queue again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long a worker waits before it retries after a failed delivery or an unreachable database.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The longest one delivery may take before the worker gives up on it (then it is retried).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: WorkerConfig, mut shutdown: Shutdown) -> anyhow::Result<()> {
    // reqwest speaks TLS through rustls with the ring provider (Factor II): installed once per
    // process before a client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    let pool = db::connect(&config.database)?;
    tracing::info!(
        worker = %config.worker_name,
        database = %config.database.redacted(),
        release = %config.release_id,
        "worker started"
    );
    // Every wait also waits for a signal. Between jobs the worker stops at once; during a job it
    // lets the delivery finish for the grace period at most, then hands the job back.
    let signal = loop {
        let taken = tokio::select! {
            signal = shutdown.recv() => break signal,
            taken = db::take(&pool) => taken,
        };
        let (job, claim) = match taken {
            Ok(Some(taken)) => taken,
            Ok(None) => {
                tokio::select! {
                    signal = shutdown.recv() => break signal,
                    () = tokio::time::sleep(POLL_INTERVAL) => continue,
                }
            }
            // Differs from solution 09, which exits on a database error: a Postgres restart must
            // not take every worker down with it (Factor IV). Retry, bounded, until it is back.
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "postgres is unavailable; retrying");
                tokio::select! {
                    signal = shutdown.recv() => break signal,
                    () = tokio::time::sleep(RETRY_PAUSE) => continue,
                }
            }
        };
        let mut delivery = std::pin::pin!(deliver(&client, &config, &job));
        tokio::select! {
            result = &mut delivery => {
                if !settle(claim, &job, result).await {
                    tokio::select! {
                        signal = shutdown.recv() => break signal,
                        () = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
            signal = shutdown.recv() => {
                tracing::info!(signal, id = job.id, "finishing the current delivery before stopping");
                match tokio::time::timeout(config.grace, &mut delivery).await {
                    Ok(result) => {
                        settle(claim, &job, result).await;
                    }
                    Err(_) => {
                        let _ = db::hand_back(claim).await;
                        tracing::warn!(id = job.id, "not delivered within the grace period: handed back to the queue");
                    }
                }
                break signal;
            }
        }
    };
    tracing::info!(signal, "worker stopped");
    db::close(&pool).await;
    Ok(())
}

/// Records how a delivery went: delivered leaves the queue, failed goes back. Whether delivered.
/// A database error here leaves the transaction to roll back: the delivery is then retried.
async fn settle(claim: Claim, job: &Notification, result: anyhow::Result<()>) -> bool {
    match result {
        Ok(()) => match db::complete(claim, job.id).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(id = job.id, error = %format!("{err:#}"), "delivered, but cannot record it: it will be delivered again");
                false
            }
        },
        Err(err) => {
            let _ = db::hand_back(claim).await;
            tracing::warn!(id = job.id, error = %format!("{err:#}"), "delivery failed, handed back to the queue");
            false
        }
    }
}

/// POSTs the notification to the webhook; any answer but 2xx is an error.
async fn deliver(
    client: &reqwest::Client,
    config: &WorkerConfig,
    job: &Notification,
) -> anyhow::Result<()> {
    let body = json!({
        "id": job.id,
        "name": job.name,
        "message": job.message,
        "worker": config.worker_name,
    });
    client
        .post(config.webhook_url.clone())
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    tracing::info!(id = job.id, worker = %config.worker_name, "notification delivered");
    Ok(())
}
