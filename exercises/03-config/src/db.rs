//! The notifications, stored in Postgres.
//!
//! Which database this talks to is decided in `config.rs`; nothing here knows a host, a user or a
//! password.

use crate::config::Config;
use anyhow::{Context, anyhow};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// One notice on the board.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub name: String,
    pub message: String,
}

/// A pool of connections to the noticeboard's database; cheap to clone into every handler.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Prepares a pool for `config.database_url`. Connections open on first use, so the app starts
    /// (and answers `/health`) even while the database is down; a request that needs it waits at
    /// most three seconds, then fails.
    pub fn connect(config: &Config) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(&config.database_url)
            .context("DATABASE_URL is not a valid Postgres URL")?;
        Ok(Db { pool })
    }

    /// Creates the notifications table if it is missing: a convenience for this exercise. (Factor
    /// XII moves schema changes out of the web process, into a one-off admin task.)
    pub async fn create_table_if_missing(&self) -> anyhow::Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS notifications (
                id BIGSERIAL PRIMARY KEY,
                name TEXT NOT NULL,
                message TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .execute(&self.pool)
        .await
        .map_err(failed("cannot create the notifications table"))?;
        Ok(())
    }

    /// Every notification, newest first.
    pub async fn notifications(&self) -> anyhow::Result<Vec<Notification>> {
        sqlx::query_as("SELECT id, name, message FROM notifications ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("cannot read the notifications"))
    }

    /// Stores a notification and returns it with its id.
    pub async fn add(&self, name: &str, message: &str) -> anyhow::Result<Notification> {
        sqlx::query_as(
            "INSERT INTO notifications (name, message) VALUES ($1, $2) \
             RETURNING id, name, message",
        )
        .bind(name)
        .bind(message)
        .fetch_one(&self.pool)
        .await
        .map_err(failed("cannot store the notification"))
    }
}

/// Turns a sqlx error into one readable sentence: what we were doing, then what went wrong (for a
/// database error, Postgres's own words, e.g. `password authentication failed for user "…"`).
fn failed(doing: &str) -> impl FnOnce(sqlx::Error) -> anyhow::Error + '_ {
    move |err| match err.as_database_error() {
        Some(db) => anyhow!("{doing}: Postgres says: {}", db.message()),
        None => anyhow!("{doing}: {err}"),
    }
}
