//! The noticeboard's backing service: the Redis that keeps the visit count.

use crate::config::Config;
use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

/// The Redis key of the homepage visit count.
const VISITS: &str = "visits";

// ANCHOR: location
// TODO(factor-4): where Redis lives is written into the code. Every deploy (your laptop, CI,
// staging, production) gets this one server, and its database 0; moving to another Redis means
// editing and rebuilding the app. Find Redis through the `REDIS_URL` from config instead, and use
// all of it: rebuilding a URL from a host and a port drops the database index and the password.
const REDIS_HOST: &str = "127.0.0.1";
const REDIS_PORT: u16 = 6379;
// ANCHOR_END: location

#[derive(Clone)]
pub struct AppState {
    redis: MultiplexedConnection,
}

impl AppState {
    // ANCHOR: connect
    pub async fn connect(_config: &Config) -> anyhow::Result<Self> {
        let client = redis::Client::open(format!("redis://{REDIS_HOST}:{REDIS_PORT}"))
            .context("not a Redis URL")?;
        // TODO(factor-4): one connection, made once at start-up. When Redis restarts, or the
        // network drops the connection, it is gone for good and every request fails until
        // someone restarts the app. Use a connection that reconnects by itself, and bound how
        // long a request may wait for Redis, so that it fails fast while Redis is away.
        let redis = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("cannot connect to Redis at {REDIS_HOST}:{REDIS_PORT}"))?;
        Ok(AppState { redis })
    }
    // ANCHOR_END: connect

    // ANCHOR: record_visit
    /// Counts one homepage visit and returns the new total.
    pub async fn record_visit(&self) -> anyhow::Result<u64> {
        Ok(self.redis.clone().incr(VISITS, 1).await?)
    }
    // ANCHOR_END: record_visit

    /// The total number of homepage visits.
    pub async fn visits(&self) -> anyhow::Result<u64> {
        let visits: Option<u64> = self.redis.clone().get(VISITS).await?;
        Ok(visits.unwrap_or(0))
    }
}
