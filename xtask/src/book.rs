//! `cargo xtask book [--open|--serve]`, and the book's mdBook preprocessor.
//!
//! The preprocessor is how the book reads `factors.toml` and the checks: `{{#exercise N}}` becomes the
//! exercise box, `{{#hints N}}` the progressive hints and `{{#check-const N NAME}}` a number or name
//! from a check file (`directives`), so no chapter repeats them. It runs before mdBook's `links`
//! preprocessor and fails the build on an `{{#include}}` whose file or anchor is missing (`lint`).

mod browser;
pub mod demos;
mod directives;
pub mod lint;

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::term;
use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the book is published (`.github/workflows/book.yml`, on every push to main). The
/// organisation is a placeholder until the kit's public home is decided; `site-url` in
/// `book/book.toml` is this URL's path.
pub const ONLINE_URL: &str = "https://twelve-factor-rust.github.io/twelve-factor-rust/";

/// Where `mdbook build` writes the HTML (see `book/book.toml`).
pub fn output_dir(root: &Path) -> PathBuf {
    root.join("target").join("book")
}

/// Why the last `build` in this process failed, for the steps that need the built book.
static BUILD_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// `mdbook build book`, failing on any warning, a missing include anchor or an empty code block.
pub fn build(root: &Path) -> Result<()> {
    let result = build_once(root);
    *BUILD_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) =
        result.as_ref().err().map(|error| format!("{error:#}"));
    result
}

fn build_once(root: &Path) -> Result<()> {
    let output = crate::engine::testrun::without_xtask_env(&mut Command::new(
        crate::engine::tools::mdbook(root)?,
    ))
    .args(["build", "book"])
    .current_dir(root)
    .output()
    .context("cannot run mdbook")?;
    let log = String::from_utf8_lossy(&output.stderr);
    let problems: Vec<&str> = log
        .lines()
        // mdBook's own warnings and errors, and the preprocessor's `error: …` with its causes.
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("INFO"))
        .collect();
    if !output.status.success() || !problems.is_empty() {
        let detail = if problems.is_empty() {
            log.trim().to_string()
        } else {
            problems.join("\n")
        };
        bail!("the book does not build cleanly:\n{detail}");
    }
    let empty = lint::empty_code_blocks(&output_dir(root))?;
    ensure!(
        empty.is_empty(),
        "the book has {} empty code block(s):\n{}",
        empty.len(),
        empty.join("\n")
    );
    Ok(())
}

pub fn run(root: &Path, open: bool, serve: bool, out: &mut impl Write) -> Result<Verdict> {
    if serve {
        let status = crate::engine::testrun::without_xtask_env(&mut Command::new(
            crate::engine::tools::mdbook(root)?,
        ))
        .args(["serve", "book"])
        .current_dir(root)
        .status()?;
        return Ok(Verdict::from(status.success()));
    }
    build(root)?;
    let index = output_dir(root).join("index.html");
    writeln!(out, "{} The book is at {}", term::pass(), index.display())?;
    if open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        // A machine without a desktop has no browser to open: then say where the book is.
        let opened = Command::new(opener)
            .arg(&index)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !opened {
            writeln!(
                out,
                "No browser could be opened here ({opener}); open file://{} yourself.",
                index.display()
            )?;
        }
    }
    Ok(Verdict::Green)
}

/// The mdBook preprocessor protocol: `supports <renderer>` answers yes; otherwise read
/// `[context, book]` as JSON on stdin and write the book back with the directives expanded.
pub fn preprocess(root: &Path, args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("supports") {
        return Ok(());
    }
    let manifest = Manifest::load(root)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let input: Value =
        serde_json::from_str(&input).context("mdBook sent something that is not JSON")?;
    let mut book = input.get(1).cloned().context("mdBook sent no book")?;
    expand_chapters(&mut book, &manifest, root)?;
    serde_json::to_writer(std::io::stdout().lock(), &book)?;
    Ok(())
}

