//! `cargo xtask hint N [--level L]`: progressive hints from `factors.toml`, one more per call.

use crate::engine::manifest::Factor;
use crate::engine::{cache, term};
use crate::{UsageError, Verdict};
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Which hint level each factor has reached, by slug.
const SHOWN: &str = "hints.json";

/// How many of the factor's hints the learner has read (the class board shows it).
pub fn used(root: &Path, factor: &Factor) -> usize {
    let seen: BTreeMap<String, usize> = cache::read(root, SHOWN);
    seen.get(&factor.slug).copied().unwrap_or(0)
}

pub fn run(
    root: &Path,
    factor: &Factor,
    level: Option<usize>,
    out: &mut impl Write,
) -> Result<Verdict> {
    let count = factor.hints.len();
    let mut seen: BTreeMap<String, usize> = cache::read(root, SHOWN);
    let previous = seen.get(&factor.slug).copied().unwrap_or(0);
    let level = match level {
        Some(level) if level == 0 || level > count => {
            return Err(UsageError(format!("{} has hints 1 to {count}", factor.heading())).into());
        }
        Some(level) => level,
        None => (previous + 1).min(count),
    };
    writeln!(
        out,
        "{}",
        term::bold(&format!("{}: hint {level} of {count}", factor.heading()))
    )?;
    writeln!(out, "\n{}", term::wrap(&factor.hints[level - 1], 2))?;
    // What plain `hint N` shows next: one past the furthest hint read, if there is one.
    let furthest = level.max(previous);
    if level < count {
        let next = if furthest > level {
            format!("`cargo xtask hint {} --level {}`", factor.number, level + 1)
        } else {
            format!("`cargo xtask hint {}`", factor.number)
        };
        writeln!(out, "Still stuck? {next} shows the next one.")?;
    } else {
        writeln!(
            out,
            "That was the last hint. The reference solution: `cargo xtask solution {}`.",
            factor.number
        )?;
    }
    if level > 1 {
        writeln!(
            out,
            "{}",
            term::dim(&format!(
                "Earlier hints: `cargo xtask hint {} --level 1`.",
                factor.number
            ))
        )?;
    }
    seen.insert(factor.slug.clone(), level.max(previous));
    cache::write(root, SHOWN, &seen);
    Ok(Verdict::Green)
}
