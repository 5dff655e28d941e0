//! `cargo xtask deploy`: a small local platform for the finished noticeboard.
//!
//! It does what Heroku or Kubernetes do for a twelve-factor app, on one machine: reads the
//! Procfile, runs the release phase, starts each process type at a chosen scale with its config in
//! the environment, puts the web processes behind a real load balancer (HAProxy, health-checked
//! on the app's readiness path, `/health/ready`) and merges every process's log onto one stream. `--demo` then rolls every web
//! replica, kills a worker in the middle of a delivery and cuts Redis, under a real load generator
//! (`oha`), and reports what the users saw. `--break N` runs the same demo on factor N's exercise.
//!
//! - `procfile`: the Procfile and `--scale`.
//! - `formation`: the processes, started, signalled and restarted one by one (the API the chapter
//!   demos use too).
//! - `haproxy`: the load balancer, its runtime API and its request log.
//! - `proxy`: the cuttable TCP proxy in front of Redis.
//! - `webhook`: where workers deliver; counts deliveries and holds one open for the kill.
//! - `backing`: the demo's own database and Redis index on the shared services.
//! - `load`: `oha` runs and their summaries.
//! - `apps`: the finished noticeboard or an exercise snapshot, and what each offers the demo.
//! - `pinned`: `--break 4`, an app whose Redis is wired into its code: its cut and its clean-up.
//! - `demo`: the timeline and the measurements; `outcome`: the table; `report`: the page.

pub mod apps;
pub mod backing;
pub mod demo;
pub mod formation;
pub mod haproxy;
pub mod load;
pub mod outcome;
pub mod pinned;
pub mod procfile;
pub mod proxy;
pub mod report;
pub mod webhook;

use crate::Verdict;
use crate::engine::manifest::Manifest;
use crate::engine::{services, settings, term, testrun, tools};
use anyhow::{Context, Result, bail};
use apps::App;
use outcome::Outcome;
use procfile::Scale;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Options {
    pub scale: Option<String>,
    pub procfile: Option<PathBuf>,
    pub port: Option<u16>,
    pub demo: bool,
    pub break_factor: Option<String>,
    /// The shorter timeline `verify` runs.
    pub short: bool,
    /// Write the table and the chart into the book (`book/src/deploy-it/`).
    pub book: bool,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C or SIGTERM arrived: stop what runs, gracefully.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error a step returns when Ctrl-C arrived.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted (Ctrl-C): every process was stopped")
    }
}

impl std::error::Error for Interrupted {}

/// From now on, SIGINT and SIGTERM set [`interrupted`] instead of ending xtask, so the platform
/// stops its processes in order and leaves nothing running.
fn catch_signals() -> Result<()> {
    crate::engine::signals::on_interrupt(|| {
        if !INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nStopping every process (Ctrl-C)…");
        }
    })
}

/// Builds the app's binaries (if it is a package of the workspace); the folder they are in.
fn build(root: &Path, app: &App, out: &mut impl Write) -> Result<PathBuf> {
    let bin_dir = demo::target_dir(root).join("debug");
    let Some(package) = &app.package else {
        return Ok(bin_dir);
    };
    writeln!(
        out,
        "Building {} (`cargo build -p {package} --bins`)…",
        app.label
    )?;
    if let testrun::Build::Failed { errors } = testrun::build_app(root, package, &BTreeMap::new())?
    {
        bail!("`cargo build -p {package}` failed:\n{}", errors.join("\n"));
    }
    Ok(bin_dir)
}

fn the_app(root: &Path, options: &Options) -> Result<App> {
    match &options.procfile {
        Some(path) => apps::from_procfile(root, &root.join(path)),
        None => apps::finished(root),
    }
}

fn default_scale(app: &App, given: Option<&str>) -> Result<Scale> {
    let mut scale = Scale::default();
    for (kind, _) in &app.procfile.types {
        let count = match kind.as_str() {
            "web" => 3,
            "worker" => 2,
            _ => 1,
        };
        scale.0.insert(kind.clone(), count);
    }
    if let Some(given) = given {
        scale.0.extend(Scale::parse(given)?.0);
    }
    scale.check_against(&app.procfile)?;
    if scale.of("web") == 0 {
        bail!(
            "--scale web=0: the platform needs at least one web process behind its load balancer"
        );
    }
    Ok(scale)
}

