//! `cargo xtask pack DIR`: the offline pack, for a room with poor Wi-Fi (an instructor makes it on
//! a USB stick; learners install from it with no network), and `--try`, which installs from it the
//! way a learner would, with the network cut off.
//!
//! The pack (`DIR/twelve-factor-rust-pack/`):
//!
//! - `kit.bundle`: a git bundle of the kit's current branch (`git clone` reads it like a remote);
//! - `vendor/`: every crate the workspace's `Cargo.lock` names (`cargo vendor`);
//! - `.cargo/config.toml`: points Cargo at `vendor/` only and keeps it offline, for every clone
//!   made inside the pack's folder (Cargo reads the config of every folder above the one it runs in,
//!   so the kit's own `.cargo/config.toml` is left alone and `git status` stays clean);
//! - `tools/bin/mdbook`: the pinned mdBook, for this platform (`cargo xtask book` in a clone inside
//!   the pack, or cloned from its bundle, uses it when none is installed);
//! - `book/`: the built book (open `book/index.html`);
//! - `README.txt`: the three commands that install it.

use crate::Verdict;
use crate::engine::term;
use anyhow::{Context, Result, bail, ensure};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The pack's folder name, inside the destination.
const PACK: &str = "twelve-factor-rust-pack";

/// What the pack's own Cargo config starts with, so xtask can tell it is offline.
const CONFIG_MARK: &str = "# Twelve-Factor Rust offline pack";

/// Makes the pack in `dest`; with `try_it`, installs from it offline afterwards.
pub fn run(root: &Path, dest: &Path, try_it: bool, out: &mut impl Write) -> Result<Verdict> {
    let started = Instant::now();
    let pack = dest.join(PACK);
    ensure!(
        !pack.starts_with(root),
        "{} is inside the kit: make the pack somewhere else (a USB stick, or a folder beside the kit)",
        pack.display()
    );
    if pack.exists() {
        std::fs::remove_dir_all(&pack)
            .with_context(|| format!("cannot replace {}", pack.display()))?;
    }
    std::fs::create_dir_all(pack.join("tools/bin"))
        .with_context(|| format!("cannot create {}", pack.display()))?;
    let before = git_status(root)?;

    let commit = bundle(root, &pack)?;
    writeln!(out, "  {} kit.bundle: the kit at {commit}", term::pass())?;
    if !before.is_empty() {
        writeln!(
            out,
            "    {}",
            term::dim("(uncommitted changes are not in the pack: it holds commits only)")
        )?;
    }
    let crates = vendor(root, &pack)?;
    writeln!(out, "  {} vendor/: {crates} crates", term::pass())?;
    let mdbook = crate::engine::tools::mdbook(root)?;
    let mdbook = which(&mdbook).unwrap_or(mdbook);
    std::fs::copy(&mdbook, pack.join("tools/bin/mdbook"))
        .with_context(|| format!("cannot copy {}", mdbook.display()))?;
    writeln!(
        out,
        "  {} tools/bin/mdbook: mdBook {}",
        term::pass(),
        crate::engine::tools::MDBOOK_VERSION
    )?;
    let built = crate::book::build(root, crate::book::Quotes::Shipped)?;
    copy_dir(&built.out, &pack.join("book"))?;
    writeln!(out, "  {} book/: open book/index.html", term::pass())?;
    std::fs::write(pack.join("README.txt"), readme(&rust_version(root)?))?;

    let after = git_status(root)?;
    ensure!(
        after == before,
        "making the pack changed the kit's `git status`:\n{after}"
    );
    let size = crate::engine::progress::files_under_all(&pack)
        .iter()
        .filter_map(|file| file.symlink_metadata().ok())
        .map(|meta| meta.len())
        .sum::<u64>();
    writeln!(
        out,
        "{} The pack is {} ({:.0} MiB, made in {:.0} s); README.txt says how to install it.",
        term::pass(),
        pack.display(),
        size as f64 / 1024.0 / 1024.0,
        started.elapsed().as_secs_f64()
    )?;
    if try_it {
        return try_install(&pack, out);
    }
    Ok(Verdict::Green)
}

