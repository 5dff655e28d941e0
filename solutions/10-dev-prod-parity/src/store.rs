//! Where the noticeboard keeps its notifications: Postgres, in every environment.
//!
//! Solved: the in-memory stand-in is gone, and with it the `match` in every method. There is one
//! code path to read, to test and to trust, and it is the one production runs.

use crate::config::Config;
use anyhow::Context;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// One notification, as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub name: String,
    pub message: String,
}

/// Why a notification could not be stored.
#[derive(Debug)]
pub enum StoreError {
    /// The message is longer than the 280 characters the `notifications` table allows.
    MessageTooLong,
    /// The backing service failed.
    Unavailable(anyhow::Error),
}

// ANCHOR: store
/// The notifications, in Postgres.
///
/// Solved: a struct, not an enum of backends. Why not keep the fake and make it behave like
/// Postgres (sort newest first, count characters)? Because it would then be a second database to
/// keep in step with the first, forever: the next constraint, index or collation would differ
/// again, and only production would find out.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}
// ANCHOR_END: store

impl Store {
    // ANCHOR: open
    /// Opens the store this environment uses: the same in all of them.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        // Solved: no branch on APP_ENV, a debug build or the database's host. Development gets
        // Postgres because production has Postgres; `cargo xtask services up` (docker compose)
        // runs the same major version on a laptop.
        Ok(Store {
            pool: connect(&config.database_url).await?,
        })
    }
    // ANCHOR_END: open

    // ANCHOR: add
    /// Stores a notification and returns it with its id.
    pub async fn add(&self, name: &str, message: &str) -> Result<Notification, StoreError> {
        sqlx::query_as(
            "INSERT INTO notifications (name, message) VALUES ($1, $2) \
             RETURNING id, name, message",
        )
        .bind(name)
        .bind(message)
        .fetch_one(&self.pool)
        .await
        .map_err(classify)
    }
    // ANCHOR_END: add

    // ANCHOR: list
    /// Every notification, newest first.
    pub async fn list(&self) -> Result<Vec<Notification>, StoreError> {
        sqlx::query_as(
            "SELECT id, name, message FROM notifications ORDER BY created_at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(classify)
    }
    // ANCHOR_END: list
}

// ANCHOR: schema
/// The table, created at start-up if it is missing. The 280-character limit on messages is part
/// of the schema: Postgres enforces it, and the API answers 422 when it does.
///
/// (Creating the schema in the web process keeps this exercise focused; Factor XII moves it into a
/// one-off `migrate` process.)
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS notifications (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    message VARCHAR(280) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";
// ANCHOR_END: schema

/// Connects to Postgres (failing fast if it does not answer) and creates the schema.
async fn connect(url: &str) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .context("cannot connect to Postgres at DATABASE_URL")?;
    sqlx::raw_sql(SCHEMA)
        .execute(&pool)
        .await
        .context("cannot create the notifications table")?;
    Ok(pool)
}

/// Postgres's `string_data_right_truncation`: a value longer than its `VARCHAR(n)` column.
const VALUE_TOO_LONG: &str = "22001";

fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(VALUE_TOO_LONG) => {
            StoreError::MessageTooLong
        }
        _ => StoreError::Unavailable(err.into()),
    }
}
