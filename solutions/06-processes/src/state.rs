//! Where the noticeboard keeps what must outlive a request: the visit count and login sessions.
//!
//! Solved: both live in Redis, a backing service every replica shares. The process itself holds
//! nothing but a connection, so replicas can be added, killed and restarted freely.

use crate::config::Config;
use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

// ANCHOR: counter
/// The Redis key of the homepage visit count.
const VISITS: &str = "visits";
// ANCHOR_END: counter

/// How long a request may wait for Redis, to connect or for a reply, before it fails (Factor IV).
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct AppState {
    // A `ConnectionManager` is cheap to clone and reconnects by itself; no per-process state
    // beyond the connection. (Solved: the session map is gone.)
    redis: ConnectionManager,
    session_ttl: Duration,
}

fn session_key(token: &str) -> String {
    format!("session:{token}")
}

impl AppState {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let client = redis::Client::open(config.redis_url.as_str())
            .context("REDIS_URL is not a Redis URL")?;
        // As Factor IV taught: the manager's defaults retry a lost connection six times with a
        // growing delay while every request waits; bounded waits make an outage cost quick
        // errors instead. (Connecting now, not lazily, keeps the exercise's start-up as it was.)
        let reconnect = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let redis = ConnectionManager::new_with_config(client, reconnect)
            .await
            .context("cannot connect to Redis at REDIS_URL")?;
        Ok(AppState {
            redis,
            session_ttl: config.session_ttl,
        })
    }

    // ANCHOR: record_visit
    /// Counts one homepage visit and returns the new total.
    pub async fn record_visit(&self) -> anyhow::Result<u64> {
        // Solved: one `INCR`, atomic inside Redis. A `GET` then `SET` would let two replicas read
        // the same value and both write value + 1, losing a visit under load.
        Ok(self.redis.clone().incr(VISITS, 1).await?)
    }
    // ANCHOR_END: record_visit

    /// The total number of homepage visits.
    pub async fn visits(&self) -> anyhow::Result<u64> {
        let visits: Option<u64> = self.redis.clone().get(VISITS).await?;
        Ok(visits.unwrap_or(0))
    }

    // ANCHOR: sessions
    /// Starts a session for `name` and returns its token.
    pub async fn create_session(&self, name: &str) -> anyhow::Result<String> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        // Solved: `SET ... EX` stores the session with its TTL in one command; Redis deletes it
        // when it expires, so no replica has to clean up.
        let _: () = self
            .redis
            .clone()
            .set_ex(session_key(&token), name, self.session_ttl.as_secs())
            .await?;
        Ok(token)
    }

    /// The user a live session belongs to, or `None` if it is unknown or expired.
    pub async fn session_user(&self, token: &str) -> anyhow::Result<Option<String>> {
        Ok(self.redis.clone().get(session_key(token)).await?)
    }
    // ANCHOR_END: sessions

    /// Whether Redis answers (the readiness probe).
    pub async fn ping(&self) -> anyhow::Result<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}
