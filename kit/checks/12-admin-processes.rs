//! Checks for Factor XII — Admin processes, run against `exercises/12-admin-processes` and
//! `solutions/12-admin-processes` alike.
//!
//! Every check gets a fresh Postgres database and runs the real binaries: the web process, and
//! the package's one-off admin processes `<package>-migrate` and `<package>-reset-visits`. It
//! judges only what can be seen from outside: HTTP answers, exit codes, output, and the tables in
//! the database.
//!
//! The checks are about where admin work runs, not where the app keeps its data. The visit count is
//! read over HTTP (`GET /visits`), never from a table: this exercise keeps it in Postgres, the
//! finished noticeboard in Redis (Factors IV and VI), and `cargo xtask verify` judges both with
//! these checks. The schema is whatever `migrate` creates for the app.
//!
//! The admin processes run the way a platform runs them: in an empty temp directory (no source
//! tree), with `DATABASE_URL` and an empty `PATH` (no psql, no shell to paste SQL into).

use kit_harness::noticeboard::{visit, visits};
use kit_harness::{App, AppBuilder, Finished, Lesson, TestDatabase, app_binary, lesson};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

fn admin() -> &'static Lesson {
    lesson(12)
}

/// Visits counted before `reset-visits` runs, which its output must quote (the book prints it).
const VISITS_BEFORE_RESET: u64 = 7;

/// How long a one-off admin process may run.
const TASK_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a web process may take to notice that the schema is there.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The web process, attached to `db`. Started once `/health` (liveness) answers, migrated or not.
fn web(db: &TestDatabase) -> App {
    web_named(db, "web process")
}

/// A web process attached to `db`, called `name` in failure output.
fn web_named(db: &TestDatabase, name: &str) -> App {
    AppBuilder::new(app_binary!())
        .name(name)
        .env("DATABASE_URL", db.url())
        .secret(db.password())
        .spawn()
}

/// An empty directory to use as `PATH`: a task that shells out to `psql` (or `sh`) finds nothing.
struct EmptyDir(PathBuf);

impl EmptyDir {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "kit-empty-path-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()));
        EmptyDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// One run of an admin process, as the checks saw it.
struct Task {
    /// e.g. `ex12-admin-processes-migrate`.
    name: String,
    finished: Finished,
    /// Its stdout and stderr, the database password masked.
    output: String,
}

impl Task {
    fn succeeded(&self) -> bool {
        self.finished.status.success()
    }

    /// The last lines of the output, indented, for a failure message.
    fn shown(&self) -> String {
        let lines: Vec<&str> = self.output.trim_end().lines().collect();
        if lines.is_empty() {
            return "    (no output)".into();
        }
        let skipped = lines.len().saturating_sub(12);
        let mut shown: Vec<String> = lines[skipped..]
            .iter()
            .map(|line| format!("    | {line}"))
            .collect();
        if skipped > 0 {
            shown.insert(0, format!("    | ({skipped} earlier lines not shown)"));
        }
        shown.join("\n")
    }

    /// How it ended: `exit code 1`, or the signal that killed it.
    fn status(&self) -> String {
        match self.finished.status.code() {
            Some(code) => format!("exit code {code}"),
            None => self.finished.status.to_string(),
        }
    }

