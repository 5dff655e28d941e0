//! Checks for Factor VII — Port binding, run against `exercises/07-port-binding` and
//! `solutions/07-port-binding` alike.
//!
//! Every check runs the real binary with a `PORT` the harness picked (a free one, different each
//! time) and talks to it on `127.0.0.1:<PORT>` only. For the rest they read the process's socket
//! table in `/proc`: which address it listens on says whether it is reachable from outside its
//! machine or container, and what it listens on *instead* explains an app that never answers.
//!
//! For as long as the checks run, they hold port 8080, the exercise's old fixed port, themselves
//! (or find it busy already, which proves the same): an app that still binds a port of its own
//! choosing cannot start, as on any machine where that port is taken.

use kit_harness::app::READY_TIMEOUT;
use kit_harness::noticeboard::strip_ansi;
use kit_harness::procfs::{is_all_interfaces, listening_sockets};
use kit_harness::{App, AppBuilder, Lesson, app_binary, lesson};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

fn port_binding() -> &'static Lesson {
    lesson(7)
}

/// The port the exercise has wired into its code.
const OLD_PORT: u16 = 8080;

/// How long an app given a `PORT` it cannot use may take to stop.
const FAIL_FAST: Duration = Duration::from_secs(2);

/// How long an app that already listens on other ports gets to open the one it was given too.
const GRACE: Duration = Duration::from_secs(1);

/// Takes port 8080 (on every interface, so that no address can bind it) and keeps it until the
/// checks end; `false` if another check binary or program has it already, which makes it just as
/// busy.
fn hold_old_port() -> bool {
    static OLD: OnceLock<Option<TcpListener>> = OnceLock::new();
    OLD.get_or_init(|| TcpListener::bind(("0.0.0.0", OLD_PORT)).ok())
        .is_some()
}

/// What the checks did to port 8080, for failure messages.
fn old_port_note() -> String {
    let who = if hold_old_port() {
        "these checks hold it"
    } else {
        "another program on this machine holds it"
    };
    format!(
        "Port {OLD_PORT}, the exercise's old fixed port, is taken while the checks run ({who}), \
         as it may be on any machine"
    )
}

/// The app with a free `PORT` (set by the harness) and nothing else in its environment but what
/// the check adds; port 8080 is taken before it starts.
fn noticeboard(name: &str) -> AppBuilder {
    hold_old_port();
    AppBuilder::new(app_binary!())
        .name(name)
        .env("RUST_LOG", "warn")
}

