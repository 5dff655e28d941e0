//! A throwaway copy of the package under test, committed to a git repository of its own and built
//! from there: how Factor I judges the commit a build names.
//!
//! Judged in place, a binary that names the commit of the kit's checkout proves little: the
//! commit may be written into the code (it matches until the next commit), found at run time by
//! asking git about the checkout (the path baked in at build time still leads there), or recorded
//! by a build script that never runs again when `HEAD` moves. So the check copies the package's
//! folder into a temp directory, commits it to a fresh repository (a commit no code can know),
//! builds it, moves `HEAD` with a second commit and builds again, then runs the binaries with the
//! copy out of reach. Only a build that asks git at build time, and again whenever `HEAD` moves,
//! names the second commit.
//!
//! What it costs: the copy is a package of its own that shares the kit's target folder, profile
//! and locked versions, so only the copy compiles: two builds. Both are `cargo build`, never a
//! `cargo check`: a check needs every dependency's check-mode metadata, which nothing else in the
//! kit produces, so on a fresh machine the first one compiled the whole dependency set again
//! (49 s in CI, over the check budget). Its build products carry a unique package name and are
//! removed when the copy is dropped, so `target/` does not grow.

use crate::package::Binary;
use kit_common::standalone;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use toml::{Table, Value};

/// How long one build of the copy may take (a cold one compiles the whole app crate).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The copy: its repository, its unique package name, and where its binaries land.
pub struct FreshCopy {
    /// Holds the repository and the private `kit-deps`; removed when dropped.
    scratch: TempDir,
    /// The package's folder in the copy, the root of its git repository.
    repo: PathBuf,
    /// Where the repository went when [`FreshCopy::put_out_of_reach`] moved it.
    hidden: Option<PathBuf>,
    /// `kit-fresh-<random>`: unique, so that its build products never meet the kit's own and can
    /// be removed by name.
    package: String,
    /// The package's binaries: their names in the original package and in the copy.
    binaries: Vec<(String, String)>,
    /// The kit's target folder (the one holding the check binary): dependencies come from there.
    target: PathBuf,
    /// What the copy's builds wrote whose name does not carry `package` (a library keeps its
    /// crate name): removed when the copy is dropped.
    artifacts: Mutex<Vec<PathBuf>>,
}

impl FreshCopy {
    /// Copies the package in `package_dir` (build products and any `.git` left out), makes it a
    /// standalone package of its own, and starts a git repository in it (nothing committed yet).
    pub fn new(package_dir: &Path) -> Result<FreshCopy, String> {
        let kit = crate::kit_root();
        let scratch = TempDir::with_prefix("kit-fresh-")
            .map_err(|err| format!("cannot create a temp dir: {err}"))?;
        let repo = scratch.path().join("app");
        copy_tree(package_dir, &repo)?;
        let package = format!("kit-fresh-{:08x}", random());
        let library = lib_target(package_dir)?;
        let workspace = standalone::Workspace::read(kit).map_err(|err| format!("{err:#}"))?;
        let private_deps = workspace
            .write_private_deps(&scratch.path().join("kit-deps"), &format!("{package}-deps"))
            .map_err(|err| format!("{err:#}"))?;
        let mut manifest = workspace
            .standalone_manifest(&repo, &package, &private_deps)
            .map_err(|err| format!("{err:#}"))?;
        // A library keeps its crate name: the package's binaries `use` it by that name, which the
        // package's new name would otherwise change. (Its build products then carry that name, not
        // the copy's: `build` records them, and dropping the copy removes them.)
        if let Some(library) = library {
            let mut lib = manifest
                .get("lib")
                .and_then(Value::as_table)
                .cloned()
                .unwrap_or_default();
            lib.insert("name".into(), Value::String(library));
            manifest.insert("lib".into(), Value::Table(lib));
        }
        write(&repo.join("Cargo.toml"), &manifest.to_string())?;
        // The bins keep their paths and get names of the copy's own (`<package>-<name>`): an
        // auto-discovered `src/bin/staging.rs` would otherwise land on the kit's own `staging`.
        let binaries = bin_targets(&repo)?;
        let mut bins = Vec::new();
        for (name, path) in &binaries {
            let mut bin = original_bin(&manifest, name).unwrap_or_default();
            bin.insert("name".into(), Value::String(format!("{package}-{name}")));
            bin.insert("path".into(), Value::String(path.display().to_string()));
            bins.push(Value::Table(bin));
        }
        manifest.insert("bin".into(), Value::Array(bins));
        if let Some(Value::Table(fields)) = manifest.get_mut("package") {
            for auto in ["autobins", "autotests", "autobenches", "autoexamples"] {
                fields.insert(auto.into(), Value::Boolean(false));
            }
        }
        write(&repo.join("Cargo.toml"), &manifest.to_string())?;
        // The kit's lock pins the versions its target folder holds; Cargo trims it for the copy.
        // Kept out of the repository, so that trimming it never makes the copy dirty.
        std::fs::copy(kit.join("Cargo.lock"), repo.join("Cargo.lock"))
            .map_err(|err| format!("cannot copy Cargo.lock: {err}"))?;

        let copy = FreshCopy {
            scratch,
            repo,
            hidden: None,
            binaries: binaries
                .into_iter()
                .map(|(name, _)| {
                    let renamed = format!("{package}-{name}");
                    (name, renamed)
                })
                .collect(),
            package,
            target: target_dir()?,
            artifacts: Mutex::new(Vec::new()),
        };
        copy.git(&["init", "--quiet", "--initial-branch=main"])?;
        write(
            &copy.repo.join(".git/info/exclude"),
            "/Cargo.lock\n/target/\n",
        )?;
        Ok(copy)
    }

