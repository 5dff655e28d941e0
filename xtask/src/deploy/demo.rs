//! `cargo xtask deploy --demo`: the platform under load, while the demo rolls every web replica,
//! kills a worker in the middle of a delivery and cuts Redis, then counts what the users saw.
//!
//! The timeline (the load runs throughout, at a fixed rate per kind of request):
//!
//! 1. warm-up;
//! 2. a rolling restart: for each old web replica, start a new one, wait until it is ready,
//!    put it in rotation, drain the old one in the load balancer, SIGTERM it and wait for its
//!    exit code (what a platform does on every deploy); then each worker is restarted in place
//!    (SIGTERM, its exit code, started again with the new release);
//! 3. SIGKILL the process holding a delivery open at the webhook (a crash), then start a
//!    replacement, as a platform restarts a crashed process;
//! 4. cut Redis for [`REDIS_CUT`], a blip the finished app waits through (a proxy in between; the
//!    shared Redis is untouched);
//! 5. recovery: the load goes on; failures now count as "failed after Redis was back".
//!
//! Then: every accepted notification delivered (waiting for the queue to drain), the visit count
//! against the homepage answers, sessions checked on every replica, and a burst through the load
//! balancer against one replica directly.

use super::apps::App;
use super::backing::Backing;
use super::formation::{self, Formation, LogSink, Settings};
use super::haproxy::{LoadBalancer, Request, Traffic};
use super::load::{self, Target};
use super::outcome::{Burst, Event, Outcome, Second};
use super::pinned;
use super::procfile::Scale;
use super::proxy::CutProxy;
use super::webhook::Webhook;
use super::{Interrupted, interrupted};
use anyhow::{Context, Result, bail, ensure};
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the demo cuts Redis: a blip, shorter than the finished app's budget for waiting
/// through one (`OUTAGE_BUDGET` in `noticeboard/src/store.rs`, 1.5 s, itself bounded by Factor
/// IV's 2 s to a `503`), so that a request that needs Redis waits and succeeds instead of
/// failing. A unit test below holds the two apart.
pub const REDIS_CUT: Duration = Duration::from_millis(1000);

/// How long each part of the demo lasts.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How long the load runs.
    pub load: Duration,
    pub warm_up: Duration,
    /// Between the steps.
    pub pause: Duration,
    pub cut: Duration,
    /// How long after the end of the cut failures still count as part of it.
    pub recovery: Duration,
    /// Each burst of the load balancer against one replica.
    pub burst: Duration,
    /// Requests per second: homepage, logins, notifications.
    pub rates: (u32, u32, u32),
    /// One line per second on stdout while the load runs (not in `verify`).
    pub live: bool,
}

impl Timing {
    pub fn full() -> Timing {
        Timing {
            load: Duration::from_secs(40),
            warm_up: Duration::from_secs(3),
            pause: Duration::from_secs(2),
            cut: REDIS_CUT,
            recovery: Duration::from_secs(4),
            burst: Duration::from_secs(4),
            rates: (200, 40, 40),
            live: true,
        }
    }

    /// The same steps, shorter (`--short`).
    pub fn short() -> Timing {
        Timing {
            load: Duration::from_secs(16),
            warm_up: Duration::from_secs(1),
            pause: Duration::from_secs(1),
            cut: REDIS_CUT,
            recovery: Duration::from_secs(3),
            burst: Duration::from_secs(1),
            rates: (150, 30, 30),
            live: true,
        }
    }

    /// What `verify` runs: the short timeline, quietly.
    pub fn gate() -> Timing {
        Timing {
            load: Duration::from_secs(12),
            // No bursts: the gate judges the promises, not the throughput.
            burst: Duration::ZERO,
            live: false,
            ..Timing::short()
        }
    }
}

/// Where a run writes: the merged log, the report.
pub fn run_dir(root: &Path, app: &App) -> PathBuf {
    let name = match app.factor {
        Some(n) => format!("break-{n}"),
        None => "finished".into(),
    };
    target_dir(root).join("deploy").join(name)
}

pub fn target_dir(root: &Path) -> PathBuf {
    crate::engine::testrun::target_dir(root)
}

