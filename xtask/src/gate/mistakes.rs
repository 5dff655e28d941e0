//! Mistake fixtures: the wrong fixes each chapter names, as small patches over the reference
//! solution, each with the check it must trip and what that check must say. They are the tests of
//! the checker: a check that stops catching a mistake, or catches it with a message that teaches
//! something else, fails `verify`.
//!
//! `kit/mistakes/<NN-slug>.toml` lists a factor's mistakes; each patch (`git diff` format, paths
//! relative to the solution's folder) lives beside it. `verify` applies each patch to a copy of the
//! solution under `target/mistakes/`, builds the copy as a package of its own (sharing the kit's
//! target folder, so only the copy compiles), and runs the factor's check binary against it.

use crate::engine::manifest::Factor;
use crate::engine::testrun::{self, Build, Judged};
use crate::learner::check;
use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use toml::{Table, Value};

#[derive(Deserialize)]
struct Mistakes {
    #[serde(default)]
    mistake: Vec<Mistake>,
}

/// One wrong fix a learner makes.
#[derive(Deserialize)]
pub struct Mistake {
    /// Short and unique within the factor, e.g. `get-then-set`.
    pub name: String,
    /// What the mistake is, in a sentence.
    pub about: String,
    /// The patch file, relative to `kit/mistakes/`.
    pub patch: String,
    /// The check that must fail.
    pub fails: String,
    /// Words its failure message must contain (what it must teach).
    pub teaches: String,
}

fn list_path(root: &Path, factor: &Factor) -> PathBuf {
    root.join("kit/mistakes")
        .join(format!("{}.toml", factor.dir_name()))
}

/// The factor's mistakes (none when it has no list yet).
pub fn of(root: &Path, factor: &Factor) -> Result<Vec<Mistake>> {
    let path = list_path(root, factor);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)?;
    let list: Mistakes =
        toml::from_str(&text).with_context(|| format!("{} does not parse", path.display()))?;
    Ok(list.mistake)
}

/// `verify`'s step for one factor: every mistake is caught by the right check, teaching the right
/// thing.
pub fn all_caught(root: &Path, factor: &Factor) -> Result<String> {
    let mistakes = of(root, factor)?;
    if mistakes.is_empty() {
        return Ok("no mistake fixtures yet".into());
    }
    let built = match check::build(root, factor, false)? {
        Err((package, errors)) => bail!("{package} does not compile:\n{}", errors.join("\n")),
        Ok(built) => built,
    };
    for mistake in &mistakes {
        caught(root, factor, mistake, &built.executables)
            .with_context(|| format!("mistake `{}` ({})", mistake.name, mistake.about))?;
    }
    Ok(format!("{} mistakes caught", mistakes.len()))
}

/// `verify`'s promise to learners: the exercise, with the solution's files copied over it (its
/// `src/` replacing the exercise's, plus any file it adds, such as a `Procfile` or `build.rs`, and
/// the dependencies its `Cargo.toml` adds), passes every check. Built as a standalone copy, like a
/// mistake, so the learner's exercise folder is never touched.
pub fn solution_applied_is_green(root: &Path, factor: &Factor) -> Result<String> {
    let built = match check::build(root, factor, false)? {
        Err((package, errors)) => bail!("{package} does not compile:\n{}", errors.join("\n")),
        Ok(built) => built,
    };
    let package = format!("applied{:02}-{}", factor.number, factor.slug);
    let copy = root.join("target/mistakes").join(&package);
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    let exercise = root.join(&factor.exercise);
    let solution = root.join(&factor.solution);
    for file in crate::engine::progress::files_under(&exercise) {
        let relative = file.strip_prefix(&exercise)?;
        if !relative.starts_with("src") {
            copy_file(&file, &copy.join(relative))?;
        }
    }
    let mut added = Vec::new();
    for file in crate::engine::progress::files_under(&solution) {
        let relative = file.strip_prefix(&solution)?;
        if relative != Path::new("Cargo.toml") && relative != Path::new("README.md") {
            if !relative.starts_with("src") && !exercise.join(relative).exists() {
                added.push(relative.display().to_string());
            }
            copy_file(&file, &copy.join(relative))?;
        }
    }
    let manifest = with_dependencies_of(&copy.join("Cargo.toml"), &solution.join("Cargo.toml"))?;
    std::fs::write(copy.join("Cargo.toml"), manifest)?;
    let exercise_package = Factor::package(root, &factor.exercise)?;
    let manifest =
        standalone_manifest(root, &copy.join("Cargo.toml"), &exercise_package, &package)?;
    std::fs::write(copy.join("Cargo.toml"), manifest)?;
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock"))?;
    let outcomes = judge_copy(root, factor, &package, &copy, &built.executables, None)
        .context("the exercise with the solution's files copied over it")?;
    if let Some(failure) = outcomes.iter().find(|outcome| !outcome.passed) {
        bail!(
            "with the solution's files copied over the exercise, `{}` fails:\n{}",
            failure.name,
            failure.explanation
        );
    }
    let extra = if added.is_empty() {
        String::new()
    } else {
        format!(" (src/ plus {})", added.join(", "))
    };
    Ok(format!("{} checks pass{extra}", outcomes.len()))
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to.parent().unwrap_or(Path::new(".")))?;
    std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(())
}

