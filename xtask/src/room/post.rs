//! The learner's side of the class board: join once, then every `check` posts its verdict.
//!
//! A post never slows a check and never changes its verdict. `check` writes the verdict to an outbox
//! (`target/xtask/room-outbox.json`, the latest per factor) and starts a detached, short-lived copy
//! of xtask (`room-send`) that posts it with a deadline and exits; `check` does not wait. A post that
//! does not get through stays in the outbox and goes with the next check, and that next check prints
//! one dim line saying so. Each verdict carries an id, so the board stores a retried one once.
//!
//! What is sent is exactly [`VerdictPost`]: never code, paths or the environment.

use super::client;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::{cache, progress, term};
use crate::gate::integrity;
use crate::learner::hint;
use crate::{UsageError, Verdict};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole exchange of one background post, connection included.
const SEND_DEADLINE: Duration = Duration::from_secs(3);
/// A command the learner waits for (`room join`, `status --push`, `doctor --push`).
const FOREGROUND_DEADLINE: Duration = Duration::from_secs(5);
const OUTBOX: &str = "room-outbox.json";
const LAST_SEND: &str = "room-last-send.json";

/// Where the learner joined: kept in the kit's folder (`.room.json`, git-ignored), outside
/// `target/` so `cargo clean` does not make them a stranger to the board.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Joined {
    pub url: String,
    pub learner: String,
    pub token: String,
    pub class: String,
    pub name: String,
}

pub fn joined_path(root: &Path) -> PathBuf {
    root.join(".room.json")
}

