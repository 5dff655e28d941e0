//! What the board knows about the kit: the twelve factors, each factor's checks, the book section
//! each check teaches and the instructor note that names it.
//!
//! Read from the kit's own files, embedded when the board is built (`factors.toml`, the check files,
//! the chapters), so the board validates a verdict against exactly the checks the learners run, and
//! works on a machine with only the binary. Nothing here is typed twice: a renamed check or a new
//! note reaches the board with the next build.

use anyhow::{Context, Result, bail};
use kit_common::manifest::Manifest;
use serde::Serialize;
use std::collections::BTreeSet;

/// `(check file, its lessons, chapter)` of each factor, in order: the files the board is built from.
macro_rules! kit_files {
    ($($slug:literal),* $(,)?) => {
        [$((
            include_str!(concat!("../../checks/", $slug, ".rs")),
            include_str!(concat!("../../checks/", $slug, ".lessons")),
            include_str!(concat!("../../../book/src/", $slug, ".md")),
        )),*]
    };
}

const MANIFEST: &str = include_str!("../../../factors.toml");
const FILES: [(&str, &str, &str); 12] = kit_files!(
    "01-codebase",
    "02-dependencies",
    "03-config",
    "04-backing-services",
    "05-build-release-run",
    "06-processes",
    "07-port-binding",
    "08-concurrency",
    "09-disposability",
    "10-dev-prod-parity",
    "11-logs",
    "12-admin-processes",
);

/// The anchor of a chapter's instructor notes, where the speaker notes live.
pub const NOTES_ANCHOR: &str = "instructor-notes";

#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub factors: Vec<FactorInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactorInfo {
    pub number: u8,
    pub roman: String,
    pub title: String,
    /// The chapter's page in the built book, e.g. `06-processes.html`.
    pub page: String,
    pub hints: usize,
    pub available: bool,
    pub checks: Vec<CheckInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckInfo {
    pub name: String,
    /// The chapter section the check's failure message points to.
    pub section: String,
    /// The "common mistakes" speaker note that names this check, as plain text, if one does.
    pub note: Option<String>,
}

/// A factor's files: its checks, the lessons its intended failures teach, its chapter.
pub struct KitFiles {
    pub checks: String,
    pub lessons: String,
    pub chapter: String,
}

impl Catalog {
    /// The catalog of the kit this board was built from.
    pub fn kit() -> Result<Catalog> {
        let files: Vec<KitFiles> = FILES
            .iter()
            .map(|(checks, lessons, chapter)| KitFiles {
                checks: checks.to_string(),
                lessons: lessons.to_string(),
                chapter: chapter.to_string(),
            })
            .collect();
        Catalog::parse(MANIFEST, &files)
    }

    /// Builds the catalog from a manifest and each factor's files, in order.
    pub fn parse(manifest: &str, files: &[KitFiles]) -> Result<Catalog> {
        // kit-common's parser, the one xtask and the harness use: one reader of factors.toml.
        let manifest = Manifest::parse(manifest).context("factors.toml does not parse")?;
        if manifest.factors.len() != files.len() {
            bail!(
                "factors.toml lists {} factors, the board was given files for {}",
                manifest.factors.len(),
                files.len()
            );
        }
        let mut factors = Vec::new();
        for (factor, files) in manifest.factors.into_iter().zip(files) {
            let anchors = heading_anchors(&files.chapter);
            let notes = common_mistakes(&files.chapter, &files.checks);
            let taught = lesson_anchors(&files.lessons);
            let checks: Vec<CheckInfo> = checks_in(&files.checks)
                .into_iter()
                .map(|(name, body)| CheckInfo {
                    section: taught
                        .iter()
                        .find(|(check, _)| *check == name)
                        .map(|(_, anchor)| anchor.clone())
                        .or_else(|| main_anchor(&body, &anchors))
                        .unwrap_or_else(|| "the-exercise".into()),
                    note: notes
                        .iter()
                        .find(|note| note.contains(&format!("`{name}`")))
                        .cloned(),
                    name,
                })
                .collect();
            if factor.available && checks.is_empty() {
                bail!("kit/checks/{}.rs has no #[test]", factor.slug);
            }
            factors.push(FactorInfo {
                number: factor.number,
                roman: factor.roman,
                title: factor.title,
                page: factor.chapter.replace(".md", ".html"),
                hints: factor.hints.len(),
                available: factor.available,
                checks,
            });
        }
        Ok(Catalog { factors })
    }

    pub fn factor(&self, number: u8) -> Option<&FactorInfo> {
        self.factors
            .iter()
            .find(|factor| factor.number == number && factor.available)
    }
}

impl FactorInfo {
    pub fn check_names(&self) -> BTreeSet<&str> {
        self.checks
            .iter()
            .map(|check| check.name.as_str())
            .collect()
    }
}

/// Every `#[test] fn name` of a check file, with the text up to the next test (its body).
pub fn checks_in(source: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found: Vec<(String, usize)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim() != "#[test]" {
            continue;
        }
        // Attributes and comments may sit between `#[test]` and the function.
        let name = lines[index + 1..]
            .iter()
            .map(|line| line.trim())
            .find(|line| line.starts_with("fn ") || line.starts_with("pub fn "))
            .and_then(|line| line.split("fn ").nth(1))
            .and_then(|rest| rest.split('(').next())
            .map(str::trim);
        if let Some(name) = name {
            found.push((name.to_string(), index));
        }
    }
    let ends: Vec<usize> = found
        .iter()
        .skip(1)
        .map(|(_, start)| *start)
        .chain([lines.len()])
        .collect();
    found
        .into_iter()
        .zip(ends)
        .map(|((name, start), end)| (name, lines[start..end].join("\n")))
        .collect()
}

