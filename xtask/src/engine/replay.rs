//! The learner's edit loop without Cargo's second start-up.
//!
//! `cargo xtask check N` after an edit would run `cargo test --no-run`, and Cargo spends about
//! 0.2 s loading and resolving the workspace before it finds that one crate changed and runs the
//! same `rustc` command as last time. When only the exercise's own sources changed, xtask runs
//! that exact command itself, recorded from Cargo's `-vv` output the last time Cargo compiled the
//! unit (program, arguments, the variables Cargo set). Cargo's own build stays the reference:
//!
//! - anything else changed since the last build (a `Cargo.toml`, `Cargo.lock`, the harness, a file
//!   no recorded unit reads, a variable a unit's code reads with `env!`), the package has a build
//!   script (it decides for itself when to run again), or a recorded file is missing: Cargo builds,
//!   as before, and the record is renewed;
//! - the replayed unit leaves Cargo's fingerprint stale, so Cargo's next build of it compiles it
//!   again (one compile, never a wrong binary);
//! - the replay holds Cargo's build-directory lock, as Cargo does, so the two never write the same
//!   files at once.
//!
//! The record is a cache under `target/xtask/replay/`: losing it costs one Cargo build.

use crate::engine::testrun::{self, Build};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// One `rustc` run Cargo made for the package: enough to make it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The variables Cargo set for this run (`CARGO_PKG_NAME`, `CARGO_BIN_EXE_…`, …); the rest of
    /// the environment is inherited, as from Cargo.
    pub env: Vec<(String, String)>,
    pub program: String,
    pub args: Vec<String>,
}

impl Invocation {
    fn value_after(&self, flag: &str) -> Option<&str> {
        let at = self.args.iter().position(|arg| arg == flag)?;
        self.args.get(at + 1).map(String::as_str)
    }

    fn codegen(&self, key: &str) -> Option<&str> {
        self.args
            .windows(2)
            .filter(|pair| pair[0] == "-C")
            .find_map(|pair| pair[1].strip_prefix(key)?.strip_prefix('='))
    }

    /// `lib`, `bin` or `test`: a library's dependants must be compiled again with it.
    fn kind(&self) -> &str {
        if self.args.iter().any(|arg| arg == "--test") {
            "test"
        } else {
            self.value_after("--crate-type").unwrap_or("bin")
        }
    }

    /// Which unit this is: the same key for the same target, whatever its hash.
    fn key(&self) -> String {
        format!(
            "{}:{}",
            self.value_after("--crate-name").unwrap_or("?"),
            self.kind()
        )
    }

    /// The dep-info file rustc writes (`--emit=dep-info`): the files this unit read.
    fn dep_info(&self, root: &Path) -> Option<PathBuf> {
        let dir = self.value_after("--out-dir")?;
        let name = self.value_after("--crate-name")?;
        let extra = self.codegen("extra-filename").unwrap_or("");
        Some(root.join(dir).join(format!("{name}{extra}.d")))
    }

    /// `--extern name=path` files: what it links (all must exist).
    fn externs(&self) -> impl Iterator<Item = &str> {
        self.args
            .windows(2)
            .filter(|pair| pair[0] == "--extern")
            .filter_map(|pair| pair[1].split_once('=').map(|(_, path)| path))
    }
}

/// What the last build of a package left to replay.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// When the build that this record describes started (files written later are changes).
    since_nanos: u128,
    /// The factor's `build_env` it ran with.
    build_env: BTreeMap<String, String>,
    units: Vec<Unit>,
    executables: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unit {
    invocation: Invocation,
    warnings: Vec<String>,
}

fn record_path(root: &Path, package: &str) -> PathBuf {
    root.join("target")
        .join("xtask")
        .join("replay")
        .join(format!("{package}.json"))
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

fn load(root: &Path, package: &str) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(root, package)).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(root: &Path, package: &str, record: &Record) {
    // A cache: failing to write it costs a Cargo build next time, nothing else.
    let path = record_path(root, package);
    let Some(dir) = path.parent() else { return };
    let _ = std::fs::create_dir_all(dir);
    let temporary = path.with_extension("json.tmp");
    if let Ok(text) = serde_json::to_string(record)
        && std::fs::write(&temporary, text).is_ok()
    {
        let _ = std::fs::rename(&temporary, &path);
    }
}