pub fn joined(root: &Path) -> Option<Joined> {
    let text = std::fs::read_to_string(joined_path(root)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A verdict as the board receives it: these fields, nothing else (a test holds the list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerdictPost {
    /// Chosen here, so a retry is recognised.
    pub id: String,
    pub factor: u8,
    pub passed: usize,
    pub total: usize,
    /// The failing checks' names (test function names from `kit/checks/`).
    pub failing: Vec<String>,
    /// Checks that could not observe what they need on the learner's platform (neither passed nor
    /// failed; `total` does not count them).
    pub not_checkable: usize,
    pub compiled: bool,
    pub hints_used: usize,
    pub checks_edited: bool,
    /// Unix seconds.
    pub at: u64,
}

/// What `doctor --push` sends: which findings are problems, by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DoctorPost {
    pub id: String,
    pub problems: Vec<String>,
    pub at: u64,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

pub fn new_id() -> String {
    uuid_v4()
}

/// A random UUID (version 4) from the OS's randomness, without a UUID crate in xtask.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = file.read_exact(&mut bytes);
    }
    if bytes == [0u8; 16] {
        // No /dev/urandom (Windows): the clock and the process id are unique enough for an id.
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        for (index, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut hasher = state.build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_nanos()),
            );
            hasher.write_u32(std::process::id());
            hasher.write_usize(index);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The factor's last recorded verdict as a post, if `check` recorded one for its current files.
pub fn verdict_post(root: &Path, factor: &Factor) -> Option<VerdictPost> {
    let record = progress::last(root, factor)?;
    Some(VerdictPost {
        id: new_id(),
        factor: factor.number,
        passed: record.passed,
        total: record.total,
        failing: record.failing,
        not_checkable: record.not_checkable,
        compiled: record.compiled,
        hints_used: hint::used(root, factor),
        checks_edited: !integrity::edited_checks(root, factor).is_empty(),
        at: now(),
    })
}

/// Posts waiting for the board, by factor number (`"6"`) or `"doctor"`: the latest only.
type Outbox = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct LastSend {
    /// Why the last background post did not get through, if it did not.
    problem: Option<String>,
}

/// `check`'s hook: queue the factor's verdict for the board and send it in the background.
///
/// Does nothing for a learner who has not joined a class. Prints at most one dim line: when the
/// previous background post did not get through.
pub fn post_in_background(root: &Path, factor: &Factor, out: &mut impl Write) {
    let Some(joined) = queue(root, factor) else {
        return;
    };
    let last: LastSend = cache::read(root, LAST_SEND);
    if let Some(problem) = last.problem {
        let _ = writeln!(
            out,
            "{}",
            term::dim(&format!(
                "(class board {}: the last post did not get through ({problem}); it goes again now)",
                joined.url
            ))
        );
    }
    spawn_sender(root);
}

/// Puts the factor's last verdict in the outbox, if the learner joined a class.
fn queue(root: &Path, factor: &Factor) -> Option<Joined> {
    let joined = joined(root)?;
    let post = verdict_post(root, factor)?;
    let mut outbox: Outbox = cache::read(root, OUTBOX);
    outbox.insert(factor.number.to_string(), serde_json::to_value(&post).ok()?);
    cache::write(root, OUTBOX, &outbox);
    Some(joined)
}

/// Starts `xtask room-send` detached: its own process group, no terminal, not waited for.
fn spawn_sender(root: &Path) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("room-send")
        .env("XTASK_ROOT", root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    {
        // Ctrl-C in the learner's terminal is for `check`, not for a post already on its way.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let _ = command.spawn();
}

/// `xtask room-send` (started by `check`): posts the outbox, each within [`SEND_DEADLINE`].
pub fn send_outbox(root: &Path) -> Result<Verdict> {
    let Some(joined) = joined(root) else {
        return Ok(Verdict::Green);
    };
    let problem = send_all(root, &joined, SEND_DEADLINE);
    cache::write(root, LAST_SEND, &LastSend { problem });
    Ok(Verdict::Green)
}

/// Sends every queued post; what went wrong, if anything. A post the board refuses (4xx) is
/// dropped: sending it again would be refused again.
fn send_all(root: &Path, joined: &Joined, deadline: Duration) -> Option<String> {
    let outbox: Outbox = cache::read(root, OUTBOX);
    let Ok(base) = client::board_url(&joined.url) else {
        return Some(format!("{:?} is not a board URL", joined.url));
    };
    let mut problem = None;
    for (key, post) in outbox {
        let path = if key == "doctor" {
            format!("/api/learners/{}/doctor", joined.learner)
        } else {
            format!("/api/learners/{}/verdicts", joined.learner)
        };
        let body = post.to_string();
        match client::post_json(&base, &path, Some(&joined.token), &body, deadline) {
            Ok(reply) if reply.status < 500 => {
                if reply.status >= 400 {
                    problem = Some(format!("the board refused it: {}", reply.error()));
                }
                // Sent, or refused for good: out of the outbox, unless a newer one replaced it.
                let mut now: Outbox = cache::read(root, OUTBOX);
                if now.get(&key) == Some(&post) {
                    now.remove(&key);
                    cache::write(root, OUTBOX, &now);
                }
            }
            Ok(reply) => problem = Some(format!("the board answered {}", reply.status)),
            Err(err) => {
                // Unreachable: the other posts would wait as long for nothing. They go next time,
                // and a sender never lives much longer than one deadline.
                problem = Some(format!("{err:#}"));
                break;
            }
        }
    }
    problem
}

/// `cargo xtask room join <url> <code> --name <name>`.
pub fn join(
    root: &Path,
    url: &str,
    code: &str,
    name: &str,
    out: &mut impl Write,
) -> Result<Verdict> {
    let base = client::board_url(url).map_err(|err| UsageError(format!("{err:#}")))?;
    let body = serde_json::json!({ "code": code, "name": name }).to_string();
    let reply = client::post_json(&base, "/api/join", None, &body, FOREGROUND_DEADLINE)
        .with_context(|| format!("the class board at {base} does not answer"))?;
    if reply.status != 201 {
        bail!(
            "the class board refused: {} ({})",
            reply.error(),
            reply.status
        );
    }
    #[derive(Deserialize)]
    struct Answer {
        learner: String,
        token: String,
        class: String,
    }
    let answer: Answer =
        serde_json::from_str(&reply.body).context("the class board's answer does not parse")?;
    let joined = Joined {
        url: base.as_str().trim_end_matches('/').to_string(),
        learner: answer.learner,
        token: answer.token,
        class: answer.class,
        name: name.trim().to_string(),
    };
    std::fs::write(joined_path(root), serde_json::to_string_pretty(&joined)?)
        .context("cannot write .room.json")?;
    // Verdicts queued for another board stay out of this one.
    cache::write(root, OUTBOX, &Outbox::new());
    cache::write(root, LAST_SEND, &LastSend::default());
    writeln!(
        out,
        "{} Joined {:?} as {:?}. From now on every `cargo xtask check` shows on the board \
         (the factor, how many checks pass, which fail, hints used; never your code).",
        term::pass(),
        joined.class,
        joined.name
    )?;
    writeln!(
        out,
        "Send where you are now: `cargo xtask status --push`. Leave the class: delete .room.json."
    )?;
    Ok(Verdict::Green)
}

pub fn require_joined(root: &Path) -> Result<Joined> {
    joined(root).ok_or_else(|| {
        UsageError(
            "you have not joined a class board: `cargo xtask room join <url> <code> --name <name>`"
                .into(),
        )
        .into()
    })
}

/// Sends the outbox now and says how it went (the learner is waiting for this one).
fn send_now(root: &Path, joined: &Joined, what: &str, out: &mut impl Write) -> Result<Verdict> {
    match send_all(root, joined, FOREGROUND_DEADLINE) {
        None => {
            writeln!(out, "{} Sent {what} to the class board.", term::pass())?;
            cache::write(root, LAST_SEND, &LastSend::default());
            Ok(Verdict::Green)
        }
        Some(problem) => {
            writeln!(
                out,
                "{} Could not send {what} to the class board at {}: {problem}",
                term::fail(),
                joined.url
            )?;
            Ok(Verdict::Red)
        }
    }
}

/// `cargo xtask status --push`: every factor's last verdict, to the board.
pub fn push_status(root: &Path, manifest: &Manifest, out: &mut impl Write) -> Result<Verdict> {
    let joined = require_joined(root)?;
    let mut outbox: Outbox = cache::read(root, OUTBOX);
    let mut count = 0;
    for factor in manifest.available() {
        if let Some(post) = verdict_post(root, factor) {
            outbox.insert(factor.number.to_string(), serde_json::to_value(&post)?);
            count += 1;
        }
    }
    cache::write(root, OUTBOX, &outbox);
    send_now(root, &joined, &format!("{count} factor verdict(s)"), out)
}

/// `cargo xtask doctor --push`: which of doctor's findings are problems, to the board.
pub fn push_doctor(root: &Path, problems: &[&str], out: &mut impl Write) -> Result<()> {
    let joined = require_joined(root)?;
    let post = DoctorPost {
        id: new_id(),
        problems: problems.iter().map(|name| name.to_string()).collect(),
        at: now(),
    };
    let mut outbox: Outbox = cache::read(root, OUTBOX);
    outbox.insert("doctor".into(), serde_json::to_value(&post)?);
    cache::write(root, OUTBOX, &outbox);
    send_now(root, &joined, "doctor's findings", out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The board must learn what a check found and nothing else: no code, no paths, no environment.
    use crate::engine::testrun::Outcome;

    #[test]
    fn a_verdict_post_holds_exactly_the_agreed_fields() {
        let post = VerdictPost {
            id: new_id(),
            factor: 6,
            passed: 3,
            total: 5,
            failing: vec![
                "sessions_expire_after_their_ttl".into(),
                "visits_survive_a_restart".into(),
            ],
            not_checkable: 0,
            compiled: true,
            hints_used: 1,
            checks_edited: false,
            at: now(),
        };
        let value = serde_json::to_value(&post).unwrap();
        let fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "at",
                "checks_edited",
                "compiled",
                "factor",
                "failing",
                "hints_used",
                "id",
                "not_checkable",
                "passed",
                "total"
            ]
        );
        let doctor = serde_json::to_value(DoctorPost {
            id: new_id(),
            problems: vec!["redis".into()],
            at: now(),
        })
        .unwrap();
        let fields: Vec<&str> = doctor
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["at", "id", "problems"]);
    }

    /// What a check records is what reaches the board, over HTTP, field for field: a stub board
    /// records the request.
    #[test]
    fn a_recorded_check_is_posted_with_its_verdict_and_nothing_else() {
        use std::io::{BufRead, BufReader, Read};
        let root = tempfile::TempDir::new().unwrap();
        let mut factor = crate::engine::manifest::kit().find("6").unwrap().clone();
        factor.exercise = PathBuf::from("exercise");
        std::fs::create_dir_all(root.path().join("exercise/src")).unwrap();
        std::fs::write(root.path().join("exercise/src/main.rs"), "fn main() {}").unwrap();
        let outcome = |name: &str, passed: bool, not_checkable: Option<&str>| Outcome {
            name: name.into(),
            passed,
            not_checkable: not_checkable.map(str::to_string),
            ..Outcome::default()
        };
        progress::record_outcomes(
            root.path(),
            &factor,
            &[
                outcome("visits_are_shared_between_replicas", true, None),
                outcome("sessions_expire_after_their_ttl", false, None),
                outcome(
                    "visits_survive_a_restart",
                    true,
                    Some("not checkable on macOS"),
                ),
            ],
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let joined = Joined {
            url: url.clone(),
            learner: "0b6c3c1e-1111-4222-8333-444455556666".into(),
            token: "rl_token".into(),
            class: "Test".into(),
            name: "Ada".into(),
        };
        std::fs::write(
            joined_path(root.path()),
            serde_json::to_string(&joined).unwrap(),
        )
        .unwrap();
        let board = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                head.push(line);
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            use std::io::Write;
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")
                .unwrap();
            (head, String::from_utf8(body).unwrap())
        });
        assert!(queue(root.path(), &factor).is_some());
        assert_eq!(send_all(root.path(), &joined, SEND_DEADLINE), None);
        let (head, body) = board.join().unwrap();
        assert!(
            head[0]
                .starts_with("POST /api/learners/0b6c3c1e-1111-4222-8333-444455556666/verdicts ")
        );
        assert!(
            head.iter()
                .any(|line| line.trim() == "Authorization: Bearer rl_token")
        );
        let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
        let fields: Vec<&str> = sent
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "at",
                "checks_edited",
                "compiled",
                "factor",
                "failing",
                "hints_used",
                "id",
                "not_checkable",
                "passed",
                "total"
            ]
        );
        assert_eq!(sent["factor"], 6);
        assert_eq!(sent["passed"], 1);
        assert_eq!(sent["total"], 2);
        assert_eq!(
            sent["failing"],
            serde_json::json!(["sessions_expire_after_their_ttl"])
        );
        assert_eq!(sent["compiled"], true);
        assert_eq!(sent["not_checkable"], 1);
        // Nothing of the machine travels: no path, no user, no environment.
        let root_text = root.path().display().to_string();
        assert!(
            !body.contains(&root_text) && !body.contains("exercise"),
            "{body}"
        );
        // Sent: the outbox is empty.
        let outbox: Outbox = cache::read(root.path(), OUTBOX);
        assert!(outbox.is_empty(), "{outbox:?}");
    }

    #[test]
    fn a_board_that_is_down_keeps_the_verdict_for_the_next_check() {
        let root = tempfile::TempDir::new().unwrap();
        let mut factor = crate::engine::manifest::kit().find("2").unwrap().clone();
        factor.exercise = PathBuf::from("exercise");
        std::fs::create_dir_all(root.path().join("exercise")).unwrap();
        std::fs::create_dir_all(root.path().join("kit/checks")).unwrap();
        let kit = crate::project_root().unwrap();
        let checks = "kit/checks/02-dependencies.rs";
        std::fs::copy(kit.join(checks), root.path().join(checks)).unwrap();
        progress::record_compile_error(root.path(), &factor);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let joined = Joined {
            url: format!("http://127.0.0.1:{port}"),
            learner: "0b6c3c1e-1111-4222-8333-444455556666".into(),
            token: "rl_token".into(),
            class: "Test".into(),
            name: "Ada".into(),
        };
        std::fs::write(
            joined_path(root.path()),
            serde_json::to_string(&joined).unwrap(),
        )
        .unwrap();
        queue(root.path(), &factor).unwrap();
        assert!(send_all(root.path(), &joined, SEND_DEADLINE).is_some());
        let outbox: Outbox = cache::read(root.path(), OUTBOX);
        let queued = &outbox["2"];
        // Factor II does not compile: reported as such, with the factor's real number of checks.
        assert_eq!(queued["compiled"], false);
        assert_eq!(
            queued["total"],
            factor.check_names(&crate::project_root().unwrap()).len()
        );
    }

    #[test]
    fn ids_are_version_4_uuids_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
