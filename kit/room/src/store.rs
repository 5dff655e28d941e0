//! The board's state, all of it in Postgres: classes, learners, every verdict and doctor report.
//!
//! Queries are checked at run time (`sqlx::query`), not at build time, so building the board needs
//! no database. Times cross the boundary as Unix milliseconds (`i64`), which keeps sqlx's optional
//! date features out of the kit's dependency set.

use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};
use std::str::FromStr;
use std::time::Duration;

/// Connections the pool keeps open.
const WARM_CONNECTIONS: u32 = 4;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

#[derive(Debug, Clone)]
pub struct Class {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub closed: bool,
}

/// A learner, as their token identifies them.
#[derive(Debug, Clone)]
pub struct Learner {
    pub id: String,
    pub class_id: i64,
    pub class_closed: bool,
}

/// A verdict as posted (validated by `api::verdict` before it gets here).
#[derive(Debug, Clone)]
pub struct NewVerdict {
    pub id: String,
    pub factor: i16,
    pub passed: i16,
    pub total: i16,
    pub failing: Vec<String>,
    pub not_checkable: i16,
    pub compiled: bool,
    pub hints_used: i16,
    pub checks_edited: bool,
    /// Unix seconds, the learner's clock.
    pub at: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredVerdict {
    pub learner_id: String,
    pub factor: i16,
    pub passed: i16,
    pub total: i16,
    pub failing: Vec<String>,
    pub not_checkable: i16,
    pub compiled: bool,
    pub hints_used: i16,
    pub checks_edited: bool,
    pub at_ms: i64,
    pub received_ms: i64,
}

#[derive(Debug, Clone)]
pub struct LearnerName {
    pub id: String,
    pub name: String,
    pub joined_ms: i64,
}

const VERDICT_COLUMNS: &str = "learner_id::text, factor, passed, total, failing, compiled, \
     hints_used, checks_edited, not_checkable, (extract(epoch FROM at) * 1000)::int8, \
     (extract(epoch FROM received_at) * 1000)::int8";

fn verdict(row: &sqlx::postgres::PgRow) -> StoredVerdict {
    StoredVerdict {
        learner_id: row.get(0),
        factor: row.get(1),
        passed: row.get(2),
        total: row.get(3),
        failing: row.get(4),
        compiled: row.get(5),
        hints_used: row.get(6),
        checks_edited: row.get(7),
        not_checkable: row.get(8),
        at_ms: row.get(9),
        received_ms: row.get(10),
    }
}

impl Store {
    /// Connects (creating the database on first use, as `services up` leaves only the kit's own)
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a Postgres URL (postgres://user:password@host:port/db)")?
            .disable_statement_logging();
        create_database_if_missing(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Connections kept open: opening one (a Postgres backend, a SCRAM login) is the slowest
            // thing a post could wait for, so the pool starts warm and stays warm.
            .min_connections(WARM_CONNECTIONS)
            // No ping before every query: it doubles the round trips of the hot path. A connection
            // Postgres dropped fails one request (a 503, and the learner's outbox sends it again).
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .context("cannot connect to the Postgres in DATABASE_URL (is it running? `cargo xtask services up`)")?;
        // Open the warm connections now, before the board says it is ready.
        let mut warm = Vec::new();
        for _ in 0..WARM_CONNECTIONS {
            // Each held, so the next one opens a connection of its own.
            warm.push(pool.acquire().await?);
        }
        drop(warm);
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("cannot create the board's tables")?;
        Ok(Store { pool })
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn open_class(&self, name: &str, code: &str, instructor_token: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO classes (code, name, instructor_token_hash) \
             VALUES ($1, $2, sha256(convert_to($3, 'UTF8')))",
        )
        .bind(code)
        .bind(name)
        .bind(instructor_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn close_class(&self, code: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE classes SET closed_at = now() WHERE code = $1 AND closed_at IS NULL",
        )
        .bind(code)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn rotate_instructor_token(&self, code: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE classes SET instructor_token_hash = sha256(convert_to($2, 'UTF8')) \
             WHERE code = $1",
        )
        .bind(code)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn classes(&self) -> Result<Vec<(Class, i64)>> {
        let rows = sqlx::query(
            "SELECT c.id, c.code, c.name, c.closed_at IS NOT NULL, \
                    (SELECT count(*) FROM learners l WHERE l.class_id = c.id) \
             FROM classes c ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    Class {
                        id: row.get(0),
                        code: row.get(1),
                        name: row.get(2),
                        closed: row.get(3),
                    },
                    row.get(4),
                )
            })
            .collect())
    }

    pub async fn class_by_code(&self, code: &str) -> Result<Option<Class>> {
        self.class_where("code = $1", code).await
    }

    pub async fn class_by_instructor_token(&self, token: &str) -> Result<Option<Class>> {
        self.class_where(
            "instructor_token_hash = sha256(convert_to($1, 'UTF8'))",
            token,
        )
        .await
    }

