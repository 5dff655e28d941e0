//! `verify`'s finished-app step: every factor's checks, judging the finished noticeboard.
//!
//! The checks of a factor are compiled once, with its exercise, and judge any app xtask points them
//! at (`KIT_APP_PACKAGE`, `KIT_APP_BIN_DIR`, `KIT_APP_MANIFEST_DIR`: how `verify` judges the
//! solutions). Here they judge `noticeboard/`, the app with all twelve factors applied, the way a
//! platform runs it:
//!
//! - **Attached resources.** Each snapshot needs only some backing services, and its checks give
//!   the app only those; the finished app needs Postgres and Redis wherever it runs, and a release
//!   id. So every check runs with a Postgres database of its own (migrated, holding three
//!   notifications) and a Redis database index of its own, handed to every process it starts
//!   through `KIT_APP_ENV` (`kit_harness::app`). A check's own settings win: a check that gives the
//!   app a fresh database or Redis is judged on those.
//! - **The release phase.** Factors III, VIII, IX and X give each process an empty database and
//!   expect the app to create its tables; the finished app leaves that to `migrate` (Factor XII). For
//!   those factors the judged `noticeboard` is a launcher that runs `migrate` first, as a platform's
//!   release phase does, then `exec`s the real binary (same process, same pid, same signals).
//! - **Process types.** Checks that judge the whole app (Factor II's: does the webhook call come
//!   from the app itself?) start every process type the package's `Procfile` declares
//!   (`kit_harness::procfile`), so the worker that delivers to the webhook (Factor VIII) runs
//!   beside the web process, as on a platform.
//! - **Binary names.** The checks name admin binaries `<package>-migrate`; the finished app's are
//!   `migrate` and `reset-visits`, the names a Procfile and a Kubernetes Job run. The judged folder
//!   links one name to the other.
//! - **Factor I's package.** Factor I's checks run every binary of the package as a web deploy;
//!   the finished package also builds the admin processes Factor XII adds, which are no deploy of
//!   their own. Its checks judge a view of the package: a copy of it, sources and all, whose
//!   manifest declares the app binary only (`target/finished/view/`, inside the repository so git
//!   still answers); this step checks the package itself: exactly the app and the two admin
//!   binaries.
//!
//! Every check must pass. Where two snapshots' contracts differ (201 or 202 for a new
//! notification, the visit count in Postgres or Redis, the webhook called by the web process or a
//! worker), the checks judge what the factor's rule names, so they judge both sides; the
//! finished app's README lists each difference. The "fails fast naming the variable" checks
//! cannot fail here (the platform attaches every variable); [`fails_fast`] judges the same rule
//! directly.

use crate::engine::manifest::{Factor, Manifest};
use crate::engine::testrun::{self, Build, Judged, Outcome};
use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The finished app's package and folder.
pub const PACKAGE: &str = "noticeboard";

/// How many checks run at once (each with its own database and Redis index).
const PARALLEL: usize = 8;

/// Checks about one missing variable: the platform attaches everything but that one, so the
/// check sees the app without it, as the factor's snapshot is run. (factor, check, variable).
const WITHHELD: &[(u8, &str, &str)] = &[
    (
        3,
        "stops_at_once_naming_database_url_when_it_is_unset",
        "DATABASE_URL",
    ),
    (
        3,
        "a_dotenv_file_fills_in_what_the_environment_lacks",
        "DATABASE_URL",
    ),
    (
        4,
        "without_redis_url_the_app_stops_and_names_it",
        "REDIS_URL",
    ),
    (
        5,
        "stops_at_once_naming_release_id_when_it_is_unset",
        "RELEASE_ID",
    ),
    (
        10,
        "development_without_database_url_refuses_to_start",
        "DATABASE_URL",
    ),
];

/// The factors whose checks give each process an empty database of their own and expect the app
/// to work on it: the launcher runs the release phase (`migrate`) first.
const RELEASE_PHASE: &[u8] = &[3, 8, 9, 10];

pub fn check(root: &Path, manifest: &Manifest) -> Result<String> {
    let binaries = build(root, manifest)?;
    package_builds_the_app_and_its_admin_processes(root)?;
    let fail_fast = fails_fast(&binaries)?;
    let folders = Folders::create(root, &binaries)?;
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let (mut passed, mut total) = (0, 0);
    for factor in manifest.available() {
        let outcomes = run_factor(root, factor, &folders)?;
        let judged = judge(factor, &outcomes);
        passed += judged.passed;
        total += outcomes.len();
        lines.push(judged.line);
        problems.extend(judged.problems);
    }
    if !problems.is_empty() {
        bail!("{}\n{}", lines.join("\n"), problems.join("\n"));
    }
    Ok(format!(
        "all {passed} of {total} checks pass; {fail_fast}\n{}",
        lines.join("\n")
    ))
}