/// Everything the demo started; stopped in order by [`Stage::shutdown`], killed by the drops of
/// its parts if anything goes wrong before.
struct Stage {
    /// The run's folder: every process of the demo works in it.
    dir: PathBuf,
    formation: Formation,
    balancer: LoadBalancer,
    webhook: Webhook,
    proxy: CutProxy,
    /// The replicas in rotation, for the live line.
    rotation: Arc<Mutex<Vec<String>>>,
    events: Arc<Mutex<Vec<Event>>>,
    started: Instant,
    /// The same moment, in milliseconds since the Unix epoch (the load balancer's clock).
    started_ms: u64,
    /// How long the rolling restart of every web replica took.
    rollout_seconds: f64,
    exits: Vec<(String, String)>,
    /// For an app whose Redis is wired into its code (Factor IV's exercise): the shared Redis,
    /// database 0, where it counts and where the cut closes its connections.
    pinned_redis: Option<redis::Connection>,
}

impl Stage {
    fn event(&self, kind: &str, label: String) {
        if let Ok(mut events) = self.events.lock() {
            events.push(Event {
                at: self.started.elapsed().as_secs_f64(),
                kind: kind.into(),
                label,
            });
        }
    }

    fn publish_rotation(&self) {
        if let Ok(mut rotation) = self.rotation.lock() {
            *rotation = self.balancer.slots().values().cloned().collect();
        }
    }

    /// Starts a web process and puts it in rotation once it is ready.
    fn add_web(&mut self) -> Result<String> {
        let name = self.formation.start_process("web")?;
        self.formation.wait_ready(&name, Duration::from_secs(15))?;
        let port = self
            .formation
            .process(&name)
            .map(|p| p.port)
            .unwrap_or_default();
        self.balancer.add(&name, port, Duration::from_secs(10))?;
        self.publish_rotation();
        Ok(name)
    }

    /// Takes a web process out of rotation and stops it at the same moment, as Kubernetes does
    /// (it removes the endpoint and sends SIGTERM together): the requests it holds are the app's
    /// to finish (Factor IX). Records its exit.
    fn retire_web(&mut self, name: &str) -> Result<()> {
        self.balancer.drain(name, Duration::ZERO)?;
        self.publish_rotation();
        let exit = self.formation.terminate(name)?;
        self.balancer.remove(name)?;
        self.publish_rotation();
        self.exits.push((name.to_string(), exit.describe()));
        Ok(())
    }

    fn shutdown(self) -> Vec<(String, String)> {
        let Stage {
            mut formation,
            balancer,
            exits,
            ..
        } = self;
        let _ = formation.stop();
        balancer.stop();
        exits
    }
}

/// Sleeps `duration`, or less if Ctrl-C arrives.
fn pause(duration: Duration) -> Result<()> {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if interrupted() {
            return Err(Interrupted.into());
        }
        std::thread::sleep(Duration::from_millis(50).min(deadline - Instant::now()));
    }
    Ok(())
}

/// The settings the tools and the build give the demo.
pub struct Tools {
    pub haproxy: PathBuf,
    pub oha: PathBuf,
    pub bin_dir: PathBuf,
}

/// Runs the demo on `app` and measures it; `live` gets one line per second.
pub fn run(
    root: &Path,
    app: &App,
    tools: &Tools,
    scale: &Scale,
    timing: &Timing,
    live: &mut impl Write,
) -> Result<Outcome> {
    let dir = run_dir(root, app);
    std::fs::create_dir_all(&dir)?;
    let backing = Backing::create(root)?;
    let result = run_on(root, app, tools, scale, timing, &backing, &dir, live);
    let left = running_in(&dir);
    let removed = backing.remove();
    let outcome = result?;
    removed?;
    ensure!(
        left.is_empty(),
        "the demo left processes running in {}: {}",
        dir.display(),
        left.join("; ")
    );
    Ok(outcome)
}

