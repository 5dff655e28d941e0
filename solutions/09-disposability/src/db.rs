//! The queue of notifications to deliver, in Postgres: the web process adds to it, workers take
//! from it. Each notification waits in the `jobs` table until a worker has delivered it.

use crate::config::Config;
use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// A notification waiting to be delivered.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub message: String,
}

/// Connects to `DATABASE_URL`, failing within seconds if Postgres does not answer.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database_url)
        .await
        .context("cannot connect to Postgres at DATABASE_URL")
}

/// Creates the queue table if it is missing. Every process runs this as it starts, often at the
/// same moment: a transaction-scoped advisory lock lets one create the table while the others
/// wait, instead of racing on Postgres's catalog.
pub async fn ensure_schema(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(9)")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS jobs (
            id BIGSERIAL PRIMARY KEY,
            name TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await.context("cannot create the jobs table")
}

/// Queues a notification for delivery and returns its id.
pub async fn enqueue(pool: &PgPool, name: &str, message: &str) -> anyhow::Result<i64> {
    let id = sqlx::query_scalar("INSERT INTO jobs (name, message) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(message)
        .fetch_one(pool)
        .await?;
    Ok(id)
}

// ANCHOR: take_job
/// A job a worker holds: its row stays locked, and in the queue, until the transaction ends.
pub type Claim = Transaction<'static, Postgres>;

/// Takes the oldest job no other worker holds, if there is one.
///
/// Solved: the job is not deleted when it is taken. It is locked in a transaction that stays open
/// while the worker delivers it (`SKIP LOCKED`: other workers pass over it to the next one), and
/// deleted in that same transaction once it is delivered ([`complete`]). If the worker stops first,
/// the transaction ends without a commit and the job is back in the queue: on a graceful shutdown
/// ([`hand_back`]), and just as well when the process is SIGKILLed or crashes, because Postgres
/// rolls back the transaction of a connection that disappears.
pub async fn take_job(pool: &PgPool) -> anyhow::Result<Option<(Job, Claim)>> {
    let mut tx = pool.begin().await?;
    let job = sqlx::query_as(
        "SELECT id, name, message FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    // No job: dropping `tx` rolls the empty transaction back.
    Ok(job.map(|job| (job, tx)))
}

/// The job was delivered: it leaves the queue.
pub async fn complete(mut claim: Claim, id: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(id)
        .execute(&mut *claim)
        .await?;
    claim.commit().await?;
    Ok(())
}

/// The job was not delivered: it goes back to the queue, for this worker or another one.
pub async fn hand_back(claim: Claim) -> anyhow::Result<()> {
    claim.rollback().await?;
    Ok(())
}
// ANCHOR_END: take_job

// ANCHOR: close
/// Closes the pool: idle connections say goodbye to Postgres instead of being cut.
///
/// `close` waits for connections still in use to come back; a request or job that was cut off
/// may never return its own, hence the bound.
pub async fn close(pool: &PgPool) {
    if tokio::time::timeout(Duration::from_millis(500), pool.close())
        .await
        .is_err()
    {
        tracing::warn!("some database connections were still in use; closing without them");
    }
}
// ANCHOR_END: close
