//! The reference solution written over an exercise's files: what `cargo xtask solution N --apply`
//! does to the learner's exercise, and what `verify` proves green on a copy of the shipped one
//! (one implementation, so the catch-up path is the one the gate tests).

use crate::engine::manifest::Factor;
use crate::engine::progress;
use anyhow::{Context, Result};
use std::path::Path;
use toml::{Table, Value};

/// What applying the solution changed besides `src/`.
#[derive(Debug, Default)]
pub struct Applied {
    /// Files the solution has and the exercise folder did not (a `build.rs`, a `Procfile`).
    pub added_files: Vec<String>,
    /// Dependencies the solution's `Cargo.toml` has and the exercise's lacked.
    pub added_dependencies: Vec<String>,
}

/// Makes `dir`, a folder holding an exercise's files, the factor's reference solution: `src/` is
/// replaced as a whole (files only the exercise had, such as Factor I's `src/bin/staging.rs`, go),
/// every other file of the solution is written over or added (`build.rs`, `Procfile`,
/// migrations), and `Cargo.toml` keeps the exercise's package and gains the solution's
/// dependencies. `README.md` and `Cargo.toml` themselves differ by design and are not copied.
pub fn solution_over(root: &Path, factor: &Factor, dir: &Path) -> Result<Applied> {
    let solution = root.join(&factor.solution);
    let mut applied = Applied::default();
    let src = dir.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src)
            .with_context(|| format!("cannot remove {}", src.display()))?;
    }
    for file in progress::files_under(&solution) {
        let relative = file.strip_prefix(&solution)?;
        if relative == Path::new("Cargo.toml") || relative == Path::new("README.md") {
            continue;
        }
        let target = dir.join(relative);
        if !relative.starts_with("src") && !target.exists() {
            applied.added_files.push(relative.display().to_string());
        }
        std::fs::create_dir_all(target.parent().unwrap_or(dir))?;
        std::fs::copy(&file, &target).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    let manifest = dir.join("Cargo.toml");
    let (text, added) = with_dependencies_of(&manifest, &solution.join("Cargo.toml"))?;
    if !added.is_empty() {
        std::fs::write(&manifest, text)
            .with_context(|| format!("cannot write {}", manifest.display()))?;
    }
    applied.added_dependencies = added;
    Ok(applied)
}

/// `manifest` (an exercise's Cargo.toml) with the `[dependencies]` the solution's has and it lacks
/// (the lines a learner adds when the lesson is a dependency, Factor II), and their names. The
/// learner's file keeps its layout and comments: each missing dependency's line is copied from the
/// solution's manifest to the end of the exercise's `[dependencies]` table. Only when that cannot
/// be done line by line (dependencies written as `[dependencies.NAME]` tables) is the whole file
/// written anew from its parsed form.
fn with_dependencies_of(manifest: &Path, solution: &Path) -> Result<(String, Vec<String>)> {
    let text = std::fs::read_to_string(manifest)?;
    let solution_text = std::fs::read_to_string(solution)?;
    let mut exercise: Table =
        toml::from_str(&text).with_context(|| format!("{} does not parse", manifest.display()))?;
    let solution: Table = toml::from_str(&solution_text)
        .with_context(|| format!("{} does not parse", solution.display()))?;
    let mut added = Vec::new();
    if let (Some(Value::Table(mine)), Some(Value::Table(theirs))) = (
        exercise.get_mut("dependencies"),
        solution.get("dependencies"),
    ) {
        for (name, spec) in theirs {
            if !mine.contains_key(name) {
                mine.insert(name.clone(), spec.clone());
                added.push(name.clone());
            }
        }
    }
    if added.is_empty() {
        return Ok((text, added));
    }
    if let Some(edited) = lines_added(&text, &solution_text, &added)
        && toml::from_str::<Table>(&edited).is_ok_and(|parsed| parsed == exercise)
    {
        return Ok((edited, added));
    }
    Ok((toml::to_string(&exercise)?, added))
}

