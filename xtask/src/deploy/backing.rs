//! The demo's own backing services on the shared Postgres and Redis: a database created for the
//! run and a Redis database index leased the way the checks lease theirs, both removed afterwards,
//! so a demo never touches another user's data (nor another demo's).

use crate::engine::settings::Settings;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;
use url::Url;

/// How long a lease outlives a demo that was killed without cleaning up.
const LEASE_SECONDS: u64 = 900;

/// The database name is the demo's own (`deploy_demo_<pid>`), never user input: the dynamic SQL
/// below is safe.
pub struct Backing {
    /// The demo's database, e.g. `postgres://…/deploy_demo_4242`.
    pub database_url: Url,
    /// The shared Redis server with the demo's index, e.g. `redis://127.0.0.1:6379/11`.
    pub redis_url: Url,
    admin_url: Url,
    database: String,
    redis_index: u32,
    lease: String,
}

impl Backing {
    pub fn create(root: &Path) -> Result<Backing> {
        let settings = Settings::load(root)?;
        let admin_url = settings.database_url()?;
        let database = format!("deploy_demo_{}", std::process::id());
        runtime()?.block_on(async {
            let mut admin = connect(&admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                .execute(&mut admin)
                .await
                .context("cannot create the demo's database")?;
            anyhow::Ok(())
        })?;
        let mut database_url = admin_url.clone();
        database_url.set_path(&format!("/{database}"));

        let server = settings.redis_url()?;
        let (redis_index, lease) = lease_redis_index(&server)?;
        let mut redis_url = server.clone();
        redis_url.set_path(&format!("/{redis_index}"));
        Ok(Backing {
            database_url,
            redis_url,
            admin_url,
            database,
            redis_index,
            lease,
        })
    }

    /// A Redis connection to the demo's index (for reading what the app stored).
    pub fn redis(&self) -> Result<redis::Connection> {
        let connection = redis::Client::open(self.redis_url.as_str())?
            .get_connection_with_timeout(Duration::from_secs(3))?;
        connection.set_read_timeout(Some(Duration::from_secs(3)))?;
        Ok(connection)
    }

    /// Drops the database and empties and releases the Redis index.
    pub fn remove(&self) -> Result<()> {
        let dropped = runtime()?.block_on(async {
            let mut admin = connect(&self.admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            )))
            .execute(&mut admin)
            .await?;
            anyhow::Ok(())
        });
        let mut server = self.redis_url.clone();
        server.set_path("/0");
        let released = (|| -> Result<()> {
            let mut redis = self.redis()?;
            redis::cmd("FLUSHDB").query::<()>(&mut redis)?;
            let mut control = redis::Client::open(server.as_str())?
                .get_connection_with_timeout(Duration::from_secs(3))?;
            let key = format!("kit:lease:{}", self.redis_index);
            let holder: Option<String> = redis::cmd("GET").arg(&key).query(&mut control)?;
            if holder.as_deref() == Some(self.lease.as_str()) {
                redis::cmd("DEL").arg(&key).query::<()>(&mut control)?;
            }
            Ok(())
        })();
        dropped.context("cannot drop the demo's database")?;
        released.context("cannot release the demo's Redis index")
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn connect(url: &Url) -> Result<sqlx::PgConnection> {
    use sqlx::Connection;
    tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::PgConnection::connect(url.as_str()),
    )
    .await
    .context("Postgres did not answer within 5 s: run `cargo xtask services up`")?
    .context("cannot reach Postgres: run `cargo xtask services up`")
}

/// A free database index (1 and up), leased with `SET kit:lease:<n> <id> NX EX` in database 0,
/// the same lease the checks take, and emptied.
fn lease_redis_index(server: &Url) -> Result<(u32, String)> {
    let mut control_url = server.clone();
    control_url.set_path("/0");
    let mut control = redis::Client::open(control_url.as_str())?
        .get_connection_with_timeout(Duration::from_secs(3))
        .context("cannot reach Redis: run `cargo xtask services up`")?;
    control.set_read_timeout(Some(Duration::from_secs(3)))?;
    let databases: u32 = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query::<Vec<String>>(&mut control)
        .ok()
        .and_then(|reply| reply.get(1).and_then(|count| count.parse().ok()))
        .unwrap_or(16);
    let lease = format!("deploy-demo-{}", std::process::id());
    // From the top: the checks lease from 1 up, so the demo rarely waits for them.
    for index in (1..databases).rev() {
        let taken: Option<String> = redis::cmd("SET")
            .arg(format!("kit:lease:{index}"))
            .arg(&lease)
            .arg("NX")
            .arg("EX")
            .arg(LEASE_SECONDS)
            .query(&mut control)?;
        if taken.is_some() {
            let mut url = server.clone();
            url.set_path(&format!("/{index}"));
            let mut redis = redis::Client::open(url.as_str())?
                .get_connection_with_timeout(Duration::from_secs(3))?;
            redis::cmd("FLUSHDB").query::<()>(&mut redis)?;
            return Ok((index, lease));
        }
    }
    bail!("every Redis database index is leased (checks running?); try again in a minute")
}