    /// Commits everything (an empty commit if nothing changed) and returns the new `HEAD`.
    pub fn commit(&self, message: &str) -> Result<String, String> {
        self.git(&["add", "--all"])?;
        self.git(&[
            "commit",
            "--quiet",
            "--allow-empty",
            "--no-verify",
            "-m",
            message,
        ])?;
        Ok(self.git(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// `cargo build --bins` of the copy, into the kit's target folder; how long it took, or the
    /// compiler's complaint.
    pub fn build(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        // What Cargo set for the process that started the checks (xtask), not for this build.
        kit_common::cargo_env::without_cargo_run_env(&mut command);
        command
            .current_dir(&self.repo)
            .env("CARGO_TARGET_DIR", &self.target)
            .args([
                "build",
                "--bins",
                "--offline",
                "--color=never",
                // Diagnostics on stderr as usual; on stdout, what each compiled unit wrote.
                "--message-format=json-render-diagnostics",
                "--manifest-path",
            ])
            .arg(self.repo.join("Cargo.toml"));
        let output = run(command, BUILD_TIMEOUT, "cargo build")?;
        self.artifacts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(artifacts_of(&output.1, self.scratch.path()));
        if !output.0 {
            let errors: Vec<&str> = output
                .2
                .lines()
                .filter(|line| !line.trim_start().starts_with("Compiling"))
                .take(30)
                .collect();
            return Err(errors.join("\n"));
        }
        Ok(started.elapsed())
    }

    /// The copy's binaries, named as in the original package, at the paths the last build left.
    pub fn binaries(&self) -> Vec<Binary> {
        self.binaries
            .iter()
            .map(|(name, renamed)| Binary {
                name: name.clone(),
                path: self.target.join("debug").join(renamed),
            })
            .collect()
    }

    /// Moves the copy's folder, repository and all, where no path baked into its binaries leads.
    pub fn put_out_of_reach(&mut self) -> Result<(), String> {
        let hidden = self.scratch.path().join("out-of-reach");
        std::fs::rename(&self.repo, &hidden)
            .map_err(|err| format!("cannot move the copy out of reach: {err}"))?;
        self.hidden = Some(hidden);
        Ok(())
    }

    /// The copy's folder (where its binaries were built from).
    pub fn dir(&self) -> &Path {
        &self.repo
    }

    /// Runs `git <args>` in the copy, with no user or system configuration (hooks, signing).
    pub fn git(&self, args: &[&str]) -> Result<String, String> {
        let dir = self.hidden.as_ref().unwrap_or(&self.repo);
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "kit")
            .env("GIT_AUTHOR_EMAIL", "kit@localhost")
            .env("GIT_COMMITTER_NAME", "kit")
            .env("GIT_COMMITTER_EMAIL", "kit@localhost");
        let what = format!("git {}", args.join(" "));
        match run(command, crate::package::COMMAND_TIMEOUT, &what)? {
            (true, stdout, _) => Ok(stdout),
            (false, _, stderr) => Err(format!("`{what}` failed: {}", stderr.trim())),
        }
    }
}

impl Drop for FreshCopy {
    /// Removes what Cargo built for the copy (everything carries its unique package name); the
    /// temp dir goes with `scratch`.
    fn drop(&mut self) {
        let debug = self.target.join("debug");
        let artifacts = self
            .artifacts
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        for artifact in artifacts {
            // `deps/libnoticeboard-<hash>.rlib` comes with `.rmeta` and `noticeboard-<hash>.d`.
            let (Some(dir), Some(stem)) = (
                artifact.parent(),
                artifact.file_stem().and_then(|stem| stem.to_str()),
            ) else {
                continue;
            };
            let stem = stem.strip_prefix("lib").unwrap_or(stem);
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&format!("{stem}.")) || name.starts_with(&format!("lib{stem}."))
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        standalone::remove_build_products(&debug, &self.package);
    }
}

/// The kit's target folder: the check binary runs from `<target>/debug/deps/`.
fn target_dir() -> Result<PathBuf, String> {
    let exe =
        std::env::current_exe().map_err(|err| format!("cannot find the check binary: {err}"))?;
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not in a Cargo target folder", exe.display()))
}

fn random() -> u32 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new()
        .hash_one((std::time::SystemTime::now(), std::process::id())) as u32
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// Copies `from` to `to`, leaving out build products (`target/`) and any git repository.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|err| format!("cannot read {}: {err}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if source.is_dir() {
            copy_tree(&source, &dest)?;
        } else if source.is_file() {
            std::fs::copy(&source, &dest)
                .map_err(|err| format!("cannot copy {}: {err}", source.display()))?;
        }
    }
    Ok(())
}