/// The processes whose working folder is `dir` or below (pid and command line): every process the
/// demo starts (the formation, HAProxy, oha) works in its run folder, so after the demo there must
/// be none. Read from `/proc`; where there is none (macOS), nothing is found.
fn running_in(dir: &Path) -> Vec<String> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
        })
        .map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            format!(
                "{} {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ").trim()
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_on(
    _root: &Path,
    app: &App,
    tools: &Tools,
    scale: &Scale,
    timing: &Timing,
    backing: &Backing,
    dir: &Path,
    live: &mut impl Write,
) -> Result<Outcome> {
    let redis_host = backing
        .redis_url
        .host_str()
        .unwrap_or("127.0.0.1")
        .to_string();
    let redis_port = backing.redis_url.port().unwrap_or(6379);
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(&(redis_host.as_str(), redis_port))?
        .next()
        .context("cannot resolve Redis's address")?;
    let proxy = CutProxy::start(upstream)?;
    // Factor IV's exercise finds Redis at the address in its code: the shared server, database 0.
    let (pinned_redis, pinned_before) = if app.features.pinned_redis {
        let (mut server, before) = pinned::attach(backing)?;
        let _ = redis::cmd("PING").query::<String>(&mut server);
        (Some(server), before)
    } else {
        (None, None)
    };
    let mut proxied = backing.redis_url.clone();
    let _ = proxied.set_host(Some("127.0.0.1"));
    let _ = proxied.set_port(Some(proxy.port()));
    // A real endpoint takes a while to answer: deliveries are in flight when processes stop.
    let webhook = Webhook::start(Duration::from_millis(40))?;

    let env = BTreeMap::from([
        ("DATABASE_URL".to_string(), backing.database_url.to_string()),
        ("REDIS_URL".to_string(), proxied.to_string()),
        ("WEBHOOK_URL".to_string(), webhook.url()),
        ("SESSION_TTL_SECONDS".to_string(), "3600".to_string()),
        ("RUST_LOG".to_string(), "info".to_string()),
        // The finished app names its release and deploy; the rolling restart deploys `v2`.
        ("RELEASE_ID".to_string(), "v1".to_string()),
        ("DEPLOY_NAME".to_string(), "deploy-demo".to_string()),
        // Loopback only: the demo's processes are nobody else's business.
        ("HOST".to_string(), "127.0.0.1".to_string()),
    ]);
    let log_path = dir.join("formation.log");
    let log_file = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    let settings = Settings {
        env,
        bin_dirs: vec![tools.bin_dir.clone()],
        cwd: dir.to_path_buf(),
        logs: LogSink::new(log_file),
        grace: Duration::from_secs(8),
        readiness: app.readiness.to_string(),
    };
    writeln!(
        live,
        "Release phase, then the formation ({})…",
        describe_scale(app, scale)
    )?;
    formation::run_release(&app.procfile, &settings)?;
    let mut web_scale = scale.clone();
    // Web processes start one by one below, each put in rotation when ready.
    web_scale.0.insert("web".into(), 0);
    let formation = Formation::start(&app.procfile, &web_scale, settings)?;
    let balancer =
        LoadBalancer::start(&tools.haproxy, dir, formation::free_port()?, app.readiness)?;
    let mut stage = Stage {
        dir: dir.to_path_buf(),
        formation,
        balancer,
        webhook,
        proxy,
        rotation: Arc::default(),
        events: Arc::default(),
        started: Instant::now(),
        started_ms: epoch_ms(),
        rollout_seconds: 0.0,
        exits: Vec::new(),
        pinned_redis,
    };
    let result = timeline(app, tools, scale, timing, &mut stage, live);
    let traffic = stage.balancer.traffic.clone();
    if app.features.pinned_redis {
        // Whatever happened, the visits the app counted in the shared database 0 go back.
        let counted = pinned::answered_visits(&traffic.snapshot());
        if let Err(err) = pinned::give_back(backing, counted, pinned_before) {
            writeln!(
                live,
                "Could not take back {counted} visits from Redis database 0: {err:#}"
            )?;
        }
    }
    let events = stage.events.lock().map(|e| e.clone()).unwrap_or_default();
    let started_ms = stage.started_ms;
    let exits = stage.shutdown();
    let mut outcome = result?;
    if app.features.pinned_redis {
        // What the Redis the platform attached (REDIS_URL) holds: the app counted elsewhere.
        outcome.visits_counted = Some(pinned::visits_in(backing)?);
    }
    outcome.exits = exits;
    outcome.events = events;
    let (per_second, p50, p99) =
        per_second(&traffic.snapshot(), started_ms, timing.load.as_secs_f64());
    outcome.per_second = per_second;
    outcome.p50_ms = p50;
    outcome.p99_ms = p99;
    let _ = std::fs::write(
        dir.join("outcome.json"),
        serde_json::to_string_pretty(&outcome)?,
    );
    writeln!(
        live,
        "The merged log of every process: {}",
        log_path.display()
    )?;
    Ok(outcome)
}

