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
/// (the lines a learner adds when the lesson is a dependency, Factor II), and their names.
fn with_dependencies_of(manifest: &Path, solution: &Path) -> Result<(String, Vec<String>)> {
    let mut exercise: Table = toml::from_str(&std::fs::read_to_string(manifest)?)
        .with_context(|| format!("{} does not parse", manifest.display()))?;
    let solution: Table = toml::from_str(&std::fs::read_to_string(solution)?)
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
    Ok((toml::to_string(&exercise)?, added))
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
}
