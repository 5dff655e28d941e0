//! Checks for Factor VIII — Concurrency, run against `exercises/08-concurrency` and
//! `solutions/08-concurrency` alike.
//!
//! Every check runs the real binary as separate processes of two types, `web` and `worker`, all
//! attached to the same fresh Postgres database and private Redis index (the queue may live in
//! either). The webhook they deliver to is a loopback stub that records every call and can hold a
//! call in flight, so the checks see who delivered what, and when, without timing the app: a
//! delivery names the process that made it in its `worker` field.

use kit_harness::stub::Call;
use kit_harness::{App, AppBuilder, HttpStub, Lesson, TestDatabase, TestRedis, app_binary, lesson};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn concurrency() -> &'static Lesson {
    lesson(8)
}

/// Where the stub listens for deliveries (`WEBHOOK_URL` ends with it).
const HOOK_PATH: &str = "/hooks/noticeboard";

/// How long the checks watch for deliveries that must not happen while no worker runs.
const QUIET: Duration = Duration::from_secs(1);

/// How long workers get to deliver what is waiting when the webhook answers at once.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How slowly the webhook answers while several workers share the work: long enough that one
/// worker delivering one notification at a time cannot take them all while the others idle.
const SLOW_WEBHOOK: Duration = Duration::from_secs(1);

/// How long several workers get to deliver the nine notifications through the slow webhook
/// (one worker alone would need about nine seconds).
const SHARED_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the webhook holds the delivery of the worker that the check then kills: never
/// answered while that worker lives.
const HOLD: Duration = Duration::from_secs(30);

/// How long another worker gets to deliver what a killed worker had in flight.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How slowly the webhook answers while the checks time the web process's `202`.
const SLOW_ANSWER: Duration = Duration::from_secs(5);

/// The backing services and the webhook that every process of one check shares.
struct World {
    db: TestDatabase,
    redis: TestRedis,
    stub: HttpStub,
}

impl World {
    /// A fresh database, Redis index and webhook stub that answers after `delay`.
    fn new(delay: Duration) -> Self {
        World {
            db: TestDatabase::new(),
            redis: TestRedis::new(),
            stub: HttpStub::start().delay(delay),
        }
    }

    fn process(&self, name: &str) -> AppBuilder {
        AppBuilder::new(app_binary!())
            .name(name)
            .env("DATABASE_URL", self.db.url())
            .secret(self.db.password())
            .env("REDIS_URL", self.redis.url())
            .env("WEBHOOK_URL", self.stub.url(HOOK_PATH))
            .env("RUST_LOG", "info")
    }

    /// `<binary> web`, started and answering `GET /health`.
    fn web(&self, name: &str) -> App {
        self.process(name).arg("web").spawn()
    }

    /// `<binary> worker`, started (a worker has no port to wait for).
    fn worker(&self, name: &str) -> App {
        self.process(name).arg("worker").start()
    }
}

/// The binary's file name, for messages (`ex08-concurrency`).
fn binary() -> String {
    Path::new(app_binary!())
        .file_name()
        .map_or_else(|| "app".into(), |name| name.to_string_lossy().into_owned())
}

/// A notification's id as the contract allows it: a JSON string (or, leniently, a number).
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// `POST /notifications` → `202 Accepted` with `{"id": "<id>"}`; returns the id.
#[track_caller]
fn post(web: &App, name: &str, message: &str) -> String {
    let reply = web.post_json(
        "/notifications",
        &json!({ "name": name, "message": message }),
    );
    let id = reply.json::<Value>().and_then(|body| id_of(&body["id"]));
    match id {
        Some(id) if reply.status == 202 => id,
        _ => panic!(
            "POST /notifications on {} answered {} {:?}; the contract is 202 Accepted with \
             {{\"id\": \"<id>\"}}",
            web.name(),
            reply.status,
            reply.body
        ),
    }
}