/// The `[[bin]]` entry named `name` in the manifest, if it has one (to keep `test = false` etc.).
fn original_bin(manifest: &Table, name: &str) -> Option<Table> {
    manifest
        .get("bin")?
        .as_array()?
        .iter()
        .filter_map(Value::as_table)
        .find(|bin| bin.get("name").and_then(Value::as_str) == Some(name))
        .cloned()
}

/// The files of `cargo build --message-format=json` output (`stdout`) that units of a package
/// under `scratch` (the copy and its private `kit-deps`) wrote.
fn artifacts_of(stdout: &str, scratch: &Path) -> Vec<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["manifest_path"]
                .as_str()
                .is_some_and(|path| Path::new(path).starts_with(scratch))
        })
        .flat_map(|message| {
            message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|name| name.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The crate name of the package's library, if it has one.
fn lib_target(dir: &Path) -> Result<Option<String>, String> {
    Ok(targets(dir)?
        .into_iter()
        .find(|(kinds, ..)| kinds.iter().any(|kind| kind == "lib"))
        .map(|(_, name, _)| name.replace('-', "_")))
}

/// The package's binary targets as Cargo sees them (declared or found): `(name, path relative to
/// the package)`.
fn bin_targets(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    Ok(targets(dir)?
        .into_iter()
        .filter(|(kinds, ..)| kinds.iter().any(|kind| kind == "bin"))
        .map(|(_, name, path)| (name, path))
        .collect())
}

/// The package's targets as Cargo sees them: `(kinds, name, path relative to the package)`.
fn targets(dir: &Path) -> Result<Vec<(Vec<String>, String, PathBuf)>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .current_dir(dir);
    let (ok, stdout, stderr) = run(command, crate::package::COMMAND_TIMEOUT, "cargo metadata")?;
    if !ok {
        return Err(format!("`cargo metadata` failed: {}", stderr.trim()));
    }
    let metadata: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|err| format!("`cargo metadata` printed something that is not JSON: {err}"))?;
    let package = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.first())
        .ok_or("`cargo metadata` lists no package")?;
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    Ok(package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|target| {
            let kinds = target["kind"]
                .as_array()?
                .iter()
                .filter_map(|kind| kind.as_str().map(str::to_string))
                .collect();
            let name = target["name"].as_str()?.to_string();
            let path = PathBuf::from(target["src_path"].as_str()?);
            let relative = path
                .strip_prefix(&root)
                .map(Path::to_path_buf)
                .unwrap_or(path);
            Some((kinds, name, relative))
        })
        .collect())
}

/// Runs `command` to its end within `timeout`: (success, stdout, stderr).
fn run(
    mut command: Command,
    timeout: Duration,
    what: &str,
) -> Result<(bool, String, String), String> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run `{what}`: {err}"))?;
    let started = Instant::now();
    let mut child = output;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{what}` was still running after {timeout:?}"));
            }
            Err(err) => return Err(format!("cannot wait for `{what}`: {err}")),
        }
    };
    Ok((
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package whose binary `use`s its own library (the finished noticeboard's layout) builds as
    /// a fresh copy, and dropping the copy leaves none of its build products in the kit's target.
    #[test]
    fn a_package_with_a_library_builds_and_leaves_nothing_behind() {
        let original = TempDir::with_prefix("kit-fresh-test-").unwrap();
        let name = format!("fresh-probe-{:08x}", random());
        let crate_name = name.replace('-', "_");
        write(
            &original.path().join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 [[bin]]\nname = \"probe\"\npath = \"src/main.rs\"\n\n[workspace]\n"
            ),
        )
        .unwrap();
        write(
            &original.path().join("src/lib.rs"),
            "pub fn answer() -> u8 { 42 }\n",
        )
        .unwrap();
        write(
            &original.path().join("src/main.rs"),
            &format!("fn main() {{ println!(\"{{}}\", {crate_name}::answer()); }}\n"),
        )
        .unwrap();

        let copy = FreshCopy::new(original.path()).unwrap();
        copy.commit("first").unwrap();
        copy.build().unwrap();
        let binaries = copy.binaries();
        assert_eq!(binaries.len(), 1, "{:?}", binaries.len());
        let output = Command::new(&binaries[0].path).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "42\n");

        let deps = copy.target.join("debug/deps");
        let products = || -> Vec<String> {
            std::fs::read_dir(&deps)
                .unwrap()
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|file| file.contains(&crate_name))
                .collect()
        };
        assert!(
            products().iter().any(|file| file.ends_with(".rlib")),
            "the library was built: {:?}",
            products()
        );
        drop(copy);
        assert_eq!(products(), Vec::<String>::new());
    }
}
