//! A package of the kit made to build on its own, outside the workspace, into the kit's target
//! folder without rebuilding a single dependency.
//!
//! Two places build such copies: Factor I's fresh-copy check (kit-harness: the package committed
//! to a repository of its own) and `verify`'s mistake fixtures and applied solutions (xtask: a
//! solution with a patch over it). Both need the same three things, so they live here once:
//!
//! - the manifest with what it inherits from the workspace written out
//!   ([`Workspace::standalone_manifest`]), plus the workspace's profiles, so every dependency
//!   resolves to the very build already in the target folder;
//! - a private copy of `kit/deps` ([`Workspace::write_private_deps`]): the kit's own, built from
//!   another workspace, would get another fingerprint and be rebuilt in place, and every crate of
//!   the kit after it;
//! - removing what Cargo built for the copy once it has been judged ([`remove_build_products`]),
//!   so copies cost `target/` nothing.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The kit's workspace: its root and its `Cargo.toml`.
pub struct Workspace {
    root: PathBuf,
    manifest: Table,
}

impl Workspace {
    /// Reads the workspace manifest at `<root>/Cargo.toml`.
    pub fn read(root: &Path) -> Result<Workspace> {
        Ok(Workspace {
            root: root.to_path_buf(),
            manifest: read_toml(&root.join("Cargo.toml"))?,
        })
    }

    /// The package manifest at `<dir>/Cargo.toml` made standalone: named `name`, everything it
    /// inherits written out, `kit-deps` taken from the private copy in `private_deps` (written by
    /// [`Workspace::write_private_deps`]), an empty `[workspace]` of its own and the kit's
    /// profiles. Only its binaries are meant to be built: no test, bench or example targets, no
    /// dev-dependencies to resolve, no `[lints]`.
    pub fn standalone_manifest(
        &self,
        dir: &Path,
        name: &str,
        private_deps: &PrivateDeps,
    ) -> Result<Table> {
        let mut manifest = self.explicit_manifest(dir)?;
        rename_package(&mut manifest, name);
        for section in ["test", "bench", "example", "dev-dependencies"] {
            manifest.remove(section);
        }
        if let Some(Value::Table(deps)) = manifest.get_mut("dependencies")
            && deps.contains_key("kit-deps")
        {
            deps.insert(
                "kit-deps".into(),
                Value::Table(Table::from_iter([
                    (
                        "path".into(),
                        Value::String(private_deps.dir.display().to_string()),
                    ),
                    ("package".into(), Value::String(private_deps.name.clone())),
                ])),
            );
        }
        manifest.insert("workspace".into(), Value::Table(Table::new()));
        if let Some(profile) = self.manifest.get("profile") {
            manifest.insert("profile".into(), profile.clone());
        }
        Ok(manifest)
    }

