//! `cargo xtask bench`: the performance budget, measured.
//!
//! - cold: fresh clones (three by default) to the first verdict of `cargo xtask check 1`, their
//!   median, and the longest stretch each printed nothing; the size of `target/` in the last clone
//!   after a full `verify` and every factor checked both ways; the rest of the workspace in the first;
//! - warm: a one-function edit in the exercise, then `cargo xtask check 6` (and `watch`'s re-check,
//!   from the save), side by side with the same edit and `rustlings run` on a solved rustlings
//!   exercise, the median ratio of at least nine pairs; and where the time goes (Cargo's start-up,
//!   the rebuild, the checks).

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::testrun::{self, Build};
use crate::engine::{progress, replay, services, tools};
use crate::learner::{check, watch};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The file the warm benchmark edits, as a learner would.
const EDITED: &str = "exercises/06-processes/src/state.rs";

/// `cold_runs`: how many fresh clones to time to their first verdict (`None`: skip the cold part).
pub fn run(
    root: &Path,
    runs: usize,
    cold_runs: Option<usize>,
    out: &mut impl Write,
) -> Result<Verdict> {
    let runs = runs.max(1);
    services::ensure(root, &crate::engine::manifest::Service::ALL, out)?;
    if let Some(cold_runs) = cold_runs {
        cold(root, cold_runs.max(1), out)?;
    }
    warm(root, runs, out)?;
    // Not the budget's figure (that one is the fresh clone's): a long-lived checkout also keeps the
    // builds of every dependency set it ever had, which Cargo never removes.
    writeln!(
        out,
        "this checkout's target/: {:.2} GiB (with every older build it kept; `cargo clean` drops them)",
        gib(dir_size(&root.join("target")))
    )?;
    Ok(Verdict::Green)
}

fn timed(command: &mut Command) -> Result<Duration> {
    let clock = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    // A red check exits 1; that is still a verdict. Anything else is a broken run.
    anyhow::ensure!(
        matches!(status.code(), Some(0 | 1)),
        "{command:?} failed ({status})"
    );
    Ok(clock.elapsed())
}

