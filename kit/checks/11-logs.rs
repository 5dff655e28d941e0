//! Checks for Factor XI — Logs, run against `exercises/11-logs` and `solutions/11-logs` alike.
//!
//! Every check runs the real binary with stdout and stderr as pipes (not a terminal), makes a few
//! requests, and judges what a log router would see: the lines on stdout, when they arrived, and
//! whether the process wrote or held open any file. Any JSON shape a log platform reads is fine
//! (tracing-subscriber's, flattened or not; bunyan's; ECS): see `kit_harness::logs`.

use kit_harness::app::{Line, Stream};
use kit_harness::logs::{self, Event, Level};
use kit_harness::noticeboard::strip_ansi;
use kit_harness::{App, AppBuilder, Lesson, Signal, app_binary, lesson, procfs};
use serde_json::Value;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

fn logs_lesson() -> &'static Lesson {
    lesson(11)
}

/// How long a request's log line may take to reach the harness once the response is in. A process
/// that writes each event as it happens has written it before the response leaves; this is only
/// slack for a busy machine.
const ARRIVAL: Duration = Duration::from_secs(2);

/// How long the app gets to exit after SIGTERM before it is killed.
const STOP: Duration = Duration::from_secs(5);

/// Field names that hold a request's duration, lower-cased: `latency` (tower-http), `duration`,
/// `elapsed`, `took`, `response_time`, `time.busy` (a closed span)...
const LATENCY_KEYS: &[&str] = &[
    "latency",
    "duration",
    "elapsed",
    "took",
    "response_time",
    "responsetime",
    "busy",
];

/// The noticeboard with `RUST_LOG` set, its stdout and stderr pipes read line by line.
fn noticeboard(name: &str, rust_log: &str) -> App {
    AppBuilder::new(app_binary!())
        .name(name)
        .env("RUST_LOG", rust_log)
        .spawn()
}

/// `/notifications/<id>` for an id no notification has, different in every test.
fn missing_notification() -> String {
    let id = RandomState::new().hash_one(Instant::now()) % 1_000_000_000 + 1_000_000;
    format!("/notifications/{id}")
}

/// `GET path`, which the contract says answers `status`.
#[track_caller]
fn get(app: &App, path: &str, status: u16) {
    let reply = app.get(path);
    assert_eq!(
        reply.status,
        status,
        "GET {path} on {} answered {} {:?}; the contract says {status} (README.md)",
        app.name(),
        reply.status,
        reply.body
    );
}

/// SIGTERM, then SIGKILL if the app is still running after [`STOP`]: afterwards every line it
/// wrote has been read.
fn stop(app: &mut App) {
    app.signal(Signal::SIGTERM);
    if app.wait_exit(STOP).is_none() {
        app.kill();
    }
}

fn stdout_lines(app: &App) -> Vec<Line> {
    app.lines()
        .into_iter()
        .filter(|line| line.stream == Stream::Stdout && !line.text.trim().is_empty())
        .collect()
}

/// Waits at most [`ARRIVAL`] for a line on stdout that satisfies `matches`, while the app runs.
fn wait_for_stdout(app: &App, matches: impl Fn(&str) -> bool) -> Option<Line> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        if let Some(line) = stdout_lines(app)
            .into_iter()
            .find(|line| matches(&line.text))
        {
            return Some(line);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `text` names `path` itself (`/notifications/12` is not `/notifications/123`).
fn names_path(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        !text[at + path.len()..]
            .chars()
            .next()
            .is_some_and(|next| next.is_ascii_alphanumeric())
    })
}