/// The finished app's binaries, built as `check` builds a solution (with every factor's
/// `build_env`: Factor V's canary must not end up in the binary).
struct Binaries {
    web: PathBuf,
    migrate: PathBuf,
    reset_visits: PathBuf,
}

fn build(root: &Path, manifest: &Manifest) -> Result<Binaries> {
    let mut build_env = BTreeMap::new();
    for factor in manifest.available() {
        build_env.extend(factor.build_env.clone());
    }
    match testrun::build_app(root, PACKAGE, &build_env)? {
        Build::Failed { errors } => bail!("{PACKAGE} does not compile:\n{}", errors.join("\n")),
        Build::Built { warnings, .. } => ensure!(
            warnings.is_empty(),
            "{PACKAGE} compiles with warnings:\n{}",
            warnings.join("\n")
        ),
    }
    let dir = root.join("target/debug");
    Ok(Binaries {
        web: dir.join("noticeboard"),
        migrate: dir.join("migrate"),
        reset_visits: dir.join("reset-visits"),
    })
}

/// Factor I, on the package itself: one app binary, plus the admin processes of Factor XII, and
/// nothing else (no copy of the app per deploy).
fn package_builds_the_app_and_its_admin_processes(root: &Path) -> Result<()> {
    let output = testrun::cargo_command()
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(root)
        .output()?;
    ensure!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == PACKAGE)
        .context("cargo metadata does not list the noticeboard package")?;
    let mut binaries: Vec<&str> = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|target| target["name"].as_str())
        .collect();
    binaries.sort_unstable();
    ensure!(
        binaries == ["migrate", "noticeboard", "reset-visits"],
        "Factor I: the noticeboard package must build one app binary (`noticeboard`) and the admin \
         processes of Factor XII (`migrate`, `reset-visits`), nothing else; Cargo lists {binaries:?}"
    );
    Ok(())
}