pub fn run(
    root: &Path,
    manifest: &Manifest,
    options: Options,
    out: &mut impl Write,
) -> Result<Verdict> {
    let service_list: Vec<_> = manifest
        .factors
        .iter()
        .flat_map(|f| f.services.iter().cloned())
        .collect();
    services::ensure(root, &service_list, out)?;
    let haproxy = tools::haproxy()?;
    catch_signals()?;
    if !options.demo && options.break_factor.is_none() {
        let app = the_app(root, &options)?;
        let scale = default_scale(&app, options.scale.as_deref())?;
        let bin_dir = build(root, &app, out)?;
        return platform(root, &app, &scale, &haproxy, &bin_dir, options.port, out);
    }
    let timing = if options.short {
        demo::Timing::short()
    } else {
        demo::Timing::full()
    };
    let mut runs: Vec<Outcome> = Vec::new();
    let finished = the_app(root, &options)?;
    let recorded = demo::run_dir(root, &finished).join("outcome.json");
    let reuse = options.break_factor.is_some() && !options.short && !options.demo;
    match std::fs::read_to_string(&recorded).ok().filter(|_| reuse) {
        Some(json) => {
            let outcome: Outcome = serde_json::from_str(&json)
                .with_context(|| format!("{} does not parse", recorded.display()))?;
            writeln!(
                out,
                "The finished app's numbers are from its last run ({}; `--demo --break N` runs both).",
                recorded.display()
            )?;
            runs.push(outcome);
        }
        None => runs.push(demo_run(
            root,
            &finished,
            &haproxy,
            &timing,
            options.scale.as_deref(),
            out,
        )?),
    }
    let breaks: Vec<&str> = options
        .break_factor
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|query| !query.is_empty())
        .collect();
    // Every name is checked before anything runs.
    let broken: Vec<App> = breaks
        .iter()
        .map(|query| apps::exercise(root, manifest, query))
        .collect::<Result<_>>()?;
    for app in &broken {
        runs.push(demo_run(
            root,
            app,
            &haproxy,
            &timing,
            options.scale.as_deref(),
            out,
        )?);
    }
    let refs: Vec<&Outcome> = runs.iter().collect();
    writeln!(out)?;
    write!(out, "{}", outcome::text_table(&refs))?;
    for run in &runs {
        if !run.failures.is_empty() {
            let failures: Vec<String> = run
                .failures
                .iter()
                .map(|(what, count)| format!("{count} × {what}"))
                .collect();
            writeln!(out, "{}: failures: {}", run.app, failures.join("; "))?;
        }
        if let (Some(lb), Some(direct)) = (&run.through_balancer, &run.direct) {
            writeln!(
                out,
                "{}: unlimited burst through the load balancer {:.0} req/s (p99 {:.1} ms), one replica directly {:.0} req/s (p99 {:.1} ms)",
                run.app, lb.rate, lb.p99_ms, direct.rate, direct.p99_ms
            )?;
        }
    }
    let page = demo::target_dir(root).join("deploy").join("report.html");
    std::fs::write(&page, report::html(&refs))
        .with_context(|| format!("cannot write {}", page.display()))?;
    writeln!(out, "Report: {}", page.display())?;
    if options.book {
        write_book(root, &refs, out)?;
    }
    let mut green = true;
    for run in &runs {
        match run.factor {
            None => {
                let problems = run.problems();
                if problems.is_empty() {
                    writeln!(
                        out,
                        "{} {}: no request failed, 503s included (it waited through the Redis \
                         cut on its reconnecting connection); every visit counted once, every \
                         notification delivered, every old process exited 0",
                        term::pass(),
                        run.app
                    )?;
                }
                for problem in problems {
                    green = false;
                    writeln!(out, "{} {}: {problem}", term::fail(), run.app)?;
                }
            }
            Some(factor) => match run.predicted_failure(factor) {
                Ok(shown) => writeln!(out, "{} {}: {shown}", term::pass(), run.app)?,
                Err(missing) => {
                    green = false;
                    writeln!(
                        out,
                        "{} {}: the failure the chapter predicts did not show ({missing})",
                        term::fail(),
                        run.app
                    )?;
                }
            },
        }
    }
    Ok(Verdict::from(green))
}

/// Builds `app`, obtains the tools and runs the demo on it.
pub fn demo_run(
    root: &Path,
    app: &App,
    haproxy: &Path,
    timing: &demo::Timing,
    scale: Option<&str>,
    out: &mut impl Write,
) -> Result<Outcome> {
    let scale = default_scale(app, scale)?;
    writeln!(
        out,
        "{}",
        term::bold(&format!("Deploy demo: {}", app.label))
    )?;
    let bin_dir = build(root, app, out)?;
    let tools = demo::Tools {
        haproxy: haproxy.to_path_buf(),
        oha: tools::oha(root)?,
        bin_dir,
    };
    demo::run(root, app, &tools, &scale, timing, out)
}

