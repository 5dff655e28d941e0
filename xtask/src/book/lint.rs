//! Checks of the book's quality that mdBook does not make.
//!
//! - Every `{{#include file:anchor}}` names a file that exists and an anchor with both its
//!   `ANCHOR:` and `ANCHOR_END:` lines and something between them (mdBook 0.5 renders a missing
//!   anchor as an empty code block, silently). Run by the preprocessor, before mdBook's own
//!   `links` preprocessor expands the includes, so a wrong anchor fails the build.
//! - No code block in the built book is empty.

use anyhow::{Context, Result, bail};
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

    #[test]
    fn empty_code_blocks_are_found_with_their_section() {
        let dir = dir_with(
            "p.html",
            "<h2 id=\"x\">The fix</h2><pre><code class=\"language-rust\"></code></pre>\
             <pre><code class=\"language-rust\">fn a() {}</code></pre>",
        );
        let found = empty_code_blocks(dir.path()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("The fix"), "{found:?}");
    }
}

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

/// The book-quality checks `cargo xtask verify` runs on the sources (the build checks includes
/// and empty code blocks): every available factor's chapter has the shape of COMMON's brief, and
/// every picture reads in both themes. Returns a summary, or fails listing every problem.
pub fn check_book(root: &Path, manifest: &crate::engine::manifest::Manifest) -> Result<String> {
    let src = root.join("book/src");
    let mut problems = Vec::new();
    let mut chapters = 0;
    for factor in manifest.available() {
        let path = src.join(&factor.chapter);
        let Ok(text) = std::fs::read_to_string(&path) else {
            problems.push(format!("book/src/{}: missing", factor.chapter));
            continue;
        };
        chapters += 1;
        let checks = root
            .join("kit/checks")
            .join(format!("{}.rs", factor.dir_name()));
        let checks = std::fs::read_to_string(&checks).unwrap_or_default();
        problems.extend(unknown_checks(&text, &checks).into_iter().map(|name| {
            format!(
                "book/src/{}: names the check `{name}`, which kit/checks/{}.rs does not have",
                factor.chapter,
                factor.dir_name()
            )
        }));
        problems.extend(
            chapter_problems(&text, factor.number)
                .into_iter()
                .map(|problem| format!("book/src/{}: {problem}", factor.chapter)),
        );
    }
    let mut pictures = 0;
    for entry in std::fs::read_dir(src.join("images"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "svg") {
            pictures += 1;
            let text = std::fs::read_to_string(&path)?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            problems.extend(
                svg_problems(&text)
                    .into_iter()
                    .map(|problem| format!("book/src/images/{name}: {problem}")),
            );
        }
    }
    let commands = check_commands(root).unwrap_or_else(|error| {
        problems.push(format!("{error:#}"));
        0
    });
    let workflow = check_workflow(root).unwrap_or_else(|error| {
        problems.push(format!("{error:#}"));
        String::new()
    });
    if !problems.is_empty() {
        bail!(
            "{} problem(s) in the book:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(format!(
        "{chapters} chapters in shape, {pictures} pictures readable in both themes, \
         {commands} commands that would start, {workflow}"
    ))
}

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

/// What keeps a picture from reading in both themes: it must start with its own white background
/// (`<rect … fill="#ffffff" …>` before anything else is drawn), have a title and a description,
/// and every colour its text uses must reach 4.5:1 against white, every line colour 3:1.
pub fn svg_problems(svg: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for tag in ["<title", "<desc"] {
        if !svg.contains(tag) {
            problems.push(format!("no {tag}> (screen readers read it)"));
        }
    }
    // The first drawn element: skip the root, metadata, styles, definitions and comments.
    let mut rest = svg.split_once("<svg").map_or("", |(_, rest)| rest);
    let first_drawn = loop {
        let Some(at) = rest.find('<') else { break None };
        rest = &rest[at..];
        let skip_to = |end: &str| rest.find(end).map(|i| i + end.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<svg") {
            skip_to(">")
        } else if ["<title", "<desc", "<style", "<defs", "<metadata"]
            .iter()
            .any(|tag| rest.starts_with(tag))
        {
            let name: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            skip_to(&format!("</{name}>"))
        } else {
            break rest.split('>').next();
        };
        match next {
            Some(end) => rest = &rest[end..],
            None => break None,
        }
    };
    let background = first_drawn.is_some_and(|tag| {
        tag.starts_with("<rect")
            && (tag.contains("fill=\"#ffffff\"") || tag.contains("fill=\"#fff\""))
            && tag.contains("width=\"100%\"")
            && tag.contains("height=\"100%\"")
    });
    if !background {
        problems.push(format!(
            "the first thing drawn must be its own background, <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\" rx=\"12\"/>; it is {}",
            first_drawn.unwrap_or("nothing")
        ));
    }
    for (colour, role) in text_and_line_colours(svg) {
        let Some(ratio) = contrast_with_white(&colour) else {
            problems.push(format!(
                "{role} colour {colour} is not a #rgb or #rrggbb colour"
            ));
            continue;
        };
        let minimum = if role == "text" { 4.5 } else { 3.0 };
        if ratio < minimum {
            problems.push(format!(
                "{role} colour {colour} has a contrast of {ratio:.1}:1 on the white background (at least {minimum}:1)"
            ));
        }
    }
    problems
}

