//! A fresh Postgres database per test.
//!
//! Each [`TestDatabase`] is a new database owned by a new login role with a random password, so
//! tests never share rows and a check can prove the app used exactly the credentials it was given.
//! Both are dropped when the test ends.

use crate::services::{self, REACH_TIMEOUT, START_SERVICES};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};
use std::future::Future;
use std::str::FromStr;
use std::sync::OnceLock;

/// The longest any one statement of the harness may take: a stuck server fails the check, it
/// does not hang it.
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs async sqlx work from a synchronous test, within [`STATEMENT_TIMEOUT`].
#[track_caller]
fn block_on<F: Future>(future: F) -> F::Output {
    match runtime().block_on(async { tokio::time::timeout(STATEMENT_TIMEOUT, future).await }) {
        Ok(output) => output,
        Err(_) => panic!(
            "Postgres did not answer the harness within {STATEMENT_TIMEOUT:?}: {START_SERVICES}"
        ),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("cannot start the harness's tokio runtime")
    })
}

fn options(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|err| panic!("DATABASE_URL is not a Postgres URL ({err}): check .env"))
}

#[track_caller]
fn connect(options: &PgConnectOptions) -> PgConnection {
    match block_on(async {
        tokio::time::timeout(REACH_TIMEOUT, PgConnection::connect_with(options)).await
    }) {
        Ok(Ok(connection)) => connection,
        Ok(Err(err)) => panic!(
            "Postgres is not reachable at {}:{} ({err}): {START_SERVICES}",
            options.get_host(),
            options.get_port()
        ),
        Err(_) => panic!(
            "Postgres did not answer at {}:{} within {REACH_TIMEOUT:?}: {START_SERVICES}",
            options.get_host(),
            options.get_port()
        ),
    }
}

/// A database and its owner role, both created for one test and dropped after it.
pub struct TestDatabase {
    /// The database's name, which is also its owner role's: one random `kit_…` identifier, so the
    /// pair is created and dropped together and a leftover from a crashed test is easy to spot.
    name: String,
    /// The owner role's random password: an app that connects with it proves it used the URL it
    /// was given, not credentials of its own. Handed out only inside [`TestDatabase::url`], which
    /// is why the harness fails any app that prints it (see `App`'s drop).
    password: String,
    /// The kit's administrative connection settings (`DATABASE_URL` of the services): creating
    /// and dropping databases and roles needs more than the owner role may do.
    admin: PgConnectOptions,
    /// The owner's connection, opened on first use and kept: a SCRAM login per query is slow.
    owner: std::sync::Mutex<Option<PgConnection>>,
}

impl TestDatabase {
    /// Creates the role (random password) and the database it owns on the kit's Postgres.
    #[track_caller]
    pub fn new() -> Self {
        Self::on(&services::database_url())
    }

