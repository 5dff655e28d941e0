//! Build script: records which commit of the codebase this binary is built from.
//!
//! The same script as Factor I's solution (`solutions/01-codebase/build.rs`): the finished app
//! answers `GET /version` and `GET /release` with this commit.
//!
//! Solved: `GET /version` names the commit, and whether the package's files differed from it, so
//! every deploy can be traced back to the one codebase. Only the build can know: the binary then
//! runs where there is no repository at all (a container, a temp dir, another machine). So the
//! answer is written into the binary as two compile-time environment variables, which
//! `src/build_info.rs` reads with `env!`.
//!
//! The road not taken: having CI pass the commit in (`option_env!("GIT_COMMIT")`). It works on CI
//! only, and every other build silently reports nothing; git is the source of truth everywhere.
//!
//! Without git, or outside a repository (a source tarball), the build still succeeds and reports
//! `unknown`, with a warning. A repository that git fails to read stops the build: a build that
//! cannot be traced must not pass for one that can.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

// ANCHOR: main
fn main() -> ExitCode {
    let package = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by Cargo"));
    // Rerun when the package's own files change: an edit can make the build dirty, or clean again.
    println!("cargo::rerun-if-changed={}", package.display());

    let (commit, dirty) = match describe(&package) {
        Ok(Some((commit, dirty))) => (commit, dirty.to_string()),
        Ok(None) => ("unknown".into(), "unknown".into()),
        Err(err) => {
            eprintln!("cannot tell which commit this build is from: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("cargo::rustc-env=NOTICEBOARD_COMMIT={commit}");
    println!("cargo::rustc-env=NOTICEBOARD_DIRTY={dirty}");
    ExitCode::SUCCESS
}
// ANCHOR_END: main

// ANCHOR: describe
/// The commit at `HEAD` and whether the package's files differ from it; `None` without git or
/// outside a repository.
fn describe(package: &Path) -> Result<Option<(String, bool)>, String> {
    // `.git` is a directory in a clone and a file in a worktree (it points to the real one).
    if !package.ancestors().any(|dir| dir.join(".git").exists()) {
        println!("cargo::warning=not in a git repository: the app will report commit \"unknown\"");
        return Ok(None);
    }
    let commit = match git(package, &["rev-parse", "HEAD"]) {
        Err(Git::Missing) => {
            println!("cargo::warning=git is not installed: the app will report commit \"unknown\"");
            return Ok(None);
        }
        Err(Git::Failed(err)) => return Err(err),
        Ok(commit) => commit,
    };
    // `-- .`: this package's files only (modified, staged, deleted or untracked). An edit to
    // another part of the repository does not change what this binary is built from.
    let status = git(package, &["status", "--porcelain", "--", "."]).map_err(Git::into_message)?;
    watch_git_files(package)?;
    Ok(Some((commit, !status.is_empty())))
}
// ANCHOR_END: describe

// ANCHOR: watch
/// Asks Cargo to rerun this script when `HEAD` moves: a checkout (`HEAD`), a commit (the branch's
/// ref, or `packed-refs` once git has packed it), staging or unstaging (`index`), and any of these
/// (`logs/HEAD`, git's journal of every move of `HEAD`). Git says where those files are: in a
/// worktree they are split between its own directory and the main one.
fn watch_git_files(package: &Path) -> Result<(), String> {
    let mut files: Vec<String> = ["HEAD", "index", "packed-refs", "logs/HEAD"]
        .map(String::from)
        .into();
    // A branch is checked out, not a bare commit: watch its ref too.
    if let Ok(branch) = git(package, &["symbolic-ref", "-q", "HEAD"]) {
        files.push(branch);
    }
    let mut args = vec!["rev-parse".to_string()];
    for file in files {
        args.push("--git-path".into());
        args.push(file);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let paths = git(package, &args).map_err(Git::into_message)?;
    for path in paths.lines() {
        // Relative to the directory git ran in, unless git printed an absolute path.
        let path = package.join(path);
        // A missing file would make Cargo rerun this script on every build.
        if path.exists() {
            println!("cargo::rerun-if-changed={}", path.display());
        }
    }
    Ok(())
}
// ANCHOR_END: watch

enum Git {
    Missing,
    Failed(String),
}

impl Git {
    fn into_message(self) -> String {
        match self {
            Git::Missing => "git is not installed".into(),
            Git::Failed(err) => err,
        }
    }
}

/// Runs `git <args>` in `dir`; its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String, Git> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        // Look, don't touch: `git status` may otherwise rewrite the index, and take its lock,
        // while an editor or another build runs git too.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => Git::Missing,
            _ => Git::Failed(format!("cannot run git: {err}")),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(Git::Failed(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