    /// What went wrong, in words, when it did not exit 0.
    fn failure(&self, when: &str) -> String {
        let lower = self.output.to_lowercase();
        let diagnosis = if lower.contains("by hand") || lower.contains("paste") {
            "\n  An admin task that asks a human to run SQL is a note, not a process: nothing \
             records that it ran, and no deploy can run it and wait for it. Make it do the work \
             itself, with the app's own code and DATABASE_URL."
        } else if lower.contains("psql") {
            "\n  It seems to run psql. An admin process carries its own code: connect with the \
             app's database code, with the migrations embedded in the binary."
        } else if lower.contains("no such file") || lower.contains("not found") {
            "\n  It seems to look for a file or a program that is not there. A one-off process \
             runs where the release is, not in a checkout of the source: embed what it needs in \
             the binary (`sqlx::migrate!()` embeds the migrations at build time)."
        } else if lower.contains("connection refused")
            && !lower.contains("postgres")
            && !lower.contains("database")
        {
            "\n  It seems to call something over the network that is not there (a web process's \
             admin route?). An admin process works on the database directly, through DATABASE_URL; \
             no web process needs to be running."
        } else {
            ""
        };
        format!(
            "{when}, `{name}` ended with {status}. It ran the way a platform runs one-off \
             processes: from an empty temp directory (no source tree), with DATABASE_URL and an \
             empty PATH (no psql, no shell). Its output:\n{output}{diagnosis}",
            name = self.name,
            status = self.status(),
            output = self.shown(),
        )
    }
}

/// Runs one of the package's admin binaries to its end, against `db`.
fn run_task(binary: &str, db: &TestDatabase) -> Task {
    let empty = EmptyDir::new();
    let name = Path::new(binary).file_name().map_or_else(
        || binary.to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let finished = AppBuilder::new(binary)
        .name(name.clone())
        .env("DATABASE_URL", db.url())
        .secret(db.password())
        .env("PATH", empty.path().display().to_string())
        .run_to_end(TASK_TIMEOUT);
    let output = format!("{}{}", finished.stdout, finished.stderr).replace(db.password(), "*****");
    Task {
        name,
        finished,
        output,
    }
}

fn migrate(db: &TestDatabase) -> Task {
    run_task(app_binary!("migrate"), db)
}

fn reset_visits(db: &TestDatabase) -> Task {
    run_task(app_binary!("reset-visits"), db)
}

/// Client programs a task must not hand its work to: they may be missing where the release runs,
/// and they share none of the app's code. They name themselves in `application_name`.
const CLIENT_PROGRAMS: &[&str] = &["psql", "pgcli", "pg_restore"];

/// Fails the check if `task` changed the database through a client program (found through
/// `db.record_clients`, whatever path or shell started the program).
#[track_caller]
fn ensure_done_by_the_task_itself(db: &TestDatabase, task: &Task) {
    let clients = db.clients_seen();
    let foreign: Vec<&String> = clients
        .iter()
        .filter(|name| {
            CLIENT_PROGRAMS
                .iter()
                .any(|program| name.starts_with(program))
        })
        .collect();
    admin().ensure(foreign.is_empty(), "the-anti-pattern", || {
        format!(
            "`{}` exited 0, but the changes to the database came from {foreign:?} (Postgres saw \
             that application_name): the task runs a database client program, which the release \
             may not have and which shares none of the app's code and config. Do the work in the \
             task's own Rust code, with the app's own queries. Its output:\n{}",
            task.name,
            task.shown()
        )
    });
}

/// Runs `migrate` and fails the check, explaining, unless it exits 0.
#[track_caller]
fn migrate_ok(db: &TestDatabase, when: &str) -> Task {
    let task = migrate(db);
    admin().ensure(task.succeeded(), "the-fix", || task.failure(when));
    task
}

/// Every table in the database outside Postgres's own schemas; `public` ones unqualified.
fn tables(db: &TestDatabase) -> Vec<String> {
    db.rows(
        "SELECT CASE WHEN schemaname = 'public' THEN tablename::text \
                ELSE schemaname || '.' || tablename END \
         FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'kit_audit') \
         ORDER BY 1",
    )
    .into_iter()
    .filter_map(|mut row| row.remove(0))
    .collect()
}

/// Whether a table's name says it records applied migrations: sqlx's `_sqlx_migrations`,
/// refinery's `refinery_schema_history`, diesel's `__diesel_schema_migrations`, and so on.
fn records_versions(table: &str) -> bool {
    let table = table.to_lowercase();
    ["migration", "schema_history", "schema_version", "version"]
        .iter()
        .any(|word| table.contains(word))
}

/// Every row of every table, as text: two snapshots are equal only if nothing changed.
fn snapshot(db: &TestDatabase) -> Vec<(String, Vec<String>)> {
    db.rows(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) \
         FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'kit_audit') \
         ORDER BY 1",
    )
    .into_iter()
    .filter_map(|mut row| row.remove(0))
    .map(|table| {
        let rows = db
            .rows(&format!("SELECT t::text FROM {table} AS t ORDER BY 1"))
            .into_iter()
            .filter_map(|mut row| row.remove(0))
            .collect();
        (table, rows)
    })
    .collect()
}

