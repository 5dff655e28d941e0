//! `cargo xtask solution N`: the learner's files against the reference, as a unified diff; with
//! `--apply`, the reference applied over the learner's exercise (backed up first): the catch-up
//! path.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::progress::{self, State};
use crate::engine::term;
use crate::learner::{check, reset};
use anyhow::{Context, Result};
use similar::TextDiff;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// These differ by design between exercise and solution (package name, prose), so they are noise.
const NOT_COMPARED: [&str; 2] = ["Cargo.toml", "README.md"];

pub fn run(
    root: &Path,
    manifest: &Manifest,
    factor: &Factor,
    yes: bool,
    out: &mut impl Write,
) -> Result<Verdict> {
    let mut state = progress::state(root, factor);
    // A verdict about files that have changed since says nothing: ask the checks again.
    if matches!(state, State::EditedSinceCheck | State::NotChecked) {
        let why = if state == State::NotChecked {
            "has not been checked yet"
        } else {
            "changed since its last check"
        };
        writeln!(
            out,
            "{}",
            term::dim(&format!(
                "Your {} {why}: checking it first.\n",
                factor.exercise.display()
            ))
        )?;
        let options = check::Options {
            solution: false,
            verbose: false,
        };
        check::run(root, manifest, factor, options, out)?;
        writeln!(out)?;
        state = progress::state(root, factor);
    }
    let green = matches!(state, State::Green { .. });
    if !green && !yes && !confirm(factor, out)? {
        writeln!(
            out,
            "Not revealed. `cargo xtask hint {}` may be all you need.",
            factor.number
        )?;
        return Ok(Verdict::Red);
    }
    let exercise = root.join(&factor.exercise);
    let solution = root.join(&factor.solution);
    let mut files: Vec<PathBuf> = progress::files_under(&exercise)
        .into_iter()
        .filter_map(|file| file.strip_prefix(&exercise).ok().map(Path::to_path_buf))
        .chain(
            progress::files_under(&solution)
                .into_iter()
                .filter_map(|file| file.strip_prefix(&solution).ok().map(Path::to_path_buf)),
        )
        .filter(|file| !NOT_COMPARED.iter().any(|skip| file == Path::new(skip)))
        .collect();
    files.sort();
    files.dedup();
    let mut differences = 0;
    for file in files {
        let mine = std::fs::read_to_string(exercise.join(&file)).unwrap_or_default();
        let reference = std::fs::read_to_string(solution.join(&file)).unwrap_or_default();
        if mine == reference {
            continue;
        }
        differences += 1;
        let diff = TextDiff::from_lines(&mine, &reference);
        let old = factor.exercise.join(&file);
        let new = factor.solution.join(&file);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&old.display().to_string(), &new.display().to_string())
            .to_string();
        write!(out, "{unified}")?;
    }
    if differences == 0 {
        writeln!(
            out,
            "Your {} matches the reference solution exactly.",
            factor.exercise.display()
        )?;
    } else {
        writeln!(
            out,
            "\n{}",
            term::dim(&format!(
                "{differences} file(s) differ: `-` lines are yours, `+` lines the reference's. A different \
                 fix that passes the checks is just as right."
            ))
        )?;
    }
    Ok(Verdict::Green)
}

fn confirm(factor: &Factor, out: &mut impl Write) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        writeln!(
            out,
            "{} is not green yet; add --yes to see the reference solution anyway.",
            factor.heading()
        )?;
        return Ok(false);
    }
    write!(
        out,
        "{} is not green yet. Reveal the reference solution anyway? [y/N] ",
        factor.heading()
    )?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `cargo xtask solution N --apply`: backs up the learner's exercise as `reset` does, then applies
/// the whole reference as `verify` proves it green (`crate::engine::apply`): `src/` replaced, files
/// it adds, dependencies it adds.
pub fn apply(root: &Path, factor: &Factor, out: &mut impl Write) -> Result<Verdict> {
    let dir = root.join(&factor.exercise);
    let (backup, copied, restore) = reset::back_up_now(root, factor)?;
    writeln!(
        out,
        "Backed up your {} ({copied} files) to {}.",
        factor.exercise.display(),
        backup.strip_prefix(root).unwrap_or(&backup).display()
    )?;
    let applied = crate::engine::apply::solution_over(root, factor, &dir)
        .with_context(|| format!("your version is safe in {}", backup.display()))?;
    progress::forget(root, factor);
    let mut also = Vec::new();
    if !applied.added_files.is_empty() {
        also.push(format!("added {}", applied.added_files.join(", ")));
    }
    if !applied.added_dependencies.is_empty() {
        also.push(format!(
            "added the dependencies {} to Cargo.toml",
            applied.added_dependencies.join(", ")
        ));
    }
    let also = if also.is_empty() {
        String::new()
    } else {
        format!("; {}", also.join("; "))
    };
    writeln!(
        out,
        "Applied the reference solution of {} to {}: src/ replaced{also}.",
        factor.heading(),
        factor.exercise.display()
    )?;
    writeln!(
        out,
        "Next: `cargo xtask check {}` shows it green.",
        factor.number
    )?;
    writeln!(out, "To bring your version back: `{restore}`")?;
    Ok(Verdict::Green)
}