/// `git status --porcelain` of the kit (the pack must leave it as it was).
fn git_status(root: &Path) -> Result<String> {
    let output = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .output()
        .context("cannot run git")?;
    ensure!(output.status.success(), "the kit is not a git checkout");
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `git bundle create kit.bundle HEAD <branch>`; returns the commit.
fn bundle(root: &Path, pack: &Path) -> Result<String> {
    let git = |args: &[&str]| -> Result<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .context("cannot run git")?;
        ensure!(
            output.status.success(),
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let branch = git(&["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    let file = pack.join("kit.bundle");
    let file = file.to_string_lossy();
    let mut args = vec!["bundle", "create", "--quiet", file.as_ref(), "HEAD"];
    args.extend(branch.as_deref());
    git(&args)?;
    Ok(commit)
}

/// `cargo vendor` into `pack/vendor`, and the pack's Cargo config; returns how many crates.
fn vendor(root: &Path, pack: &Path) -> Result<usize> {
    let output = crate::engine::testrun::cargo_command()
        .args(["vendor", "--locked", "--quiet", "--versioned-dirs"])
        .arg(pack.join("vendor"))
        .current_dir(root)
        .stdout(Stdio::null())
        .output()
        .context("cannot run cargo vendor")?;
    ensure!(
        output.status.success(),
        "cargo vendor failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    std::fs::create_dir_all(pack.join(".cargo"))?;
    std::fs::write(
        pack.join(".cargo/config.toml"),
        format!(
            "{CONFIG_MARK}: Cargo takes every crate from vendor/ and never asks the network.\n\
             # It applies to the clones made inside this folder (Cargo reads the config of every\n\
             # folder above the one it runs in).\n\
             [source.crates-io]\n\
             replace-with = \"vendored-sources\"\n\n\
             [source.vendored-sources]\n\
             directory = \"vendor\"\n\n\
             [net]\n\
             offline = true\n"
        ),
    )?;
    Ok(std::fs::read_dir(pack.join("vendor"))?.count())
}

/// Where `program` (a bare name is looked up on `PATH`) really is.
fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for file in crate::engine::progress::files_under_all(from) {
        let target = to.join(file.strip_prefix(from)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&file, &target).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    Ok(())
}

/// The workspace's `rust-version` (the oldest Rust the kit builds with).
fn rust_version(root: &Path) -> Result<String> {
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml"))?)?;
    manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("rust-version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .context("Cargo.toml has no [workspace.package] rust-version")
}

fn readme(rust: &str) -> String {
    format!(
        "Twelve-Factor Rust: the offline pack\n\
         ====================================\n\n\
         Needs: Rust {rust} or newer (with rustup) and git; no network.\n\n\
         1. Copy this folder ({PACK}) to your disk, e.g. your home folder.\n\
         2. In it, clone the kit from the bundle (inside this folder, so Cargo finds the vendored crates):\n\n\
         \x20   cd {PACK}\n\
         \x20   git clone kit.bundle twelve-factor-rust\n\
         \x20   cd twelve-factor-rust\n\n\
         3. Build and run the first check (red: that is the start):\n\n\
         \x20   cargo xtask check 1\n\n\
         The book: open book/index.html in this folder, or build it with `cargo xtask book` (it uses\n\
         tools/bin/mdbook, made for the platform the pack was made on: {platform}).\n",
        platform = std::env::consts::OS.to_string() + "/" + std::env::consts::ARCH,
    )
}

/// The pack's mdBook, when this kit was cloned from a pack (its folder is inside the pack, or its
/// `origin` is the pack's bundle) and the binary runs here.
pub fn packed_mdbook(root: &Path) -> Option<PathBuf> {
    pack_dirs(root)
        .into_iter()
        .map(|pack| pack.join("tools/bin/mdbook"))
        .find(|mdbook| crate::engine::tools::is_mdbook(mdbook))
}

/// The folders that may be the pack this kit came from.
fn pack_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = root.parent().map(Path::to_path_buf).into_iter().collect();
    let origin = Command::new("git")
        .args(["config", "--get", "remote.origin.url"])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    if origin.ends_with(".bundle") {
        let bundle = root.join(&origin);
        dirs.extend(bundle.parent().map(Path::to_path_buf));
    }
    dirs
}

/// Without mdBook and without a network, installing it cannot work: say in one line what does.
pub fn require_network_for_mdbook(root: &Path) -> Result<()> {
    if offline(root) {
        bail!(
            "mdBook {} is not installed and this machine is offline: {}",
            crate::engine::tools::MDBOOK_VERSION,
            mdbook_advice(root)
        );
    }
    Ok(())
}

/// What to do when the pinned mdBook is missing and cannot be installed (offline, or a network
/// that does not reach the crates' registry): the same advice whether or not Cargo was told it is
/// offline.
pub fn mdbook_advice(root: &Path) -> String {
    format!(
        "read the book in the offline pack (its book/index.html), or copy the pack's \
         tools/bin/mdbook to {}, or run `cargo xtask book` again once online",
        crate::engine::tools::mdbook_install_path(root).display()
    )
}

/// Whether Cargo is told to stay offline: `CARGO_NET_OFFLINE`, or the config of the offline pack
/// in a folder above the kit.
fn offline(root: &Path) -> bool {
    let by_env =
        std::env::var("CARGO_NET_OFFLINE").is_ok_and(|value| value == "true" || value == "1");
    by_env
        || root.ancestors().any(|dir| {
            std::fs::read_to_string(dir.join(".cargo/config.toml"))
                .is_ok_and(|config| config.starts_with(CONFIG_MARK))
        })
}

/// Installs from `pack` as a learner would, with the network cut off: a fresh clone from the
/// bundle, inside the pack; an empty Cargo home and tools cache (so only the vendored crates and
/// the pack's mdBook can be used); `CARGO_NET_OFFLINE=true`, and, where the system allows it, a
/// network namespace with no network at all (`unshare -n`). Then `cargo xtask check 1` must be red,
/// and `cargo xtask book` must build the book with the pack's mdBook.
fn try_install(pack: &Path, out: &mut impl Write) -> Result<Verdict> {
    let home = tempfile::TempDir::with_prefix("kit-pack-try-")?;
    let clone = pack.join("twelve-factor-rust-try");
    let _ = std::fs::remove_dir_all(&clone);
    let no_network = Command::new("unshare")
        .args(["--net", "--map-root-user", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))
        .context("no RUSTUP_HOME and no HOME: cannot find the toolchain")?;
    let step = |what: &str, dir: &Path, args: &[&str]| -> Result<std::process::Output> {
        let mut command = if no_network {
            // A new network namespace has only a loopback interface, and it is down: bring it up,
            // so the apps the checks start can listen on 127.0.0.1; nothing else is reachable.
            let mut command = Command::new("unshare");
            command
                .args(["--net", "--map-root-user", "sh", "-c"])
                .arg("ip link set lo up 2>/dev/null; exec \"$@\"")
                .arg("sh")
                .args(args);
            command
        } else {
            let mut command = Command::new(args[0]);
            command.args(&args[1..]);
            command
        };
        crate::engine::testrun::without_xtask_env(&mut command);
        let clock = Instant::now();
        let output = command
            .current_dir(dir)
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_HOME", home.path().join("cargo"))
            .env("RUSTUP_HOME", &rustup_home)
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("CARGO_TARGET_DIR", clone.join("target"))
            .env_remove("XTASK_ROOT")
            .env_remove("RUSTC_WRAPPER")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", args.join(" ")))?;
        writeln!(
            std::io::stdout(),
            "  $ {}   {}",
            args.join(" "),
            term::dim(&format!(
                "({what}: exit {}, {:.0} s)",
                output.status.code().unwrap_or(-1),
                clock.elapsed().as_secs_f64()
            ))
        )?;
        Ok(output)
    };
    writeln!(
        out,
        "Installing from the pack offline ({}; empty Cargo home and tools cache):",
        if no_network {
            "CARGO_NET_OFFLINE=true, in a network namespace with no network"
        } else {
            "CARGO_NET_OFFLINE=true; `unshare -n` is not allowed here"
        }
    )?;
    let cloned = step(
        "clone",
        pack,
        &[
            "git",
            "clone",
            "--quiet",
            "kit.bundle",
            "twelve-factor-rust-try",
        ],
    )?;
    ensure!(
        cloned.status.success(),
        "git clone from the bundle failed: {}",
        String::from_utf8_lossy(&cloned.stderr).trim()
    );
    let checked = step("first check", &clone, &["cargo", "xtask", "check", "1"])?;
    let stdout = String::from_utf8_lossy(&checked.stdout);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    // Red, and for the exercise's reason: an app that cannot even start here ("did not start")
    // would mean the install is broken, not the exercise.
    ensure!(
        checked.status.code() == Some(1)
            && stdout.contains('✗')
            && !stdout.contains("did not start"),
        "`cargo xtask check 1` from the pack should be red (exit 1) for the exercise's reasons; it \
         exited {:?}:\n{}{}",
        checked.status.code(),
        stdout.trim_end(),
        stderr.trim_end()
    );
    writeln!(out, "{}", term::indent(stdout.trim_end(), 4))?;
    let book = step("book", &clone, &["cargo", "xtask", "book"])?;
    ensure!(
        book.status.success() && clone.join("target/book/index.html").is_file(),
        "`cargo xtask book` from the pack failed:\n{}{}",
        String::from_utf8_lossy(&book.stdout).trim_end(),
        String::from_utf8_lossy(&book.stderr).trim_end()
    );
    writeln!(
        out,
        "{}",
        term::indent(String::from_utf8_lossy(&book.stdout).trim_end(), 4)
    )?;
    let status = step("git status", &clone, &["git", "status", "--porcelain"])?;
    ensure!(
        status.stdout.is_empty(),
        "the installed kit's `git status` is not clean:\n{}",
        String::from_utf8_lossy(&status.stdout)
    );
    writeln!(
        out,
        "{} Installed offline from the pack: check 1 red, the book built with the pack's mdBook, \
         git status clean. (The trial clone is {}; delete it when done.)",
        term::pass(),
        clone.display()
    )?;
    Ok(Verdict::Green)
}
