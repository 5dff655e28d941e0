//! `cargo xtask check N`: build the exercise, run its checks, explain every failure.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::testrun::{self, Build, Outcome};
use crate::engine::{incremental, progress, replay, services, term};
use crate::gate::integrity;
use crate::learner::status;
use anyhow::Result;
use std::io::Write;
use std::path::Path;

/// At most this many compiler errors are shown, each cut to `MAX_ERROR_LINES`: the first lines of
/// the first errors are what matter.
const MAX_ERRORS: usize = 3;
const MAX_ERROR_LINES: usize = 14;

fn trim_error(error: &str) -> String {
    let lines: Vec<&str> = error.trim_end().lines().collect();
    // Cutting a single line saves nothing: show it.
    if lines.len() <= MAX_ERROR_LINES + 1 {
        return lines.join("\n");
    }
    format!(
        "{}\n   … ({} more lines)",
        lines[..MAX_ERROR_LINES].join("\n"),
        lines.len() - MAX_ERROR_LINES
    )
}

pub struct Options {
    pub solution: bool,
    pub verbose: bool,
}

/// The crate a check runs against.
pub fn target_dir(factor: &Factor, solution: bool) -> &Path {
    if solution {
        &factor.solution
    } else {
        &factor.exercise
    }
}

pub fn run(
    root: &Path,
    manifest: &Manifest,
    factor: &Factor,
    options: Options,
    out: &mut impl Write,
) -> Result<Verdict> {
    let dir = target_dir(factor, options.solution);
    writeln!(
        out,
        "{} {}",
        term::bold(&factor.heading()),
        term::dim(&format!("· {}", dir.display()))
    )?;
    services::ensure(root, &factor.services, out)?;
    let started = std::time::SystemTime::now();
    let mut pruning = None;
    let outcomes = match build(root, factor, options.solution)? {
        Err((package, errors)) => {
            report_compile_errors(factor, &package, &errors, out)?;
            if !options.solution {
                progress::record_compile_error(root, factor);
                crate::room::post_in_background(root, factor, out);
            }
            return Ok(Verdict::Red);
        }
        Ok(built) => {
            if built.how != replay::How::Unchanged {
                // While the checks run: the other exercises' incremental caches go.
                let caches = incremental::dir(&testrun::target_dir(root));
                pruning = Some(std::thread::spawn(move || {
                    incremental::keep_only_written_since(&caches, started)
                }));
            }
            if options.verbose {
                let how = match built.how {
                    replay::How::Cargo => "built by Cargo",
                    replay::How::Unchanged => "nothing changed since the last build",
                    replay::How::Replayed => {
                        "only the exercise's sources changed: Cargo's last rustc command replayed"
                    }
                };
                writeln!(out, "{}", term::dim(&format!("  ({how})")))?;
            }
            if !built.warnings.is_empty() {
                writeln!(
                    out,
                    "{}",
                    term::dim(&format!(
                        "  ({} compiler warning(s): `cargo build -p {}` shows them)",
                        built.warnings.len(),
                        built.package
                    ))
                )?;
            }
            testrun::run_all(
                &built.executables,
                &root.join(dir),
                None,
                built.judged.as_ref(),
            )?
        }
    };
    if let Some(pruning) = pruning {
        let _ = pruning.join();
    }
    if !options.solution {
        progress::record_outcomes(root, factor, &outcomes);
    }
    // Recorded first, so the next step is the one `cargo xtask` alone now shows.
    let next = status::next_factor(root, manifest);
    let verdict = report(
        factor,
        &outcomes,
        &options,
        next,
        status::all_green(manifest),
        out,
    )?;
    if let Some(warning) = integrity::warning(root, factor) {
        write!(out, "\n{}", term::wrap(&format!("⚠ {warning}"), 0))?;
    }
    if !options.solution {
        crate::room::post_in_background(root, factor, out);
    }
    Ok(verdict)
}

/// A factor's checks, built, and what they judge.
pub struct Built {
    /// The package judged (its warnings are the ones that count).
    pub package: String,
    pub executables: Vec<std::path::PathBuf>,
    pub warnings: Vec<String>,
    /// `None`: the exercise the checks were compiled with; else the solution.
    pub judged: Option<testrun::Judged>,
    /// How the exercise (and its checks) were built.
    pub how: replay::How,
}

