//! Checks for Factor I — Codebase, run against `exercises/01-codebase` and
//! `solutions/01-codebase` alike.
//!
//! They judge the package as Cargo builds it and as its binaries behave, never its source. Cargo
//! says which binaries the package builds (`cargo metadata`). Each of them is started as staging,
//! as production and as a deploy the checks invent on the spot, with nothing but environment
//! variables to tell the deploys apart. What `GET /version` names is compared with what git says
//! about the repository the package lives in.

use kit_harness::app::READY_TIMEOUT;
use kit_harness::fresh_copy::FreshCopy;
use kit_harness::{App, AppBuilder, Binary, Lesson, Package, app_package_dir, lesson};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

fn codebase() -> &'static Lesson {
    lesson(1)
}

/// What Cargo says the package builds (asked once per test binary).
fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(|| Package::inspect(app_package_dir!()))
}

/// Every binary the package builds: the checks below run each of them, so that a copy of the app
/// cannot hide behind another.
#[track_caller]
fn binaries() -> &'static [Binary] {
    let binaries = package().binaries();
    codebase().ensure(!binaries.is_empty(), "the-fix", || {
        format!(
            "Cargo builds no binary from package {}: there is no app to deploy",
            package().name()
        )
    });
    for binary in binaries {
        assert!(
            binary.path.is_file(),
            "Cargo lists the binary {} but it is not at {}; rebuild with `cargo xtask check 1`",
            binary.name,
            binary.path.display()
        );
    }
    binaries
}

/// The variable that gives a deploy its banner: the name Factor V and the finished app use too.
const BANNER: &str = "NOTICEBOARD_BANNER";

/// The banner the staging deploy shows (its copy of the app in the exercise has it written in).
const STAGING_BANNER: &str = "STAGING: test data, wiped every night";

/// One deploy: nothing but the environment it gives the app.
struct Deploy {
    name: String,
    banner: Option<String>,
}

impl Deploy {
    fn staging() -> Deploy {
        Deploy {
            name: "staging".into(),
            banner: Some(STAGING_BANNER.into()),
        }
    }

    fn production() -> Deploy {
        Deploy {
            name: "production".into(),
            banner: None,
        }
    }

    /// A deploy no code can know about: a random name and a random banner.
    fn invented() -> Deploy {
        Deploy {
            name: format!("preview-{}", random_hex()),
            banner: Some(format!(
                "Preview {}: for the design review only",
                random_hex()
            )),
        }
    }

    /// `DEPLOY_NAME=staging NOTICEBOARD_BANNER="…"`, as a failure message shows it.
    fn env(&self) -> String {
        match &self.banner {
            Some(banner) => format!("DEPLOY_NAME={} {BANNER}={banner:?}", self.name),
            None => format!("DEPLOY_NAME={}, no {BANNER}", self.name),
        }
    }
}

fn random_hex() -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new()
        .hash_one((std::time::SystemTime::now(), std::process::id()));
    format!("{:08x}", random as u32)
}