/// `(colour, "text" | "line")` for every text fill and every stroke: fills in CSS rules that
/// style `text` or a class used on a `<text>`, `fill="…"` on `<text>`/`<tspan>`, and strokes.
fn text_and_line_colours(svg: &str) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let text_classes: Vec<String> = svg
        .split("<text")
        .skip(1)
        .chain(svg.split("<tspan").skip(1))
        .filter_map(|rest| {
            let tag = rest.split('>').next()?;
            let (_, class) = tag.split_once("class=\"")?;
            Some(class.split('"').next()?.to_string())
        })
        .flat_map(|classes| {
            classes
                .split_whitespace()
                .map(|class| format!(".{class}"))
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some((_, style)) = svg.split_once("<style")
        && let Some((style, _)) = style.split_once("</style>")
    {
        for rule in style.split('}') {
            let Some((selector, body)) = rule.split_once('{') else {
                continue;
            };
            let selector = selector.trim().trim_start_matches('>').trim();
            let styles_text = selector.split(',').any(|part| {
                let part = part.trim();
                part == "text" || part == "tspan" || text_classes.iter().any(|class| class == part)
            });
            for declaration in body.split(';') {
                let Some((property, value)) = declaration.split_once(':') else {
                    continue;
                };
                let value = value.trim().to_string();
                match property.trim() {
                    "fill" if styles_text && value.starts_with('#') => found.push((value, "text")),
                    "stroke" if value.starts_with('#') => found.push((value, "line")),
                    _ => {}
                }
            }
        }
    }
    for (tag, role) in [("<text", "text"), ("<tspan", "text")] {
        for rest in svg.split(tag).skip(1) {
            let element = rest.split('>').next().unwrap_or_default();
            if let Some((_, fill)) = element.split_once(" fill=\"") {
                found.push((fill.split('"').next().unwrap_or_default().to_string(), role));
            }
        }
    }
    for rest in svg.split(" stroke=\"").skip(1) {
        let value = rest.split('"').next().unwrap_or_default();
        if value.starts_with('#') {
            found.push((value.to_string(), "line"));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The WCAG contrast ratio of `#rgb`/`#rrggbb` against white.
pub fn contrast_with_white(colour: &str) -> Option<f64> {
    let hex = colour.strip_prefix('#')?;
    let hex: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_string(),
        _ => return None,
    };
    let channel = |at: usize| -> Option<f64> {
        let value = f64::from(u8::from_str_radix(hex.get(at..at + 2)?, 16).ok()?) / 255.0;
        Some(if value <= 0.039_28 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        })
    };
    let luminance = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (luminance + 0.05))
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn contrast_is_computed_as_wcag_does() {
        assert!((contrast_with_white("#000000").unwrap() - 21.0).abs() < 0.01);
        assert!((contrast_with_white("#fff").unwrap() - 1.0).abs() < 0.01);
        let grey = contrast_with_white("#767676").unwrap();
        assert!((4.5..4.6).contains(&grey), "{grey}");
        assert_eq!(contrast_with_white("grey"), None);
    }

    #[test]
    fn a_picture_needs_its_background_and_readable_colours() {
        let good = r##"<svg xmlns="http://www.w3.org/2000/svg"><title>t</title><desc>d</desc>
<!-- background -->
<rect width="100%" height="100%" fill="#ffffff" rx="12"/>
<style> text { fill: #333333; } .soft { fill: #888888; } .line { stroke: #555; } </style>
<text class="body">hi</text><rect class="soft"/></svg>"##;
        assert!(svg_problems(good).is_empty(), "{:?}", svg_problems(good));
        let pale_text = good.replace("<text class=\"body\">", "<text class=\"soft\">");
        assert!(
            svg_problems(&pale_text)[0].contains("text colour #888888"),
            "{:?}",
            svg_problems(&pale_text)
        );
        let no_background = good.replace(
            "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\" rx=\"12\"/>",
            "",
        );
        assert!(svg_problems(&no_background)[0].contains("own background"));
        let pale_line = good.replace("stroke: #555", "stroke: #cccccc");
        assert!(svg_problems(&pale_line)[0].contains("line colour #cccccc"));
    }

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

    #[test]
    fn the_kit_book_is_in_shape() {
        let root = crate::project_root().unwrap();
        let summary = check_book(&root, &crate::engine::manifest::kit());
        assert!(summary.is_ok(), "{summary:?}");
    }
}

/// Every command a learner or instructor is told to run, in the book's `sh` and `console` blocks
/// (in `console`, the lines after `$ `; a trailing `\` joins the next line), must at least start:
/// `cargo xtask …` must parse as xtask's own command line (subcommand, flags, arguments), and
/// `cargo run|test|build -p PACKAGE [--bin NAME]` must name a workspace package, and a binary it has;
/// `cargo run` on a package with several binaries needs `--bin` (or `default-run`), or Cargo
/// stops with "could not determine which binary to run". Returns how many commands were checked.
pub fn check_commands(root: &Path) -> Result<usize> {
    let packages = workspace_binaries(root)?;
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("book/src"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    for page in pages {
        let text = std::fs::read_to_string(&page)?;
        let name = page.file_name().unwrap_or_default().to_string_lossy();
        for command in shell_commands(&text) {
            if let Some(problem) = command_problem(&command, &packages) {
                problems.push(format!("book/src/{name}: `{command}`: {problem}"));
            }
            checked += 1;
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} command(s) in the book would not run:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(checked)
}

/// The `cargo …` commands of a page's shell blocks, continuation lines joined, comments dropped.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut language: Option<String> = None;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            language = match language {
                Some(_) => None,
                None => Some(
                    info.split([',', ' '])
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
            };
            pending.clear();
            continue;
        }
        let Some(lang) = language.as_deref() else {
            continue;
        };
        let line = match lang {
            "sh" | "bash" | "shell" => trimmed,
            "console" if !pending.is_empty() => trimmed.trim_start_matches("> "),
            "console" => match trimmed.strip_prefix("$ ") {
                Some(command) => command,
                None => continue,
            },
            _ => continue,
        };
        let line = line.split(" #").next().unwrap_or_default().trim_end();
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                let command = pending.split_whitespace().collect::<Vec<_>>().join(" ");
                if command.contains("cargo ") {
                    commands.push(command);
                }
                pending.clear();
            }
        }
    }
    commands
}

