//! The noticeboard's database: the connection, the schema, and the queries on the visit count.
//!
//! Meant for every binary of this package: the web process counts visits with it, and an admin
//! task that works on the same tables should use the same queries rather than its own copy.

use crate::config::Config;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Connects to `DATABASE_URL`, failing within seconds if Postgres does not answer.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database_url)
        .await
        .context("cannot connect to Postgres at DATABASE_URL")
}

// ANCHOR: ensure_schema
/// The schema the app needs, as SQL.
const SCHEMA: &str = include_str!("../migrations/0001_create_visits.sql");

/// Creates the tables the app needs, if they are missing.
// TODO(factor-12): the web process calls this as it starts: every replica, at every boot, all at
// the same moment during a deploy, and nothing records what was applied. Apply the `migrations/`
// folder with a tool that records each version (sqlx has one: embedded migrations), and only from
// the `migrate` task.
pub async fn ensure_schema(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(SCHEMA)
        .execute(pool)
        .await
        .context("cannot create the schema")?;
    Ok(())
}
// ANCHOR_END: ensure_schema

/// Whether the schema the app needs is there (the readiness probe).
pub async fn schema_ready(pool: &PgPool) -> anyhow::Result<()> {
    visit_count(pool).await.map(drop)
}

/// Counts one homepage visit and returns the new total.
pub async fn record_visit(pool: &PgPool) -> anyhow::Result<i64> {
    // One statement, atomic in Postgres: concurrent visits never overwrite each other.
    let count =
        sqlx::query_scalar("UPDATE visits SET count = count + 1 WHERE id = 1 RETURNING count")
            .fetch_one(pool)
            .await?;
    Ok(count)
}

/// The total number of homepage visits.
pub async fn visit_count(pool: &PgPool) -> anyhow::Result<i64> {
    let count = sqlx::query_scalar("SELECT count FROM visits WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(count)
}

// ANCHOR: reset_visits
/// Sets the visit count back to zero and returns what it was.
pub async fn reset_visits(pool: &PgPool) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    // `FOR UPDATE` locks the row until the commit: a visit counted meanwhile waits, so the count
    // returned is exactly the one that was erased.
    let before: i64 = sqlx::query_scalar("SELECT count FROM visits WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("UPDATE visits SET count = 0 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(before)
}
// ANCHOR_END: reset_visits
