//! Building a package's tests and running them: what `check`, `verify` and `bench` share.
//!
//! Cargo builds the test binary (its diagnostics are kept, so compile errors can be shown first and
//! trimmed); then the binary runs directly with a hard time limit and its libtest output is parsed
//! into one [`Outcome`] per test.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
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

/// Where Cargo builds: `CARGO_TARGET_DIR`, or the workspace's `target/`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// `cargo test --no-run -p <package>`, its human output parsed.
///
/// Human output rather than `--message-format=json`: JSON diagnostics cost about 0.15 s per build,
/// a tenth of the learner's edit→verdict budget. Cargo's stderr holds what we need: the rendered
/// diagnostics and one `Executable … (<path>)` line per test binary.
///
/// With `incremental`, this one package compiles incrementally (the learner's edit loop, where it
/// halves the time to a verdict); everything else does not, which keeps `target/` small (see
/// `[profile.dev]` in the workspace's Cargo.toml). Callers pass it for exercises and never for
/// solutions, whatever the command: the setting is part of a build's identity, so `check` and
/// `verify` then share one build of each crate instead of keeping two.
///
/// `build_env` (the factor's `build_env` in `factors.toml`) is set for this cargo run only.
pub fn build(
    root: &Path,
    package: &str,
    incremental: bool,
    build_env: &BTreeMap<String, String>,
) -> Result<Build> {
    cargo_build(
        root,
        &["test", "--no-run", "--package", package],
        package,
        incremental,
        build_env,
    )
}

/// `cargo build --bins -p <package>`: the binaries of an app that another package's checks judge
/// (a solution, judged by the checks compiled with its exercise). No executables are reported.
///
/// An exercise's binaries (a demo's, the deploy demo's `--break N`) are built with the incremental
/// setting its checks are built with, so they are the same build, not a second copy in `target/`.
pub fn build_app(
    root: &Path,
    package: &str,
    build_env: &BTreeMap<String, String>,
) -> Result<Build> {
    cargo_build(
        root,
        &["build", "--bins", "--package", package],
        package,
        is_exercise(package),
        build_env,
    )
}

/// Whether `package` is an exercise's (`exNN-slug`, a convention `verify`'s layout step enforces):
/// the one kind of package a learner edits, and so the one built incrementally.
fn is_exercise(package: &str) -> bool {
    package
        .strip_prefix("ex")
        .is_some_and(|rest| rest.len() > 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_digit))
}

/// Set by the learner's commands: a build that compiles more than the exercise says so as it goes.
static PROGRESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, builds of this process show their progress on stderr (see [`progress`]), and
/// Ctrl-C stops the checks running at the time (see [`stop_checks_on_ctrl_c`]).
pub fn show_progress() {
    PROGRESS.store(true, std::sync::atomic::Ordering::SeqCst);
    stop_checks_on_ctrl_c();
}

/// Set when Ctrl-C is stopping the checks: what they leave is no verdict to report.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The process group of the check binary running now (0: none).
static RUNNING_CHECKS: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// A learner's Ctrl-C (or a SIGTERM) while checks run also stops the checks and every app they
/// started, then ends xtask as Ctrl-C would have. The checks run in a process group of their own
/// (see [`run`]), which the terminal's Ctrl-C does not reach: without this they would run on,
/// unwatched, and an app of a check the binary never finished could outlive them all.
fn stop_checks_on_ctrl_c() {
    // If Ctrl-C cannot be caught, it keeps its default: xtask ends, the checks finish on their own.
    let _ = crate::engine::signals::on_interrupt(|| {
        STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
        let group = RUNNING_CHECKS.load(std::sync::atomic::Ordering::SeqCst);
        if group != 0 {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            say("\nStopped: the checks, and every app they had started.");
        }
        // What a shell reports for a program Ctrl-C ended.
        std::process::exit(130);
    });
}

/// A line on stderr that never fails the command: a learner's progress lines go to a terminal, or
/// to a pipe that may close first (`… | head`), and a write that fails then is no reason to stop.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{}", crate::engine::term::dim(line));
}

