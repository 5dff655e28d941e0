//! `verify`'s lock step: `Cargo.lock` is the one git holds.
//!
//! `cargo xtask` is an alias for `cargo run`, which updates `Cargo.lock` before xtask starts when a
//! `Cargo.toml` asks for something the lock lacks; by the time `verify` builds with `--locked`, the
//! lock already agrees. So the lock is compared with git's index: a rewrite nobody staged fails,
//! and a maintainer who changed dependencies on purpose stages the new lock (`git add Cargo.lock`).

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

pub fn check(root: &Path) -> Result<String> {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root)
        .output();
    if !inside.is_ok_and(|output| output.status.success()) {
        // A tarball: no record to compare with; the summary says so rather than passing quietly.
        return Ok("not a git checkout: drift not checked (the builds still use --locked)".into());
    }
    let diff = Command::new("git")
        .args(["diff", "--no-color", "--unified=0", "--", "Cargo.lock"])
        .current_dir(root)
        .output()
        .context("cannot run git diff")?;
    let text = String::from_utf8_lossy(&diff.stdout);
    let changed: Vec<&str> = text
        .lines()
        .filter(|line| {
            (line.starts_with('+') || line.starts_with('-'))
                && !line.starts_with("+++")
                && !line.starts_with("---")
        })
        .collect();
    if changed.is_empty() {
        return Ok("as in git".into());
    }
    let shown: Vec<&str> = changed.iter().take(6).copied().collect();
    bail!(
        "Cargo.lock differs from git's ({} changed line(s), first: {}). `cargo xtask` (an alias \
         for `cargo run`) rewrites the lock before verify starts when a Cargo.toml asks for what \
         the lock lacks. Intended: `git add Cargo.lock`, then verify again. Not intended: undo the \
         Cargo.toml change and `git checkout -- Cargo.lock`.",
        changed.len(),
        shown.join(" | ")
    )
}