/// Starts `binary` as `deploy` and waits until it answers `GET /health`; what happened if it
/// does not.
fn start(binary: &Binary, deploy: &Deploy) -> Result<App, String> {
    let mut builder = AppBuilder::new(&binary.path)
        .name(format!("{} as deploy {}", binary.name, deploy.name))
        .env("DEPLOY_NAME", &deploy.name)
        .env("RUST_LOG", "warn");
    if let Some(banner) = &deploy.banner {
        builder = builder.env(BANNER, banner);
    }
    let mut app = builder.start();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if matches!(app.try_get("/health"), Ok(reply) if reply.is_success()) {
            return Ok(app);
        }
        if let Some(status) = app.poll_exit() {
            return Err(format!(
                "it exited ({status}) before it answered GET /health; its output:\n{}",
                app.tail(8)
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "it did not answer GET /health within {READY_TIMEOUT:?}; its output:\n{}",
                app.tail(8)
            ));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[track_caller]
fn start_or_fail(binary: &Binary, deploy: &Deploy, section: &str) -> App {
    start(binary, deploy).unwrap_or_else(|err| {
        codebase().fail(
            section,
            format!(
                "{} did not start as deploy {} ({}): {}\n  Every deploy runs the same build with an \
                 environment of its own; this one could not start with the one it was given.",
                binary.name,
                deploy.name,
                deploy.env(),
                err.trim_end()
            ),
        )
    })
}

/// What is wrong with the homepage `binary` serves as `deploy`, if anything.
fn homepage_problem(binary: &Binary, app: &App, deploy: &Deploy) -> Option<String> {
    let home = app.get("/");
    let shows = |text: &str| home.body.contains(text);
    let problem = if home.status != 200 {
        format!("answered GET / with {}", home.status)
    } else if !shows(&deploy.name) {
        format!("does not name deploy {} on its homepage", deploy.name)
    } else if let Some(banner) = deploy.banner.as_ref().filter(|banner| !shows(banner)) {
        format!("does not show the banner it was given ({banner:?})")
    } else if deploy.banner.is_none() && shows(STAGING_BANNER) {
        format!("shows staging's banner, though it was given no {BANNER}")
    } else {
        return None;
    };
    Some(format!(
        "{}, started as deploy {} ({}), {problem}; GET / answered {:?}.",
        binary.name,
        deploy.name,
        deploy.env(),
        home.body
    ))
}

/// A note for messages about a package that still builds several binaries.
fn several_note() -> String {
    match binaries().len() {
        1 => String::new(),
        count => format!(
            "\n  (Cargo builds {count} binaries from this package, {}; the checks run each of them.)",
            names(binaries())
        ),
    }
}

fn names(binaries: &[Binary]) -> String {
    binaries
        .iter()
        .map(|binary| binary.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One codebase, one app: the package builds one binary, which every deploy runs.
#[test]
fn the_package_builds_one_app_binary() {
    let binaries = binaries();
    codebase().ensure(binaries.len() == 1, "the-anti-pattern", || {
        format!(
            "Cargo builds {} binaries from package {}: {}. A binary per deploy is a build per \
             deploy: what runs in staging is not what runs in production, and the code behind each \
             can drift apart unnoticed (as the exercise's two copies did). One codebase makes one \
             app: build it once, and let every deploy run that build with its own config.",
            binaries.len(),
            package().name(),
            names(binaries)
        )
    });
}

/// The binary staging runs and the binary production runs are the same file; only their
/// environment differs.
#[test]
fn the_same_binary_runs_as_staging_and_as_production() {
    let mut problems = Vec::new();
    for binary in binaries() {
        for deploy in [Deploy::staging(), Deploy::production()] {
            let app = start_or_fail(binary, &deploy, "one-app-many-deploys");
            problems.extend(homepage_problem(binary, &app, &deploy));
        }
    }
    codebase().ensure(problems.is_empty(), "one-app-many-deploys", || {
        format!(
            "{}\n  A binary that shows another deploy's name or banner has its deploy's settings \
             written in, and can only ever be the deploy it was made for. Staging and production \
             must run one build, each told by its environment which deploy it is.{}",
            problems.join("\n"),
            several_note()
        )
    });
}

/// A deploy nobody planned (a preview, a new region) takes config, not code: the checks invent
/// one with a random name and banner, which no `match` on known deploy names can foresee.
#[test]
fn a_new_deploy_needs_config_not_code() {
    let deploy = Deploy::invented();
    let mut problems = Vec::new();
    for binary in binaries() {
        match start(binary, &deploy) {
            Ok(app) => problems.extend(homepage_problem(binary, &app, &deploy)),
            Err(err) => problems.push(format!(
                "{} did not start as deploy {} ({}): {}",
                binary.name,
                deploy.name,
                deploy.env(),
                err.trim_end()
            )),
        }
    }
    codebase().ensure(problems.is_empty(), "one-app-many-deploys", || {
        format!(
            "{}\n  The check invented this deploy: no code can know its name, so its settings can \
             only come from its environment. Settings picked in code by deploy name (a `match` on \
             \"staging\" and \"production\") cannot serve it, and neither can a binary per deploy.{}",
            problems.join("\n"),
            several_note()
        )
    });
}

/// `POST /notifications` takes a notification with `201 Created` (stored: this snapshot's answer)
/// or `202 Accepted` (stored, delivered later by a worker: Factor VIII and the finished app).
/// Both say the notice is on the board; this factor is about where the code comes from, not which.
const CREATED: u16 = 201;
const ACCEPTED: u16 = 202;

/// What one deploy answered to `GET /notifications?limit=3` after five notifications.
struct Page {
    who: String,
    messages: Vec<String>,
}

/// Posts five notifications and asks for the newest three.
#[track_caller]
fn newest_three_of_five(app: &App) -> Vec<String> {
    for number in 1..=5 {
        let reply = app.post_json(
            "/notifications",
            &json!({ "name": "ada", "message": format!("notice {number}") }),
        );
        assert!(
            [CREATED, ACCEPTED].contains(&reply.status),
            "POST /notifications on {} answered {} {:?}; the contract is {CREATED} (or {ACCEPTED})",
            app.name(),
            reply.status,
            reply.body
        );
    }
    let reply = app.get("/notifications?limit=3");
    let messages: Option<Vec<String>> = reply.json::<Vec<Value>>().and_then(|list| {
        list.iter()
            .map(|item| item["message"].as_str().map(str::to_owned))
            .collect()
    });
    match messages {
        Some(messages) if reply.status == 200 => messages,
        _ => panic!(
            "GET /notifications?limit=3 on {} answered {} {:?}; the contract is 200 with a JSON \
             list of {{\"id\", \"name\", \"message\"}}",
            app.name(),
            reply.status,
            reply.body
        ),
    }
}

/// A bug fixed once is fixed for every deploy, because every deploy runs the same code.
#[test]
fn a_bug_fixed_once_is_fixed_in_every_deploy() {
    let expected = ["notice 5", "notice 4", "notice 3"];
    let mut pages = Vec::new();
    for binary in binaries() {
        for deploy in [Deploy::staging(), Deploy::production(), Deploy::invented()] {
            let app = start_or_fail(binary, &deploy, "why-it-matters");
            pages.push(Page {
                who: format!("{} as deploy {}", binary.name, deploy.name),
                messages: newest_three_of_five(&app),
            });
        }
    }
    let right = |page: &Page| page.messages == expected;
    codebase().ensure(pages.iter().all(right), "why-it-matters", || {
        let mut table = String::new();
        for page in &pages {
            let _ = write!(
                table,
                "\n    {}: {} {:?}",
                page.who,
                if right(page) { "right" } else { "WRONG" },
                page.messages
            );
        }
        let lesson = if pages.iter().any(right) {
            "The same request gets different answers from different deploys: a fix made in one \
             copy of the code never reached the other. With one codebase and one build, a fix \
             reaches every deploy at once."
        } else {
            "Every deploy gets it wrong, yet the exercise's staging copy had this bug fixed: the fix \
             was lost when the copies became one. Keep it, and every deploy has it."
        };
        format!(
            "after 5 notifications, GET /notifications?limit=3 must answer the newest 3, newest \
             first ({expected:?}). The deploys answered:{table}\n  {lesson}"
        )
    });
}

/// Runs `git <command>` (arguments separated by spaces) in the package's directory.
fn try_git(command: &str) -> Result<String, String> {
    package().git(&command.split(' ').collect::<Vec<_>>())
}

/// Like [`try_git`]; a check cannot judge the commit without git, so it stops here.
#[track_caller]
fn git(command: &str) -> String {
    try_git(command).unwrap_or_else(|err| {
        panic!(
            "Factor I's checks compare the app's answer with git, and git could not answer: {err}. \
             Install git and work in a git clone of the kit"
        )
    })
}

/// Every deploy can say which commit of the codebase it runs, and whether its files differed
/// from that commit: what the kit's own git says.
#[test]
fn every_deploy_names_the_commit_it_was_built_from() {
    let head = git("rev-parse HEAD").trim().to_string();
    let package_changes: Vec<String> = git("status --porcelain -- .")
        .lines()
        .map(str::to_owned)
        .collect();
    let tree_clean = git("status --porcelain").trim().is_empty();
    for binary in binaries() {
        for deploy in [Deploy::staging(), Deploy::production(), Deploy::invented()] {
            let app = start_or_fail(binary, &deploy, "which-commit-is-this");
            let who = format!("{} as deploy {}", binary.name, deploy.name);
            let reply = app.get("/version");
            let body = reply.json::<Value>().unwrap_or(Value::Null);
            let Some(commit) = body["commit"].as_str().filter(|_| reply.status == 200) else {
                codebase().fail(
                    "which-commit-is-this",
                    format!(
                        "{who} answered GET /version with {} {:?}: no \"commit\". Nobody can tell \
                         which code this deploy runs, or trace it back to the codebase (git says \
                         HEAD is {head}).{}",
                        reply.status,
                        reply.body,
                        several_note()
                    ),
                );
            };
            if commit != head {
                let hex = !commit.is_empty() && commit.chars().all(|c| c.is_ascii_hexdigit());
                let known = hex && try_git(&format!("cat-file -e {commit}^{{commit}}")).is_ok();
                let why = if commit == "unknown" {
                    "the build did not find git or the repository (in a git worktree, `.git` is a \
                     file that points to the real repository; ask git where its files are)"
                        .to_string()
                } else if known {
                    format!(
                        "{commit} is an older commit of this repository: the binary was not \
                         rebuilt when HEAD moved (a commit written into the code, or a build \
                         script that does not rerun when git's HEAD, index or refs change)"
                    )
                } else {
                    format!(
                        "this repository has no commit {commit:?}: the commit must come from git \
                         when the binary is built, not be written by hand"
                    )
                };
                codebase().fail(
                    "which-commit-is-this",
                    format!(
                        "{who} answered GET /version with commit {commit:?}, but \
                         `git rev-parse HEAD` says {head}: {why}"
                    ),
                );
            }
            let Some(dirty) = body["dirty"].as_bool() else {
                codebase().fail(
                    "which-commit-is-this",
                    format!(
                        "{who} answered GET /version with {:?}: \"dirty\" must be true or false",
                        reply.body
                    ),
                );
            };
            codebase().ensure(
                dirty || package_changes.is_empty(),
                "which-commit-is-this",
                || {
                    format!(
                        "{who} says it is built from {head} with \"dirty\": false, but \
                     `git status --porcelain` lists changes to the package's files:\n    {}\n  A \
                     binary built from uncommitted files must say so: the commit alone does not \
                     describe the code it runs.",
                        package_changes
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n    ")
                    )
                },
            );
            codebase().ensure(!dirty || !tree_clean, "which-commit-is-this", || {
                format!(
                    "{who} says \"dirty\": true, but `git status --porcelain` lists no change at \
                     all: the files are exactly those of commit {head}"
                )
            });
        }
    }
}

/// What one binary of the throwaway copy answered to `GET /version`: the commit, or why none.
fn version_of(binary: &Binary, deploy: &Deploy) -> Result<(String, Option<bool>), String> {
    let app = start(binary, deploy)?;
    let reply = app.get("/version");
    let body = reply.json::<Value>().unwrap_or(Value::Null);
    match body["commit"].as_str().filter(|_| reply.status == 200) {
        Some(commit) => Ok((commit.to_string(), body["dirty"].as_bool())),
        None => Err(format!(
            "it answered GET /version with {} {:?}: no \"commit\"",
            reply.status, reply.body
        )),
    }
}

/// The commit comes from git when the binary is built, and again whenever `HEAD` moves: a build
/// made from a fresh commit in a throwaway copy of the package names that commit, once the copy
/// (and with it any repository) is out of reach. A commit written into the code, a build script
/// that does not rerun when `HEAD` moves, and an app that asks git when it runs all name another.
#[test]
fn a_build_from_a_fresh_commit_names_that_commit_out_of_reach() {
    let section = "which-commit-is-this";
    let mut copy = FreshCopy::new(Path::new(app_package_dir!())).unwrap_or_else(|err| {
        panic!("the check could not make a throwaway copy of the package: {err}")
    });
    let committed = |copy: &FreshCopy, message: &str| {
        copy.commit(message).unwrap_or_else(|err| {
            panic!("Factor I's checks commit a throwaway copy, and git could not: {err}")
        })
    };
    let built = |copy: &FreshCopy, what: &str| {
        if let Err(errors) = copy.build() {
            codebase().fail(
                section,
                format!(
                    "a copy of the package's folder, committed to a repository of its own, does \
                     not build ({what}): one codebase holds everything its build needs. Cargo \
                     said:\n{errors}"
                ),
            );
        }
    };
    let first = committed(&copy, "a throwaway copy of the package");
    built(&copy, "the first build");
    let second = committed(&copy, "HEAD moves, no file changes");
    built(&copy, "after HEAD moved");
    let deploy = Deploy::production();
    let in_reach: Vec<Result<(String, Option<bool>), String>> = copy
        .binaries()
        .iter()
        .map(|binary| version_of(binary, &deploy))
        .collect();
    copy.put_out_of_reach()
        .unwrap_or_else(|err| panic!("the check could not hide the throwaway copy: {err}"));
    let how = format!(
        "A copy of the package was committed to a throwaway repository ({}), built, committed again \
         (HEAD moved from {} to {}, no file changed) and built again; then the copy was moved out \
         of reach and its binaries run.",
        copy.dir().display(),
        short(&first),
        short(&second)
    );
    for (binary, seen_in_reach) in copy.binaries().iter().zip(in_reach) {
        let who = format!("{} (built from the copy)", binary.name);
        let (commit, dirty) = match version_of(binary, &deploy) {
            Ok(answer) => answer,
            Err(why) => {
                codebase().fail(section, format!("{how}\n  {who}: {why}.{}", several_note()))
            }
        };
        if commit != second {
            let asked_at_run_time = matches!(&seen_in_reach, Ok((named, _)) if *named == second);
            let kit_commit = !commit.is_empty()
                && commit.chars().all(|c| c.is_ascii_hexdigit())
                && try_git(&format!("cat-file -e {commit}^{{commit}}")).is_ok();
            let why = if asked_at_run_time {
                format!(
                    "it named {} while the copy was in place, and {commit:?} once it was out of \
                     reach: it asks git when it runs (a path to the checkout baked in at build \
                     time). A deploy runs where there is no repository: the build must ask git, \
                     and compile the answer in",
                    short(&second)
                )
            } else if commit == first {
                format!(
                    "it names {}, the commit of the first build: the build script did not run \
                     again when HEAD moved. Cargo reruns a build script only when a file it names \
                     with `cargo::rerun-if-changed` changes: name git's HEAD, index and the ref \
                     HEAD points to (`git rev-parse --git-path ...` says where they are)",
                    short(&first)
                )
            } else if kit_commit {
                format!(
                    "it names {commit}, a commit of the kit's own repository, not of the copy it \
                     was built from: the commit is written into the code, or read from the kit's \
                     checkout, instead of asked of git by the build"
                )
            } else if commit == "unknown" {
                "the build did not find git or the repository it was built in".to_string()
            } else {
                format!(
                    "it names {commit:?}, which is neither commit: the commit must come from git \
                     when the binary is built, not be written by hand"
                )
            };
            codebase().fail(
                section,
                format!(
                    "{how}\n  {who} answered GET /version with commit {commit:?}, but the copy's \
                     HEAD is {second}: {why}.{}",
                    several_note()
                ),
            );
        }
        codebase().ensure(dirty == Some(false), section, || {
            format!(
                "{how}\n  {who} names commit {second}, and \"dirty\": {}; the copy's files were \
                 exactly those of that commit, so \"dirty\" must be false.",
                dirty.map_or("missing".to_string(), |dirty| dirty.to_string())
            )
        });
    }
}

/// The first 12 characters of a commit, as a message shows it.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
