//! `cargo xtask bench`: the performance budget, measured.
//!
//! - cold: from an empty target dir to the first verdict (`xtask` + the Factor VI exercise), then the
//!   rest of the workspace;
//! - warm: a one-line edit in the exercise, then `cargo xtask check 6`, median of several runs,
//!   and where that time goes (Cargo's start-up, the rebuild, the checks);
//! - the size of `target/`.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::testrun::{self, Build};
use crate::engine::{progress, services};
use crate::learner::{check, watch};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The file the warm benchmark edits, as a learner would.
const EDITED: &str = "exercises/06-processes/src/state.rs";

pub fn run(root: &Path, runs: usize, skip_cold: bool, out: &mut impl Write) -> Result<Verdict> {
    let runs = runs.max(1);
    services::ensure(root, &crate::engine::manifest::Service::ALL, out)?;
    if !skip_cold {
        cold(root, out)?;
    }
    warm(root, runs, out)?;
    let size = dir_size(&root.join("target"));
    writeln!(
        out,
        "target/ size: {:.2} GiB (budget 1.5 GiB)",
        size as f64 / f64::from(1 << 30)
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

fn cold(root: &Path, out: &mut impl Write) -> Result<()> {
    let target = tempfile::Builder::new()
        .prefix("bench-cold-")
        .tempdir_in(root.join("target"))?;
    writeln!(
        out,
        "cold build in {} (takes minutes)…",
        target.path().display()
    )?;
    let cargo_in = |args: &[&str]| {
        let mut command = testrun::cargo_command();
        command
            .args(args)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", target.path());
        command
    };
    let first = timed(&mut cargo_in(&["build", "--package", "xtask"]))?
        + timed(&mut cargo_in(&[
            "test",
            "--no-run",
            "--package",
            "ex06-processes",
        ]))?;
    writeln!(
        out,
        "cold, clone → first verdict build: {:.0} s (budget 150 s)",
        first.as_secs_f64()
    )?;
    let rest = timed(&mut cargo_in(&["build", "--workspace", "--all-targets"]))?;
    writeln!(
        out,
        "cold, whole workspace (all targets): {:.0} s",
        (first + rest).as_secs_f64()
    )?;
    writeln!(
        out,
        "cold target dir size: {:.2} GiB",
        dir_size(target.path()) as f64 / f64::from(1 << 30)
    )?;
    Ok(())
}

fn warm(root: &Path, runs: usize, out: &mut impl Write) -> Result<()> {
    let command_line = || {
        let mut command = testrun::cargo_command();
        command.args(["xtask", "check", "6"]).current_dir(root);
        timed(&mut command)
    };
    let times = edit_loop(root, runs, command_line)?;
    report(out, "`cargo xtask check 6`", runs, &times)?;

    // What `cargo xtask watch 6` does after each save: the same check, without starting xtask
    // through `cargo run` (plus the watcher's settle time).
    let manifest = Manifest::load(root)?;
    let factor = manifest.find("6")?.clone();
    let in_watch = || {
        let clock = Instant::now();
        let options = check::Options {
            solution: false,
            verbose: false,
        };
        check::run(root, &manifest, &factor, options, &mut std::io::sink())?;
        Ok(clock.elapsed() + watch::SETTLE)
    };
    let times = edit_loop(root, runs, in_watch)?;
    report(
        out,
        "`cargo xtask watch 6`, settle time included",
        runs,
        &times,
    )?;
    breakdown(root, &factor, runs, out)
}

/// Where a warm `check 6` spends its time. `cargo xtask check` runs Cargo twice (once for the alias
/// that starts xtask, once to rebuild the exercise), and each run first loads and resolves the whole
/// workspace: that start-up is a floor no change to the exercise can lower.
fn breakdown(root: &Path, factor: &Factor, runs: usize, out: &mut impl Write) -> Result<()> {
    let crate_dir = root.join(&factor.exercise);
    let package = Factor::package(root, &factor.exercise)?;
    let startup = repeat(runs, || {
        let mut command = testrun::cargo_command();
        command
            .args(["build", "--quiet", "--package", "xtask"])
            .current_dir(root);
        timed(&mut command)
    })?;
    let rebuild = edit_loop(root, runs, || {
        let clock = Instant::now();
        testrun::build(root, &package, true, &factor.build_env)?;
        Ok(clock.elapsed())
    })?;
    let Build::Built { executables, .. } = testrun::build(root, &package, true, &factor.build_env)?
    else {
        anyhow::bail!("{package} does not compile");
    };
    let checks = repeat(runs, || {
        let clock = Instant::now();
        testrun::run_all(&executables, &crate_dir, None, None)?;
        Ok(clock.elapsed())
    })?;
    let (startup, rebuild, checks) = (median(&startup), median(&rebuild), median(&checks));
    writeln!(
        out,
        "  where it goes (medians): Cargo start-up with nothing to build {:.2} s (paid twice) · \
         edit → rebuilt exercise {:.2} s (one of the two start-ups included) · checks {:.2} s",
        startup, rebuild, checks
    )?;
    writeln!(
        out,
        "  sum for `check 6`: {:.2} s + {:.2} s + {:.2} s = {:.2} s, plus xtask's own start",
        startup,
        rebuild,
        checks,
        startup + rebuild + checks
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

/// Times `verdict` after each of `runs` one-line edits of the exercise, after one warm-up run;
/// the learner's file is restored whatever happens.
fn edit_loop(
    root: &Path,
    runs: usize,
    verdict: impl Fn() -> Result<Duration>,
) -> Result<Vec<Duration>> {
    let path = root.join(EDITED);
    let original =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {EDITED}"))?;
    // Warm up: the first check after other work may rebuild more than a learner's edit does.
    verdict()?;
    let mut times = Vec::new();
    let result = (|| -> Result<()> {
        for run in 0..runs {
            std::fs::write(&path, format!("{original}// bench edit {run}\n"))?;
            times.push(verdict()?);
        }
        Ok(())
    })();
    std::fs::write(&path, &original)?;
    result?;
    times.sort();
    Ok(times)
}

fn report(out: &mut impl Write, what: &str, runs: usize, times: &[Duration]) -> Result<()> {
    writeln!(
        out,
        "warm edit → verdict ({what}, {runs} runs): median {:.2} s, min {:.2} s, max {:.2} s (budget 1.5 s)",
        median(times),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    )?;
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    progress::files_under_all(dir)
        .iter()
        .filter_map(|file| std::fs::symlink_metadata(file).ok())
        .map(|meta| meta.len())
        .sum()
}
