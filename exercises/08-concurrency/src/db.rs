//! The noticeboard's database: the connection, the schema, and the notifications table.

use crate::config::Config;
use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgExecutor, PgPool};
use std::time::Duration;

/// A notification someone posted, waiting to be (or already) delivered.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
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

// ANCHOR: schema
/// The table of notifications: who posted what, and whether it has been delivered.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS outbox (
        id           BIGSERIAL PRIMARY KEY,
        name         TEXT NOT NULL,
        message      TEXT NOT NULL,
        created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        delivered_at TIMESTAMPTZ,
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT
    );
    CREATE INDEX IF NOT EXISTS outbox_undelivered
        ON outbox (attempts, id) WHERE delivered_at IS NULL;
";
// ANCHOR_END: schema

/// Creates the table if it is missing. Every process runs this as it starts, so that each works
/// from a fresh database (Factor XII shows the better way: a `migrate` admin process).
pub async fn ensure_schema(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // Processes that start together would race to create the table; this lock makes them take
    // turns until the transaction ends. (The number is arbitrary: this app's lock.)
    sqlx::query("SELECT pg_advisory_xact_lock(8)")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *tx)
        .await
        .context("cannot create the outbox table")?;
    tx.commit().await?;
    Ok(())
}

/// Stores a new notification, not delivered yet.
pub async fn insert(pool: &PgPool, name: &str, message: &str) -> anyhow::Result<Notification> {
    let notification = sqlx::query_as(
        "INSERT INTO outbox (name, message) VALUES ($1, $2) RETURNING id, name, message",
    )
    .bind(name)
    .bind(message)
    .fetch_one(pool)
    .await?;
    Ok(notification)
}

/// Records that notification `id` was delivered.
pub async fn mark_delivered(db: impl PgExecutor<'_>, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt to deliver notification `id`.
pub async fn record_failure(db: impl PgExecutor<'_>, id: i64, error: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}