/// Factor III's "fail fast": each process, given everything it needs but one required variable,
/// stops within 2 s with a failure status and one line on stderr naming the variable, and prints no
/// secret. (The factors' own checks of this cannot fail here: the platform attaches every variable.)
fn fails_fast(binaries: &Binaries) -> Result<String> {
    const SECRET: &str = "s3cr3t-finished-step";
    let database = format!("postgres://ada:{SECRET}@127.0.0.1:1/noticeboard");
    let redis = format!("redis://ada:{SECRET}@127.0.0.1:1/3");
    let cases: [(&Path, &[&str], &[&str]); 5] = [
        (
            &binaries.web,
            &["web"],
            &["DATABASE_URL", "REDIS_URL", "RELEASE_ID"],
        ),
        (
            &binaries.web,
            &["worker"],
            &["DATABASE_URL", "WEBHOOK_URL", "RELEASE_ID"],
        ),
        (&binaries.migrate, &[], &["DATABASE_URL"]),
        (&binaries.reset_visits, &[], &["REDIS_URL"]),
        (&binaries.web, &["web"], &["PORT"]),
    ];
    let mut count = 0;
    for (binary, args, required) in cases {
        for missing in required {
            let mut env = BTreeMap::from([
                ("DATABASE_URL", database.as_str()),
                ("REDIS_URL", redis.as_str()),
                ("RELEASE_ID", "v1"),
                ("WEBHOOK_URL", "http://127.0.0.1:1/hook"),
                ("PATH", "/usr/bin:/bin"),
                ("RUST_BACKTRACE", "1"),
            ]);
            // PORT is optional (8080); a malformed one must stop the process naming it.
            let broken = if *missing == "PORT" {
                env.insert("PORT", "not-a-port");
                "malformed"
            } else {
                env.remove(missing);
                "missing"
            };
            let scratch = tempfile::tempdir()?;
            let started = Instant::now();
            let mut child = Command::new(binary)
                .args(args.iter())
                .env_clear()
                .envs(&env)
                .current_dir(scratch.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let status = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if started.elapsed() > Duration::from_secs(2) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let output = child.wait_with_output()?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let who = format!(
                "`{} {}` with {missing} {broken}",
                file_name(binary),
                args.join(" ")
            );
            let Some(status) = status else {
                bail!(
                    "{who} was still running after 2 s: a required variable must stop it at once"
                );
            };
            ensure!(!status.success(), "{who} exited 0; it must fail");
            ensure!(
                stderr.trim().lines().count() == 1 && stderr.contains(missing),
                "{who}: stderr must be one line naming {missing}; it was {stderr:?}"
            );
            ensure!(
                !stderr.contains(SECRET) && !stdout.contains(SECRET),
                "{who} printed a password"
            );
            count += 1;
        }
    }
    Ok(format!(
        "{count} missing or malformed variables stop their process naming them"
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The folders the checks judge: `plain/` (the binaries under the names the checks use),
/// `release/` (the same, with the web binary behind the release-phase launcher), and Factor I's
/// `view/` of the package.
struct Folders {
    plain: PathBuf,
    release: PathBuf,
    view: PathBuf,
}

impl Folders {
    fn create(root: &Path, binaries: &Binaries) -> Result<Folders> {
        let base = root.join("target/finished");
        let folders = Folders {
            plain: base.join("plain"),
            release: base.join("release"),
            view: base.join("view"),
        };
        for dir in [&folders.plain, &folders.release, &folders.view] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir)?;
        }
        for dir in [&folders.plain, &folders.release] {
            for (name, target) in [
                ("noticeboard-migrate", &binaries.migrate),
                ("noticeboard-reset-visits", &binaries.reset_visits),
            ] {
                std::os::unix::fs::symlink(target, dir.join(name))?;
            }
        }
        std::os::unix::fs::symlink(&binaries.web, folders.plain.join(PACKAGE))?;
        // A platform's release phase, then the process itself: `exec` keeps the pid, so signals
        // and /proc reach the app. Absolute paths only: some checks run with an empty PATH.
        let launcher = folders.release.join(PACKAGE);
        std::fs::write(
            &launcher,
            format!(
                "#!/bin/sh\n\
                 # The release phase (migrate), then the process: see xtask/src/gate/finished.rs.\n\
                 case \"$1\" in\n  \"\"|web|worker)\n    if [ -n \"$DATABASE_URL\" ]; then \
                 /usr/bin/timeout 3 '{migrate}' >/dev/null 2>&1; fi ;;\nesac\nexec '{web}' \"$@\"\n",
                migrate = binaries.migrate.display(),
                web = binaries.web.display()
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))?;
        write_view(root, &folders.view)?;
        Ok(folders)
    }
}

/// Factor I's view: a copy of the package (its sources, build script, migrations, everything but
/// build products) whose manifest declares the one deploy binary only, so a check that copies the
/// package's folder elsewhere (Factor I's fresh commit) gets all it needs. Its manifest is the
/// package's own with a `[workspace]` of its own, holding what the package inherits from the
/// kit's (package fields, dependency specs with absolute paths, lints): Cargo reads it where it
/// is, and never looks for the kit's workspace. `target/` is ignored by git, so git answers in
/// the view as for the package itself (same `HEAD`, nothing changed).
fn write_view(root: &Path, view: &Path) -> Result<()> {
    let package_dir = root.join(PACKAGE);
    copy_tree(&package_dir, view)?;
    let read = |path: &Path| -> Result<toml::Table> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} does not parse", path.display()))
    };
    let mut manifest = read(&package_dir.join("Cargo.toml"))?;
    let kit = read(&root.join("Cargo.toml"))?;
    let mut inherited = kit
        .get("workspace")
        .and_then(toml::Value::as_table)
        .cloned()
        .context("the kit's Cargo.toml has no [workspace]")?;
    for key in ["members", "default-members", "exclude"] {
        inherited.remove(key);
    }
    if let Some(toml::Value::Table(dependencies)) = inherited.get_mut("dependencies") {
        for (_, spec) in dependencies.iter_mut() {
            if let Some(toml::Value::String(path)) = spec.get_mut("path") {
                *path = root.join(&*path).display().to_string();
            }
        }
    }
    manifest.insert("workspace".into(), toml::Value::Table(inherited));
    let Some(toml::Value::Array(bins)) = manifest.get_mut("bin") else {
        bail!("noticeboard/Cargo.toml declares no [[bin]]");
    };
    bins.retain(|bin| bin.get("name").and_then(toml::Value::as_str) == Some(PACKAGE));
    ensure!(
        bins.len() == 1,
        "noticeboard/Cargo.toml declares no [[bin]] named {PACKAGE}"
    );
    std::fs::write(
        view.join("Cargo.toml"),
        format!(
            "# Written by `cargo xtask verify` (xtask/src/gate/finished.rs): Factor I's view of \
             the noticeboard package, its one deploy binary.\n{}",
            toml::to_string(&manifest)?
        ),
    )?;
    Ok(())
}

/// Copies the folder `from` to `to`, leaving out build products (`target/`) and any `.git`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &dest)?;
        } else {
            std::fs::copy(&source, &dest)
                .with_context(|| format!("cannot copy {}", source.display()))?;
        }
    }
    Ok(())
}

