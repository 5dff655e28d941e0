//! Checks for Factor III — Config, run against `exercises/03-config` and `solutions/03-config`
//! alike.
//!
//! Every check that gives the app a database gives it a new one: a database owned by a new role
//! with a random password ([`TestDatabase`]), with a few notifications seeded in it. Only an app
//! that takes the whole of `DATABASE_URL`, user and password included, from its environment can
//! serve those rows; a URL or credentials written in the code cannot even log in. The other checks
//! start the app with `DATABASE_URL` missing or malformed and watch it stop.

use kit_harness::app::READY_TIMEOUT;
use kit_harness::noticeboard::strip_ansi;
use kit_harness::{App, AppBuilder, Lesson, TestDatabase, app_binary, lesson};
use serde_json::json;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

fn config() -> &'static Lesson {
    lesson(3)
}

/// How long an app with a missing or malformed `DATABASE_URL` may take to stop.
const FAIL_FAST: Duration = Duration::from_secs(2);

/// `POST /notifications` takes a notification with `201 Created` (stored: this snapshot's answer)
/// or `202 Accepted` (stored, delivered later by a worker: Factor VIII and the finished app).
/// Either way it is in the database by the time the answer comes, which is what this factor checks.
const CREATED: u16 = 201;
const ACCEPTED: u16 = 202;

/// The table the app reads, as the exercise's README states it.
const SCHEMA: &str = "CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    name: String,
    message: String,
}

/// A fresh database (own role, random password) holding a few notifications.
struct Seeded {
    db: TestDatabase,
    /// What was inserted, oldest first.
    notices: Vec<Notice>,
}

impl Seeded {
    /// `label` goes into every message, so rows from two databases never look alike.
    fn new(label: &str) -> Self {
        let db = TestDatabase::new();
        // A piece of the random database name: these rows exist nowhere else.
        let tag = &db.name()[4..12];
        let notices: Vec<Notice> = [
            ("ada", "the 3rd-floor kettle has been descaled"),
            ("grace", "fire drill on Thursday at 10:00"),
            ("linus", "bikes in the courtyard, not the corridor"),
        ]
        .into_iter()
        .map(|(name, message)| Notice {
            name: name.into(),
            message: format!("{message} ({label} {tag})"),
        })
        .collect();
        // One round trip: every connection as the new role pays for a password handshake.
        let inserts: String = notices
            .iter()
            .map(|notice| {
                format!(
                    "INSERT INTO notifications (name, message) VALUES ('{}', '{}');\n",
                    notice.name, notice.message
                )
            })
            .collect();
        db.execute(&format!("{SCHEMA};\n{inserts}"));
        Seeded { db, notices }
    }

    /// What `GET /notifications` must answer: the seeded rows, newest first.
    fn newest_first(&self) -> Vec<Notice> {
        self.notices.iter().rev().cloned().collect()
    }
}

/// The app, with nothing in its environment but `PORT` (and a minimal `PATH`).
fn noticeboard(name: &str) -> AppBuilder {
    AppBuilder::new(app_binary!()).name(name)
}