    /// `condition` is one of this module's constants; the value is always a bound parameter.
    async fn class_where(&self, condition: &str, value: &str) -> Result<Option<Class>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, code, name, closed_at IS NOT NULL FROM classes WHERE {condition}"
        )))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Class {
            id: row.get(0),
            code: row.get(1),
            name: row.get(2),
            closed: row.get(3),
        }))
    }

    /// Adds a learner; `Ok(false)` when the class already has someone of that name.
    pub async fn join(&self, class: &Class, id: &str, name: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO learners (id, class_id, name, token_hash) \
             VALUES ($1::uuid, $2, $3, sha256(convert_to($4, 'UTF8'))) \
             ON CONFLICT (class_id, name) DO NOTHING",
        )
        .bind(id)
        .bind(class.id)
        .bind(name)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn learner_by_token(&self, token: &str) -> Result<Option<Learner>> {
        let row = sqlx::query(
            "SELECT l.id::text, l.class_id, c.closed_at IS NOT NULL \
             FROM learners l JOIN classes c ON c.id = l.class_id \
             WHERE l.token_hash = sha256(convert_to($1, 'UTF8'))",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Learner {
            id: row.get(0),
            class_id: row.get(1),
            class_closed: row.get(2),
        }))
    }

    /// The common case in one round trip: when `token` is the learner `learner_id`'s and their class
    /// is open, stores the verdict (once: a retried id is not stored again) and returns the class
    /// and whether it was new. `None` when the token, the learner or the class does not fit; the
    /// caller then finds out which, to say so (a rare path).
    pub async fn add_verdict_with_token(
        &self,
        token: &str,
        learner_id: &str,
        verdict: &NewVerdict,
    ) -> Result<Option<(i64, bool)>> {
        let row = sqlx::query(
            "WITH me AS ( \
                 SELECT l.id, l.class_id FROM learners l JOIN classes c ON c.id = l.class_id \
                 WHERE l.token_hash = sha256(convert_to($1, 'UTF8')) AND l.id = $2::uuid \
                   AND c.closed_at IS NULL), \
             stored AS ( \
                 INSERT INTO verdicts (id, learner_id, factor, passed, total, failing, compiled, \
                                       hints_used, checks_edited, at, not_checkable) \
                 SELECT $3::uuid, me.id, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11), $12 \
                 FROM me \
                 ON CONFLICT (id) DO NOTHING RETURNING 1) \
             SELECT (SELECT class_id FROM me), (SELECT count(*) FROM stored)",
        )
        .bind(token)
        .bind(learner_id)
        .bind(&verdict.id)
        .bind(verdict.factor)
        .bind(verdict.passed)
        .bind(verdict.total)
        .bind(&verdict.failing)
        .bind(verdict.compiled)
        .bind(verdict.hints_used)
        .bind(verdict.checks_edited)
        .bind(verdict.at as f64)
        .bind(verdict.not_checkable)
        .fetch_one(&self.pool)
        .await?;
        let class_id: Option<i64> = row.get(0);
        let stored: i64 = row.get(1);
        Ok(class_id.map(|class_id| (class_id, stored == 1)))
    }

    pub async fn add_doctor_report(
        &self,
        learner: &Learner,
        id: &str,
        problems: &[String],
        at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO doctor_reports (id, learner_id, problems, at) \
             VALUES ($1::uuid, $2::uuid, $3, to_timestamp($4)) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&learner.id)
        .bind(problems)
        .bind(at as f64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn learners(&self, class_id: i64) -> Result<Vec<LearnerName>> {
        let rows = sqlx::query(
            "SELECT id::text, name, (extract(epoch FROM joined_at) * 1000)::int8 \
             FROM learners WHERE class_id = $1 ORDER BY joined_at, name",
        )
        .bind(class_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| LearnerName {
                id: row.get(0),
                name: row.get(1),
                joined_ms: row.get(2),
            })
            .collect())
    }

    pub async fn learner_name(&self, learner_id: &str) -> Result<LearnerName> {
        let row = sqlx::query(
            "SELECT id::text, name, (extract(epoch FROM joined_at) * 1000)::int8 \
             FROM learners WHERE id = $1::uuid",
        )
        .bind(learner_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(LearnerName {
            id: row.get(0),
            name: row.get(1),
            joined_ms: row.get(2),
        })
    }

    /// Every verdict of the class, oldest first.
    pub async fn class_verdicts(&self, class_id: i64) -> Result<Vec<StoredVerdict>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE learner_id IN \
             (SELECT id FROM learners WHERE class_id = $1) ORDER BY received_at"
        )))
        .bind(class_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(verdict).collect())
    }

    pub async fn learner_verdicts(&self, learner_id: &str) -> Result<Vec<StoredVerdict>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts WHERE learner_id = $1::uuid \
             ORDER BY received_at"
        )))
        .bind(learner_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(verdict).collect())
    }

    /// Each learner's latest doctor report: (learner id, problems).
    pub async fn latest_doctor_reports(&self, class_id: i64) -> Result<Vec<(String, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT ON (d.learner_id) d.learner_id::text, d.problems \
             FROM doctor_reports d JOIN learners l ON l.id = d.learner_id \
             WHERE l.class_id = $1 ORDER BY d.learner_id, d.received_at DESC",
        )
        .bind(class_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// How many rows each table holds (tests: a refused request stores nothing).
    pub async fn counts(&self) -> Result<[i64; 4]> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM classes), (SELECT count(*) FROM learners), \
                    (SELECT count(*) FROM verdicts), (SELECT count(*) FROM doctor_reports)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok([row.get(0), row.get(1), row.get(2), row.get(3)])
    }
}

/// `CREATE DATABASE` when the URL names one that does not exist yet.
async fn create_database_if_missing(options: &PgConnectOptions) -> Result<()> {
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(());
    };
    match options.connect().await {
        Ok(connection) => {
            let _ = connection.close().await;
            Ok(())
        }
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("3D000") => {
            if !name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            {
                bail!("database {name:?} does not exist; create it, or name one that does");
            }
            let mut admin = options
                .clone()
                .database("postgres")
                .connect()
                .await
                .context("cannot connect to Postgres to create the board's database")?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .with_context(|| format!("cannot create database {name}"))?;
            tracing::info!(database = %name, "created the board's database");
            Ok(())
        }
        Err(err) => Err(err).context(
            "cannot connect to the Postgres in DATABASE_URL (is it running? `cargo xtask services up`)",
        ),
    }
}
