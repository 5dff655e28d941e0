//! The shape of a factor's chapter: its sections in the order a learner must meet them (the
//! exercise and hints before the fix, behind a boundary), a link to the manifesto, its directives,
//! and only check names its check file has.

/// The sections of a factor's chapter, in the order a learner must meet them: the exercise and
/// hints before the fix, so that nobody reads the answer first.
pub const CHAPTER_SECTIONS: [&str; 8] = [
    "The rule",
    "Why it matters",
    "The anti-pattern",
    "The exercise",
    "Hints",
    "The fix",
    "Going further",
    "Instructor notes",
];

/// The checks a chapter names in bold code (`**`a_check_name`**`, how chapters list them) that
/// are not a `fn` of its check file: a renamed check would otherwise leave the book behind.
pub fn unknown_checks(chapter: &str, checks: &str) -> Vec<String> {
    chapter
        .split("**`")
        .skip(1)
        .filter_map(|rest| rest.split_once("`**").map(|(name, _)| name))
        .filter(|name| {
            name.contains('_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|name| !checks.contains(&format!("fn {name}(")))
        .map(str::to_owned)
        .collect()
}

/// What is wrong with the shape of factor `number`'s chapter.
pub fn chapter_problems(text: &str, number: u8) -> Vec<String> {
    let mut problems = Vec::new();
    let mut in_fence = false;
    let mut sections: Vec<(&str, usize)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && let Some(title) = line.strip_prefix("## ") {
            sections.push((title.trim(), index));
        }
    }
    let titles: Vec<&str> = sections.iter().map(|(title, _)| *title).collect();
    let expected: Vec<&str> = CHAPTER_SECTIONS.to_vec();
    let present: Vec<&str> = titles
        .iter()
        .copied()
        .filter(|title| expected.contains(title))
        .collect();
    if present != expected {
        problems.push(format!(
            "its sections must be, in this order: {}; they are: {}",
            expected.join(", "),
            titles.join(", ")
        ));
    }
    if !text.contains("https://12factor.net/") {
        problems.push("does not link the factor's page on https://12factor.net/".into());
    }
    for directive in [
        format!("{{{{#exercise {number}}}}}"),
        format!("{{{{#hints {number}}}}}"),
    ] {
        if !text.contains(&directive) {
            problems.push(format!("has no {directive}"));
        }
    }
    if let Some(&(_, fix)) = sections.iter().find(|(title, _)| *title == "The fix") {
        // The solution's code only after the exercise, behind a boundary.
        if let Some(line) = lines[..fix]
            .iter()
            .find(|line| line.contains("{{#include") && line.contains("/solutions/"))
        {
            problems.push(format!(
                "includes the solution before “The fix”: {}",
                line.trim()
            ));
        }
        let first = lines[fix + 1..]
            .iter()
            .find(|line| !line.trim().is_empty())
            .copied()
            .unwrap_or_default();
        if !first.starts_with("> [!CAUTION]") {
            problems.push(
                "“The fix” must open with a `> [!CAUTION]` boundary (“Solution below…”)".into(),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chapter_must_not_show_the_fix_before_the_exercise() {
        let good = "# VI\nSee https://12factor.net/processes\n## The rule\n## Why it matters\n## The anti-pattern\n\
            ## The exercise\n{{#exercise 6}}\n## Hints\n{{#hints 6}}\n## The fix\n\n> [!CAUTION]\n> Solution below.\n\
            {{#include ../../solutions/06-processes/src/state.rs:counter}}\n## Going further\n## Instructor notes\n";
        assert!(
            chapter_problems(good, 6).is_empty(),
            "{:?}",
            chapter_problems(good, 6)
        );
        let fix_first = good
            .replace(
                "## The exercise\n{{#exercise 6}}\n## Hints\n{{#hints 6}}\n",
                "",
            )
            .replace(
                "## Going further",
                "## The exercise\n{{#exercise 6}}\n## Hints\n{{#hints 6}}\n## Going further",
            );
        assert!(chapter_problems(&fix_first, 6)[0].contains("in this order"));
        let no_boundary = good.replace("> [!CAUTION]\n", "");
        assert!(chapter_problems(&no_boundary, 6)[0].contains("CAUTION"));
        let early = good.replace(
            "## The anti-pattern\n",
            "## The anti-pattern\n{{#include ../../solutions/06-processes/src/state.rs:x}}\n",
        );
        assert!(chapter_problems(&early, 6)[0].contains("before “The fix”"));
    }

    #[test]
    fn a_check_the_book_names_must_exist() {
        let chapter = "- **`visits_are_shared`** starts… **`gone_check`** and **`Not a check`**";
        let checks = "#[test]\nfn visits_are_shared() {}";
        assert_eq!(unknown_checks(chapter, checks), ["gone_check"]);
    }
}

/// The pages of `src` (besides `SUMMARY.md` and mdBook's `404.md`) that are not among the
/// book's `pages`: left out of `SUMMARY.md`, they are never built, and links to them break.
pub fn pages_left_out(
    src: &std::path::Path,
    pages: &[std::path::PathBuf],
) -> anyhow::Result<Vec<String>> {
    let files = crate::engine::progress::files_under_all(src);
    let fragments = included_fragments(src, &files);
    let mut left_out = Vec::new();
    for file in &files {
        let Ok(relative) = file.strip_prefix(src) else {
            continue;
        };
        let is_page = relative.extension().is_some_and(|ext| ext == "md")
            && !["SUMMARY.md", "404.md"].contains(&relative.to_string_lossy().as_ref())
            && !fragments.iter().any(|fragment| fragment == relative);
        if is_page && !pages.iter().any(|page| page == relative) {
            left_out.push(relative.display().to_string());
        }
    }
    left_out.sort();
    Ok(left_out)
}

/// The Markdown files another page pulls in with `{{#include file.md}}` (a table a demo wrote,
/// say): parts of that page, not pages of their own. Relative to `src`.
fn included_fragments(
    src: &std::path::Path,
    files: &[std::path::PathBuf],
) -> Vec<std::path::PathBuf> {
    let mut fragments = Vec::new();
    for file in files
        .iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "md"))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for rest in text.split("{{#include ").skip(1) {
            let target = rest.split(['}', ':', ' ']).next().unwrap_or_default();
            if !target.ends_with(".md") {
                continue;
            }
            let path = file.parent().unwrap_or(src).join(target);
            if let Ok(relative) = normalise(&path).strip_prefix(src) {
                fragments.push(relative.to_path_buf());
            }
        }
    }
    fragments
}

/// `a/b/../c` as `a/c`, without asking the file system.
fn normalise(path: &std::path::Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The pages `SUMMARY.md` links to (`- [Title](page.md)`).
pub fn summary_pages(summary: &str) -> Vec<std::path::PathBuf> {
    summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(link, _)| link.trim()))
        .filter(|link| link.ends_with(".md"))
        .map(std::path::PathBuf::from)
        .collect()
}

/// The sections of a page with nothing in them: a heading followed by the next heading of the
/// same or a higher level (or by the end of the page) with no text between them, or only a
/// placeholder (`TODO`, `TBD`, `…`). A chapter skeleton is all headings; a section with only a
/// directive (`{{#hints 6}}`) or a picture has content.
pub fn empty_sections(content: &str) -> Vec<String> {
    let mut headings: Vec<(usize, usize, &str)> = Vec::new();
    let mut in_fence = false;
    let lines: Vec<&str> = content.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if !in_fence && (1..=6).contains(&level) && line[level..].starts_with(' ') {
            headings.push((index, level, line[level..].trim()));
        }
    }
    let placeholder = |line: &str| {
        let word = line.trim().trim_matches(['*', '_', '.', '…', ' ', '>']);
        word.is_empty() || ["TODO", "TBD", "todo", "tbd", "FIXME"].contains(&word)
    };
    let mut problems = Vec::new();
    for (position, &(index, level, title)) in headings.iter().enumerate() {
        let next = headings[position + 1..].first();
        if next.is_some_and(|&(_, next_level, _)| next_level > level) {
            continue;
        }
        let end = next.map_or(lines.len(), |&(next_index, ..)| next_index);
        if lines[index + 1..end].iter().all(|line| placeholder(line)) {
            problems.push(format!(
                "line {}: the section “{title}” is empty (a chapter skeleton is not a chapter)",
                index + 1
            ));
        }
    }
    problems
}