    /// Writes a copy of `kit/deps` named `name` into `dir` (same dependencies and features, on
    /// both sides, so every dependency's build is shared). Files are rewritten only when they
    /// change, so a copy kept between runs stays fresh.
    pub fn write_private_deps(&self, dir: &Path, name: &str) -> Result<PrivateDeps> {
        let mut manifest = self.explicit_manifest(&self.root.join("kit/deps"))?;
        rename_package(&mut manifest, name);
        write_if_changed(&dir.join("Cargo.toml"), &manifest.to_string())?;
        let lib_path = self.root.join("kit/deps/src/lib.rs");
        let lib = std::fs::read_to_string(&lib_path)
            .with_context(|| format!("cannot read {}", lib_path.display()))?;
        write_if_changed(&dir.join("src/lib.rs"), &lib)?;
        Ok(PrivateDeps {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
    }

    /// The manifest in `dir` with everything it inherits from the workspace written out (package
    /// fields, dependency specs, `[target.'cfg(..)'.*]` ones too) and every relative dependency
    /// path made absolute, so that it builds the same anywhere. No `[lints]`.
    fn explicit_manifest(&self, dir: &Path) -> Result<Table> {
        let shared = self
            .manifest
            .get("workspace")
            .and_then(Value::as_table)
            .context("the kit's Cargo.toml has no [workspace]")?;
        let mut manifest = read_toml(&dir.join("Cargo.toml"))?;
        if let Some(Value::Table(package)) = manifest.get_mut("package") {
            for (key, value) in package.iter_mut() {
                if is_inherited(value)
                    && let Some(field) = shared
                        .get("package")
                        .and_then(|fields| fields.get(key.as_str()))
                {
                    *value = field.clone();
                }
            }
        }
        for section in ["dependencies", "build-dependencies"] {
            if let Some(Value::Table(deps)) = manifest.get_mut(section) {
                resolve(deps, shared, &self.root, dir);
            }
        }
        if let Some(Value::Table(targets)) = manifest.get_mut("target") {
            for (_, target) in targets.iter_mut() {
                let Some(target) = target.as_table_mut() else {
                    continue;
                };
                target.remove("dev-dependencies");
                for section in ["dependencies", "build-dependencies"] {
                    if let Some(Value::Table(deps)) = target.get_mut(section) {
                        resolve(deps, shared, &self.root, dir);
                    }
                }
            }
        }
        manifest.remove("lints");
        Ok(manifest)
    }
}

/// Where a private copy of `kit/deps` was written, and its package name.
pub struct PrivateDeps {
    dir: PathBuf,
    name: String,
}

/// Removes what Cargo built for `package` from a profile folder (`target/debug`): its binaries,
/// its crates' `deps/` files, fingerprints, build-script output and incremental caches. Every
/// copy carries a package name of its own, so nothing else matches.
pub fn remove_build_products(profile_dir: &Path, package: &str) {
    let crate_prefix = package.replace('-', "_");
    let places = [
        (profile_dir.to_path_buf(), package.to_string()),
        // `<crate>-<hash>`, and the extra binaries' `<crate>_migrate-<hash>`.
        (profile_dir.join("deps"), crate_prefix.clone()),
        (profile_dir.join("deps"), format!("lib{crate_prefix}")),
        (profile_dir.join(".fingerprint"), format!("{package}-")),
        (profile_dir.join("build"), format!("{package}-")),
        (profile_dir.join("incremental"), crate_prefix),
    ];
    for (dir, prefix) in places {
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

/// Dependency specs written out: `name.workspace = true` becomes the workspace's spec (with any
/// `features` or `optional` the package adds), relative paths become absolute.
fn resolve(deps: &mut Table, shared: &Table, kit: &Path, dir: &Path) {
    for (name, spec) in deps.iter_mut() {
        let (mut resolved, base) = if is_inherited(spec) {
            let from_workspace = shared
                .get("dependencies")
                .and_then(|deps| deps.get(name.as_str()))
                .cloned()
                .unwrap_or_else(|| Value::Table(Table::new()));
            let mut table = match from_workspace {
                Value::String(version) => {
                    Table::from_iter([("version".to_string(), Value::String(version))])
                }
                Value::Table(table) => table,
                _ => Table::new(),
            };
            if let Value::Table(own) = spec {
                for (key, value) in own.iter() {
                    match key.as_str() {
                        "workspace" => {}
                        "features" => {
                            let mut features = table
                                .get("features")
                                .and_then(Value::as_array)
                                .cloned()
                                .unwrap_or_default();
                            features.extend(value.as_array().cloned().unwrap_or_default());
                            table.insert("features".into(), Value::Array(features));
                        }
                        _ => {
                            table.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
            (Value::Table(table), kit)
        } else {
            (spec.clone(), dir)
        };
        if let Some(Value::String(path)) = resolved.get_mut("path") {
            *path = base.join(&*path).display().to_string();
        }
        *spec = resolved;
    }
}

fn is_inherited(value: &Value) -> bool {
    value
        .as_table()
        .is_some_and(|table| table.get("workspace") == Some(&Value::Boolean(true)))
}

fn rename_package(manifest: &mut Table, name: &str) {
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        package.insert("name".into(), Value::String(name.into()));
    }
}

fn read_toml(path: &Path) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse::<Table>()
        .with_context(|| format!("{} does not parse", path.display()))
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn a_standalone_manifest_inherits_nothing_and_uses_the_private_deps() {
        let workspace = Workspace::read(&kit()).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let deps = workspace
            .write_private_deps(&scratch.path().join("deps"), "copy-deps")
            .unwrap();
        let manifest = workspace
            .standalone_manifest(&kit().join("solutions/06-processes"), "copy", &deps)
            .unwrap();
        let text = manifest.to_string();
        assert!(!text.contains("workspace = true"), "{text}");
        assert_eq!(manifest["package"]["name"].as_str(), Some("copy"));
        assert_eq!(
            manifest["dependencies"]["kit-deps"]["package"].as_str(),
            Some("copy-deps")
        );
        assert!(manifest.contains_key("profile") && manifest.contains_key("workspace"));
        let deps_manifest = read_toml(&scratch.path().join("deps/Cargo.toml")).unwrap();
        assert_eq!(deps_manifest["package"]["name"].as_str(), Some("copy-deps"));
        assert_eq!(
            deps_manifest["dependencies"].as_table().map(Table::len),
            deps_manifest["build-dependencies"]
                .as_table()
                .map(Table::len),
            "the private copy keeps kit-deps' build side"
        );
    }

    #[test]
    fn build_products_of_one_package_go_and_nothing_else() {
        let profile = tempfile::tempdir().unwrap();
        let make = |relative: &str| {
            let path = profile.path().join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
            path
        };
        let gone = [
            make("mistake06-x"),
            make("deps/mistake06_x-0123"),
            make("deps/libmistake06_x-0123.rlib"),
            make(".fingerprint/mistake06-x-0123/bin"),
        ];
        let kept = [
            make("xtask"),
            make("deps/tokio-0123"),
            make(".fingerprint/tokio-1/lib"),
        ];
        remove_build_products(profile.path(), "mistake06-x");
        assert!(gone.iter().all(|path| !path.exists()));
        assert!(kept.iter().all(|path| path.exists()));
    }
}