/// A line as a failure message quotes it: colour codes stripped, long lines cut.
fn quote(text: &str) -> String {
    let text = strip_ansi(text);
    let text = text.trim_end();
    match text.char_indices().nth(240) {
        Some((at, _)) => format!("`{}…`", &text[..at]),
        None => format!("`{text}`"),
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Where the app's lines about `path` went instead of stdout, for failure messages (call it after
/// [`stop`], with the files it held open for writing while it ran).
fn elsewhere(app: &App, path: &str, open_for_writing: &[PathBuf]) -> String {
    let mut notes = Vec::new();
    let not_events = stdout_lines(app)
        .into_iter()
        .find(|line| names_path(&line.text, path) && logs::parse(&line.text).is_err());
    if let Some(line) = not_events {
        notes.push(format!(
            "on stdout it appears in lines that are not JSON log events, such as {}",
            quote(&line.text)
        ));
    }
    let on_stderr = app
        .lines()
        .into_iter()
        .find(|line| line.stream == Stream::Stderr && names_path(&line.text, path));
    if let Some(line) = on_stderr {
        notes.push(format!("it went to stderr: {}", quote(&line.text)));
    }
    let mut files = files_under(app.home());
    for file in open_for_writing {
        if !files.contains(file) {
            files.push(file.clone());
        }
    }
    for file in files {
        let shown = file.strip_prefix(app.home()).map_or_else(
            |_| file.display().to_string(),
            |rel| rel.display().to_string(),
        );
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        match text.lines().find(|line| names_path(line, path)) {
            Some(line) => notes.push(format!("it went to the file {shown}: {}", quote(line))),
            None => notes.push(format!("the app wrote the file {shown}")),
        }
    }
    if notes.is_empty() && stdout_lines(app).is_empty() {
        "nothing the app wrote mentions it, and its stdout stayed empty: were the events held in a \
         buffer that was never flushed (a `BufWriter`), or never written?"
            .into()
    } else if notes.is_empty() {
        "nothing the app wrote mentions it".into()
    } else {
        notes.join("; ")
    }
}

/// The HTTP status a field of `event` gives (`status`, `status_code`, `http.status_code`, ...).
fn status_field(event: &Event) -> Option<u16> {
    event.fields().into_iter().find_map(|(key, value)| {
        if !key.to_ascii_lowercase().contains("status") {
            return None;
        }
        match value {
            Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(text) => text.get(..3).and_then(|digits| digits.parse().ok()),
            _ => None,
        }
    })
}

fn has_path_field(event: &Event, path: &str) -> bool {
    event
        .fields()
        .iter()
        .any(|(_, value)| value.as_str().is_some_and(|text| names_path(text, path)))
}

fn has_method_field(event: &Event, method: &str) -> bool {
    event.fields().iter().any(|(_, value)| {
        value.as_str().is_some_and(|text| {
            text.eq_ignore_ascii_case(method)
                || text
                    .get(..method.len() + 1)
                    .is_some_and(|start| start.eq_ignore_ascii_case(&format!("{method} ")))
        })
    })
}

fn has_latency_field(event: &Event) -> bool {
    event.fields().iter().any(|(key, _)| {
        let key = key.to_ascii_lowercase();
        LATENCY_KEYS.iter().any(|name| key.contains(name))
    })
}

/// The stdout lines that parse as events and name `path` somewhere (a field or the message).
fn events_about(app: &App, path: &str) -> Vec<(String, Event)> {
    stdout_lines(app)
        .into_iter()
        .filter(|line| names_path(&line.text, path))
        .filter_map(|line| logs::parse(&line.text).ok().map(|event| (line.text, event)))
        .collect()
}

/// A request for `path` answers `status` and leaves one event on stdout with the method, the path,
/// the status and the latency as fields.
#[track_caller]
fn ensure_request_is_logged(path: &str, status: u16) {
    let mut app = noticeboard("noticeboard (RUST_LOG=info)", "info");
    get(&app, path, status);
    let arrived = wait_for_stdout(&app, |text| {
        logs::parse(text)
            .is_ok_and(|event| has_path_field(&event, path) && status_field(&event) == Some(status))
    });
    let open_for_writing = procfs::files_open_for_writing(app.pid());
    stop(&mut app);
    let request = format!("GET {path}");
    let Some(line) = arrived else {
        let is_the_event =
            |event: &Event| has_path_field(event, path) && status_field(event) == Some(status);
        let events = events_about(&app, path);
        let not_events: Vec<Line> = stdout_lines(&app)
            .into_iter()
            .filter(|line| names_path(&line.text, path) && logs::parse(&line.text).is_err())
            .collect();
        let with_status: Vec<&(String, Event)> = events
            .iter()
            .filter(|(_, event)| status_field(event).is_some())
            .collect();
        let observed = if let Some((text, _)) = events.iter().find(|(_, event)| is_the_event(event))
        {
            format!(
                "{request} answered {status}, and its event reached stdout only when the process \
                 exited, not within {ARRIVAL:?} of the response: stdout is buffered (a \
                 `BufWriter`? write each event out as it happens): {}",
                quote(text)
            )
        } else if let Some((text, event)) = events
            .iter()
            .find(|(_, event)| names_path(&event.message, path) && !has_path_field(event, path))
        {
            format!(
                "the event about {request} names the path only inside its message {:?} \
                 ({}): a log platform cannot filter on words in a sentence; make method, path, \
                 status and latency fields of the event",
                event.message,
                quote(text)
            )
        } else if let Some((text, _)) = with_status.first() {
            format!(
                "{request} answered {status}, but the event about it gives another status: {}",
                quote(text)
            )
        } else if let Some((text, _)) = events.first() {
            format!(
                "{request} answered {status}, and no event on stdout about it has the status as \
                 a field (one request, one event with method, path, status and latency): {}",
                quote(text)
            )
        } else if let Some(line) = not_events.first() {
            format!(
                "a line on stdout mentions {request}, but it {}: {}",
                logs::parse(&line.text).err().unwrap_or_default(),
                quote(&line.text)
            )
        } else if stdout_lines(&app)
            .iter()
            .any(|line| logs::parse(&line.text).is_ok())
        {
            format!(
                "{request} answered {status}, and none of the JSON events on stdout is about it: \
                 log one event per request, with method, path, status and latency as fields"
            )
        } else {
            format!(
                "{request} answered {status}, and no line on stdout mentions it: {}",
                elsewhere(&app, path, &open_for_writing)
            )
        };
        logs_lesson().fail("the-fix", observed);
    };
    let event = logs::parse(&line.text).expect("matched as an event");
    logs_lesson().ensure(has_method_field(&event, "GET"), "the-fix", || {
        format!(
            "the event for {request} has its path and status {status} as fields, but not the method \
             (GET): {}",
            quote(&line.text)
        )
    });
    logs_lesson().ensure(has_latency_field(&event), "the-fix", || {
        format!(
            "the event for {request} has no field for how long the request took (a field named \
             like {}): {}",
            LATENCY_KEYS.join(", "),
            quote(&line.text)
        )
    });
}

/// Lines about `path` that reached stdout, though none arrived within [`ARRIVAL`] (the caller
/// waited first, then stopped the app).
fn lines_after_exit_only(app: &App, path: &str) -> Vec<Line> {
    stdout_lines(app)
        .into_iter()
        .filter(|line| names_path(&line.text, path))
        .collect()
}

/// What a log router reads from stdout must be events it can parse, sort and filter.
#[test]
fn every_line_on_stdout_is_a_json_event() {
    let mut app = noticeboard("noticeboard (RUST_LOG=info)", "info");
    let missing = missing_notification();
    get(&app, "/notifications/1", 200);
    get(&app, &missing, 404);
    let _ = wait_for_stdout(&app, |text| names_path(text, &missing));
    let open_for_writing = procfs::files_open_for_writing(app.pid());
    stop(&mut app);

    let lines = stdout_lines(&app);
    logs_lesson().ensure(!lines.is_empty(), "the-rule", || {
        format!(
            "the noticeboard started and answered two requests without writing a line to stdout; \
             as for GET {missing}, {}",
            elsewhere(&app, &missing, &open_for_writing)
        )
    });
    for (number, line) in lines.iter().enumerate().map(|(i, line)| (i + 1, line)) {
        logs_lesson().ensure(!logs::has_ansi(&line.text), "the-fix", || {
            format!(
                "stdout line {number} carries ANSI colour codes, though stdout is a pipe here, not \
                 a terminal (shown without them): {}",
                quote(&line.text)
            )
        });
        if let Err(why) = logs::parse(&line.text) {
            logs_lesson().fail(
                "the-anti-pattern",
                format!(
                    "stdout line {number} {why}; every line must be one JSON event with a time, a \
                     level and a message: {}",
                    quote(&line.text)
                ),
            );
        }
    }
}

/// One request, one event: method, path, status and latency as fields.
#[test]
fn a_request_is_logged_with_its_method_path_and_status() {
    ensure_request_is_logged("/notifications/2", 200);
}

/// A request that fails is logged too, with the status it got.
#[test]
fn a_failing_request_is_logged_with_its_status() {
    ensure_request_is_logged(&missing_notification(), 404);
}

/// A log is a stream: each event leaves the process when it happens, not when a buffer fills up or
/// the process exits (a crash never gets there).
#[test]
fn log_lines_arrive_while_the_app_runs() {
    let mut app = noticeboard("noticeboard (RUST_LOG=info)", "info");
    let path = "/notifications/3";
    get(&app, path, 200);
    let answered = Instant::now();
    let arrived = wait_for_stdout(&app, |text| names_path(text, path));
    if arrived.is_some() {
        return;
    }
    let open_for_writing = procfs::files_open_for_writing(app.pid());
    stop(&mut app);
    let at_exit = lines_after_exit_only(&app, path);
    let observed = match at_exit.first() {
        Some(line) => format!(
            "GET {path} was answered, and its log line reached stdout only when the process \
             exited, {:.1} s later: stdout is buffered (a `BufWriter`? flush after every event); \
             the line: {}",
            line.at.duration_since(answered).as_secs_f64(),
            quote(&line.text)
        ),
        None => {
            let found = elsewhere(&app, path, &open_for_writing);
            let has_events = stdout_lines(&app)
                .iter()
                .any(|line| logs::parse(&line.text).is_ok());
            if has_events && found.starts_with("nothing the app wrote mentions it") {
                format!(
                    "GET {path} was answered, and no line about it reached stdout, within \
                     {ARRIVAL:?} or when the process exited, though other events did: is each \
                     request logged?"
                )
            } else {
                format!(
                    "GET {path} was answered, and within {ARRIVAL:?} no line about it reached \
                     stdout, nor when the process exited: {found}"
                )
            }
        }
    };
    logs_lesson().fail("the-rule", observed);
}

/// The level is the operator's choice, made at run time: `RUST_LOG=warn` silences info events and
/// `RUST_LOG=info` shows them, with no rebuild.
#[test]
fn rust_log_chooses_the_level() {
    let mut quiet = noticeboard("noticeboard (RUST_LOG=warn)", "warn");
    let mut chatty = noticeboard("noticeboard (RUST_LOG=info)", "info");
    let missing = missing_notification();
    for app in [&quiet, &chatty] {
        get(app, "/notifications/1", 200);
        get(app, &missing, 404);
    }
    let info = wait_for_stdout(&chatty, |text| {
        logs::parse(text).is_ok_and(|event| event.level == Level::Info)
    });
    let open_for_writing = procfs::files_open_for_writing(chatty.pid());
    stop(&mut quiet);
    stop(&mut chatty);

    let too_chatty = stdout_lines(&quiet).into_iter().find_map(|line| {
        let event = logs::parse(&line.text).ok()?;
        (event.level >= Level::Info).then_some((event.level, line.text))
    });
    if let Some((level, text)) = too_chatty {
        logs_lesson().fail(
            "the-fix",
            format!(
                "with RUST_LOG=warn the app still logged an event at level {level} on stdout: the \
                 level is fixed in the code, not read from RUST_LOG: {}",
                quote(&text)
            ),
        );
    }
    let info_at_exit = stdout_lines(&chatty)
        .into_iter()
        .find(|line| logs::parse(&line.text).is_ok_and(|event| event.level == Level::Info));
    if let (None, Some(line)) = (&info, info_at_exit) {
        logs_lesson().fail(
            "the-rule",
            format!(
                "with RUST_LOG=info the app's info events reached stdout only when the process \
                 exited, not within {ARRIVAL:?} of the requests: stdout is buffered; the first: {}",
                quote(&line.text)
            ),
        );
    }
    logs_lesson().ensure(info.is_some(), "the-fix", || {
        format!(
            "with RUST_LOG=info the app wrote no info event to stdout in {ARRIVAL:?} after two \
             requests (each request is an info event); as for GET {missing}, {}",
            elsewhere(&chatty, &missing, &open_for_writing)
        )
    });
}

/// Storing and rotating logs is the environment's job: the app creates no log file and holds none
/// open, whether in its working directory, HOME, TMPDIR or at an absolute path such as `/var/log`.
#[test]
fn no_log_file_is_written() {
    let mut app = noticeboard("noticeboard (RUST_LOG=info)", "info");
    let missing = missing_notification();
    get(&app, "/notifications/1", 200);
    get(&app, &missing, 404);
    let open_for_writing = procfs::files_open_for_writing(app.pid());
    stop(&mut app);
    let created = files_under(app.home());

    let mut observed = Vec::new();
    if !created.is_empty() {
        let names: Vec<String> = created
            .iter()
            .map(|file| {
                file.strip_prefix(app.home())
                    .unwrap_or(file)
                    .display()
                    .to_string()
            })
            .collect();
        observed.push(format!(
            "the app created {} in its working directory (which is also its HOME and TMPDIR)",
            names.join(", ")
        ));
    }
    let home = std::fs::canonicalize(app.home()).unwrap_or_else(|_| app.home().to_path_buf());
    let outside: Vec<String> = open_for_writing
        .iter()
        .filter(|file| !file.starts_with(&home) && !file.starts_with(app.home()))
        .map(|file| file.display().to_string())
        .collect();
    if !outside.is_empty() {
        observed.push(format!(
            "while it ran, it held {} open for writing",
            outside.join(", ")
        ));
    } else if !open_for_writing.is_empty() {
        observed.push("held it open for writing while it ran".into());
    }
    logs_lesson().ensure(observed.is_empty(), "the-anti-pattern", || {
        format!(
            "{}: a log file is storage the app manages, on a disk the platform may throw away; \
             write events to stdout and let the environment keep them",
            observed.join("; and ")
        )
    });
}
