//! Checks for Factor II — Dependencies, run against `exercises/02-dependencies` and
//! `solutions/02-dependencies` alike.
//!
//! Every check runs the real binary with a local HTTP stub as its webhook and judges only what can
//! be seen from outside: what reaches the stub, which process sent it, which programs the app tried
//! to run from its `PATH`, and which shared libraries the built binary needs and loads.
//!
//! The checks judge the app, not one process of it. This exercise is one process, which calls the
//! webhook itself; an app whose `Procfile` declares more process types (Factor VIII's `worker`,
//! which delivers what the web process accepted) runs with every one of them, and the call is
//! judged from whichever process makes it. `cargo xtask verify` judges the finished noticeboard so.

use kit_harness::app::MINIMAL_PATH;
use kit_harness::stub::Call;
use kit_harness::trap::TrapRun;
use kit_harness::{
    App, AppBuilder, HttpStub, Lesson, Reply, TrapCommands, app_binary, app_package_dir, elf,
    lesson, procfile, procfs,
};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

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

/// One process type of the app, ready to start: `web`, or another type its Procfile declares.
struct ProcessType {
    kind: String,
    builder: AppBuilder,
}

/// The app's process types, its web process first: the types its `Procfile` declares, each started
/// with the command the Procfile gives, or, without a Procfile, its one binary as the web process.
fn process_types() -> Vec<ProcessType> {
    let default = || ProcessType {
        kind: "web".into(),
        builder: AppBuilder::new(app_binary!()),
    };
    let Some(declared) =
        procfile::process_types(Path::new(app_package_dir!()), Path::new(app_binary!()))
    else {
        return vec![default()];
    };
    let mut types: Vec<ProcessType> = declared
        .into_iter()
        .map(|declared| {
            let mut builder =
                AppBuilder::new(&declared.binary).name(format!("the `{}` process", declared.name));
            for arg in declared.args {
                builder = builder.arg(arg);
            }
            ProcessType {
                kind: declared.name,
                builder,
            }
        })
        .collect();
    match types.iter().position(|process| process.kind == "web") {
        Some(web) => {
            let web = types.remove(web);
            types.insert(0, web);
        }
        None => types.insert(0, default()),
    }
    types
}

/// The app's processes, running: the web process, which serves HTTP, then the others.
struct Running {
    web: App,
    /// Every other process type, each with its name (`worker`).
    others: Vec<(String, App)>,
}

impl Running {
    /// Every process of the app: `(pid, type)`.
    fn processes(&self) -> Vec<(u32, &str)> {
        let mut processes = vec![(self.web.pid(), "web")];
        processes.extend(
            self.others
                .iter()
                .map(|(kind, app)| (app.pid(), kind.as_str())),
        );
        processes
    }

    /// The app's processes for a message: `pid 123` for a one-process app, else each with its type.
    fn described(&self) -> String {
        let processes = self.processes();
        match processes.as_slice() {
            [(pid, _)] => format!("pid {pid}"),
            _ => {
                let each: Vec<String> = processes
                    .iter()
                    .map(|(pid, kind)| format!("{pid}, `{kind}`"))
                    .collect();
                format!("pids {}", each.join("; "))
            }
        }
    }
}

