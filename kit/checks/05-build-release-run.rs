//! Checks for Factor V — Build, release, run, run against `exercises/05-build-release-run` and
//! `solutions/05-build-release-run` alike.
//!
//! The three stages, as the checks stage them:
//!
//! - **Build.** `cargo xtask check 5` builds the package once, with a canary in the build
//!   environment for every setting of the contract (`build_env` in `factors.toml`:
//!   `NOTICEBOARD_BANNER=canary-…`, `RELEASE_ID=canary-…`, ...). Config read by the compiler
//!   would land in the binary: no canary may be in its bytes.
//! - **Release.** That one binary runs as several releases, each with its own `RELEASE_ID` and
//!   banner in its environment; each must behave and report as its own config says, with the
//!   commit of the one build.
//! - **Run.** A copy of the binary runs from an empty release directory with the kit's checkout out
//!   of reach, and must serve exactly what the binary serves in place.
//!
//! How "out of reach" works, without privileges and safely in parallel: a path the compiler
//! wrote into the binary (`env!("CARGO_MANIFEST_DIR")`) is an absolute path into the checkout, so
//! running a copy from elsewhere proves nothing. The copy's bytes have every occurrence of the
//! checkout's path replaced with a path of the same length to an empty directory of the check's own
//! (padded with `/`, which paths ignore). A binary that reads its source tree at run time then
//! finds nothing there, and answers differently from the binary run in place. No file of the
//! checkout is touched, so other checks running at the same time are unaffected.

use kit_harness::{App, AppBuilder, Lesson, app_binary, kit_root, lesson};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

fn build_release_run() -> &'static Lesson {
    lesson(5)
}

/// The build-time variable the exercise compiles in, and the canary xtask puts in it.
const BANNER: &str = "NOTICEBOARD_BANNER";

/// What the build environment held in each setting of the contract when this check file was
/// compiled. The app was built by the same cargo run, with the same environment. Every setting the
/// app reads at run time gets a canary, so that no `option_env!` fallback, for any of them, passes.
const BUILT_WITH: &[(&str, Option<&str>)] = &[
    ("NOTICEBOARD_BANNER", option_env!("NOTICEBOARD_BANNER")),
    ("RELEASE_ID", option_env!("RELEASE_ID")),
    ("PORT", option_env!("PORT")),
    ("RUST_LOG", option_env!("RUST_LOG")),
];

/// What the build environment held in `NOTICEBOARD_BANNER`.
const BUILT_BANNER: Option<&str> = option_env!("NOTICEBOARD_BANNER");

/// How long a release may take to stop when its config is incomplete.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The canaries of `factors.toml`, one per setting of the contract, as `(setting, canary)`; fails
/// unless this build really had each of them in its environment.
#[track_caller]
fn canaries() -> Vec<(&'static str, &'static str)> {
    let build_env = &build_release_run().build_env;
    BUILT_WITH
        .iter()
        .map(|&(setting, built_with)| {
            let Some(canary) = build_env.get(setting) else {
                panic!(
                    "factors.toml gives Factor V no canary for {setting} in its `build_env`: every \
                     setting of the contract needs one"
                );
            };
            if built_with != Some(canary.as_str()) {
                panic!(
                    "this check needs the build that `cargo xtask check 5` makes: with \
                     {setting}={canary:?} in the build environment (factors.toml, `build_env`), \
                     so that it can look for that value in the binary. This build had {}. Run \
                     `cargo xtask check 5` (`--solution` for the reference), not `cargo test`.",
                    built_with.map_or("no such variable".to_string(), |value| format!(
                        "{setting}={value:?}"
                    ))
                );
            }
            (setting, canary.as_str())
        })
        .collect()
}

/// A value no build could have guessed, e.g. `v7-4242-123456789`.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// One release of the build: the binary with this release's config.
fn release(binary: impl AsRef<Path>, name: &str, id: &str, banner: Option<&str>) -> AppBuilder {
    let builder = AppBuilder::new(binary)
        .name(name)
        .env("RELEASE_ID", id)
        .env("RUST_LOG", "warn");
    match banner {
        Some(banner) => builder.env(BANNER, banner),
        None => builder,
    }
}