/// A learner's first minutes: a fresh clone (the crates already downloaded, as after the set-up
/// page's `cargo fetch`), then the README's first command, `cargo xtask check 1`, timed to its
/// verdict, with the longest stretch in which it printed nothing (as a terminal shows it), and
/// where the time went; `runs` fresh clones, one after the other, and their median. Then, in the
/// last clone, the rest of the workspace and `target/`'s budget.
fn cold(root: &Path, runs: usize, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "cold: `cargo xtask check 1` in {runs} fresh clone(s) of HEAD, one after the other (takes minutes)…"
    )?;
    out.flush()?;
    let mut timed_runs = Vec::new();
    // The first clone, for the rest of the workspace; the last one, for target/'s budget.
    let (mut first_clone, mut last_clone) = (None, None);
    for _ in 0..runs {
        let (parent, clone) = fresh_clone(root)?;
        let cpu_before = children_cpu();
        let (mut check_1, seen_on) = on_a_terminal(&["xtask", "check", "1"]);
        check_1.current_dir(&clone).env_remove("CARGO_TARGET_DIR");
        let run = timed_lines(&mut check_1)?;
        let cpu = children_cpu().saturating_sub(cpu_before);
        writeln!(
            out,
            "  {:.0} s: xtask and the dependency set built after {:.0} s, then the exercise, its \
             checks and the verdict {:.1} s; {:.0} s of CPU ({:.2} cores busy); seen {seen_on}, at \
             most {:.1} s without a new line or redraw, after {:?}",
            run.total.as_secs_f64(),
            run.tools_built.as_secs_f64(),
            (run.total - run.tools_built).as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() / run.total.as_secs_f64(),
            run.longest_gap.as_secs_f64(),
            run.gap_after
        )?;
        out.flush()?;
        timed_runs.push(run);
        if first_clone.is_none() && runs > 1 {
            first_clone = Some((parent, clone));
        } else {
            last_clone = Some((parent, clone));
        }
    }
    let (_parent, clone) = last_clone.expect("at least one run");
    let mut totals: Vec<Duration> = timed_runs.iter().map(|run| run.total).collect();
    totals.sort();
    let median_total = totals[totals.len() / 2];
    let worst_gap = timed_runs
        .iter()
        .map(|run| run.longest_gap)
        .max()
        .unwrap_or_default();
    let first_output = timed_runs
        .iter()
        .map(|run| run.first_output)
        .max()
        .unwrap_or_default();
    writeln!(
        out,
        "cold, clone → first verdict: median {:.0} s of {runs} (budget {FIRST_VERDICT_BUDGET} s){}",
        median_total.as_secs_f64(),
        if median_total.as_secs() <= FIRST_VERDICT_BUDGET {
            ""
        } else {
            " OVER BUDGET"
        }
    )?;
    writeln!(
        out,
        "  never silent: first output after at most {:.1} s; longest time without a new line or \
         redraw in any run {:.1} s (budget {SILENT_GAP_BUDGET} s){}",
        first_output.as_secs_f64(),
        worst_gap.as_secs_f64(),
        if worst_gap.as_secs_f64() <= SILENT_GAP_BUDGET as f64 {
            ""
        } else {
            " OVER BUDGET"
        }
    )?;
    writeln!(
        out,
        "  a fresh clone's target/ at its first verdict: {:.2} GiB",
        gib(dir_size(&clone.join("target")))
    )?;
    target_budget(&clone, out)?;
    // In another clone: the budget's figure is about what a learner and the gate build, and
    // `--all-targets` builds more.
    match first_clone {
        Some((_parent, first)) => {
            let mut rest = testrun::cargo_command();
            rest.args(["build", "--workspace", "--all-targets"])
                .current_dir(&first)
                .env_remove("CARGO_TARGET_DIR");
            let rest = timed(&mut rest)?;
            writeln!(
                out,
                "cold, the whole workspace (all targets) after a first verdict: {:.0} s more",
                rest.as_secs_f64()
            )?;
        }
        None => writeln!(
            out,
            "cold, the whole workspace after a first verdict: not timed (it needs a second clone: \
             --cold-runs 2 or more)"
        )?,
    }
    Ok(())
}

/// `target/`'s budget is for a learner's checkout at the end of the day and a maintainer's after
/// the gate: the fresh clone after a full `verify` and every factor checked both ways (the local
/// services' data, when they run from there, counted apart: it is the databases', not the builds').
fn target_budget(clone: &Path, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "then in the clone: `cargo xtask verify`, and `check N` and `check N --solution` for every \
         factor (takes minutes)…"
    )?;
    out.flush()?;
    let mut verify = testrun::cargo_command();
    verify
        .args(["xtask", "verify"])
        .current_dir(clone)
        .env_remove("CARGO_TARGET_DIR");
    let clock = Instant::now();
    let verified = verify
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run cargo xtask verify")?;
    let verify_took = clock.elapsed();
    let verify_said = if verified.success() {
        "all steps pass"
    } else {
        "SOME STEPS FAILED"
    };
    let manifest = Manifest::load(clone)?;
    let mut checks = 0;
    for factor in manifest.available() {
        for solution in [false, true] {
            let mut check = testrun::cargo_command();
            check
                .args(["xtask", "check", &factor.number.to_string()])
                .args(solution.then_some("--solution"))
                .current_dir(clone)
                .env_remove("CARGO_TARGET_DIR");
            timed(&mut check)?;
            checks += 1;
        }
    }
    let target = clone.join("target");
    let services = dir_size(&target.join("services"));
    let builds = dir_size(&target) - services;
    writeln!(
        out,
        "target/ after `verify` ({verify_said}, {:.0} s) and {checks} checks, in the fresh clone: \
         {:.2} GiB (budget {TARGET_BUDGET_GIB} GiB){}; the local services' data there: {:.2} GiB",
        verify_took.as_secs_f64(),
        gib(builds),
        if gib(builds) <= TARGET_BUDGET_GIB {
            ""
        } else {
            " OVER BUDGET"
        },
        gib(services)
    )?;
    Ok(())
}

