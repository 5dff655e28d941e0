//! The noticeboard's backing service: the Redis that keeps the visit count.
//!
//! Solved: Redis is an attached resource. The app finds it through `REDIS_URL` and nothing else,
//! so attaching another Redis is a change of config, not of code. Its connection reconnects by
//! itself and gives up quickly, so an outage costs some `503`s, not the process.

use crate::config::Config;
use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// The Redis key of the homepage visit count.
const VISITS: &str = "visits";

// ANCHOR: timeout
/// How long a request may wait for Redis before it answers `503`: to connect, or for a reply.
///
/// Solved: while Redis is away, a request that waits longer only holds a client (and a
/// connection slot of every proxy in between) for an answer that will be an error anyway.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
// ANCHOR_END: timeout

#[derive(Clone)]
pub struct AppState {
    // Solved: a `ConnectionManager` instead of a bare `MultiplexedConnection`. It is the same
    // multiplexed connection underneath, cheap to clone into every handler, but when the
    // connection breaks, the next request makes a new one.
    redis: ConnectionManager,
}

impl AppState {
    // ANCHOR: connect
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        // Solved: the whole URL, as given. The redis crate reads the host, the port, the
        // database index (`/3`), the user and password, and `rediss://` for TLS from it; a URL
        // rebuilt from parts would keep only what the code remembered to copy.
        let client = redis::Client::open(config.redis_url.as_str())
            .context("REDIS_URL is not a Redis URL")?;
        // Solved: the manager's defaults retry a lost connection 6 times with a growing delay,
        // and every request waits for those retries: seconds, during an outage. One quick retry
        // and short timeouts make a request fail fast; the next request tries again.
        let reconnect = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        // Solved: lazy, so the first request connects, not start-up. Redis being away when the
        // app starts is then the same as Redis going away later: `503`s until it is back, no
        // crash loop. (`ConnectionManager::new_with_config` would connect now, and fail to start.)
        let redis = ConnectionManager::new_lazy_with_config(client, reconnect)
            .context("cannot set up the Redis connection")?;
        Ok(AppState { redis })
    }
    // ANCHOR_END: connect

    // ANCHOR: record_visit
    /// Counts one homepage visit and returns the new total.
    pub async fn record_visit(&self) -> anyhow::Result<u64> {
        // An error here (Redis away) travels up as `AppError`: logged, `503`, process still up.
        // (Solved: never `unwrap()` a call to a backing service. A panic in a handler drops the
        // client's connection without an answer.)
        Ok(self.redis.clone().incr(VISITS, 1).await?)
    }
    // ANCHOR_END: record_visit

    /// The total number of homepage visits.
    pub async fn visits(&self) -> anyhow::Result<u64> {
        let visits: Option<u64> = self.redis.clone().get(VISITS).await?;
        Ok(visits.unwrap_or(0))
    }
}
