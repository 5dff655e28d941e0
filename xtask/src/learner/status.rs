//! `cargo xtask` and `cargo xtask status [--json]`: where the learner is, and what to do next.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::progress::{self, State};
use crate::engine::term;
use crate::gate::integrity;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use std::path::Path;

fn describe(state: &State) -> String {
    match state {
        State::Unavailable => term::dim("not available yet"),
        State::NotChecked => "not checked yet".into(),
        State::EditedSinceCheck => "edited since the last check".into(),
        State::DoesNotCompile { total } => {
            format!("{} does not compile ({total} checks wait)", term::fail())
        }
        State::Green {
            total,
            not_checkable,
        } => format!(
            "{} all {total} checks pass{}",
            term::pass(),
            not_checkable_note(*not_checkable)
        ),
        State::Red {
            passed,
            total,
            not_checkable,
        } => format!(
            "{} {passed} of {total} checks pass{}",
            term::fail(),
            not_checkable_note(*not_checkable)
        ),
    }
}

/// ", 2 not checkable on this platform" (counted apart: neither passed nor failed).
fn not_checkable_note(count: usize) -> String {
    match count {
        0 => String::new(),
        _ => format!(
            " {}",
            term::dim(&format!(
                "· {count} not checkable on {}: `cargo xtask doctor` says where to run them",
                crate::engine::platform::name()
            ))
        ),
    }
}

fn label(state: &State) -> &'static str {
    match state {
        State::Unavailable => "unavailable",
        State::NotChecked => "not-checked",
        State::EditedSinceCheck => "edited",
        State::DoesNotCompile { .. } => "does-not-compile",
        State::Green { .. } => "green",
        State::Red { .. } => "red",
    }
}

/// The first available factor that is not green: where to work next.
pub fn next_factor<'m>(root: &Path, manifest: &'m Manifest) -> Option<&'m Factor> {
    manifest
        .available()
        .find(|factor| !matches!(progress::state(root, factor), State::Green { .. }))
}

/// The one sentence every command says when nothing is left to fix.
pub fn all_green(manifest: &Manifest) -> &'static str {
    if manifest.available().count() == manifest.factors.len() {
        "Every factor is green: you fixed all twelve."
    } else {
        "Every factor available so far is green."
    }
}

/// `cargo xtask` alone: the table and the next step.
pub fn overview(root: &Path, manifest: &Manifest, out: &mut impl Write) -> Result<Verdict> {
    let green = manifest
        .available()
        .filter(|factor| matches!(progress::state(root, factor), State::Green { .. }))
        .count();
    writeln!(
        out,
        "{} {}\n",
        term::bold("Twelve-Factor Rust"),
        term::dim(&format!(
            "· {green} of {} factors green",
            manifest.available().count()
        ))
    )?;
    table(root, manifest, out)?;
    writeln!(out)?;
    match next_factor(root, manifest) {
        Some(factor) => writeln!(
            out,
            "Next: `cargo xtask check {}` ({}), then edit {} until it is green.\n\
             Help: `cargo xtask hint {}` · the book: `cargo xtask book --open` · all commands: `cargo xtask --help`",
            factor.number,
            factor.heading(),
            factor.exercise.display(),
            factor.number
        )?,
        None => writeln!(
            out,
            "{} What next, applying them to your own service: the book's last page (`cargo xtask \
             book --open`, \"What next\").",
            all_green(manifest)
        )?,
    }
    Ok(Verdict::Green)
}

fn table(root: &Path, manifest: &Manifest, out: &mut impl Write) -> Result<()> {
    for factor in &manifest.factors {
        let state = progress::state(root, factor);
        writeln!(
            out,
            "  {:>4}  {:<20} {}",
            factor.roman,
            factor.title,
            describe(&state)
        )?;
    }
    Ok(())
}

/// `cargo xtask status`: the table, or JSON for instructors.
pub fn run(root: &Path, manifest: &Manifest, json: bool, out: &mut impl Write) -> Result<Verdict> {
    if !json {
        table(root, manifest, out)?;
        return Ok(Verdict::Green);
    }
    let factors: Vec<_> = manifest
        .factors
        .iter()
        .map(|factor| {
            let state = progress::state(root, factor);
            let (passed, total, not_checkable) = match state {
                State::Green {
                    total,
                    not_checkable,
                } => (Some(total), Some(total), Some(not_checkable)),
                State::Red {
                    passed,
                    total,
                    not_checkable,
                } => (Some(passed), Some(total), Some(not_checkable)),
                // None of the factor's checks ran; `total` is how many it has.
                State::DoesNotCompile { total } => (Some(0), Some(total), Some(0)),
                _ => (None, None, None),
            };
            json!({
                "number": factor.number,
                "roman": factor.roman,
                "slug": factor.slug,
                "title": factor.title,
                "state": label(&state),
                "passed": passed,
                "total": total,
                // Checks that cannot observe what they need on this platform (macOS): counted
                // neither in `passed` nor in `total`.
                "not_checkable": not_checkable,
                // Files of this factor's checks that differ from what the kit shipped.
                "checks_edited": if factor.available {
                    integrity::edited_checks(root, factor)
                } else {
                    Vec::new()
                },
            })
        })
        .collect();
    let report = json!({
        "learner": learner(root),
        "next": next_factor(root, manifest).map(|factor| factor.number),
        "factors": factors,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(Verdict::Green)
}

/// Who is working here, for an instructor's board: git's user.name, else `$USER`.
fn learner(root: &Path) -> Option<String> {
    std::process::Command::new("git")
        .args(["config", "user.name"])
        .current_dir(root)
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("USER").ok())
}
