//! The package under test as Cargo and git see it: which binaries it builds, where they are, and
//! what the repository says about its source.
//!
//! Most checks run one binary they can name ([`crate::app_binary!`]). A few judge the package
//! itself: Factor I asks how many app binaries it builds, runs each of them, and compares the
//! commit a binary reports with the one git reports. They ask Cargo (`cargo metadata`), not the
//! source: whatever way a learner declares the binaries, Cargo's answer is the truth.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long `cargo metadata` or a `git` command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One binary target of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The target's name, e.g. `ex01-codebase-staging`.
    pub name: String,
    /// Where Cargo put it for the tests that are running.
    pub path: PathBuf,
}

/// What Cargo says a package builds.
#[derive(Debug, Clone)]
pub struct Package {
    dir: PathBuf,
    name: String,
    binaries: Vec<Binary>,
}

impl Package {
    /// Asks Cargo about the package in `dir` (usually [`crate::app_package_dir!`]): its name and
    /// its binary targets. Fails the test if Cargo cannot answer.
    #[track_caller]
    pub fn inspect(dir: impl AsRef<Path>) -> Package {
        let dir = dir.as_ref().to_path_buf();
        let manifest = dir.join("Cargo.toml");
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
            .arg(&manifest)
            .current_dir(&dir);
        let metadata = run(command, "cargo metadata")
            .unwrap_or_else(|err| panic!("cannot ask Cargo what {} builds: {err}", dir.display()));
        let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap_or_else(|err| {
            panic!("`cargo metadata` printed something that is not JSON: {err}")
        });
        let package = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|package| {
                package["manifest_path"]
                    .as_str()
                    .is_some_and(|path| same_file(Path::new(path), &manifest))
            })
            .unwrap_or_else(|| {
                panic!(
                    "`cargo metadata` does not list the package of {}",
                    manifest.display()
                )
            });
        let bin_dir = bin_dir();
        let binaries = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
            })
            .filter_map(|target| target["name"].as_str())
            .map(|name| Binary {
                name: name.to_string(),
                path: bin_dir.join(name),
            })
            .collect();
        Package {
            dir,
            name: package["name"].as_str().unwrap_or_default().to_string(),
            binaries,
        }
    }

    /// The package's name, e.g. `ex01-codebase`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory holding its `Cargo.toml`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its binary targets, in the order Cargo lists them.
    pub fn binaries(&self) -> &[Binary] {
        &self.binaries
    }

    /// Runs `git <args>` in the package's directory and returns its stdout, or why it could not
    /// (git missing, not a repository, ...).
    pub fn git(&self, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(&self.dir)
            // A read-only look: `git status` must not take the index lock while a build runs git.
            .env("GIT_OPTIONAL_LOCKS", "0");
        run(command, &format!("git {}", args.join(" ")))
    }
}

/// Where Cargo puts the binaries of the package whose tests are running: an integration test runs
/// from `<target>/<profile>/deps/`, and the package's binaries sit one level up.
fn bin_dir() -> PathBuf {
    let test = std::env::current_exe().expect("cannot find the running test's executable");
    test.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("{} is not in a Cargo target directory", test.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Runs `command` to its end within [`COMMAND_TIMEOUT`]; its stdout, or what went wrong.
fn run(mut command: Command, what: &str) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run `{what}`: {err}"))?;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{what}` was still running after {COMMAND_TIMEOUT:?}"
                ));
            }
            Err(err) => return Err(format!("cannot wait for `{what}`: {err}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!("`{what}` failed ({status}): {}", stderr.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_names_the_package_and_its_binaries() {
        let harness = Package::inspect(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(harness.name(), "kit-harness");
        assert!(harness.binaries().is_empty(), "{:?}", harness.binaries());

        let xtask = Package::inspect(harness.dir().join("../../xtask"));
        let names: Vec<&str> = xtask.binaries().iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["xtask"]);
        assert_eq!(xtask.binaries()[0].path, bin_dir().join("xtask"));
    }

    #[test]
    fn git_answers_in_the_package_directory_or_says_why_not() {
        let harness = Package::inspect(env!("CARGO_MANIFEST_DIR"));
        let head = harness
            .git(&["rev-parse", "HEAD"])
            .expect("the kit is a git clone");
        assert!(head.trim().chars().all(|c| c.is_ascii_hexdigit()), "{head}");
        let err = harness.git(&["no-such-command"]).unwrap_err();
        assert!(err.contains("git no-such-command"), "{err}");
    }
}
