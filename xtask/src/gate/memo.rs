//! A step whose inputs are exactly those of its last passing run is not run again, and says so in
//! its note: for the book's browser test (a minute and a half of Chromium on 2 cores), whose
//! inputs are the built book, the browser and xtask itself. The record lives in `target/xtask/`,
//! so `cargo clean` (and every fresh clone, and CI) runs the step for real.

use crate::engine::cache;
use anyhow::Result;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;

const RECORD: &str = "verify-memo.json";

/// Runs `step` unless `inputs` (a fingerprint; `None` when it cannot be taken) equals the one
/// recorded for `name` by its last passing run.
pub fn unless_unchanged(
    root: &Path,
    name: &str,
    inputs: Option<u64>,
    step: impl FnOnce() -> Result<String>,
) -> Result<String> {
    let recorded = {
        let _held = RECORD_LOCK.lock().unwrap();
        read(root).get(name).copied()
    };
    if let Some(inputs) = inputs
        && recorded == Some(inputs)
    {
        return Ok(format!(
            "inputs unchanged since its last passing run (fingerprint {inputs:016x}), not run again"
        ));
    }
    update(root, |passed| passed.remove(name));
    let note = step()?;
    if let Some(inputs) = inputs {
        update(root, |passed| passed.insert(name.to_string(), inputs));
    }
    Ok(note)
}

/// Memoised steps run side by side in verify's lanes: each change of the record is a read, a
/// change and a write under this lock, so no step's entry is lost to another's write.
static RECORD_LOCK: Mutex<()> = Mutex::new(());

fn read(root: &Path) -> BTreeMap<String, u64> {
    cache::read(root, RECORD)
}

fn update<T>(root: &Path, change: impl FnOnce(&mut BTreeMap<String, u64>) -> T) {
    let _held = RECORD_LOCK.lock().unwrap();
    let mut passed = read(root);
    change(&mut passed);
    cache::write(root, RECORD, &passed);
}

/// A fingerprint of every file under each of `dirs` and of each of `files` (path and bytes), and
/// of `extra`; `None` if a file cannot be read.
pub fn fingerprint(dirs: &[&Path], files: &[&Path], extra: &str) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    for dir in dirs {
        crate::engine::progress::fingerprint(dir).hash(&mut hasher);
    }
    for file in files {
        std::fs::read(file).ok()?.hash(&mut hasher);
    }
    extra.hash(&mut hasher);
    Some(hasher.finish())
}
