//! xtask end to end: the real binary, in a throwaway copy of the kit (`XTASK_ROOT`).
//!
//! Snapshots are inline; after an intended output change, run `cargo insta review`.

use insta_cmd::assert_cmd_snapshot;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A git clone-like copy of the kit's manifest and the Factor VI crates, committed.
fn sandbox() -> TempDir {
    let dir = TempDir::with_prefix("xtask-cli-").unwrap();
    let root = kit_root();
    for file in [
        "factors.toml",
        "exercises/06-processes/Cargo.toml",
        "exercises/06-processes/src/main.rs",
        "exercises/06-processes/src/state.rs",
        "solutions/06-processes/Cargo.toml",
        "solutions/06-processes/src/main.rs",
        "solutions/06-processes/src/state.rs",
    ] {
        let target = dir.path().join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), target).unwrap();
    }
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(
        dir.path(),
        &[
            "-c",
            "user.name=kit",
            "-c",
            "user.email=kit@localhost",
            "commit",
            "--quiet",
            "-m",
            "shipped",
        ],
    );
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Marks factor `slug` as not available in the sandbox's manifest: the kit's own list grows until
/// every factor has an exercise, but the "not available yet" paths must stay tested.
fn without_exercise(kit: &Path, slug: &str) {
    let manifest = kit.join("factors.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let blocks: Vec<String> = text
        .split("[[factor]]")
        .map(|block| {
            if block.contains(&format!("slug = \"{slug}\"")) {
                block.replace("available = true", "available = false")
            } else {
                block.to_string()
            }
        })
        .collect();
    std::fs::write(&manifest, blocks.join("[[factor]]")).unwrap();
}

fn xtask(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .env("XTASK_ROOT", root)
        .env("NO_COLOR", "1")
        .env_remove("USER");
    command
}

#[test]
fn an_unknown_factor_is_a_one_line_usage_error() {
    let kit = sandbox();
    assert_cmd_snapshot!(xtask(kit.path()).args(["check", "13"]), @r#"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: no factor "13": use a number from 1 to 12, a roman numeral (vi) or a name (processes)
    "#);
}

#[test]
fn a_factor_without_an_exercise_yet_is_not_available() {
    let kit = sandbox();
    without_exercise(kit.path(), "codebase");
    // Which factors are available changes as the kit grows; the message's shape does not.
    insta::with_settings!({ filters => vec![(r"available: [0-9, ]+\)", "available: [list])")] }, {
        assert_cmd_snapshot!(xtask(kit.path()).args(["check", "codebase"]), @r"
        success: false
        exit_code: 2
        ----- stdout -----

        ----- stderr -----
        error: Factor I — Codebase is not available yet (available: [list])
        ");
    });
}

#[test]
fn unknown_flags_and_commands_are_one_line_usage_errors() {
    let kit = sandbox();
    assert_cmd_snapshot!(xtask(kit.path()).args(["check", "6", "--frobnicate"]), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: unexpected argument '--frobnicate' found (see `cargo xtask --help`)
    ");
    assert_cmd_snapshot!(xtask(kit.path()).arg("chek"), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: unrecognized subcommand 'chek' (see `cargo xtask --help`)
    ");
    assert_cmd_snapshot!(xtask(kit.path()).arg("hint"), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: the following required arguments were not provided: <FACTOR> (see `cargo xtask --help`)
    ");
}

#[test]
fn hints_are_revealed_one_more_per_call() {
    let kit = sandbox();
    let first = xtask(kit.path()).args(["hint", "6"]).output().unwrap();
    let second = xtask(kit.path()).args(["hint", "vi"]).output().unwrap();
    let again = xtask(kit.path())
        .args(["hint", "processes", "--level", "1"])
        .output()
        .unwrap();
    let text = |output: &std::process::Output| String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        text(&first).starts_with("Factor VI — Processes: hint 1 of 3"),
        "{}",
        text(&first)
    );
    assert!(
        text(&second).starts_with("Factor VI — Processes: hint 2 of 3"),
        "{}",
        text(&second)
    );
    assert!(
        text(&again).starts_with("Factor VI — Processes: hint 1 of 3"),
        "{}",
        text(&again)
    );
    assert_cmd_snapshot!(xtask(kit.path()).args(["hint", "6", "--level", "9"]), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: Factor VI — Processes has hints 1 to 3
    ");
}

#[test]
fn status_json_lists_all_twelve_for_instructors() {
    let kit = sandbox();
    without_exercise(kit.path(), "codebase");
    let output = xtask(kit.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let factors = report["factors"].as_array().unwrap();
    assert_eq!(factors.len(), 12);
    assert_eq!(factors[5]["state"], "not-checked");
    assert_eq!(factors[0]["state"], "unavailable");
    let next = report["next"].as_u64().expect("a next factor") as usize;
    assert_eq!(factors[next - 1]["state"], "not-checked", "{report}");
}

#[test]
fn reset_restores_the_shipped_exercise_and_keeps_a_backup() {
    let kit = sandbox();
    let state = kit.path().join("exercises/06-processes/src/state.rs");
    let shipped = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, "// my attempt\n").unwrap();
    std::fs::write(
        kit.path().join("exercises/06-processes/src/extra.rs"),
        "// my new module\n",
    )
    .unwrap();

    let output = xtask(kit.path()).args(["reset", "6"]).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), shipped);
    assert!(
        !kit.path()
            .join("exercises/06-processes/src/extra.rs")
            .exists()
    );

    let backup_line = stdout
        .lines()
        .find(|line| line.starts_with("Backed up"))
        .unwrap();
    let backup = backup_line
        .rsplit(" to ")
        .next()
        .unwrap()
        .trim_end_matches('.');
    let backup = kit.path().join(backup);
    assert_eq!(
        std::fs::read_to_string(backup.join("src/state.rs")).unwrap(),
        "// my attempt\n"
    );
    assert_eq!(
        std::fs::read_to_string(backup.join("src/extra.rs")).unwrap(),
        "// my new module\n"
    );

    // Again, now that it is as shipped: nothing to back up.
    assert_cmd_snapshot!(xtask(kit.path()).args(["reset", "6"]), @r"
    success: true
    exit_code: 0
    ----- stdout -----
    exercises/06-processes is as shipped already: nothing to reset.

    ----- stderr -----
    ");
    let backups = std::fs::read_dir(kit.path().join(".backups"))
        .unwrap()
        .count();
    assert_eq!(backups, 1, "a reset of an unchanged exercise made a backup");
}

#[test]
fn the_solution_is_not_revealed_unasked_before_green() {
    let kit = sandbox();
    let refused = xtask(kit.path()).args(["solution", "6"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("add --yes"));

    let shown = xtask(kit.path())
        .args(["solution", "6", "--yes"])
        .output()
        .unwrap();
    let diff = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.status.success());
    assert!(
        diff.contains("--- exercises/06-processes/src/state.rs"),
        "{diff}"
    );
    assert!(
        diff.contains("+++ solutions/06-processes/src/state.rs"),
        "{diff}"
    );
    assert!(
        diff.contains("+        Ok(self.redis.clone().incr(VISITS, 1).await?)"),
        "{diff}"
    );
}

/// Stops the services a test started, even when it fails half-way.
struct ServicesGuard<'a>(&'a Path, Vec<(String, String)>);

impl Drop for ServicesGuard<'_> {
    fn drop(&mut self) {
        let _ = xtask(self.0)
            .args(["services", "down", "--backend", "local", "--purge"])
            .envs(self.1.iter().cloned())
            .output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The local backend from nothing: start, start again (a no-op), status, stop.
#[test]
fn local_services_start_idempotently_and_stop() {
    let kit = sandbox();
    let env = vec![
        (
            "DATABASE_URL".to_string(),
            format!(
                "postgres://workshop:workshop@127.0.0.1:{}/noticeboard",
                free_port()
            ),
        ),
        (
            "REDIS_URL".to_string(),
            format!("redis://127.0.0.1:{}", free_port()),
        ),
    ];
    let _guard = ServicesGuard(kit.path(), env.clone());
    let run = |args: &[&str]| {
        let output = xtask(kit.path())
            .args(args)
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text)
    };

    let (code, text) = run(&["services", "up", "--backend", "local"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Starting Postgres from local binaries"),
        "{text}"
    );
    assert!(
        text.contains("✓ Postgres") && text.contains("✓ Redis"),
        "{text}"
    );

    let (code, text) = run(&["services", "up", "--backend", "local"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Postgres already answers") && text.contains("Redis already answers"),
        "{text}"
    );

    let (code, text) = run(&["services", "down", "--backend", "local"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Stopped the local Postgres") && text.contains("Stopped the local Redis"),
        "{text}"
    );

    let (code, text) = run(&["services", "status"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("✗ Postgres") && text.contains("cargo xtask services up"),
        "{text}"
    );
}