/// Set (to anything) to have Cargo build every time.
pub const DISABLE: &str = "XTASK_NO_REPLAY";

/// How a build was made, for `bench` and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Cargo ran (and the record was renewed).
    Cargo,
    /// Nothing changed since the last build: its executables as they are.
    Unchanged,
    /// xtask ran the recorded `rustc` commands of the changed units.
    Replayed,
}

/// `cargo test --no-run -p <package>` for the learner's edit loop (incremental), or its replay.
pub fn build(
    root: &Path,
    package: &str,
    build_env: &BTreeMap<String, String>,
) -> Result<(Build, How)> {
    // For measuring what the replay saves (`cargo xtask bench`), and a way out if it misbehaves.
    let allowed = std::env::var_os(DISABLE).is_none();
    if allowed
        && let Some(record) = load(root, package)
        && record.build_env == *build_env
        && let Some(plan) = plan(root, &record)
    {
        let started = now_nanos();
        if plan.is_empty() {
            return Ok((built(&record), How::Unchanged));
        }
        if let Some(result) = replay(root, package, record, &plan, build_env, started)? {
            return Ok((result, How::Replayed));
        }
    }
    let started = now_nanos();
    let (build, invocations) = testrun::build_recorded(root, package, build_env)?;
    if let Build::Built {
        executables,
        warnings,
    } = &build
    {
        let mut record = load(root, package)
            .filter(|old| old.build_env == *build_env)
            .unwrap_or_default();
        record.since_nanos = started;
        record.build_env = build_env.clone();
        record.executables = executables.clone();
        for invocation in invocations {
            // Cargo's warnings are the package's (its bin's, in practice): keep them with the
            // unit that compiled, so an unchanged build still reports them.
            let warnings = if invocation.kind() == "test" {
                Vec::new()
            } else {
                warnings.clone()
            };
            let key = invocation.key();
            let unit = Unit {
                invocation,
                warnings,
            };
            match record
                .units
                .iter_mut()
                .find(|old| old.invocation.key() == key)
            {
                Some(old) => *old = unit,
                None => record.units.push(unit),
            }
        }
        save(root, package, &record);
    }
    Ok((build, How::Cargo))
}

fn built(record: &Record) -> Build {
    Build::Built {
        executables: record.executables.clone(),
        warnings: record
            .units
            .iter()
            .flat_map(|unit| unit.warnings.clone())
            .collect(),
    }
}

/// Which recorded units to compile again (indexes, in Cargo's order), or `None` when only Cargo
/// can tell: something changed that no recorded unit's sources cover.
fn plan(root: &Path, record: &Record) -> Option<Vec<usize>> {
    if record.units.is_empty() || record.executables.iter().any(|exe| !exe.is_file()) {
        return None;
    }
    let since = SystemTime::UNIX_EPOCH
        + std::time::Duration::from_nanos(u64::try_from(record.since_nanos).ok()?);
    let mut sources = Vec::new();
    for unit in &record.units {
        // A build script decides for itself when to run again (Factor I's watches git's HEAD,
        // outside what xtask looks at): only Cargo can build such a package.
        let manifest_dir = unit
            .invocation
            .env
            .iter()
            .find(|(key, _)| key == "CARGO_MANIFEST_DIR")
            .map(|(_, dir)| PathBuf::from(dir));
        if unit.invocation.env.iter().any(|(key, _)| key == "OUT_DIR")
            || manifest_dir.is_none_or(|dir| dir.join("build.rs").exists())
        {
            return None;
        }
        let dep_info = std::fs::read_to_string(unit.invocation.dep_info(root)?).ok()?;
        let (files, env) = parse_dep_info(&dep_info);
        // A variable the code reads at compile time (`env!`) changed: Cargo rebuilds for that.
        if env.iter().any(|(key, value)| {
            // rustc sees what Cargo sets, over the factor's `build_env`, over this process's
            // environment.
            let now = unit
                .invocation
                .env
                .iter()
                .find(|(set, _)| set == key)
                .map(|(_, value)| value.clone())
                .or_else(|| record.build_env.get(key).cloned())
                .or_else(|| std::env::var(key).ok());
            now.as_deref() != value.as_deref()
        }) {
            return None;
        }
        if unit
            .invocation
            .externs()
            .any(|path| !root.join(path).is_file())
        {
            return None;
        }
        sources.push(
            files
                .into_iter()
                .map(|file| root.join(file))
                .collect::<Vec<_>>(),
        );
    }
    let changed = changed_since(root, since);
    let mut plan = Vec::new();
    for file in &changed {
        let name = file
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if matches!(name, "Cargo.toml" | "Cargo.lock" | "build.rs") {
            return None;
        }
        let owners: Vec<usize> = (0..sources.len())
            .filter(|&index| sources[index].contains(file))
            .collect();
        if owners.is_empty() {
            // Prose no build reads (the book, a README) is not a reason to start Cargo, nor is
            // xtask's own record of the class the learner joined (`room join`, which the board's
            // bench rewrites before each timed check); any other file might be (a new module, a
            // file a macro embeds), so Cargo decides.
            let prose = file.starts_with(root.join("book"))
                || file.extension().is_some_and(|ext| ext == "md");
            if prose || *file == crate::room::post::joined_path(root) {
                continue;
            }
            return None;
        }
        plan.extend(owners);
    }
    // A library's dependants link it: compile every unit after it too.
    if let Some(first_lib) = plan
        .iter()
        .copied()
        .filter(|&index| record.units[index].invocation.kind() == "lib")
        .min()
    {
        plan.extend(first_lib..record.units.len());
    }
    plan.sort_unstable();
    plan.dedup();
    Some(plan)
}