/// `manifest` (an exercise's Cargo.toml) with the `[dependencies]` the solution's has and it lacks:
/// the lines a learner adds when the lesson is a dependency (Factor II).
fn with_dependencies_of(manifest: &Path, solution: &Path) -> Result<String> {
    let mut exercise: Table = toml::from_str(&std::fs::read_to_string(manifest)?)?;
    let solution: Table = toml::from_str(&std::fs::read_to_string(solution)?)?;
    if let (Some(Value::Table(mine)), Some(Value::Table(theirs))) = (
        exercise.get_mut("dependencies"),
        solution.get("dependencies"),
    ) {
        for (name, spec) in theirs {
            mine.entry(name.clone()).or_insert_with(|| spec.clone());
        }
    }
    Ok(toml::to_string(&exercise)?)
}

fn caught(root: &Path, factor: &Factor, mistake: &Mistake, checks: &[PathBuf]) -> Result<()> {
    let package = format!("mistake{:02}-{}", factor.number, mistake.name);
    let copy = root.join("target/mistakes").join(&package);
    prepare(root, factor, mistake, &package, &copy)?;
    let outcomes = judge_copy(root, factor, &package, &copy, checks, Some(&mistake.fails))
        .context("the patched solution")?;
    let outcome = outcomes
        .iter()
        .find(|outcome| outcome.name == mistake.fails)
        .with_context(|| format!("no check named `{}` ran", mistake.fails))?;
    ensure!(
        !outcome.passed,
        "`{}` passes: the checks let this mistake through",
        mistake.fails
    );
    ensure!(
        outcome.explanation.contains(&mistake.teaches),
        "`{}` fails, but its message does not say {:?}:\n{}",
        mistake.fails,
        mistake.teaches,
        outcome.explanation
    );
    Ok(())
}

/// Builds the standalone package `package` in `copy` and runs the factor's `checks` (only
/// `filter`, if given) against its binaries.
///
/// Same target folder, same profile, same locked versions as the kit: only the copy compiles.
/// The copy is written afresh every run, so its build is never reused: its build products are
/// removed once it has been judged, so copies cost `target/` nothing.
fn judge_copy(
    root: &Path,
    factor: &Factor,
    package: &str,
    copy: &Path,
    checks: &[PathBuf],
    filter: Option<&str>,
) -> Result<Vec<testrun::Outcome>> {
    let build = testrun::build_standalone_app(
        &copy.join("Cargo.toml"),
        &root.join("target"),
        &factor.build_env,
    );
    let _cleanup = BuildProducts {
        target: root.join("target/debug"),
        package: package.to_string(),
    };
    if let Build::Failed { errors } = build? {
        bail!("does not compile:\n{}", errors.join("\n"));
    }
    let judged = Judged::package(package.to_string(), copy.to_path_buf());
    let mut outcomes = Vec::new();
    for executable in checks {
        outcomes.extend(testrun::run(executable, copy, filter, Some(&judged))?);
    }
    Ok(outcomes)
}

/// What Cargo built for a copy's package, removed when dropped.
struct BuildProducts {
    target: PathBuf,
    package: String,
}

impl Drop for BuildProducts {
    fn drop(&mut self) {
        let crate_name = self.package.replace('-', "_");
        let prefixes = [
            (self.target.clone(), self.package.clone()),
            // `<crate>-<hash>`, and the extra binaries' `<crate>_migrate-<hash>`.
            (self.target.join("deps"), crate_name),
            (
                self.target.join(".fingerprint"),
                format!("{}-", self.package),
            ),
            (self.target.join("build"), format!("{}-", self.package)),
        ];
        for (dir, prefix) in prefixes {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let path = entry.path();
                    let _ = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                }
            }
        }
    }
}

