//! A demo's world on the shared services: its own database and Redis index (leased by the harness
//! exactly as the checks lease theirs), what must be put back afterwards, and the snapshot that
//! proves the shared services were left as they were found.

use anyhow::{Context, Result};
use kit_harness::{AppBuilder, TestDatabase, TestRedis};
use redis::Commands;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything a demo made, undone when dropped (in reverse: restores first, then the database
/// and the Redis index go).
pub struct World {
    pub root: PathBuf,
    database: Option<TestDatabase>,
    redis: Option<TestRedis>,
    restores: Vec<Box<dyn FnOnce()>>,
}

impl World {
    pub fn new(root: &Path) -> Result<World> {
        Ok(World {
            root: root.to_path_buf(),
            database: None,
            redis: None,
            restores: Vec::new(),
        })
    }

    /// The demo's own database (a new one, owned by a new role), made on first use.
    pub fn database(&mut self) -> &TestDatabase {
        self.database.get_or_insert_with(|| {
            let database = TestDatabase::new();
            if let Ok(mut made) = MADE.lock() {
                made.push(database.name().to_string());
            }
            database
        })
    }

    /// The demo's own Redis database index, leased on first use.
    pub fn redis(&mut self) -> &TestRedis {
        self.redis.get_or_insert_with(TestRedis::new)
    }

    /// `f` runs when the demo ends, however it ends (a panic included).
    pub fn on_exit(&mut self, f: impl FnOnce() + 'static) {
        self.restores.push(Box::new(f));
    }

    /// Factor IV's exercise counts in `key` of Redis database 0, whatever it is told, and so does
    /// every other run of it on this machine (the checks, other demos), at any moment. Restoring
    /// a saved value would erase their counts; instead, when the demo ends, this takes back
    /// exactly the `added` visits the demo's app made (`DECRBY`, atomic), and removes the key if
    /// it did not exist before and nobody else counted meanwhile. Returns the value before.
    pub fn give_back_redis_count(&mut self, key: &str, added: i64) -> Result<Option<i64>> {
        let mut redis = server_connection()?;
        let before: Option<i64> = redis.get(key)?;
        let key = key.to_string();
        self.on_exit(move || {
            let Ok(mut redis) = server_connection() else {
                return;
            };
            let left: redis::RedisResult<i64> = redis.decr(&key, added);
            if before.is_none() && matches!(left, Ok(0)) {
                let _: redis::RedisResult<()> = redis.del(&key);
            }
        });
        Ok(before)
    }

    /// A process of the exercise, with a cleared environment and a temp directory of its own
    /// (the harness's `AppBuilder`: killed when dropped).
    pub fn process(&self, binary: impl AsRef<Path>) -> AppBuilder {
        AppBuilder::new(binary).env("RUST_LOG", "info")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        while let Some(restore) = self.restores.pop() {
            restore();
        }
        self.database = None;
        self.redis = None;
    }
}

/// A connection to the shared Redis, database 0.
pub fn server_connection() -> Result<redis::Connection> {
    let client = redis::Client::open(kit_harness::services::redis_url())?;
    let connection = client
        .get_connection_with_timeout(std::time::Duration::from_secs(3))
        .context("Redis does not answer: cargo xtask services up")?;
    let _ = connection.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    Ok(connection)
}

/// The per-run databases of the kit's tools, which other runs on the same services (other
/// sessions, CI) make and drop at any moment: the checks' (`kit_…`, made by the harness, as the
/// demos' own are), `cargo xtask deploy`'s and the book's runnable demos'. Any other database a
/// demo left behind, or removed, is a difference.
const PER_RUN: &[&str] = &["kit_", "deploy_demo_", "book_demo_"];

/// Whether `name` is another live process's per-run database: the kit's tools name theirs
/// `<what>_<pid>` or `<what>_<pid>_<n>` (`room_bench_1437`), and that process is still running.
/// Such a database belongs to another user of the shared Postgres, made or dropped while the
/// demos ran; the demos' own are the harness's (`kit_…`), checked apart ([`MADE`]).
fn another_run(name: &str) -> bool {
    let parts: Vec<&str> = name.split('_').collect();
    parts.iter().rev().take(2).any(|part| {
        part.parse::<i32>().is_ok_and(|pid| {
            // Signal 0: "does this process exist?", on Linux and macOS alike.
            pid > 1
                && pid as u32 != std::process::id()
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        })
    })
}

/// Every database a demo made in this process, to check afterwards that each is gone.
pub static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// What the shared services hold, as far as a demo could have changed it: the databases (but the
/// per-run ones of the checks and of `cargo xtask deploy`, which other runs make and drop all the
/// time) and the rows of every
/// table of the shared `noticeboard` database; in Redis, the keys of database 0 (but the checks'
/// leases) with their values, and how many keys every index holds that nobody leases.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub databases: Vec<String>,
    pub rows: BTreeMap<String, i64>,
    pub redis_keys: BTreeMap<String, String>,
    pub redis_sizes: BTreeMap<u32, i64>,
    /// Indexes leased by someone when the snapshot was taken (left out of the comparison).
    pub leased: Vec<u32>,
}