/// The app, forwarding to `stub`, with `path` as its whole `PATH`: every process type, started;
/// the web process ready.
fn start(stub: &HttpStub, path: &str) -> Running {
    let mut web = None;
    let mut others = Vec::new();
    for process in process_types() {
        let builder = process
            .builder
            .env("WEBHOOK_URL", stub.url(WEBHOOK_PATH))
            .env("PATH", path)
            .env("RUST_LOG", "warn");
        if web.is_none() {
            web = Some(builder.spawn());
        } else {
            // A process with no HTTP to serve (a worker): nothing to wait for.
            others.push((process.kind, builder.start()));
        }
    }
    Running {
        web: web.expect("process_types() starts with the web process"),
        others,
    }
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

    let reply = app.web.post_json("/notifications", &sent);
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

fn look_at_the_call(app_pids: &[u32], call: &Call, webhook: SocketAddr) -> InFlight {
    let descendants: Vec<(u32, String)> = app_pids
        .iter()
        .flat_map(|pid| procfs::descendants(*pid))
        .map(|pid| (pid, procfs::describe(pid)))
        .collect();
    let mut candidates = app_pids.to_vec();
    candidates.extend(descendants.iter().map(|(pid, _)| *pid));
    InFlight {
        holders: procfs::tcp_socket_holders(call.peer, webhook, &candidates)
            .into_iter()
            .map(|pid| (pid, procfs::describe(pid)))
            .collect(),
        descendants,
    }
}

/// The connection to the webhook belongs to one of the app's own processes (the web process, or a
/// worker the Procfile declares): no child process makes the call, whether the app starts it as
/// `curl`, `/usr/bin/curl` or `sh -c "curl …"`.
#[test]
fn the_app_makes_the_webhook_call_itself() {
    // The machine's usual PATH this time: a `curl` found there, or named by its absolute path,
    // reaches the webhook, and the check sees which process made the call.
    let stub = HttpStub::start().delay(HOLD);
    let app = start(&stub, MINIMAL_PATH);
    let app_pids: Vec<u32> = app.processes().iter().map(|(pid, _)| *pid).collect();
    let sent = notification();
    let url = app.web.url("/notifications");

    let (calls, in_flight, reply) = thread::scope(|scope| {
        let posting = scope.spawn(|| kit_harness::http::post_json(&url, &sent));
        let calls = stub.wait_for_calls(1, CALL_TIMEOUT);
        // Right away, while the webhook holds the call open and its caller waits for the answer.
        let in_flight = calls
            .first()
            .map(|call| look_at_the_call(&app_pids, call, stub.addr()));
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
        .filter(|(pid, _)| !app_pids.contains(pid))
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
            "the call to the webhook came from {}, not from the app ({}). The app hands \
             the HTTP call to a program that its Cargo.toml does not declare and Cargo.lock does \
             not pin; it works only where that program is installed, in whatever version is \
             there. Make the call from Rust, with a crate declared in Cargo.toml.",
            callers.join(" and "),
            app.described()
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
                "while the webhook held the call to {} {} open, the app ({}) had child \
                 processes: {}. The app hands its work to programs its Cargo.toml does not declare.",
                call.method,
                call.path,
                app.described(),
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
    // the libraries of libraries, which NEEDED alone does not show. Every process of the app: the
    // one that made the call may be a worker.
    let stub = HttpStub::start();
    let traps = TrapCommands::new(&TRAPPED_TOOLS);
    let app = start(&stub, &path_of(&traps));
    let reply = kit_harness::http::post_json(&app.web.url("/notifications"), &notification());
    if reply.is_ok_and(|reply| reply.is_success()) {
        stub.wait_for_calls(1, CALL_TIMEOUT);
    }
    for (pid, kind) in app.processes() {
        let loaded: Vec<String> = procfs::mapped_libraries(pid)
            .iter()
            .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
            .filter(|lib| elf::is_openssl(lib))
            .collect();
        let who = if app.others.is_empty() {
            format!("the app (pid {pid})")
        } else {
            format!("the app's `{kind}` process (pid {pid})")
        };
        dependencies().ensure(loaded.is_empty(), "system-libraries", || {
            format!(
                "after POST /notifications, {who} has {} loaded from the system \
                 (/proc/{pid}/maps): it uses the system's OpenSSL, which Cargo.toml cannot \
                 declare and Cargo.lock cannot pin. A TLS stack written in Rust (rustls) is \
                 compiled into the binary instead.",
                loaded.join(", "),
            )
        });
    }
}

fn join(libraries: &[&String]) -> String {
    libraries
        .iter()
        .map(|lib| format!("`{lib}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Without `WEBHOOK_URL` the app cannot do its job: the process that calls the webhook says so in
/// one line and stops, with no panic and no backtrace even when `RUST_BACKTRACE=1` is exported.
/// Green on the shipped exercise. Every process type of the app is started without it: one that
/// does not call the webhook (a web process that leaves delivery to a worker) may run on, but one
/// of them must stop, and each that stops must name the variable.
#[test]
fn stops_at_once_naming_webhook_url_when_it_is_unset() {
    let mut processes: Vec<(String, App)> = process_types()
        .into_iter()
        .map(|process| {
            let app = process
                .builder
                .env("RUST_BACKTRACE", "1")
                .env("RUST_LOG", "warn")
                .start();
            (process.kind, app)
        })
        .collect();
    let one_process = processes.len() == 1;
    let who = |kind: &str| {
        if one_process {
            "the app".to_string()
        } else {
            format!("the app's `{kind}` process")
        }
    };
    let named = |app: &App| app.output().contains("WEBHOOK_URL");
    // Until a process has stopped naming the variable (or every process has stopped): the others
    // are judged as they are then.
    let deadline = Instant::now() + STOP_BOUND;
    loop {
        let mut all_stopped = true;
        let mut one_named = false;
        for (_, app) in &mut processes {
            match app.poll_exit() {
                Some(_) => one_named |= named(app),
                None => all_stopped = false,
            }
        }
        if one_named || all_stopped || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let stopped: Vec<(String, ExitStatus, String)> = processes
        .iter_mut()
        .filter_map(|(kind, app)| Some((kind.clone(), app.poll_exit()?, app.output())))
        .collect();
    dependencies().ensure(!stopped.is_empty(), "the-exercise", || {
        let running: Vec<String> = processes
            .iter()
            .map(|(kind, app)| format!("{} (`{kind}`)", app.name()))
            .collect();
        format!(
            "without WEBHOOK_URL, {} still running after {STOP_BOUND:?}: {}. The contract is that \
             the process that calls the webhook stops at once, with a non-zero exit and a message \
             naming WEBHOOK_URL",
            if one_process {
                "the app was"
            } else {
                "every process of the app was"
            },
            running.join("; ")
        )
    });
    for (kind, status, output) in stopped {
        dependencies().ensure(
            !status.success() && output.contains("WEBHOOK_URL"),
            "the-exercise",
            || {
                format!(
                    "without WEBHOOK_URL {} exited with {status} and said: {:?}; the contract is a \
                     non-zero exit and a message naming WEBHOOK_URL",
                    who(&kind),
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
                    "without WEBHOOK_URL {} stopped, but with a panic or a backtrace: {:?}; the \
                     contract is one line naming WEBHOOK_URL",
                    who(&kind),
                    output.trim()
                )
            },
        );
    }
}
