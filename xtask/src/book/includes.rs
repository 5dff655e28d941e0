//! The book's `{{#include file:anchor}}` lines, checked before mdBook's `links` preprocessor
//! expands them: every include names a file that exists and an anchor with both its `ANCHOR:`
//! and `ANCHOR_END:` lines and something between them (mdBook 0.5 renders a missing anchor as an
//! empty code block, silently). Run by the preprocessor, so a wrong anchor fails the build.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The problems with every `{{#include …}}` in `content`, a chapter at `chapter_dir` (absolute).
pub fn include_problems(content: &str, chapter_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, _) in content.match_indices("{{#include ") {
        // `\{{#include …}}` is mdBook's escape: shown as written, never included.
        if content[..at].ends_with('\\') {
            continue;
        }
        let rest = &content[at + "{{#include ".len()..];
        let Some(end) = rest.find("}}") else {
            problems.push("an unclosed {{#include".to_string());
            continue;
        };
        let spec = rest[..end].trim();
        if let Err(problem) = check_include(spec, chapter_dir) {
            problems.push(format!("{{{{#include {spec}}}}}: {problem}"));
        }
    }
    problems
}

fn check_include(spec: &str, chapter_dir: &Path) -> Result<()> {
    let mut parts = spec.splitn(2, ':');
    let file = parts.next().unwrap_or_default();
    let selector = parts.next();
    let path: PathBuf = chapter_dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        bail!("no such file");
    };
    let selected: Vec<&str> = match selector {
        None => text.lines().collect(),
        Some(selector) if selector.chars().all(|c| c.is_ascii_digit() || c == ':') => {
            let lines: Vec<&str> = text.lines().collect();
            let mut bounds = selector.splitn(2, ':');
            let start = bounds
                .next()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(1);
            let end = match bounds.next() {
                None => start,
                Some("") => lines.len(),
                Some(end) => end.parse().unwrap_or(0),
            };
            if start == 0 || end < start || end > lines.len() {
                bail!(
                    "lines {selector} are not within the file's {} lines",
                    lines.len()
                );
            }
            lines[start - 1..end].to_vec()
        }
        Some(anchor) => anchored(&text, anchor)?,
    };
    let body = selected
        .iter()
        .filter(|line| !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:"))
        .any(|line| !line.trim().is_empty());
    if !body {
        bail!("includes nothing");
    }
    Ok(())
}

/// The lines between `ANCHOR: anchor` and `ANCHOR_END: anchor`.
fn anchored<'t>(text: &'t str, anchor: &str) -> Result<Vec<&'t str>> {
    let names = |line: &str, marker: &str| {
        line.split_once(marker).is_some_and(|(_, rest)| {
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            name == anchor
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|line| names(line, "ANCHOR:")) else {
        bail!("no `ANCHOR: {anchor}` line in the file");
    };
    let Some(length) = lines[start..]
        .iter()
        .position(|line| names(line, "ANCHOR_END:"))
    else {
        bail!("`ANCHOR: {anchor}` has no `ANCHOR_END: {anchor}` after it");
    };
    Ok(lines[start + 1..start + length].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(file: &str, text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        dir
    }

    #[test]
    fn a_missing_or_empty_anchor_is_a_problem() {
        let dir = dir_with(
            "a.rs",
            "// ANCHOR: good\nfn a() {}\n// ANCHOR_END: good\n// ANCHOR: empty\n// ANCHOR_END: empty\n// ANCHOR: open\n",
        );
        let problems =
            |spec: &str| include_problems(&format!("{{{{#include {spec}}}}}\n"), dir.path());
        assert!(problems("a.rs:good").is_empty());
        assert!(problems("a.rs").is_empty());
        assert!(problems("a.rs:2").is_empty());
        assert!(problems("a.rs:2:3").is_empty());
        assert!(problems("a.rs:goo")[0].contains("no `ANCHOR: goo`"));
        assert!(problems("a.rs:empty")[0].contains("includes nothing"));
        assert!(problems("a.rs:open")[0].contains("no `ANCHOR_END"));
        assert!(problems("b.rs:good")[0].contains("no such file"));
        assert!(problems("a.rs:40:50")[0].contains("not within"));
        assert!(include_problems("\\{{#include nowhere.rs:x}}\n", dir.path()).is_empty());
    }

    #[test]
    fn the_kit_book_includes_resolve() {
        let src = crate::project_root().unwrap().join("book/src");
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "md") {
                let text = std::fs::read_to_string(&path).unwrap();
                let problems = include_problems(&text, &src);
                assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            }
        }
    }
}