/// Polls `/health/ready` until it answers 200; `None` if it never did within `timeout`.
fn wait_until_ready(app: &App, timeout: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if app.get("/health/ready").status == 200 {
            return Some(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return None;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// A web process on a database with the app's schema, however the app gets there: `migrate` is run
/// (its exit code is judged by the migrate checks, not here), then the web process must be ready.
fn migrated_web(db: &TestDatabase) -> App {
    let app = web(db);
    let task = migrate(db);
    if task.succeeded() {
        expect_ready(&app, &task);
    } else if wait_until_ready(&app, Duration::from_secs(1)).is_none() {
        // `migrate` failed and the web process did not set the schema up either: nothing to test.
        admin().fail(
            "the-fix",
            format!(
                "this check needs a migrated database, and {}",
                task.failure("on a fresh database")
            ),
        );
    }
    app
}

/// Fails the check unless `app` becomes ready after `task` (a successful `migrate`).
#[track_caller]
fn expect_ready(app: &App, task: &Task) {
    if wait_until_ready(app, READY_TIMEOUT).is_none() {
        admin().fail(
            "the-fix",
            format!(
                "`{}` exited 0, but the web process still answered GET /health/ready with {} \
                 after {READY_TIMEOUT:?}: does /health/ready look at the database on every probe?",
                task.name,
                app.get("/health/ready").status
            ),
        );
    }
}

/// The basics of the app, which the exercise already gets right: once the schema is there, the web
/// process counts visits, and keeps the count in a backing service, where a process started later
/// (another replica, or an admin process) finds it.
#[test]
fn the_web_process_counts_visits_in_a_backing_service() {
    let db = TestDatabase::new();
    let app = migrated_web(&db);
    for _ in 0..3 {
        visit(&app);
    }
    let seen = visits(&app);
    let later = web_named(&db, "second web process");
    let seen_later = visits(&later);
    admin().ensure(seen == 3 && seen_later == 3, "the-exercise", || {
        format!(
            "after 3 visits, GET /visits says {seen}, and a second web process started afterwards \
             on the same config says {seen_later}; the contract is 3 from both: the count lives in \
             a backing service, where `reset-visits` can reach it too"
        )
    });
}

/// Schema changes are admin work: the web process must neither make them nor pretend to be ready
/// without them. It serves its requests first (a table created on the first request is still the
/// web process migrating); whether those answer depends on where the app keeps what they touch.
#[test]
fn the_web_process_does_not_migrate() {
    let db = TestDatabase::new();
    let app = web(&db);
    app.get("/");
    app.get("/visits");
    let ready = app.get("/health/ready");
    let created = tables(&db);
    admin().ensure(created.is_empty(), "the-anti-pattern", || {
        format!(
            "on a fresh database, the web process created tables {created:?} by itself: it changes \
             the schema as it starts (or on a request), so every replica races to do it at every \
             boot. Leave schema changes to the one-off `migrate` process"
        )
    });
    admin().ensure(ready.status == 503, "the-fix", || {
        format!(
            "on a fresh database that no migration has touched, GET /health/ready answered {}: \
             readiness must answer 503 until the schema the app needs is there, so that a platform \
             sends it no traffic",
            ready.status
        )
    });
}

/// `migrate` is a real process: it creates the schema from code embedded in the binary and records
/// which migrations it applied.
#[test]
fn migrate_creates_the_schema_and_records_it() {
    let db = TestDatabase::new();
    db.record_clients(&[]);
    let task = migrate_ok(&db, "on a fresh database");
    ensure_done_by_the_task_itself(&db, &task);
    let created = tables(&db);
    admin().ensure(!created.is_empty(), "the-fix", || {
        "`migrate` exited 0 on a fresh database, but the database is still empty: it created no \
         schema (a `migrate` that does nothing, while the web process still creates the tables?)"
    });
    admin().ensure(
        created.iter().any(|table| !records_versions(table)),
        "the-fix",
        || {
            format!(
                "`migrate` exited 0 on a fresh database, but created only {created:?}: a record \
                 of migrations, and none of the app's tables. The migrations it embeds must \
                 create the schema the app needs (`migrations/`)"
            )
        },
    );
    admin().ensure(
        created.iter().any(|table| records_versions(table)),
        "the-fix",
        || {
            format!(
                "`migrate` created {created:?}, but no table records which migrations it applied \
                 (sqlx keeps them in `_sqlx_migrations`): without that record, a run cannot know \
                 what is already done. Embed the migrations with `sqlx::migrate!()`"
            )
        },
    );
}

/// Deploy pipelines run `migrate` on every release: a second run must change nothing and succeed.
#[test]
fn migrate_twice_is_a_no_op() {
    let db = TestDatabase::new();
    let app = web(&db);
    let first = migrate_ok(&db, "on a fresh database");
    expect_ready(&app, &first);
    for _ in 0..3 {
        visit(&app);
    }
    let before = snapshot(&db);

    migrate_ok(
        &db,
        "run a second time on a database it had already migrated",
    );
    let after = snapshot(&db);
    let changed: std::collections::BTreeSet<&str> = before
        .iter()
        .chain(&after)
        .filter(|table| !before.contains(table) || !after.contains(table))
        .map(|(name, _)| name.as_str())
        .collect();
    admin().ensure(changed.is_empty(), "the-fix", || {
        format!(
            "a second run of `migrate` on a migrated database (holding 3 visits) changed \
             {changed:?}: a migration must be applied once and recorded, so that running \
             `migrate` again changes nothing (and keeps the data)"
        )
    });
    let seen = visits(&app);
    admin().ensure(seen == 3, "the-fix", || {
        format!("after 3 visits and a second `migrate`, GET /visits says {seen}, not 3")
    });
}

/// The web process runs before and during a migration; it must notice the new schema by itself.
#[test]
fn the_web_process_becomes_ready_after_migrate() {
    let db = TestDatabase::new();
    let app = web(&db);
    let before = app.get("/health/ready").status;
    admin().ensure(before == 503, "the-fix", || {
        format!(
            "on a fresh database, before `migrate` ran, GET /health/ready answered {before}: the \
             web process must not be ready until the schema is there (did it create the tables \
             itself?)"
        )
    });

    migrate_ok(&db, "on a fresh database, with a web process running");
    let Some(took) = wait_until_ready(&app, READY_TIMEOUT) else {
        admin().fail(
            "the-fix",
            format!(
                "`migrate` exited 0, but the web process started before it still answers GET \
                 /health/ready with {} after {READY_TIMEOUT:?}: look at the database on each probe \
                 rather than once at start-up, so that no restart is needed",
                app.get("/health/ready").status
            ),
        )
    };
    for _ in 0..2 {
        visit(&app);
    }
    let seen = visits(&app);
    admin().ensure(seen == 2, "the-exercise", || {
        format!(
            "the web process became ready {:.1} s after `migrate`, then counted {seen} visits \
             for 2",
            took.as_secs_f64()
        )
    });
}

/// `reset-visits` does the work itself, with the app's own code and config, and says what it did.
/// The count is judged over HTTP: the exercise keeps it in Postgres, the finished noticeboard in
/// Redis; either way no client program may do the task's work in the database.
#[test]
fn reset_visits_sets_the_count_to_zero_and_says_so() {
    let db = TestDatabase::new();
    let app = migrated_web(&db);
    for _ in 0..VISITS_BEFORE_RESET {
        visit(&app);
    }

    // Every table the app has (its own are in `public`), wherever it keeps the count.
    let watched = db.tables();
    db.record_clients(&watched.iter().map(String::as_str).collect::<Vec<_>>());
    let task = reset_visits(&db);
    admin().ensure(task.succeeded(), "the-fix", || {
        task.failure(&format!("with {VISITS_BEFORE_RESET} visits counted"))
    });
    ensure_done_by_the_task_itself(&db, &task);
    let seen = visits(&app);
    admin().ensure(seen == 0, "the-fix", || {
        format!(
            "`{}` exited 0 after {VISITS_BEFORE_RESET} visits, but GET /visits now says {seen}, \
             not 0: the task must reset the count where the web process keeps it. Its output:\n{}",
            task.name,
            task.shown()
        )
    });
    let said_what = task.output.lines().any(|line| {
        line.to_lowercase().contains("visit")
            && line
                .split(|c: char| !c.is_ascii_digit())
                .any(|number| number == VISITS_BEFORE_RESET.to_string())
    });
    admin().ensure(said_what, "the-fix", || {
        format!(
            "`{}` reset the count, but its output does not say what it did: an admin process's log \
             is its audit trail. Log a line with the count before and after, such as \"visit count \
             reset from {VISITS_BEFORE_RESET} to 0\". Its output:\n{}",
            task.name,
            task.shown()
        )
    });

    visit(&app);
    let seen = visits(&app);
    admin().ensure(seen == 1, "the-fix", || {
        format!("after the reset and one more visit, GET /visits says {seen}, not 1")
    });
}

/// Admin work has no business on the web process's public HTTP surface.
#[test]
fn the_http_admin_route_is_gone() {
    let db = TestDatabase::new();
    let app = migrated_web(&db);
    for _ in 0..3 {
        visit(&app);
    }

    let post = app.post_json("/admin/reset", &serde_json::json!({}));
    let get = app.get("/admin/reset");
    let seen = visits(&app);
    admin().ensure(seen == 3, "the-anti-pattern", || {
        format!(
            "after 3 visits, an anonymous POST /admin/reset answered {} and GET /visits now says \
             {seen}: anyone who can reach a web process can wipe the count. Remove the route; \
             resetting is the `reset-visits` process's job",
            post.status
        )
    });
    for (method, reply) in [("POST", &post), ("GET", &get)] {
        admin().ensure(matches!(reply.status, 404 | 405), "the-fix", || {
            format!(
                "{method} /admin/reset answered {} {:?}: the route must be gone (404 or 405). \
                 Guarding it with a password still leaves admin code in every web replica, on the \
                 network; admin work belongs in one-off processes",
                reply.status,
                reply.body.trim()
            )
        });
    }
}
