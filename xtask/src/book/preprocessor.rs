//! The book's mdBook preprocessor (`cargo xtask book-preprocessor`, started by mdBook).
//!
//! It is how the book reads `factors.toml` and the checks: `{{#exercise N}}` becomes the exercise
//! box, `{{#hints N}}` the progressive hints, `{{#check-const N NAME}}` a number or name from a
//! check file and `{{#kit …}}` a fact from the kit's code (`directives`, `facts`), so no chapter
//! repeats them. It runs before mdBook's `links` preprocessor, points the includes at the version
//! of the code the book quotes (`shipped`), and fails the build on an include whose file or anchor
//! is missing (`includes`), on an output block nobody ran (`outputs`), on a page left out of
//! `SUMMARY.md` and on an empty section (`chapters`).

use super::shipped::{self, Quotes};
use super::{chapters, directives, facts, includes, outputs};
use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Context, Result, ensure};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the directives read: the kit, and the folder the quoted code comes from.
pub struct Kit<'a> {
    pub root: &'a Path,
    /// Holds `exercises/`, `solutions/` and `kit/` as the book quotes them (`shipped`).
    pub quoted: PathBuf,
    pub manifest: &'a Manifest,
}

impl<'a> Kit<'a> {
    /// The kit as checked out, quoting its own working tree (the lints without mdBook, and tests);
    /// the book's build quotes the shipped files instead (`shipped`).
    pub fn as_checked_out(root: &'a Path, manifest: &'a Manifest) -> Kit<'a> {
        Kit {
            root,
            quoted: root.to_path_buf(),
            manifest,
        }
    }
}

/// The mdBook preprocessor protocol: `supports <renderer>` answers yes; otherwise read
/// `[context, book]` as JSON on stdin and write the book back with the directives expanded.
pub fn preprocess(root: &Path, args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("supports") {
        return Ok(());
    }
    let manifest = Manifest::load(root)?;
    let kit = Kit {
        root,
        quoted: shipped::quoted_root(root, Quotes::from_env())?,
        manifest: &manifest,
    };
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let input: Value =
        serde_json::from_str(&input).context("mdBook sent something that is not JSON")?;
    let mut book = input.get(1).cloned().context("mdBook sent no book")?;
    let mut found = Found::default();
    expand_chapters(&mut book, &kit, &mut found)?;
    let left_out = chapters::pages_left_out(&root.join("book/src"), &found.pages)?;
    if !left_out.is_empty() {
        found.problems.push(format!(
            "book/src/SUMMARY.md does not list {}: a page missing from it is never built, and \
             every link to it breaks",
            left_out.join(", ")
        ));
    }
    ensure!(
        found.problems.is_empty(),
        "{} problem(s) in the book:\n{}",
        found.problems.len(),
        found.problems.join("\n")
    );
    serde_json::to_writer(std::io::stdout().lock(), &book)?;
    Ok(())
}

/// What the walk through the book found: every chapter's path, and every problem of every page
/// (all of them at once, not one per build).
#[derive(Default)]
struct Found {
    pages: Vec<PathBuf>,
    problems: Vec<String>,
}

