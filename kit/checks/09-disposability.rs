//! Checks for Factor IX — Disposability, run against `exercises/09-disposability` and
//! `solutions/09-disposability` alike.
//!
//! Every check gets a fresh Postgres database and runs the real binary: `<binary>` (the web
//! process) and `<binary> worker`. It signals them the way platforms do (`docker stop` and
//! Kubernetes send SIGTERM, a terminal's Ctrl+C sends SIGINT) and judges only what can be seen from
//! outside: how soon the web process answers, what happens to a request in flight and to new
//! connections, the exit status and how soon it comes, and what the webhook receives. The
//! connections a process holds, and whether it has read a request, come from `/proc`.
//!
//! Every wait is bounded. A process that has not exited when its bound runs out is killed, as a
//! platform would SIGKILL it, and the check says so.

use kit_harness::{App, AppBuilder, HttpStub, Lesson, Signal, TestDatabase, app_binary, lesson};
use kit_harness::{procfs, stub::Call};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

fn disposability() -> &'static Lesson {
    lesson(9)
}

/// The web process must answer `GET /health` this soon after it was started.
const START_BOUND: Duration = Duration::from_secs(2);

/// The request in flight when the signal comes takes this long (`GET /slow?ms=2000`).
const SLOW_MS: u64 = 2_000;

/// A request that outlasts any grace period (`GET /slow?ms=60000`).
const ENDLESS_MS: u64 = 60_000;

/// After the signal, new connections must be refused (or answered 503) within this.
const STOP_ACCEPTING_BOUND: Duration = Duration::from_secs(1);

/// After the signal, the process must have exited within this: half the 10 s that `docker stop`
/// gives before it SIGKILLs (Kubernetes gives 30 s by default, `terminationGracePeriodSeconds`).
const EXIT_BOUND: Duration = Duration::from_secs(5);

/// How long the webhook holds the delivery a worker is making when it is signalled.
const JOB_HOLD: Duration = Duration::from_secs(2);

/// A delivery that outlasts any grace period.
const ENDLESS_JOB: Duration = Duration::from_secs(60);

/// How long a worker may take to pick up a queued notification and call the webhook.
const PICK_UP_BOUND: Duration = Duration::from_secs(10);

/// How long a second worker may take to deliver a job the first one handed back.
const REDELIVERY_BOUND: Duration = Duration::from_secs(5);

/// The web process, attached to `db`, once it answers `GET /health`.
fn web(db: &TestDatabase) -> App {
    AppBuilder::new(app_binary!())
        .name("web process")
        .env("DATABASE_URL", db.url())
        .secret(db.password())
        .spawn()
}

/// A worker process delivering to `webhook`; not waited for (a worker has no port to probe).
fn worker(name: &str, db: &TestDatabase, webhook: &HttpStub) -> App {
    AppBuilder::new(app_binary!())
        .name(name)
        .arg("worker")
        .env("DATABASE_URL", db.url())
        .env("WEBHOOK_URL", webhook.url("/hooks/notifications"))
        .secret(db.password())
        .start()
}

/// `SIGTERM`, `SIGINT`.
fn name(signal: Signal) -> &'static str {
    signal.as_str()
}

/// A duration as the messages quote it: `5 s`, `1.5 s`.
fn secs(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// How a process ended, in words, `after` the signal it was sent.
fn ending(status: ExitStatus, signal: Signal, after: Duration) -> String {
    let after = format!("{:.2} s after {}", after.as_secs_f64(), name(signal));
    match (status.code(), status.signal()) {
        (Some(0), _) => format!("the process exited with code 0, {after}"),
        (Some(code), _) => format!("the process exited with code {code}, {after}"),
        (None, Some(number)) if number == signal as i32 => format!(
            "the process was killed by {} itself {after}: nothing handles the signal, so its \
             default action ended the process on the spot",
            name(signal)
        ),
        (None, Some(number)) => format!("the process was killed by signal {number} {after}"),
        (None, None) => format!("the process ended ({status}) {after}"),
    }
}

// ── A small HTTP/1.1 client on raw sockets: the checks must know which connection is which,
// ── and tell a refused connection from a reset one from an answer.

/// A request sent on a connection of its own.
struct Sent {
    stream: TcpStream,
    /// The client's end of the connection; the app sees it as the remote address.
    local: SocketAddr,
}

fn send(port: u16, path: &str, keep_alive: bool) -> std::io::Result<Sent> {
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )?;
    let local = stream.local_addr()?;
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: {connection}\r\n\r\n"
    )?;
    Ok(Sent { stream, local })
}

