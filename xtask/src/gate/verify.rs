//! `cargo xtask verify`: the maintainer's gate, and the README's test command.
//!
//! Every available exercise is red for its intended reason (its listed checks fail with a teaching
//! message, nothing else fails, no compiler warnings); every solution is green with the same checks;
//! then xtask's and the harness's own tests, clippy, rustfmt, the compose file and the book.
//! Ends with one summary line.

use crate::engine::manifest::{Factor, Manifest, Service};
use crate::engine::testrun::{self, Outcome};
use crate::engine::{services, term, tools};
use crate::gate::{
    conventions, deploy_files, devcontainer, finished, integrity, lesson_records, mistakes,
};
use crate::learner::check;
use crate::{Verdict, book};
use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One named step of the gate; `Ok` carries a short note for the summary line.
struct Step<'a> {
    name: String,
    run: Box<dyn Fn() -> Result<String> + 'a>,
}

fn step<'a>(name: impl Into<String>, run: impl Fn() -> Result<String> + 'a) -> Step<'a> {
    Step {
        name: name.into(),
        run: Box::new(run),
    }
}

/// How `verify` runs: `repeat` every factor's checks; with `bless`, record what the checks now say
/// (the lessons of intended failures, the fingerprints of the shipped checks) instead of comparing.
pub struct Options {
    pub repeat: u32,
    pub bless: bool,
    /// Only the steps whose name contains this.
    pub only: Option<String>,
}

pub fn run(
    root: &Path,
    manifest: &Manifest,
    options: Options,
    out: &mut impl Write,
) -> Result<Verdict> {
    let Options {
        repeat,
        bless,
        only,
    } = options;
    let started = Instant::now();
    if bless {
        integrity::bless(root)?;
    }
    // A silently rewritten Cargo.lock is a failure of the gate, not a side effect of it.
    testrun::require_locked();
    let mut steps = vec![
        step("manifest and layout", || layout(root, manifest)),
        step(
            "crate conventions (dependencies, check targets, hints)",
            || conventions::check(root, manifest),
        ),
        step("kit/checks/SHIPPED records the checks as they are", || {
            integrity::check_record(root)
        }),
        step("backing services", || {
            services::ensure(root, &Service::ALL, &mut std::io::sink()).map(|()| String::new())
        }),
    ];
    for factor in manifest.available() {
        let name = factor.dir_name();
        steps.push(step(
            format!("exercise {name} is red for its intended reason"),
            move || repeated(repeat, || exercise_is_red(root, factor, bless)),
        ));
        steps.push(step(format!("solution {name} is green"), move || {
            repeated(repeat, || solution_is_green(root, factor))
        }));
        steps.push(step(
            format!("exercise {name} with the solution's files copied over it is green"),
            move || mistakes::solution_applied_is_green(root, factor),
        ));
        steps.push(step(
            format!("mistakes over solution {name} are caught, each by its check"),
            move || mistakes::all_caught(root, factor),
        ));
    }
    steps.extend([
        // The finished noticeboard (issue 15): every factor's checks against it.
        step("finished noticeboard passes every factor's checks", || {
            finished::check(root, manifest)
        }),
        step(
            "cargo xtask demo N: every chapter's demo twice, same output, services as found",
            || crate::demo::check(root, manifest),
        ),
        step("harness and xtask tests", || {
            cargo_step(
                root,
                &[
                    "test",
                    "--locked",
                    "--package",
                    "kit-harness",
                    "--package",
                    "xtask",
                ],
            )
        }),
        step("clippy -D warnings", || clippy(root)),
        step("rustfmt", || {
            cargo_step(root, &["fmt", "--all", "--check", "--", "--color=never"])
        }),
        step("docker-compose.yml (offline)", || compose_file(root)),
        step(
            "deploy/: Dockerfile, compose and Kubernetes manifests (offline)",
            || deploy_files::check(root),
        ),
        step(".devcontainer/devcontainer.json (offline)", || {
            devcontainer::check(root)
        }),
        step(
            "book builds, its links and the checks' anchors resolve",
            || {
                book::build(root)?;
                for factor in manifest.available() {
                    book::check_lesson_anchors(root, factor)?;
                }
                book::check_links(root).map(|count| format!("{count} links"))
            },
        ),
        // Chapter shape (the fix after the exercise), pictures, commands, workflow, runnable demos.
        step("book quality", || book::quality(root, manifest)),
        step("book renders in a headless browser", || {
            book::smoke_test_in_browser(root, manifest)
        }),
        step("deploy demo (short)", || {
            crate::gate::deploy_demo::check(root, manifest)
        }),
    ]);

    if let Some(only) = &only {
        steps.retain(|step| step.name.contains(only.as_str()));
        if steps.is_empty() {
            return Err(
                crate::UsageError(format!("no verify step's name contains {only:?}")).into(),
            );
        }
    }
    let mut failed = Vec::new();
    for Step { name, run } in &steps {
        if term::interactive() {
            write!(out, "  … {name}")?;
            out.flush()?;
        }
        let clock = Instant::now();
        let result = run();
        let took = format!("{:.1}s", clock.elapsed().as_secs_f64());
        match result {
            Ok(note) => {
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!(": {note}")
                };
                writeln!(
                    out,
                    "\r  {} {name}{note} {}",
                    term::pass(),
                    term::dim(&took)
                )?;
            }
            Err(err) => {
                writeln!(
                    out,
                    "{}  {} {name} {}",
                    term::line_start(),
                    term::fail(),
                    term::dim(&took)
                )?;
                write!(out, "{}", term::indent(&format!("{err:#}"), 6))?;
                failed.push(name.clone());
            }
        }
    }
    let elapsed = started.elapsed().as_secs();
    let time = format!("{}m{:02}s", elapsed / 60, elapsed % 60);
    if failed.is_empty() {
        writeln!(out, "verify: all {} steps pass ({time})", steps.len())?;
        Ok(Verdict::Green)
    } else {
        writeln!(
            out,
            "verify: {} of {} steps failed ({time}): {}",
            failed.len(),
            steps.len(),
            failed.join("; ")
        )?;
        Ok(Verdict::Red)
    }
}