/// Files of the kit written after `since` (Cargo's and git's own folders aside).
fn changed_since(root: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut changed = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                if folder == root && matches!(name.to_str(), Some("target" | ".git" | ".backups")) {
                    continue;
                }
                folders.push(path);
            } else if entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified > since)
            {
                changed.push(path);
            }
        }
    }
    changed
}

/// The files a dep-info (`.d`) file lists, and its `# env-dep:NAME[=value]` lines.
fn parse_dep_info(text: &str) -> (Vec<PathBuf>, Vec<(String, Option<String>)>) {
    let mut files = Vec::new();
    let mut env = Vec::new();
    for line in text.lines() {
        if let Some(dep) = line.strip_prefix("# env-dep:") {
            match dep.split_once('=') {
                Some((key, value)) => env.push((key.to_string(), Some(unescape(value)))),
                None => env.push((dep.to_string(), None)),
            }
        } else if let Some(file) = line.strip_suffix(':')
            && !file.contains(": ")
            && !line.starts_with('#')
        {
            files.push(PathBuf::from(file.replace("\\ ", " ")));
        }
    }
    (files, env)
}

/// rustc escapes newlines and backslashes in env-dep values.
fn unescape(value: &str) -> String {
    value.replace("\\n", "\n").replace("\\\\", "\\")
}

/// Compiles the planned units with their recorded commands. `None`: the replay cannot stand for
/// Cargo's build (a linked crate changed under it): Cargo must build.
fn replay(
    root: &Path,
    package: &str,
    mut record: Record,
    plan: &[usize],
    build_env: &BTreeMap<String, String>,
    started: u128,
) -> Result<Option<Build>> {
    // Cargo's own lock on the build folder, held as Cargo holds it while it builds.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("target").join("debug").join(".cargo-lock"))
        .context("cannot open Cargo's build lock")?;
    lock.lock().context("cannot take Cargo's build lock")?;
    for &index in plan {
        let unit = &record.units[index];
        let mut rustc = Command::new(&unit.invocation.program);
        testrun::without_xtask_env(&mut rustc);
        rustc
            .envs(build_env)
            // Cargo's jobserver is not there to hand out tokens: rustc uses its own.
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS");
        rustc
            .current_dir(root)
            .envs(unit.invocation.env.iter().map(|(k, v)| (k, v)))
            .args(&unit.invocation.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let Ok(output) = rustc.output() else {
            return Ok(None);
        };
        let messages = diagnostics(&String::from_utf8_lossy(&output.stderr));
        if messages.iter().any(|message| message.stale_crate) {
            return Ok(None);
        }
        if !output.status.success() {
            let errors: Vec<String> = messages
                .into_iter()
                .filter(|message| message.level == "error")
                .map(|message| message.rendered)
                .collect();
            if errors.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Build::Failed { errors }));
        }
        record.units[index].warnings = messages
            .into_iter()
            .filter(|message| message.level == "warning")
            .map(|message| message.rendered)
            .collect();
    }
    drop(lock);
    record.since_nanos = started;
    let result = built(&record);
    save(root, package, &record);
    Ok(Some(result))
}