/// `0.0.0.0:8080, [::]:8080`, or `no TCP port at all`: the addresses a process listens on.
fn describe(sockets: &[SocketAddr]) -> String {
    if sockets.is_empty() {
        return "no TCP port at all".into();
    }
    let names: Vec<String> = sockets.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// Starts the app and waits until `GET /health` answers 2xx on `127.0.0.1:<PORT>`, the port it
/// was given. An app that exits first, listens elsewhere, or stays silent fails the check with
/// what was observed: its output, and the addresses `/proc` says it listens on.
#[track_caller]
fn start(builder: AppBuilder) -> App {
    let mut app = builder.start();
    let port = app.port();
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut elsewhere_since: Option<Instant> = None;
    loop {
        if matches!(app.try_get("/health"), Ok(reply) if reply.is_success()) {
            return app;
        }
        if let Some(status) = app.poll_exit() {
            port_binding().fail("the-anti-pattern", exited_early(&app, status));
        }
        let sockets = listening_sockets(app.pid());
        if !sockets.is_empty() && sockets.iter().all(|addr| addr.port() != port) {
            let since = *elsewhere_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= GRACE {
                port_binding().fail(
                    "the-anti-pattern",
                    format!(
                        "{} was given PORT={port}, but it listens on {} (its socket table in \
                         /proc), not on port {port}. A platform sends traffic to the port it put \
                         in PORT, and only there; a port chosen in the code is one nobody routes \
                         to, and one that may be taken. Its last output:\n{}",
                        app.name(),
                        describe(&sockets),
                        last_output(&app, 6)
                    ),
                );
            }
        }
        if Instant::now() >= deadline {
            port_binding().fail(
                "the-anti-pattern",
                format!(
                    "{} was given PORT={port} and did not answer GET /health on \
                     127.0.0.1:{port} within {READY_TIMEOUT:?}; it listens on {} (its socket \
                     table in /proc). The contract is 200 on the port in PORT, reachable \
                     through loopback. Its last output:\n{}",
                    app.name(),
                    describe(&sockets),
                    last_output(&app, 6)
                ),
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Why an app that was given a free `PORT` stopped before it answered there.
fn exited_early(app: &App, status: ExitStatus) -> String {
    let port = app.port();
    let output = strip_ansi(&app.output());
    let interpretation = if names_word(&output, &OLD_PORT.to_string()) {
        format!(
            " Its output names port {OLD_PORT}: it binds the port written in its code, not the \
             one in PORT."
        )
    } else if !names_word(&output, &port.to_string()) {
        format!(" Nothing in its output mentions port {port}, the one it was given.")
    } else {
        String::new()
    };
    format!(
        "{} was given PORT={port}, a free port, and exited ({status}) before answering there. {}.\
         {interpretation} Its last output:\n{}",
        app.name(),
        old_port_note(),
        last_output(app, 6)
    )
}

/// The app's last `count` lines of output, masked, without terminal colours.
fn last_output(app: &App, count: usize) -> String {
    strip_ansi(&app.tail(count))
}

/// The first lines of the app's stderr (a panic message comes before its backtrace), masked.
fn stderr_head(app: &App) -> String {
    const SHOWN: usize = 4;
    let stderr = strip_ansi(&app.stderr());
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let mut text: String = lines
        .iter()
        .take(SHOWN)
        .map(|line| format!("    | {line}\n"))
        .collect();
    if lines.len() > SHOWN {
        text.push_str(&format!("    | … and {} more lines\n", lines.len() - SHOWN));
    }
    app.mask(&text)
}

/// Whether `word` occurs in `text` as a word of its own: `PORT` in `PORT="abc" is not a port`,
/// not in `SUPPORTED`; `8080` in `127.0.0.1:8080`, not in `18080`.
fn names_word(text: &str, word: &str) -> bool {
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_part) && !after.is_some_and(is_part)
    })
}

/// The app was started with a `PORT` it cannot use (`how`, e.g. `PORT="abc"`) and
/// `RUST_BACKTRACE=1`: it must stop within [`FAIL_FAST`], non-zero, with a line on stderr that
/// names `needle` (the variable, or the port), and without a panic or a backtrace.
#[track_caller]
fn ensure_stops(mut app: App, how: &str, needle: &str) {
    let deadline = Instant::now() + FAIL_FAST;
    let status = loop {
        if let Some(status) = app.poll_exit() {
            break status;
        }
        let sockets = listening_sockets(app.pid());
        if !sockets.is_empty() {
            port_binding().fail(
                "the-anti-pattern",
                format!(
                    "with {how}, the app did not stop: it listens on {} (its socket table in \
                     /proc). That is a silent fallback: the platform waits on the port it gave, \
                     nothing answers there, and the cause shows up minutes later as a failed \
                     health check. A PORT the app cannot use must stop it at once, with one line \
                     naming it. Its last output:\n{}",
                    describe(&sockets),
                    last_output(&app, 6)
                ),
            );
        }
        if Instant::now() >= deadline {
            port_binding().fail(
                "the-anti-pattern",
                format!(
                    "with {how}, the app was still running {FAIL_FAST:?} after it started \
                     (listening on no TCP port). A PORT the app cannot use must stop it at once, \
                     with one line naming it. Its last output:\n{}",
                    last_output(&app, 6)
                ),
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    port_binding().ensure(!status.success(), "the-fix", || {
        format!(
            "with {how}, the app stopped with exit status 0: a process that cannot serve must say \
             so with a non-zero status, or the platform counts it as a clean exit and may not \
             restart or report it"
        )
    });
    let stderr = strip_ansi(&app.stderr());
    port_binding().ensure(!stderr.contains("panicked"), "the-fix", || {
        format!(
            "with {how}, the app panicked ({status}). A wrong setting is not a bug in the \
             program: `.expect()` or `.unwrap()` on it prints a panic, and with RUST_BACKTRACE=1 \
             (set for this check) a backtrace, where one line naming the setting would do. \
             Return an error and print it in `main`. Its stderr:\n{}",
            stderr_head(&app)
        )
    });
    port_binding().ensure(
        !stderr.to_lowercase().contains("backtrace"),
        "the-fix",
        || {
            format!(
                "with {how}, the app stopped ({status}) and printed a backtrace, because this \
                 check sets RUST_BACKTRACE=1. When `main` returns an error, Rust prints its \
                 `Debug` form, and an `anyhow::Error`'s includes the backtrace; print the error \
                 yourself on one line (`eprintln!(\"{{err:#}}\")`) and exit non-zero. Its \
                 stderr:\n{}",
                stderr_head(&app)
            )
        },
    );
    port_binding().ensure(names_word(&stderr, needle), "the-fix", || {
        let also = if needle != OLD_PORT.to_string() && names_word(&stderr, &OLD_PORT.to_string()) {
            format!(
                " Its stderr names port {OLD_PORT}: given this PORT, it tried the port written in \
                 its code instead. {}.",
                old_port_note()
            )
        } else {
            String::new()
        };
        format!(
            "with {how}, the app stopped ({status}), but no line of its stderr names {needle}: \
             whoever deploys it would have to read the code to learn what is wrong.{also} Its \
             output:\n{}",
            last_output(&app, 8)
        )
    });
}

/// The app answers on the port the environment gives it, although its old port is taken.
#[test]
fn answers_on_the_port_it_is_given() {
    let app = start(noticeboard("the app"));
    let reply = app.get("/");
    port_binding().ensure(reply.status == 200, "the-exercise", || {
        format!(
            "GET / on the port in PORT answered {} {:?}; the contract is 200 with the visit count",
            reply.status, reply.body
        )
    });
}

/// How long the checks watch a ready app for a listening socket on another port (a second server
/// started a moment after the first, say).
const OTHER_PORTS_WATCH: Duration = Duration::from_millis(200);

/// The app serves on the port it is given and on no other: every listening socket of its process
/// tree (the process and any it started) is on `PORT`.
#[test]
fn listens_on_no_port_but_the_one_it_is_given() {
    let app = start(noticeboard("the app"));
    let port = app.port();
    let watch_until = Instant::now() + OTHER_PORTS_WATCH;
    let others = loop {
        let mut tree = vec![app.pid()];
        tree.extend(kit_harness::procfs::descendants(app.pid()));
        let others: Vec<(u32, SocketAddr)> = tree
            .iter()
            .flat_map(|&pid| {
                listening_sockets(pid)
                    .into_iter()
                    .map(move |addr| (pid, addr))
            })
            .filter(|(_, addr)| addr.port() != port)
            .collect();
        if !others.is_empty() || Instant::now() >= watch_until {
            break others;
        }
        thread::sleep(Duration::from_millis(20));
    };
    port_binding().ensure(others.is_empty(), "the-anti-pattern", || {
        let listed: Vec<String> = others
            .iter()
            .map(|(pid, addr)| {
                if *pid == app.pid() {
                    addr.to_string()
                } else {
                    format!("{addr} (in its child process {pid})")
                }
            })
            .collect();
        format!(
            "{} was given PORT={port} and answers there, but it also listens on {} (its socket \
             table in /proc): a port of its own choosing. A platform routes traffic to the port \
             in PORT and nowhere else; any other port is one nobody routes to, one a second copy \
             on the machine cannot take, and one that may be taken already. Serve everything \
             (health, metrics, admin) on PORT",
            app.name(),
            listed.join(", ")
        )
    });
}

/// Two copies on one machine, each on the port it was given: a platform runs many.
#[test]
fn two_instances_on_different_ports_both_answer() {
    let a = start(noticeboard("instance A"));
    let b = start(noticeboard("instance B"));
    assert_ne!(
        a.port(),
        b.port(),
        "the harness gave both instances one port"
    );
    for app in [&a, &b] {
        let reply = app.get("/");
        port_binding().ensure(reply.status == 200, "the-exercise", || {
            format!(
                "{} answered GET / on its PORT={} with {} {:?}; the contract is 200",
                app.name(),
                app.port(),
                reply.status,
                reply.body
            )
        });
    }
}

/// Without `HOST`, the listening socket is on every interface: traffic forwarded into a container,
/// or sent by a load balancer on another machine, never arrives on loopback.
#[test]
fn listens_on_all_interfaces_when_host_is_unset() {
    let app = start(noticeboard("the app (HOST unset)"));
    let port = app.port();
    let on_port: Vec<SocketAddr> = listening_sockets(app.pid())
        .into_iter()
        .filter(|addr| addr.port() == port)
        .collect();
    port_binding().ensure(
        on_port.iter().any(is_all_interfaces),
        "inside-a-container-loopback-is-private",
        || {
            format!(
                "with HOST unset, the app listens on {} (its socket table in /proc), not on all \
                 interfaces (0.0.0.0:{port} or [::]:{port}). Loopback is reachable only from the \
                 same machine; inside a container, only from the same container: traffic that \
                 `docker run -p` or a Kubernetes Service forwards arrives on another interface \
                 and is refused",
                describe(&on_port)
            )
        },
    );
}

/// `HOST=127.0.0.1` keeps the app off the network: the operator, not the code, decides.
#[test]
fn host_narrows_the_listening_address() {
    let app = start(noticeboard("the app (HOST=127.0.0.1)").env("HOST", "127.0.0.1"));
    let port = app.port();
    let on_port: Vec<SocketAddr> = listening_sockets(app.pid())
        .into_iter()
        .filter(|addr| addr.port() == port)
        .collect();
    port_binding().ensure(
        !on_port.is_empty() && on_port.iter().all(|addr| addr.ip().is_loopback()),
        "the-exercise",
        || {
            format!(
                "with HOST=127.0.0.1, the app listens on {} (its socket table in /proc), not on \
                 127.0.0.1:{port} only: it ignores HOST. An operator sets HOST=127.0.0.1 to keep \
                 a process off the network (a proxy on the same machine in front of it, a \
                 laptop on public Wi-Fi); all interfaces is the default, not a rule",
                describe(&on_port)
            )
        },
    );
}

/// A `PORT` that is not a port stops the app at once, naming `PORT`: no fallback, no panic.
#[test]
fn an_invalid_port_stops_the_app_naming_port() {
    for value in ["abc", "70000"] {
        let app = noticeboard(&format!("the app (PORT={value})"))
            .env("PORT", value)
            .env("RUST_BACKTRACE", "1")
            .start();
        ensure_stops(app, &format!("PORT={value:?}"), "PORT");
    }
}

/// A port another process already listens on stops the app at once, naming the port.
#[test]
fn a_port_in_use_stops_the_app_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("cannot take a loopback port");
    let port = taken.local_addr().expect("no local address").port();
    let app = noticeboard("the app (its PORT is taken)")
        .port(port)
        .env("RUST_BACKTRACE", "1")
        .start();
    ensure_stops(
        app,
        &format!("PORT={port}, a port another process already listens on"),
        &port.to_string(),
    );
    drop(taken);
}
