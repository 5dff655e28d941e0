//! Checks for Factor II — Dependencies, run against `exercises/02-dependencies` and
//! `solutions/02-dependencies` alike.
//!
//! Every check runs the real binary with a local HTTP stub as its webhook and judges only what can
//! be seen from outside: what reaches the stub, which process sent it, which programs the app tried
//! to run from its `PATH`, and which shared libraries the built binary needs and loads.

use kit_harness::app::MINIMAL_PATH;
use kit_harness::stub::Call;
use kit_harness::trap::TrapRun;
use kit_harness::{
    App, AppBuilder, HttpStub, Lesson, Reply, TrapCommands, app_binary, elf, lesson, procfs,
};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;

fn dependencies() -> &'static Lesson {
    lesson(2)
}

/// The system tools a webhook call is most often handed to (`http` is HTTPie). On the app's `PATH`
/// each one is a trap: it records that it ran, and fails, as it would on a machine without it.
const TRAPPED_TOOLS: [&str; 3] = ["curl", "wget", "http"];

/// Where the webhook stub listens, under its own address: `WEBHOOK_URL` is `http://<stub><this>`.
const WEBHOOK_PATH: &str = "/hooks/noticeboard";

/// How long after `POST /notifications` the webhook may receive the call (an app may answer first
/// and forward in the background).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the slow webhook holds each call open, while the check looks at who made it.
const HOLD: Duration = Duration::from_secs(1);

/// How soon an app started without `WEBHOOK_URL` must have stopped.
const STOP_BOUND: Duration = Duration::from_secs(5);

/// A notification that a shell would mangle (quotes, `$`, backquotes, `&`) and that is not ASCII.
fn notification() -> serde_json::Value {
    serde_json::json!({
        "name": "Ada O'Hara",
        "message": "Tea's ready in room B & biscuits at 3 $HOME; `date` ☕ 100% — ça va?",
    })
}

/// The app, forwarding to `stub`, with `path` as its whole `PATH`.
fn start(stub: &HttpStub, path: &str) -> App {
    AppBuilder::new(app_binary!())
        .env("WEBHOOK_URL", stub.url(WEBHOOK_PATH))
        .env("PATH", path)
        .env("RUST_LOG", "warn")
        .spawn()
}

fn path_of(traps: &TrapCommands) -> String {
    traps
        .dir()
        .to_str()
        .expect("the traps' temp dir is not UTF-8")
        .to_string()
}

fn describe_reply(reply: &Reply) -> String {
    let body = reply.body.trim();
    if body.is_empty() {
        format!("{}", reply.status)
    } else {
        format!("{} {body}", reply.status)
    }
}

/// A command line cut to a readable length (the JSON body it carries can be long).
fn shorten(command: &str) -> String {
    const MAX: usize = 100;
    match command.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &command[..end]),
        None => command.to_string(),
    }
}

