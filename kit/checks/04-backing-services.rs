//! Checks for Factor IV — Backing services, run against `exercises/04-backing-services` and
//! `solutions/04-backing-services` alike.
//!
//! Every check runs the real binary and gives it a `REDIS_URL`, then looks in Redis itself: the
//! count must land in the database that URL names, with the credentials it carries. For outages a
//! loopback proxy sits between the app and Redis; the checks cut it and restore it, and watch the
//! process answer `503`, stay up and recover on its own.

use kit_harness::noticeboard::visits;
use kit_harness::{App, AppBuilder, Lesson, TcpProxy, TestRedis, app_binary, lesson};
use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

/// How long one request may take while Redis is away: failing fast means well under a client's
/// patience, and far from the 10 s after which the harness gives up on an answer.
const FAIL_FAST: Duration = Duration::from_secs(2);

/// How long after Redis is back the app may take to serve requests again.
const RECOVERY: Duration = Duration::from_secs(10);

/// How long the app may take to log that Redis is unavailable, after a request that found it so.
const LOG_WAIT: Duration = Duration::from_secs(2);

fn backing_services() -> &'static Lesson {
    lesson(4)
}

/// The app, attached to the Redis that `redis_url` names.
fn attach(name: &str, redis_url: &str) -> App {
    AppBuilder::new(app_binary!())
        .name(name)
        .env("REDIS_URL", redis_url)
        .env("RUST_LOG", "info")
        .spawn()
}

/// The visit count stored in `redis`'s database (the `visits` key), as the app left it.
fn stored_visits(redis: &TestRedis) -> Option<String> {
    redis::Commands::get(&mut redis.connection(), "visits").unwrap_or(None)
}

fn describe_stored(stored: &Option<String>) -> String {
    match stored {
        None => "no `visits` key".into(),
        Some(count) => format!("`visits` = {count}"),
    }
}

/// One homepage visit, which must succeed: Redis is up and the URL the app was given works.
#[track_caller]
fn visit(app: &App, redis_url: &str) {
    let reply = app.get("/");
    if reply.status != 200 {
        backing_services().fail(
            "the-anti-pattern",
            format!(
                "GET / on {} answered {} {:?}, although the Redis in its REDIS_URL ({redis_url}) is \
                 up and answering: the app looks for Redis somewhere else (a location written in \
                 the code?)",
                app.name(),
                reply.status,
                reply.body.trim()
            ),
        );
    }
}

/// A URL for `redis`'s database that goes through `proxy` instead of straight to the server.
fn url_through(proxy: &TcpProxy, redis: &TestRedis) -> String {
    format!("redis://127.0.0.1:{}/{}", proxy.port(), redis.index())
}

/// Starts the app behind `proxy` and proves it really uses the URL it was given: two visits
/// must land in `redis`'s database. Without this, an outage of the proxy would prove nothing.
fn attach_through(proxy: &TcpProxy, redis: &TestRedis) -> (App, String) {
    let url = url_through(proxy, redis);
    let app = attach("the app", &url);
    visit(&app, &url);
    visit(&app, &url);
    backing_services().ensure(proxy.connections() > 0, "the-anti-pattern", || {
        format!(
            "the app was given REDIS_URL={url} and counted 2 visits, but it never connected to \
             port {port}: the port in REDIS_URL was ignored (a port written into the code?), so \
             cutting that Redis off could not touch it. Find Redis through REDIS_URL, all of it \
             (host, port, password and database index)",
            port = proxy.port(),
        )
    });
    let stored = stored_visits(redis);
    backing_services().ensure(stored.as_deref() == Some("2"), "the-anti-pattern", || {
        format!(
            "the app was given REDIS_URL={url} (database {index} of the kit's Redis, reached \
             through a proxy on port {port}) and counted 2 visits, but that database holds {}: \
             the app does not use the URL it is given, so cutting that Redis off could not touch \
             it. Find Redis through REDIS_URL, all of it (port and database index included)",
            describe_stored(&stored),
            index = redis.index(),
            port = proxy.port(),
        )
    });
    (app, url)
}