struct Message {
    level: String,
    rendered: String,
    /// rustc could not use a linked crate as it is now (rebuilt, or from another compiler).
    stale_crate: bool,
}

/// rustc's JSON diagnostics (`--error-format=json`, as Cargo asks for them), rendered as Cargo
/// would print them. Summary lines ("aborting due to …") are left out, as Cargo leaves them.
fn diagnostics(stderr: &str) -> Vec<Message> {
    let colour = crate::engine::term::interactive();
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|value| value["$message_type"] == "diagnostic")
        .filter_map(|value| {
            let level = value["level"].as_str()?.to_string();
            let rendered = value["rendered"].as_str()?.trim_end().to_string();
            let plain = anstream::adapter::strip_str(&rendered).to_string();
            if plain.starts_with("error: aborting due to")
                || (plain.starts_with("warning: ")
                    && plain.contains(" warning")
                    && plain.contains("emitted"))
            {
                return None;
            }
            let code = value["code"]["code"].as_str().unwrap_or("");
            Some(Message {
                stale_crate: matches!(
                    code,
                    "E0460" | "E0461" | "E0462" | "E0463" | "E0464" | "E0514"
                ),
                level: if level.starts_with("error") {
                    "error".into()
                } else {
                    level
                },
                rendered: if colour { rendered } else { plain },
            })
        })
        .collect()
}

