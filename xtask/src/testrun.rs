//! Building a package's tests and running them: what `check`, `verify` and `bench` share.
//!
//! Cargo builds the test binary (`--message-format=json`, so compile errors can be shown first and
//! trimmed); then the binary runs directly with a hard time limit and its libtest output is parsed
//! into one [`Outcome`] per test.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// No test run may take longer than this; a hung app must not hang the learner's terminal.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

/// What building a package's tests produced.
pub enum Build {
    /// The test executables, ready to run, and how many warnings the package itself produced.
    Built {
        executables: Vec<PathBuf>,
        warnings: Vec<String>,
    },
    /// Rendered compiler errors (first ones first) for the learner to fix.
    Failed { errors: Vec<String> },
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    package_id: Option<String>,
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Profile {
    test: bool,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// `cargo test --no-run -p <package>`, read as JSON.
pub fn build(root: &Path, package: &str) -> Result<Build> {
    let output = Command::new(cargo())
        .current_dir(root)
        .args(["test", "--no-run", "--package", package])
        // Colour only for a terminal; rendered text either way.
        .arg(if crate::term::interactive() {
            "--message-format=json-diagnostic-rendered-ansi"
        } else {
            "--message-format=json"
        })
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cargo")?;
    let mut executables = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    // Path package ids look like `path+file:///…/06-processes#ex06-processes@0.1.0`.
    let own = format!("#{package}@");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" => {
                if let (Some(exe), Some(Profile { test: true })) =
                    (message.executable, message.profile)
                {
                    executables.push(exe);
                }
            }
            "compiler-message" => {
                let Some(diagnostic) = message.message else {
                    continue;
                };
                let Some(rendered) = diagnostic.rendered else {
                    continue;
                };
                let ours = message.package_id.is_some_and(|id| id.contains(&own));
                match diagnostic.level.as_str() {
                    "error" => errors.push(rendered),
                    "warning" if ours => warnings.push(rendered),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !output.status.success() {
        if errors.is_empty() {
            // Not a compile error (a bad manifest, a missing package): show cargo's own words.
            errors.push(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        return Ok(Build::Failed { errors });
    }
    Ok(Build::Built {
        executables,
        warnings,
    })
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub name: String,
    pub passed: bool,
    /// For a failure: the panic message (what the test says to the learner).
    pub explanation: String,
    /// For a failure: everything the test printed, app output included.
    pub output: String,
}

/// Runs a libtest executable with `cwd` as working directory (Cargo uses the package root).
pub fn run(executable: &Path, cwd: &Path, filter: Option<&str>) -> Result<Vec<Outcome>> {
    let mut command = Command::new(executable);
    command
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the checks took longer than {RUN_LIMIT:?} and were stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = reader.join().unwrap_or_default();
    Ok(parse(&text))
}

/// Parses libtest's human output: `test NAME ... ok|FAILED` lines, then `---- NAME stdout ----`
/// sections holding each failure's output.
pub fn parse(text: &str) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (name, verdict) = rest.rsplit_once(" ... ")?;
            let passed = match verdict.trim() {
                "ok" => true,
                "FAILED" => false,
                _ => return None,
            };
            Some(Outcome {
                name: name.to_string(),
                passed,
                explanation: String::new(),
                output: String::new(),
            })
        })
        .collect();
    for outcome in outcomes.iter_mut().filter(|outcome| !outcome.passed) {
        let header = format!("---- {} stdout ----", outcome.name);
        if let Some(start) = text.find(&header) {
            let section = &text[start + header.len()..];
            let end = [section.find("\n---- "), section.find("\n\nfailures:\n")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(section.len());
            outcome.output = section[..end].trim().to_string();
            outcome.explanation = panic_message(&outcome.output);
        }
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    outcomes
}

/// The text of the first panic in a test's output, without libtest's framing.
fn panic_message(output: &str) -> String {
    let mut lines = output
        .lines()
        .skip_while(|line| !(line.starts_with("thread '") && line.contains("panicked at")));
    if lines.next().is_none() {
        return output.trim().to_string();
    }
    let message: Vec<&str> = lines
        .take_while(|line| {
            !line.starts_with("note: ")
                && !line.starts_with("── ")
                && !line.starts_with("stack backtrace:")
        })
        .collect();
    message.join("\n").trim().to_string()
}

/// The cargo that runs xtask (`$CARGO`), so toolchain overrides carry through.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBTEST: &str = "
running 3 tests
test sessions_are_shared ... FAILED
test visits_survive_a_restart ... ok
test visits_are_shared ... FAILED

failures:

---- sessions_are_shared stdout ----

thread 'sessions_are_shared' (13812) panicked at kit/checks/06-processes.rs:180:17:
replica B answers 401
  Book: 06-processes.html#the-fix
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
── replica B (pid 13847, port 33297) ──
  output:
    (none)

---- visits_are_shared stdout ----

thread 'visits_are_shared' (13835) panicked at kit/checks/06-processes.rs:105:17:
replica A counts 133 and replica B counts 67
── replica B (pid 13846, port 43741) ──


failures:
    sessions_are_shared
    visits_are_shared

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.40s
";

    #[test]
    fn libtest_output_becomes_one_outcome_per_test() {
        let outcomes = parse(LIBTEST);
        let summary: Vec<(&str, bool)> = outcomes
            .iter()
            .map(|o| (o.name.as_str(), o.passed))
            .collect();
        assert_eq!(
            summary,
            [
                ("sessions_are_shared", false),
                ("visits_are_shared", false),
                ("visits_survive_a_restart", true)
            ]
        );
    }

    #[test]
    fn a_failure_is_explained_by_its_panic_message_alone() {
        let outcomes = parse(LIBTEST);
        assert_eq!(
            outcomes[0].explanation,
            "replica B answers 401\n  Book: 06-processes.html#the-fix"
        );
        assert_eq!(
            outcomes[1].explanation,
            "replica A counts 133 and replica B counts 67"
        );
        assert!(outcomes[0].output.contains("── replica B"));
    }
}