/// Where the book reads the recorded run from.
pub const BOOK_TABLE: &str = "book/src/deploy-it/demo-table.md";
pub const BOOK_CHART: &str = "book/src/images/deploy-demo.svg";

fn write_book(root: &Path, runs: &[&Outcome], out: &mut impl Write) -> Result<()> {
    std::fs::create_dir_all(root.join("book/src/deploy-it"))?;
    std::fs::write(root.join(BOOK_TABLE), report::markdown(runs))?;
    std::fs::write(root.join(BOOK_CHART), report::svg(runs[0]))?;
    writeln!(out, "Recorded for the book: {BOOK_TABLE}, {BOOK_CHART}")?;
    Ok(())
}

/// The plain platform: the release phase, the formation behind HAProxy, the merged logs on
/// stdout, until Ctrl-C; a process that exits on its own is started again, as a platform does.
fn platform(
    root: &Path,
    app: &App,
    scale: &Scale,
    haproxy: &Path,
    bin_dir: &Path,
    port: Option<u16>,
    out: &mut impl Write,
) -> Result<Verdict> {
    let settings = settings::Settings::load(root)?;
    // A release is a build plus its config: named after the commit it was built from.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "local".into());
    let mut env = BTreeMap::from([
        (
            "DATABASE_URL".to_string(),
            settings.database_url()?.to_string(),
        ),
        ("REDIS_URL".to_string(), settings.redis_url()?.to_string()),
        ("RUST_LOG".to_string(), "info".to_string()),
        ("RELEASE_ID".to_string(), format!("local-{commit}")),
        ("DEPLOY_NAME".to_string(), "local".to_string()),
        ("HOST".to_string(), "127.0.0.1".to_string()),
    ]);
    // What `.env` sets for the app (as `heroku local` reads it) wins over the defaults above.
    for key in [
        "WEBHOOK_URL",
        "SESSION_TTL_SECONDS",
        "SHUTDOWN_GRACE_SECONDS",
        "RELEASE_ID",
        "DEPLOY_NAME",
        "NOTICEBOARD_BANNER",
    ] {
        if let Some(value) = settings.get(key) {
            env.insert(key.into(), value.into());
        }
    }
    // Without a webhook of the user's, deliveries go to a local one that accepts them all.
    let local_webhook = webhook::Webhook::start(Duration::ZERO)?;
    env.entry("WEBHOOK_URL".into())
        .or_insert_with(|| local_webhook.url());
    let dir = demo::target_dir(root).join("deploy").join("platform");
    std::fs::create_dir_all(&dir)?;
    let formation_settings = formation::Settings {
        bin_dirs: vec![bin_dir.to_path_buf()],
        cwd: dir.clone(),
        readiness: app.readiness.to_string(),
        ..formation::Settings::new(env)
    };
    formation::run_release(&app.procfile, &formation_settings)?;
    let mut web_scale = scale.clone();
    web_scale.0.insert("web".into(), 0);
    let mut formation = formation::Formation::start(&app.procfile, &web_scale, formation_settings)?;
    let port = match port {
        Some(port) => port,
        None => formation::free_port()?,
    };
    let mut balancer = haproxy::LoadBalancer::start(haproxy, &dir, port, app.readiness)?;
    for _ in 0..scale.of("web") {
        let name = formation.start_process("web")?;
        formation.wait_ready(&name, Duration::from_secs(15))?;
        let process_port = formation.process(&name).map(|p| p.port).unwrap_or_default();
        balancer.add(&name, process_port, Duration::from_secs(10))?;
    }
    writeln!(
        out,
        "{} is up: http://127.0.0.1:{port}/ (HAProxy, {} web processes; Ctrl-C stops everything)",
        app.label,
        scale.of("web")
    )?;
    while !interrupted() {
        for exit in formation.exited() {
            writeln!(
                out,
                "{} ended ({}); starting it again",
                exit.name,
                exit.describe()
            )?;
            let kind = exit.name.split('.').next().unwrap_or("web").to_string();
            if kind == "web" {
                let _ = balancer.remove(&exit.name);
                let name = formation.start_process("web")?;
                formation.wait_ready(&name, Duration::from_secs(15))?;
                let process_port = formation.process(&name).map(|p| p.port).unwrap_or_default();
                balancer.add(&name, process_port, Duration::from_secs(10))?;
            } else {
                formation.start_process(&kind)?;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let exits = formation.stop();
    balancer.stop();
    drop(local_webhook);
    for exit in &exits {
        writeln!(out, "{}: {}", exit.name, exit.describe())?;
    }
    Ok(Verdict::from(exits.iter().all(|exit| exit.success())))
}
