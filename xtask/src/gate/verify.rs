//! `cargo xtask verify`: the maintainer's gate, and the README's test command.
//!
//! Every available exercise is red for its intended reason (its listed checks fail with a teaching
//! message, nothing else fails, no compiler warnings); every solution is green with the same checks;
//! then xtask's and the harness's own tests, clippy, rustfmt, the compose file and the book.
//! Ends with one summary line.
//!
//! This file is the list of steps; [`runner`] runs them (static steps first and always, then the
//! factors' lane and the tools' lane side by side). A new step is a function in a module of its
//! own, added to the list below in one line.

use crate::engine::manifest::{Factor, Manifest, Service};
use crate::engine::testrun::{self, Outcome};
use crate::engine::{incremental, services, tools};
use crate::gate::runner::{self, Lane, Step, repeated, step};
use crate::gate::{
    budget, compose, conventions, deploy_files, devcontainer, finished, integrity, kept_checks,
    layout, lesson_records, lockfile, memo, mistakes, snapshots, workflows,
};
use crate::learner::check;
use crate::{Verdict, book};
use anyhow::{Context, Result, bail, ensure};
use std::io::Write;
use std::path::Path;

/// How many factors' steps run at once (see [`Lane::Factors`]).
const FACTOR_LANES: u8 = 3;

/// How `verify` runs: `repeat` every factor's checks; with `bless`, record what the checks now say
/// (the lessons of intended failures, the fingerprints of the shipped checks) instead of comparing.
pub struct Options {
    pub repeat: u32,
    pub bless: bool,
    /// Only the steps whose name contains this (and the static steps, which always run).
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
    if bless {
        integrity::bless(root)?;
    }
    // A silently rewritten Cargo.lock is a failure of the gate, not a side effect of it.
    testrun::require_locked();
    let book_build = book::GateBuild::default();
    let mut steps = static_steps(root, manifest);
    steps.push(step(Lane::Setup, "backing services", || {
        services::ensure(root, &Service::ALL, &mut std::io::sink()).map(|()| String::new())
    }));
    for factor in manifest.available() {
        // Factors by number modulo the lanes: the slow VIII and IX then overlap.
        let lane = factor_lane(factor.number);
        steps.extend(factor_steps(root, manifest, factor, lane, repeat, bless));
    }
    steps.extend(deploy_steps(root, manifest));
    steps.extend(tool_steps(root, manifest, &book_build));
    if let Some(only) = &only {
        let selected = |step: &Step| step.name.contains(only.as_str());
        if !steps.iter().any(selected) {
            return Err(
                crate::UsageError(format!("no verify step's name contains {only:?}")).into(),
            );
        }
        let any_factor = steps
            .iter()
            .any(|step| matches!(step.lane, Lane::Factors(_)) && selected(step));
        steps.retain(|step| {
            step.lane == Lane::Static || (step.lane == Lane::Setup && any_factor) || selected(step)
        });
    }
    let verdict = runner::run_all(&steps, out);
    // The steps built all twelve exercises incrementally: their caches would take a fifth of
    // target/'s budget, and only the crate edited next gains from one.
    incremental::remove_all_unused(&incremental::dir(&testrun::target_dir(root)));
    verdict
}

/// The lane of factor `number`'s steps.
fn factor_lane(number: u8) -> Lane {
    Lane::Factors(number % FACTOR_LANES)
}

/// The steps that read files (and validate two with a tool): seconds together, so they run
/// whatever `--only` says.
fn static_steps<'a>(root: &'a Path, manifest: &'a Manifest) -> Vec<Step<'a>> {
    vec![
        step(Lane::Static, "Cargo.lock is as committed", || {
            lockfile::check(root)
        }),
        step(Lane::Static, "manifest and layout", || {
            layout::check(root, manifest)
        }),
        step(
            Lane::Static,
            "crate conventions (dependencies, check targets, hints)",
            || conventions::check(root, manifest),
        ),
        step(
            Lane::Static,
            "snapshots keep what earlier factors taught",
            || snapshots::agree(root, manifest),
        ),
        step(
            Lane::Static,
            "kit/checks/SHIPPED records the checks as they are",
            || integrity::check_record(root),
        ),
        step(Lane::Static, "docker-compose.yml (offline)", || {
            compose::check(root)
        }),
        step(
            Lane::Static,
            ".devcontainer/devcontainer.json (offline)",
            || devcontainer::check(root),
        ),
        step(Lane::Static, "macOS workflow (offline)", || {
            workflows::check_macos(root, manifest)
        }),
        // Chapter shape, pictures, commands, workflow: markdown and SVG, nothing built.
        step(
            Lane::Static,
            "book sources (shape, pictures, commands)",
            || book::lint_sources(root, manifest),
        ),
    ]
}

