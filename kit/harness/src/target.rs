//! Which app the checks judge: the package they were compiled with, or the one xtask names.
//!
//! xtask compiles a factor's checks once, with the exercise, and runs the same check binary
//! against the reference solution by setting `KIT_APP_PACKAGE`, `KIT_APP_BIN_DIR` and
//! `KIT_APP_MANIFEST_DIR`. Use [`crate::app_binary!`] and [`crate::app_package_dir!`] rather than
//! these functions.

use std::path::PathBuf;

/// `built` (the binary Cargo built for the package under test), or the same binary (`suffix`
/// included, e.g. `-migrate`) of the package xtask names.
pub fn binary(built: &'static str, suffix: &str) -> &'static str {
    match (
        std::env::var("KIT_APP_PACKAGE"),
        std::env::var_os("KIT_APP_BIN_DIR"),
    ) {
        (Ok(package), Some(dir)) => leak(PathBuf::from(dir).join(format!("{package}{suffix}"))),
        _ => built,
    }
}

/// `built` (the folder of the package under test), or the folder xtask names.
pub fn manifest_dir(built: &'static str) -> &'static str {
    match std::env::var_os("KIT_APP_MANIFEST_DIR") {
        Some(dir) => leak(PathBuf::from(dir)),
        None => built,
    }
}

/// Paths live as long as the test process; a handful per test, so leaking them is fine.
fn leak(path: PathBuf) -> &'static str {
    Box::leak(path.display().to_string().into_boxed_str())
}