/// Fails the check if the app has exited, naming what happened to it.
#[track_caller]
fn ensure_still_running(app: &mut App, when: &str) {
    if let Some(status) = app.poll_exit() {
        backing_services().fail(
            "the-fix",
            format!(
                "the app exited ({status}) {when}: losing a backing service must cost some \
                 requests, not the process (a panic, `.unwrap()` or `process::exit` on a Redis \
                 error?). Restarting is not reconnecting: every request in flight on every replica \
                 fails, and a platform that sees it crash-loop backs off for minutes"
            ),
        );
    }
}

/// Two apps, two Redis databases: each app's count lands in the database its own URL names, and
/// only there. The two URLs differ only in the database index, the part a URL rebuilt from a
/// host and a port drops.
#[test]
fn visits_land_in_the_redis_database_that_redis_url_names() {
    let first = TestRedis::new();
    let second = TestRedis::new();
    let (url_a, url_b) = (first.url(), second.url());
    let a = attach("app A", &url_a);
    let b = attach("app B", &url_b);
    for _ in 0..3 {
        visit(&a, &url_a);
    }
    for _ in 0..2 {
        visit(&b, &url_b);
    }

    for (name, url, redis, made) in [("A", &url_a, &first, "3"), ("B", &url_b, &second, "2")] {
        let stored = stored_visits(redis);
        backing_services().ensure(stored.as_deref() == Some(made), "the-anti-pattern", || {
            format!(
                "app {name} was given REDIS_URL={url} and counted {made} visits, but database \
                 {index} there holds {}: the visits went to a Redis the code chose, not to the one \
                 the URL names. The `/{index}` at the end of the URL is the database index: an app \
                 that rebuilds its URL from a host and a port drops it (and the password with it) \
                 and lands in database 0",
                describe_stored(&stored),
                index = redis.index(),
            )
        });
    }
    for (app, made) in [(&a, 3), (&b, 2)] {
        let reported = visits(app);
        backing_services().ensure(reported == made, "the-fix", || {
            format!(
                "{} counted {made} visits into its own Redis database, and GET /visits answers \
                 {reported}: it must read the count from the database it writes to, the one its \
                 REDIS_URL names",
                app.name()
            )
        });
    }
}

