//! Checks for Factor VI — Processes, run against `exercises/06-processes` and
//! `solutions/06-processes` alike.
//!
//! Every check runs the real binary, usually as two replicas in separate temp directories sharing
//! one Redis database, and judges only what can be seen from outside: HTTP answers and Redis.

use kit_harness::noticeboard::{visit, visits};
use kit_harness::{App, AppBuilder, Lesson, TestRedis, app_binary, lesson};
use std::thread;
use std::time::{Duration, Instant};

// The numbers the book quotes (`{{#check-const 6 NAME}}` reads them from here).

/// Homepage visits sent to two replicas at once by `visits_are_shared_between_replicas`.
const TOTAL_VISITS: u64 = 120;
/// Concurrent clients sending them.
const CLIENTS: usize = 16;
/// Visits each of replicas A and B counts before both are killed in `visits_survive_a_restart`.
const VISITS_BEFORE_RESTART: u64 = 3;
/// `SESSION_TTL_SECONDS` in `sessions_expire_after_their_ttl`.
const SESSION_TTL_SECONDS: u64 = 1;
/// How long after its TTL a session may still be valid.
const EXPIRY_GRACE_SECONDS: u64 = 3;
/// How often that check asks whether the session is still valid.
const EXPIRY_POLL_MILLIS: u64 = 50;

fn processes() -> &'static Lesson {
    lesson(6)
}

/// One replica of the app, attached to `redis`, not started yet.
fn replica_builder(name: &str, redis: &TestRedis, session_ttl_seconds: u64) -> AppBuilder {
    AppBuilder::new(app_binary!())
        .name(name)
        .env("REDIS_URL", redis.url())
        .env("SESSION_TTL_SECONDS", session_ttl_seconds.to_string())
        .env("RUST_LOG", "warn")
}

/// One replica of the app, attached to `redis`.
fn replica(name: &str, redis: &TestRedis, session_ttl_seconds: u64) -> App {
    replica_builder(name, redis, session_ttl_seconds).spawn()
}

/// Replicas A and B, attached to `redis`, started at once.
fn replicas(redis: &TestRedis, session_ttl_seconds: u64) -> [App; 2] {
    AppBuilder::spawn_all([
        replica_builder("replica A", redis, session_ttl_seconds),
        replica_builder("replica B", redis, session_ttl_seconds),
    ])
}

#[track_caller]
fn login(app: &App, name: &str) -> String {
    let reply = app.post_json("/login", &serde_json::json!({ "name": name }));
    let token = reply
        .json::<serde_json::Value>()
        .and_then(|body| body["token"].as_str().map(str::to_owned));
    match token {
        Some(token) if reply.is_success() => token,
        _ => panic!(
            "POST /login on {} answered {} {:?}; the contract is 2xx with {{\"token\": \"...\"}}",
            app.name(),
            reply.status,
            reply.body
        ),
    }
}

/// Who `token` belongs to according to `app`, or `None` if it answers 401.
#[track_caller]
fn session_user(app: &App, token: &str) -> Option<String> {
    let reply = app.get_with("/me", &[("Authorization", &format!("Bearer {token}"))]);
    match reply.status {
        200 => reply
            .json::<serde_json::Value>()
            .and_then(|body| body["name"].as_str().map(str::to_owned)),
        401 => None,
        status => panic!(
            "GET /me on {} answered {status}: {}",
            app.name(),
            reply.body
        ),
    }
}

/// Load-balancer style traffic: `total` homepage visits from `CLIENTS` concurrent clients, two
/// thirds to the first replica and one third to the second (an uneven split, so per-process counts
/// differ).
fn visit_concurrently(replicas: [&App; 2], total: usize) {
    let clients = CLIENTS;
    thread::scope(|scope| {
        for client in 0..clients {
            scope.spawn(move || {
                for request in (client..total).step_by(clients) {
                    visit(replicas[usize::from(request % 3 == 0)]);
                }
            });
        }
    });
}

/// The classic `total_visit` global: the count must be one number for all replicas, exact under
/// concurrent load.
#[test]
fn visits_are_shared_between_replicas() {
    let redis = TestRedis::new();
    let [a, b] = replicas(&redis, 60);
    let total = TOTAL_VISITS;

    visit_concurrently([&a, &b], total as usize);

    let (seen_a, seen_b) = (visits(&a), visits(&b));
    processes().ensure(seen_a == seen_b, "the-anti-pattern", || {
        format!(
            "after {total} visits split between two replicas, replica A counts {seen_a} and \
             replica B counts {seen_b}: the replicas do not share one counter, each process keeps \
             its own (in memory, or in a file of its own)"
        )
    });
    processes().ensure(seen_a <= total, "the-fix", || {
        let keys = redis.keys();
        let held = if keys.is_empty() {
            "is empty".to_string()
        } else {
            format!("holds {keys:?}")
        };
        format!(
            "the replicas count {seen_a} visits, but only {total} were made, and the Redis \
             database in their REDIS_URL {held}: the count is kept somewhere else, somewhere that \
             already held visits before this check started"
        )
    });
    processes().ensure(seen_a == total, "the-fix", || {
        format!(
            "both replicas agree on {seen_a} visits, but {total} were made concurrently: increments \
             are lost when a replica reads the count and writes it back (GET then SET); use one \
             atomic increment in the backing service"
        )
    });
    processes().ensure(!redis.keys().is_empty(), "the-fix", || {
        format!(
            "the replicas agree on {total} visits, but their Redis database is empty: the count \
             lives somewhere else"
        )
    });
}