const TARGET_BUDGET_GIB: f64 = 1.5;

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 30)
}

const FIRST_VERDICT_BUDGET: u64 = 60;
const SILENT_GAP_BUDGET: u64 = 5;

/// A clone of the kit's HEAD in a folder of its own (removed when the first value drops).
fn fresh_clone(root: &Path) -> Result<(tempfile::TempDir, PathBuf)> {
    let parent = tempfile::Builder::new()
        .prefix("twelve-factor-bench-clone-")
        .tempdir()?;
    let clone = parent.path().join("kit");
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root)
        .arg(&clone)
        .status()
        .context("cannot run git clone")?;
    anyhow::ensure!(status.success(), "git clone of the kit failed ({status})");
    Ok((parent, clone))
}

/// The CPU time (user and system) this process's waited-for children have used so far: Linux's
/// `/proc/self/stat`, fields 16 and 17, in clock ticks.
fn children_cpu() -> Duration {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    // After the name, field 3 comes first: cutime is field 16, cstime field 17.
    let children = fields.get(13).unwrap_or(&0.0) + fields.get(14).unwrap_or(&0.0);
    Duration::from_secs_f64(children / ticks)
}

/// What a command printed, and when.
struct Lines {
    total: Duration,
    /// When the launcher's build of xtask (and with it every dependency) finished: Cargo's
    /// `Finished` line.
    tools_built: Duration,
    first_output: Duration,
    longest_gap: Duration,
    /// The line after which the longest gap came.
    gap_after: String,
}

/// `cargo <args>` as a learner runs it: on a terminal (a pseudo-terminal from util-linux's
/// `script`, 120 columns wide), where Cargo draws its progress bar, if `script` is there; else
/// through a pipe, where Cargo prints a line per crate it starts and nothing in between. Also says
/// which.
fn on_a_terminal(args: &[&str]) -> (Command, &'static str) {
    let plain = || {
        let mut command = testrun::cargo_command();
        command.args(args);
        command
    };
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains("util-linux"));
    if !has_script {
        return (plain(), "through a pipe");
    }
    let cargo = testrun::cargo_command()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let line = std::iter::once(cargo.as_str())
        .chain(args.iter().copied())
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new("script");
    testrun::without_xtask_env(&mut command);
    command
        .args(["--quiet", "--return", "--flush", "--command"])
        .arg(format!("stty cols 120 rows 40; exec {line}"))
        .arg("/dev/null")
        .stdin(Stdio::null());
    (command, "on a terminal (Cargo's progress bar)")
}

/// Runs `command` to its end, reading its stdout and stderr line by line as they come.
fn timed_lines(command: &mut Command) -> Result<Lines> {
    use std::io::Read;
    let clock = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {command:?}"))?;
    let (sender, lines) = std::sync::mpsc::channel::<(Instant, String)>();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().context("stdout")?) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().context("stderr")?),
    ]
    .into_iter()
    .map(|stream| {
        let sender = sender.clone();
        std::thread::spawn(move || {
            // Cargo redraws its progress bar after a `\r` on a terminal: each redraw counts.
            let mut line = Vec::new();
            for byte in std::io::BufReader::new(stream).bytes() {
                let Ok(byte) = byte else { break };
                if byte != b'\n' && byte != b'\r' {
                    line.push(byte);
                    continue;
                }
                let text = testrun::strip_ansi(&String::from_utf8_lossy(&line));
                if !text.trim().is_empty() {
                    let _ = sender.send((Instant::now(), text.trim().to_string()));
                }
                line.clear();
            }
        })
    })
    .collect();
    drop(sender);
    let mut seen: Vec<(Instant, String)> = lines.iter().collect();
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait()?;
    let end = Instant::now();
    anyhow::ensure!(
        matches!(status.code(), Some(0 | 1)),
        "{command:?} failed ({status})"
    );
    seen.sort_by_key(|(at, _)| *at);
    let first_output = seen.first().map_or(end - clock, |(at, _)| *at - clock);
    let tools_built = seen
        .iter()
        .find(|(_, text)| text.starts_with("Finished "))
        .map_or(Duration::ZERO, |(at, _)| *at - clock);
    let mut longest_gap = Duration::ZERO;
    let mut gap_after = String::new();
    let mut previous = (clock, "(the start)".to_string());
    // The end of the command closes the last gap.
    for (at, text) in seen.into_iter().chain([(end, String::new())]) {
        if at - previous.0 > longest_gap {
            longest_gap = at - previous.0;
            gap_after = previous.1.clone();
        }
        previous = (at, text);
    }
    Ok(Lines {
        total: end - clock,
        tools_built,
        first_output,
        longest_gap,
        gap_after,
    })
}