/// A build is never silent: the first `check` of a fresh clone compiles the harness and the
/// exercise's dependencies for a minute or more, and a learner cannot tell that from a hang.
mod progress {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// With nothing new to say, a line at least this often; the first one sooner (a learner's
    /// first check of an exercise compiles it for a second or two without a word from Cargo).
    const HEARTBEAT: Duration = Duration::from_secs(3);
    const FIRST_HEARTBEAT: Duration = Duration::from_secs(1);

    /// Reads Cargo's stderr to its end and returns it, printing on stderr each crate Cargo starts
    /// compiling other than the exercise itself (the warm loop compiles only that one, and stays
    /// quiet), and a heartbeat line while a long compile prints nothing.
    pub fn relay(stderr: impl std::io::Read + Send + 'static) -> String {
        let (lines, received) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut text = String::new();
        let mut compiling: Vec<String> = Vec::new();
        let mut last_said = Instant::now();
        let mut said_anything = false;
        loop {
            match received.recv_timeout(FIRST_HEARTBEAT) {
                Ok(line) => {
                    let plain = super::strip_ansi(&line);
                    if let Some(name) = compiled_crate(&plain) {
                        compiling.push(name.to_string());
                        if compiling.len() > 1 || !is_local(&plain) {
                            super::say(&format!(
                                "   compiling {name} ({} s)",
                                started.elapsed().as_secs()
                            ));
                            said_anything = true;
                            last_said = Instant::now();
                        }
                    }
                    text.push_str(&line);
                    text.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let due = if said_anything {
                HEARTBEAT
            } else {
                FIRST_HEARTBEAT
            };
            if started.elapsed() >= due && last_said.elapsed() >= due {
                let current = compiling.last().map_or("the exercise", String::as_str);
                super::say(&format!(
                    "   … still compiling ({current}; {} s so far)",
                    started.elapsed().as_secs()
                ));
                said_anything = true;
                last_said = Instant::now();
            }
        }
        text
    }

    /// `   Compiling tokio v1.48.0` → `tokio`.
    fn compiled_crate(plain: &str) -> Option<&str> {
        plain
            .trim_start()
            .strip_prefix("Compiling ")?
            .split(' ')
            .next()
    }

    /// A workspace crate (`Compiling ex06-processes v0.1.0 (/kit/exercises/06-processes)`).
    fn is_local(plain: &str) -> bool {
        plain.trim_end().ends_with(')') && plain.contains(" (/")
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn cargo_s_compiling_lines_name_the_crate_and_where_it_lives() {
            let dependency = "   Compiling tokio v1.48.0";
            let local = "   Compiling ex06-processes v0.1.0 (/kit/exercises/06-processes)";
            assert_eq!(super::compiled_crate(dependency), Some("tokio"));
            assert_eq!(super::compiled_crate(local), Some("ex06-processes"));
            assert!(!super::is_local(dependency) && super::is_local(local));
            assert_eq!(super::compiled_crate("    Finished `test` profile"), None);
        }
    }
}

/// Set by `verify`: builds must not touch `Cargo.lock` (a learner's `check` may, when the lesson is
/// adding a dependency).
static LOCKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, every build of this process runs with `--locked`.
pub fn require_locked() {
    LOCKED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// `cargo build --bins` of a package that is a workspace of its own (`manifest`), into `target_dir`.
pub fn build_standalone_app(
    manifest: &Path,
    target_dir: &Path,
    build_env: &BTreeMap<String, String>,
) -> Result<Build> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut command = cargo_command();
    command
        .current_dir(dir)
        .envs(build_env)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "--bins", "--manifest-path"])
        .arg(manifest);
    run_build(command, dir)
}

/// [`build`] with Cargo's `-vv`, which shows each `rustc` command Cargo runs and the variables it
/// sets: the package's own invocations come back with the build, for [`crate::engine::replay`].
pub fn build_recorded(
    root: &Path,
    package: &str,
    build_env: &BTreeMap<String, String>,
) -> Result<(Build, Vec<crate::engine::replay::Invocation>)> {
    let command = cargo_build_command(
        root,
        &["test", "--no-run", "-vv", "--package", package],
        package,
        true,
        build_env,
    );
    let (build, stderr) = run_build_output(command, root)?;
    Ok((build, crate::engine::replay::invocations(&stderr, package)))
}