/// Runs each of the factor's checks on its own, with a database and a Redis index of its own.
fn run_factor(root: &Path, factor: &Factor, folders: &Folders) -> Result<Vec<Outcome>> {
    let exercise = Factor::package(root, &factor.exercise)?;
    let executables = match testrun::build(root, &exercise, true, &factor.build_env)? {
        Build::Failed { errors } => {
            bail!("{exercise}'s checks do not compile:\n{}", errors.join("\n"))
        }
        Build::Built { executables, .. } => executables,
    };
    let cwd = root.join(&factor.exercise);
    let mut work = Vec::new();
    for executable in &executables {
        for name in list(executable, &cwd)? {
            work.push((executable.clone(), name));
        }
    }
    let bin_dir = if RELEASE_PHASE.contains(&factor.number) {
        &folders.release
    } else {
        &folders.plain
    };
    let manifest_dir = if factor.number == 1 {
        folders.view.clone()
    } else {
        root.join(PACKAGE)
    };
    let queue = Mutex::new(work.into_iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((executable, name)) = next else {
                        break;
                    };
                    let withheld = WITHHELD
                        .iter()
                        .filter(|(number, test, _)| *number == factor.number && *test == name)
                        .map(|(_, _, variable)| *variable)
                        .collect::<Vec<_>>();
                    let result = run_one(
                        &executable,
                        &cwd,
                        &name,
                        bin_dir,
                        &manifest_dir,
                        folders,
                        &withheld,
                    );
                    results.lock().unwrap().push((name, result));
                }
            });
        }
    });
    let mut outcomes = Vec::new();
    for (name, result) in results.into_inner().unwrap() {
        outcomes.extend(result.with_context(|| format!("{}: `{name}`", factor.heading()))?);
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(outcomes)
}

fn run_one(
    executable: &Path,
    cwd: &Path,
    name: &str,
    bin_dir: &Path,
    manifest_dir: &Path,
    folders: &Folders,
    withheld: &[&str],
) -> Result<Vec<Outcome>> {
    let attached = Attached::new(&folders.plain)?;
    let judged = Judged {
        package: PACKAGE.into(),
        manifest_dir: manifest_dir.to_path_buf(),
        bin_dir: Some(bin_dir.to_path_buf()),
        attached: attached
            .env()
            .into_iter()
            .filter(|(key, _)| !withheld.contains(&key.as_str()))
            .collect(),
    };
    testrun::run(executable, cwd, Some(name), Some(&judged))
}

/// The tests a check binary holds.
fn list(executable: &Path, cwd: &Path) -> Result<Vec<String>> {
    let output = Command::new(executable)
        .args(["--list", "--format", "terse"])
        .current_dir(cwd)
        .stderr(Stdio::null())
        .output()?;
    ensure!(
        output.status.success(),
        "{} --list failed",
        executable.display()
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

/// A database (migrated, three notifications on the board) and a Redis index for one check,
/// removed when dropped (the harness's own leases: parallel-safe with any other check run).
struct Attached {
    database: kit_harness::TestDatabase,
    redis: kit_harness::TestRedis,
}

impl Attached {
    fn new(plain: &Path) -> Result<Attached> {
        let (database, redis) = std::panic::catch_unwind(|| {
            (
                kit_harness::TestDatabase::new(),
                kit_harness::TestRedis::new(),
            )
        })
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default();
            anyhow::anyhow!("cannot attach a database and a Redis index: {message}")
        })?;
        let migrate = Command::new(plain.join("noticeboard-migrate"))
            .env_clear()
            .env("DATABASE_URL", database.url())
            .env("RUST_LOG", "warn")
            .output()?;
        ensure!(
            migrate.status.success(),
            "`migrate` failed on a fresh database: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        // The board a deploy starts with: Factor XI's checks read notifications 1 to 3.
        database.execute(
            "INSERT INTO notifications (name, message) VALUES \
             ('ada', 'Street party on Saturday'), ('grace', 'Lost cat: ginger'), \
             ('linus', 'Bake sale at noon')",
        );
        Ok(Attached { database, redis })
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), self.database.url()),
            ("REDIS_URL".into(), self.redis.url()),
            ("RELEASE_ID".into(), "finished-verify".into()),
        ]
    }
}

/// A factor's outcomes on the finished app: every check must pass.
struct Judgement {
    passed: usize,
    line: String,
    problems: Vec<String>,
}

fn judge(factor: &Factor, outcomes: &[Outcome]) -> Judgement {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|outcome| !outcome.passed).collect();
    let problems = failed
        .iter()
        .map(|outcome| {
            format!(
                "  ✗ {} `{}` fails on the finished app:\n{}",
                factor.heading(),
                outcome.name,
                crate::engine::term::indent(&outcome.explanation, 6)
            )
        })
        .collect();
    let passed = outcomes.len() - failed.len();
    let line = if failed.is_empty() {
        format!("  {:>4}: {passed} of {} pass", factor.roman, outcomes.len())
    } else {
        let names: Vec<&str> = failed.iter().map(|outcome| outcome.name.as_str()).collect();
        format!(
            "  {:>4}: {passed} of {} pass; failing: {}",
            factor.roman,
            outcomes.len(),
            names.join(", ")
        )
    };
    Judgement {
        passed,
        line,
        problems,
    }
}