/// A factor's steps: its exercise red for the intended reason, its solution green, the solution
/// copied over the exercise green, its mistake fixtures caught; every one `repeat` times.
fn factor_steps<'a>(
    root: &'a Path,
    manifest: &'a Manifest,
    factor: &'a Factor,
    lane: Lane,
    repeat: u32,
    bless: bool,
) -> Vec<Step<'a>> {
    let name = factor.dir_name();
    vec![
        step(
            lane,
            format!("exercise {name} is red for its intended reason"),
            move || repeated(repeat, || exercise_is_red(root, factor, bless)),
        ),
        step(lane, format!("solution {name} is green"), move || {
            repeated(repeat, || solution_is_green(root, factor))
        }),
        step(
            lane,
            format!("solution {name} still passes the earlier checks it keeps"),
            move || kept_checks::still_pass(root, manifest, factor),
        ),
        step(
            lane,
            format!("exercise {name} with the solution's files copied over it is green"),
            move || mistakes::solution_applied_is_green(root, factor, repeat),
        ),
        step(
            lane,
            format!("mistakes over solution {name} are caught, each by its check"),
            move || mistakes::all_caught(root, factor, repeat),
        ),
    ]
}

/// Issue 15's steps: the finished noticeboard judged by every factor's checks, every chapter's
/// demo, the deploy files and the short deploy demo. They start apps and use the services like
/// the factors' checks, so they run in the factors' lanes. Port 8080 is the one thing they share
/// with a factor: Factor VII's checks hold it while they run (against its exercise, its solution
/// or the finished app), and Factor VII's demo starts the exercise on it. So those steps all run
/// in Factor VII's lane, one after the other (CI's verify once failed the demo when the finished
/// app's VII checks held the port in another lane).
///
/// Each is slow (the demos take a minute and more) and judges only the sources it names, so each
/// is memoised like the browser test: not run again while those sources, the lock file and xtask
/// itself are as they were when it last passed (a fresh clone and CI always run them).
fn deploy_steps<'a>(root: &'a Path, manifest: &'a Manifest) -> Vec<Step<'a>> {
    vec![
        step(
            factor_lane(7),
            "finished noticeboard passes every factor's checks",
            move || {
                unless_sources_unchanged(root, "finished", &["noticeboard", "kit"], || {
                    finished::check(root, manifest)
                })
            },
        ),
        step(
            factor_lane(7),
            "cargo xtask demo N: every chapter's demo twice, same output, services as found",
            move || {
                unless_sources_unchanged(root, "demo", &["exercises", "solutions", "kit"], || {
                    crate::demo::check(root, manifest)
                })
            },
        ),
        step(
            factor_lane(8),
            "deploy/: Dockerfile, compose and Kubernetes manifests (offline)",
            move || {
                unless_sources_unchanged(root, "deploy-files", &["deploy", "noticeboard"], || {
                    deploy_files::check(root)
                })
            },
        ),
        step(factor_lane(8), "deploy demo (short)", move || {
            unless_sources_unchanged(
                root,
                "deploy-demo",
                &["noticeboard", "exercises", "deploy", "kit"],
                || crate::gate::deploy_demo::check(root, manifest),
            )
        }),
    ]
}

/// Runs `step` unless the files under `dirs`, `Cargo.lock`, `factors.toml` and xtask's own binary
/// are exactly as they were when it last passed (see [`memo`]).
fn unless_sources_unchanged(
    root: &Path,
    name: &str,
    dirs: &[&str],
    step: impl FnOnce() -> Result<String>,
) -> Result<String> {
    let dirs: Vec<_> = dirs.iter().map(|dir| root.join(dir)).collect();
    let dirs: Vec<&Path> = dirs.iter().map(|dir| dir.as_path()).collect();
    let xtask = std::env::current_exe()?;
    let files = [
        root.join("Cargo.lock"),
        root.join("factors.toml"),
        xtask.clone(),
    ];
    let files: Vec<&Path> = files.iter().map(|file| file.as_path()).collect();
    memo::unless_unchanged(root, name, memo::fingerprint(&dirs, &files, ""), step)
}