/// A process may die at any moment; what it counted must not die with it.
#[test]
fn visits_survive_a_restart() {
    let redis = TestRedis::new();
    let [mut a, mut b] = replicas(&redis, 60);
    for _ in 0..VISITS_BEFORE_RESTART {
        visit(&a);
        visit(&b);
    }
    a.kill();
    b.kill();

    let c = replica("replica C (started after A and B were killed)", &redis, 60);
    let seen = visits(&c);
    let counted = 2 * VISITS_BEFORE_RESTART;
    processes().ensure(seen >= counted, "why-it-matters", || {
        format!(
            "replicas A and B counted {counted} visits and were killed; the replica started after \
             them counts {seen}: the count died with the processes that held it"
        )
    });
    processes().ensure(seen == 6, "the-fix", || {
        format!(
            "replicas A and B counted 6 visits and were killed; the replica started after them \
             counts {seen}: the count lives outside the Redis database it was given (a file every \
             process on this machine shares?)"
        )
    });
}

/// State belongs to the backing service, not to the machine: a replica attached to an empty Redis
/// database starts from zero, whatever this machine's disk remembers.
#[test]
fn a_replica_on_an_empty_redis_starts_from_zero() {
    let first = TestRedis::new();
    let a = replica("replica A", &first, 60);
    for _ in 0..3 {
        visit(&a);
    }

    let empty = TestRedis::new();
    let b = replica(
        "replica B (attached to an empty Redis database)",
        &empty,
        60,
    );
    let seen = visits(&b);
    processes().ensure(seen == 0, "the-fix", || {
        format!(
            "replica A counted 3 visits in one Redis database; replica B, attached to another, empty \
             one, counts {seen}: the count is kept on this machine (a file in /tmp?), not in the \
             backing service the app was given"
        )
    });
}

/// A session created through one replica must be honoured by every replica.
#[test]
fn sessions_are_shared_between_replicas() {
    let redis = TestRedis::new();
    let [a, b] = replicas(&redis, 60);

    let token = login(&a, "ada");
    processes().ensure(
        session_user(&a, &token).is_some(),
        "the-exercise",
        || "replica A does not recognise the session it just created (GET /me answered 401)",
    );
    let on_b = session_user(&b, &token);
    processes().ensure(on_b.as_deref() == Some("ada"), "the-fix", || {
        format!(
            "ada logged in through replica A, and replica B answers {}: sessions live in one \
             process's memory (a load balancer would log her out at random)",
            on_b.map_or("401 Unauthorized".into(), |name| format!(
                "that the session is {name:?}'s"
            ))
        )
    });
}

/// Sessions last `SESSION_TTL_SECONDS` and then disappear, for every replica.
#[test]
fn sessions_expire_after_their_ttl() {
    let redis = TestRedis::new();
    let ttl = Duration::from_secs(SESSION_TTL_SECONDS);
    let [a, b] = replicas(&redis, ttl.as_secs());

    let token = login(&a, "grace");
    let created = Instant::now();
    processes().ensure(session_user(&b, &token).is_some(), "the-fix", || {
        "grace logged in through replica A and replica B does not know her session: sessions \
         live in one process's memory"
    });

    let deadline = created + ttl + Duration::from_secs(EXPIRY_GRACE_SECONDS);
    while session_user(&b, &token).is_some() {
        processes().ensure(Instant::now() < deadline, "the-fix", || {
            format!(
                "the session is still valid {:.1} s after it was created with \
                 SESSION_TTL_SECONDS={SESSION_TTL_SECONDS}: store it with an expiry (Redis `EX`) taken from config",
                created.elapsed().as_secs_f64()
            )
        });
        thread::sleep(Duration::from_millis(EXPIRY_POLL_MILLIS));
    }
    processes().ensure(
        created.elapsed() >= ttl - Duration::from_millis(100),
        "the-fix",
        || {
            format!(
                "the session expired after {:.2} s, before its TTL of {SESSION_TTL_SECONDS} s",
                created.elapsed().as_secs_f64()
            )
        },
    );
}
