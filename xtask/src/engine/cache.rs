//! What xtask remembers between runs: small JSON files under `target/xtask/`.
//!
//! Only conveniences live here (hints shown, last verdicts); losing them (`cargo clean`) costs a
//! re-check or a repeated hint, never a learner's work. So reading falls back to empty, and a
//! failed write is ignored.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

fn path(root: &Path, name: &str) -> PathBuf {
    root.join("target").join("xtask").join(name)
}

/// The value stored under `name`, or the default when there is none (or it does not parse).
pub fn read<T: DeserializeOwned + Default>(root: &Path, name: &str) -> T {
    std::fs::read_to_string(path(root, name))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Stores `value` under `name`, best effort.
pub fn write(root: &Path, name: &str, value: &impl Serialize) {
    let path = path(root, name);
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    if let Ok(text) = serde_json::to_string_pretty(value) {
        let _ = std::fs::write(path, text);
    }
}