/// Starts `builder` and waits until `GET /health` answers; `Err` says what happened instead, and
/// holds on to the process so that a failing check still shows its output and environment.
fn start(builder: AppBuilder) -> Result<App, (Box<App>, String)> {
    let mut app = builder.start();
    let deadline = Instant::now() + kit_harness::app::READY_TIMEOUT;
    loop {
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            return Ok(app);
        }
        if let Some(status) = app.poll_exit() {
            let why = format!(
                "it exited ({status}) before it answered GET /health; its output:\n{}",
                app.tail(8)
            );
            return Err((Box::new(app), why));
        }
        if Instant::now() >= deadline {
            let why = format!(
                "it did not answer GET /health within {:?}; its output:\n{}",
                kit_harness::app::READY_TIMEOUT,
                app.tail(8)
            );
            return Err((Box::new(app), why));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `GET /release`, as `(release, commit)`; `Err` quotes what came back instead.
#[track_caller]
fn release_info(app: &App) -> Result<(String, String), String> {
    let reply = app.get("/release");
    let body = reply.json::<Value>();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|body| body[name].as_str())
            .map(str::to_owned)
    };
    match (reply.status, field("release"), field("commit")) {
        (200, Some(release), Some(commit)) => Ok((release, commit)),
        (status, ..) => Err(format!(
            "{} answered GET /release with {status} {:?}; the contract is 200 with \
             {{\"release\": \"<RELEASE_ID>\", \"commit\": \"<the build's commit>\"}}",
            app.name(),
            app.mask(&reply.body)
        )),
    }
}

/// Where `needle` occurs in `haystack`.
fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let Some((&first, _)) = needle.split_first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut at = 0;
    // `memchr`-style: jump to each occurrence of the first byte, then compare.
    while let Some(offset) = haystack[at..].iter().position(|&byte| byte == first) {
        let start = at + offset;
        if haystack[start..].starts_with(needle) {
            found.push(start);
        }
        at = start + 1;
    }
    found
}

/// The file or folder of the checkout that the path starting at `start` names (for a message).
/// Strings in a binary are not terminated, so this is the longest path-like prefix that exists.
fn path_at(bytes: &[u8], start: usize, root_len: usize) -> String {
    let end = bytes[start..]
        .iter()
        .position(|&byte| !(byte.is_ascii_alphanumeric() || b"/._-".contains(&byte)))
        .map_or(bytes.len(), |length| start + length)
        .min(start + 240);
    let text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
    (root_len..=text.len())
        .rev()
        .filter(|&length| text.is_char_boundary(length))
        .map(|length| &text[..length])
        .find(|path| Path::new(path).exists())
        .unwrap_or(&text[..root_len.min(text.len())])
        .to_string()
}

/// At most the first 300 characters of `text`, for a message.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[track_caller]
fn read_binary() -> Vec<u8> {
    std::fs::read(app_binary!())
        .unwrap_or_else(|err| panic!("cannot read the app binary {}: {err}", app_binary!()))
}

/// The build: config in the build environment must not end up in the artefact.
#[test]
fn the_build_environment_stays_out_of_the_binary() {
    let canaries = canaries();
    let bytes = read_binary();
    let found: Vec<(&str, &str, usize)> = canaries
        .iter()
        .map(|&(setting, canary)| (setting, canary, find_all(&bytes, canary.as_bytes()).len()))
        .filter(|&(.., count)| count > 0)
        .collect();
    build_release_run().ensure(found.is_empty(), "the-anti-pattern", || {
        let settings: Vec<&str> = found.iter().map(|&(setting, ..)| setting).collect();
        let seen: Vec<String> = found
            .iter()
            .map(|(setting, canary, count)| {
                format!(
                    "the package was built with {setting}={canary:?} in the build environment, \
                     and the binary contains {canary:?} ({count} time(s))"
                )
            })
            .collect();
        format!(
            "{}: the compiler copied the build machine's config into the artefact \
             (`option_env!`/`env!` run at compile time). Every release of this build carries it; \
             read {} when the process starts, with no fallback to a value from the build",
            seen.join("; "),
            settings.join(" and ")
        )
    });
}

