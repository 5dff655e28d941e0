//! Checks for Factor X — Dev/prod parity, run against `exercises/10-dev-prod-parity` and
//! `solutions/10-dev-prod-parity` alike.
//!
//! Every check runs the real binary, a debug build as `cargo run` makes, in one of two
//! configurations: as production (`APP_ENV=production`), or as a developer runs it
//! (`APP_ENV=development` or unset, with the variables a developer's machine often sets and the
//! database host spelt `localhost`). Each run gets a Postgres database of its own; the checks judge
//! the HTTP answers and the rows in that database.

use kit_harness::{App, AppBuilder, Lesson, Reply, TestDatabase, app_binary, lesson};
use serde_json::{Value, json};
use std::thread;
use std::time::{Duration, Instant};

fn parity() -> &'static Lesson {
    lesson(10)
}

/// What a developer's shell, IDE or `cargo run` often sets to say "this is development". Every
/// development run sets all of them, so that a dev-only branch keyed on one of them, instead of on
/// `APP_ENV`, is caught just the same.
const DEVELOPER_VARIABLES: &[(&str, &str)] = &[
    ("RUST_ENV", "development"),
    ("ENVIRONMENT", "development"),
    ("ENV", "dev"),
    ("PROFILE", "dev"),
    ("NODE_ENV", "development"),
    ("DEBUG", "1"),
];

/// The longest message the contract accepts, in characters.
const MESSAGE_LIMIT: usize = 280;

/// `POST /notifications` takes a notification with `201 Created` (stored: this snapshot's answer)
/// or `202 Accepted` (stored, delivered later by a worker: Factor VIII and the finished app). Both
/// mean it is in Postgres; what must match between development and production is the answer.
const CREATED: u16 = 201;
const ACCEPTED: u16 = 202;

/// Whether `POST /notifications` took the notification.
fn taken(reply: &Reply) -> bool {
    [CREATED, ACCEPTED].contains(&reply.status)
}

/// The contract's answer to a notification taken, as failure messages state it.
fn taken_contract() -> String {
    format!("{} (or {})", status_text(CREATED), status_text(ACCEPTED))
}

/// How a development run was configured, for failure messages.
fn development_setup(app_env: Option<&str>) -> String {
    let app_env = match app_env {
        Some(value) => format!("APP_ENV={value}"),
        None => "APP_ENV unset, in a debug build".into(),
    };
    format!(
        "{app_env}; RUST_ENV=development, PROFILE=dev and other developer variables set; \
         DATABASE_URL host `localhost`"
    )
}

/// The app as a developer runs it: `APP_ENV` as given (`None`: unset), the developer variables,
/// and `db` (if any) reached through the name `localhost`.
fn development(app_env: Option<&str>, db: Option<&TestDatabase>) -> AppBuilder {
    let mut app = AppBuilder::new(app_binary!())
        .name(format!("development ({})", development_setup(app_env)))
        .env("RUST_LOG", "info");
    if let Some(value) = app_env {
        app = app.env("APP_ENV", value);
    }
    for (key, value) in DEVELOPER_VARIABLES {
        app = app.env(*key, *value);
    }
    if let Some(db) = db {
        app = app
            .env("DATABASE_URL", localhost_url(db))
            .secret(db.password());
    }
    app
}

/// The app as production runs it, attached to `db` by the address the kit's services use.
fn production(db: &TestDatabase) -> App {
    AppBuilder::new(app_binary!())
        .name("production (APP_ENV=production)")
        .env("APP_ENV", "production")
        .env("DATABASE_URL", db.url())
        .secret(db.password())
        .env("RUST_LOG", "info")
        .spawn()
}

/// `db`'s URL with the host spelt `localhost`, as on a developer's machine (when the kit's
/// Postgres runs on this machine at all).
fn localhost_url(db: &TestDatabase) -> String {
    if ["127.0.0.1", "::1", "localhost"].contains(&db.host()) {
        format!(
            "postgres://{user}:{password}@localhost:{port}/{name}",
            user = db.user(),
            password = db.password(),
            port = db.port(),
            name = db.name()
        )
    } else {
        db.url()
    }
}

