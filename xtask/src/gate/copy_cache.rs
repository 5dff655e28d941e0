//! The binaries of the standalone copies that `verify` judges (a mistake applied to a solution, a
//! solution copied over its exercise), kept between runs in the user's cache, outside `target/`.
//!
//! A copy is written afresh each run and its build products leave `target/` once it has been
//! judged (25 copies would take about 400 MB of `target/`'s budget), so without this every warm
//! `verify` recompiled and relinked all of them. The key is a hash of everything a copy's binaries
//! are made from: its files, the kit's `Cargo.lock`, `Cargo.toml` and `kit/deps`, the factor's
//! build variables and the compiler's version. A copy with a build script is never cached: what a
//! build script reads (git's `HEAD`, the environment) is not in the key.

use crate::engine::manifest::Factor;
use crate::engine::{progress, tools};
use anyhow::{Context, Result};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cache key of `copy`'s binaries, or `None` when they must be built every time.
pub fn key(root: &Path, factor: &Factor, copy: &Path) -> Option<String> {
    if copy.join("build.rs").exists() {
        return None;
    }
    let mut hasher = DefaultHasher::new();
    progress::fingerprint(copy).hash(&mut hasher);
    for file in [
        "Cargo.lock",
        "Cargo.toml",
        "kit/deps/Cargo.toml",
        "kit/deps/src/lib.rs",
    ] {
        file.hash(&mut hasher);
        std::fs::read(root.join(file)).ok()?.hash(&mut hasher);
    }
    factor.build_env.hash(&mut hasher);
    let compiler = Command::new("rustc")
        .arg("-vV")
        .current_dir(root)
        .output()
        .ok()?;
    compiler.stdout.hash(&mut hasher);
    Some(format!("{:016x}", hasher.finish()))
}

/// This clone's folder for `package` (clones do not share entries: their copies differ in paths).
fn dir(root: &Path, package: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    root.hash(&mut hasher);
    tools::cache_dir(root, "copies")
        .join(format!("{:016x}", hasher.finish()))
        .join(package)
}

/// Puts the cached binaries of `package` back into `target/debug`, if the cache holds them for
/// `key`. `false` on a miss (or an entry being replaced): then the copy is built.
pub fn restore(root: &Path, package: &str, key: &str) -> bool {
    let entry = dir(root, package);
    if std::fs::read_to_string(entry.join("key")).ok().as_deref() != Some(key) {
        return false;
    }
    let Ok(files) = std::fs::read_dir(&entry) else {
        return false;
    };
    let target = root.join("target/debug");
    files.flatten().all(|file| {
        file.file_name() == "key"
            || std::fs::copy(file.path(), target.join(file.file_name())).is_ok()
    })
}

/// Keeps the binaries Cargo just built for `package` under `key`, replacing what was there. The
/// entry is written beside and renamed into place, so a reader never sees half of it.
pub fn store(root: &Path, package: &str, key: &str) -> Result<()> {
    let entry = dir(root, package);
    let parent = entry.parent().context("the cache folder has no parent")?;
    std::fs::create_dir_all(parent)?;
    let fresh = tempfile::Builder::new()
        .prefix(&format!("{package}."))
        .tempdir_in(parent)?;
    let target = root.join("target/debug");
    for file in std::fs::read_dir(&target)?.flatten() {
        let name = file.file_name();
        let name_text = name.to_string_lossy();
        let is_binary = name_text.starts_with(package)
            && !name_text.ends_with(".d")
            && file.file_type().is_ok_and(|kind| kind.is_file());
        if is_binary {
            std::fs::copy(file.path(), fresh.path().join(&name))?;
        }
    }
    std::fs::write(fresh.path().join("key"), key)?;
    let _ = std::fs::remove_dir_all(&entry);
    std::fs::rename(fresh.keep(), &entry)?;
    Ok(())
}
