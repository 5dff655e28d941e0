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
        self.database.get_or_insert_with(TestDatabase::new)
    }

    /// The demo's own Redis database index, leased on first use.
    pub fn redis(&mut self) -> &TestRedis {
        self.redis.get_or_insert_with(TestRedis::new)
    }

    /// `f` runs when the demo ends, however it ends (a panic included).
    pub fn on_exit(&mut self, f: impl FnOnce() + 'static) {
        self.restores.push(Box::new(f));
    }

    /// Saves `key` of Redis database 0 (value and time to live) and puts it back when the demo
    /// ends; removes it for the demo, so the demo starts from nothing whatever was there.
    pub fn borrow_redis_key(&mut self, key: &str) -> Result<()> {
        let mut redis = server_connection()?;
        let dump: Option<Vec<u8>> = redis::cmd("DUMP").arg(key).query(&mut redis)?;
        let ttl: i64 = redis.pttl(key)?;
        let _: () = redis.del(key)?;
        let key = key.to_string();
        self.on_exit(move || {
            let Ok(mut redis) = server_connection() else {
                return;
            };
            let _: redis::RedisResult<()> = redis.del(&key);
            if let Some(dump) = dump {
                let _: redis::RedisResult<()> = redis::cmd("RESTORE")
                    .arg(&key)
                    .arg(ttl.max(0))
                    .arg(dump)
                    .query(&mut redis);
            }
        });
        Ok(())
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
            // Per-run databases of the checks (`kit_…`, the harness) and of `cargo xtask deploy`
            // (`deploy_…`): other runs on the same services make and drop them at any moment,
            // and the demos make theirs with the harness, so a `kit_` one left behind would show
            // in Postgres as a database nobody drops (and in the harness's own tests).
            databases.retain(|name| !name.starts_with("kit_") && !name.starts_with("deploy_"));
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
        if self.databases != after.databases {
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