/// Without `REDIS_URL` the app has no Redis to attach to. It must stop at once and say so; an app
/// that starts anyway found a Redis by itself: a location in the code, or a default URL.
#[test]
fn without_redis_url_the_app_stops_and_names_it() {
    let mut app = AppBuilder::new(app_binary!())
        .name("the app (started without REDIS_URL)")
        .env("RUST_LOG", "info")
        .start();
    let deadline = Instant::now() + kit_harness::app::READY_TIMEOUT;
    let status = loop {
        if let Some(status) = app.poll_exit() {
            break status;
        }
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            let home = match app.try_get("/") {
                Ok(reply) => format!("GET / answered {}", reply.status),
                Err(err) => format!("GET / got no answer: {err}"),
            };
            backing_services().fail(
                "the-anti-pattern",
                format!(
                    "the app started without REDIS_URL and serves requests ({home}): it found a \
                     Redis by itself, at a location written in the code or a default URL. With no \
                     REDIS_URL there is no Redis attached; the app must stop at start-up and name \
                     the missing variable"
                ),
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "the app neither exited nor answered GET /health within {:?}",
                kit_harness::app::READY_TIMEOUT
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    backing_services().ensure(!status.success(), "the-fix", || {
        "the app exited successfully without REDIS_URL: a process that cannot start must exit \
         with a failure status, so that whoever started it knows"
    });
    let output = app.output();
    backing_services().ensure(output.contains("REDIS_URL"), "the-fix", || {
        format!(
            "the app stopped without REDIS_URL ({status}), but its output does not name REDIS_URL, \
             the setting to fix:\n{}",
            app.tail(6)
        )
    });
    if let Some(noise) = app.fatal_error_noise() {
        backing_services().fail(
            "the-fix",
            format!(
                "the app stopped without REDIS_URL and named it, but {noise}. Its output:\n{}",
                app.tail(6)
            ),
        );
    }
}

/// The user and password in the URL are part of the location. Given a user Redis does not know,
/// the app must present it (Redis logs the refused login in `ACL LOG`) and get nowhere; an app
/// that drops the credentials gets in as Redis's default user and counts.
#[test]
fn the_credentials_in_redis_url_are_used() {
    let redis = TestRedis::new();
    let user = format!("kit4_{:016x}", random());
    let password = format!("{:016x}{:016x}", random(), random());
    let server = redis.server_addr();
    let url = format!("redis://{user}:{password}@{server}/{}", redis.index());
    let mut app = AppBuilder::new(app_binary!())
        .name("the app (given a user Redis does not know)")
        .env("REDIS_URL", &url)
        .env("RUST_LOG", "info")
        .secret(&password)
        .start();

    // A right app may refuse to start (it tried to log in at start-up), or start and answer 503.
    let deadline = Instant::now() + kit_harness::app::READY_TIMEOUT;
    let home = loop {
        if app.poll_exit().is_some() {
            break None;
        }
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            break Some(app.try_get("/"));
        }
        if Instant::now() >= deadline {
            panic!(
                "the app neither exited nor answered GET /health within {:?}",
                kit_harness::app::READY_TIMEOUT
            );
        }
        thread::sleep(Duration::from_millis(10));
    };

    let counted = home
        .as_ref()
        .is_some_and(|reply| reply.as_ref().is_ok_and(|reply| reply.status == 200));
    let stored = stored_visits(&redis);
    let masked_url = url.replace(&password, "*****");
    backing_services().ensure(!counted && stored.is_none(), "the-fix", || {
        let landed = match &stored {
            Some(_) => format!("the visit landed in database {}", redis.index()),
            None => "the visit landed somewhere else".into(),
        };
        format!(
            "the app was given REDIS_URL={masked_url}, with a user Redis does not know, and GET / \
             still counted a visit ({landed}): the app got into a Redis without presenting those \
             credentials, as Redis's default user. It ignores the user and password in the URL \
             (or the whole URL); a Redis that requires a password, as every managed one does, \
             would refuse it"
        )
    });

    let deadline = Instant::now() + LOG_WAIT;
    while !refused_logins(&redis).contains(&user) {
        backing_services().ensure(Instant::now() < deadline, "the-fix", || {
            format!(
                "the app was given REDIS_URL={masked_url} and Redis never saw a login as {user} \
                 ({}): the app does not present the credentials in the URL",
                match &home {
                    None => "the app exited without trying".to_string(),
                    Some(Ok(reply)) => format!("GET / answered {}", reply.status),
                    Some(Err(err)) => format!("GET / got no answer: {err}"),
                }
            )
        });
        thread::sleep(Duration::from_millis(50));
    }
}

/// A random number, for names and passwords no other test (or run) uses.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The users whose logins Redis refused recently (`ACL LOG`).
fn refused_logins(redis: &TestRedis) -> Vec<String> {
    let entries: Vec<HashMap<String, redis::Value>> = redis::cmd("ACL")
        .arg("LOG")
        .arg(128)
        .query(&mut redis.connection())
        .unwrap_or_default();
    entries
        .iter()
        .filter(|entry| matches!(entry.get("reason"), Some(redis::Value::BulkString(reason)) if reason == b"auth"))
        .filter_map(|entry| match entry.get("username") {
            Some(redis::Value::BulkString(name)) => Some(String::from_utf8_lossy(name).into_owned()),
            _ => None,
        })
        .collect()
}

/// Redis goes away (the proxy in front of it is cut): requests answer 503 quickly, the process
/// stays up, and it says in its log what is wrong.
#[test]
fn a_redis_outage_answers_503_quickly_and_the_app_stays_up() {
    let redis = TestRedis::new();
    let proxy = TcpProxy::start(redis.server_addr());
    let (mut app, url) = attach_through(&proxy, &redis);

    proxy.cut();
    for path in ["/", "/visits", "/", "/visits"] {
        let started = Instant::now();
        let reply = app.try_get(path);
        let took = started.elapsed();
        ensure_still_running(&mut app, &format!("when Redis went away (GET {path})"));
        match reply {
            Ok(reply) if reply.status == 503 => {
                backing_services().ensure(took < FAIL_FAST, "the-fix", || {
                    format!(
                        "with Redis cut off, GET {path} answered 503 after {:.1} s: a request \
                         must fail fast (under {FAIL_FAST:?}) while a backing service is away, \
                         not wait for it. Bound how long a request waits to connect and for a \
                         reply, and how many times it retries (a connection manager's defaults \
                         can retry for seconds)",
                        took.as_secs_f64()
                    )
                });
            }
            Ok(reply) => backing_services().fail(
                "the-fix",
                format!(
                    "with Redis cut off, GET {path} answered {} {:?} after {:.1} s; the contract \
                     is 503 Service Unavailable: the app cannot count, and a 503 tells clients \
                     and load balancers to try again later",
                    reply.status,
                    reply.body.trim(),
                    took.as_secs_f64()
                ),
            ),
            Err(_) if app.wait_exit(Duration::from_millis(500)).is_some() => {
                ensure_still_running(&mut app, &format!("when Redis went away (GET {path})"));
            }
            Err(err) => backing_services().fail(
                "the-fix",
                format!(
                    "with Redis cut off, GET {path} got no HTTP answer ({err}) after {:.1} s: the \
                     request died instead of answering 503. A handler that panics (`.unwrap()` \
                     on a Redis call) drops the client's connection; one that waits on Redis \
                     without a bound hangs",
                    took.as_secs_f64()
                ),
            ),
        }
    }

    let logged = app.wait_for_line(LOG_WAIT, |line| {
        let line = line.to_lowercase();
        line.contains("redis") && line.contains("unavailable")
    });
    backing_services().ensure(logged.is_some(), "the-fix", || {
        format!(
            "the app answered 503 while Redis ({url}) was cut off, but logged no line saying that \
             Redis is unavailable (one line containing `redis` and `unavailable`): whoever is on \
             call reads the log to learn which backing service is down"
        )
    });
    ensure_still_running(&mut app, "while Redis was away");
}

/// Redis comes back (the proxy is restored): the same process serves requests again, within a
/// bound, without a restart, and counts on in the same database.
#[test]
fn service_resumes_after_a_redis_outage_without_a_restart() {
    let redis = TestRedis::new();
    let proxy = TcpProxy::start(redis.server_addr());
    let (mut app, url) = attach_through(&proxy, &redis);

    proxy.cut();
    // Let the app notice the outage: whatever these answer, the process must survive them.
    for path in ["/", "/visits"] {
        let _ = app.try_get(path);
    }
    ensure_still_running(&mut app, "when Redis went away");

    proxy.restore();
    let restored = Instant::now();
    loop {
        let last = match app.try_get("/") {
            Ok(reply) if reply.status == 200 => break,
            Ok(reply) => format!("{} {:?}", reply.status, reply.body.trim()),
            Err(err) => format!("no answer: {err}"),
        };
        ensure_still_running(&mut app, "after Redis came back");
        backing_services().ensure(restored.elapsed() < RECOVERY, "the-fix", || {
            format!(
                "Redis ({url}) has been back for {RECOVERY:?} and GET / still answers {last}: \
                 the app made its connection once and never makes a new one, so only a restart \
                 would heal it. Use a connection that reconnects by itself (a connection manager \
                 or a pool)"
            )
        });
        thread::sleep(Duration::from_millis(100));
    }

    let stored = stored_visits(&redis);
    let reported = visits(&app);
    backing_services().ensure(
        stored.as_deref() == Some(&reported.to_string()) && reported >= 3,
        "the-fix",
        || {
            format!(
                "after the outage the app answers again, but GET /visits says {reported} while \
                 its Redis database holds {} (2 visits before the outage, 1 after): it must go on \
                 counting in the Redis its REDIS_URL names",
                describe_stored(&stored)
            )
        },
    );
}
