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

/// How many hints factor `number` has in the kit's manifest (tests never hard-code it).
fn hint_count(kit: &Path, number: u8) -> usize {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(kit.join("factors.toml")).unwrap()).unwrap();
    manifest["factor"]
        .as_array()
        .unwrap()
        .iter()
        .find(|factor| factor["number"].as_integer() == Some(i64::from(number)))
        .and_then(|factor| factor["hints"].as_array())
        .map_or(0, Vec::len)
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
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
    // A kit that is still growing: Factor I not available yet (whatever the real manifest says).
    let manifest = kit.path().join("factors.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let (before, after) = text.split_once("slug = \"codebase\"").unwrap();
    let after = after.replacen("available = true", "available = false", 1);
    std::fs::write(&manifest, format!("{before}slug = \"codebase\"{after}")).unwrap();
    assert_cmd_snapshot!(xtask(kit.path()).args(["check", "codebase"]), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: Factor I — Codebase is not available yet (available: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    ");
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
    assert_cmd_snapshot!(xtask(kit.path()).args(["hint", "6", "--level"]), @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: a value is required for '--level <LEVEL>' but none was supplied (see `cargo xtask --help`)
    ");
}

/// `check`, `hint` and `solution` without a factor act on the next one, as `watch` does: in a
/// fresh kit, Factor I.
#[test]
fn a_command_without_a_factor_acts_on_the_next_one() {
    let kit = sandbox();
    let output = xtask(kit.path()).arg("hint").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("Factor I — Codebase: hint 1 of"),
        "{stdout}"
    );
}

#[test]
fn hints_are_revealed_one_more_per_call() {
    let kit = sandbox();
    let count = hint_count(kit.path(), 6);
    assert!(count >= 3, "Factor VI has {count} hints");
    let first = xtask(kit.path()).args(["hint", "6"]).output().unwrap();
    let second = xtask(kit.path()).args(["hint", "vi"]).output().unwrap();
    let again = xtask(kit.path())
        .args(["hint", "processes", "--level", "1"])
        .output()
        .unwrap();
    let text = |output: &std::process::Output| String::from_utf8(output.stdout.clone()).unwrap();
    for (output, level) in [(&first, 1), (&second, 2), (&again, 1)] {
        assert!(
            text(output).starts_with(&format!("Factor VI — Processes: hint {level} of {count}")),
            "{}",
            text(output)
        );
    }
    // Hint 2 was read already: re-reading hint 1 points to hint 2, not to plain `hint 6` (hint 3).
    assert!(
        text(&again).contains("`cargo xtask hint 6 --level 2` shows the next one"),
        "{}",
        text(&again)
    );
    let output = xtask(kit.path())
        .args(["hint", "6", "--level", &(count + 1).to_string()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        format!("error: Factor VI — Processes has hints 1 to {count}")
    );
}

#[test]
fn status_json_lists_all_twelve_for_instructors() {
    let kit = sandbox();
    let output = xtask(kit.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let factors = report["factors"].as_array().unwrap();
    assert_eq!(factors.len(), 12);
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(kit.path().join("factors.toml")).unwrap()).unwrap();
    for (factor, listed) in factors.iter().zip(manifest["factor"].as_array().unwrap()) {
        let expected = if listed["available"].as_bool() == Some(true) {
            "not-checked"
        } else {
            "unavailable"
        };
        assert_eq!(factor["state"], expected, "{factor}");
        assert!(factor["checks_edited"].is_array(), "{factor}");
    }
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

/// With a target folder shared between clones (`CARGO_TARGET_DIR`), the xtask binary may have been
/// built in another clone: the kit is the one around the working folder, never a compiled-in path.
#[test]
fn the_kit_is_found_from_the_working_folder() {
    let kit = sandbox();
    std::fs::create_dir_all(kit.path().join("xtask")).unwrap();
    let manifest = kit.path().join("factors.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // Mark the first hint of Factor VI in this copy only.
    let (before, after) = text.split_once("number = 6").unwrap();
    let after = after.replacen(
        "hints = [\n    \"\"\"",
        "hints = [\n    \"\"\"THIS SANDBOX'S HINT. ",
        1,
    );
    let text = format!("{before}number = 6{after}");
    std::fs::write(&manifest, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["hint", "6", "--level", "1"])
        .current_dir(kit.path().join("exercises/06-processes"))
        .env_remove("XTASK_ROOT")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("THIS SANDBOX'S HINT."), "{stdout}");

    let outside = TempDir::with_prefix("xtask-outside-").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("status")
        .current_dir(outside.path())
        .env_remove("XTASK_ROOT")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not inside a Twelve-Factor Rust checkout"),
        "{stderr}"
    );
}

/// `cargo xtask … | head -2`: the reader goes away, the command ends quietly with its own code.
#[test]
fn a_closed_pipe_ends_quietly_with_the_commands_exit_code() {
    use std::process::Stdio;
    let kit = sandbox();
    for (args, code) in [(&["status"][..], 0), (&["hint", "6"][..], 0)] {
        let mut child = xtask(kit.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// A copy of the kit with everything the book is built from, committed as shipped.
fn book_sandbox() -> TempDir {
    let dir = TempDir::with_prefix("xtask-book-").unwrap();
    copy_book_sources(dir.path());
    dir
}

/// Copies what the book is built from into `dir` and commits it there.
fn copy_book_sources(dir: &Path) {
    let root = kit_root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "--",
            "book",
            "exercises",
            "solutions",
            "kit",
            "noticeboard",
            "deploy",
            // The messages of xtask's own that the book quotes (`<!-- output: message … -->`).
            "xtask/src",
        ])
        .args([
            "factors.toml",
            "docker-compose.yml",
            "Cargo.lock",
            "Cargo.toml",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(listed.status.success());
    for file in String::from_utf8(listed.stdout).unwrap().lines() {
        let target = dir.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        // A file deleted in the kit's working tree is not shipped in the copy either.
        if root.join(file).is_file() {
            std::fs::copy(root.join(file), target).unwrap();
        }
    }
    // The kit is found by its factors.toml and xtask/ folder.
    std::fs::create_dir_all(dir.join("xtask")).unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "."]);
    git(
        dir,
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
}

/// A learner's right fix of Factor I deletes `src/bin/staging.rs`, and edits elsewhere drop the
/// `ANCHOR:` lines the book quotes: the local book still builds, and shows the shipped snippets,
/// not the learner's code.
#[test]
fn the_book_builds_from_the_shipped_exercises_whatever_the_learner_changed() {
    let kit = book_sandbox();
    let exercises = kit.path().join("exercises");
    std::fs::remove_file(exercises.join("01-codebase/src/bin/staging.rs")).unwrap();
    let config = exercises.join("03-config/src/config.rs");
    let shipped_config = std::fs::read_to_string(&config).unwrap();
    assert!(
        shipped_config.contains("ANCHOR: literal"),
        "the book quotes this anchor"
    );
    std::fs::write(&config, "// my own config, no anchors: LEARNER_EDIT\n").unwrap();
    let state = exercises.join("06-processes/src/state.rs");
    std::fs::rename(&state, state.with_file_name("store.rs")).unwrap();

    let built = xtask(kit.path()).arg("book").output().unwrap();
    assert!(
        built.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let page =
        |name: &str| std::fs::read_to_string(kit.path().join("target/book").join(name)).unwrap();
    let staging = std::fs::read_to_string(
        kit.path()
            .join("target/book-shipped/exercises/01-codebase/src/bin/staging.rs"),
    )
    .unwrap();
    let banner = staging
        .lines()
        .find(|line| line.starts_with("const BANNER"))
        .and_then(|line| line.split('"').nth(1))
        .unwrap()
        .to_string();
    assert!(
        page("01-codebase.html").contains(&banner),
        "the shipped staging.rs is quoted"
    );
    assert!(!page("03-config.html").contains("LEARNER_EDIT"));
    // The learner's working tree is untouched.
    assert!(!exercises.join("01-codebase/src/bin/staging.rs").exists());
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("LEARNER_EDIT")
    );
}

/// Offline, with no mdBook installed (an empty tools cache, none on `PATH`): a kit inside an
/// offline pack uses the pack's mdBook; any other kit says in one line what to do, and exits 1.
#[test]
fn offline_without_mdbook_the_book_uses_the_packs_or_says_what_to_do() {
    if dirs_mdbook().is_none() {
        // A fresh machine: `cargo xtask book` installs the pinned mdBook (once, a few minutes).
        let mut book = Command::new(env!("CARGO_BIN_EXE_xtask"));
        assert!(
            book.arg("book")
                .current_dir(kit_root())
                .status()
                .unwrap()
                .success()
        );
    }
    let mdbook = dirs_mdbook().expect("the pinned mdBook, in the user's tools cache");
    let pack = TempDir::with_prefix("xtask-pack-").unwrap();
    let kit = pack.path().join("twelve-factor-rust");
    copy_book_sources(&kit);
    let cache = TempDir::with_prefix("xtask-cache-").unwrap();
    let offline = |dir: &Path| {
        let mut command = xtask(dir);
        command
            .arg("book")
            .env("CARGO_NET_OFFLINE", "true")
            .env("XDG_CACHE_HOME", cache.path())
            .env("PATH", "/usr/bin:/bin");
        command.output().unwrap()
    };

    let told = offline(&kit);
    let stderr = String::from_utf8_lossy(&told.stderr);
    assert_eq!(told.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("offline") && stderr.contains("book/index.html"),
        "{stderr}"
    );

    std::fs::create_dir_all(pack.path().join("tools/bin")).unwrap();
    std::fs::copy(&mdbook, pack.path().join("tools/bin/mdbook")).unwrap();
    let built = offline(&kit);
    assert!(
        built.status.success() && kit.join("target/book/index.html").is_file(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// The pinned mdBook in the user's tools cache, where `cargo xtask book` installs it.
fn dirs_mdbook() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let mdbook = cache.join("twelve-factor-rust/tools/bin/mdbook");
    mdbook.is_file().then_some(mdbook)
}

/// The processes whose working folder is inside `dir` (the platform runs its formation there).
fn processes_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(dir) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{} {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// A Procfile whose web process is a tiny Python server (200 on every GET, exit 0 on SIGTERM), so
/// the platform can be tested without building an app.
fn platform_sandbox(release: &str, web: &str) -> TempDir {
    let kit = sandbox();
    let app = kit.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("web.py"),
        "import http.server, os, signal, sys\n\
         signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n\
         class Ok(http.server.BaseHTTPRequestHandler):\n    \
             def do_GET(self):\n        \
                 self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n    \
             def log_message(self, *args):\n        \
                 print('served', self.path, flush=True)\n\
         http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Ok).serve_forever()\n",
    )
    .unwrap();
    std::fs::write(
        app.join("Procfile"),
        format!(
            "web: {web}\nworker: sleep 600\nrelease: {release}\n",
            web = web.replace("WEB_PY", &app.join("web.py").display().to_string())
        ),
    )
    .unwrap();
    kit
}

/// `cargo xtask deploy`: the release phase, then the formation behind HAProxy with every line
/// prefixed by its process; SIGINT (Ctrl-C) stops every process and leaves nothing running.
#[test]
fn deploy_runs_the_formation_and_ctrl_c_leaves_nothing_running() {
    use std::io::{BufRead, BufReader};
    let kit = platform_sandbox("echo migrated", "python3 -u WEB_PY");
    let mut child = xtask(kit.path())
        .args(["deploy", "--procfile", "app/Procfile", "--scale", "web=2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("deploy ended before it was up: {seen:#?}");
        };
        seen.push(line.clone());
        if let Some((_, rest)) = line.split_once("is up: ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(
        seen.iter().any(|line| line.contains("release  | migrated")),
        "the release phase ran first, its output prefixed: {seen:#?}"
    );
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut answer = String::new();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut stream, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 200"),
        "through HAProxy: {answer}"
    );
    assert!(
        processes_under(kit.path()).len() >= 3,
        "web.1, web.2 and worker.1 run"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("web.1: exit 0")),
        "{status}: {rest:#?}"
    );
    assert!(
        rest.iter()
            .any(|line| line.contains("worker.1: killed by SIGTERM")),
        "{rest:#?}"
    );
    assert_eq!(processes_under(kit.path()), Vec::<String>::new());
}

/// A step that fails (a web process that never gets ready) stops what was started, says why, and
/// leaves nothing running; a failed release phase starts nothing.
#[test]
fn deploy_after_a_failed_step_leaves_nothing_running() {
    let kit = platform_sandbox("echo migrated", "echo 'cannot bind' && exit 3");
    let output = xtask(kit.path())
        .args(["deploy", "--procfile", "app/Procfile"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("web.1 exited before it was ready (exit 3)")
            && stderr.contains("cannot bind"),
        "{stderr}"
    );
    assert_eq!(processes_under(kit.path()), Vec::<String>::new());

    let kit = platform_sandbox("echo 'no database' && exit 2", "python3 -u WEB_PY");
    let output = xtask(kit.path())
        .args(["deploy", "--procfile", "app/Procfile"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the release phase") && stderr.contains("exit 2"),
        "{stderr}"
    );
    assert_eq!(processes_under(kit.path()), Vec::<String>::new());
}