/// Builds the factor's checks, which are compiled with its exercise (incrementally: the
/// learner's edit loop) and, for the solution, the solution's binaries for those checks to judge.
/// A compile error comes back as the package that failed and its errors.
pub fn build(
    root: &Path,
    factor: &Factor,
    solution: bool,
) -> Result<std::result::Result<Built, (String, Vec<String>)>> {
    let exercise = Factor::package(root, &factor.exercise)?;
    // Replayed when only the exercise's sources changed (no second Cargo start-up).
    let (exercise_build, how) = replay::build(root, &exercise, &factor.build_env)?;
    let (executables, exercise_warnings) = match exercise_build {
        Build::Failed { errors } => return Ok(Err((exercise, errors))),
        Build::Built {
            executables,
            warnings,
        } => (executables, warnings),
    };
    if !solution {
        return Ok(Ok(Built {
            package: exercise,
            executables,
            warnings: exercise_warnings,
            judged: None,
            how,
        }));
    }
    let package = Factor::package(root, &factor.solution)?;
    match testrun::build_app(root, &package, &factor.build_env)? {
        Build::Failed { errors } => Ok(Err((package, errors))),
        Build::Built { warnings, .. } => Ok(Ok(Built {
            judged: Some(testrun::Judged::package(
                package.clone(),
                root.join(&factor.solution),
            )),
            package,
            executables,
            warnings,
            how,
        })),
    }
}

fn report_compile_errors(
    factor: &Factor,
    package: &str,
    errors: &[String],
    out: &mut impl Write,
) -> Result<()> {
    writeln!(out, "{} it does not compile yet:\n", term::fail())?;
    for error in errors.iter().take(MAX_ERRORS) {
        writeln!(out, "{}", term::indent(&trim_error(error), 2))?;
    }
    if errors.len() > MAX_ERRORS {
        writeln!(
            out,
            "  … and {} more: `cargo build -p {package}` shows them all.\n",
            errors.len() - MAX_ERRORS
        )?;
    }
    writeln!(
        out,
        "Fix the first error, then run `cargo xtask check {}` again.",
        factor.number
    )?;
    Ok(())
}

/// One line per check, then each failure's explanation, then the learner's next step (not when a
/// maintainer checks the reference solution). `next` is the first factor not yet green, if any;
/// `all_green` what to say when there is none ([`status::all_green`]).
pub fn report(
    factor: &Factor,
    outcomes: &[Outcome],
    options: &Options,
    next: Option<&Factor>,
    all_green: &str,
    out: &mut impl Write,
) -> Result<Verdict> {
    if outcomes.is_empty() {
        writeln!(
            out,
            "{} no checks ran: the test binary reported no tests",
            term::fail()
        )?;
        return Ok(Verdict::Red);
    }
    list_checks(outcomes, out)?;
    let failures: Vec<&Outcome> = outcomes.iter().filter(|outcome| !outcome.passed).collect();
    explain_failures(&failures, options.verbose, out)?;
    let judged = explain_not_checkable(outcomes, out)?;
    writeln!(out)?;
    if failures.is_empty() {
        green_footer(factor, judged, options, next, all_green, out)?;
        Ok(Verdict::Green)
    } else {
        red_footer(factor, judged - failures.len(), judged, options, out)?;
        Ok(Verdict::Red)
    }
}

/// One line per check, passed or failed.
fn list_checks(outcomes: &[Outcome], out: &mut impl Write) -> Result<()> {
    for outcome in outcomes {
        let mark = if outcome.not_checkable.is_some() {
            term::dim("–")
        } else if outcome.passed {
            term::pass()
        } else {
            term::fail()
        };
        writeln!(out, "  {mark} {}", outcome.name)?;
    }
    Ok(())
}

/// Each failure under its name: the explanation, or with `verbose` the check's whole output.
fn explain_failures(failures: &[&Outcome], verbose: bool, out: &mut impl Write) -> Result<()> {
    for failure in failures {
        writeln!(out, "\n{} {}", term::fail(), term::bold(&failure.name))?;
        // The explanation is prose: wrap it to a readable width. Verbose output is the app's own
        // lines, shown as they were.
        let text = if verbose {
            term::indent(&failure.output, 4)
        } else {
            term::wrap(&failure.explanation, 4)
        };
        write!(out, "{text}")?;
    }
    Ok(())
}

/// The checks that could not observe what they need on this platform, each with the harness's
/// reason (neither passed nor failed); returns how many checks were judged.
fn explain_not_checkable(outcomes: &[Outcome], out: &mut impl Write) -> Result<usize> {
    let mut judged = outcomes.len();
    for outcome in outcomes {
        if let Some(gap) = &outcome.not_checkable {
            judged -= 1;
            writeln!(out, "\n{} {}", term::dim("–"), term::bold(&outcome.name))?;
            write!(out, "{}", term::wrap(gap, 4))?;
        }
    }
    if judged < outcomes.len() {
        writeln!(
            out,
            "\n{} of {} checks are not checkable on {} (neither passed nor failed).",
            outcomes.len() - judged,
            outcomes.len(),
            crate::engine::platform::name()
        )?;
    }
    Ok(judged)
}