#[cfg(test)]
mod skeleton_tests {
    use super::*;

    #[test]
    fn an_empty_skeleton_is_named_and_a_written_page_is_not() {
        let skeleton = "# VI. Processes\n\n## The rule\n\nTODO\n\n## Why it matters\n\n## The exercise\n\n{{#exercise 6}}\n\n## Hints\n### One\n### Two\n…\n";
        let problems = empty_sections(skeleton);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("line 3: the section “The rule” is empty"));
        assert!(problems[1].contains("“Why it matters”"));
        assert!(problems[2].contains("“One”"));
        assert!(problems[3].contains("“Two”"));
        assert!(
            empty_sections("# T\n\nText.\n\n```sh\n# a comment, not a heading\n```\n").is_empty()
        );
    }

    #[test]
    fn a_page_missing_from_the_summary_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for page in ["SUMMARY.md", "404.md", "a.md", "glossary.md"] {
            std::fs::write(dir.path().join(page), "# x\n\ny\n").unwrap();
        }
        let pages = summary_pages("# Summary\n\n[Intro](a.md)\n- [X](https://x.io/y)\n");
        assert_eq!(pages, [std::path::PathBuf::from("a.md")]);
        assert_eq!(pages_left_out(dir.path(), &pages).unwrap(), ["glossary.md"]);
    }
}