#[track_caller]
fn post(app: &App, name: &str, message: &str) -> Reply {
    app.post_json(
        "/notifications",
        &json!({ "name": name, "message": message }),
    )
}

/// `GET /notifications` as `(name, message)` pairs, or `Err` with what the app answered instead.
fn listing(app: &App) -> Result<Vec<(String, String)>, String> {
    let reply = app.get("/notifications");
    let items = reply.json::<Vec<Value>>().and_then(|items| {
        items
            .iter()
            .map(|item| {
                Some((
                    item["name"].as_str()?.to_string(),
                    item["message"].as_str()?.to_string(),
                ))
            })
            .collect::<Option<Vec<_>>>()
    });
    match items {
        Some(items) if reply.status == 200 => Ok(items),
        _ => Err(format!(
            "{} {}",
            status_text(reply.status),
            clip(&reply.body)
        )),
    }
}

/// For each of `texts`, how many rows in any table of `db`'s public schema contain it: the checks
/// do not care what the table is called, only that the notifications are in the database the app
/// was given. One query, because each connection costs a password handshake: `query_to_xml` runs
/// the counts in every table.
fn rows_holding(db: &TestDatabase, texts: &[&str]) -> Vec<usize> {
    let counts: Vec<String> = (0..texts.len())
        .map(|i| {
            format!(
                "count(*) FILTER (WHERE strpos(t::text, %{}$L) > 0) AS n{i}",
                i + 2
            )
        })
        .collect();
    let sums: Vec<String> = (0..texts.len())
        .map(|i| {
            format!("coalesce(sum((xpath('/table/row/n{i}/text()', x))[1]::text::bigint), 0)::text")
        })
        .collect();
    let literals: Vec<String> = texts
        .iter()
        .map(|text| format!("'{}'", text.replace('\'', "''")))
        .collect();
    let sql = format!(
        "SELECT {sums} FROM (\
           SELECT query_to_xml(format('SELECT {counts} FROM public.%1$I AS t', tablename, {literals}), \
             false, false, '') AS x \
           FROM pg_tables WHERE schemaname = 'public'\
         ) AS per_table",
        sums = sums.join(", "),
        counts = counts.join(", "),
        literals = literals.join(", ")
    );
    let rows = db.rows(&sql);
    let row = rows.first().cloned().unwrap_or_default();
    (0..texts.len())
        .map(|i| {
            row.get(i)
                .cloned()
                .flatten()
                .and_then(|count| count.parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

fn status_text(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    format!("{status} {reason}").trim_end().to_string()
}

/// A message as failure output shows it: short ones whole, long ones cut, with their length.
fn shown(message: &str) -> String {
    let length = message.chars().count();
    if length <= 40 {
        format!("{message:?}")
    } else {
        let start: String = message.chars().take(12).collect();
        format!("\"{}…\" ({length} characters)", start.trim_end())
    }
}

fn clip(body: &str) -> String {
    let body = body.trim();
    if body.chars().count() <= 80 {
        format!("{body:?}")
    } else {
        format!("{:?}…", body.chars().take(80).collect::<String>())
    }
}

fn shown_listing(items: &[(String, String)]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(name, message)| format!("{name}: {}", shown(message)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// One character over the limit.
fn too_long() -> String {
    format!(
        "{:.<width$}",
        "This notice runs one character over",
        width = MESSAGE_LIMIT + 1
    )
}

/// Exactly at the limit in characters, and twice that in bytes.
fn at_the_limit() -> String {
    "é".repeat(MESSAGE_LIMIT)
}

/// Production is the reference the other checks compare against: it stores notifications in
/// Postgres, lists them newest first and rejects a message over 280 characters with 422. This
/// passes on the shipped exercise.
#[test]
fn production_follows_the_contract() {
    let db = TestDatabase::new();
    let app = production(&db);
    let (first, second) = ("Standup moved to 10:00", "Deploy freeze starts Friday");

    let mut answered = Vec::new();
    for (name, message) in [("ada", first), ("grace", second)] {
        let reply = post(&app, name, message);
        parity().ensure(taken(&reply), "the-exercise", || {
            format!(
                "in production, POST /notifications {name}: {} answered {} {}; the contract is {}",
                shown(message),
                status_text(reply.status),
                clip(&reply.body),
                taken_contract()
            )
        });
        answered.push(reply.status);
    }
    let expected = vec![
        ("grace".to_string(), second.to_string()),
        ("ada".to_string(), first.to_string()),
    ];
    let listed = listing(&app);
    parity().ensure(listed.as_ref() == Ok(&expected), "the-exercise", || {
        format!(
            "in production, after ada and then grace posted, GET /notifications answered {}; \
             the contract is 200 with the newest first: {}",
            listed
                .as_ref()
                .map_or_else(Clone::clone, |items| shown_listing(items)),
            shown_listing(&expected)
        )
    });

    let long = too_long();
    let reply = post(&app, "linus", &long);
    parity().ensure(reply.status == 422, "the-exercise", || {
        format!(
            "in production, POST /notifications with a message of {} characters answered {}; \
             the contract is 422 for a message over {MESSAGE_LIMIT} characters",
            long.chars().count(),
            status_text(reply.status)
        )
    });

    let rows = rows_holding(&db, &[first])[0];
    parity().ensure(rows > 0, "the-exercise", || {
        format!(
            "in production, POST /notifications answered {}, but the notification is not in the \
             Postgres database DATABASE_URL names (0 rows in its public schema): production must \
             store notifications there",
            status_text(answered[0])
        )
    });
}

/// Whatever says "development" (`APP_ENV=development`, no `APP_ENV` in a debug build, other
/// environment names, the developer variables, a `localhost` database), notifications land in the
/// Postgres database the app was given.
#[test]
fn development_stores_notifications_in_postgres() {
    // One database for all four runs (creating one is the slow part), started one after the other:
    // each may create the schema at start-up, and two doing so at once can collide. Each posts a
    // message of its own.
    let db = TestDatabase::new();
    let configurations = [Some("development"), None, Some("local"), Some("test")];
    let messages: Vec<String> = configurations
        .iter()
        .map(|app_env| {
            format!(
                "Stored where production stores it ({})",
                app_env.unwrap_or("no APP_ENV")
            )
        })
        .collect();
    let replies: Vec<Reply> = configurations
        .iter()
        .zip(&messages)
        .map(|(app_env, message)| {
            let app = development(*app_env, Some(&db)).spawn();
            post(&app, "ada", message)
        })
        .collect();

    for (app_env, reply) in configurations.iter().zip(&replies) {
        parity().ensure(taken(reply), "the-exercise", || {
            format!(
                "in development ({}), POST /notifications answered {} {}; the contract is {}",
                development_setup(*app_env),
                status_text(reply.status),
                clip(&reply.body),
                taken_contract()
            )
        });
    }
    let texts: Vec<&str> = messages.iter().map(String::as_str).collect();
    let rows = rows_holding(&db, &texts);
    let missing: Vec<(Option<&str>, u16)> = configurations
        .iter()
        .zip(&rows)
        .zip(&replies)
        .filter(|((_, rows), _)| **rows == 0)
        .map(|((app_env, _), reply)| (*app_env, reply.status))
        .collect();
    if let Some(((first, answered), others)) = missing.split_first() {
        let others = if others.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = others
                .iter()
                .map(|(app_env, _)| match app_env {
                    Some(value) => format!("APP_ENV={value}"),
                    None => "APP_ENV unset".into(),
                })
                .collect();
            let runs = if names.len() == 1 { "run" } else { "runs" };
            let names = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            format!(" The {runs} with {names} stored nothing either.")
        };
        parity().fail(
            "the-anti-pattern",
            format!(
                "in development ({}), POST /notifications answered {}, but the notification \
                 was not stored in Postgres (0 rows in the database DATABASE_URL names): \
                 development uses a different backing service.{others}",
                development_setup(*first),
                status_text(*answered)
            ),
        );
    }
}

/// A request of the scripted sequence.
enum Request {
    Post { name: &'static str, message: String },
    List,
}

impl Request {
    fn describe(&self) -> String {
        match self {
            Request::Post { name, message } => {
                format!("POST /notifications {name}: {}", shown(message))
            }
            Request::List => "GET /notifications".into(),
        }
    }

    /// What `app` answers, in a form that can be compared between two runs (ids and timestamps
    /// left out).
    fn answer(&self, app: &App) -> String {
        match self {
            Request::Post { name, message } => status_text(post(app, name, message).status),
            Request::List => match listing(app) {
                Ok(items) => format!("200 OK {}", shown_listing(&items)),
                Err(other) => other,
            },
        }
    }
}

/// The same requests, in the same order, to a development and a production run, each with an
/// empty database of its own: every answer must be the same. The sequence is one an in-memory
/// stand-in gets wrong (order of the list, a message over the limit); a message of exactly 280
/// two-byte characters catches a stand-in that counts bytes.
#[test]
fn development_answers_like_production() {
    // Two databases, created side by side (each takes a moment).
    let (dev_db, prod_db) = thread::scope(|scope| {
        let dev_db = scope.spawn(TestDatabase::new);
        let prod_db = TestDatabase::new();
        let dev_db = dev_db
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (dev_db, prod_db)
    });
    let dev = development(Some("development"), Some(&dev_db)).spawn();
    let prod = production(&prod_db);

    let accepted = [
        ("ada", "Standup moved to 10:00"),
        ("grace", "Deploy freeze starts Friday"),
        ("ada", "Standup is back at 9:30"),
    ];
    let mut script: Vec<Request> = accepted
        .iter()
        .map(|&(name, message)| Request::Post {
            name,
            message: message.to_string(),
        })
        .collect();
    script.extend([
        Request::List,
        Request::Post {
            name: "linus",
            message: too_long(),
        },
        Request::Post {
            name: "grace",
            message: at_the_limit(),
        },
        Request::List,
    ]);

    let mut differences = Vec::new();
    for (step, request) in script.iter().enumerate() {
        let (in_dev, in_prod) = (request.answer(&dev), request.answer(&prod));
        if in_dev != in_prod {
            differences.push((step + 1, request.describe(), in_dev, in_prod));
        }
    }
    let messages: Vec<&str> = accepted.iter().map(|&(_, message)| message).collect();
    let rows_in = |db: &TestDatabase| rows_holding(db, &messages).iter().sum::<usize>();
    let prod_rows = rows_in(&prod_db);
    parity().ensure(prod_rows > 0, "the-exercise", || {
        "production (APP_ENV=production) answered the requests but stored nothing in the \
         Postgres database DATABASE_URL names (0 rows): production must keep its notifications \
         there, and development must do the same"
    });
    let rows = rows_in(&dev_db);

    if let Some((step, request, in_dev, in_prod)) = differences.first() {
        let (section, storage) = if rows == 0 {
            (
                "the-anti-pattern",
                "the notifications were not stored in Postgres (0 rows): development uses a \
                 different backing service"
                    .to_string(),
            )
        } else {
            (
                "the-fix",
                format!(
                    "yet development did store them in Postgres ({rows} rows): it answers from \
                     something else in front of the database (a cache, a fake?)"
                ),
            )
        };
        let also: String = differences[1..]
            .iter()
            .map(|(step, request, in_dev, in_prod)| {
                format!("\n  request {step}, {request}: development {in_dev}, production {in_prod}")
            })
            .collect();
        let also = if also.is_empty() {
            also
        } else {
            format!("\nOther requests answered differently:{also}")
        };
        parity().fail(
            section,
            format!(
                "request {step} of {}, {request}: in development the app answered {in_dev} but \
                 production answered {in_prod}; {storage}{also}",
                script.len()
            ),
        );
    }
    parity().ensure(rows > 0, "the-fix", || {
        format!(
            "development answered all {} requests as production did, but stored nothing in \
             Postgres (0 rows): it imitates the database instead of using it, and the next \
             difference (a constraint, an index, a collation) is only a matter of time",
            script.len()
        )
    });
}

/// How long a development run may take to either stop or serve when its database is missing or
/// unusable. A right fix may first wait out a short connect timeout (the reference's is 3 s), and
/// on a loaded machine its start is slower: room to spare, and a wrong fix still fails at once.
const DECISION_TIME: Duration = Duration::from_secs(10);

/// Without `DATABASE_URL`, development must not quietly fall back to another store: it stops at
/// once and names the variable, as production does.
#[test]
fn development_without_database_url_refuses_to_start() {
    let mut app = development(Some("development"), None)
        .name("development (APP_ENV=development, no DATABASE_URL)")
        .start();
    let deadline = Instant::now() + DECISION_TIME;
    loop {
        if let Some(status) = app.poll_exit() {
            parity().ensure(!status.success(), "the-fix", || {
                format!(
                    "with APP_ENV=development and no DATABASE_URL, the app exited with {status}: \
                     a missing backing service is an error; exit with a non-zero status, naming \
                     DATABASE_URL"
                )
            });
            let output = app.output();
            parity().ensure(output.contains("DATABASE_URL"), "the-fix", || {
                format!(
                    "with APP_ENV=development and no DATABASE_URL, the app exited ({status}) \
                     without naming DATABASE_URL; its output:\n{}",
                    app.tail(8)
                )
            });
            if let Some(noise) = app.fatal_error_noise() {
                parity().fail(
                    "the-fix",
                    format!(
                        "with APP_ENV=development and no DATABASE_URL, the app stopped and named \
                         DATABASE_URL, but {noise}. Its output:\n{}",
                        app.tail(8)
                    ),
                );
            }
            return;
        }
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            parity().fail(
                "the-anti-pattern",
                "with APP_ENV=development and no DATABASE_URL, the app started anyway and \
                 answered GET /health: development quietly uses another store (in memory, a \
                 default database?) instead of refusing to start, naming DATABASE_URL",
            );
        }
        parity().ensure(Instant::now() < deadline, "the-fix", || {
            format!(
                "with APP_ENV=development and no DATABASE_URL, the app neither exited nor answered \
                 GET /health within {} s: it should exit at once, naming DATABASE_URL",
                DECISION_TIME.as_secs()
            )
        });
        thread::sleep(Duration::from_millis(10));
    }
}

/// A development run may not swap the database for another store when the one it was given cannot
/// be used: not when Postgres is unreachable, and not when `DATABASE_URL` names another kind of
/// store (`memory:`, SQLite). It stops at once, or it answers errors; it never stores a
/// notification anywhere else, exactly as production would not.
#[test]
fn development_never_stores_notifications_outside_the_postgres_it_was_given() {
    let nothing_listens = kit_harness::app::free_port();
    let cases = [
        (
            format!("postgres://dev:dev@localhost:{nothing_listens}/noticeboard"),
            "names a Postgres that does not answer",
        ),
        ("memory:".to_string(), "names an in-memory store"),
        (
            "sqlite::memory:".to_string(),
            "names an in-memory SQLite database",
        ),
        ("sqlite://noticeboard.db".to_string(), "names a SQLite file"),
    ];
    for (url, what) in &cases {
        let mut app = development(Some("development"), None)
            .name(format!(
                "development (APP_ENV=development, DATABASE_URL={url})"
            ))
            .env("DATABASE_URL", url)
            .start();
        let deadline = Instant::now() + DECISION_TIME;
        let stored = loop {
            if app.poll_exit().is_some() {
                break None; // It refused to start: right.
            }
            if app.try_get("/health").is_ok() {
                let reply = post(&app, "ada", "stored where?");
                break Some(reply);
            }
            parity().ensure(Instant::now() < deadline, "the-fix", || {
                format!(
                    "with DATABASE_URL={url} (it {what}), the development run neither exited nor \
                     answered GET /health within {} s",
                    DECISION_TIME.as_secs()
                )
            });
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(reply) = stored {
            parity().ensure(!reply.is_success(), "the-anti-pattern", || {
                format!(
                    "with APP_ENV=development and DATABASE_URL={url} (it {what}), the app answered \
                     POST /notifications with {}: it stored the notification in another store. \
                     Development must use the Postgres in DATABASE_URL or fail loudly (exit at \
                     start-up, or answer errors), exactly as production does",
                    status_text(reply.status)
                )
            });
        }
        app.kill();
    }
}