/// The manifest matches the tree: crates, chapters, hints, edit markers.
fn layout(root: &Path, manifest: &Manifest) -> Result<String> {
    let summary = std::fs::read_to_string(root.join("book/src/SUMMARY.md"))
        .context("book/src/SUMMARY.md is missing")?;
    for factor in &manifest.factors {
        let name = factor.heading();
        if !factor.available {
            ensure!(
                !root.join(&factor.exercise).exists(),
                "{name} has an exercise folder but is not marked available"
            );
            continue;
        }
        for dir in [&factor.exercise, &factor.solution] {
            Factor::package(root, dir)?;
        }
        ensure!(
            !factor.intended_failures.is_empty(),
            "{name} lists no intended failure"
        );
        ensure!(
            root.join("book/src").join(&factor.chapter).is_file(),
            "{name}: book/src/{} is missing",
            factor.chapter
        );
        ensure!(
            summary.contains(&format!("({})", factor.chapter)),
            "{name}: SUMMARY.md does not link {}",
            factor.chapter
        );
        let marker = format!("TODO(factor-{})", factor.number);
        let sources =
            crate::engine::progress::files_under(&root.join(&factor.exercise).join("src"));
        ensure!(
            sources
                .iter()
                .any(|file| std::fs::read_to_string(file).is_ok_and(|text| text.contains(&marker))),
            "{name}: no `{marker}` marks what to edit in {}",
            factor.exercise.display()
        );
        let readme = std::fs::read_to_string(root.join(&factor.exercise).join("README.md"))
            .unwrap_or_default();
        ensure!(
            ["PORT", "HOME", "TMPDIR", "PATH", "RUST_BACKTRACE"]
                .iter()
                .all(|variable| readme.contains(variable)),
            "{name}: the exercise's README.md must state what every check gives the app (PORT, \
             HOME, TMPDIR, PATH, RUST_BACKTRACE): see CONTRIBUTING.md"
        );
        let main = std::fs::read_to_string(root.join(&factor.exercise).join("src/main.rs"))
            .unwrap_or_default();
        ensure!(
            main.contains(&format!("book/src/{}", factor.chapter)),
            "{name}: the exercise's //! header does not point to book/src/{}",
            factor.chapter
        );
    }
    Ok(format!(
        "{} of 12 factors available",
        manifest.available().count()
    ))
}

/// Runs `step` `times` times; any failure fails it, naming the run (a flaky check is a broken one).
fn repeated(times: u32, step: impl Fn() -> Result<String>) -> Result<String> {
    let mut note = String::new();
    for run in 1..=times {
        note = match step() {
            Ok(note) => note,
            Err(err) if run > 1 => {
                return Err(err.context(format!(
                    "run {run} of {times} failed, the earlier runs passed: a flaky check"
                )));
            }
            Err(err) => return Err(err),
        };
    }
    Ok(if times > 1 {
        format!("{note} ({times} runs)")
    } else {
        note
    })
}

/// Builds the factor's checks and the app they judge (no warnings allowed), and runs them.
/// Exercises build incrementally, as `check` builds them, so the two share one build.
fn build_and_run(root: &Path, factor: &Factor, solution: bool) -> Result<Vec<Outcome>> {
    let built = match check::build(root, factor, solution)? {
        Err((package, errors)) => bail!("{package} does not compile:\n{}", errors.join("\n")),
        Ok(built) => built,
    };
    ensure!(
        built.warnings.is_empty(),
        "{} compiles with warnings:\n{}",
        built.package,
        built.warnings.join("\n")
    );
    let dir = check::target_dir(factor, solution);
    let mut outcomes = Vec::new();
    for executable in &built.executables {
        outcomes.extend(testrun::run(
            executable,
            &root.join(dir),
            None,
            built.judged.as_ref(),
        )?);
    }
    ensure!(!outcomes.is_empty(), "{} ran no checks", built.package);
    Ok(outcomes)
}