/// Walks the book JSON and expands directives in every chapter's `content`.
fn expand_chapters(value: &mut Value, kit: &Kit, found: &mut Found) -> Result<()> {
    match value {
        Value::Object(map) => {
            let path = map.get("path").and_then(Value::as_str).map(PathBuf::from);
            if let Some(path) = path
                && let Some(Value::String(content)) = map.get_mut("content")
            {
                let chapter_dir = kit
                    .root
                    .join("book/src")
                    .join(path.parent().unwrap_or(Path::new("")));
                *content = shipped::redirect_includes(content, &chapter_dir, kit.root, &kit.quoted);
                let factor = kit
                    .manifest
                    .factors
                    .iter()
                    .find(|factor| Path::new(&factor.chapter) == path);
                let mut problems = includes::include_problems(content, &chapter_dir);
                if !problems.is_empty() && kit.quoted != kit.root {
                    // A maintainer's new file or anchor, not committed yet.
                    problems.push(
                        "(the book quotes the code as committed at HEAD: commit the change, or \
                         preview it with `KIT_BOOK_QUOTES=working-tree cargo xtask book`)"
                            .into(),
                    );
                }
                problems.extend(outputs::output_block_problems(content, kit));
                problems.extend(chapters::empty_sections(content));
                problems.extend(facts::typed_facts(content, factor, kit.root, &kit.quoted));
                // A factor's chapter, or a `[[session]]`'s (Deploy it): its session plan.
                let planned = factor
                    .map(|factor| (factor.minutes, factor.heading()))
                    .or_else(|| {
                        kit.manifest
                            .sessions
                            .iter()
                            .find(|session| Path::new(&session.chapter) == path)
                            .map(|session| {
                                (session.minutes, format!("the session {}", session.name))
                            })
                    });
                problems.extend(planned.and_then(|(minutes, what)| {
                    directives::session_table_problem(content, minutes, &what)
                }));
                found.problems.extend(
                    problems
                        .into_iter()
                        .map(|problem| format!("book/src/{}: {problem}", path.display())),
                );
                *content =
                    expand(content, kit).with_context(|| format!("book/src/{}", path.display()))?;
                found.pages.push(path);
            }
            for child in map.values_mut() {
                expand_chapters(child, kit, found)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                expand_chapters(item, kit, found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces each `{{#exercise N}}` and `{{#hints N}}` line, and every `{{#check-const N NAME}}`
/// and `{{#kit …}}`.
pub fn expand(content: &str, kit: &Kit) -> Result<String> {
    let manifest = kit.manifest;
    let mut expanded = String::with_capacity(content.len());
    for line in content.split_inclusive('\n') {
        let directive = line
            .trim()
            .strip_prefix("{{#")
            .and_then(|rest| rest.strip_suffix("}}"));
        match directive.and_then(|d| d.split_once(' ')) {
            Some(("exercise", query)) => expanded.push_str(&exercise_box(manifest.find(query)?)),
            Some(("hints", query)) => expanded.push_str(&hints(manifest.find(query)?)),
            Some(("agenda", spec)) => expanded.push_str(&directives::agenda(spec, manifest)?),
            None if directive == Some("cheatsheets") => {
                expanded.push_str(&directives::cheatsheets(manifest));
            }
            _ => {
                let line = directives::expand_minutes(line, manifest)?;
                let line = facts::expand(&line, kit)?;
                expanded.push_str(&directives::expand_inline(&line, &kit.quoted, manifest)?);
            }
        }
    }
    Ok(expanded)
}

fn exercise_box(factor: &Factor) -> String {
    if !factor.available {
        return format!(
            "> [!NOTE]\n> The exercise for {} is not available yet.\n\n",
            factor.heading()
        );
    }
    let services = match factor.services.as_slice() {
        [] => "none".to_string(),
        list => {
            list.iter()
                .map(|service| service.name())
                .collect::<Vec<_>>()
                .join(" and ")
                + " (started on demand)"
        }
    };
    format!(
        "> [!NOTE]\n\
         > **Exercise {roman}: {title}**. The rule: {rule}.\n\
         >\n\
         > - Edit: `{exercise}/` (look for `TODO(factor-{number})`)\n\
         > - Check: `cargo xtask check {number}` (or `cargo xtask watch {number}` to re-check on save)\n\
         > - Backing services: {services}\n\
         > - Stuck: the [Hints](#hints) below, one at a time with `cargo xtask hint {number}`\n\
         > - Done: compare with `cargo xtask solution {number}` (`{solution}/`)\n\n",
        roman = factor.roman,
        title = factor.title,
        rule = factor.rule,
        exercise = factor.exercise.display(),
        solution = factor.solution.display(),
        number = factor.number,
    )
}

fn hints(factor: &Factor) -> String {
    let count = factor.hints.len();
    factor
        .hints
        .iter()
        .enumerate()
        .map(|(index, hint)| {
            format!(
                "<details>\n<summary>Hint {} of {count}</summary>\n\n{}\n\n</details>\n\n",
                index + 1,
                hint.trim()
            )
        })
        .collect()
}

/// The build's lints on every page of `book/src/`, without mdBook: what `verify`'s static book
/// step runs whatever `--only` says (pages as `SUMMARY.md` lists them, the code as it is).
pub fn lint_pages(root: &Path, manifest: &Manifest) -> Result<Vec<String>> {
    let src = root.join("book/src");
    let kit = Kit::as_checked_out(root, manifest);
    let mut items = Vec::new();
    for file in crate::engine::progress::files_under_all(&src) {
        let Ok(path) = file.strip_prefix(&src) else {
            continue;
        };
        if path.extension().is_some_and(|ext| ext == "md") && path != Path::new("SUMMARY.md") {
            let content = std::fs::read_to_string(&file)?;
            items.push(serde_json::json!({"Chapter": {"path": path, "content": content}}));
        }
    }
    let mut book = serde_json::json!({ "items": items });
    let mut found = Found::default();
    expand_chapters(&mut book, &kit, &mut found)?;
    let summary = std::fs::read_to_string(src.join("SUMMARY.md"))
        .context("book/src/SUMMARY.md is missing")?;
    let left_out = chapters::pages_left_out(&src, &chapters::summary_pages(&summary))?;
    if !left_out.is_empty() {
        found.problems.push(format!(
            "book/src/SUMMARY.md does not list {}: a page missing from it is never built, and \
             every link to it breaks",
            left_out.join(", ")
        ));
    }
    Ok(found.problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_expand_from_the_manifest_and_other_lines_stay() {
        let (root, manifest) = (
            crate::project_root().unwrap(),
            crate::engine::manifest::kit(),
        );
        let page = "# VI\n{{#exercise 6}}\nText {{#hints 6}} inline stays.\n{{#hints vi}}\n";
        let expanded = expand(page, &Kit::as_checked_out(&root, &manifest)).unwrap();
        assert!(
            expanded.starts_with("# VI\n> [!NOTE]\n> **Exercise VI: Processes**"),
            "{expanded}"
        );
        assert!(expanded.contains("Text {{#hints 6}} inline stays.\n"));
        assert_eq!(
            expanded.matches("<summary>Hint").count(),
            manifest.find("6").unwrap().hints.len()
        );
    }

    #[test]
    fn an_unknown_factor_in_a_directive_fails_the_build() {
        let (root, manifest) = (
            crate::project_root().unwrap(),
            crate::engine::manifest::kit(),
        );
        assert!(expand("{{#hints 13}}\n", &Kit::as_checked_out(&root, &manifest)).is_err());
    }

    #[test]
    fn the_preprocessor_edits_chapter_content_wherever_it_is_nested() {
        let (root, manifest) = (
            crate::project_root().unwrap(),
            crate::engine::manifest::kit(),
        );
        let mut book = serde_json::json!({"items": [{"Chapter": {"name": "VI", "path": "06.md",
            "content": "{{#exercise 6}}\n", "sub_items": [{"Chapter": {"path": "x.md", "content": "{{#hints 6}}\n"}}]}}]});
        expand_chapters(
            &mut book,
            &Kit::as_checked_out(&root, &manifest),
            &mut Found::default(),
        )
        .unwrap();
        let text = book.to_string();
        assert!(
            text.contains("Exercise VI: Processes") && text.contains("Hint 1 of"),
            "{text}"
        );
    }

    /// What `mdbook build` runs through this preprocessor, without mdBook: every page of the kit's
    /// book passes the build's lints and expands.
    #[test]
    fn the_kit_book_passes_the_build_lints() {
        let (root, manifest) = (
            crate::project_root().unwrap(),
            crate::engine::manifest::kit(),
        );
        let problems = lint_pages(&root, &manifest).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