/// Posts `count` notifications to `web`; returns their ids in order.
#[track_caller]
fn post_many(web: &App, count: usize, label: &str) -> Vec<String> {
    (1..=count)
        .map(|n| post(web, &format!("user-{n}"), &format!("{label} #{n}")))
        .collect()
}

/// One call the webhook received, read as a delivery.
struct Delivery {
    id: String,
    worker: String,
}

/// Reads a stub call as a delivery; a call that breaks the contract fails the check saying so.
#[track_caller]
fn delivery(call: &Call) -> Delivery {
    let body = call.json().unwrap_or(Value::Null);
    let id = id_of(&body["id"]);
    let worker = body["worker"].as_str().filter(|worker| !worker.is_empty());
    let fields = body["name"].is_string() && body["message"].is_string();
    match (id, worker) {
        (Some(id), Some(worker)) if call.method == "POST" && call.path == HOOK_PATH && fields => {
            Delivery {
                id,
                worker: worker.to_string(),
            }
        }
        _ => panic!(
            "the webhook received {} {} with body {:?}; the contract is POST $WEBHOOK_URL with JSON \
             {{\"id\", \"name\", \"message\", \"worker\"}}, where worker is a non-empty string that \
             names the process that delivered it",
            call.method, call.path, call.body
        ),
    }
}

#[track_caller]
fn deliveries(calls: &[Call]) -> Vec<Delivery> {
    calls.iter().map(delivery).collect()
}

/// The distinct `worker` values of `deliveries`, quoted, for messages.
fn workers_named(deliveries: &[Delivery]) -> String {
    let names: BTreeSet<&str> = deliveries.iter().map(|d| d.worker.as_str()).collect();
    names
        .iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// With no worker process running, nothing may be delivered: the web process only accepts.
#[track_caller]
fn nothing_is_delivered_without_a_worker(world: &World, posted: usize) {
    let calls = world.stub.wait_for_calls(1, QUIET);
    concurrency().ensure(calls.is_empty(), "the-anti-pattern", || {
        let seen = deliveries(&world.stub.calls());
        format!(
            "{posted} notifications were posted while no worker process was running, and the \
             webhook received {} within {QUIET:?} anyway (worker: {}): the web process \
             does the work itself, in the request or in a task it spawns. Then deliveries can only \
             be scaled by adding web processes, and a delivery in flight dies with its web \
             process. The web process should only put the notification in the backing service, \
             for a separate `worker` process type to deliver",
            deliveries_count(seen.len()),
            workers_named(&seen)
        )
    });
}

/// "1 delivery", "3 deliveries".
fn deliveries_count(count: usize) -> String {
    if count == 1 {
        "1 delivery".into()
    } else {
        format!("{count} deliveries")
    }
}

/// What to suspect when a worker runs and delivers nothing.
const NOT_FOUND: &str = "the worker does not find what the web process stored (is the queue in the \
     backing service that DATABASE_URL or REDIS_URL names, and does the worker read it there?)";

/// Fails the check if `worker` has exited: a worker runs until it is stopped.
#[track_caller]
fn ensure_running(worker: &mut App) {
    if let Some(status) = worker.poll_exit() {
        concurrency().fail(
            "the-exercise",
            format!(
                "{}, `{} worker`, exited ({status}) instead of running until it is stopped. The \
                 app needs a second process type, `worker`: a long-running process that takes \
                 waiting notifications from the backing service and delivers them. Its last \
                 output:\n{}",
                worker.name(),
                binary(),
                worker.tail(6).trim_end()
            ),
        );
    }
}

/// Waits until `done` holds for the webhook's calls, at most `timeout`, and stops early when a
/// worker exits (the caller then reports it with [`ensure_running`]).
fn wait_for(
    world: &World,
    workers: &mut [&mut App],
    timeout: Duration,
    done: impl Fn(&[Call]) -> bool,
) -> Vec<Call> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let calls = world
            .stub
            .wait_until(left.min(Duration::from_millis(200)), &done);
        if done(&calls) || left.is_zero() {
            return calls;
        }
        if workers
            .iter_mut()
            .any(|worker| worker.poll_exit().is_some())
        {
            return calls;
        }
    }
}

