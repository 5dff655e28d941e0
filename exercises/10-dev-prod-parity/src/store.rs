//! Where the noticeboard keeps its notifications: Postgres in production, and, in development,
//! a `Vec` in memory that stands in for it.

use crate::config::{AppEnv, Config};
use anyhow::Context;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::{Arc, Mutex};
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
// TODO(factor-10): two stores, one per environment. Development runs against a fake that only
// looks like Postgres, so what a developer sees is not what users will see. Keep one store,
// Postgres, for every environment.
#[derive(Clone)]
pub enum Store {
    /// Development: quick to start, nothing to install, and not the database production runs.
    Memory(Arc<Mutex<Vec<Notification>>>),
    /// Production: the real thing.
    Postgres(PgPool),
}
// ANCHOR_END: store

impl Store {
    // ANCHOR: open
    /// Opens the store this environment uses.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        // TODO(factor-10): a dev-only branch. Whatever says "development" (APP_ENV, a debug build,
        // another variable, a localhost URL), the app must store notifications in Postgres.
        if config.app_env == AppEnv::Development {
            tracing::info!("development: notifications are kept in memory");
            return Ok(Store::Memory(Arc::default()));
        }
        let url = config
            .database_url
            .as_deref()
            .context("DATABASE_URL is not set (see .env.example)")?;
        Ok(Store::Postgres(connect(url).await?))
    }
    // ANCHOR_END: open

    // ANCHOR: add
    /// Stores a notification and returns it with its id.
    pub async fn add(&self, name: &str, message: &str) -> Result<Notification, StoreError> {
        match self {
            Store::Memory(notifications) => {
                let mut notifications = notifications.lock().unwrap();
                let notification = Notification {
                    id: notifications.len() as i64 + 1,
                    name: name.to_string(),
                    message: message.to_string(),
                };
                notifications.push(notification.clone());
                Ok(notification)
            }
            Store::Postgres(pool) => sqlx::query_as(
                "INSERT INTO notifications (name, message) VALUES ($1, $2) \
                 RETURNING id, name, message",
            )
            .bind(name)
            .bind(message)
            .fetch_one(pool)
            .await
            .map_err(classify),
        }
    }
    // ANCHOR_END: add

    // ANCHOR: list
    /// Every notification, newest first.
    pub async fn list(&self) -> Result<Vec<Notification>, StoreError> {
        match self {
            Store::Memory(notifications) => Ok(notifications.lock().unwrap().clone()),
            Store::Postgres(pool) => sqlx::query_as(
                "SELECT id, name, message FROM notifications ORDER BY created_at DESC, id DESC",
            )
            .fetch_all(pool)
            .await
            .map_err(classify),
        }
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