/// The release: one binary, two releases, each with its own config and id.
#[test]
fn one_build_runs_as_two_releases_with_their_own_config() {
    let banner = "Street party on Saturday, bring a chair";
    let (id_a, id_b) = (unique("v7"), unique("v8"));
    let binary = app_binary!();
    let a = match start(release(binary, "release A", &id_a, Some(banner))) {
        Ok(app) => app,
        Err((_app, why)) => build_release_run().fail(
            "the-fix",
            format!("release A (RELEASE_ID={id_a}, {BANNER}={banner:?}) did not start: {why}"),
        ),
    };
    let b = match start(release(binary, "release B", &id_b, None)) {
        Ok(app) => app,
        Err((_app, why)) => build_release_run().fail(
            "the-fix",
            format!(
                "release B (RELEASE_ID={id_b}, no {BANNER}: the banner is optional) did not \
                 start: {why}"
            ),
        ),
    };

    let mut problems = Vec::new();
    let (home_a, home_b) = (a.get("/"), b.get("/"));
    for (app, home) in [(&a, &home_a), (&b, &home_b)] {
        if home.status != 200 {
            problems.push(format!(
                "{} answered GET / with {}: {:?}",
                app.name(),
                home.status,
                app.mask(&home.body)
            ));
        }
    }
    let build_banner = BUILT_BANNER.filter(|value| !value.is_empty());
    let shows_build_banner = |body: &str| build_banner.is_some_and(|value| body.contains(value));
    if !home_a.body.contains(banner) {
        problems.push(format!(
            "release A was started with {BANNER}={banner:?}, and its homepage does not show it{}",
            if shows_build_banner(&home_a.body) {
                format!(
                    "; it shows {:?}, the value the build environment held",
                    build_banner.unwrap_or_default()
                )
            } else {
                format!(" (the page: {:?})", a.mask(&excerpt(&home_a.body)))
            }
        ));
    }
    if home_b.body.contains(banner) {
        problems.push(format!(
            "release B was started without {BANNER}, and its homepage shows release A's banner \
             {banner:?}"
        ));
    }
    if shows_build_banner(&home_b.body) {
        problems.push(format!(
            "release B was started without {BANNER}, and its homepage shows {:?}, the value the \
             build environment held: the build's config is still in the binary, as the value or as \
             a fallback",
            build_banner.unwrap_or_default()
        ));
    }
    for (app, id) in [(&a, &id_a), (&b, &id_b)] {
        match release_info(app) {
            Ok((reported, _)) if &reported == id => {}
            Ok((reported, _)) => problems.push(format!(
                "{} was started with RELEASE_ID={id}, and GET /release says it is release \
                 {reported:?}: the release id must come from the release's environment, not from \
                 the build",
                app.name()
            )),
            Err(why) => problems.push(why),
        }
    }
    build_release_run().ensure(problems.is_empty(), "the-fix", || {
        format!(
            "the same binary, run as two releases with different config, must behave as each \
             release's config says:\n  - {}",
            problems.join("\n  - ")
        )
    });
}

/// The release id belongs to the release; the commit belongs to the build.
#[test]
fn every_release_reports_the_commit_of_its_build() {
    let (id_a, id_b) = (unique("v7"), unique("v8"));
    let binary = app_binary!();
    let mut reports = Vec::new();
    for (name, id) in [("release A", &id_a), ("release B", &id_b)] {
        let app = match start(release(binary, name, id, None)) {
            Ok(app) => app,
            Err((_app, why)) => build_release_run().fail(
                "the-exercise",
                format!("{name} (RELEASE_ID={id}) did not start: {why}"),
            ),
        };
        match release_info(&app) {
            Ok(report) => reports.push(report),
            Err(why) => build_release_run().fail("the-exercise", why),
        }
    }
    let (commit_a, commit_b) = (&reports[0].1, &reports[1].1);
    build_release_run().ensure(
        !commit_a.trim().is_empty() && commit_a == commit_b,
        "the-exercise",
        || {
            format!(
                "two releases of one binary report the commits {commit_a:?} and {commit_b:?}: the \
                 commit identifies the build, so every release of it reports the same one, and \
                 it is never empty (build.rs records it)"
            )
        },
    );
    build_release_run().ensure(
        commit_a != &id_a && commit_a != &id_b,
        "the-exercise",
        || {
            format!(
                "GET /release reports the release id {commit_a:?} as the commit too; the commit \
                 is the build's (build.rs records it), the release id the release's"
            )
        },
    );
}

