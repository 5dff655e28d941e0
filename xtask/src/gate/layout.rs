//! `verify`'s layout step: the manifest matches the tree (crates, chapters, edit markers, the
//! exercise's README and header).

use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Context, Result, ensure};
use std::path::Path;

/// The manifest matches the tree: crates, chapters, hints, edit markers.
pub fn check(root: &Path, manifest: &Manifest) -> Result<String> {
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
