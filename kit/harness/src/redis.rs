//! A private Redis database index per test.
//!
//! Tests run in parallel, in several processes, against one Redis server. Each [`TestRedis`] leases
//! a database index (1 and up) by setting `kit:lease:<index>` in database 0 with `NX`, so the lease
//! works across test binaries; the index is flushed before and after use. Apps under test get a
//! URL ending in `/<index>`, the standard way to select a Redis database.

use crate::services::{self, REACH_TIMEOUT, START_SERVICES};
use redis::{Commands, Connection};
use std::thread;
use std::time::{Duration, Instant};

/// A lease outlives a test that crashed without cleaning up by at most this long.
const LEASE_SECONDS: u64 = 600;

/// A Redis database index that belongs to one test until dropped.
pub struct TestRedis {
    base_url: String,
    index: u32,
    lease: String,
}

#[track_caller]
fn connect(url: &str) -> Connection {
    let client = redis::Client::open(url)
        .unwrap_or_else(|err| panic!("REDIS_URL {url:?} is not a Redis URL ({err}): check .env"));
    let connection = client
        .get_connection_with_timeout(REACH_TIMEOUT)
        .unwrap_or_else(|err| panic!("Redis is not reachable at {url} ({err}): {START_SERVICES}"));
    bounded(connection)
}

/// `connection` with a time limit on every command: redis-rs applies the connect timeout to the
/// handshake only, so a Redis that stops answering would otherwise hang the check.
fn bounded(connection: Connection) -> Connection {
    let _ = connection.set_read_timeout(Some(REACH_TIMEOUT));
    let _ = connection.set_write_timeout(Some(REACH_TIMEOUT));
    connection
}

impl TestRedis {
    /// Leases a free database index on the kit's Redis server and empties it.
    #[track_caller]
    pub fn new() -> Self {
        Self::on(&services::redis_url())
    }

    /// Leases a free database index on the Redis server at `server_url`.
    #[track_caller]
    pub fn on(server_url: &str) -> Self {
        let base_url = server_url.trim_end_matches('/').to_string();
        let mut control = connect(&base_url);
        let databases: u32 = redis::cmd("CONFIG")
            .arg("GET")
            .arg("databases")
            .query::<Vec<String>>(&mut control)
            .ok()
            .and_then(|reply| reply.get(1).and_then(|count| count.parse().ok()))
            .unwrap_or(16);
        let lease = uuid::Uuid::new_v4().to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for index in 1..databases {
                let taken: bool = redis::cmd("SET")
                    .arg(format!("kit:lease:{index}"))
                    .arg(&lease)
                    .arg("NX")
                    .arg("EX")
                    .arg(LEASE_SECONDS)
                    .query::<Option<String>>(&mut control)
                    .map(|reply| reply.is_some())
                    .unwrap_or(false);
                if taken {
                    let redis = TestRedis {
                        base_url,
                        index,
                        lease,
                    };
                    redis.flush();
                    return redis;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "all {} Redis databases are leased by other tests; run fewer tests at once",
                    databases - 1
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The database index this test owns.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The URL to hand to the app: the server's URL with this test's database index.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base_url, self.index)
    }

    /// The Redis server's address, e.g. to put a [`crate::TcpProxy`] in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let url =
            redis::Client::open(self.base_url.as_str()).expect("REDIS_URL was valid a moment ago");
        let (host, port) = match url.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            other => panic!("the kit's Redis must listen on TCP, not {other:?}"),
        };
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("cannot resolve the Redis host {host}"))
    }

    /// A connection to this test's database, for inspecting what the app stored.
    #[track_caller]
    pub fn connection(&self) -> Connection {
        connect(&self.url())
    }

    /// Every key in this test's database, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.connection().keys("*").unwrap_or_default();
        keys.sort();
        keys
    }

    fn flush(&self) {
        let _: redis::RedisResult<()> = redis::cmd("FLUSHDB").query(&mut self.connection());
    }
}

impl Default for TestRedis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // Best effort: never turn a failing test into a double panic.
        let Ok(client) = redis::Client::open(self.base_url.as_str()) else {
            return;
        };
        let Ok(control) = client.get_connection_with_timeout(REACH_TIMEOUT) else {
            return;
        };
        let mut control = bounded(control);
        let _: redis::RedisResult<()> = redis::cmd("SELECT")
            .arg(self.index)
            .query(&mut control)
            .and_then(|()| redis::cmd("FLUSHDB").query(&mut control));
        let _: redis::RedisResult<()> = redis::cmd("SELECT").arg(0).query(&mut control);
        let key = format!("kit:lease:{}", self.index);
        if control
            .get::<_, Option<String>>(&key)
            .ok()
            .flatten()
            .as_deref()
            == Some(&self.lease)
        {
            let _: redis::RedisResult<()> = control.del(&key);
        }
    }
}