impl Snapshot {
    pub fn take() -> Result<Snapshot> {
        let admin = kit_harness::services::database_url();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (databases, rows) = runtime.block_on(async {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(&admin).await?;
            let mut databases: Vec<String> =
                sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE NOT datistemplate")
                    .fetch_all(&mut connection)
                    .await?;
            databases.retain(|name| !PER_RUN.iter().any(|prefix| name.starts_with(prefix)));
            databases.sort();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_all(&mut connection)
            .await?;
            let mut rows = BTreeMap::new();
            for table in tables {
                let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {table}"
                )))
                .fetch_one(&mut connection)
                .await?;
                rows.insert(table, count);
            }
            anyhow::Ok((databases, rows))
        })?;
        let mut redis = server_connection()?;
        let keys: Vec<String> = redis.keys("*")?;
        let mut redis_keys = BTreeMap::new();
        let mut leased = Vec::new();
        for key in keys {
            // Counted by every run of Factor IV's exercise on this machine (it hard-codes
            // database 0): other runs change it at any moment. The IV demo gives back exactly
            // what it counted (`World::give_back_redis_count`).
            if key == "visits" {
                continue;
            }
            if let Some(index) = key.strip_prefix("kit:lease:") {
                leased.extend(index.parse::<u32>().ok());
                continue;
            }
            let value: String = redis::cmd("DUMP")
                .arg(&key)
                .query::<Option<Vec<u8>>>(&mut redis)?
                .map(|dump| format!("{:x?}", &dump[..dump.len().min(64)]))
                .unwrap_or_default();
            redis_keys.insert(key, value);
        }
        let count: u32 = redis::cmd("CONFIG")
            .arg("GET")
            .arg("databases")
            .query::<Vec<String>>(&mut redis)?
            .get(1)
            .and_then(|count| count.parse().ok())
            .unwrap_or(16);
        let mut redis_sizes = BTreeMap::new();
        for index in 1..count {
            let _: () = redis::cmd("SELECT").arg(index).query(&mut redis)?;
            let size: i64 = redis::cmd("DBSIZE").query(&mut redis)?;
            redis_sizes.insert(index, size);
        }
        let _: () = redis::cmd("SELECT").arg(0).query(&mut redis)?;
        leased.sort_unstable();
        Ok(Snapshot {
            databases,
            rows,
            redis_keys,
            redis_sizes,
            leased,
        })
    }

    /// What differs between `self` (before) and `after`, in words; empty when nothing does.
    pub fn differences(&self, after: &Snapshot) -> Vec<String> {
        let mut found = Vec::new();
        let ours = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter(|name| !another_run(name))
                .cloned()
                .collect()
        };
        if ours(&self.databases) != ours(&after.databases) {
            found.push(format!(
                "Postgres databases: {:?} before, {:?} after",
                self.databases, after.databases
            ));
        }
        if self.rows != after.rows {
            found.push(format!(
                "rows of the noticeboard database: {:?} before, {:?} after",
                self.rows, after.rows
            ));
        }
        if self.redis_keys != after.redis_keys {
            found.push(format!(
                "Redis database 0 keys: {:?} before, {:?} after",
                self.redis_keys.keys().collect::<Vec<_>>(),
                after.redis_keys.keys().collect::<Vec<_>>()
            ));
        }
        for (index, size) in &self.redis_sizes {
            let leased = self.leased.contains(index) || after.leased.contains(index);
            if !leased && after.redis_sizes.get(index) != Some(size) {
                found.push(format!(
                    "Redis database {index}: {size} keys before, {:?} after",
                    after.redis_sizes.get(index)
                ));
            }
        }
        found
    }
}
