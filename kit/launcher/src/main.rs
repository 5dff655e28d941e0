//! `cargo xtask …` runs this (`.cargo/config.toml`), not xtask itself.
//!
//! `cargo run --package xtask` had Cargo check the fingerprints of xtask's whole dependency graph
//! (277 units, about a quarter of a second) on every command of the learner's loop, and on a fresh
//! clone it left the terminal still for seconds at a time while a single crate compiled (xtask's
//! own compile, about 7 s on two cores). This launcher has no dependencies, so Cargo checks it in a
//! tenth of a second; it then asks Cargo to build xtask only when a file xtask was built from is
//! newer than the binary (read from the dep-info file Cargo writes beside it, the list Cargo itself
//! compares), shows that build with a heartbeat, and replaces itself with xtask.
//!
//! Whenever it cannot be sure (no binary or dep-info where it looks, a file outside this checkout,
//! an unreadable time), it does what the alias used to do: `cargo run --package xtask`.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(root) = workspace_root() else {
        return cargo_run_xtask(&args);
    };
    let binary = target_dir(&root)
        .join("debug")
        .join(format!("xtask{}", std::env::consts::EXE_SUFFIX));
    if !is_fresh(&root, &binary) {
        match build_xtask(&root) {
            Ok(true) => {}
            Ok(false) => return ExitCode::FAILURE,
            Err(_) => return cargo_run_xtask(&args),
        }
        if !is_fresh(&root, &binary) {
            return cargo_run_xtask(&args);
        }
    }
    run(without_launcher_env(&mut Command::new(&binary)).args(&args))
}

/// Removes what `cargo run` set for the launcher itself (its package's name, version and folder):
/// the build it starts must see the environment the learner's shell gave Cargo, or Cargo would
/// take the difference for a change and rebuild what later builds share; and xtask is not the
/// launcher's package. The same list as `kit-common`'s `cargo_env`, copied on purpose: the
/// launcher depends on nothing (a convention `verify` checks).
fn without_launcher_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_the_launcher = key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_for_the_launcher {
            command.env_remove(key);
        }
    }
    command
}

/// The checkout this launcher belongs to: `cargo run` sets `CARGO_MANIFEST_DIR` to
/// `<root>/kit/launcher`.
fn workspace_root() -> Option<PathBuf> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    Some(manifest_dir.parent()?.parent()?.to_path_buf())
}

/// Where Cargo builds: `CARGO_TARGET_DIR` (relative to where the command runs, as Cargo reads
/// it), or the checkout's `target/`. (Another `build.target-dir` in a Cargo config finds no
/// binary here, and falls back to `cargo run`.)
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir().unwrap_or_default().join(dir),
        None => root.join("target"),
    }
}

