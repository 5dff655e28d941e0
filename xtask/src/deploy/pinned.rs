//! `--break 4`: the demo on an app whose Redis is wired into its code.
//!
//! Factor IV's exercise ignores `REDIS_URL` and counts in `127.0.0.1:6379`, database 0, the
//! shared Redis itself: that is its anti-pattern, and the demo must run it as shipped. So the demo
//! cannot put its cuttable proxy in the way. Instead:
//!
//! - **the cut** closes the app's own connections at the server (`CLIENT KILL ID`, chosen by the
//!   addresses its processes hold, as `cargo xtask demo 4` does), never anyone else's: to the app
//!   this is the same as the proxy's cut, a connection the network dropped;
//! - **the count** it made in database 0 is taken back when the run ends (`DECRBY` of exactly the
//!   homepage requests the load balancer saw answered `2xx`, atomic, so other users' visits
//!   counted meanwhile stay), and the key removed if it did not exist before and holds 0 again.
//!   A visit the exercise counted but never answered cannot be told from another user's: a
//!   request in flight when SIGTERM killed its process (the exercise dies at once), or an `INCR`
//!   whose reply the cut lost. Those few stay in the counter, which every run of that exercise
//!   (its checks included) shares and none cleans; taking back more could erase someone else's.
//!
//! A private Redis for the run cannot help: the exercise's code names port 6379, where the shared
//! Redis already listens.

use super::backing::Backing;
use super::haproxy::Request;
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// Where the exercise's code looks for Redis (`exercises/04-backing-services/src/state.rs`).
const WIRED_HOST: &str = "127.0.0.1";
const WIRED_PORT: u16 = 6379;
const KEY: &str = "visits";

/// A connection to database 0 of the shared server, which must be the one the exercise's code
/// names; and the count there before the run.
pub fn attach(backing: &Backing) -> Result<(redis::Connection, Option<i64>)> {
    let host = backing.redis_url.host_str().unwrap_or_default();
    let port = backing.redis_url.port().unwrap_or(6379);
    if !(["127.0.0.1", "localhost"].contains(&host) && port == WIRED_PORT) {
        bail!(
            "--break 4: exercise IV looks for Redis at {WIRED_HOST}:{WIRED_PORT} (written in its \
             code), but the kit's Redis is at {host}:{port} (REDIS_URL in .env): the exercise \
             would find no Redis at all"
        );
    }
    let mut server = server(backing)?;
    let before: Option<i64> = redis::cmd("GET").arg(KEY).query(&mut server)?;
    Ok((server, before))
}

fn server(backing: &Backing) -> Result<redis::Connection> {
    let mut url = backing.redis_url.clone();
    url.set_path("/0");
    let connection = redis::Client::open(url.as_str())?
        .get_connection_with_timeout(Duration::from_secs(3))
        .context("cannot reach Redis: run `cargo xtask services up`")?;
    connection.set_read_timeout(Some(Duration::from_secs(3)))?;
    Ok(connection)
}

/// Closes the Redis connections of process `pid` at the server; how many.
pub fn cut(pid: u32, server: &mut redis::Connection) -> Result<usize> {
    crate::demo::early::kill_connections_of(pid, server)
}

/// The visits the app counted: homepage requests answered `2xx` through the load balancer.
pub fn answered_visits(requests: &[Request]) -> u64 {
    requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/" && (200..300).contains(&r.status))
        .count() as u64
}

/// Takes `counted` visits back from database 0 (see the module's comment).
pub fn give_back(backing: &Backing, counted: u64, before: Option<i64>) -> Result<()> {
    if counted == 0 {
        return Ok(());
    }
    let mut server = server(backing)?;
    let left: i64 = redis::cmd("DECRBY")
        .arg(KEY)
        .arg(counted)
        .query(&mut server)?;
    if before.is_none() && left == 0 {
        redis::cmd("DEL").arg(KEY).query::<()>(&mut server)?;
    }
    Ok(())
}

/// The count in the run's own Redis index, the one `REDIS_URL` named.
pub fn visits_in(backing: &Backing) -> Result<u64> {
    let count: Option<u64> = redis::cmd("GET").arg(KEY).query(&mut backing.redis()?)?;
    Ok(count.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only homepage requests answered `2xx` counted a visit the demo knows of.
    #[test]
    fn the_visits_given_back_are_the_homepages_answered() {
        let request = |method: &str, path: &str, status| Request {
            at_ms: 0,
            status,
            total_ms: 1,
            server: "web1".into(),
            method: method.into(),
            path: path.into(),
        };
        let log = [
            request("GET", "/", 200),
            request("GET", "/", 503),
            request("GET", "/", -1),
            request("GET", "/visits", 200),
            request("GET", "/health", 200),
            request("GET", "/", 200),
        ];
        assert_eq!(answered_visits(&log), 2);
    }
}