fn exercise_is_red(root: &Path, factor: &Factor, bless: bool) -> Result<String> {
    let outcomes = build_and_run(root, factor, false)?;
    let teaching = [
        format!("Factor {},", factor.roman),
        format!("Book: {}#", factor.page()),
    ];
    for intended in &factor.intended_failures {
        let outcome = outcomes
            .iter()
            .find(|outcome| &outcome.name == intended)
            .with_context(|| format!("factors.toml lists `{intended}`, but no such check ran"))?;
        ensure!(
            !outcome.passed,
            "`{intended}` passes on the shipped exercise"
        );
        ensure!(
            teaching
                .iter()
                .all(|part| outcome.explanation.contains(part.as_str())),
            "`{intended}` fails, but not with a teaching message (rule and book link):\n{}",
            outcome.explanation
        );
    }
    if bless {
        lesson_records::bless(root, factor, &outcomes)?;
    } else {
        lesson_records::compare(root, factor, &outcomes)?;
    }
    let unintended: Vec<&Outcome> = outcomes
        .iter()
        .filter(|outcome| !outcome.passed && !factor.intended_failures.contains(&outcome.name))
        .collect();
    if let Some(first) = unintended.first() {
        bail!(
            "`{}` fails on the shipped exercise but is not an intended failure:\n{}",
            first.name,
            first.explanation
        );
    }
    Ok(format!(
        "{} of {} checks fail as intended",
        factor.intended_failures.len(),
        outcomes.len()
    ))
}

fn solution_is_green(root: &Path, factor: &Factor) -> Result<String> {
    let outcomes = build_and_run(root, factor, true)?;
    if let Some(failure) = outcomes.iter().find(|outcome| !outcome.passed) {
        bail!("`{}` fails:\n{}", failure.name, failure.output);
    }
    Ok(format!("{} checks pass", outcomes.len()))
}

/// `cargo clippy -D warnings` on every crate, in a target folder of its own that is removed
/// afterwards: clippy type-checks every dependency in a mode no other build shares (about 110 MB
/// that nothing reuses), and `target/` has a budget. The price is clippy's check of the
/// dependencies on every run (under a minute on 2 cores).
fn clippy(root: &Path) -> Result<String> {
    let target = root.join("target").join("clippy");
    let target_arg = format!("--target-dir={}", target.display());
    let result = cargo_step(
        root,
        &[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            &target_arg,
            "--",
            "-D",
            "warnings",
        ],
    );
    let _ = std::fs::remove_dir_all(&target);
    result
}

fn cargo_step(root: &Path, args: &[&str]) -> Result<String> {
    let output = testrun::cargo_command()
        .args(args)
        .current_dir(root)
        .output()?;
    if !output.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let tail: Vec<&str> = text
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("`cargo {}` failed:\n{}", args.join(" "), tail.join("\n"));
    }
    Ok(String::new())
}

/// Parses the compose file with a real Compose implementation (no engine needed) and checks what the
/// kit promises: pinned major versions, healthchecks, loopback-only ports, env-driven credentials.
fn compose_file(root: &Path) -> Result<String> {
    let validator = tools::compose(root)?;
    let output = Command::new(&validator[0])
        .args(&validator[1..])
        .args(["--file", "docker-compose.yml", "config", "--format", "json"])
        .current_dir(root)
        // Validate the defaults, not whatever this shell exports.
        .env_remove("POSTGRES_USER")
        .env_remove("POSTGRES_PASSWORD")
        .output()?;
    ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let config: Value = serde_json::from_slice(&output.stdout)?;
    for (service, image) in [("postgres", "postgres:"), ("redis", "redis:")] {
        let spec = &config["services"][service];
        ensure!(spec.is_object(), "no `{service}` service");
        let tag = spec["image"].as_str().unwrap_or_default();
        ensure!(
            tag.strip_prefix(image)
                .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit())),
            "`{service}` image {tag:?} does not pin a major version"
        );
        ensure!(
            spec["healthcheck"]["test"].is_array(),
            "`{service}` has no healthcheck"
        );
        for port in spec["ports"].as_array().into_iter().flatten() {
            ensure!(
                port["host_ip"] == "127.0.0.1",
                "`{service}` publishes a port beyond loopback"
            );
        }
    }
    let raw = std::fs::read_to_string(root.join("docker-compose.yml"))?;
    for variable in [
        "${POSTGRES_USER",
        "${POSTGRES_PASSWORD",
        "${POSTGRES_PORT",
        "${REDIS_PORT",
    ] {
        ensure!(
            raw.contains(variable),
            "docker-compose.yml does not take {variable}}} from the environment"
        );
    }
    Ok(format!("validated with `{}`", validator.join(" ")))
}