/// Every check passed: say so, then (for a learner) where to compare and what comes next.
fn green_footer(
    factor: &Factor,
    checks: usize,
    options: &Options,
    next: Option<&Factor>,
    all_green: &str,
    out: &mut impl Write,
) -> Result<()> {
    let done = if options.solution {
        format!(" on the reference solution of {}", factor.heading())
    } else {
        format!(": {} is done", factor.heading())
    };
    writeln!(out, "{} All {checks} checks pass{done}.", term::pass())?;
    if options.solution {
        return Ok(());
    }
    writeln!(
        out,
        "Compare with the reference: `cargo xtask solution {}`.",
        factor.number
    )?;
    match next {
        Some(next) => writeln!(
            out,
            "Next: `cargo xtask check {}` ({}).",
            next.number,
            next.heading()
        )?,
        None => writeln!(out, "{all_green}")?,
    }
    Ok(())
}

/// Some check failed: the count, then (for a learner) where to read and how to get help.
fn red_footer(
    factor: &Factor,
    passed: usize,
    checks: usize,
    options: &Options,
    out: &mut impl Write,
) -> Result<()> {
    writeln!(out, "{passed} of {checks} checks pass.")?;
    if options.solution {
        return Ok(());
    }
    writeln!(
        out,
        "Read: book/src/{} (`cargo xtask book --open`) · Stuck? `cargo xtask hint {}`{}",
        factor.chapter,
        factor.number,
        if options.verbose {
            ""
        } else {
            " · App output: add --verbose"
        }
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, explanation: &str) -> Outcome {
        Outcome {
            name: name.into(),
            passed: explanation.is_empty(),
            explanation: explanation.into(),
            output: format!("full output of {name}"),
            ..Outcome::default()
        }
    }

    fn render(outcomes: &[Outcome], verbose: bool) -> (Verdict, String) {
        let manifest = crate::engine::manifest::kit();
        let factor = manifest.find("6").unwrap();
        let mut out = Vec::new();
        let options = Options {
            solution: false,
            verbose,
        };
        let next = manifest.find("10").ok();
        let all_green = crate::learner::status::all_green(&manifest);
        let verdict = report(factor, outcomes, &options, next, all_green, &mut out).unwrap();
        (verdict, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_red_report_lists_every_check_then_explains_each_failure() {
        let (verdict, text) = render(
            &[
                outcome("a_replica_on_an_empty_redis_starts_from_zero", ""),
                outcome(
                    "visits_are_shared_between_replicas",
                    "replica A counts 133 and replica B counts 67\n  Book: 06-processes.html#the-anti-pattern",
                ),
            ],
            false,
        );
        assert_eq!(verdict, Verdict::Red);
        insta::assert_snapshot!(text, @r"
          ✓ a_replica_on_an_empty_redis_starts_from_zero
          ✗ visits_are_shared_between_replicas

        ✗ visits_are_shared_between_replicas
            replica A counts 133 and replica B counts 67
              Book: 06-processes.html#the-anti-pattern

        1 of 2 checks pass.
        Read: book/src/06-processes.md (`cargo xtask book --open`) · Stuck? `cargo xtask hint 6` · App output: add --verbose
        ");
    }

    #[test]
    fn a_green_report_points_to_the_solution_and_the_next_factor() {
        let (verdict, text) = render(&[outcome("visits_are_shared_between_replicas", "")], false);
        assert_eq!(verdict, Verdict::Green);
        assert!(
            text.contains("All 1 checks pass: Factor VI — Processes is done."),
            "{text}"
        );
        assert!(text.contains("cargo xtask solution 6"), "{text}");
    }

    #[test]
    fn a_check_not_checkable_here_is_neither_passed_nor_failed() {
        let mut gap = outcome("sessions_are_shared_between_replicas", "");
        gap.not_checkable = Some(
            "not checkable on macOS: the sockets of the process: run it in the dev container"
                .into(),
        );
        let (verdict, text) = render(
            &[gap, outcome("visits_are_shared_between_replicas", "")],
            false,
        );
        assert_eq!(verdict, Verdict::Green);
        assert!(
            text.contains("  – sessions_are_shared_between_replicas"),
            "{text}"
        );
        assert!(
            text.contains("1 of 2 checks are not checkable on"),
            "{text}"
        );
        assert!(text.contains("All 1 checks pass"), "{text}");
    }

    #[test]
    fn verbose_shows_the_whole_output() {
        let (_, text) = render(
            &[outcome("sessions_are_shared_between_replicas", "short")],
            true,
        );
        assert!(
            text.contains("full output of sessions_are_shared_between_replicas"),
            "{text}"
        );
    }
}