/// Starts the app and waits until `GET /health` answers. An app that stops first fails the check
/// with `stopped(status, app)`, the explanation that fits how it was configured.
#[track_caller]
fn start(builder: AppBuilder, stopped: impl FnOnce(ExitStatus, &App) -> String) -> App {
    let mut app = builder.start();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if matches!(app.try_get("/health"), Ok(reply) if reply.is_success()) {
            return app;
        }
        if let Some(status) = app.poll_exit() {
            config().fail("the-fix", stopped(status, &app));
        }
        if Instant::now() >= deadline {
            panic!(
                "{} did not answer GET /health within {READY_TIMEOUT:?}; the contract is 200 once \
                 it serves requests. Its last output:\n{}",
                app.name(),
                app.tail(8)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Starts the app with `DATABASE_URL` set, in the real environment, to `seeded`'s database.
#[track_caller]
fn start_with(name: &str, seeded: &Seeded) -> App {
    start(
        noticeboard(name).secret_env("DATABASE_URL", seeded.db.url()),
        |status, app| {
            format!(
                "with DATABASE_URL set to a valid URL of a database that is up, {} stopped at \
                 start-up ({status}). Its last output:\n{}",
                app.name(),
                app.tail(6)
            )
        },
    )
}

/// The body of a reply, short enough for a failure message.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(160) {
        Some((at, _)) => format!("{:?}…", &body[..at]),
        None => format!("{body:?}"),
    }
}

/// Why an app that was given a working database cannot use it: `what` it answered, and the last
/// complaint in its log, which usually says whose password Postgres refused.
fn not_connected(app: &App, given: &str, what: &str) -> String {
    let log = last_complaint(app).map_or(String::new(), |line| format!(" (its log: {line})"));
    format!(
        "{what}{log}. The app was given its database in {given}, and that database is up and \
         holds notifications: the app does not use it. Each check creates its own database and \
         role with a random password, so a URL, user or password written in the code cannot log \
         in; take the whole URL, credentials included, from DATABASE_URL."
    )
}

/// The app's last output line that mentions an error or a failure, without terminal colours,
/// secrets masked, at most 160 characters from its message.
fn last_complaint(app: &App) -> Option<String> {
    let line = app
        .lines()
        .into_iter()
        .map(|line| strip_ansi(&line.text))
        .rfind(|text| {
            let lower = text.to_lowercase();
            lower.contains("error") || lower.contains("fail")
        })?;
    // Skip the timestamp and level that log formats put first.
    let message = ["ERROR", "WARN", "error", "warn"]
        .iter()
        .find_map(|level| line.split_once(level).map(|(_, rest)| rest))
        .unwrap_or(&line)
        .trim_start_matches([' ', ':', ']', '"']);
    // And the module path tracing puts before the message (`noticeboard::routes: `).
    let message = match message.split_once(": ") {
        Some((target, rest))
            if target
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') =>
        {
            rest
        }
        _ => message,
    };
    let message = app.mask(message);
    Some(match message.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message,
    })
}