/// Whether every id in `ids` has an answered delivery among `calls`.
fn all_delivered(ids: &[String], calls: &[Call]) -> bool {
    let answered: BTreeSet<String> = calls
        .iter()
        .filter(|call| call.answered)
        .filter_map(|call| call.json().and_then(|body| id_of(&body["id"])))
        .collect();
    ids.iter().all(|id| answered.contains(id))
}

/// How many deliveries each id got.
fn delivery_counts(deliveries: &[Delivery]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for delivery in deliveries {
        *counts.entry(delivery.id.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Posting answers `202 Accepted` with an id at once, before any delivery: the web process never
/// waits for the webhook. (It passes on the exercise too, which spawns its deliveries.)
#[test]
fn the_web_process_answers_202_at_once() {
    let world = World::new(SLOW_ANSWER);
    // No argument: `web` is the default process type.
    let web = world.process("web process").spawn();
    let health = web.get("/health");
    assert_eq!(
        health.status, 200,
        "GET /health on the web process answered {}: {}",
        health.status, health.body
    );

    let started = Instant::now();
    let ids = post_many(&web, 3, "accepted at once");
    let took = started.elapsed();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "three notifications posted got the ids {ids:?}: each needs an id of its own"
    );
    let answered = world
        .stub
        .calls()
        .iter()
        .filter(|call| call.answered)
        .count();
    concurrency().ensure(answered == 0, "the-anti-pattern", || {
        format!(
            "the three POST /notifications took {:.1} s, and the webhook, which answers after \
             {SLOW_ANSWER:?}, had already answered {answered} deliveries when they returned: the web \
             process waits for the delivery inside the request. Answer 202 as soon as the \
             notification is stored, and leave the delivery to a worker process",
            took.as_secs_f64()
        )
    });
}

/// With no worker running, posts are accepted and nothing is delivered; the notifications wait in
/// the backing service, and a worker started later delivers them all.
#[test]
fn with_no_worker_running_notifications_wait_for_one() {
    let world = World::new(Duration::ZERO);
    let web = world.web("web process");
    let ids = post_many(&web, 5, "waiting for a worker");

    nothing_is_delivered_without_a_worker(&world, ids.len());

    let mut worker = world.worker("worker process (started after the posts)");
    let calls = wait_for(&world, &mut [&mut worker], DRAIN_TIMEOUT, |calls| {
        all_delivered(&ids, calls)
    });
    ensure_running(&mut worker);
    let seen = deliveries(&calls);
    let delivered: BTreeSet<&str> = seen.iter().map(|d| d.id.as_str()).collect();
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !delivered.contains(id.as_str()))
        .collect();
    concurrency().ensure(missing.is_empty(), "the-fix", || {
        format!(
            "5 notifications were accepted while no worker ran; a worker process then ran for \
             {DRAIN_TIMEOUT:?} and the webhook received no delivery of {missing:?}: {NOT_FOUND}"
        )
    });
}

/// Three workers drain nine notifications through a slow webhook: each notification is
/// delivered exactly once, and more than one worker process does the work.
#[test]
fn several_workers_share_the_work_and_deliver_each_notification_once() {
    let world = World::new(SLOW_WEBHOOK);
    let web = world.web("web process");
    let ids = post_many(&web, 9, "shared work");
    nothing_is_delivered_without_a_worker(&world, ids.len());

    let mut a = world.worker("worker A");
    let mut b = world.worker("worker B");
    let mut c = world.worker("worker C");
    let calls = wait_for(
        &world,
        &mut [&mut a, &mut b, &mut c],
        SHARED_DRAIN_TIMEOUT,
        |calls| all_delivered(&ids, calls),
    );
    // A worker that takes every notification may still be sending its copies: give late
    // duplicates a moment to arrive.
    let count = calls.len();
    let calls = world
        .stub
        .wait_until(SLOW_WEBHOOK, |calls| calls.len() > count);
    for worker in [&mut a, &mut b, &mut c] {
        ensure_running(worker);
    }

    let seen = deliveries(&calls);
    let counts = delivery_counts(&seen);
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    concurrency().ensure(missing.is_empty(), "the-fix", || {
        format!(
            "three worker processes ran for {SHARED_DRAIN_TIMEOUT:?} with 9 notifications waiting, \
             and the webhook received no delivery of {missing:?} ({} in all){}",
            deliveries_count(seen.len()),
            if seen.is_empty() {
                format!(": {NOT_FOUND}")
            } else {
                String::new()
            }
        )
    });
    let twice: Vec<String> = counts
        .iter()
        .filter(|&(_, &count)| count > 1)
        .map(|(id, count)| format!("{id} ({count} times)"))
        .collect();
    concurrency().ensure(twice.is_empty(), "the-fix", || {
        format!(
            "with three worker processes running and no worker killed, these notifications were \
             delivered more than once: {}. Each worker takes notifications that another worker \
             has already taken. A worker must claim a notification so that the others skip it \
             (in Postgres: SELECT ... FOR UPDATE SKIP LOCKED; in Redis: move it atomically to a \
             list of its own)",
            twice.join(", ")
        )
    });
    let names: BTreeSet<&str> = seen.iter().map(|d| d.worker.as_str()).collect();
    concurrency().ensure(names.len() >= 2, "the-fix", || {
        format!(
            "three worker processes ran while 9 notifications waited and the webhook took \
             {SLOW_WEBHOOK:?} to answer each, yet all {} deliveries carry worker = {}: either one \
             worker took every notification while the others idled (take one at a time, or a \
             few, so that more processes mean more deliveries in flight), or the `worker` field \
             does not tell processes apart (use something unique to the process, such as \
             <hostname>-<pid>)",
            seen.len(),
            workers_named(&seen)
        )
    });
}

/// SIGKILL a worker while the webhook holds its delivery: another worker delivers that
/// notification. Only what was in flight may be delivered twice.
#[test]
fn a_notification_in_flight_on_a_killed_worker_is_delivered_by_another() {
    let world = World::new(HOLD);
    let web = world.web("web process");
    let ids = post_many(&web, 3, "survives a crash");
    nothing_is_delivered_without_a_worker(&world, ids.len());

    let mut a = world.worker("worker A (killed mid-delivery)");
    let held = wait_for(&world, &mut [&mut a], DRAIN_TIMEOUT, |calls| {
        !calls.is_empty()
    });
    ensure_running(&mut a);
    concurrency().ensure(!held.is_empty(), "the-fix", || {
        format!(
            "worker A ran for {DRAIN_TIMEOUT:?} with 3 notifications waiting and delivered none: \
             {NOT_FOUND}"
        )
    });
    // The webhook holds every call for much longer than this check runs, so whatever worker A
    // has sent is still in flight when it dies. Its deliveries are the ones named like its first.
    let killed_worker = delivery(&held[0]).worker;
    a.kill();
    let killed_at = world.stub.calls().len();
    world.stub.set_delay(Duration::ZERO);

    let mut b = world.worker("worker B (started after A was killed)");
    let calls = wait_for(&world, &mut [&mut b], RECOVERY_TIMEOUT, |calls| {
        all_delivered(&ids, &calls[killed_at.min(calls.len())..])
    });
    ensure_running(&mut b);

    let all = deliveries(&calls);
    let in_flight: BTreeSet<&str> = all
        .iter()
        .filter(|d| d.worker == killed_worker)
        .map(|d| d.id.as_str())
        .collect();
    let redelivered: BTreeSet<&str> = all[killed_at.min(all.len())..]
        .iter()
        .filter(|d| d.worker != killed_worker)
        .map(|d| d.id.as_str())
        .collect();
    let lost: Vec<&str> = in_flight
        .iter()
        .filter(|id| !redelivered.contains(*id))
        .copied()
        .collect();
    concurrency().ensure(lost.is_empty(), "the-fix", || {
        format!(
            "worker A was delivering notification(s) {in_flight:?} (the webhook held the call) \
             when it was killed with SIGKILL; worker B then ran for {RECOVERY_TIMEOUT:?} and never \
             delivered {lost:?}: the worker took them off the queue (DELETE ... RETURNING, LPOP, \
             a `taken` flag) before the delivery succeeded, and a crash in between loses them. \
             Keep a notification claimed, not removed, until the webhook has answered, in a way \
             that ends by itself when the worker dies (a transaction that rolls back, a \
             processing list that another worker recovers)"
        )
    });
    let twice: Vec<String> = delivery_counts(&all)
        .iter()
        .filter(|&(id, &count)| count > 1 && !in_flight.contains(id))
        .map(|(id, count)| format!("{id} ({count} times)"))
        .collect();
    concurrency().ensure(twice.is_empty(), "the-fix", || {
        format!(
            "only {in_flight:?} were in flight when worker A was killed, yet these notifications \
             were delivered more than once: {}",
            twice.join(", ")
        )
    });
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !redelivered.contains(id.as_str()))
        .collect();
    concurrency().ensure(missing.is_empty(), "the-fix", || {
        format!(
            "worker B ran for {RECOVERY_TIMEOUT:?} after worker A was killed, and never delivered \
             {missing:?}, which were waiting"
        )
    });
}