/// A response, read completely.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// Reads one response within `timeout`; `Err` says what the client saw instead.
fn read_answer(stream: &TcpStream, timeout: Duration) -> Result<Answer, String> {
    let describe = |err: std::io::Error, what: &str| match err.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("no answer within {timeout:?}"),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            format!("the connection was reset {what}")
        }
        _ => format!("{err} {what}"),
    };
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|err| err.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    match reader.read_line(&mut status_line) {
        Ok(0) => return Err("the connection was closed without an answer".into()),
        Ok(_) => {}
        Err(err) => return Err(describe(err, "without an answer")),
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    let mut length = None;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Err("the answer was cut off in its headers".into()),
            Ok(_) => {}
            Err(err) => return Err(describe(err, "in the middle of the answer's headers")),
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    let read = match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body)
        }
        None => reader.read_to_end(&mut body).map(drop),
    };
    read.map_err(|err| describe(err, "in the middle of the answer's body"))?;
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Waits (at most 3 s) until `app` has accepted the connection from `client` and read all that
/// was sent on it: from then on, the request is the app's, in flight.
fn wait_until_read(app: &App, client: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let read = procfs::tcp_connections(app.pid())
            .iter()
            .any(|connection| connection.remote == client && connection.unread == 0);
        if read {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Why a connection to the web process failed, with whether it is still running.
fn cannot_connect(app: &mut App, err: std::io::Error) -> String {
    let port = app.port();
    let state = match app.poll_exit() {
        Some(status) => format!("it has exited ({status})"),
        None if procfs::listening_sockets(app.pid())
            .iter()
            .any(|addr| addr.port() == port) =>
        {
            "it is running and listening on that port".into()
        }
        None => "it is running, but not listening on that port".into(),
    };
    format!("cannot connect to the web process on port {port} ({err}): {state}")
}

/// Whether `app` still holds the connection whose client end is `client`.
fn holds(app: &App, client: SocketAddr) -> bool {
    procfs::tcp_connections(app.pid())
        .iter()
        .any(|connection| connection.remote == client)
}

// ── The web process, signalled with a request in flight.

/// How new connections fared after the signal.
#[derive(Debug)]
enum NewConnections {
    /// Refused (or closed without an answer).
    Refused,
    /// Answered 503.
    Unavailable,
    /// Still served, with this status, when the bound ran out.
    StillServed(u16),
    /// Accepted, then left without an answer.
    Unanswered(String),
}

/// One try: a new connection and `GET /health` on it.
enum Probe {
    Refused,
    Answered(u16),
    Unanswered(String),
}

fn probe(port: u16) -> Probe {
    let sent = match send(port, "/health", false) {
        Ok(sent) => sent,
        // Refused, or reset while the request was being written: the listener is gone.
        Err(_) => return Probe::Refused,
    };
    match read_answer(&sent.stream, Duration::from_secs(1)) {
        Ok(answer) => Probe::Answered(answer.status),
        Err(seen) if seen.starts_with("no answer") => Probe::Unanswered(seen),
        // Closed or reset without an answer: the connection waited in the listener's queue when
        // the listener closed, or was accepted and closed unanswered. Either way, not served.
        Err(_) => Probe::Refused,
    }
}

/// Opens new connections until they are refused or answered 503, or the bound runs out.
fn new_connections_after(port: u16, signalled: Instant) -> NewConnections {
    loop {
        match probe(port) {
            Probe::Refused => return NewConnections::Refused,
            Probe::Answered(503) => return NewConnections::Unavailable,
            Probe::Unanswered(seen) => return NewConnections::Unanswered(seen),
            Probe::Answered(status) if signalled.elapsed() >= STOP_ACCEPTING_BOUND => {
                return NewConnections::StillServed(status);
            }
            Probe::Answered(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// What a web process did when it was signalled with a request in flight.
struct Drain {
    signal: Signal,
    /// `GET /slow?ms=…`, the request in flight.
    request: String,
    /// Its answer, or what the client saw instead.
    answer: Result<Answer, String>,
    new_connections: NewConnections,
    /// The exit status and how long after the signal it came; `None`: still running when
    /// [`EXIT_BOUND`] ran out (the check then killed it).
    exit: Option<(ExitStatus, Duration)>,
    /// What the process still held when the check gave up on it.
    held: Vec<String>,
    // Dropped in this order: the web process (killed if still running), then its database.
    _app: App,
    _db: TestDatabase,
}

impl Drain {
    /// Starts a web process, opens an idle keep-alive connection (as browsers and load balancers
    /// keep them) and a request of `slow_ms` milliseconds, sends `signal` once the app has read
    /// that request, and watches what follows.
    fn run(signal: Signal, slow_ms: u64) -> Drain {
        let db = TestDatabase::new();
        let mut app = web(&db);
        let port = app.port();

        let idle = send(port, "/health", true)
            .unwrap_or_else(|err| panic!("{}", cannot_connect(&mut app, err)));
        match read_answer(&idle.stream, Duration::from_secs(5)) {
            Ok(answer) if answer.status == 200 => {}
            seen => panic!("GET /health on a keep-alive connection: {seen:?}; expected 200"),
        }

        let request = format!("GET /slow?ms={slow_ms}");
        let slow = send(port, &format!("/slow?ms={slow_ms}"), false)
            .unwrap_or_else(|err| panic!("{}", cannot_connect(&mut app, err)));
        assert!(
            wait_until_read(&app, slow.local),
            "the web process did not accept and read {request} within 3 s; its output:\n{}",
            app.tail(12)
        );

        app.signal(signal);
        let signalled = Instant::now();
        // Read the answer while the checks below watch new connections and the exit; after an
        // exit or a kill the connection closes, so this ends soon after either.
        let reading =
            thread::spawn(move || read_answer(&slow.stream, EXIT_BOUND + Duration::from_secs(2)));
        let new_connections = new_connections_after(port, signalled);
        let exit = app
            .wait_exit(EXIT_BOUND.saturating_sub(signalled.elapsed()))
            .map(|status| (status, signalled.elapsed()));
        let mut held = Vec::new();
        if exit.is_none() {
            if holds(&app, idle.local) {
                held.push("the idle keep-alive connection".to_string());
            }
            if !reading.is_finished() {
                held.push(format!("the connection of {request}, still unanswered"));
            }
            app.kill();
        }
        let answer = reading.join().expect("the reading thread panicked");
        drop(idle);
        Drain {
            signal,
            request,
            answer,
            new_connections,
            exit,
            held,
            _app: app,
            _db: db,
        }
    }

    /// How the process ended, in words.
    fn ending(&self) -> String {
        let exit_bound = secs(EXIT_BOUND);
        match self.exit {
            Some((status, after)) => ending(status, self.signal, after),
            None => format!(
                "it was still running {exit_bound} after {}, and the check killed it",
                name(self.signal)
            ),
        }
    }

    /// Fails unless the request in flight got its normal answer.
    fn ensure_request_finished(&self) {
        let signal = name(self.signal);
        let request = &self.request;
        match &self.answer {
            Ok(answer)
                if answer.status == 200
                    && serde_json::from_str::<Value>(&answer.body)
                        .is_ok_and(|body| body["slept_ms"] == SLOW_MS) => {}
            Ok(answer) => disposability().fail(
                "drain-on-sigterm-and-sigint",
                format!(
                    "{request} was in flight when {signal} came, and was answered {} {:?}; \
                     the contract is 200 {{\"slept_ms\":{SLOW_MS}}}: a request the process \
                     has already accepted must finish normally",
                    answer.status, answer.body
                ),
            ),
            Err(seen) => {
                let advice = match self.exit {
                    Some((status, after))
                        if status.success() && after < Duration::from_millis(SLOW_MS) =>
                    {
                        "; it did not wait for the request (`process::exit` in a signal \
                         handler ends everything at once)"
                    }
                    _ => "",
                };
                disposability().fail(
                    "drain-on-sigterm-and-sigint",
                    format!(
                        "{request} was in flight when {signal} came, and the client got no \
                         answer ({seen}): {}{advice}. On {signal}, stop accepting new \
                         connections, but let the requests in flight finish",
                        self.ending()
                    ),
                )
            }
        }
    }

    /// Fails unless new connections were refused (or answered 503) soon after the signal.
    fn ensure_stopped_accepting(&self) {
        let request = &self.request;
        let signal = name(self.signal);
        let stop_accepting_bound = secs(STOP_ACCEPTING_BOUND);
        match &self.new_connections {
            NewConnections::Refused | NewConnections::Unavailable => {}
            NewConnections::StillServed(status) => disposability().fail(
                "drain-on-sigterm-and-sigint",
                format!(
                    "{stop_accepting_bound} after {signal}, with {request} still in flight, the \
                     web process still accepted new connections and answered GET /health \
                     {status}: it keeps taking work after it was told to stop. Stop accepting at \
                     once (close the listening socket), then let the requests in flight finish"
                ),
            ),
            NewConnections::Unanswered(seen) => disposability().fail(
                "drain-on-sigterm-and-sigint",
                format!(
                    "after {signal}, a new connection to the web process was accepted, then got \
                     no answer to GET /health ({seen}): a client would hang there. Close the \
                     listening socket (new connections are then refused), or answer them 503"
                ),
            ),
        }
    }

    /// Fails unless the process exited 0 within the bound.
    fn ensure_exited_0_in_time(&self, section: &str) {
        let exit_bound = secs(EXIT_BOUND);
        let signal = name(self.signal);
        let request = &self.request;
        match self.exit {
            Some((status, _)) if status.success() => {}
            Some(_) => disposability().fail(
                section,
                format!(
                    "{signal} came with {request} in flight, and {}; the contract is exit \
                     code 0, within {exit_bound}",
                    self.ending()
                ),
            ),
            None => {
                let held = if self.held.is_empty() {
                    String::new()
                } else {
                    format!(" It still held {}.", self.held.join(" and "))
                };
                let advice = if self.held.iter().any(|what| what.contains("keep-alive")) {
                    " A server that waits for every connection to close never exits: idle \
                     keep-alive connections must be closed when the drain starts (axum's \
                     graceful shutdown does it)."
                } else if self.held.is_empty() {
                    " It held no connection any more, yet it did not exit: something after the \
                     drain keeps it from returning from `main` (a background task it waits for? \
                     a loop that never ends?). Everything that runs after the signal needs a \
                     bound."
                } else {
                    " A drain needs a deadline: after a few seconds, exit without the requests \
                     that are still running."
                };
                disposability().fail(
                    section,
                    format!(
                        "{signal} came with {request} in flight and an idle keep-alive \
                         connection open; {exit_bound} later the process was still running, \
                         and the check killed it, as `docker stop` and Kubernetes SIGKILL a \
                         process that outlives their grace period (cutting off whatever it \
                         still holds).{held}{advice}"
                    ),
                )
            }
        }
    }
}

/// A platform starts processes all the time (deploys, scale-ups, restarts after a crash); one
/// that takes seconds before it answers makes every one of them slow.
#[test]
fn the_web_process_answers_within_two_seconds_of_starting() {
    let db = TestDatabase::new();
    let started = Instant::now();
    let mut app = AppBuilder::new(app_binary!())
        .name("web process")
        .arg("web")
        .env("DATABASE_URL", db.url())
        .secret(db.password())
        .start();
    let give_up = started + Duration::from_secs(15);
    let mut listening_after = None;
    let ready_after = loop {
        if listening_after.is_none()
            && procfs::listening_sockets(app.pid())
                .iter()
                .any(|addr| addr.port() == app.port())
        {
            listening_after = Some(started.elapsed());
        }
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            break Some(started.elapsed());
        }
        if let Some(status) = app.poll_exit() {
            panic!(
                "the web process exited ({status}) before it answered GET /health; its output:\n{}",
                app.tail(12)
            );
        }
        if Instant::now() >= give_up {
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let start_bound = secs(START_BOUND);
    disposability().ensure(
        ready_after.is_some_and(|after| after <= START_BOUND),
        "bind-first",
        || match ready_after {
            Some(after) => {
                let listening = match listening_after {
                    Some(listening) if after - listening > Duration::from_millis(500) => format!(
                        " Its port was open {:.1} s after the start, but nothing answered on it \
                         until then: binding first is not enough if the slow work still comes \
                         before serving.",
                        listening.as_secs_f64()
                    ),
                    _ => String::new(),
                };
                format!(
                    "the web process answered GET /health {:.1} s after it was started; the \
                     contract is within {start_bound}.{listening} Whatever a process does before \
                     it answers, every deploy, scale-up and restart waits for it: serve first, \
                     and do slow work in the background or when it is first needed",
                    after.as_secs_f64()
                )
            }
            None => "the web process did not answer GET /health within 15 s of starting".into(),
        },
    );
}

/// `docker stop`, a rolling deploy, an autoscaler scaling in: each sends SIGTERM. A request the
/// process has accepted must still get its answer.
#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let drain = Drain::run(Signal::SIGTERM, SLOW_MS);
    drain.ensure_request_finished();
}

/// Once told to stop, the process takes no new work: a new connection is refused, or answered
/// 503, so the client (or the load balancer) goes to another replica at once.
#[test]
fn sigterm_stops_new_connections_at_once() {
    let drain = Drain::run(Signal::SIGTERM, SLOW_MS);
    drain.ensure_stopped_accepting();
}

/// Exit code 0 tells the platform the stop was clean; it must come before the platform's patience
/// runs out.
#[test]
fn sigterm_ends_the_web_process_with_exit_code_0_within_five_seconds() {
    let drain = Drain::run(Signal::SIGTERM, SLOW_MS);
    drain.ensure_exited_0_in_time("drain-on-sigterm-and-sigint");
}

/// Ctrl+C in a terminal, and some process managers, send SIGINT: it means the same thing.
#[test]
fn sigint_drains_the_web_process_like_sigterm() {
    let drain = Drain::run(Signal::SIGINT, SLOW_MS);
    drain.ensure_request_finished();
    drain.ensure_stopped_accepting();
    drain.ensure_exited_0_in_time("drain-on-sigterm-and-sigint");
}

/// Graceful is not forever: a request that would take a minute must not keep the process from
/// exiting before the platform SIGKILLs it.
#[test]
fn a_request_longer_than_the_grace_period_does_not_hold_the_exit() {
    let drain = Drain::run(Signal::SIGTERM, ENDLESS_MS);
    drain.ensure_exited_0_in_time("a-deadline-for-the-drain");
}

// ── The worker, signalled in the middle of a delivery.

/// Queues one notification through the web process and returns its id.
fn queue_notification(web: &App) -> Value {
    let reply = web.post_json(
        "/notifications",
        &json!({ "name": "ada", "message": "the build is green" }),
    );
    let id = reply
        .json::<Value>()
        .map(|body| body["id"].clone())
        .filter(|id| !id.is_null());
    match id {
        Some(id) if reply.status == 202 => id,
        _ => disposability().fail(
            "the-exercise",
            format!(
                "POST /notifications answered {} {:?}; the contract is 202 with {{\"id\": ...}}",
                reply.status, reply.body
            ),
        ),
    }
}

fn is_delivery_of(call: &Call, id: &Value) -> bool {
    call.json().is_some_and(|body| &body["id"] == id)
}

/// Worker A is signalled while the webhook holds its delivery for `hold`; if it exits without
/// the webhook's answer, worker B is started to see whether the job is still in the queue.
fn worker_signalled_mid_job(hold: Duration, signal: Signal) {
    let db = TestDatabase::new();
    let webhook = HttpStub::start().delay(hold);
    let web = web(&db);
    let id = queue_notification(&web);

    let (pick_up_bound, exit_bound) = (secs(PICK_UP_BOUND), secs(EXIT_BOUND));
    let redelivery_bound = secs(REDELIVERY_BOUND);
    let mut a = worker("worker A", &db, &webhook);
    let calls = webhook.wait_for_calls(1, PICK_UP_BOUND);
    let Some(call) = calls.first().cloned() else {
        disposability().fail(
            "the-exercise",
            format!(
                "notification {id} was queued, and worker A did not POST it to WEBHOOK_URL \
                 within {pick_up_bound}; worker A's output:\n{}",
                a.tail(12)
            ),
        )
    };
    disposability().ensure(is_delivery_of(&call, &id), "the-exercise", || {
        format!(
            "worker A POSTed {:?} to WEBHOOK_URL; the contract is JSON with the notification's \
             \"id\" ({id}), \"name\", \"message\" and \"worker\"",
            call.body
        )
    });

    a.signal(signal);
    let signalled = Instant::now();
    let exit = a.wait_exit(EXIT_BOUND);
    if exit.is_none() {
        a.kill();
    }
    let exited = Instant::now();
    // The webhook answers `hold` after the call arrived; a worker that exited before then never
    // saw the answer, so for all it knows the notification was not delivered.
    let answered = exited >= call.at + hold;
    let saw_the_answer = exit.is_some() && answered;
    // Killed after the webhook had answered: worker A had delivered it, and simply did not stop.
    let delivered_then_kept_running = exit.is_none() && answered;
    let signal_name = name(signal);
    let held_for = format!(
        "the webhook holds each delivery for {:.0} s",
        hold.as_secs_f64()
    );

    let mut b = None;
    let redelivered = !saw_the_answer && !delivered_then_kept_running && {
        webhook.set_delay(Duration::ZERO);
        b = Some(worker(
            "worker B (started after worker A stopped)",
            &db,
            &webhook,
        ));
        // Only calls made after worker A had gone count: they can only be worker B's.
        let by_b = |calls: &[Call]| {
            calls
                .iter()
                .any(|call| call.at > exited && is_delivery_of(call, &id))
        };
        by_b(&webhook.wait_until(REDELIVERY_BOUND, by_b))
    };

    let Some(status) = exit else {
        let after_kill = if delivered_then_kept_running {
            "the webhook had answered that delivery by then, and worker A kept running after it: \
             the signal did not stop it"
        } else if redelivered {
            "worker B, started next, delivered it"
        } else {
            "worker B, started next, did not deliver it: the SIGKILL lost the notification"
        };
        disposability().fail(
            "workers-finish-or-hand-back",
            format!(
                "worker A was delivering notification {id} when {signal_name} came ({held_for}); \
                 {exit_bound} later it was still running, and the check killed it, as \
                 `docker stop` and Kubernetes SIGKILL a process that outlives their grace \
                 period ({after_kill}). A worker may finish its current job, but for a few \
                 seconds at most: then it hands the job back to the queue and exits"
            ),
        )
    };
    let ended = ending(status, signal, exited - signalled);
    disposability().ensure(
        saw_the_answer || redelivered,
        "workers-finish-or-hand-back",
        || {
            format!(
                "worker A was delivering notification {id} when {signal_name} came ({held_for}): \
             {ended}, before the webhook had answered, and worker B, started next, did not \
             deliver it within {redelivery_bound}: the notification was lost. A job must stay \
             in the queue until it is delivered, so that a worker that stops (or is killed) \
             before then leaves it for another one"
            )
        },
    );
    disposability().ensure(status.success(), "workers-finish-or-hand-back", || {
        format!(
            "worker A was delivering notification {id} when {signal_name} came ({held_for}): \
             {ended}. The notification was not lost, but the contract is exit code 0: the \
             worker finishes its job or hands it back, then exits cleanly"
        )
    });
    drop(b);
}

/// A worker told to stop in the middle of a job finishes it, or hands it back: either way, the
/// notification is delivered, and the worker exits 0 in time.
#[test]
fn a_worker_stopped_mid_job_loses_nothing_and_exits_0() {
    worker_signalled_mid_job(JOB_HOLD, Signal::SIGTERM);
}

/// Ctrl+C in a terminal, and some process managers, send SIGINT to a worker too: it means the
/// same thing as SIGTERM.
#[test]
fn sigint_stops_a_worker_mid_job_like_sigterm() {
    worker_signalled_mid_job(JOB_HOLD, Signal::SIGINT);
}

/// A job that would outlast the platform's patience is handed back, not waited for.
#[test]
fn a_worker_stopped_during_a_job_too_long_to_finish_hands_it_back() {
    worker_signalled_mid_job(ENDLESS_JOB, Signal::SIGTERM);
}
