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
use crate::gate::copy_cache;
use crate::gate::runner::repeated;
use crate::gate::verify;
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
/// thing, in each of `repeat` runs of the checks (each copy is built once).
pub fn all_caught(root: &Path, factor: &Factor, repeat: u32) -> Result<String> {
    let mistakes = of(root, factor)?;
    if mistakes.is_empty() {
        return Ok("no mistake fixtures yet".into());
    }
    let built = verify::built(root, factor, false)?;
    for mistake in &mistakes {
        caught(root, factor, mistake, &built.executables, repeat)
            .with_context(|| format!("mistake `{}` ({})", mistake.name, mistake.about))?;
    }
    let runs = if repeat > 1 {
        format!(" ({repeat} runs each)")
    } else {
        String::new()
    };
    Ok(format!("{} mistakes caught{runs}", mistakes.len()))
}

/// `verify`'s promise to learners: the exercise, with the solution applied over it as `cargo xtask
/// solution N --apply` applies it (`crate::engine::apply`: its `src/` replacing the exercise's,
/// plus any file it adds, such as a `Procfile` or `build.rs`, and the dependencies its `Cargo.toml`
/// adds), passes every check. Built as a standalone copy, like a mistake, so the learner's exercise
/// folder is never touched. Built once, judged `repeat` times.
pub fn solution_applied_is_green(root: &Path, factor: &Factor, repeat: u32) -> Result<String> {
    let built = verify::built(root, factor, false)?;
    let package = format!("applied{:02}-{}", factor.number, factor.slug);
    let copy = root.join("target/mistakes").join(&package);
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    let exercise = root.join(&factor.exercise);
    for file in crate::engine::progress::files_under(&exercise) {
        copy_file(&file, &copy.join(file.strip_prefix(&exercise)?))?;
    }
    // What `cargo xtask solution N --apply` does to a learner's exercise, done to the copy.
    let applied = crate::engine::apply::solution_over(root, factor, &copy)?;
    let added = applied.added_files;
    let exercise_package = Factor::package(root, &factor.exercise)?;
    let manifest =
        standalone_manifest(root, &copy.join("Cargo.toml"), &exercise_package, &package)?;
    std::fs::write(copy.join("Cargo.toml"), manifest)?;
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock"))?;
    let copy_build = build_copy(root, factor, &package, &copy)
        .context("the exercise with the solution's files copied over it")?;
    let extra = if added.is_empty() {
        String::new()
    } else {
        format!(" (src/ plus {})", added.join(", "))
    };
    repeated(repeat, || {
        let outcomes = testrun::run_all(&built.executables, &copy, None, Some(&copy_build.judged))?;
        if let Some(failure) = outcomes.iter().find(|outcome| !outcome.passed) {
            bail!(
                "with the solution's files copied over the exercise, `{}` fails:\n{}",
                failure.name,
                failure.explanation
            );
        }
        let slowest = crate::gate::budget::within(&outcomes)?;
        Ok(format!(
            "{}{extra}, {slowest}",
            verify::passed_note(&outcomes)
        ))
    })
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to.parent().unwrap_or(Path::new(".")))?;
    std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(())
}

fn caught(
    root: &Path,
    factor: &Factor,
    mistake: &Mistake,
    checks: &[PathBuf],
    repeat: u32,
) -> Result<()> {
    let package = format!("mistake{:02}-{}", factor.number, mistake.name);
    let copy = root.join("target/mistakes").join(&package);
    prepare(root, factor, mistake, &package, &copy)?;
    let copy_build = build_copy(root, factor, &package, &copy).context("the patched solution")?;
    repeated(repeat, || {
        let outcomes = testrun::run_all(
            checks,
            &copy,
            Some(&mistake.fails),
            Some(&copy_build.judged),
        )?;
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
        Ok(String::new())
    })?;
    Ok(())
}

/// A copy's binaries, built, for the factor's checks to judge; their build products go when this
/// is dropped.
struct CopyBuild {
    judged: Judged,
    _products: BuildProducts,
}

/// Builds the standalone package `package` in `copy`.
///
/// Same target folder, same profile, same locked versions as the kit: only the copy compiles.
/// Its build products are removed once it has been judged, so copies cost `target/` nothing; its
/// binaries are kept in the user's cache instead ([`copy_cache`]), so an unchanged copy is not
/// built again.
fn build_copy(root: &Path, factor: &Factor, package: &str, copy: &Path) -> Result<CopyBuild> {
    let products = BuildProducts {
        target: root.join("target/debug"),
        package: package.to_string(),
    };
    let key = copy_cache::key(root, factor, copy);
    let cached = key
        .as_deref()
        .is_some_and(|key| copy_cache::restore(root, package, key));
    if !cached {
        let build = testrun::build_standalone_app(
            &copy.join("Cargo.toml"),
            &root.join("target"),
            &factor.build_env,
        );
        if let Build::Failed { errors } = build? {
            bail!("does not compile:\n{}", errors.join("\n"));
        }
        if let Some(key) = &key {
            copy_cache::store(root, package, key)?;
        }
    }
    Ok(CopyBuild {
        judged: Judged::package(package.to_string(), copy.to_path_buf()),
        _products: products,
    })
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