/// Splits a command line as Cargo's `-vv` prints it (POSIX shell quoting) into words.
pub fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// The `rustc` runs of `package` in Cargo's `-vv` output (`Running \`VAR=… rustc …\``).
pub fn invocations(stderr: &str, package: &str) -> Vec<Invocation> {
    stderr
        .lines()
        .map(|line| anstream::adapter::strip_str(line).to_string())
        .filter_map(|line| {
            let command = line
                .trim_start()
                .strip_prefix("Running `")?
                .strip_suffix('`')?
                .to_string();
            let words = shell_words(&command)?;
            let split = words.iter().position(|word| {
                !word.split_once('=').is_some_and(|(key, _)| {
                    !key.is_empty() && key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                })
            })?;
            let env: Vec<(String, String)> = words[..split]
                .iter()
                .filter_map(|word| word.split_once('='))
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            let program = words[split].clone();
            let is_rustc = Path::new(&program)
                .file_name()
                .is_some_and(|name| name == "rustc");
            let ours = env
                .iter()
                .any(|(key, value)| key == "CARGO_PKG_NAME" && value == package);
            (is_rustc && ours).then(|| Invocation {
                env,
                program,
                args: words[split + 1..].to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_s_quoting_splits_back_into_words() {
        assert_eq!(
            shell_words(
                "A='x y' B= rustc '--warn=clippy::dbg_macro' --cfg 'feature=\"a\"' 'it'\\''s'"
            )
            .unwrap(),
            [
                "A=x y",
                "B=",
                "rustc",
                "--warn=clippy::dbg_macro",
                "--cfg",
                "feature=\"a\"",
                "it's"
            ]
        );
    }

    #[test]
    fn a_running_line_becomes_an_invocation_of_that_package_only() {
        let stderr = "   Compiling ex06-processes v0.1.0 (/kit/exercises/06-processes)\n     \
            Running `CARGO_PKG_NAME=ex06-processes CARGO_PKG_DESCRIPTION='a b' /tc/bin/rustc --crate-name ex06_processes --edition=2024 exercises/06-processes/src/main.rs --crate-type bin --emit=dep-info,link -C extra-filename=-4ad6 --out-dir /kit/target/debug/deps --extern tokio=/kit/target/debug/deps/libtokio-1.rlib`\n     \
            Running `CARGO_PKG_NAME=tokio /tc/bin/rustc --crate-name tokio`\n";
        let found = invocations(stderr, "ex06-processes");
        assert_eq!(found.len(), 1, "{found:?}");
        let unit = &found[0];
        assert_eq!(unit.program, "/tc/bin/rustc");
        assert_eq!(unit.env[1], ("CARGO_PKG_DESCRIPTION".into(), "a b".into()));
        assert_eq!(unit.key(), "ex06_processes:bin");
        assert_eq!(
            unit.dep_info(Path::new("/kit")).unwrap(),
            Path::new("/kit/target/debug/deps/ex06_processes-4ad6.d")
        );
        assert_eq!(
            unit.externs().collect::<Vec<_>>(),
            ["/kit/target/debug/deps/libtokio-1.rlib"]
        );
    }

    /// A kit with one recorded unit reading `pkg/src/main.rs`, built "now".
    fn recorded_kit() -> (tempfile::TempDir, Record) {
        let kit = tempfile::tempdir().unwrap();
        let root = kit.path();
        for file in [
            "pkg/src/main.rs",
            "pkg/Cargo.toml",
            "book/src/x.md",
            "target/checks",
        ] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), "").unwrap();
        }
        std::fs::write(
            root.join("target/main-1.d"),
            "target/main-1: pkg/src/main.rs\n\npkg/src/main.rs:\n",
        )
        .unwrap();
        let invocation = Invocation {
            env: vec![(
                "CARGO_MANIFEST_DIR".into(),
                root.join("pkg").display().to_string(),
            )],
            program: "rustc".into(),
            args: [
                "--crate-name",
                "main",
                "--crate-type",
                "bin",
                "--out-dir",
                "target",
                "-C",
                "extra-filename=-1",
            ]
            .map(String::from)
            .to_vec(),
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let record = Record {
            since_nanos: now_nanos(),
            build_env: BTreeMap::new(),
            units: vec![Unit {
                invocation,
                warnings: vec![],
            }],
            executables: vec![root.join("target/checks")],
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        (kit, record)
    }

    #[test]
    fn only_the_units_whose_sources_changed_are_replayed_and_anything_else_means_cargo() {
        let (kit, record) = recorded_kit();
        let root = kit.path();
        assert_eq!(plan(root, &record), Some(vec![]), "nothing changed");
        std::fs::write(root.join("book/src/x.md"), "prose").unwrap();
        assert_eq!(
            plan(root, &record),
            Some(vec![]),
            "the book is not built by Cargo"
        );
        std::fs::write(root.join(".room.json"), "{}").unwrap();
        assert_eq!(
            plan(root, &record),
            Some(vec![]),
            "joining a class board (`room join`) is not a change to the build"
        );
        std::fs::write(root.join("pkg/src/main.rs"), "fn main() {}").unwrap();
        assert_eq!(plan(root, &record), Some(vec![0]));
        std::fs::write(root.join("pkg/src/new.rs"), "").unwrap();
        assert_eq!(plan(root, &record), None, "a file no unit read yet");
        std::fs::remove_file(root.join("pkg/src/new.rs")).unwrap();
        std::fs::write(root.join("pkg/Cargo.toml"), "[package]").unwrap();
        assert_eq!(plan(root, &record), None, "the manifest");
        let (kit, record) = recorded_kit();
        std::fs::write(kit.path().join("pkg/build.rs"), "fn main() {}").unwrap();
        let record = Record {
            since_nanos: now_nanos(),
            ..record
        };
        assert_eq!(
            plan(kit.path(), &record),
            None,
            "a package with a build script"
        );
    }

    #[test]
    fn dep_info_lists_the_files_and_the_variables_read() {
        let text = "/kit/target/debug/deps/x-1.d: src/main.rs src/a\\ b.rs\n\nsrc/main.rs:\nsrc/a\\ b.rs:\n\n# env-dep:CANARY=one\\ntwo\n# env-dep:UNSET\n";
        let (files, env) = parse_dep_info(text);
        assert_eq!(
            files,
            [PathBuf::from("src/main.rs"), PathBuf::from("src/a b.rs")]
        );
        assert_eq!(
            env,
            [
                ("CANARY".into(), Some("one\ntwo".into())),
                ("UNSET".into(), None)
            ]
        );
    }
}
