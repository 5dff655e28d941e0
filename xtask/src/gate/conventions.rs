//! The conventions every crate of the kit keeps, so `verify` can name the one a change breaks.
//!
//! - Dependency hygiene: every dependency comes from `[workspace.dependencies]` as
//!   `name.workspace = true`, with no features or options of its own (one feature set per crate,
//!   so each compiles once); every crate depends on `kit-deps`; `kit-deps` lists every workspace
//!   dependency, and the same list again as build-dependencies (so that sqlx's macros, built for
//!   the build side, share the app side's builds of tokio and sqlx-core).
//! - Checks: a factor's check file is compiled once, as the exercise's `[[test]]`
//!   (`../../kit/checks/<NN-slug>.rs`); the solution has no test target and no dev-dependencies (the
//!   same check binary judges it).
//! - The launcher (`kit/launcher`, what `cargo xtask` runs) has no dependencies at all: it must
//!   compile in a second on a fresh clone and cost Cargo a single unit on every run.
//! - The manifest: each available factor has at least [`MIN_HINTS`] hints and an intended failure,
//!   and at least one mistake fixture (`kit/mistakes/`).

use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::Value;

/// Progressive hints: a question, a direction, nearly the code.
pub const MIN_HINTS: usize = 3;

/// Checks every convention; the first broken one is the error, naming the file and the fix.
pub fn check(root: &Path, manifest: &Manifest) -> Result<String> {
    let workspace = read(&root.join("Cargo.toml"))?;
    let shared: BTreeSet<String> = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Value::as_table)
        .context("Cargo.toml has no [workspace.dependencies]")?
        .keys()
        .cloned()
        .collect();
    let crates = crate_manifests(root, manifest);
    for path in &crates {
        dependency_hygiene(root, path, &shared)?;
    }
    kit_deps_lists_everything(root, &shared)?;
    launcher_has_no_dependencies(root)?;
    for factor in manifest.available() {
        check_targets(root, factor)?;
        ensure!(
            !crate::gate::mistakes::of(root, factor)?.is_empty(),
            "kit/mistakes/{}.toml lists no mistake: every factor has at least one wrong fix, as a \
             patch over its solution, that its checks must reject (see CONTRIBUTING.md)",
            factor.dir_name()
        );
        ensure!(
            factor.hints.len() >= MIN_HINTS,
            "factors.toml: {} has {} hint(s); every factor needs at least {MIN_HINTS} (a question, a \
             direction, nearly the code)",
            factor.heading(),
            factor.hints.len()
        );
    }
    Ok(format!("{} crates", crates.len()))
}

fn launcher_has_no_dependencies(root: &Path) -> Result<()> {
    let launcher = read(&root.join("kit/launcher/Cargo.toml"))?;
    for section in ["dependencies", "build-dependencies"] {
        ensure!(
            launcher.get(section).is_none(),
            "kit/launcher/Cargo.toml: [{section}] must stay absent: the launcher is what `cargo \
             xtask` compiles first on a fresh clone and checks on every run, so it depends on nothing"
        );
    }
    Ok(())
}

fn read(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} does not parse", path.display()))
}

/// Every crate's Cargo.toml: xtask, the harness, kit-deps, kit-common, the class board, each
/// available exercise and solution.
fn crate_manifests(root: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ["xtask", "kit/harness", "kit/deps", "kit/common", "kit/room"]
        .iter()
        .map(|dir| root.join(dir).join("Cargo.toml"))
        .collect();
    for factor in manifest.available() {
        found.push(root.join(&factor.exercise).join("Cargo.toml"));
        found.push(root.join(&factor.solution).join("Cargo.toml"));
    }
    found
}

fn dependency_hygiene(root: &Path, path: &Path, shared: &BTreeSet<String>) -> Result<()> {
    let crate_manifest = read(path)?;
    let shown = path.strip_prefix(root).unwrap_or(path).display();
    let package = crate_manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(table) = crate_manifest.get(section).and_then(Value::as_table) else {
            continue;
        };
        for (name, spec) in table {
            let only_workspace = spec
                .as_table()
                .is_some_and(|t| t.len() == 1 && t.get("workspace") == Some(&Value::Boolean(true)));
            ensure!(
                only_workspace,
                "{shown}: [{section}] {name} must be `{name}.workspace = true` with nothing else: \
                 features and versions live in [workspace.dependencies], so every crate builds the \
                 same copy"
            );
            ensure!(
                shared.contains(name),
                "{shown}: [{section}] {name} is not in the root Cargo.toml's [workspace.dependencies]"
            );
        }
    }
    if package != "kit-deps" {
        let has_kit_deps = crate_manifest
            .get("dependencies")
            .and_then(|d| d.get("kit-deps"))
            .is_some();
        ensure!(
            has_kit_deps,
            "{shown}: add `kit-deps.workspace = true` to [dependencies]: without it, building this \
             crate alone resolves other features and compiles shared dependencies a second time"
        );
    }
    Ok(())
}

