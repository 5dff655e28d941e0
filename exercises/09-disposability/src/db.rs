//! The queue of notifications to deliver, in Postgres: the web process adds to it, workers take
//! from it. Each notification waits in the `jobs` table until a worker has delivered it.

use crate::config::Config;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
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
/// Takes the oldest job off the queue, if there is one.
// TODO(factor-9): the job is deleted the moment a worker takes it, before it is delivered. If the
// worker stops before it has delivered the job (killed, crashed, or exiting on a signal), the job
// is gone for good. A job should leave the queue only once it has been delivered: take it in a
// transaction (`FOR UPDATE SKIP LOCKED` keeps other workers off it), deliver, then delete it and
// commit. A worker that stops before the commit hands the job back, whatever stopped it.
pub async fn take_job(pool: &PgPool) -> anyhow::Result<Option<Job>> {
    let job = sqlx::query_as(
        "DELETE FROM jobs
         WHERE id = (SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, name, message",
    )
    .fetch_optional(pool)
    .await?;
    Ok(job)
}
// ANCHOR_END: take_job
