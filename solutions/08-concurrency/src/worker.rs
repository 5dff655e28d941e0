//! The worker process: delivers the notifications that web processes stored.
//!
//! Solved: a process type of its own (`<binary> worker`). Run as many as the deliveries need; each
//! takes one notification at a time from Postgres, so adding a worker process adds exactly one
//! delivery in flight, and none of them needs to know about the others.

use crate::config::Config;
use crate::db;
use crate::webhook::{Webhook, process_name};
use sqlx::PgPool;
use std::time::Duration;

/// How long an idle worker waits before it looks for new notifications again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long a worker pauses after a failure (the webhook or Postgres), so it does not hammer them.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What one round of the worker loop did.
enum Round {
    Delivered,
    Failed,
    Idle,
}

/// Runs the worker process until it is killed.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(&config).await?;
    db::ensure_schema(&pool).await?;
    let webhook = Webhook::new(&config.webhook_url)?;
    let me = process_name();
    tracing::info!(worker = %me, "worker process waiting for notifications");
    loop {
        let pause = match deliver_next(&pool, &webhook, &me).await {
            Ok(Round::Delivered) => continue,
            Ok(Round::Idle) => POLL_INTERVAL,
            Ok(Round::Failed) => RETRY_PAUSE,
            Err(err) => {
                // Postgres is down or restarting: not fatal, the notifications wait there.
                tracing::warn!("cannot reach the queue: {err:#}");
                RETRY_PAUSE
            }
        };
        tokio::time::sleep(pause).await;
    }
}

// ANCHOR: deliver_next
/// Claims one notification, delivers it and records the outcome, all in one transaction.
async fn deliver_next(pool: &PgPool, webhook: &Webhook, me: &str) -> anyhow::Result<Round> {
    let mut tx = pool.begin().await?;
    let Some(notification) = db::claim_next(&mut tx).await? else {
        // Dropping `tx` rolls it back: nothing was claimed.
        return Ok(Round::Idle);
    };
    // The row stays locked while the webhook is called. If this process dies now, Postgres rolls
    // the transaction back and the notification is undelivered again, for any worker.
    let round = match webhook.deliver(&notification, me).await {
        Ok(()) => {
            db::mark_delivered(&mut *tx, notification.id).await?;
            tracing::info!(id = notification.id, "delivered");
            Round::Delivered
        }
        Err(err) => {
            // Counted, and retried later: `claim_next` serves fewer attempts first.
            tracing::warn!(id = notification.id, "delivery failed: {err:#}");
            db::record_failure(&mut *tx, notification.id, &format!("{err:#}")).await?;
            Round::Failed
        }
    };
    tx.commit().await?;
    Ok(round)
}
// ANCHOR_END: deliver_next
