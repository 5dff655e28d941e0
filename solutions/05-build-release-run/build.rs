//! The build stage's own record: which commit this binary is built from.
//!
//! Every release of one build runs the same code, so the commit is the same for all of them: it
//! identifies the *build*, and compiling it in is right. Config is the opposite (it differs
//! between releases of one build), and `src/config.rs` is where that goes wrong.

use std::path::Path;
use std::process::Command;

// ANCHOR: commit
fn main() {
    // A build service that has no `.git` (a tarball, a Docker context) can say which commit it
    // builds; Heroku's build sets `SOURCE_VERSION`, for one.
    println!("cargo::rerun-if-env-changed=SOURCE_VERSION");
    let commit = std::env::var("SOURCE_VERSION")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo::rustc-env=NOTICEBOARD_COMMIT={commit}");

    // Run again when HEAD moves (a commit, a checkout), not on every edit of the sources.
    for file in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file])
            && Path::new(&path).exists()
        {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    println!("cargo::rerun-if-changed=build.rs");
}
// ANCHOR_END: commit

/// `git <args>`'s output, trimmed; `None` without git or outside a repository.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}