/// Notifications accepted by a web process that is then killed are still delivered: they
/// waited in the backing service, not in the web process.
#[test]
fn notifications_wait_through_a_web_restart() {
    let world = World::new(Duration::ZERO);
    let mut first = world.web("web process A");
    let mut ids = post_many(&first, 4, "before the restart");
    nothing_is_delivered_without_a_worker(&world, ids.len());
    first.kill();

    let second = world.web("web process B (started after A was killed)");
    ids.extend(post_many(&second, 2, "after the restart"));
    let mut worker = world.worker("worker process");
    let calls = wait_for(&world, &mut [&mut worker], DRAIN_TIMEOUT, |calls| {
        all_delivered(&ids, calls)
    });
    ensure_running(&mut worker);

    let seen = deliveries(&calls);
    let counts = delivery_counts(&seen);
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    concurrency().ensure(missing.is_empty(), "why-it-matters", || {
        format!(
            "web process A accepted 4 notifications ({:?}) and was killed, web process B accepted \
             2 more ({:?}); a worker then ran for {DRAIN_TIMEOUT:?} and the webhook never \
             received {missing:?}: what a web process accepted must wait in the backing service, \
             not in the web process, and survive its restart (is it kept in the web process, or \
             cleared when a web process starts?)",
            &ids[..4],
            &ids[4..]
        )
    });
    let twice: Vec<String> = counts
        .iter()
        .filter(|&(_, &count)| count > 1)
        .map(|(id, count)| format!("{id} ({count} times)"))
        .collect();
    concurrency().ensure(twice.is_empty(), "the-fix", || {
        format!(
            "with one worker and no crash, these notifications were delivered more than once: {}",
            twice.join(", ")
        )
    });
}

/// A process type the app does not have stops it at once, with one line naming it: a typo in a
/// Procfile must not start a web process in the worker's place.
#[test]
fn an_unknown_process_type_stops_with_one_line() {
    let world = World::new(Duration::ZERO);
    let finished = world
        .process("`sideways` process")
        .arg("sideways")
        .env("RUST_BACKTRACE", "1")
        .run_to_end(Duration::from_secs(10));
    let stderr = finished.stderr.trim();
    concurrency().ensure(
        !finished.status.success() && stderr.lines().count() == 1 && stderr.contains("sideways"),
        "the-fix",
        || {
            format!(
                "`{} sideways` exited ({}) with stderr {stderr:?}: an unknown process type must \
                 stop the process with a non-zero exit code and one line on stderr that names it",
                binary(),
                finished.status
            )
        },
    );
}