    /// Like [`TestDatabase::new`], on the server `admin_url` points to.
    #[track_caller]
    pub fn on(admin_url: &str) -> Self {
        let admin = options(admin_url);
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("kit_{}", &suffix[..16]);
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut connection = connect(&admin);
        // Names and password are generated hex strings, safe to splice into SQL. CREATE DATABASE
        // cannot share a (implicit) transaction with another statement, hence two round trips.
        block_on(async {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE ROLE {name} LOGIN PASSWORD '{password}'"
            )))
            .execute(&mut connection)
            .await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE DATABASE {name} OWNER {name}"
            )))
            .execute(&mut connection)
            .await
        })
        .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
        TestDatabase {
            name,
            password,
            admin,
            owner: std::sync::Mutex::new(None),
        }
    }

    /// The database (and role) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The owner role's name; equal to [`TestDatabase::name`].
    pub fn user(&self) -> &str {
        &self.name
    }

    /// The owner role's random password: mask it in output, look for it in logs.
    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn host(&self) -> &str {
        self.admin.get_host()
    }

    pub fn port(&self) -> u16 {
        self.admin.get_port()
    }

    /// `postgres://<role>:<password>@<host>:<port>/<database>`: what the app should be given.
    pub fn url(&self) -> String {
        self.url_at(self.host(), self.port())
    }

    /// [`TestDatabase::url`] with another host and port, e.g. a [`crate::TcpProxy`]'s.
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        self.url_at(&addr.ip().to_string(), addr.port())
    }

    fn url_at(&self, host: &str, port: u16) -> String {
        format!(
            "postgres://{user}:{password}@{host}:{port}/{name}",
            user = self.name,
            password = self.password,
            name = self.name
        )
    }

    /// Whether the database still exists (seen from the administrative connection).
    pub fn exists(&self) -> bool {
        exists(&self.admin, &self.name)
    }

    /// Runs `work` on the owner's connection, opening it on first use.
    #[track_caller]
    fn as_owner<T>(&self, work: impl FnOnce(&mut PgConnection) -> T) -> T {
        let mut owner = self
            .owner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if owner.is_none() {
            *owner = Some(connect(&options(&self.url())));
        }
        work(owner.as_mut().expect("connected just above"))
    }

    /// The Postgres server's address, e.g. to put a [`crate::TcpProxy`] in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        std::net::ToSocketAddrs::to_socket_addrs(&(self.host(), self.port()))
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("cannot resolve the Postgres host {}", self.host()))
    }

    /// Runs SQL (several statements allowed) in this database as its owner.
    #[track_caller]
    pub fn execute(&self, sql: &str) {
        self.as_owner(|connection| {
            block_on(sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(connection))
        })
        .unwrap_or_else(|err| panic!("test SQL failed: {err}\n    {sql}"));
    }

    /// Every row of `sql`, each column read as text (cast non-text columns with `::text`).
    #[track_caller]
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let rows: Vec<PgRow> = self
            .as_owner(|connection| {
                block_on(sqlx::query(AssertSqlSafe(sql.to_string())).fetch_all(connection))
            })
            .unwrap_or_else(|err| panic!("test query failed: {err}\n    {sql}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| row.try_get::<Option<String>, _>(index).ok().flatten())
                    .collect()
            })
            .collect()
    }

    /// Starts recording which client programs change this database: every DDL command (an event
    /// trigger) and every change to each table in `tables` records the session's
    /// `application_name` (`psql` sets its own name there; libraries such as sqlx do not), read
    /// back with [`TestDatabase::clients_seen`]. Kept in schema `kit_audit`, out of `public`.
    #[track_caller]
    pub fn record_clients(&self, tables: &[&str]) {
        let mut sql = String::from(
            "CREATE SCHEMA IF NOT EXISTS kit_audit;
             CREATE TABLE IF NOT EXISTS kit_audit.clients (application_name text NOT NULL);
             GRANT USAGE ON SCHEMA kit_audit TO PUBLIC;
             GRANT SELECT ON kit_audit.clients TO PUBLIC;
             CREATE OR REPLACE FUNCTION kit_audit.record_ddl() RETURNS event_trigger
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
               BEGIN
                 INSERT INTO kit_audit.clients VALUES (current_setting('application_name'));
               END $$;
             CREATE OR REPLACE FUNCTION kit_audit.record_change() RETURNS trigger
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
               BEGIN
                 INSERT INTO kit_audit.clients VALUES (current_setting('application_name'));
                 RETURN NULL;
               END $$;
             DROP EVENT TRIGGER IF EXISTS kit_audit_ddl;
             CREATE EVENT TRIGGER kit_audit_ddl ON ddl_command_end
               EXECUTE FUNCTION kit_audit.record_ddl();",
        );
        for (number, table) in tables.iter().enumerate() {
            // Quoted: a check may watch every table the app created, whatever it named them.
            let table = table.replace('"', "\"\"");
            sql.push_str(&format!(
                "CREATE TRIGGER kit_audit_{number} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                   ON public.\"{table}\" FOR EACH STATEMENT EXECUTE FUNCTION kit_audit.record_change();"
            ));
        }
        self.as_admin(&sql);
    }

    /// The distinct `application_name`s recorded since [`TestDatabase::record_clients`].
    #[track_caller]
    pub fn clients_seen(&self) -> Vec<String> {
        self.rows("SELECT DISTINCT application_name FROM kit_audit.clients ORDER BY 1")
            .into_iter()
            .filter_map(|mut row| row.remove(0))
            .collect()
    }

    /// Runs SQL in this database as the server's administrator (event triggers need it).
    #[track_caller]
    fn as_admin(&self, sql: &str) {
        let mut connection = connect(&self.admin.clone().database(&self.name));
        block_on(sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut connection))
            .unwrap_or_else(|err| {
                panic!("test SQL (as the administrator) failed: {err}\n    {sql}")
            });
    }

    /// The names of the tables in the `public` schema.
    pub fn tables(&self) -> Vec<String> {
        self.rows("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .into_iter()
            .filter_map(|mut row| row.remove(0))
            .collect()
    }
}

fn exists(admin: &PgConnectOptions, name: &str) -> bool {
    let mut connection = connect(admin);
    block_on(
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(&mut connection),
    )
    .unwrap_or(false)
}

/// Whether a database called `name` exists on the kit's Postgres (for the harness's own tests).
pub fn database_exists(name: &str) -> bool {
    exists(&options(&services::database_url()), name)
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Our own connection goes first; FORCE ends whatever the app left open.
        drop(self.owner.get_mut().map(Option::take));
        let name = self.name.clone();
        let admin = self.admin.clone();
        // Best effort: a test that already failed must not fail again here.
        let _ = block_on(async move {
            let mut connection = PgConnection::connect_with(&admin).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut connection)
            .await?;
            sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
                .execute(&mut connection)
                .await
        });
    }
}
