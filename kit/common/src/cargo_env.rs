//! What `cargo run` sets for the program it runs (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and
//! friends), removed before that program runs Cargo in turn.
//!
//! Passed on, they change the fingerprints of build scripts that watch them (ring's watches
//! `CARGO_MANIFEST_DIR`), so the next build started from elsewhere rebuilds crates just built, and
//! the other way round. xtask uses this for every Cargo it starts, the harness for Factor I's fresh
//! copy. (The launcher in `kit/launcher` keeps its own copy of the list: it depends on nothing.)

use std::process::Command;

/// Removes from `command` every variable `cargo run` set for the current program.
pub fn without_cargo_run_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_by_cargo_run = key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(key);
        }
    }
    command
}