/// Walks the book JSON and expands directives in every chapter's `content`.
fn expand_chapters(value: &mut Value, manifest: &Manifest, root: &Path) -> Result<()> {
    match value {
        Value::Object(map) => {
            let path = map.get("path").and_then(Value::as_str).map(PathBuf::from);
            if let Some(path) = path
                && let Some(Value::String(content)) = map.get_mut("content")
            {
                let chapter_dir = root
                    .join("book/src")
                    .join(path.parent().unwrap_or(Path::new("")));
                let problems = lint::include_problems(content, &chapter_dir);
                ensure!(
                    problems.is_empty(),
                    "book/src/{}: {}",
                    path.display(),
                    problems.join("; ")
                );
                if let Some(factor) = manifest
                    .factors
                    .iter()
                    .find(|factor| Path::new(&factor.chapter) == path)
                    && let Some(problem) = directives::session_table_problem(content, factor)
                {
                    bail!("book/src/{}: {problem}", path.display());
                }
                *content = expand(content, manifest, root)
                    .with_context(|| format!("book/src/{}", path.display()))?;
            }
            for child in map.values_mut() {
                expand_chapters(child, manifest, root)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                expand_chapters(item, manifest, root)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces each `{{#exercise N}}` and `{{#hints N}}` line, and every `{{#check-const N NAME}}`.
pub fn expand(content: &str, manifest: &Manifest, root: &Path) -> Result<String> {
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
                expanded.push_str(&directives::expand_inline(&line, root, manifest)?);
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

/// Every `href`/`src` inside the built book that points into the book: returns how many were
/// checked, or fails listing the broken ones (a missing page, or a missing `#anchor` on it).
pub fn check_links(root: &Path) -> Result<usize> {
    let out = output_dir(root);
    let pages: Vec<PathBuf> = crate::engine::progress::files_under_all(&out)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "html"))
        .collect();
    let mut ids = std::collections::HashMap::new();
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let html = std::fs::read_to_string(page)?;
        for link in attribute_values(&html, "href").chain(attribute_values(&html, "src")) {
            // Absolute links (`/` in 404.html) depend on where the book is deployed.
            if link.starts_with('/')
                || link.contains("://")
                || link.starts_with("mailto:")
                || link.starts_with("javascript:")
                || link.is_empty()
            {
                continue;
            }
            checked += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((link, ""));
            let file = file.split('?').next().unwrap_or_default();
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.is_file() {
                broken.push(format!("{}: {link} (no such file)", relative(&out, page)));
                continue;
            }
            if anchor.is_empty() || target.extension().is_none_or(|ext| ext != "html") {
                continue;
            }
            let page_ids = ids.entry(target.clone()).or_insert_with(|| {
                let html = std::fs::read_to_string(&target).unwrap_or_default();
                attribute_values(&html, "id")
                    .map(str::to_owned)
                    .collect::<std::collections::HashSet<_>>()
            });
            if !page_ids.contains(anchor) {
                broken.push(format!("{}: {link} (no such anchor)", relative(&out, page)));
            }
        }
    }
    if !broken.is_empty() {
        broken.sort();
        broken.dedup();
        bail!(
            "{} broken link(s) in the book:\n{}",
            broken.len(),
            broken.join("\n")
        );
    }
    Ok(checked)
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The values of every `name="…"` attribute in `html` (mdBook always double-quotes them).
fn attribute_values<'h>(html: &'h str, name: &str) -> impl Iterator<Item = &'h str> + use<'h> {
    let needle = format!(" {name}=\"");
    let starts: Vec<usize> = html
        .match_indices(&needle)
        .map(|(at, _)| at + needle.len())
        .collect();
    starts.into_iter().filter_map(move |start| {
        let rest = &html[start..];
        rest.find('"').map(|end| &rest[..end])
    })
}

/// The section anchors a factor's checks link to (`"the-fix"`, …): every hyphenated lowercase
/// string literal in its check file must be a heading id on its chapter page.
pub fn check_lesson_anchors(root: &Path, factor: &Factor) -> Result<()> {
    let checks = root
        .join("kit/checks")
        .join(format!("{}.rs", factor.dir_name()));
    let source = std::fs::read_to_string(&checks)
        .with_context(|| format!("cannot read {}", checks.display()))?;
    let page = output_dir(root).join(factor.page());
    let html = std::fs::read_to_string(&page)
        .with_context(|| format!("{} was not built", page.display()))?;
    let ids: std::collections::HashSet<&str> = attribute_values(&html, "id").collect();
    let is_section = |literal: &str| {
        literal.contains('-')
            && literal.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !literal.starts_with('-')
    };
    // A section is an argument followed by more arguments: `ensure(cond, "the-fix", || …)` or
    // `fail("the-fix", …)`; not `app_binary!("reset-visits")`.
    let pieces: Vec<&str> = source.split('"').collect();
    let sections = pieces
        .iter()
        .enumerate()
        .skip(1)
        .step_by(2)
        .filter(|(index, literal)| {
            is_section(literal)
                && pieces
                    .get(index + 1)
                    .is_some_and(|after| after.trim_start().starts_with(','))
        })
        .map(|(_, literal)| *literal);
    for literal in sections {
        ensure!(
            ids.contains(literal),
            "kit/checks/{}.rs links to #{literal}, which is not a heading of book/src/{}",
            factor.dir_name(),
            factor.chapter
        );
    }
    Ok(())
}

/// `cargo xtask verify`'s static book step: the chapters' shape, the pictures, the commands and
/// the workflow (`lint::check_book`), read from the sources without building anything.
pub fn lint_sources(root: &Path, manifest: &Manifest) -> Result<String> {
    lint::check_book(root, manifest)
}

/// `cargo xtask verify`'s demo step: the book's runnable demos, run for real (`demos`).
pub fn run_demos(root: &Path) -> Result<String> {
    let demos = demos::run_all(root)?;
    Ok(format!("{demos} demo commands ran"))
}

/// Renders the built book in headless Chromium (see `browser`).
pub fn smoke_test_in_browser(root: &Path, manifest: &Manifest) -> Result<String> {
    if let Some(cause) = BUILD_FAILURE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        bail!("nothing to render: the book did not build ({cause})");
    }
    browser::smoke_test(root, manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        crate::engine::manifest::kit()
    }

    #[test]
    fn directives_expand_from_the_manifest_and_other_lines_stay() {
        let page = "# VI\n{{#exercise 6}}\nText {{#hints 6}} inline stays.\n{{#hints vi}}\n";
        let expanded = expand(page, &manifest(), &crate::project_root().unwrap()).unwrap();
        assert!(
            expanded.starts_with("# VI\n> [!NOTE]\n> **Exercise VI: Processes**"),
            "{expanded}"
        );
        assert!(expanded.contains("Text {{#hints 6}} inline stays.\n"));
        assert_eq!(
            expanded.matches("<summary>Hint").count(),
            manifest().find("6").unwrap().hints.len()
        );
    }

    #[test]
    fn the_browser_step_names_the_build_failure_not_the_browser() {
        *BUILD_FAILURE.lock().unwrap() = Some("no `ANCHOR: counter` line".into());
        let error =
            smoke_test_in_browser(&crate::project_root().unwrap(), &manifest()).unwrap_err();
        *BUILD_FAILURE.lock().unwrap() = None;
        let error = format!("{error:#}");
        assert!(
            error.contains("the book did not build") && error.contains("ANCHOR: counter"),
            "{error}"
        );
    }

    #[test]
    fn the_online_book_url_is_the_same_everywhere() {
        let root = crate::project_root().unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        assert!(
            readme.contains(ONLINE_URL),
            "README.md must point to {ONLINE_URL}"
        );
        let book_toml = std::fs::read_to_string(root.join("book/book.toml")).unwrap();
        let path = ONLINE_URL.split_once(".io").unwrap().1;
        assert!(
            book_toml.contains(&format!("site-url = \"{path}\"")),
            "book/book.toml's site-url must be {path}"
        );
    }

    #[test]
    fn an_unknown_factor_in_a_directive_fails_the_build() {
        assert!(
            expand(
                "{{#hints 13}}\n",
                &manifest(),
                &crate::project_root().unwrap()
            )
            .is_err()
        );
    }

    #[test]
    fn the_preprocessor_edits_chapter_content_wherever_it_is_nested() {
        let mut book = serde_json::json!({"items": [{"Chapter": {"name": "VI", "path": "06.md",
            "content": "{{#exercise 6}}\n", "sub_items": [{"Chapter": {"path": "x.md", "content": "{{#hints 6}}\n"}}]}}]});
        expand_chapters(&mut book, &manifest(), &crate::project_root().unwrap()).unwrap();
        let text = book.to_string();
        assert!(
            text.contains("Exercise VI: Processes") && text.contains("Hint 1 of"),
            "{text}"
        );
    }
}
