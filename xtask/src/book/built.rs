//! Checks of the built HTML in `target/book/`: no empty code block (an include that expanded to
//! nothing), no broken link inside the book, and every section a check links to is a heading of
//! its chapter.

use crate::engine::manifest::Factor;
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};

/// Every empty `<pre><code …></code></pre>` in the built book, as `page: the code block before
/// heading …` lines (an include that expanded to nothing, or a fence with nothing in it).
pub fn empty_code_blocks(out: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for page in crate::engine::progress::files_under_all(out) {
        if page.extension().is_none_or(|ext| ext != "html") {
            continue;
        }
        let html = std::fs::read_to_string(&page)?;
        for (at, _) in html.match_indices("<pre><code") {
            let rest = &html[at..];
            let Some(open_end) = rest.find('>') else {
                continue;
            };
            let Some(close) = rest.find("</code>") else {
                continue;
            };
            let inner = &rest[open_end + 1..close];
            // Hidden lines (`# `) are wrapped in spans; an empty block has no text at all.
            if strip_tags(inner).trim().is_empty() {
                let heading = html[..at]
                    .rfind("<h")
                    .map(|h| {
                        let text = strip_tags(&html[h..(h + 200).min(at)]);
                        text.lines().next().unwrap_or_default().trim().to_string()
                    })
                    .unwrap_or_default();
                found.push(format!(
                    "{}: an empty code block (after “{heading}”)",
                    page.strip_prefix(out).unwrap_or(&page).display()
                ));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// Every `href`/`src` inside the built book that points into the book: returns how many were
/// checked, or fails listing the broken ones (a missing page, or a missing `#anchor` on it).
pub fn check_links(root: &Path) -> Result<usize> {
    let out = super::output_dir(root);
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
    let page = super::output_dir(root).join(factor.page());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_code_blocks_are_found_with_their_section() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("p.html"),
            "<h2 id=\"x\">The fix</h2><pre><code class=\"language-rust\"></code></pre>\
             <pre><code class=\"language-rust\">fn a() {}</code></pre>",
        )
        .unwrap();
        let found = empty_code_blocks(dir.path()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("The fix"), "{found:?}");
    }
}
