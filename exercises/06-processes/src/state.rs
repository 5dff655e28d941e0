//! Where the noticeboard keeps what must outlive a request: the visit count and login sessions.

use crate::config::Config;
use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ANCHOR: counter
// TODO(factor-6): this counter lives in the memory of *one* process. A second replica has its own,
// and a restart resets it to zero. Keep the count in Redis instead.
static TOTAL_VISIT: AtomicU64 = AtomicU64::new(0);
// ANCHOR_END: counter

/// How long a request may wait for Redis, to connect or for a reply, before it fails (Factor IV).
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// A session: who logged in, and until when.
struct Session {
    name: String,
    expires: Instant,
}

#[derive(Clone)]
pub struct AppState {
    redis: ConnectionManager,
    session_ttl: Duration,
    // TODO(factor-6): sessions, too, live in this process only: log in through one replica and
    // the others have never heard of you. Store them in Redis, with the TTL from config.
    sessions: Arc<Mutex<HashMap<String, Session>>>,
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
            sessions: Arc::default(),
        })
    }

    // ANCHOR: record_visit
    /// Counts one homepage visit and returns the new total.
    pub async fn record_visit(&self) -> anyhow::Result<u64> {
        // TODO(factor-6): count in Redis, atomically.
        Ok(TOTAL_VISIT.fetch_add(1, Ordering::SeqCst) + 1)
    }
    // ANCHOR_END: record_visit

    /// The total number of homepage visits.
    pub async fn visits(&self) -> anyhow::Result<u64> {
        // TODO(factor-6): read the count from Redis.
        Ok(TOTAL_VISIT.load(Ordering::SeqCst))
    }

    // ANCHOR: sessions
    /// Starts a session for `name` and returns its token.
    pub async fn create_session(&self, name: &str) -> anyhow::Result<String> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let session = Session {
            name: name.to_string(),
            expires: Instant::now() + self.session_ttl,
        };
        // TODO(factor-6): store the session in Redis with the TTL instead.
        self.sessions.lock().unwrap().insert(token.clone(), session);
        Ok(token)
    }

    /// The user a live session belongs to, or `None` if it is unknown or expired.
    pub async fn session_user(&self, token: &str) -> anyhow::Result<Option<String>> {
        // TODO(factor-6): look the session up in Redis.
        let sessions = self.sessions.lock().unwrap();
        Ok(sessions
            .get(token)
            .filter(|session| Instant::now() < session.expires)
            .map(|session| session.name.clone()))
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
