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
use kit_common::standalone;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use toml::Value;

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
    let manifest = standalone_manifest(root, &copy, &exercise_package, &package)?;
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
        standalone::remove_build_products(&self.target, &self.package);
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
    let manifest = standalone_manifest(root, copy, &solution_package, package)?;
    std::fs::write(copy.join("Cargo.toml"), manifest)?;
    std::fs::copy(root.join("Cargo.lock"), copy.join("Cargo.lock"))?;
    Ok(())
}

/// The Cargo.toml in `dir` made standalone ([`standalone`]): named `to`, its binaries renamed
/// from `from` to `to`, `kit-deps` from a private copy kept in `target/mistakes/kit-deps`.
fn standalone_manifest(root: &Path, dir: &Path, from: &str, to: &str) -> Result<String> {
    let workspace = standalone::Workspace::read(root)?;
    let deps = workspace.write_private_deps(&root.join("target/mistakes/kit-deps"), "kit-deps")?;
    let mut manifest = workspace.standalone_manifest(dir, to, &deps)?;
    if let Some(Value::Array(bins)) = manifest.get_mut("bin") {
        for bin in bins {
            if let Some(Value::String(name)) = bin.get_mut("name") {
                *name = name.replacen(from, to, 1);
            }
        }
    }
    Ok(toml::to_string(&manifest)?)
}
