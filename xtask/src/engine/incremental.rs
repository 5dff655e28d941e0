//! Keeps `target/debug/incremental` to the crates being edited.
//!
//! Exercises and their checks compile incrementally (see [`crate::engine::testrun::build`]): one
//! cache per crate, 5 to 25 MB each, useful only while that crate is being edited. `verify` builds
//! all twelve exercises, so the caches add up to about a quarter of a gigabyte of `target/`'s
//! 1.5 GiB budget. A learner edits one exercise at a time: after a check whose build compiled
//! something, the caches that build did not touch are removed; at the end of `verify`, all of them
//! (a maintainer's next edit is anyone's guess). A crate whose cache is gone compiles once without
//! one when it next changes, and has a cache again from then on.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The folder of incremental caches in `target_dir`.
pub fn dir(target_dir: &Path) -> PathBuf {
    target_dir.join("debug").join("incremental")
}

/// Removes every crate's cache in `caches` that was not written since `since`, as long as some
/// cache was (otherwise the build compiled nothing incrementally and there is nothing to judge
/// by). A cache that a compiler is writing now (a `-working` session: another build running in
/// another terminal) is left alone. Returns how many caches were removed.
pub fn keep_only_written_since(caches: &Path, since: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(caches) else {
        return 0;
    };
    let crates: Vec<(PathBuf, SystemTime)> = entries
        .flatten()
        .filter_map(|entry| {
            let written = entry.metadata().ok()?.modified().ok()?;
            Some((entry.path(), written))
        })
        .filter(|(path, _)| path.is_dir())
        .collect();
    if !crates.iter().any(|(_, written)| *written >= since) {
        return 0;
    }
    crates
        .iter()
        .filter(|(path, written)| *written < since && !being_written(path))
        .filter(|(path, _)| std::fs::remove_dir_all(path).is_ok())
        .count()
}

/// Removes every crate's cache in `caches` but those a compiler is writing now. Returns how many
/// were removed.
pub fn remove_all_unused(caches: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(caches) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && !being_written(path))
        .filter(|path| std::fs::remove_dir_all(path).is_ok())
        .count()
}

/// Whether a compiler has a session open in this crate's cache (rustc names it `s-…-working`).
fn being_written(crate_cache: &Path) -> bool {
    std::fs::read_dir(crate_cache).is_ok_and(|sessions| {
        sessions
            .flatten()
            .any(|session| session.file_name().to_string_lossy().ends_with("-working"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cache(caches: &Path, name: &str, sessions: &[&str]) -> PathBuf {
        let dir = caches.join(name);
        for session in sessions {
            std::fs::create_dir_all(dir.join(session)).unwrap();
        }
        dir
    }

    #[test]
    fn caches_older_than_the_build_go_unless_a_compiler_is_writing_them() {
        let caches = tempfile::tempdir().unwrap();
        let old = cache(caches.path(), "ex05_build_release_run-1", &["s-1-abc"]);
        let busy = cache(caches.path(), "ex07_port_binding-2", &["s-2-def-working"]);
        std::thread::sleep(Duration::from_millis(20));
        let since = SystemTime::now();
        std::thread::sleep(Duration::from_millis(20));
        let current = cache(caches.path(), "ex06_processes-3", &["s-3-ghi"]);
        assert_eq!(keep_only_written_since(caches.path(), since), 1);
        assert!(!old.exists());
        assert!(busy.exists());
        assert!(current.exists());
        assert_eq!(remove_all_unused(caches.path()), 1);
        assert!(busy.exists() && !current.exists());
    }

    #[test]
    fn nothing_goes_when_the_build_wrote_no_cache() {
        let caches = tempfile::tempdir().unwrap();
        let old = cache(caches.path(), "ex05_build_release_run-1", &["s-1-abc"]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(keep_only_written_since(caches.path(), SystemTime::now()), 0);
        assert!(old.exists());
    }
}