fn kit_deps_lists_everything(root: &Path, shared: &BTreeSet<String>) -> Result<()> {
    let deps = read(&root.join("kit/deps/Cargo.toml"))?;
    let section = |name: &str| -> BTreeSet<String> {
        deps.get(name)
            .and_then(Value::as_table)
            .map(|table| table.keys().cloned().collect())
            .unwrap_or_default()
    };
    let listed = section("dependencies");
    let build_side = section("build-dependencies");
    let path_crates = ["kit-deps", "kit-harness", "kit-common", "kit-platform"];
    let missing: Vec<&String> = shared
        .iter()
        .filter(|name| !path_crates.contains(&name.as_str()) && !listed.contains(*name))
        .collect();
    if !missing.is_empty() {
        bail!(
            "kit/deps/Cargo.toml does not list {:?} from [workspace.dependencies]: add each as \
             `name.workspace = true`",
            missing
        );
    }
    if listed != build_side {
        bail!(
            "kit/deps/Cargo.toml: [build-dependencies] must list exactly what [dependencies] lists \
             (only in [dependencies]: {:?}; only in [build-dependencies]: {:?}): otherwise sqlx's \
             macros get builds of tokio and sqlx-core of their own",
            listed.difference(&build_side).collect::<Vec<_>>(),
            build_side.difference(&listed).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// The factor's check file is the exercise's one test target; the solution has none.
fn check_targets(root: &Path, factor: &Factor) -> Result<()> {
    let check_file = format!("../../kit/checks/{}.rs", factor.dir_name());
    ensure!(
        root.join("kit/checks")
            .join(format!("{}.rs", factor.dir_name()))
            .is_file(),
        "kit/checks/{}.rs is missing",
        factor.dir_name()
    );
    let exercise_path = root.join(&factor.exercise).join("Cargo.toml");
    let exercise = read(&exercise_path)?;
    let tests = exercise
        .get("test")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let paths: Vec<&str> = tests
        .iter()
        .filter_map(|test| test.get("path").and_then(Value::as_str))
        .collect();
    ensure!(
        paths == [check_file.as_str()],
        "{}: the one [[test]] must be `path = \"{check_file}\"` (found {paths:?})",
        exercise_path
            .strip_prefix(root)
            .unwrap_or(&exercise_path)
            .display()
    );
    let solution_path = root.join(&factor.solution).join("Cargo.toml");
    let solution = read(&solution_path)?;
    ensure!(
        solution.get("test").is_none() && solution.get("dev-dependencies").is_none(),
        "{}: a solution has no [[test]] and no [dev-dependencies]: the checks are compiled once, \
         with the exercise, and judge the solution through `cargo xtask check {} --solution`",
        solution_path
            .strip_prefix(root)
            .unwrap_or(&solution_path)
            .display(),
        factor.number
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_with_a_dependency_is_named() {
        let err = broken(|kit| {
            let path = kit.join("kit/launcher/Cargo.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(path, text + "\n[dependencies]\nanyhow.workspace = true\n").unwrap();
        });
        assert!(
            err.contains("kit/launcher/Cargo.toml: [dependencies] must stay absent"),
            "{err}"
        );
    }

    fn kit() -> (PathBuf, Manifest) {
        let root = crate::project_root().unwrap();
        let manifest = Manifest::load(&root).unwrap();
        (root, manifest)
    }

    #[test]
    fn the_kit_keeps_its_conventions() {
        let (root, manifest) = kit();
        check(&root, &manifest).unwrap();
    }

    /// Copies what `check` reads into a temp kit, lets `change` break it, and returns the error.
    fn broken(change: impl FnOnce(&Path)) -> String {
        let (root, manifest) = kit();
        let copy = tempfile::tempdir().unwrap();
        for path in crate_manifests(&root, &manifest).into_iter().chain([
            root.join("Cargo.toml"),
            root.join("kit/launcher/Cargo.toml"),
        ]) {
            let target = copy.path().join(path.strip_prefix(&root).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&path, &target).unwrap();
        }
        for factor in manifest.available() {
            let list = format!("kit/mistakes/{}.toml", factor.dir_name());
            let target = copy.path().join(&list);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(root.join(&list), target).unwrap();
            let name = format!("kit/checks/{}.rs", factor.dir_name());
            let target = copy.path().join(&name);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(root.join(&name), target).unwrap();
        }
        change(copy.path());
        check(copy.path(), &manifest).unwrap_err().to_string()
    }

    fn edit(path: &Path, from: &str, to: &str) {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{} lacks {from:?}", path.display());
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    #[test]
    fn a_crate_without_kit_deps_is_named() {
        let err = broken(|kit| {
            edit(
                &kit.join("exercises/06-processes/Cargo.toml"),
                "kit-deps.workspace = true\n",
                "",
            )
        });
        assert!(
            err.contains("exercises/06-processes/Cargo.toml: add `kit-deps"),
            "{err}"
        );
    }

    #[test]
    fn a_per_crate_feature_is_named() {
        let err = broken(|kit| {
            edit(
                &kit.join("solutions/06-processes/Cargo.toml"),
                "tokio.workspace = true",
                "tokio = { workspace = true, features = [\"fs\"] }",
            )
        });
        assert!(err.contains("[dependencies] tokio must be"), "{err}");
    }

    #[test]
    fn a_workspace_dependency_missing_from_kit_deps_is_named() {
        let err = broken(|kit| {
            edit(
                &kit.join("kit/deps/Cargo.toml"),
                "similar.workspace = true\n",
                "",
            )
        });
        assert!(err.contains("does not list [\"similar\"]"), "{err}");
    }

    #[test]
    fn a_build_side_list_out_of_step_is_named() {
        let err = broken(|kit| {
            let path = kit.join("kit/deps/Cargo.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let build_side = text.find("[build-dependencies]").unwrap();
            let (head, tail) = text.split_at(build_side);
            let tail = tail.replacen("similar.workspace = true\n", "", 1);
            std::fs::write(path, format!("{head}{tail}")).unwrap();
        });
        assert!(
            err.contains("only in [dependencies]: [\"similar\"]"),
            "{err}"
        );
    }

    #[test]
    fn checks_compiled_twice_are_named() {
        let err = broken(|kit| {
            let path = kit.join("solutions/06-processes/Cargo.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                path,
                text + "\n[[test]]\nname = \"processes\"\npath = \"../../kit/checks/06-processes.rs\"\n",
            )
            .unwrap();
        });
        assert!(err.contains("a solution has no [[test]]"), "{err}");
    }
}
