//! `cargo xtask hint N [--level L]`: progressive hints from `factors.toml`, one more per call.

use crate::manifest::Factor;
use crate::{UsageError, Verdict, term};
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn store(root: &Path) -> PathBuf {
    root.join("target").join("xtask").join("hints.json")
}

fn shown(root: &Path) -> BTreeMap<String, usize> {
    std::fs::read_to_string(store(root))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

pub fn run(
    root: &Path,
    factor: &Factor,
    level: Option<usize>,
    out: &mut impl Write,
) -> Result<Verdict> {
    let count = factor.hints.len();
    let mut seen = shown(root);
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
    writeln!(out, "\n{}", term::indent(&factor.hints[level - 1], 2))?;
    if level < count {
        writeln!(
            out,
            "Still stuck? `cargo xtask hint {}` shows the next one.",
            factor.number
        )?;
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
    let path = store(root);
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    let _ = std::fs::write(path, serde_json::to_string(&seen)?);
    Ok(Verdict::Green)
}