/// `GET /notifications`, read as the contract says: a JSON list of `{id, name, message}`.
#[track_caller]
fn served(app: &App, given: &str) -> Vec<Notice> {
    let reply = app.get("/notifications");
    if reply.status != 200 {
        config().fail(
            "the-anti-pattern",
            not_connected(
                app,
                given,
                &format!(
                    "GET /notifications answered {} {}",
                    reply.status,
                    excerpt(&reply.body)
                ),
            ),
        );
    }
    let list = reply.json::<Vec<serde_json::Value>>().and_then(|items| {
        items
            .iter()
            .map(|item| {
                Some(Notice {
                    name: item["name"].as_str()?.to_owned(),
                    message: item["message"].as_str()?.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()
    });
    list.unwrap_or_else(|| {
        config().fail(
            "the-exercise",
            format!(
                "GET /notifications answered 200 with {}; the contract is a JSON list of \
                 {{\"id\", \"name\", \"message\"}} objects, newest first",
                excerpt(&reply.body)
            ),
        )
    })
}

/// Fails unless `app` serves exactly `seeded`'s notifications, newest first. `decoys` are other
/// databases the app must *not* be reading, each with what it means if it does: "<app> served
/// the notifications of …".
#[track_caller]
fn ensure_serves(app: &App, seeded: &Seeded, given: &str, decoys: &[(&Seeded, &str)]) {
    let got = served(app, given);
    let expected = seeded.newest_first();
    for (decoy, meaning) in decoys {
        if got.iter().any(|notice| decoy.notices.contains(notice)) {
            config().fail(
                "the-fix",
                format!("{} served the notifications of {meaning}", app.name()),
            );
        }
    }
    if !got.iter().any(|notice| expected.contains(notice)) {
        config().fail(
            "the-anti-pattern",
            format!(
                "GET /notifications served {} notification(s), none of the {} seeded in the \
                 database given in {given}: the app reads another database (one written in its \
                 code?)",
                got.len(),
                expected.len()
            ),
        );
    }
    if got != expected {
        let mut sorted = got.clone();
        sorted.sort_by(|a, b| a.message.cmp(&b.message));
        let mut wanted = expected.clone();
        wanted.sort_by(|a, b| a.message.cmp(&b.message));
        let problem = if sorted == wanted {
            "in another order; the contract is newest first".to_string()
        } else {
            format!("{got:?}, but the database holds {expected:?}")
        };
        config().fail(
            "the-exercise",
            format!("GET /notifications served the database's notifications {problem}"),
        );
    }
}

/// Watches an app that was started with `DATABASE_URL` `how` (e.g. "unset") and fails unless it
/// stops at once, with a non-zero status and a message naming the variable (and not `password`).
#[track_caller]
fn ensure_stops(mut app: App, how: &str, password: Option<&str>) {
    let Some(status) = app.wait_exit(FAIL_FAST) else {
        let answering = app.try_get("/health").is_ok_and(|reply| reply.is_success());
        config().fail(
            "the-anti-pattern",
            format!(
                "with DATABASE_URL {how}, the app was still running {FAIL_FAST:?} after it \
                 started{}: it falls back to a database URL written in its code. A required \
                 setting that is missing or wrong must stop the app at once (no `unwrap_or` \
                 with the old URL), with a message naming it",
                if answering {
                    ", and answering GET /health"
                } else {
                    ""
                }
            ),
        );
    };
    let output = app.output();
    config().ensure(!status.success(), "the-fix", || {
        format!(
            "with DATABASE_URL {how}, the app stopped with exit status 0: stopping for a missing \
             setting is a failure, and the exit status must say so (non-zero), or the platform \
             counts it as a clean exit"
        )
    });
    if let Some(password) = password {
        config().ensure(!output.contains(password), "the-fix", || {
            format!(
                "with DATABASE_URL {how}, the app stopped, and its output shows the password that \
                 was in the URL. Error messages are logs too: name the variable and what is wrong \
                 with it, never its value. Its output (password masked):\n{}",
                app.tail(6)
            )
        });
    }
    config().ensure(output.contains("DATABASE_URL"), "the-fix", || {
        format!(
            "with DATABASE_URL {how}, the app stopped ({status}), but its output does not name \
             DATABASE_URL: whoever deploys it would have to read the code to learn what is wrong. \
             Its output:\n{}",
            app.tail(6)
        )
    });
    if let Some(noise) = app.fatal_error_noise() {
        config().fail(
            "the-fix",
            format!(
                "with DATABASE_URL {how}, the app stopped and named DATABASE_URL, but {noise}. \
                 Its output:\n{}",
                app.tail(6)
            ),
        );
    }
}

/// The same binary, deployed twice with two databases: each deploy serves the rows of its own.
#[test]
fn each_deploy_serves_the_database_in_its_database_url() {
    let staging = Seeded::new("staging");
    let production = Seeded::new("production");
    let a = start_with("the staging deploy", &staging);
    let b = start_with("the production deploy", &production);

    ensure_serves(&a, &staging, "DATABASE_URL", &[]);
    ensure_serves(
        &b,
        &production,
        "DATABASE_URL",
        &[(
            &staging,
            "the staging deploy's database, not its own: the deploys share a database URL \
             instead of each taking its own from DATABASE_URL",
        )],
    );
}

/// `POST /notifications` writes to the database the app was given, and the new notice comes first.
#[test]
fn new_notifications_are_stored_in_the_database_in_database_url() {
    let seeded = Seeded::new("post");
    let app = start_with("the app", &seeded);

    let notice = json!({ "name": "margaret", "message": "the lift is fixed" });
    let reply = app.post_json("/notifications", &notice);
    if ![CREATED, ACCEPTED].contains(&reply.status) {
        let what = format!(
            "POST /notifications answered {} {}",
            reply.status,
            excerpt(&reply.body)
        );
        if reply.status == 503 || reply.status == 500 {
            config().fail(
                "the-anti-pattern",
                not_connected(&app, "DATABASE_URL", &what),
            );
        }
        config().fail(
            "the-exercise",
            format!("{what}; the contract is {CREATED} (or {ACCEPTED}) for {notice}"),
        );
    }
    let stored = seeded
        .db
        .rows("SELECT name FROM notifications WHERE message = 'the lift is fixed'");
    config().ensure(!stored.is_empty(), "the-anti-pattern", || {
        format!(
            "POST /notifications answered {}, but the notification is not in the database \
             DATABASE_URL names: the app writes to another database (one written in its code?)",
            reply.status
        )
    });
    let first = served(&app, "DATABASE_URL").into_iter().next();
    config().ensure(
        first
            .as_ref()
            .is_some_and(|n| n.message == "the lift is fixed"),
        "the-exercise",
        || {
            format!(
                "after POST /notifications, GET /notifications lists {first:?} first; the \
                 contract is newest first"
            )
        },
    );
}

/// No `DATABASE_URL`, no app: it must stop within 2 s, non-zero, naming the variable.
#[test]
fn stops_at_once_naming_database_url_when_it_is_unset() {
    let app = noticeboard("the app without DATABASE_URL").start();
    ensure_stops(app, "unset", None);
}

/// A `DATABASE_URL` that is not a URL must stop the app as surely as a missing one, without
/// printing the password it holds.
#[test]
fn stops_at_once_naming_database_url_when_it_is_malformed() {
    let password = random_hex();
    let cases = [
        (
            // A template whose port was never filled in; the password in it looks real enough.
            format!("postgres://noticeboard:{password}@db.internal:PORT/noticeboard"),
            "set to a URL whose port is still the placeholder `PORT`",
        ),
        (
            "127.0.0.1:5432/noticeboard".to_string(),
            "set to a host, port and database without `postgres://`",
        ),
    ];
    for (url, how) in cases {
        let app = noticeboard("the app with a malformed DATABASE_URL")
            .secret_env("DATABASE_URL", url)
            .secret(&password)
            .start();
        ensure_stops(app, how, Some(&password));
    }
}

/// 16 random hex digits, from the standard library's randomly seeded hasher.
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    format!("{:016x}", hasher.finish())
}

/// `.env` is a development convenience: when the real environment sets a variable, it wins.
#[test]
fn the_real_environment_wins_over_a_dotenv_file() {
    let real = Seeded::new("environment");
    let dotenv = Seeded::new("dotenv");
    let app = start(
        noticeboard("the app (DATABASE_URL in its environment and in .env)")
            .secret_env("DATABASE_URL", real.db.url())
            .file(".env", format!("DATABASE_URL={}\n", dotenv.db.url()))
            .secret(dotenv.db.password()),
        |status, app| {
            format!(
                "with DATABASE_URL set in its environment and in a .env file, {} stopped at \
                 start-up ({status}). Its last output:\n{}",
                app.name(),
                app.tail(6)
            )
        },
    );
    ensure_serves(
        &app,
        &real,
        "DATABASE_URL, set in its environment",
        &[(
            &dotenv,
            "the database named in its .env file, not the one DATABASE_URL names in its \
             environment: .env overrode the real environment. A .env file only fills in what \
             the environment lacks; what the platform sets must win",
        )],
    );
}

/// Where the environment lacks a variable, a `.env` file in the working directory provides it.
#[test]
fn a_dotenv_file_fills_in_what_the_environment_lacks() {
    let seeded = Seeded::new("dotenv");
    let dotenv = format!(
        "# Development settings; never committed.\nDATABASE_URL={}\n",
        seeded.db.url()
    );
    let app = start(
        noticeboard("the app (DATABASE_URL only in .env)")
            .file(".env", dotenv)
            .secret(seeded.db.password()),
        |status, app| {
            format!(
                "with DATABASE_URL set only in a .env file in its working directory, {} stopped \
                 at start-up ({status}): it does not read .env. Load it at start-up for the \
                 variables the environment does not set (the dotenvy crate). Its last output:\n{}",
                app.name(),
                app.tail(6)
            )
        },
    );
    ensure_serves(
        &app,
        &seeded,
        "DATABASE_URL, set only in a .env file in its working directory (does the app load \
         .env?)",
        &[],
    );
}

/// The app says which database it uses (an operator's first question), but never its password.
#[test]
fn logs_its_config_at_start_up_without_the_password() {
    let seeded = Seeded::new("logs");
    let app = start_with("the app", &seeded);
    ensure_serves(&app, &seeded, "DATABASE_URL", &[]);
    app.post_json(
        "/notifications",
        &json!({ "name": "ada", "message": "logs are read by many people" }),
    );

    let password = seeded.db.password();
    let database = seeded.db.name();
    let leak = app
        .lines()
        .into_iter()
        .map(|line| strip_ansi(&line.text))
        .find(|text| text.contains(password));
    if let Some(text) = leak {
        config().fail(
            "the-fix",
            format!(
                "the app's output shows the database password, in this line (the password \
                 replaced here by «password»):\n    {}\nLogs are read by many people and kept for \
                 a long time: log DATABASE_URL with the password hidden, e.g. \
                 postgres://user:*****@host:5432/database",
                text.replace(password, "«password»")
            ),
        );
    }
    let logged = app.wait_for_line(FAIL_FAST, |line| line.contains(database));
    config().ensure(logged.is_some(), "the-fix", || {
        format!(
            "the app's output never names the database it uses ({database}): log the config at \
             start-up, DATABASE_URL with its password hidden, so whoever runs a deploy can see \
             what it is connected to. Its output:\n{}",
            app.tail(6)
        )
    });
}