/// What would stop `command` (one shell line with `cargo` in it).
fn command_problem(
    command: &str,
    packages: &std::collections::HashMap<String, (Vec<String>, bool)>,
) -> Option<String> {
    use clap::Parser;
    // Skip `VAR=value` prefixes, and stop at a pipe, redirection or `&&`.
    let words: Vec<&str> = command
        .split_whitespace()
        .skip_while(|word| *word != "cargo")
        .take_while(|word| !["|", ">", "2>", "&&", ";", "||"].contains(word))
        .collect();
    match words.get(1).copied() {
        Some("xtask") => {
            let args = std::iter::once("xtask").chain(words[2..].iter().copied());
            match crate::Cli::try_parse_from(args) {
                Ok(_) => None,
                Err(error) if !error.use_stderr() => None,
                Err(error) => Some(
                    error
                        .render()
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
            }
        }
        Some(verb @ ("run" | "test" | "build")) => {
            let value = |flag: &str| {
                words
                    .windows(2)
                    .find(|pair| pair[0] == flag)
                    .map(|pair| pair[1])
            };
            let package = value("-p").or_else(|| value("--package"))?;
            let Some((bins, default_run)) = packages.get(package) else {
                return Some(format!("no package {package} in the workspace"));
            };
            match value("--bin") {
                Some(bin) if !bins.iter().any(|b| b == bin) => Some(format!(
                    "{package} has no binary {bin} (it has: {})",
                    bins.join(", ")
                )),
                None if verb == "run" && bins.len() > 1 && !default_run => Some(format!(
                    "{package} has {} binaries and no default-run: Cargo cannot determine which \
                     binary to run; add --bin {package}",
                    bins.len()
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Each workspace package's binaries, and whether it names a `default-run`.
fn workspace_binaries(
    root: &Path,
) -> Result<std::collections::HashMap<String, (Vec<String>, bool)>> {
    let output = crate::engine::testrun::cargo_command()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut packages = std::collections::HashMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_string();
        let bins = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
            })
            .filter_map(|target| target["name"].as_str().map(str::to_owned))
            .collect();
        packages.insert(name, (bins, package["default_run"].is_string()));
    }
    Ok(packages)
}

#[cfg(test)]
mod command_tests {
    use super::*;

    #[test]
    fn commands_are_read_from_shell_and_console_blocks() {
        let page = "```sh\ncargo xtask services up   # start\nA=1 cargo run -p x \\\n  --bin y\n```\n\
                    ```console\n$ cargo xtask hint 6\nout\n$ echo\n```\n```text\ncargo nope\n```\n";
        assert_eq!(
            shell_commands(page),
            [
                "cargo xtask services up",
                "A=1 cargo run -p x --bin y",
                "cargo xtask hint 6"
            ]
        );
    }

    #[test]
    fn a_command_that_would_not_run_is_named() {
        let mut packages = std::collections::HashMap::new();
        packages.insert("one".to_string(), (vec!["one".to_string()], false));
        packages.insert(
            "two".to_string(),
            (vec!["two".into(), "two-admin".into()], false),
        );
        let problem = |command: &str| command_problem(command, &packages);
        assert_eq!(problem("PORT=1 cargo run -p one"), None);
        assert!(
            problem("cargo run -p two")
                .unwrap()
                .contains("cannot determine")
        );
        assert_eq!(problem("cargo run -q -p two --bin two-admin"), None);
        assert_eq!(problem("cargo build -p two"), None);
        assert!(
            problem("cargo run -p two --bin three")
                .unwrap()
                .contains("no binary three")
        );
        assert!(
            problem("cargo test -p nope")
                .unwrap()
                .contains("no package nope")
        );
        assert_eq!(problem("cargo xtask hint 6 --level 1"), None);
        assert_eq!(problem("cargo xtask status --json > x.json"), None);
        assert!(problem("cargo xtask hint 6 --levle 1").is_some());
        assert!(problem("cargo xtask frobnicate").is_some());
    }

    #[test]
    fn every_command_in_the_kit_book_would_run() {
        let checked = check_commands(&crate::project_root().unwrap());
        assert!(checked.is_ok(), "{checked:?}");
    }
}

/// The workflow that publishes the book (`.github/workflows/book.yml`): valid against the GitHub
/// workflow schema (offline, with `check-jsonschema`, whose schemas ship with it), building with
/// the command `verify` runs here and uploading the folder that command writes.
pub fn check_workflow(root: &Path) -> Result<String> {
    let file = ".github/workflows/book.yml";
    let text = std::fs::read_to_string(root.join(file))
        .map_err(|error| anyhow::anyhow!("cannot read {file}: {error}"))?;
    anyhow::ensure!(
        text.lines()
            .any(|line| line.trim() == "run: cargo xtask book"),
        "{file} does not build with `run: cargo xtask book`, the build verify runs locally"
    );
    let out = super::output_dir(root);
    let out = out.strip_prefix(root).unwrap_or(&out).display().to_string();
    anyhow::ensure!(
        text.lines()
            .any(|line| line.trim() == format!("path: {out}")),
        "{file} does not upload `{out}`, where `cargo xtask book` writes the book"
    );
    let output = crate::engine::tools::check_jsonschema(root)?
        .args(["--builtin-schema", "vendor.github-workflows", file])
        .current_dir(root)
        .output()
        .context("cannot run check-jsonschema")?;
    anyhow::ensure!(
        output.status.success(),
        "{file} is not a valid GitHub workflow:\n{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(format!("{file} valid"))
}