fn describe_scale(app: &App, scale: &Scale) -> String {
    app.procfile
        .types
        .iter()
        .map(|(kind, _)| format!("{kind}={}", scale.of(kind)))
        .collect::<Vec<_>>()
        .join(",")
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn timeline(
    app: &App,
    tools: &Tools,
    scale: &Scale,
    timing: &Timing,
    stage: &mut Stage,
    live: &mut impl Write,
) -> Result<Outcome> {
    for _ in 0..scale.of("web") {
        stage.add_web()?;
    }
    let old_web = stage.formation.names_of("web");
    let base = format!("http://127.0.0.1:{}", stage.balancer.port);
    let features = app.features;

    let (home_rate, login_rate, notify_rate) = timing.rates;
    let mut targets = Vec::new();
    if features.visits {
        targets.push(Target {
            label: "homepage",
            method: "GET",
            path: "/",
            body: None,
            rate: home_rate,
        });
    }
    if features.sessions {
        targets.push(Target {
            label: "login",
            method: "POST",
            path: "/login",
            body: Some(r#"{"name": "ada"}"#),
            rate: login_rate,
        });
    }
    if features.slow {
        // About seven slow requests in flight per replica at any moment: when a replica is told
        // to stop, it has work to finish (Factor IX). They are left out of the latencies.
        targets.push(Target {
            label: "slow",
            method: "GET",
            path: "/slow?ms=500",
            body: None,
            rate: 40,
        });
    }
    if features.notifications {
        targets.push(Target {
            label: "notification",
            method: "POST",
            path: "/notifications",
            body: Some(r#"{"name": "ada", "message": "the deploy demo says hello"}"#),
            rate: notify_rate + if features.visits { 0 } else { home_rate / 2 },
        });
    }
    writeln!(
        live,
        "Load: {} through the load balancer at {base} for {} s (oha)…",
        targets
            .iter()
            .map(|t| format!("{} {} {}/s", t.method, t.path, t.rate))
            .collect::<Vec<_>>()
            .join(", "),
        timing.load.as_secs()
    )?;
    stage.started = Instant::now();
    stage.started_ms = epoch_ms();
    let runs: Vec<load::Run> = targets
        .into_iter()
        .map(|target| load::Run::start(&tools.oha, &stage.dir, &base, target, timing.load))
        .collect::<Result<_>>()?;

    // The live line, once a second, from the load balancer's request log.
    let done = Arc::new(AtomicBool::new(false));
    let ticker = timing.live.then(|| {
        let (done, traffic, rotation, events, started) = (
            Arc::clone(&done),
            stage.balancer.traffic.clone(),
            Arc::clone(&stage.rotation),
            Arc::clone(&stage.events),
            stage.started,
        );
        let mut out = formation::unlocked_stdout();
        std::thread::spawn(move || ticker(&mut out, &done, &traffic, &rotation, &events, started))
    });
    let steps = steps(app, timing, stage, &old_web);
    let remaining = timing.load.saturating_sub(stage.started.elapsed());
    let waited = steps.and_then(|()| pause(remaining + Duration::from_millis(300)));
    done.store(true, Ordering::SeqCst);
    if let Some(ticker) = ticker {
        let _ = ticker.join();
    }
    waited?;
    let seconds = stage.started.elapsed().as_secs_f64();
    let summaries: Vec<(Target, load::Summary)> = runs
        .into_iter()
        .map(|run| {
            let target = run.target.clone();
            run.finish().map(|summary| (target, summary))
        })
        .collect::<Result<_>>()?;

    let mut outcome = Outcome {
        app: app.label.clone(),
        factor: app.factor,
        when: epoch_ms() / 1000,
        seconds,
        rollout_seconds: stage.rollout_seconds,
        ..Outcome::default()
    };
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for (target, summary) in &summaries {
        outcome.sent += summary.sent();
        outcome.failed += summary.failed();
        for (status, count) in &summary.statuses {
            if !(200..300).contains(status) {
                *failures
                    .entry(format!("{} {} → {status}", target.method, target.path))
                    .or_default() += count;
            }
        }
        for (error, count) in &summary.errors {
            *failures
                .entry(format!("{} {} → {error}", target.method, target.path))
                .or_default() += count;
        }
        match target.label {
            "homepage" => outcome.homepage_answered = Some(summary.answered_2xx()),
            "notification" => outcome.notifications_accepted = Some(summary.answered_2xx()),
            _ => {}
        }
    }
    outcome.failures = failures.into_iter().collect();
    let (cut, back) = stage
        .events
        .lock()
        .map(|events| {
            let at = |label: &str| events.iter().find(|e| e.label == label).map(|e| e.at);
            (at("Redis cut"), at("Redis back"))
        })
        .unwrap_or_default();
    if let (Some(cut), Some(back)) = (cut, back) {
        // A request that began just before the cut may fail within it, and reconnecting after
        // it takes a moment: both count as the cut's.
        let window = (cut - 0.5)..(back + 1.0);
        let after = back + timing.recovery.as_secs_f64();
        let started_ms = stage.started_ms;
        let requests = stage.balancer.traffic.snapshot();
        let at = |r: &Request| r.at_ms.saturating_sub(started_ms) as f64 / 1000.0;
        outcome.failed_during_cut = requests
            .iter()
            .filter(|r| r.failed() && window.contains(&at(r)))
            .count() as u64;
        outcome.failed_after_recovery = requests
            .iter()
            .filter(|r| r.failed() && at(r) > after)
            .count() as u64;
        outcome.failed_from_cut = requests
            .iter()
            .filter(|r| r.failed() && at(r) >= window.start)
            .count() as u64;
    }

    if features.notifications {
        let accepted = outcome.notifications_accepted.unwrap_or(0) as usize;
        writeln!(
            live,
            "Waiting for the queue to drain ({accepted} accepted)…"
        )?;
        let mut last = (stage.webhook.deliveries().distinct, Instant::now());
        while stage.webhook.deliveries().distinct < accepted {
            pause(Duration::from_millis(200))?;
            let now = stage.webhook.deliveries().distinct;
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        let deliveries = stage.webhook.deliveries();
        outcome.notifications_abandoned = Some(deliveries.abandoned as u64);
        outcome.notifications_delivered = Some(deliveries.distinct as u64);
        outcome.notifications_twice = Some(deliveries.twice as u64);
    }
    let web_now = stage.formation.names_of("web");
    if features.visits {
        outcome.visits_counted = visits(stage.balancer.port);
        outcome.visits_by_replica = web_now
            .iter()
            .filter_map(|name| {
                let port = stage.formation.process(name)?.port;
                Some((name.clone(), visits(port)?))
            })
            .collect();
    }
    if features.sessions {
        outcome.sessions_checked = Some(sessions(stage, &web_now));
    }
    if let Some(first) = web_now.first().filter(|_| !timing.burst.is_zero()) {
        // Not `/` for an app that counts in the shared database 0: the visits given back are
        // the ones the load balancer saw answered.
        let path = if features.visits && !features.pinned_redis {
            "/"
        } else {
            "/health"
        };
        let port = stage
            .formation
            .process(first)
            .map(|p| p.port)
            .unwrap_or_default();
        writeln!(
            live,
            "Bursts of GET {path}: through the load balancer, then {first} directly…"
        )?;
        let lb = load::burst(&tools.oha, &base, path, timing.burst)?;
        let direct = load::burst(
            &tools.oha,
            &format!("http://127.0.0.1:{port}"),
            path,
            timing.burst,
        )?;
        let burst = |summary: &load::Summary| Burst {
            rate: summary.rate,
            p99_ms: summary.p99_ms,
            failed: summary.failed(),
        };
        outcome.through_balancer = Some(burst(&lb));
        outcome.direct = Some(burst(&direct));
    }
    Ok(outcome)
}

/// Steps 2–4 of the timeline.
fn steps(app: &App, timing: &Timing, stage: &mut Stage, old_web: &[String]) -> Result<()> {
    pause(timing.warm_up)?;
    stage.formation.set_env("RELEASE_ID", "v2");
    let rollout = Instant::now();
    for old in old_web {
        let new = stage.add_web()?;
        stage.event("restart", format!("{old} → {new}"));
        stage.retire_web(old)?;
    }
    // A deploy replaces the workers too, each in place: SIGTERM, its delivery finished (or handed
    // back), its exit code, then the same process started again with the new release.
    if app.procfile.command("worker").is_some() {
        for worker in stage.formation.names_of("worker") {
            let exit = stage.formation.restart(&worker)?;
            stage.event("restart", format!("{worker} restarted"));
            stage.exits.push((worker, exit.describe()));
        }
    }
    stage.rollout_seconds = rollout.elapsed().as_secs_f64();
    pause(timing.pause)?;
    if app.features.notifications {
        kill_a_delivery(app, stage)?;
        pause(timing.pause)?;
    }
    stage.proxy.cut();
    if let Some(server) = stage.pinned_redis.as_mut() {
        // The proxy is not in its way: close its connections at the server instead, only its own.
        for process in stage.formation.processes() {
            pinned::cut(process.pid(), server)?;
        }
    }
    stage.event("cut", "Redis cut".into());
    pause(timing.cut)?;
    stage.proxy.restore();
    stage.event("cut", "Redis back".into());
    Ok(())
}

/// SIGKILL to the process holding a delivery open at the webhook, then a replacement.
fn kill_a_delivery(app: &App, stage: &mut Stage) -> Result<()> {
    let kind = app.features.delivers;
    let worker = stage
        .webhook
        .hold_next(Duration::from_secs(10))
        .context("no delivery reached the webhook within 10 s to kill its worker")?;
    // The delivery names its worker: the kit's apps use `WORKER_NAME` (the formation sets it to
    // the process name) or `<host>-<pid>`.
    let victim = stage
        .formation
        .processes()
        .filter(|p| p.kind == kind)
        .find(|p| {
            worker == p.name
                || worker
                    .rsplit(['-', ':'])
                    .next()
                    .is_some_and(|pid| pid == p.pid().to_string())
        })
        .map(|p| p.name.clone());
    let Some(victim) = victim else {
        stage.webhook.release();
        bail!(
            "the held delivery names worker {worker:?}, which is none of the formation's {kind} processes"
        );
    };
    let in_rotation = stage.balancer.slots().values().any(|name| *name == victim);
    let exit = stage.formation.kill(&victim, Signal::SIGKILL)?;
    stage.event("kill", format!("SIGKILL {victim}"));
    stage.webhook.release();
    if let Some(exit) = exit {
        stage.exits.push((victim.clone(), exit.describe()));
    }
    if in_rotation {
        stage.balancer.remove(&victim)?;
        stage.publish_rotation();
        stage.add_web()?;
    } else {
        stage.formation.start_process(kind)?;
    }
    Ok(())
}

/// `GET /visits` on a port: the number in its `{"visits": n}`.
fn visits(port: u16) -> Option<u64> {
    let (status, body) = formation::http(port, "GET", "/visits", "", &[])?;
    if status != 200 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    value["visits"].as_u64()
}

/// Logs in through the load balancer a few times and checks every session on every replica:
/// (checks, sessions the replica knew).
fn sessions(stage: &Stage, replicas: &[String]) -> (u64, u64) {
    let (mut checked, mut accepted) = (0, 0);
    for _ in 0..6 {
        let Some((200, body)) = formation::http(
            stage.balancer.port,
            "POST",
            "/login",
            r#"{"name": "ada"}"#,
            &[],
        ) else {
            continue;
        };
        let token = serde_json::from_str::<serde_json::Value>(body.trim())
            .ok()
            .and_then(|value| value["token"].as_str().map(str::to_string));
        let Some(token) = token else { continue };
        let bearer = format!("Bearer {token}");
        for name in replicas {
            let Some(port) = stage.formation.process(name).map(|p| p.port) else {
                continue;
            };
            checked += 1;
            let answer = formation::http(port, "GET", "/me", "", &[("Authorization", &bearer)]);
            if matches!(answer, Some((200, _))) {
                accepted += 1;
            }
        }
    }
    (checked, accepted)
}

/// One line per second while the load runs.
fn ticker(
    out: &mut impl Write,
    done: &AtomicBool,
    traffic: &Traffic,
    rotation: &Mutex<Vec<String>>,
    events: &Mutex<Vec<Event>>,
    started: Instant,
) {
    let mut next = 1;
    let mut shown_events = 0;
    while !done.load(Ordering::SeqCst) {
        let due = started + Duration::from_secs(next);
        if Instant::now() < due {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let now_ms = epoch_ms();
        let window: Vec<Request> = traffic
            .snapshot()
            .into_iter()
            .filter(|r| r.at_ms + 1000 > now_ms && r.at_ms <= now_ms)
            .collect();
        let failed = window.iter().filter(|r| r.failed()).count();
        let mut times: Vec<u64> = window
            .iter()
            .filter(|r| !r.path.starts_with("/slow"))
            .map(|r| r.total_ms)
            .collect();
        let p99 = percentile(&mut times, 0.99);
        let in_rotation = rotation.lock().map(|r| r.join(" ")).unwrap_or_default();
        let new_events: Vec<String> = events
            .lock()
            .map(|e| e[shown_events..].iter().map(|e| e.label.clone()).collect())
            .unwrap_or_default();
        shown_events += new_events.len();
        let line = format!(
            "{next:>4} s │ {:>4} req/s │ {failed:>4} failed │ p99 {p99:>4} ms │ in rotation: {in_rotation}{}\n",
            window.len(),
            if new_events.is_empty() {
                String::new()
            } else {
                format!(" │ {}", new_events.join(", "))
            }
        );
        let _ = out.write_all(line.as_bytes());
        next += 1;
    }
}

fn percentile(values: &mut [u64], quantile: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let index = ((values.len() as f64 * quantile).ceil() as usize).clamp(1, values.len()) - 1;
    values[index]
}

/// The per-second series of the run, and p50/p99 over all of it.
fn per_second(requests: &[Request], started_ms: u64, seconds: f64) -> (Vec<Second>, u64, u64) {
    let count = seconds.ceil() as usize;
    let mut buckets: Vec<Vec<&Request>> = vec![Vec::new(); count.max(1)];
    let mut slow = vec![0u64; count.max(1)];
    let mut all: Vec<u64> = Vec::new();
    for request in requests {
        let Some(offset) = request.at_ms.checked_sub(started_ms) else {
            continue;
        };
        if request.path.starts_with("/slow") && !request.failed() {
            // Slow on purpose: counted, but not in the latencies.
            let index = (offset / 1000) as usize;
            if index < slow.len() {
                slow[index] += 1;
            }
            continue;
        }
        let index = (offset / 1000) as usize;
        if index < buckets.len() {
            buckets[index].push(request);
            all.push(request.total_ms);
        }
    }
    let series = buckets
        .iter()
        .zip(&slow)
        .map(|(bucket, slow)| {
            let mut times: Vec<u64> = bucket.iter().map(|r| r.total_ms).collect();
            Second {
                requests: bucket.len() as u64 + slow,
                failed: bucket.iter().filter(|r| r.failed()).count() as u64,
                p99_ms: percentile(&mut times, 0.99),
            }
        })
        .collect();
    let p50 = percentile(&mut all.clone(), 0.5);
    let p99 = percentile(&mut all, 0.99);
    (series, p50, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_working_in_the_run_folder_is_found_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path().canonicalize().unwrap())
            .spawn()
            .unwrap();
        let found = running_in(dir.path());
        // By pid: a process just past its exec may not show its command line yet.
        assert!(
            found
                .iter()
                .any(|line| line.split(' ').next() == Some(&sleeper.id().to_string())),
            "{found:?}"
        );
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        assert_eq!(running_in(dir.path()), Vec::<String>::new());
    }

    /// The cut must end before a request that met it at its start gives up on Redis, with room
    /// for the reconnection: else the finished app answers `503`s the demo counts as failures.
    #[test]
    fn the_redis_cut_is_shorter_than_the_apps_budget() {
        let store = include_str!("../../../noticeboard/src/store.rs");
        let budget_ms: u64 = store
            .split("pub const OUTAGE_BUDGET: Duration = Duration::from_millis(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|ms| ms.parse().ok())
            .expect("noticeboard/src/store.rs declares OUTAGE_BUDGET in milliseconds");
        assert!(
            REDIS_CUT.as_millis() as u64 + 300 <= budget_ms,
            "the demo cuts Redis for {REDIS_CUT:?}, not well under the app's budget of {budget_ms} ms"
        );
    }

    #[test]
    fn percentiles_and_seconds() {
        let mut values = vec![5, 1, 3, 2, 4];
        assert_eq!(percentile(&mut values, 0.5), 3);
        assert_eq!(percentile(&mut values, 0.99), 5);
        assert_eq!(percentile(&mut [], 0.99), 0);
        let request = |at_ms, status| Request {
            at_ms,
            status,
            total_ms: 7,
            server: "web1".into(),
            method: "GET".into(),
            path: "/".into(),
        };
        let (series, p50, _) = per_second(&[request(1_000, 200), request(2_500, 503)], 1_000, 2.0);
        assert_eq!(series.len(), 2);
        assert_eq!((series[0].requests, series[1].failed), (1, 1));
        assert_eq!(p50, 7);
    }
}