/// The learner's loop side by side with rustlings', in one run so that both see the same machine:
/// each pair makes the same one-function edit in the Factor VI exercise and in rustlings'
/// `structs1` (solved), then times `cargo xtask check 6` (and `watch`'s re-check) and `rustlings
/// run structs1`. The median of the per-pair ratios is the figure the budget is about.
fn warm(root: &Path, runs: usize, out: &mut impl Write) -> Result<()> {
    let pairs = runs.max(MIN_PAIRS);
    let rustlings = tools::rustlings(root)?;
    let exercise = rustlings_exercise(root, &rustlings)?;
    let rustlings_run = || {
        let mut command = Command::new(&rustlings);
        command
            .args(["run", "structs1"])
            .current_dir(&exercise.dir)
            .stdin(Stdio::null());
        timed(&mut command)
    };
    let check_6 = || {
        let mut command = testrun::cargo_command();
        command.args(["xtask", "check", "6"]).current_dir(root);
        timed(&mut command)
    };
    // What `cargo xtask watch 6` does after each save: its watcher sees the save end, then the
    // same check, without starting xtask through `cargo run`. Timed from the save.
    let manifest = Manifest::load(root)?;
    let factor = manifest.find("6")?.clone();
    let saves = watch::Saves::watch(&root.join(&factor.exercise))?;
    let kit_file = Edited::open(&root.join(EDITED))?;
    let saved_then_checked = |edit: usize| -> Result<Duration> {
        saves.forget_queued();
        let clock = Instant::now();
        kit_file.edit(edit)?;
        anyhow::ensure!(
            saves.next(Some(Duration::from_secs(10)))?,
            "`watch`'s watcher did not see the bench's save of {EDITED}"
        );
        let options = check::Options {
            solution: false,
            verbose: false,
        };
        check::run(root, &manifest, &factor, options, &mut std::io::sink())?;
        Ok(clock.elapsed())
    };
    let rustlings_file = Edited::open(&exercise.source)?;
    writeln!(
        out,
        "warm edit → verdict, side by side with rustlings {} (`rustlings run structs1`, solved), \
         {pairs} pairs…",
        tools::RUSTLINGS_VERSION
    )?;
    // Warm-up: the first run after other work may rebuild more than an edit does.
    check_6()?;
    rustlings_run()?;
    let mut rows = Vec::new();
    let result = (|| -> Result<()> {
        for pair in 0..pairs {
            kit_file.edit(pair)?;
            let check = check_6()?;
            rustlings_file.edit(pair)?;
            let rustlings_for_check = rustlings_run()?;
            let watch = saved_then_checked(pair + pairs)?;
            rustlings_file.edit(pair + pairs)?;
            let rustlings_for_watch = rustlings_run()?;
            rows.push([check, rustlings_for_check, watch, rustlings_for_watch]);
        }
        Ok(())
    })();
    kit_file.restore()?;
    rustlings_file.restore()?;
    result?;
    let column = |index: usize| -> Vec<Duration> {
        let mut times: Vec<Duration> = rows.iter().map(|row| row[index]).collect();
        times.sort();
        times
    };
    let ratios = |kit: usize, theirs: usize| -> Vec<f64> {
        let mut ratios: Vec<f64> = rows
            .iter()
            .map(|row| row[kit].as_secs_f64() / row[theirs].as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    };
    report(out, "`cargo xtask check 6`", pairs, &column(0))?;
    report(out, "`rustlings run structs1`", pairs * 2, &{
        let mut both = column(1);
        both.extend(column(3));
        both.sort();
        both
    })?;
    report(
        out,
        "`cargo xtask watch 6`, from the save, its watcher included",
        pairs,
        &column(2),
    )?;
    for (what, ratios, budget) in [
        ("check", ratios(0, 1), CHECK_RATIO_BUDGET),
        ("watch", ratios(2, 3), WATCH_RATIO_BUDGET),
    ] {
        let median = ratios[ratios.len() / 2];
        writeln!(
            out,
            "  {what} ÷ rustlings, median of {pairs} pairs: {median:.2}× (min {:.2}×, max {:.2}×; \
             budget {budget}×){}",
            ratios[0],
            ratios[ratios.len() - 1],
            if median <= budget { "" } else { " OVER BUDGET" }
        )?;
    }
    breakdown(root, &factor, runs, out)
}

/// At least this many pairs, whatever `--runs` says: fewer make the median a matter of luck.
const MIN_PAIRS: usize = 9;
const CHECK_RATIO_BUDGET: f64 = 1.6;
const WATCH_RATIO_BUDGET: f64 = 1.3;

/// rustlings' own exercise set, made once with `rustlings init`, and its
/// `structs1` solved (a solved exercise compiles, runs and passes its tests: the same work as a
/// verdict).
struct RustlingsExercise {
    dir: PathBuf,
    source: PathBuf,
}

const STRUCTS1_SOLVED: &str = "struct ColorRegularStruct {
    red: u8,
    green: u8,
    blue: u8,
}