/// `text` with the one-line `[dependencies]` entries of `names` taken from `solution`, inserted
/// after the last entry of `text`'s own `[dependencies]` table; `None` when a line is not found.
fn lines_added(text: &str, solution: &str, names: &[String]) -> Option<String> {
    // The lines of the `[dependencies]` table: from its header to the next header.
    let table = |text: &str| -> Option<(usize, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|line| line.trim() == "[dependencies]")?;
        let end = lines[start + 1..]
            .iter()
            .position(|line| line.trim_start().starts_with('['))
            .map_or(lines.len(), |offset| start + 1 + offset);
        Some((start, end))
    };
    let entry_of = |line: &str, name: &str| {
        let line = line.trim_start();
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('.') || rest.trim_start().starts_with('='))
    };
    let solution_lines: Vec<&str> = solution.lines().collect();
    let (start, end) = table(solution)?;
    let new_lines: Vec<&str> = names
        .iter()
        .map(|name| {
            solution_lines[start + 1..end]
                .iter()
                .find(|line| entry_of(line, name))
                .copied()
        })
        .collect::<Option<_>>()?;
    let mut lines: Vec<&str> = text.lines().collect();
    let (start, end) = table(text)?;
    // After the table's last entry, before the comments and blank lines that close it.
    let at = (start + 1..end)
        .rev()
        .find(|&index| {
            let line = lines[index].trim();
            !line.is_empty() && !line.starts_with('#')
        })
        .map_or(start + 1, |index| index + 1);
    lines.splice(at..at, new_lines);
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    Some(edited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Factor I's and II's shapes: the exercise has a file the solution removes
    /// (`src/bin/staging.rs`), the solution adds a file outside `src/` and a dependency.
    #[test]
    fn the_whole_reference_is_applied_src_replaced_files_and_dependencies_added() {
        let kit = tempfile::tempdir().unwrap();
        let root = kit.path();
        let manifest = crate::engine::manifest::kit();
        let mut factor = manifest.find("1").unwrap().clone();
        factor.exercise = "exercises/x".into();
        factor.solution = "solutions/x".into();
        let exercise = root.join(&factor.exercise);
        let solution = root.join(&factor.solution);
        write(
            &exercise.join("Cargo.toml"),
            "[package]\nname = \"ex\"\n\n[dependencies]\nkit-deps.workspace = true\n",
        );
        write(&exercise.join("src/main.rs"), "mine");
        write(&exercise.join("src/bin/staging.rs"), "a copy");
        write(&exercise.join("README.md"), "the exercise's contract");
        write(
            &solution.join("Cargo.toml"),
            "[package]\nname = \"sol\"\n\n[dependencies]\nkit-deps.workspace = true\nreqwest.workspace = true\n",
        );
        write(&solution.join("src/main.rs"), "reference");
        write(&solution.join("build.rs"), "fn main() {}");
        write(&solution.join("README.md"), "the solution's notes");

        let applied = solution_over(root, &factor, &exercise).unwrap();

        assert_eq!(applied.added_files, ["build.rs"]);
        assert_eq!(applied.added_dependencies, ["reqwest"]);
        let read = |file: &str| std::fs::read_to_string(exercise.join(file)).unwrap();
        assert_eq!(read("src/main.rs"), "reference");
        assert!(!exercise.join("src/bin/staging.rs").exists());
        assert_eq!(read("build.rs"), "fn main() {}");
        assert_eq!(read("README.md"), "the exercise's contract");
        let cargo: Table = toml::from_str(&read("Cargo.toml")).unwrap();
        assert_eq!(cargo["package"]["name"].as_str(), Some("ex"));
        assert!(cargo["dependencies"].get("reqwest").is_some());
    }

    /// The learner's Cargo.toml keeps its layout and comments: the solution's line is added at the
    /// end of the `[dependencies]` table, before the comment that closes it.
    #[test]
    fn an_added_dependency_is_one_line_in_the_learners_own_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let exercise = dir.path().join("ex.toml");
        let solution = dir.path().join("sol.toml");
        write(
            &exercise,
            "[package]\nname = \"ex\"\n\n# TODO(factor-2): declare the HTTP client\n[dependencies]\n\
             # Build speed only\nkit-deps.workspace = true\nurl.workspace = true\n# ANCHOR_END: dependencies\n\n\
             [dev-dependencies]\nkit-harness.workspace = true\n",
        );
        write(
            &solution,
            "[package]\nname = \"sol\"\n\n[dependencies]\nkit-deps.workspace = true\n\
             reqwest = { workspace = true }\nrustls.workspace = true\nurl.workspace = true\n",
        );
        let (text, added) = with_dependencies_of(&exercise, &solution).unwrap();
        assert_eq!(added, ["reqwest", "rustls"]);
        assert_eq!(
            text,
            "[package]\nname = \"ex\"\n\n# TODO(factor-2): declare the HTTP client\n[dependencies]\n\
             # Build speed only\nkit-deps.workspace = true\nurl.workspace = true\n\
             reqwest = { workspace = true }\nrustls.workspace = true\n# ANCHOR_END: dependencies\n\n\
             [dev-dependencies]\nkit-harness.workspace = true\n"
        );
        // Nothing to add: the file is left exactly as it is.
        std::fs::write(&exercise, &text).unwrap();
        let (again, added) = with_dependencies_of(&exercise, &solution).unwrap();
        assert!(added.is_empty());
        assert_eq!(again, text);
    }
}
