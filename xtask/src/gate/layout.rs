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
        markers(root, factor)?;
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

/// The edit markers of a factor's crates: the exercise has at least one real marker, a comment
/// `// TODO(factor-N): what to do` (or `# …` in a TOML file) for its own N, and no marker of
/// another factor anywhere; its solution has none left. A mention in prose (the `//!` header's
/// "look for `TODO(factor-N)`") is not a marker.
fn markers(root: &Path, factor: &Factor) -> Result<()> {
    let name = factor.heading();
    let own = format!("TODO(factor-{})", factor.number);
    let mut real = 0;
    for (dir, is_exercise) in [(&factor.exercise, true), (&factor.solution, false)] {
        for file in crate::engine::progress::files_under(&root.join(dir)) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (number, line) in text.lines().enumerate() {
                for found in marker_numbers(line) {
                    let at = format!("{shown}:{}", number + 1);
                    ensure!(
                        is_exercise,
                        "{name}: {at} leaves `TODO(factor-{found})` in the solution: a solution \
                         has no edit markers left"
                    );
                    ensure!(
                        found == factor.number,
                        "{name}: {at} has `TODO(factor-{found})`, another factor's marker: the \
                         exercise's markers are `{own}` (see CONTRIBUTING.md, section 2)"
                    );
                }
                if is_real_marker(line, &own) {
                    real += 1;
                }
            }
        }
    }
    ensure!(
        real > 0,
        "{name}: no `// {own}: …` comment marks what to edit in {} (a mention of the marker in \
         prose does not count: see CONTRIBUTING.md, section 2)",
        factor.exercise.display()
    );
    Ok(())
}

/// The factor numbers of the `TODO(factor-N)` markers on a line.
fn marker_numbers(line: &str) -> Vec<u8> {
    line.match_indices("TODO(factor-")
        .filter_map(|(at, prefix)| {
            let rest = &line[at + prefix.len()..];
            let digits = &rest[..rest.find(')')?];
            digits.parse().ok()
        })
        .collect()
}

/// `line` is a comment (`//`, `# `) whose text starts with `marker: ` and says something.
fn is_real_marker(line: &str, marker: &str) -> bool {
    let text = line.trim_start();
    let comment = ["// ", "# "]
        .iter()
        .find_map(|introducer| text.strip_prefix(introducer));
    comment
        .and_then(|comment| comment.strip_prefix(marker))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|said| !said.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_a_comment_that_says_what_to_do() {
        let own = "TODO(factor-6)";
        assert!(is_real_marker(
            "    // TODO(factor-6): count in Redis.",
            own
        ));
        assert!(is_real_marker("# TODO(factor-6): add redis", own));
        assert!(!is_real_marker("//! (look for `TODO(factor-6)`).", own));
        assert!(!is_real_marker("// TODO(factor-6):", own));
        assert!(!is_real_marker("// TODO(factor-5): another factor", own));
        assert!(!is_real_marker("let s = \"// TODO(factor-6): x\";", own));
    }

    #[test]
    fn every_marker_on_a_line_is_found() {
        assert_eq!(
            marker_numbers("// TODO(factor-5): see TODO(factor-12) and TODO(factor-x)"),
            [5, 12]
        );
        assert!(marker_numbers("// TODO: nothing").is_empty());
    }
}