fn cargo_build(
    root: &Path,
    args: &[&str],
    package: &str,
    incremental: bool,
    build_env: &BTreeMap<String, String>,
) -> Result<Build> {
    run_build(
        cargo_build_command(root, args, package, incremental, build_env),
        root,
    )
}

fn cargo_build_command(
    root: &Path,
    args: &[&str],
    package: &str,
    incremental: bool,
    build_env: &BTreeMap<String, String>,
) -> Command {
    let mut command = cargo_command();
    command.current_dir(root).envs(build_env).args(args);
    if LOCKED.load(std::sync::atomic::Ordering::SeqCst) {
        command.arg("--locked");
    }
    command
        // Colour only for a terminal.
        .arg(if crate::engine::term::interactive() {
            "--color=always"
        } else {
            "--color=never"
        });
    if incremental {
        command.args([
            "--config",
            &format!("profile.dev.package.{package}.incremental=true"),
        ]);
    }
    command
}

/// Runs a cargo build command and sorts its human output into executables and diagnostics.
fn run_build(command: Command, root: &Path) -> Result<Build> {
    Ok(run_build_output(command, root)?.0)
}

/// [`run_build`], and Cargo's stderr as it was.
fn run_build_output(mut command: Command, root: &Path) -> Result<(Build, String)> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;
    let stderr_pipe = child.stderr.take().context("cargo's stderr")?;
    let stderr = if PROGRESS.load(std::sync::atomic::Ordering::SeqCst) {
        progress::relay(stderr_pipe)
    } else {
        let mut text = String::new();
        std::io::BufReader::new(stderr_pipe)
            .read_to_string(&mut text)
            .context("cannot read cargo's output")?;
        text
    };
    let output = std::process::Output {
        status: child.wait().context("cannot wait for cargo")?,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let stderr = std::borrow::Cow::<str>::Owned(stderr);
    let diagnostics = diagnostics(&stderr);
    if !output.status.success() {
        let mut errors: Vec<String> = diagnostics
            .iter()
            .filter(|(level, _)| *level == Level::Error)
            .map(|(_, text)| text.clone())
            .collect();
        if errors.is_empty() {
            // Not a compile error (a bad manifest, a missing package): show cargo's own words.
            errors.push(stderr.trim().to_string());
        }
        return Ok((Build::Failed { errors }, stderr.into_owned()));
    }
    let executables = stderr
        .lines()
        .map(strip_ansi)
        .filter(|line| line.trim_start().starts_with("Executable "))
        .filter_map(|line| {
            // `Executable <source> (<path>)`, or with `-v`, `Executable \`<path>\``.
            let path = match line.rsplit_once('(') {
                Some((_, rest)) => rest.strip_suffix(')')?,
                None => line.split('`').nth(1)?,
            };
            Some(root.join(path))
        })
        .collect();
    let warnings = diagnostics
        .into_iter()
        .filter(|(level, _)| *level == Level::Warning)
        .map(|(_, text)| text)
        .collect();
    Ok((
        Build::Built {
            executables,
            warnings,
        },
        stderr.into_owned(),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
}

/// Splits cargo's human stderr into rendered diagnostics, leaving out cargo's own status and
/// summary lines (`Compiling …`, `error: could not compile …`, `warning: … generated 2 warnings`).
/// Dependencies' warnings never appear (Cargo caps their lints), so every warning is the package's.
fn diagnostics(stderr: &str) -> Vec<(Level, String)> {
    let mut found: Vec<(Level, String)> = Vec::new();
    let mut current: Option<(Level, String)> = None;
    for line in stderr.lines() {
        let plain = strip_ansi(line);
        let starts = if plain.starts_with("error") && !is_summary(&plain) {
            Some(Level::Error)
        } else if plain.starts_with("warning") && !is_summary(&plain) {
            Some(Level::Warning)
        } else {
            None
        };
        // With `-vv`, a build script's output: `[ring 0.17.14] cargo:rerun-if-changed=…`.
        let script_output = plain.starts_with('[') && plain.contains("] ");
        let status = plain.starts_with("  ")
            && plain
                .trim_start()
                .split(' ')
                .next()
                .is_some_and(is_status_word)
            || is_summary(&plain)
            || script_output;
        if let Some(level) = starts {
            found.extend(current.take());
            current = Some((level, format!("{line}\n")));
        } else if status {
            found.extend(current.take());
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    found.extend(current);
    found
        .into_iter()
        .map(|(level, text)| (level, text.trim_end().to_string()))
        .filter(|(level, text)| *level == Level::Error || !in_a_dependency(text))
        .collect()
}

/// Whether a warning points into a dependency's source (`--> /…/registry/src/…/ring-0.17.14/…`):
/// Cargo shows the package's own files relative to the workspace and a dependency's by its full
/// path. `-vv` (the recorded build) lifts Cargo's cap on dependencies' lints, so a dependency
/// compiled in that build, or replayed from Cargo's cache of it, warns: not the package's warning.
fn in_a_dependency(text: &str) -> bool {
    text.lines()
        .map(strip_ansi)
        .find_map(|line| line.trim_start().strip_prefix("--> ").map(str::to_string))
        .is_some_and(|location| Path::new(&location).is_absolute())
}

fn is_summary(plain: &str) -> bool {
    // With `-vv`, Cargo also relays dependencies' build-script warnings
    // (`warning: generic-array@0.14.9: …`): not the package's.
    let script_warning = plain
        .strip_prefix("warning: ")
        .and_then(|rest| rest.split_once(": "))
        .is_some_and(|(source, _)| source.contains('@') && !source.contains(' '));
    script_warning
        || plain.starts_with("error: could not compile")
        || plain.starts_with("warning: build failed")
        || plain.starts_with("error: aborting due to")
        || (plain.starts_with("warning: `") && plain.contains(" generated "))
}

fn is_status_word(word: &str) -> bool {
    matches!(
        word,
        "Compiling"
            | "Checking"
            | "Finished"
            | "Executable"
            | "Blocking"
            | "Running"
            | "Fresh"
            | "Dirty"
            | "Updating"
            | "Locking"
            | "Adding"
            | "Downloading"
            | "Downloaded"
    )
}

/// `text` without ANSI colour sequences.
pub fn strip_ansi(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub name: String,
    /// Not failed: the check passed, or could not observe what it needs on this platform (then
    /// `not_checkable` says why; such a check counts as neither passed nor failed).
    pub passed: bool,
    /// For a failure: the panic message (what the test says to the learner).
    pub explanation: String,
    /// For a failure: everything the test printed, app output included.
    pub output: String,
    /// How long after the binary started the check reported (checks start together, so this is
    /// its own time); zero when the output was not read as it came.
    pub took: Duration,
    /// The harness's "not checkable on <platform>: … run it in the devcontainer" message, when the
    /// check cannot observe what it needs here.
    pub not_checkable: Option<String>,
}

impl Outcome {
    /// Passed, and really judged (not "not checkable here").
    pub fn judged_green(&self) -> bool {
        self.passed && self.not_checkable.is_none()
    }
}

/// How a harness message that a check cannot run on this platform starts (`kit-platform`'s
/// `Gap`): such a check panics with it, and its outcome counts as neither passed nor failed.
pub const NOT_CHECKABLE: &str = "not checkable on ";

/// Another package's binaries for a factor's checks to judge.
///
/// A factor's checks are compiled once, with its exercise; the same check binary judges the
/// reference solution (or any app) when told where that app's binaries are. The harness reads the
/// `KIT_APP_*` variables (`kit_harness::app_binary!`).
pub struct Judged {
    pub package: String,
    pub manifest_dir: PathBuf,
    /// Where the app's binaries are, when not next to the check binary (the finished app's step
    /// names them `<package>-<suffix>` in a folder of its own: `gate/finished.rs`).
    pub bin_dir: Option<PathBuf>,
    /// Variables every app process gets (`KIT_APP_ENV`: the backing services a platform would
    /// attach to the finished app); empty for solutions.
    pub attached: Vec<(String, String)>,
}

impl Judged {
    /// The package's binaries, next to the check binary, as Cargo built them.
    pub fn package(package: String, manifest_dir: PathBuf) -> Judged {
        Judged {
            package,
            manifest_dir,
            bin_dir: None,
            attached: Vec::new(),
        }
    }

    fn point(&self, command: &mut Command, check_binary: &Path) {
        // Cargo puts test binaries in `<profile>/deps/` and package binaries in `<profile>/`.
        let built = check_binary
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        let bin_dir = self.bin_dir.as_deref().unwrap_or(built);
        command
            .env("KIT_APP_PACKAGE", &self.package)
            .env("KIT_APP_BIN_DIR", bin_dir)
            .env("KIT_APP_MANIFEST_DIR", &self.manifest_dir);
        if !self.attached.is_empty() {
            let lines: Vec<String> = self
                .attached
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            command.env("KIT_APP_ENV", lines.join("\n"));
        }
    }
}

/// Runs a libtest executable with `cwd` as working directory (Cargo uses the package root).
///
/// The outcomes count only if the run finished: the binary exited as libtest does (0 when every
/// test passed, 101 when some failed) and reported an outcome for every test it lists. A binary
/// that aborts, is killed or runs out of time is an error ("the checks themselves did not finish"),
/// never a verdict made of the checks that happened to print.
///
/// The binary runs in a process group of its own, and the whole group is killed when it ends or
/// times out, so no app a check started outlives the run (holding ports and databases).
pub fn run(
    executable: &Path,
    cwd: &Path,
    filter: Option<&str>,
    judged: Option<&Judged>,
) -> Result<Vec<Outcome>> {
    // The list is only needed at the end: ask for it while the checks run.
    // How many checks there are, for the learner's heartbeat, as soon as the list is in (0 before).
    let listed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listing = {
        let (executable, cwd) = (executable.to_path_buf(), cwd.to_path_buf());
        let filter = filter.map(str::to_string);
        let listed = listed.clone();
        std::thread::spawn(move || {
            let names = list(&executable, &cwd, filter.as_deref());
            if let Ok(names) = &names {
                listed.store(names.len(), std::sync::atomic::Ordering::Relaxed);
            }
            names
        })
    };
    let mut command = Command::new(executable);
    if let Some(judged) = judged {
        judged.point(&mut command, executable);
    }
    command
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "0")
        .process_group(0)
        // The checks mostly wait on the apps they spawn, so run them all at once, not two by two.
        .arg("--test-threads=8")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(filter) = filter {
        command.args([filter, "--exact"]);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    let group = Pid::from_raw(child.id() as i32);
    RUNNING_CHECKS.store(group.as_raw(), std::sync::atomic::Ordering::SeqCst);
    let stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Read as it comes, so each `test NAME ... ok` line gets the time it arrived.
    let reader = std::thread::spawn({
        let finished = finished.clone();
        move || {
            let mut text = String::new();
            let mut times = BTreeMap::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((name, _)) = line
                    .strip_prefix("test ")
                    .and_then(|rest| rest.rsplit_once(" ... "))
                {
                    times.insert(name.to_string(), started.elapsed());
                    finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                text.push_str(&line);
                text.push('\n');
            }
            (text, times)
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Waited for in a thread, so the end of the run is seen at once (not at the next poll) and
    // the time limit still holds.
    let (ended, end) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = ended.send(());
        status
    });
    let in_time = wait_saying_how_far(&end, started, &finished, &listed);
    // Whatever the checks started and did not stop, and the binary itself on a time-out.
    let _ = killpg(group, Signal::SIGKILL);
    RUNNING_CHECKS.store(0, std::sync::atomic::Ordering::SeqCst);
    if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        // Ctrl-C killed the checks: the handler ends xtask; nothing of this run is reported.
        loop {
            std::thread::park();
        }
    }
    let status = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the thread waiting for the checks panicked"))??;
    let expected = listing
        .join()
        .map_err(|_| anyhow::anyhow!("the thread listing the checks panicked"))??;
    let status = in_time.then_some(status);
    let Some(status) = status else {
        bail!(
            "the checks themselves did not finish: they took longer than {RUN_LIMIT:?} and were stopped"
        );
    };
    let (text, times) = reader.join().unwrap_or_default();
    let stderr = errors.join().unwrap_or_default();
    let mut outcomes = parse(&text);
    if let Some(problem) = unfinished(&expected, &outcomes, status) {
        let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
        let detail = last
            .map(|line| format!(" ({})", line.trim()))
            .unwrap_or_default();
        bail!("the checks themselves did not finish: {problem}{detail}");
    }
    for outcome in &mut outcomes {
        outcome.took = times.get(&outcome.name).copied().unwrap_or_default();
        if !outcome.passed && outcome.explanation.starts_with(NOT_CHECKABLE) {
            outcome.not_checkable = Some(std::mem::take(&mut outcome.explanation));
            outcome.passed = true;
        }
    }
    Ok(outcomes)
}

/// Waits for the check binary to end, at most [`RUN_LIMIT`]; for a learner, says after a second
/// and then every [`CHECKS_HEARTBEAT`] how many checks have finished (a fresh clone's Factor I
/// builds copies of the exercise for seconds, right after Cargo built the exercise without a
/// word). Returns whether it ended in time.
fn wait_saying_how_far(
    end: &std::sync::mpsc::Receiver<()>,
    started: Instant,
    finished: &std::sync::atomic::AtomicUsize,
    listed: &std::sync::atomic::AtomicUsize,
) -> bool {
    let mut wait = Duration::from_secs(1);
    loop {
        let left = RUN_LIMIT.saturating_sub(started.elapsed());
        if left.is_zero() {
            return false;
        }
        match end.recv_timeout(left.min(wait)) {
            Ok(()) => return true,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if PROGRESS.load(std::sync::atomic::Ordering::SeqCst) && started.elapsed() < RUN_LIMIT {
            let finished = finished.load(std::sync::atomic::Ordering::Relaxed);
            let of = match listed.load(std::sync::atomic::Ordering::Relaxed) {
                0 => String::new(),
                all => format!(" of {all}"),
            };
            say(&format!(
                "   … checks running: {finished}{of} finished ({} s so far)",
                started.elapsed().as_secs()
            ));
        }
        wait = CHECKS_HEARTBEAT;
    }
}

/// While checks run, a line at least this often (a learner's commands only).
const CHECKS_HEARTBEAT: Duration = Duration::from_secs(2);

/// Runs every check executable of a build (see [`run`]) and gathers their outcomes: what `check`,
/// `verify` and the mistake fixtures do with a factor's checks.
pub fn run_all(
    executables: &[PathBuf],
    cwd: &Path,
    filter: Option<&str>,
    judged: Option<&Judged>,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for executable in executables {
        outcomes.extend(run(executable, cwd, filter, judged)?);
    }
    Ok(outcomes)
}

/// The tests the binary holds (matching `filter`), from `--list`.
fn list(executable: &Path, cwd: &Path, filter: Option<&str>) -> Result<Vec<String>> {
    let mut command = Command::new(executable);
    command
        .current_dir(cwd)
        .args(["--list", "--format", "terse"]);
    if let Some(filter) = filter {
        command.args([filter, "--exact"]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    if !output.status.success() {
        bail!(
            "the checks themselves did not finish: {} --list failed ({})",
            executable.display(),
            output.status
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

/// Why a run's outcomes cannot be trusted, if they cannot.
fn unfinished(expected: &[String], outcomes: &[Outcome], status: ExitStatus) -> Option<String> {
    let missing: Vec<&str> = expected
        .iter()
        .filter(|name| !outcomes.iter().any(|outcome| &outcome.name == *name))
        .map(String::as_str)
        .collect();
    let all_passed = outcomes.iter().all(|outcome| outcome.passed);
    let exited_as_libtest = match status.code() {
        Some(0) => all_passed,
        Some(101) => !all_passed,
        _ => false,
    };
    if !missing.is_empty() {
        Some(format!(
            "{} of {} checks reported no outcome (first: {}); the test binary ended with {status}",
            missing.len(),
            expected.len(),
            missing[0]
        ))
    } else if !exited_as_libtest {
        Some(format!("the test binary ended with {status}"))
    } else {
        None
    }
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
                ..Outcome::default()
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
            outcome.explanation = panic_message(&section[..end]);
            // The full output (`--verbose`), without libtest's advice about a backtrace that
            // xtask turned off on purpose.
            outcome.output = section[..end]
                .lines()
                .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
                // Where in the check file it failed helps maintainers, not learners: the message
                // and the app's own output (which follow) are what `--verbose` is for.
                .filter(|line| !(line.starts_with("thread '") && line.contains("panicked at")))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string();
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

/// A `cargo` command with the environment a developer's own `cargo` would have.
///
/// xtask runs under `cargo run`, which sets `CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and friends for
/// xtask itself. Passed on, they would change the fingerprints of build scripts that watch them
/// (ring's watches `CARGO_MANIFEST_DIR`), so a developer's next `cargo build` would rebuild
/// crates that xtask had just built, and the other way round.
pub fn cargo_command() -> Command {
    let mut command = Command::new(cargo());
    without_xtask_env(&mut command);
    command
}

/// Removes from `command` what `cargo run` set for xtask itself (see [`cargo_command`]): for
/// every program that may run cargo in turn (mdBook runs the book's preprocessor with it).
pub fn without_xtask_env(command: &mut Command) -> &mut Command {
    kit_common::cargo_env::without_cargo_run_env(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exercise_packages_build_incrementally() {
        assert!(is_exercise("ex09-disposability"));
        assert!(!is_exercise("sol09-disposability"));
        assert!(!is_exercise("noticeboard"));
        assert!(!is_exercise("ex"));
        assert!(!is_exercise("example"));
    }

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

    const CARGO_STDERR: &str = "   Compiling ex06-processes v0.1.0 (/kit/exercises/06-processes)
warning: unused variable: `x`
  --> exercises/06-processes/src/state.rs:3:9
   |
 3 |     let x = 1;
   |         ^ help: prefix it: `_x`

error[E0308]: mismatched types
  --> exercises/06-processes/src/state.rs:9:22
   |
 9 | fn broken() -> u32 { \"x\" }
   |                      ^^^ expected `u32`, found `&str`

warning: `ex06-processes` (bin \"ex06-processes\") generated 1 warning
error: could not compile `ex06-processes` (bin \"ex06-processes\") due to 1 previous error; 1 warning emitted
";

    #[test]
    fn cargo_stderr_splits_into_diagnostics_without_cargo_chatter() {
        let found = diagnostics(CARGO_STDERR);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].0, Level::Warning);
        assert!(found[0].1.starts_with("warning: unused variable: `x`"));
        assert!(found[0].1.ends_with("help: prefix it: `_x`"));
        assert_eq!(found[1].0, Level::Error);
        assert!(
            found[1].1.ends_with("expected `u32`, found `&str`"),
            "{}",
            found[1].1
        );
    }

    #[test]
    fn a_dependency_s_build_script_warning_is_not_the_package_s() {
        let stderr = "warning: generic-array@0.14.9: generic-array 0.14 is deprecated\n\
                      warning: unused variable: `x`\n";
        let found = diagnostics(stderr);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.starts_with("warning: unused variable"));
    }

    #[test]
    fn a_dependency_s_own_warning_is_not_the_package_s() {
        let stderr = "\x1b[1m\x1b[33mwarning\x1b[0m: hiding a lifetime that's elided elsewhere is confusing\n  \
                      \x1b[1m\x1b[94m-->\x1b[0m /root/.cargo/registry/src/index/ring-0.17.14/src/polyfill/slice/as_chunks.rs:19:44\n\
                      warning: unused variable: `x`\n --> exercises/06-processes/src/state.rs:3:9\n";
        let found = diagnostics(stderr);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("exercises/06-processes/src/state.rs"));
    }

    #[test]
    fn colour_codes_do_not_confuse_the_parser() {
        assert_eq!(
            strip_ansi("\x1b[1m\x1b[91merror[E0308]\x1b[0m: x"),
            "error[E0308]: x"
        );
    }

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

    fn exit(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_run_is_finished_only_with_every_outcome_and_libtests_exit_code() {
        let outcomes = parse(LIBTEST);
        let listed = names(&[
            "sessions_are_shared",
            "visits_are_shared",
            "visits_survive_a_restart",
        ]);
        assert_eq!(unfinished(&listed, &outcomes, exit(101)), None);
        // A red run cannot exit 0; a crash is not a verdict.
        assert!(unfinished(&listed, &outcomes, exit(0)).is_some());
        assert!(unfinished(&listed, &outcomes, exit(134)).is_some());
    }

    #[test]
    fn a_run_that_stopped_part_way_is_never_green() {
        // Two checks printed `ok`, then the binary aborted before the third reported anything.
        let partial = "running 3 tests\ntest a ... ok\ntest b ... ok\n";
        let outcomes = parse(partial);
        let problem = unfinished(&names(&["a", "b", "c"]), &outcomes, exit(0)).unwrap();
        assert!(
            problem.contains("1 of 3 checks reported no outcome (first: c)"),
            "{problem}"
        );
        use std::os::unix::process::ExitStatusExt;
        let killed = ExitStatus::from_raw(9);
        assert!(unfinished(&names(&["a", "b"]), &outcomes, killed).is_some());
        // A binary with no tests (a binary's own unit-test harness) ran completely; whether any
        // check ran at all is the caller's question.
        assert_eq!(unfinished(&[], &[], exit(0)), None);
    }

    /// A stand-in for a check binary: lists two checks, reports one, then dies as `how` says.
    fn fake_check_binary(dir: &Path, how: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("checks");
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = --list ]; then printf 'a: test\\nb: test\\n'; exit 0; fi\n\
             echo 'running 2 tests'\necho 'test a ... ok'\n{how}\n"
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_check_binary_that_crashes_or_is_killed_part_way_is_an_error_not_a_verdict() {
        let dir = tempfile::tempdir().unwrap();
        for how in [
            "kill -9 $$",
            "exit 0",
            "echo 'test b ... ok'; kill -ABRT $$",
        ] {
            let binary = fake_check_binary(dir.path(), how);
            let err = run(&binary, dir.path(), None, None)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("the checks themselves did not finish"),
                "{how}: {err}"
            );
        }
        let binary = fake_check_binary(dir.path(), "echo 'test b ... ok'; exit 0");
        let outcomes = run(&binary, dir.path(), None, None).unwrap();
        assert!(outcomes.iter().all(|outcome| outcome.passed) && outcomes.len() == 2);
    }

    #[test]
    fn a_check_the_platform_cannot_judge_is_neither_passed_nor_failed() {
        let dir = tempfile::tempdir().unwrap();
        let how = "printf 'test b ... FAILED\\n\\nfailures:\\n\\n---- b stdout ----\\n\\n\
                   thread '\\''b'\\'' panicked at kit/checks/x.rs:1:1:\\n\
                   not checkable on macOS: the sockets of pid 7. Run this check in the dev \
                   container.\\n\\nfailures:\\n    b\\n'; exit 101";
        let binary = fake_check_binary(dir.path(), how);
        let outcomes = run(&binary, dir.path(), None, None).unwrap();
        let b = outcomes.iter().find(|outcome| outcome.name == "b").unwrap();
        assert!(b.passed && !b.judged_green(), "{b:?}");
        assert!(
            b.not_checkable
                .as_deref()
                .is_some_and(|gap| gap.starts_with("not checkable on macOS: the sockets")),
            "{b:?}"
        );
        assert!(outcomes.iter().any(|outcome| outcome.judged_green()));
    }

    #[test]
    fn the_apps_a_check_started_do_not_outlive_it() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("app.pid");
        // The "check" leaves a background app behind, as a check binary that aborts would.
        let how = format!(
            "sleep 60 & echo $! > {}; echo 'test b ... ok'; exit 0",
            pid_file.display()
        );
        let binary = fake_check_binary(dir.path(), &how);
        run(&binary, dir.path(), None, None).unwrap();
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let alive = nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "the app started by the check is still running");
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
        assert!(!outcomes[0].output.contains("RUST_BACKTRACE"));
    }
}