struct ColorTupleStruct(u8, u8, u8);

#[derive(Debug)]
struct UnitStruct;

fn main() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_structs() {
        let green = ColorRegularStruct { red: 0, green: 255, blue: 0 };
        assert_eq!(green.red, 0);
        assert_eq!(green.green, 255);
        assert_eq!(green.blue, 0);
    }

    #[test]
    fn tuple_structs() {
        let green = ColorTupleStruct(0, 255, 0);
        assert_eq!(green.0, 0);
        assert_eq!(green.1, 255);
        assert_eq!(green.2, 0);
    }

    #[test]
    fn unit_structs() {
        let unit_struct = UnitStruct;
        let message = format!(\"{unit_struct:?}s are fun!\");
        assert_eq!(message, \"UnitStructs are fun!\");
    }
}
";

/// rustlings' exercise set lives outside the kit (a folder below the kit's workspace would be taken
/// for one of its packages): in the tools cache, else the system's temp folder.
fn rustlings_exercise(root: &Path, rustlings: &Path) -> Result<RustlingsExercise> {
    let tools = tools::tools_dir(root);
    let parent = if tools.starts_with(root) {
        std::env::temp_dir().join("twelve-factor-rust-bench")
    } else {
        tools.join("bench")
    };
    let dir = parent.join("rustlings");
    if !dir.join("Cargo.toml").is_file() {
        std::fs::create_dir_all(&parent)?;
        let status = Command::new(rustlings)
            .arg("init")
            .current_dir(&parent)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .context("cannot run rustlings init")?;
        anyhow::ensure!(status.success(), "`rustlings init` failed ({status})");
    }
    let source = dir.join("exercises").join("07_structs").join("structs1.rs");
    std::fs::write(&source, STRUCTS1_SOLVED)
        .with_context(|| format!("cannot write {}", source.display()))?;
    Ok(RustlingsExercise { dir, source })
}

/// A source file the benchmark edits as a learner would (one function changed), and restores.
struct Edited {
    path: PathBuf,
    original: String,
}

impl Edited {
    fn open(path: &Path) -> Result<Self> {
        let original = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Edited {
            path: path.to_path_buf(),
            original,
        })
    }

    /// The original with one function whose body differs from the last edit's.
    fn edit(&self, number: usize) -> Result<()> {
        let edited = format!(
            "{}\n#[allow(dead_code)]\nfn bench_edit() -> usize {{\n    {number}\n}}\n",
            self.original
        );
        std::fs::write(&self.path, edited)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn restore(&self) -> Result<()> {
        std::fs::write(&self.path, &self.original)
            .with_context(|| format!("cannot restore {}", self.path.display()))
    }
}

/// Where a warm `check 6` spends its time: Cargo's start-up for the alias that starts xtask (each
/// Cargo run first loads and resolves the whole workspace: a floor no change to the exercise can
/// lower), the exercise's rebuild (by Cargo, or by replaying its rustc command), the checks.
fn breakdown(root: &Path, factor: &Factor, runs: usize, out: &mut impl Write) -> Result<()> {
    let crate_dir = root.join(&factor.exercise);
    let package = Factor::package(root, &factor.exercise)?;
    let startup = repeat(runs, || {
        let mut command = testrun::cargo_command();
        // The alias as a learner pays it: Cargo checks the launcher, which finds xtask fresh and
        // becomes it; `--help` then costs xtask nothing more than its start.
        command
            .args(["xtask", "--help"])
            .stdout(Stdio::null())
            .current_dir(root);
        timed(&mut command)
    })?;
    // Cargo's rebuild and the replay of its rustc command, alternately after the same kind of edit.
    let file = Edited::open(&root.join(EDITED))?;
    let (mut by_cargo, mut by_replay, mut replayed) = (Vec::new(), Vec::new(), 0);
    let result = (|| -> Result<()> {
        replay::build(root, &package, &factor.build_env)?; // warm-up, and a fresh record
        for run in 0..runs {
            file.edit(2 * run)?;
            let clock = Instant::now();
            testrun::build(root, &package, true, &factor.build_env)?;
            by_cargo.push(clock.elapsed());
            file.edit(2 * run + 1)?;
            let clock = Instant::now();
            let (_, how) = replay::build(root, &package, &factor.build_env)?;
            by_replay.push(clock.elapsed());
            replayed += usize::from(how == replay::How::Replayed);
        }
        Ok(())
    })();
    file.restore()?;
    result?;
    by_cargo.sort();
    by_replay.sort();
    let Build::Built { executables, .. } = testrun::build(root, &package, true, &factor.build_env)?
    else {
        anyhow::bail!("{package} does not compile");
    };
    let checks = repeat(runs, || {
        let clock = Instant::now();
        testrun::run_all(&executables, &crate_dir, None, None)?;
        Ok(clock.elapsed())
    })?;
    let (startup, by_cargo, by_replay, checks) = (
        median(&startup),
        median(&by_cargo),
        median(&by_replay),
        median(&checks),
    );
    writeln!(
        out,
        "  where it goes (medians): the alias (Cargo, the launcher, xtask's start) {startup:.2} s · edit → \
         rebuilt exercise by Cargo {by_cargo:.2} s (a start-up included), by replaying its rustc \
         command {by_replay:.2} s ({replayed} of {runs} replayed) · checks {checks:.2} s"
    )?;
    writeln!(
        out,
        "  sum for `check 6`: {startup:.2} s (the alias) + {by_replay:.2} s + {checks:.2} s = {:.2} \
         s; `watch` pays no alias",
        startup + by_replay + checks
    )?;
    Ok(())
}

fn repeat(runs: usize, mut measure: impl FnMut() -> Result<Duration>) -> Result<Vec<Duration>> {
    measure()?; // warm-up
    let mut times = (0..runs).map(|_| measure()).collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times)
}

fn median(times: &[Duration]) -> f64 {
    times[times.len() / 2].as_secs_f64()
}

fn report(out: &mut impl Write, what: &str, runs: usize, times: &[Duration]) -> Result<()> {
    writeln!(
        out,
        "warm edit → verdict ({what}, {runs} runs): median {:.2} s, min {:.2} s, max {:.2} s",
        median(times),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    )?;
    Ok(())
}

/// The bytes under `dir`, each file once: Cargo hard-links every binary it builds from `deps/` into
/// `debug/`, and a file with two names takes its room on disk once.
fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    progress::files_under_all(dir)
        .iter()
        .filter_map(|file| std::fs::symlink_metadata(file).ok())
        .filter(|meta| seen.insert((meta.dev(), meta.ino())))
        .map(|meta| meta.len())
        .sum()
}
