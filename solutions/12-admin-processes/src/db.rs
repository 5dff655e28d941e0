//! The noticeboard's database: the connection, the schema, and the queries on the visit count.
//!
//! Part of the library every binary of this package uses. Solved: the web process counts visits with it, the
//! `migrate` task applies the schema with it, and `reset-visits` resets the count with the same
//! query the exercise's HTTP route used: one copy of the SQL, so the admin tasks cannot drift from
//! the app they administer.

use crate::config::Config;
use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::{Migrate, Migrator};
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

// ANCHOR: migrator
/// The schema migrations in `migrations/`, embedded into the binaries at build time.
///
/// Solved: the SQL travels inside the release, so the `migrate` task needs no source tree, no psql
/// and no shell wherever it runs. sqlx records each applied version in `_sqlx_migrations` and
/// holds a Postgres advisory lock while it works: a second run, even a concurrent one, applies
/// nothing twice. (Not `Migrator::new("./migrations")`: that reads the folder at run time, from
/// a working directory a production process does not have.)
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Applies the migrations this database has not seen yet; returns how many it applied.
///
/// Solved: only the `migrate` admin process calls this. The web process never changes the
/// schema; its readiness probe waits for it instead.
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
// ANCHOR_END: migrator

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
