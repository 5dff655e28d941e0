//! `cargo xtask verify`'s static book step: the checks of the book's sources, nothing built or run
//! (the build's own lints, chapter shape, pictures, commands, the publishing workflow).

use crate::engine::manifest::Manifest;
use anyhow::{Result, bail};
use std::path::Path;

use super::{chapters, commands, svg, workflow};

/// The checks of the sources (the build checks includes and empty code blocks): every available
/// factor's chapter has the shape of the brief, every picture reads in both themes, every command
/// would start, the workflow is valid. Returns a summary, or fails listing every problem.
pub fn check_book(root: &Path, manifest: &Manifest) -> Result<String> {
    let src = root.join("book/src");
    // The build's own lints (includes, output blocks, facts, empty sections, SUMMARY.md), so that
    // they fail this static step too, without mdBook.
    let mut problems = super::preprocessor::lint_pages(root, manifest)?;
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
        problems.extend(chapters::unknown_checks(&text, &checks).into_iter().map(|name| {
            format!(
                "book/src/{}: names the check `{name}`, which kit/checks/{}.rs does not have",
                factor.chapter,
                factor.dir_name()
            )
        }));
        problems.extend(
            chapters::chapter_problems(&text, factor.number)
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
            let pinned = super::facts::pinned_versions(root);
            for (service, version) in super::facts::service_versions(&text) {
                if let Some((_, pins)) = pinned.iter().find(|(s, v)| *s == service && *v != version)
                {
                    problems.push(format!(
                        "book/src/images/{name}: says {service} {version}, but docker-compose.yml \
                         pins {service} {pins}: redraw the picture"
                    ));
                }
            }
            problems.extend(
                svg::svg_problems(&text)
                    .into_iter()
                    .map(|problem| format!("book/src/images/{name}: {problem}")),
            );
        }
    }
    let commands = commands::check_commands(root).unwrap_or_else(|error| {
        problems.push(format!("{error:#}"));
        0
    });
    let workflow = workflow::check_workflow(root).unwrap_or_else(|error| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kit_book_is_in_shape() {
        let root = crate::project_root().unwrap();
        let summary = check_book(&root, &crate::engine::manifest::kit());
        assert!(summary.is_ok(), "{summary:?}");
    }
}