fn describe_runs(runs: &[TrapRun]) -> String {
    runs.iter()
        .map(|run| format!("`{}`", shorten(&run.command_line())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The webhook gets the notification while the app's `PATH` holds nothing but traps: a fix that
/// still needs `curl` (or `wget`, or a shell that runs one) from the machine springs one instead.
#[test]
fn notifications_reach_the_webhook_without_a_system_curl() {
    let stub = HttpStub::start();
    let traps = TrapCommands::new(&TRAPPED_TOOLS);
    let app = start(&stub, &path_of(&traps));
    let sent = notification();

    let reply = app.post_json("/notifications", &sent);
    // A 2xx may come before the call (an app may forward in the background): wait for it then.
    let waited = if reply.is_success() {
        format!(" within {CALL_TIMEOUT:?}")
    } else {
        String::new()
    };
    let calls = if reply.is_success() {
        stub.wait_for_calls(1, CALL_TIMEOUT)
    } else {
        stub.calls()
    };

    let runs = traps.runs();
    dependencies().ensure(runs.is_empty(), "the-anti-pattern", || {
        format!(
            "POST /notifications made the app run {} from its PATH, where the check had put a \
             stand-in that fails, as a machine without {tool} would. The app depends on a program \
             that its Cargo.toml does not declare and Cargo.lock does not pin: on a fresh machine, \
             a CI runner or a slim container, every notification is lost. (The app answered {}.)",
            describe_runs(&runs),
            describe_reply(&reply),
            tool = runs[0].tool,
        )
    });
    let Some(call) = calls.first() else {
        dependencies().fail(
            "the-fix",
            format!(
                "POST /notifications answered {}, and the webhook at WEBHOOK_URL received no \
                 call{waited}. The app's PATH held nothing but stand-ins for {}, and \
                 none of them ran. Make the call from Rust, with a crate declared in Cargo.toml.",
                describe_reply(&reply),
                TRAPPED_TOOLS.join(", "),
            ),
        )
    };
    check_call(call, &sent);
    dependencies().ensure(reply.is_success(), "the-exercise", || {
        format!(
            "the webhook received the notification, but POST /notifications answered {}; the \
             contract is 2xx once the webhook has accepted it",
            describe_reply(&reply)
        )
    });
}

/// The call the webhook received is the contract's: a JSON POST of the notification.
fn check_call(call: &Call, sent: &serde_json::Value) {
    dependencies().ensure(
        call.method == "POST" && call.path == WEBHOOK_PATH,
        "the-exercise",
        || {
            format!(
                "the webhook received {} {}; the contract is POST to the WEBHOOK_URL as given \
                 (path {WEBHOOK_PATH})",
                call.method, call.path
            )
        },
    );
    let content_type = call.header("content-type").unwrap_or("(none)");
    dependencies().ensure(
        content_type.starts_with("application/json"),
        "the-exercise",
        || {
            format!(
                "the webhook received a call with Content-Type {content_type}; the contract is \
                 application/json"
            )
        },
    );
    let received = call.json().unwrap_or_default();
    dependencies().ensure(
        received["name"] == sent["name"] && received["message"] == sent["message"],
        "the-exercise",
        || {
            format!(
                "POST /notifications got {sent}, but the webhook received the body {:?}; the \
                 contract is the same name and message, as JSON",
                call.body
            )
        },
    );
}

/// What the check saw while the webhook held the call open.
struct InFlight {
    /// The processes holding the caller's end of the connection, each described.
    holders: Vec<(u32, String)>,
    /// The app's child processes (and theirs), each described.
    descendants: Vec<(u32, String)>,
}

fn look_at_the_call(app_pid: u32, call: &Call, webhook: SocketAddr) -> InFlight {
    let descendants: Vec<(u32, String)> = procfs::descendants(app_pid)
        .into_iter()
        .map(|pid| (pid, procfs::describe(pid)))
        .collect();
    let mut candidates = vec![app_pid];
    candidates.extend(descendants.iter().map(|(pid, _)| *pid));
    InFlight {
        holders: procfs::tcp_socket_holders(call.peer, webhook, &candidates)
            .into_iter()
            .map(|pid| (pid, procfs::describe(pid)))
            .collect(),
        descendants,
    }
}

/// The connection to the webhook belongs to the app's own process: no child process makes the
/// call, whether the app starts it as `curl`, `/usr/bin/curl` or `sh -c "curl …"`.
#[test]
fn the_app_makes_the_webhook_call_itself() {
    // The machine's usual PATH this time: a `curl` found there, or named by its absolute path,
    // reaches the webhook, and the check sees which process made the call.
    let stub = HttpStub::start().delay(HOLD);
    let app = start(&stub, MINIMAL_PATH);
    let app_pid = app.pid();
    let sent = notification();
    let url = app.url("/notifications");

    let (calls, in_flight, reply) = thread::scope(|scope| {
        let posting = scope.spawn(|| kit_harness::http::post_json(&url, &sent));
        let calls = stub.wait_for_calls(1, CALL_TIMEOUT);
        // Right away, while the webhook holds the call open and its caller waits for the answer.
        let in_flight = calls
            .first()
            .map(|call| look_at_the_call(app_pid, call, stub.addr()));
        (
            calls,
            in_flight,
            posting.join().expect("the POST thread panicked"),
        )
    });

    let (Some(call), Some(in_flight)) = (calls.first(), in_flight) else {
        let reply = reply.map_or_else(|err| format!("no answer ({err})"), |r| describe_reply(&r));
        dependencies().fail(
            "the-fix",
            format!(
                "POST /notifications answered {reply}, and the webhook at WEBHOOK_URL received no \
                 call within {CALL_TIMEOUT:?} (PATH={MINIMAL_PATH}). If the app runs a program to \
                 make the call, this machine may not have it: exactly the problem. Make the call \
                 from Rust, with a crate declared in Cargo.toml."
            ),
        )
    };
    let others: Vec<&(u32, String)> = in_flight
        .holders
        .iter()
        .filter(|(pid, _)| *pid != app_pid)
        .collect();
    dependencies().ensure(others.is_empty(), "the-anti-pattern", || {
        let callers: Vec<String> = others
            .iter()
            .map(|(pid, what)| {
                let child = in_flight.descendants.iter().any(|(child, _)| child == pid);
                format!(
                    "process {pid}, `{}`{}",
                    shorten(what),
                    if child { ", started by the app" } else { "" }
                )
            })
            .collect();
        format!(
            "the call to the webhook came from {}, not from the app (pid {app_pid}). The app hands \
             the HTTP call to a program that its Cargo.toml does not declare and Cargo.lock does \
             not pin; it works only where that program is installed, in whatever version is \
             there. Make the call from Rust, with a crate declared in Cargo.toml.",
            callers.join(" and ")
        )
    });
    // The connection was gone before the check could see it: then at least the app must have had
    // no child process while the call was in flight.
    dependencies().ensure(
        !in_flight.holders.is_empty() || in_flight.descendants.is_empty(),
        "the-anti-pattern",
        || {
            let children: Vec<String> = in_flight
                .descendants
                .iter()
                .map(|(pid, what)| format!("process {pid}, `{}`", shorten(what)))
                .collect();
            format!(
                "while the webhook held the call to {} {} open, the app (pid {app_pid}) had child \
                 processes: {}. The app hands its work to programs its Cargo.toml does not declare.",
                call.method,
                call.path,
                children.join(", ")
            )
        },
    );
}

/// The built binary needs no shared library beyond the C runtime: above all not the system's
/// OpenSSL, which `reqwest` with `native-tls` (or any `openssl-sys`) links on Linux. Green on the
/// shipped exercise; it guards the fix.
#[test]
fn the_binary_needs_no_system_library_beyond_the_c_runtime() {
    let binary = Path::new(app_binary!());
    let name = binary.file_name().unwrap_or_default().to_string_lossy();
    let needed = elf::needed_libraries(binary)
        .unwrap_or_else(|err| panic!("cannot read the built binary's dynamic section: {err}"));
    let openssl: Vec<&String> = needed.iter().filter(|lib| elf::is_openssl(lib)).collect();
    dependencies().ensure(openssl.is_empty(), "system-libraries", || {
        format!(
            "the built binary `{name}` asks the loader for {} (NEEDED in its ELF dynamic section; \
             `readelf -d` shows the same). It links the system's OpenSSL: a library Cargo.toml \
             cannot declare and Cargo.lock cannot pin, needed at build time (libssl-dev) and at run \
             time, in a compatible version, on every machine and in every container the app runs \
             in. A TLS stack written in Rust (rustls) is compiled into the binary instead.",
            join(&openssl)
        )
    });
    let others: Vec<&String> = needed
        .iter()
        .filter(|lib| !elf::is_c_runtime(lib))
        .collect();
    dependencies().ensure(others.is_empty(), "system-libraries", || {
        format!(
            "the built binary `{name}` asks the loader for {} (NEEDED in its ELF dynamic section; \
             `readelf -d` shows the same), beyond the C runtime. Each is a system library that \
             Cargo.toml cannot declare and Cargo.lock cannot pin: a machine or container without \
             it, or with another version, cannot run the app.",
            join(&others)
        )
    });

    // What the loader really maps once the app has made a call: libraries opened at run time, and
    // the libraries of libraries, which NEEDED alone does not show.
    let stub = HttpStub::start();
    let traps = TrapCommands::new(&TRAPPED_TOOLS);
    let app = start(&stub, &path_of(&traps));
    let _ = kit_harness::http::post_json(&app.url("/notifications"), &notification());
    let loaded: Vec<String> = procfs::mapped_libraries(app.pid())
        .iter()
        .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
        .filter(|lib| elf::is_openssl(lib))
        .collect();
    dependencies().ensure(loaded.is_empty(), "system-libraries", || {
        format!(
            "after POST /notifications, the app (pid {}) has {} loaded from the system \
             (/proc/{}/maps): it uses the system's OpenSSL, which Cargo.toml cannot declare and \
             Cargo.lock cannot pin. A TLS stack written in Rust (rustls) is compiled into the \
             binary instead.",
            app.pid(),
            loaded.join(", "),
            app.pid()
        )
    });
}

fn join(libraries: &[&String]) -> String {
    libraries
        .iter()
        .map(|lib| format!("`{lib}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Without `WEBHOOK_URL` the app cannot do its job: it says so in one line and stops, with no
/// panic and no backtrace even when `RUST_BACKTRACE=1` is exported. Green on the shipped exercise.
#[test]
fn stops_at_once_naming_webhook_url_when_it_is_unset() {
    let finished = AppBuilder::new(app_binary!())
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "warn")
        .run_to_end(STOP_BOUND);
    let output = format!("{}{}", finished.stdout, finished.stderr);
    dependencies().ensure(
        !finished.status.success() && output.contains("WEBHOOK_URL"),
        "the-exercise",
        || {
            format!(
                "without WEBHOOK_URL the app exited with {} and said: {:?}; the contract is a \
                 non-zero exit and a message naming WEBHOOK_URL",
                finished.status,
                output.trim()
            )
        },
    );
    let lower = output.to_lowercase();
    dependencies().ensure(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "the-exercise",
        || {
            format!(
                "without WEBHOOK_URL the app stopped, but with a panic or a backtrace: {:?}; the \
                 contract is one line naming WEBHOOK_URL",
                output.trim()
            )
        },
    );
}
