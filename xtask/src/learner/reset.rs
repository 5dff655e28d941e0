//! `cargo xtask reset N|--all`: back up the learner's exercise, then restore it as shipped.
//!
//! The shipped version comes from git (`origin/HEAD` if the clone has it, else `HEAD`). The backup
//! goes to `.backups/` at the project root, outside `target/`, so `cargo clean` cannot take it.

use crate::Verdict;
use crate::engine::manifest::Factor;
use crate::engine::progress;
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
    let stamp = utc_stamp(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs());
    for factor in factors {
        let dir = factor.exercise.to_string_lossy().into_owned();
        if !git(root, &["cat-file", "-e", &format!("{source}:{dir}")])?
            .status
            .success()
        {
            bail!("{source} has no {dir}: nothing to restore it from");
        }
        if as_shipped(root, source, &dir)? {
            writeln!(out, "{dir} is as shipped already: nothing to reset.")?;
            continue;
        }
        let (backup, copied) = back_up_exercise(root, factor, &stamp)?;
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
        progress::forget(root, factor);
        writeln!(out, "Restored {dir} as shipped (from {source}).")?;
        // The way back, as one command to copy.
        writeln!(
            out,
            "To bring your version back: `rm -rf {dir} && cp -R {} {dir}`",
            backup.strip_prefix(root).unwrap_or(&backup).display()
        )?;
    }
    Ok(Verdict::Green)
}

/// Copies the learner's version of `factor`'s exercise to `.backups/<NN-slug>-<stamp>/`; the
/// backup folder and how many files went there.
fn back_up_exercise(root: &Path, factor: &Factor, stamp: &str) -> Result<(PathBuf, usize)> {
    let backup = root
        .join(".backups")
        .join(format!("{}-{stamp}", factor.dir_name()));
    let copied = back_up(&root.join(&factor.exercise), &backup)?;
    Ok((backup, copied))
}

/// [`back_up_exercise`] stamped now (`cargo xtask solution N --apply` keeps the learner's version
/// as `reset` does), and the one command that brings it back.
pub fn back_up_now(root: &Path, factor: &Factor) -> Result<(PathBuf, usize, String)> {
    let stamp = utc_stamp(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs());
    let (backup, copied) = back_up_exercise(root, factor, &stamp)?;
    let dir = factor.exercise.display();
    let restore = format!(
        "rm -rf {dir} && cp -R {} {dir}",
        backup.strip_prefix(root).unwrap_or(&backup).display()
    );
    Ok((backup, copied, restore))
}

/// Whether `dir` is exactly as in `source`: no file changed, removed or added.
fn as_shipped(root: &Path, source: &str, dir: &str) -> Result<bool> {
    let unchanged = git(root, &["diff", "--quiet", source, "--", dir])?
        .status
        .success();
    let added = git(root, &["ls-files", "--others", "--", dir])?.stdout;
    Ok(unchanged && added.is_empty())
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

/// `20261126-052644` (UTC) for a Unix time: sortable, readable, no dependency for one line.
fn utc_stamp(seconds: u64) -> String {
    let (days, time) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's civil-from-days algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn backup_stamps_are_utc_and_sortable() {
        assert_eq!(super::utc_stamp(0), "19700101-000000");
        assert_eq!(super::utc_stamp(1_795_670_217), "20261126-051657");
        assert_eq!(super::utc_stamp(951_782_400), "20000229-000000");
    }
}