/// A fresh copy of the solution with the patch applied, as a standalone package named `package`.
fn prepare(
    root: &Path,
    factor: &Factor,
    mistake: &Mistake,
    package: &str,
    copy: &Path,
) -> Result<()> {
    if copy.exists() {
        std::fs::remove_dir_all(copy)?;
    }
    let solution = root.join(&factor.solution);
    for file in crate::engine::progress::files_under(&solution) {
        copy_file(&file, &copy.join(file.strip_prefix(&solution)?))?;
    }
    let patch = root.join("kit/mistakes").join(&mistake.patch);
    let output = Command::new("git")
        .args(["apply", "--unidiff-zero", "-p1"])
        .arg(&patch)
        .current_dir(copy)
        .output()
        .context("cannot run git apply")?;
    ensure!(
        output.status.success(),
        "{} no longer applies to {}: {}",
        mistake.patch,
        factor.solution.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let solution_package = Factor::package(root, &factor.solution)?;
    let manifest = standalone_manifest(root, &copy.join("Cargo.toml"), &solution_package, package)?;
    std::fs::write(copy.join("Cargo.toml"), manifest)?;
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock"))?;
    Ok(())
}

/// The solution's Cargo.toml made standalone: renamed, with what it inherited from the workspace
/// written out, and the workspace's profiles, so its dependencies are the very builds already in
/// the target folder.
fn standalone_manifest(root: &Path, path: &Path, from: &str, to: &str) -> Result<String> {
    let workspace: Table = toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml"))?)?;
    let mut manifest = explicit_manifest(root, &workspace, path)?;
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        package.insert("name".into(), Value::String(to.into()));
    }
    if let Some(Value::Array(bins)) = manifest.get_mut("bin") {
        for bin in bins {
            if let Some(Value::String(name)) = bin.get_mut("name") {
                *name = name.replacen(from, to, 1);
            }
        }
    }
    // Only the binaries are built: no test target, no dev-dependencies to resolve.
    manifest.remove("test");
    manifest.remove("dev-dependencies");
    // kit-deps from a private copy: the kit's own, built from another workspace, would get
    // another fingerprint and be rebuilt in place, and every crate of the kit after it.
    if let Some(Value::Table(deps)) = manifest.get_mut("dependencies")
        && deps.contains_key("kit-deps")
    {
        let private = private_kit_deps(root, &workspace)?;
        deps.insert(
            "kit-deps".into(),
            Value::Table(Table::from_iter([(
                "path".into(),
                Value::String(private.display().to_string()),
            )])),
        );
    }
    manifest.insert("workspace".into(), Value::Table(Table::new()));
    if let Some(profile) = workspace.get("profile") {
        manifest.insert("profile".into(), profile.clone());
    }
    Ok(toml::to_string(&manifest)?)
}

/// `path`'s manifest with everything it inherits from the kit's workspace written out (package
/// fields, dependency specs with absolute paths), and no `[lints]`.
fn explicit_manifest(root: &Path, workspace: &Table, path: &Path) -> Result<Table> {
    let shared = &workspace["workspace"];
    let mut manifest: Table = toml::from_str(&std::fs::read_to_string(path)?)?;
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        for (key, value) in package.iter_mut() {
            if is_inherited(value) {
                *value = shared["package"][key.as_str()].clone();
            }
        }
    }
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(Value::Table(deps)) = manifest.get_mut(section) else {
            continue;
        };
        for (name, spec) in deps.iter_mut() {
            let mut resolved = shared["dependencies"][name.as_str()].clone();
            if let Some(Value::String(path)) = resolved.get_mut("path") {
                *path = root.join(&*path).display().to_string();
            }
            if let Value::String(version) = resolved {
                resolved = Value::Table(Table::from_iter([(
                    "version".into(),
                    Value::String(version),
                )]));
            }
            *spec = resolved;
        }
    }
    manifest.remove("lints");
    Ok(manifest)
}

/// A copy of `kit/deps` for the standalone copies (same dependencies and features, so every
/// dependency's build is shared; another path, so the kit's own kit-deps is never rebuilt).
/// Files are rewritten only when they change, so the copy stays fresh between runs.
fn private_kit_deps(root: &Path, workspace: &Table) -> Result<PathBuf> {
    let dir = root.join("target/mistakes/kit-deps");
    let manifest = explicit_manifest(root, workspace, &root.join("kit/deps/Cargo.toml"))?;
    write_if_changed(&dir.join("Cargo.toml"), &toml::to_string(&manifest)?)?;
    let lib = std::fs::read_to_string(root.join("kit/deps/src/lib.rs"))?;
    write_if_changed(&dir.join("src/lib.rs"), &lib)?;
    Ok(dir)
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn is_inherited(value: &Value) -> bool {
    value
        .as_table()
        .is_some_and(|table| table.get("workspace") == Some(&Value::Boolean(true)))
}
