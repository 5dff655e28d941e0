//! The instructor's side: `cargo xtask room serve | open | close | export | token | list`.
//!
//! xtask builds the board's own binary (`kit/room`, package `kit-room`) on demand and runs it with
//! the kit's settings: the board's code and its dependencies' board-only features stay out of the
//! learner's `check` build, and the board stays an ordinary twelve-factor app that runs without
//! xtask (`kit-room serve` with `DATABASE_URL` and `PORT`). `serve` replaces xtask's process with
//! the board's, so SIGTERM and Ctrl-C reach the board itself (graceful shutdown).

use crate::Verdict;
use crate::engine::manifest::Service;
use crate::engine::settings::Settings;
use crate::engine::{services, testrun};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the board (a few seconds once the kit's dependencies are built) and returns its binary.
pub fn build(root: &Path) -> Result<PathBuf> {
    let output = testrun::cargo_command()
        .args(["build", "--package", "kit-room", "--bin", "kit-room"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("the class board does not build (`cargo build -p kit-room` shows why)");
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .find(|path| {
            path.file_stem()
                .is_some_and(|stem| stem.to_string_lossy() == "kit-room")
        })
        .context("cargo built kit-room but named no executable")
}

/// The environment the board runs with: the kit's Postgres, database `room` (unless
/// `ROOM_DATABASE_URL` names another), and the built book if there is one.
pub fn environment(root: &Path) -> Result<Vec<(String, String)>> {
    let settings = Settings::load(root)?;
    let database = match settings.get("ROOM_DATABASE_URL") {
        Some(url) => url.to_string(),
        None => {
            let mut url = settings.database_url()?;
            url.set_path("/room");
            url.to_string()
        }
    };
    let mut env = vec![("DATABASE_URL".to_string(), database)];
    let book = crate::book::output_dir(root);
    if book.join("index.html").is_file() {
        env.push(("ROOM_BOOK_DIR".into(), book.display().to_string()));
    }
    Ok(env)
}

/// Runs `kit-room <args>`: `serve` in place of xtask, the admin commands to completion.
pub fn run(root: &Path, args: &[String], out: &mut impl Write) -> Result<Verdict> {
    services::ensure(root, &[Service::Postgres], out)?;
    out.flush()?;
    let binary = build(root)?;
    let mut command = Command::new(&binary);
    command
        .args(args)
        .envs(environment(root)?)
        .current_dir(root);
    if args.first().map(String::as_str) == Some("serve") {
        writeln!(
            out,
            "Class board on port {} (PORT to change; Ctrl-C stops it). Logs are JSON lines.",
            std::env::var("PORT").unwrap_or_else(|_| "7878".into())
        )?;
        out.flush()?;
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            let err = command.exec();
            return Err(err).with_context(|| format!("cannot start {}", binary.display()));
        }
    }
    let status = command
        .status()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok(Verdict::from(status.success()))
}