/// The toolchain's steps and the book: none of them reads what the factors' checks write.
fn tool_steps<'a>(
    root: &'a Path,
    manifest: &'a Manifest,
    book_build: &'a book::GateBuild,
) -> Vec<Step<'a>> {
    vec![
        step(
            Lane::Tools,
            "harness, platform, launcher and xtask tests",
            || {
                // The platform crate tests its lsof back end (macOS's) against /proc here.
                tools::lsof()?;
                cargo_step(
                    root,
                    &[
                        "test",
                        "--locked",
                        "--package",
                        "kit-harness",
                        "--package",
                        "kit-platform",
                        "--package",
                        "xtask",
                        "--package",
                        "xtask-launcher",
                    ],
                )
            },
        ),
        step(Lane::Tools, "class board (kit-room tests)", || {
            super::room::tests(root)
        }),
        step(Lane::Tools, "kit-platform type-checks for macOS", || {
            macos_type_check(root)
        }),
        step(Lane::Tools, "clippy -D warnings", || clippy(root)),
        step(Lane::Tools, "rustfmt", || {
            cargo_step(root, &["fmt", "--all", "--check", "--", "--color=never"])
        }),
        step(
            Lane::Tools,
            "book builds, its links and the checks' anchors resolve",
            || {
                book_build.get(root)?;
                for factor in manifest.available() {
                    book::check_lesson_anchors(root, factor)?;
                }
                book::check_links(root).map(|count| format!("{count} links"))
            },
        ),
        step(Lane::Tools, "book demos run", || book::run_demos(root)),
        step(Lane::Tools, "book renders in a headless browser", || {
            // Inputs: the built book, xtask (the test's own code) and the browser's version.
            let built = book_build.get(root)?;
            let browser = tools::chromium()?;
            let version = std::process::Command::new(&browser)
                .arg("--version")
                .output()?;
            let xtask = std::env::current_exe()?;
            let inputs = memo::fingerprint(
                &[&book::output_dir(root)],
                &[&xtask],
                &String::from_utf8_lossy(&version.stdout),
            );
            memo::unless_unchanged(root, "browser", inputs, || {
                book::smoke_test_in_browser(manifest, Ok(built))
            })
        }),
    ]
}

/// A factor's checks, built (see [`check::build`]), or the compile errors as a failure: the gate
/// accepts no crate that does not compile.
pub fn built(root: &Path, factor: &Factor, solution: bool) -> Result<check::Built> {
    match check::build(root, factor, solution)? {
        Err((package, errors)) => bail!("{package} does not compile:\n{}", errors.join("\n")),
        Ok(built) => Ok(built),
    }
}

/// Builds the factor's checks and the app they judge (no warnings allowed), and runs them.
/// Exercises build incrementally, as `check` builds them, so the two share one build.
fn build_and_run(root: &Path, factor: &Factor, solution: bool) -> Result<Vec<Outcome>> {
    let built = built(root, factor, solution)?;
    ensure!(
        built.warnings.is_empty(),
        "{} compiles with warnings:\n{}",
        built.package,
        built.warnings.join("\n")
    );
    let dir = check::target_dir(factor, solution);
    let outcomes = testrun::run_all(
        &built.executables,
        &root.join(dir),
        None,
        built.judged.as_ref(),
    )?;
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
        if let Some(gap) = &outcome.not_checkable {
            bail!("`{intended}` cannot be judged here: {gap}");
        }
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
    let slowest = budget::within(&outcomes)?;
    Ok(format!(
        "{} of {} checks fail as intended, {slowest}",
        factor.intended_failures.len(),
        outcomes.len()
    ))
}

fn solution_is_green(root: &Path, factor: &Factor) -> Result<String> {
    let outcomes = build_and_run(root, factor, true)?;
    if let Some(failure) = outcomes.iter().find(|outcome| !outcome.passed) {
        bail!("`{}` fails:\n{}", failure.name, failure.output);
    }
    let slowest = budget::within(&outcomes)?;
    Ok(format!("{}, {slowest}", passed_note(&outcomes)))
}

/// "7 checks pass", and how many could not be judged on this platform, if any.
pub fn passed_note(outcomes: &[Outcome]) -> String {
    let gaps = outcomes
        .iter()
        .filter(|outcome| outcome.not_checkable.is_some())
        .count();
    let judged = outcomes.len() - gaps;
    match gaps {
        0 => format!("{judged} checks pass"),
        _ => format!("{judged} checks pass, {gaps} not checkable on this platform"),
    }
}

/// `cargo clippy -D warnings` on every crate, in a target folder of its own in the user's cache:
/// clippy type-checks every dependency in a mode no other build shares (about 110 MB that nothing
/// else reuses), so it stays out of `target/` and its budget, and is kept between runs (a warm
/// clippy re-checks only what changed; from cold it takes minutes on 2 cores).
fn clippy(root: &Path) -> Result<String> {
    let target = tools::cache_dir(root, "clippy");
    let target_arg = format!("--target-dir={}", target.display());
    cargo_step(
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
    )
}

/// The harness's platform-specific part (`kit/platform`, no C build step) type-checked for Apple
/// silicon, tests included: a Linux machine cannot run the macOS back end's `cfg` branches, but
/// it can make sure they compile. In clippy's folder (outside `target/`).
fn macos_type_check(root: &Path) -> Result<String> {
    const TARGET: &str = "aarch64-apple-darwin";
    tools::rust_target(TARGET)?;
    let target_dir = format!(
        "--target-dir={}",
        tools::cache_dir(root, "clippy").display()
    );
    cargo_step(
        root,
        &[
            "clippy",
            "--locked",
            "--package",
            "kit-platform",
            "--all-targets",
            "--target",
            TARGET,
            &target_dir,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    Ok(format!("kit/platform for {TARGET}, clippy-clean"))
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
