//! Postgres: the pool, the embedded migrations, the notifications and their delivery queue.
//!
//! Differs from solutions 03, 08, 09 and 10, whose processes create their tables as they start:
//! here only `migrate` (the release phase, Factor XII) changes the schema, and the web process's
//! readiness probe (`GET /health/ready`) waits for it. Ten replicas starting together would
//! otherwise all race to alter the catalog, with rights that serving requests does not need.

use crate::config::Database;
use anyhow::Context;
use serde::Serialize;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// How long a request waits for a connection from the pool before it fails (then `503`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects lazily: Postgres being away at start-up is the same as it going away later
/// (`503`s until it is back, readiness failing), not a crash loop.
pub fn connect(database: &Database) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy(database.url())
        .context("DATABASE_URL is not usable")
}

/// Connects now: the admin tasks have nothing to do without the database.
pub async fn connect_now(database: &Database) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(database.url())
        .await
        .with_context(|| format!("cannot connect to Postgres at {}", database.redacted()))
}

/// The migrations in `migrations/`, embedded at build time: `migrate` needs no source tree, no
/// psql and no shell wherever it runs (Factor V: the release holds everything the run needs).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Applies the migrations this database has not seen; how many it applied. sqlx records them in
/// `_sqlx_migrations` under an advisory lock, so a second run, even a concurrent one, is a no-op.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    let mut conn = pool.acquire().await?;
    let table = MIGRATOR.table_name.as_ref();
    conn.ensure_migrations_table(table).await?;
    let before = conn.list_applied_migrations(table).await?.len();
    MIGRATOR
        .run(&mut *conn)
        .await
        .context("cannot apply the migrations")?;
    let after = conn.list_applied_migrations(table).await?.len();
    Ok(after - before)
}

/// Whether the schema this code needs is there (the readiness probe asks on every call).
pub async fn schema_ready(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT 1 FROM notifications, deliveries LIMIT 0")
        .execute(pool)
        .await
        .context("the schema is missing: run `migrate`")?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub name: String,
    pub message: String,
}

/// Stores a notification and queues its delivery, in one transaction: a notification the web
/// process answered for is never without its delivery, whatever dies next.
pub async fn create(pool: &PgPool, name: &str, message: &str) -> anyhow::Result<Notification> {
    let mut tx = pool.begin().await?;
    let notification: Notification = sqlx::query_as(
        "INSERT INTO notifications (name, message) VALUES ($1, $2) RETURNING id, name, message",
    )
    .bind(name)
    .bind(message)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO deliveries (notification_id) VALUES ($1)")
        .bind(notification.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(notification)
}

/// The newest `limit` notifications (all without a limit), newest first.
pub async fn newest(pool: &PgPool, limit: Option<i64>) -> anyhow::Result<Vec<Notification>> {
    Ok(
        sqlx::query_as("SELECT id, name, message FROM notifications ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?,
    )
}

pub async fn find(pool: &PgPool, id: i64) -> anyhow::Result<Option<Notification>> {
    Ok(
        sqlx::query_as("SELECT id, name, message FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// A delivery a worker holds: its row stays locked, and in the queue, until the transaction ends.
pub type Claim = Transaction<'static, Postgres>;

/// Takes the oldest delivery no other worker holds (`SKIP LOCKED`: the others pass over it).
///
/// Not deleted when taken: deleted in the same transaction once delivered ([`complete`]). A
/// worker that stops first rolls back (or Postgres does, when its connection dies with a
/// SIGKILLed process), and the delivery is back in the queue: at least once, never lost.
pub async fn take(pool: &PgPool) -> anyhow::Result<Option<(Notification, Claim)>> {
    let mut tx = pool.begin().await?;
    let job = sqlx::query_as(
        "SELECT n.id, n.name, n.message FROM deliveries d JOIN notifications n \
         ON n.id = d.notification_id ORDER BY d.notification_id LIMIT 1 \
         FOR UPDATE OF d SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(job.map(|job| (job, tx)))
}

/// Delivered: the delivery leaves the queue.
pub async fn complete(mut claim: Claim, id: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM deliveries WHERE notification_id = $1")
        .bind(id)
        .execute(&mut *claim)
        .await?;
    claim.commit().await?;
    Ok(())
}

/// Not delivered: back to the queue, for this worker or another one.
pub async fn hand_back(claim: Claim) -> anyhow::Result<()> {
    claim.rollback().await?;
    Ok(())
}

/// Closes the pool, bounded: a request or job that was cut off may never return its connection.
pub async fn close(pool: &PgPool) {
    if tokio::time::timeout(Duration::from_millis(500), pool.close())
        .await
        .is_err()
    {
        tracing::warn!("some database connections were still in use; closing without them");
    }
}