/// The ids mdBook gives the chapter's headings (`## The fix` → `the-fix`).
fn heading_anchors(chapter: &str) -> BTreeSet<String> {
    chapter
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .chars()
                .filter_map(|ch| {
                    if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                        Some(ch.to_ascii_lowercase())
                    } else if ch.is_whitespace() {
                        Some('-')
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect()
}

/// The section a check's failure teaches, from `kit/checks/NN-slug.lessons` (`== name`, then a
/// `Book: NN-slug.html#anchor` line): exact for the checks the shipped exercise fails.
fn lesson_anchors(lessons: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut current: Option<&str> = None;
    for line in lessons.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = Some(name.trim());
        } else if let (Some(name), Some(link)) = (current, line.strip_prefix("Book: ")) {
            if let Some((_, anchor)) = link.trim().split_once('#') {
                found.push((name.to_string(), anchor.to_string()));
            }
            current = None;
        }
    }
    found
}

/// For other checks: the string literals in the check's body that are the chapter's anchors
/// (`lesson.ensure(.., "the-fix", ..)`), the first that is not `the-exercise` (a check's
/// preconditions point there, its lesson elsewhere).
fn main_anchor(body: &str, anchors: &BTreeSet<String>) -> Option<String> {
    let used: Vec<&str> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|literal| anchors.contains(*literal))
        .collect();
    used.iter()
        .find(|anchor| **anchor != "the-exercise")
        .or(used.first())
        .map(|anchor| anchor.to_string())
}

/// The bullets of the chapter's "Common mistakes" speaker notes, each as one line of plain text,
/// with `{{#check-const N NAME}}` replaced by the constant's value from the check file, printed
/// as the book prints it (kit-common's renderer: `Duration::from_secs(2)` is `2`).
fn common_mistakes(chapter: &str, check_file: &str) -> Vec<String> {
    let Some(start) = chapter.find("## Instructor notes") else {
        return Vec::new();
    };
    let notes = &chapter[start..];
    let Some(mistakes) = notes.find("**Common mistakes") else {
        return Vec::new();
    };
    let mut bullets: Vec<String> = Vec::new();
    for line in notes[mistakes..].lines().skip(1) {
        if let Some(bullet) = line.strip_prefix("- ") {
            bullets.push(bullet.trim().to_string());
        } else if line.starts_with("  ") && !line.trim().is_empty() && !bullets.is_empty() {
            let last = bullets.last_mut().expect("checked above");
            last.push(' ');
            last.push_str(line.trim());
        } else if line.starts_with("**") || line.starts_with('#') {
            break;
        }
    }
    bullets
        .into_iter()
        .map(|bullet| expand_constants(&bullet.replace("**", ""), check_file))
        .collect()
}

fn expand_constants(text: &str, check_file: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let directive = &rest[start + 3..start + end];
        let name = directive.split_whitespace().last().unwrap_or_default();
        let value = kit_common::check_const::value(check_file, name);
        out.push_str(value.as_deref().unwrap_or("…"));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kit_catalog_knows_every_check_and_its_section() {
        let catalog = Catalog::kit().unwrap();
        assert_eq!(catalog.factors.len(), 12);
        let processes = catalog.factor(6).unwrap();
        let ttl = processes
            .checks
            .iter()
            .find(|check| check.name == "sessions_expire_after_their_ttl")
            .unwrap();
        assert_eq!(ttl.section, "the-fix");
        assert!(
            ttl.note.as_deref().unwrap().contains("Forgetting the TTL"),
            "{ttl:?}"
        );
        let shared = processes
            .checks
            .iter()
            .find(|check| check.name == "visits_are_shared_between_replicas")
            .unwrap();
        assert_eq!(shared.section, "the-anti-pattern");
        let sessions = processes
            .checks
            .iter()
            .find(|check| check.name == "sessions_are_shared_between_replicas")
            .unwrap();
        assert_eq!(sessions.section, "the-fix");
    }

    #[test]
    fn constants_in_notes_are_expanded() {
        let checks = "const TOTAL_VISITS: u64 = 1_200;\n";
        assert_eq!(
            expand_constants("fewer than {{#check-const 6 TOTAL_VISITS}} visits", checks),
            "fewer than 1200 visits"
        );
    }

    #[test]
    fn a_duration_constant_reads_as_the_book_prints_it() {
        let checks = "pub const START_BOUND: Duration = Duration::from_secs(2);
";
        let note = "the contract is within {{#check-const 9 START_BOUND}} s";
        assert_eq!(expand_constants(note, checks), "the contract is within 2 s");
        // The book's preprocessor (xtask) prints the constant with the same renderer.
        assert_eq!(
            kit_common::check_const::value(checks, "START_BOUND").as_deref(),
            Some("2")
        );
        let catalog = Catalog::kit().unwrap();
        let notes: Vec<&str> = catalog
            .factors
            .iter()
            .flat_map(|factor| &factor.checks)
            .filter_map(|check| check.note.as_deref())
            .collect();
        assert!(
            notes.iter().all(|note| !note.contains("Duration::")),
            "{notes:?}"
        );
    }
}