/// Whether `binary` is newer than every file it was built from (its dep-info, `xtask.d` beside
/// it, all inside this checkout) and than the manifests, the lock file and Cargo's config.
fn is_fresh(root: &Path, binary: &Path) -> bool {
    let Some(built) = modified(binary) else {
        return false;
    };
    let Ok(dep_info) = std::fs::read_to_string(binary.with_extension("d")) else {
        return false;
    };
    let Some(sources) = dep_info_sources(&dep_info) else {
        return false;
    };
    let manifests = [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "xtask/Cargo.toml",
    ]
    .map(|file| root.join(file))
    .into_iter()
    .filter(|file| file.exists());
    let kit_manifests = std::fs::read_dir(root.join("kit"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("Cargo.toml"))
        .filter(|manifest| manifest.exists());
    !sources.is_empty()
        && sources.iter().all(|source| source.starts_with(root))
        && sources
            .into_iter()
            .chain(manifests)
            .chain(kit_manifests)
            .all(|file| modified(&file).is_some_and(|changed| changed <= built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

/// The files of a Makefile-style dep-info line (`target: a b\ c`), `None` if it has no target.
fn dep_info_sources(text: &str) -> Option<Vec<PathBuf>> {
    let line = text.lines().find(|line| !line.trim().is_empty())?;
    let (_, sources) = line.split_once(": ")?;
    let mut files = Vec::new();
    let mut current = String::new();
    let mut chars = sources.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    files.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        files.push(PathBuf::from(current));
    }
    Some(files)
}

/// `cargo build --package xtask`, its output passed on as it comes, plus a heartbeat whenever
/// Cargo has been quiet for [`HEARTBEAT`] (one crate compiling for seconds): on a terminal,
/// Cargo's progress bar redrawn each second with how long it has stood still; elsewhere, a line
/// every few seconds. `Ok(false)`: the build failed (Cargo has said why).
fn build_xtask(root: &Path) -> std::io::Result<bool> {
    let terminal = std::io::stderr().is_terminal();
    let mut command = Command::new(cargo());
    without_launcher_env(&mut command)
        .current_dir(root)
        .args(["build", "--package", "xtask"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if terminal {
        // Cargo sees a pipe: ask for the bar and the colours it would draw on the terminal.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.parse::<u16>().ok())
            .unwrap_or(80);
        command.args([
            "--color=always",
            "--config",
            "term.progress.when='always'",
            "--config",
            &format!("term.progress.width={width}"),
        ]);
    }
    let mut child = command.spawn()?;
    let mut cargo_stderr = child.stderr.take().expect("stderr is piped");
    let shown = Arc::new(Mutex::new(Shown::new()));
    let pump = {
        let shown = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = cargo_stderr.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let mut shown = shown.lock().unwrap();
                let mut stderr = std::io::stderr().lock();
                let _ = stderr.write_all(&buffer[..read]);
                let _ = stderr.flush();
                shown.saw(&buffer[..read]);
            }
        })
    };
    let every = if terminal {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut shown = shown.lock().unwrap();
        let quiet = shown.cargo_wrote.elapsed();
        let due = shown.beat.is_none_or(|beat| beat.elapsed() >= every);
        if quiet < HEARTBEAT || !due {
            continue;
        }
        let note = match (&shown.bar, &shown.compiling) {
            (Some(bar), _) if terminal => {
                // Ending with `\r`, as Cargo's own bar does: its next line clears this one.
                format!("\r\x1b[K{} {}s\r", bar.trim_end(), quiet.as_secs())
            }
            (_, Some(compiling)) => {
                format!("    (still {compiling}: {} s)\n", quiet.as_secs())
            }
            _ => format!("    (still building: {} s)\n", quiet.as_secs()),
        };
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(note.as_bytes());
        let _ = stderr.flush();
        shown.beat = Some(Instant::now());
    };
    let _ = pump.join();
    Ok(status.success())
}

/// How long Cargo may stay quiet before the launcher says the build is still going.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// What Cargo has shown so far.
struct Shown {
    cargo_wrote: Instant,
    /// The last heartbeat since Cargo last wrote.
    beat: Option<Instant>,
    /// The progress bar Cargo last drew (colours included), on a terminal.
    bar: Option<String>,
    /// The last `Compiling …` line, without colours.
    compiling: Option<String>,
    /// The end of the last read, up to the next `\r` or `\n`.
    partial: Vec<u8>,
}

impl Shown {
    fn new() -> Shown {
        Shown {
            cargo_wrote: Instant::now(),
            beat: None,
            bar: None,
            compiling: None,
            partial: Vec::new(),
        }
    }

    fn saw(&mut self, bytes: &[u8]) {
        self.cargo_wrote = Instant::now();
        self.beat = None;
        for &byte in bytes {
            if byte != b'\r' && byte != b'\n' {
                self.partial.push(byte);
                continue;
            }
            let segment = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            let plain = without_colours(&segment);
            if plain.trim_start().starts_with("Building") {
                self.bar = Some(segment);
            } else if plain.trim_start().starts_with("Compiling") {
                self.compiling = Some(plain.trim().replace("Compiling", "compiling"));
            }
        }
    }
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
fn without_colours(text: &str) -> String {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What the alias did before the launcher: Cargo checks and builds xtask, then runs it.
fn cargo_run_xtask(args: &[OsString]) -> ExitCode {
    run(without_launcher_env(&mut Command::new(cargo()))
        .args(["run", "--quiet", "--package", "xtask", "--"])
        .args(args))
}

/// Becomes `command` (the same process: signals, exit status and terminal go straight to it).
#[cfg(unix)]
fn run(command: &mut Command) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let err = command.exec();
    eprintln!("cargo xtask: cannot run {:?}: {err}", command.get_program());
    ExitCode::FAILURE
}

#[cfg(not(unix))]
fn run(command: &mut Command) -> ExitCode {
    match command.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1) as u8),
        Err(err) => {
            eprintln!("cargo xtask: cannot run {:?}: {err}", command.get_program());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_lists_every_source_escaped_spaces_included() {
        let text = "/k/target/debug/xtask: /k/xtask/src/main.rs /k/my\\ kit/a.rs\n\n/k/xtask/src/main.rs:\n";
        assert_eq!(
            dep_info_sources(text).unwrap(),
            [
                PathBuf::from("/k/xtask/src/main.rs"),
                PathBuf::from("/k/my kit/a.rs")
            ]
        );
        assert_eq!(dep_info_sources(""), None);
    }

    #[test]
    fn fresh_only_when_every_source_is_older_than_the_binary_and_inside_the_checkout() {
        let root = std::env::temp_dir().join(format!("launcher-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("xtask/src")).unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        let source = root.join("xtask/src/main.rs");
        std::fs::write(&source, "fn main() {}").unwrap();
        let binary = root.join("target/debug/xtask");
        let dep_info = |sources: &str| {
            std::fs::write(
                binary.with_extension("d"),
                format!("{}: {sources}\n", binary.display()),
            )
            .unwrap()
        };
        dep_info(&source.display().to_string());
        assert!(!is_fresh(&root, &binary), "no binary yet");
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&binary, "").unwrap();
        assert!(is_fresh(&root, &binary));
        dep_info("/elsewhere/src/main.rs");
        assert!(!is_fresh(&root, &binary), "built from another checkout");
        dep_info(&source.display().to_string());
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&source, "fn main() { println!(); }").unwrap();
        assert!(!is_fresh(&root, &binary), "a source changed since");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_bar_and_a_compiling_line_are_told_apart_across_reads() {
        let mut shown = Shown::new();
        shown.saw(b"\x1b[1m\x1b[92m   Compiling\x1b[0m xtask v0.1.0 (/k/xtask)\r\n\x1b[1m\x1b[96m    Buil");
        shown.saw(b"ding\x1b[0m [====> ] 276/277: xtask(bin)   \r");
        assert_eq!(
            shown.compiling.as_deref(),
            Some("compiling xtask v0.1.0 (/k/xtask)")
        );
        assert!(
            shown
                .bar
                .as_deref()
                .unwrap()
                .contains("276/277: xtask(bin)")
        );
    }
}