/// The release: without its id, a release is incomplete and must not run.
#[test]
fn stops_at_once_naming_release_id_when_it_is_unset() {
    let mut app = AppBuilder::new(app_binary!())
        .name("a release without RELEASE_ID")
        .env("RUST_BACKTRACE", "1")
        .start();
    let deadline = Instant::now() + STOP_TIMEOUT;
    let status = loop {
        if let Some(status) = app.poll_exit() {
            break status;
        }
        if app.try_get("/health").is_ok_and(|reply| reply.is_success()) {
            let claims = app
                .try_get("/release")
                .map_or_else(|err| err, |reply| app.mask(&reply.body));
            build_release_run().fail(
                "the-fix",
                format!(
                    "started without RELEASE_ID, the app runs and serves anyway (GET /release: \
                     {claims}): it found a release id somewhere other than its environment \
                     (compiled in, or in a file). A release is the build plus its config: read \
                     RELEASE_ID from the environment, and stop with an error naming it when it is \
                     missing"
                ),
            );
        }
        if Instant::now() >= deadline {
            build_release_run().fail(
                "the-fix",
                format!(
                    "started without RELEASE_ID, the app neither stopped nor served within \
                     {STOP_TIMEOUT:?}; its output:\n{}",
                    app.tail(8)
                ),
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let output = app.output();
    build_release_run().ensure(!status.success(), "the-fix", || {
        format!(
            "started without RELEASE_ID, the app exited with success ({status}); a release \
             missing its id must fail, so the platform sees the deploy fail"
        )
    });
    build_release_run().ensure(output.contains("RELEASE_ID"), "the-fix", || {
        format!(
            "started without RELEASE_ID, the app stopped ({status}) without naming RELEASE_ID; \
             its output:\n{}",
            app.tail(8)
        )
    });
    let lower = output.to_lowercase();
    build_release_run().ensure(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "the-fix",
        || {
            format!(
                "started without RELEASE_ID (and with RUST_BACKTRACE=1), the app stopped with a \
                 panic or a backtrace; a missing setting deserves one clear line on stderr. Its \
                 output:\n{}",
                app.tail(12)
            )
        },
    );
}

/// A scratch directory of the check's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    /// A short path (`<tmp>/k5-<pid>-<n>`): it must fit where the checkout's path was.
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("k5-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()));
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary's bytes with every occurrence of the checkout's path pointed at `hidden`, an empty
/// directory (same length: `hidden` padded with `/`, or a path that cannot exist if it is longer),
/// and the first path into the checkout the binary held, if any.
fn with_checkout_out_of_reach(bytes: &[u8], hidden: &Path) -> (Vec<u8>, Option<String>) {
    let root = kit_root();
    let mut roots = vec![root.to_path_buf()];
    if let Ok(canonical) = root.canonicalize()
        && canonical != root
    {
        roots.push(canonical);
    }
    let mut patched = bytes.to_vec();
    let mut first = None;
    for root in roots {
        let root = root.to_string_lossy().into_owned();
        let hidden = hidden.to_string_lossy();
        let replacement = if hidden.len() <= root.len() {
            format!("{hidden}{}", "/".repeat(root.len() - hidden.len()))
        } else {
            format!("/{}", "#".repeat(root.len().saturating_sub(1)))
        };
        for at in find_all(&patched, root.as_bytes()) {
            first.get_or_insert_with(|| path_at(bytes, at, root.len()));
            patched[at..at + root.len()].copy_from_slice(replacement.as_bytes());
        }
    }
    (patched, first)
}

/// Every file in `dir`, with its contents.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                files.insert(name, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

/// `body` with each run of digits written as `#`. An app that counts visits (Factors IV and VI, the
/// finished noticeboard) shows a count one higher on each `GET /`, so the original's homepage and
/// the copy's differ in that number even when both serve the same release; what this check is
/// about (a page the copy cannot build, a file of the checkout) shows as more than a number.
fn numbers_masked(body: &str) -> String {
    let mut masked = String::with_capacity(body.len());
    let mut in_number = false;
    for c in body.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                masked.push('#');
            }
            in_number = true;
        } else {
            masked.push(c);
            in_number = false;
        }
    }
    masked
}

/// The run: a copy of the binary, alone in a release directory, with the source tree out of reach,
/// serves what the binary serves in place, and leaves its release as it found it.
#[test]
fn serves_from_a_copy_with_the_checkout_out_of_reach() {
    let hidden = Scratch::new();
    let staging = Scratch::new();
    let release_dir = Scratch::new();
    let (patched, baked_path) = with_checkout_out_of_reach(&read_binary(), &hidden.0);
    let name = Path::new(app_binary!())
        .file_name()
        .expect("the binary has a file name");
    // Written here, copied into the release by `cp`: a file this process wrote could still be open
    // in a child that another check is forking, and Linux refuses to run it ("text file busy").
    let staged = staging.0.join(name);
    std::fs::write(&staged, &patched).expect("cannot write the copy of the binary");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
            .expect("cannot make the copy executable");
    }
    let copied = std::process::Command::new("cp")
        .arg(&staged)
        .arg(&release_dir.0)
        .status()
        .is_ok_and(|status| status.success());
    assert!(copied, "cannot copy the binary into a release directory");
    let copy = release_dir.0.join(name);
    let before = snapshot(&release_dir.0);

    let id = unique("v9");
    let banner = "Lost cat: ginger, answers to Biscuit";
    let in_place = match start(release(
        app_binary!(),
        "the binary, in place",
        &id,
        Some(banner),
    )) {
        Ok(app) => app,
        Err((_app, why)) => build_release_run().fail(
            "the-fix",
            format!("the binary did not start where it was built: {why}"),
        ),
    };
    let copy_name = "the copy, in an empty release directory, with the checkout out of reach";
    let copy_builder = release(&copy, copy_name, &id, Some(banner)).cwd(&release_dir.0);
    let baked_note = || match &baked_path {
        Some(path) => {
            format!(" The binary holds the path {path:?}, into the checkout it was built in.")
        }
        None => String::new(),
    };
    let mut in_copy = match start(copy_builder) {
        Ok(app) => app,
        Err((_app, why)) => build_release_run().fail(
            "the-fix",
            format!(
                "the binary runs where it was built, but a copy of it, run from an empty release \
                 directory with the checkout out of reach, did not start: {why}\n  The run stage \
                 has the release only: nothing may be read from the source tree at run time.{}",
                baked_note()
            ),
        ),
    };

    // The banner itself is the two-releases check's business; here, only that there is a page.
    let home = in_place.get("/");
    build_release_run().ensure(
        home.status == 200 && !home.body.trim().is_empty(),
        "the-fix",
        || {
            format!(
                "the binary, run where it was built (from an empty working directory), answers \
                 GET / with {}: {:?}; the contract is 200 and the homepage, with nothing but the \
                 binary and its environment",
                home.status,
                in_place.mask(&excerpt(&home.body))
            )
        },
    );
    for path in ["/", "/release"] {
        let (there, here) = (in_place.get(path), in_copy.get(path));
        // The release and the banner the copy was given must be on its page wherever they are on
        // the original's, character for character; the rest of the page may differ in its numbers
        // only (see `numbers_masked`).
        let same_config = [id.as_str(), banner]
            .iter()
            .all(|given| !there.body.contains(given) || here.body.contains(given));
        build_release_run().ensure(
            there.status == here.status
                && same_config
                && numbers_masked(&there.body) == numbers_masked(&here.body),
            "the-fix",
            || {
                format!(
                    "the binary, run where it was built, answers GET {path} with {} ({} bytes); \
                     the same binary copied to an empty release directory, with the checkout out \
                     of reach, answers {}: {:?}. The app needs something at run time that is not \
                     in the release (a file of the source tree?); the run stage has the release \
                     only: compile templates in with `include_str!`, read config from the \
                     environment.{}",
                    there.status,
                    there.body.len(),
                    here.status,
                    in_copy.mask(&excerpt(&here.body)),
                    baked_note()
                )
            },
        );
    }
    build_release_run().ensure(baked_path.is_none(), "the-fix", || {
        format!(
            "the copy serves with the checkout out of reach, but the binary still holds the path \
             {:?}, into the checkout it was built in: wherever that path exists (the build \
             machine, an image built from the repository) the app would read from it. Compile \
             what it needs in with `include_str!`, or read it from a path in config",
            baked_path.as_deref().unwrap_or_default()
        )
    });

    in_copy.kill();
    let after = snapshot(&release_dir.0);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|file| before.get(*file) != after.get(*file))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    build_release_run().ensure(changed.is_empty(), "why-it-matters", || {
        format!(
            "while the copy ran, its release directory changed ({}): a release is immutable. \
             Write state to a backing service and logs to stdout, never next to the binary",
            changed
                .iter()
                .map(|file| format!("{file:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
}
