//! `cargo xtask reset N|--all`: back up the learner's exercise, then restore it as shipped.
//!
//! The shipped version comes from git (`origin/HEAD` if the clone has it, else `HEAD`). The backup
//! goes to `.backups/` at the project root, outside `target/`, so `cargo clean` cannot take it.

use crate::manifest::Factor;
use crate::{Verdict, progress};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn git(root: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .context("reset needs git, and git is not installed")
}

/// The commit the shipped exercises are restored from.
fn shipped_ref(root: &Path) -> Result<&'static str> {
    for candidate in ["origin/HEAD", "HEAD"] {
        if git(root, &["rev-parse", "--verify", "--quiet", candidate])?
            .status
            .success()
        {
            return Ok(candidate);
        }
    }
    bail!(
        "reset needs the kit's git history, and {} is not a git clone",
        root.display()
    )
}

pub fn run(root: &Path, factors: &[&Factor], out: &mut impl Write) -> Result<Verdict> {
    let source = shipped_ref(root)?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for factor in factors {
        let dir = factor.exercise.to_string_lossy().into_owned();
        if !git(root, &["cat-file", "-e", &format!("{source}:{dir}")])?
            .status
            .success()
        {
            bail!("{source} has no {dir}: nothing to restore it from");
        }
        let backup = root
            .join(".backups")
            .join(format!("{}-{stamp}", factor.dir_name()));
        let copied = back_up(&root.join(&factor.exercise), &backup)?;
        // Remove first, so files the learner added do not survive the reset; they are in the backup.
        std::fs::remove_dir_all(root.join(&factor.exercise))?;
        let restore = git(
            root,
            &[
                "restore",
                &format!("--source={source}"),
                "--worktree",
                "--",
                &dir,
            ],
        )?;
        if !restore.status.success() {
            bail!(
                "git could not restore {dir} ({}); your version is safe in {}",
                String::from_utf8_lossy(&restore.stderr).trim(),
                backup.display()
            );
        }
        writeln!(
            out,
            "Backed up your {dir} ({copied} files) to {}.",
            backup.strip_prefix(root).unwrap_or(&backup).display()
        )?;
        writeln!(out, "Restored {dir} as shipped (from {source}).")?;
    }
    Ok(Verdict::Green)
}

fn back_up(from: &Path, to: &Path) -> Result<usize> {
    let files: Vec<PathBuf> = progress::files_under(from);
    for file in &files {
        let target = to.join(file.strip_prefix(from)?);
        std::fs::create_dir_all(target.parent().unwrap())?;
        std::fs::copy(file, &target)
            .with_context(|| format!("cannot back up {}", file.display()))?;
    }
    Ok(files.len())
}
