//! The class board's gate: its tests (a `verify` step) and `cargo xtask room bench`, the load and
//! browser test that the figures come from.
//!
//! The bench runs the real board binary against a database of its own, with learners simulated by
//! the same HTTP calls `cargo xtask` makes (`room join`, then a post per check, each on a new
//! connection):
//!
//! 1. Browser: 20 learners join; headless Chromium opens the instructor page; each learner posts
//!    several verdicts. The page records, for every event, how long after the post it was shown
//!    (`data-events`, `data-max-lag-ms` on `<body>`, the board's clock on both ends); the DOM must
//!    list the 20 learners and name the most failed check. Then a screenshot.
//! 2. Load: N learners (200) post every `interval` seconds for `seconds`; half-way through, the
//!    board gets SIGTERM and is started again. A post that fails is retried, as a learner's outbox
//!    retries with the next check. Every accepted post must be in the database (0 lost), and the
//!    99th percentile of the accepted posts' latency is reported.
//! 3. With `--check-runs N`: a warm `check 2`, N times each with no board joined, the board up, down
//!    and slow (accepting and never answering), interleaved; the medians side by side.

use super::cdp::Browser;
use crate::Verdict;
use crate::engine::manifest::Service;
use crate::engine::{services, term, testrun};
use crate::room::client::{self, Reply};
use anyhow::{Context, Result, bail, ensure};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The figures the issue sets.
const P99_BUDGET_MS: f64 = 50.0;
const LIVE_BUDGET_MS: i64 = 1000;
const BROWSER_LEARNERS: usize = 20;

/// `verify`'s step: the board's own tests (`cargo test -p kit-room`), against the real Postgres.
pub fn tests(root: &Path) -> Result<String> {
    services::ensure(root, &[Service::Postgres], &mut std::io::sink())?;
    let output = testrun::cargo_command()
        .args(["test", "--package", "kit-room", "--", "--color=never"])
        .current_dir(root)
        .output()
        .context("cannot run cargo")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().chain(stderr.lines()).rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("`cargo test -p kit-room` failed:\n{}", tail.join("\n"));
    }
    let passed: usize = text
        .lines()
        .filter_map(|line| line.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum();
    Ok(format!("{passed} tests"))
}

pub struct BenchOptions {
    pub learners: usize,
    pub seconds: u64,
    pub interval: f64,
    pub screenshot: Option<PathBuf>,
    /// Warm `check 2` runs per board state; 0 skips the check timing.
    pub check_runs: usize,
}

/// A board process started by the bench, its JSON log in a file.
struct Board {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl Board {
    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .envs(self.env.iter().cloned())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the board")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if get(self.port, "/ready").is_ok_and(|reply| reply.status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the board did not get ready in 20 s (log: {})",
            self.log.display()
        )
    }

    /// SIGTERM, then waits for the exit; the exit status.
    fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("the board is not running")?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("the board did not exit within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn admin(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.binary)
            .args(args)
            .envs(self.env.iter().cloned())
            .output()?;
        ensure!(
            output.status.success(),
            "kit-room {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn get(port: u16, path: &str) -> Result<Reply> {
    // The board answers GETs too; the client speaks POST only, so a GET is written by hand.
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(1),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("not HTTP")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok(Reply { status, body })
}

/// A simulated learner: joined, with a token.
#[derive(Clone)]
struct Learner {
    id: String,
    token: String,
}

fn join(base: &url::Url, code: &str, name: &str) -> Result<Learner> {
    let body = serde_json::json!({ "code": code, "name": name }).to_string();
    let reply = client::post_json(base, "/api/join", None, &body, Duration::from_secs(5))?;
    ensure!(reply.status == 201, "join refused: {}", reply.error());
    let value: serde_json::Value = serde_json::from_str(&reply.body)?;
    Ok(Learner {
        id: value["learner"].as_str().context("no learner")?.into(),
        token: value["token"].as_str().context("no token")?.into(),
    })
}

/// Factor VI's checks, as a learner's check reports them.
const CHECKS: [&str; 5] = [
    "visits_are_shared_between_replicas",
    "visits_survive_a_restart",
    "a_replica_on_an_empty_redis_starts_from_zero",
    "sessions_are_shared_between_replicas",
    "sessions_expire_after_their_ttl",
];

/// The `step`-th verdict of learner `n` on Factor VI: learners fix checks in turn, at different
/// speeds; most of the room still fails `sessions_expire_after_their_ttl` (the TTL forgotten).
fn verdict(n: usize, step: usize) -> serde_json::Value {
    let fixed = (step + n % 5).min(CHECKS.len());
    let mut failing: Vec<&str> = CHECKS.iter().skip(fixed).copied().collect();
    if n % 5 != 4 && !failing.contains(&CHECKS[4]) {
        failing.push(CHECKS[4]);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    serde_json::json!({
        "id": crate::room::post::new_id(),
        "factor": 6,
        "passed": CHECKS.len() - failing.len(),
        "total": CHECKS.len(),
        "failing": failing,
        "not_checkable": 0,
        "compiled": true,
        "hints_used": (step / 2 + n % 2).min(3),
        "checks_edited": false,
        "at": now,
    })
}

fn post(base: &url::Url, learner: &Learner, body: &str) -> Result<Reply> {
    client::post_json(
        base,
        &format!("/api/learners/{}/verdicts", learner.id),
        Some(&learner.token),
        body,
        Duration::from_secs(5),
    )
}

pub fn bench(root: &Path, options: BenchOptions, out: &mut impl Write) -> Result<Verdict> {
    services::ensure(root, &[Service::Postgres], out)?;
    writeln!(out, "{}", term::dim("building the board…"))?;
    out.flush()?;
    let binary = crate::room::board::build(root)?;
    let settings = crate::engine::settings::Settings::load(root)?;
    let database = format!("room_bench_{}", std::process::id());
    let mut url = settings.database_url()?;
    url.set_path(&format!("/{database}"));
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let dir = tempfile::TempDir::with_prefix("room-bench-")?;
    let mut board = Board {
        binary,
        env: vec![
            ("DATABASE_URL".into(), url.to_string()),
            ("PORT".into(), port.to_string()),
            ("ROOM_BIND".into(), "127.0.0.1".into()),
            // Every simulated learner joins from 127.0.0.1.
            ("ROOM_JOINS_PER_MINUTE".into(), "100000".into()),
            ("RUST_LOG".into(), "info".into()),
        ],
        log: dir.path().join("board.log"),
        child: None,
        port,
    };
    let manifest = crate::engine::manifest::Manifest::load(root)?;
    let earlier: Vec<(u8, usize)> = manifest
        .available()
        .filter(|factor| factor.number < 6)
        .map(|factor| (factor.number, factor.check_names(root).len()))
        .collect();
    let result = run_bench(root, &mut board, &earlier, &options, out);
    drop(board);
    drop_database(&settings, &database);
    result
}

fn run_bench(
    root: &Path,
    board: &mut Board,
    earlier: &[(u8, usize)],
    options: &BenchOptions,
    out: &mut impl Write,
) -> Result<Verdict> {
    board.start()?;
    let opened = board.admin(&["open", "Bench class"])?;
    let code = opened
        .split("Its code: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .context("`open` printed no code")?
        .trim()
        .to_string();
    let token = opened
        .split("/board#")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("`open` printed no token")?
        .to_string();
    let base = client::board_url(&format!("http://127.0.0.1:{}", board.port))?;
    let browser_green = browser(board, &base, &code, &token, earlier, options, out)?;
    let load_green = load(board, &base, &code, options, out)?;
    let check_green = if options.check_runs > 0 {
        check_timing(root, &base, &code, options.check_runs, out)?
    } else {
        true
    };
    Ok(Verdict::from(browser_green && load_green && check_green))
}

/// Part 1: 20 learners, a real browser watching.
fn browser(
    board: &Board,
    base: &url::Url,
    code: &str,
    token: &str,
    earlier: &[(u8, usize)],
    options: &BenchOptions,
    out: &mut impl Write,
) -> Result<bool> {
    writeln!(
        out,
        "{}",
        term::bold("Browser: 20 learners, headless Chromium on the instructor page")
    )?;
    let learners: Vec<Learner> = (0..BROWSER_LEARNERS)
        .map(|n| join(base, code, &format!("Learner {n:02}")))
        .collect::<Result<_>>()?;
    history(base, &learners, earlier)?;
    let chromium = crate::engine::tools::chromium()?;
    let page = format!("http://127.0.0.1:{}/board#{token}", board.port);
    let mut browser = Browser::open(&chromium, &page, 1400, 1000)?;
    // Signed in (the token traded for the cookie), the board loaded, the event stream open.
    browser.wait_for(
        &format!(
            "document.querySelectorAll('[data-learner]').length === {BROWSER_LEARNERS} \
             && document.getElementById('live').className === 'on'"
        ),
        Duration::from_secs(20),
    )?;
    let mut expected: std::collections::BTreeMap<String, usize> = Default::default();
    let mut lags = Vec::new();
    let steps = 3;
    let mut events = 0;
    for step in 0..steps {
        for (n, learner) in learners.iter().enumerate() {
            let body = verdict(n, step);
            if step == steps - 1 {
                for name in body["failing"].as_array().into_iter().flatten() {
                    *expected
                        .entry(name.as_str().unwrap_or_default().into())
                        .or_default() += 1;
                }
            }
            let shown = format!(
                "{}/{}",
                body["passed"].as_u64().unwrap_or_default(),
                body["total"].as_u64().unwrap_or_default()
            );
            let sent = Instant::now();
            let reply = post(base, learner, &body.to_string())?;
            ensure!(reply.status == 201, "post refused: {}", reply.error());
            events += 1;
            // Shown: the page counted the event, and the learner's cell says the new numbers.
            let shown_on_page = browser.wait_for(
                &format!(
                    "Number(document.body.dataset.events || 0) >= {events} && \
                     (document.querySelector('[data-learner=\"{}\"] td.current') || {{}}) \
                     .textContent?.startsWith('{shown}') === true",
                    learner.id
                ),
                Duration::from_secs(5),
            );
            if let Err(err) = shown_on_page {
                // What the page shows instead, for the failure message.
                let row = browser.evaluate(&format!(
                    "JSON.stringify({{events: document.body.dataset.events, \
                     live: document.getElementById('live').textContent, \
                     row: (document.querySelector('[data-learner=\"{}\"]') || {{}}).textContent}})",
                    learner.id
                ))?;
                bail!("{err:#}; the page shows {row}");
            }
            lags.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lags.sort_by(f64::total_cmp);
    let rows = browser
        .evaluate("document.querySelectorAll('[data-learner]').length")?
        .as_u64()
        .unwrap_or(0) as usize;
    let page_lag = browser
        .evaluate("Number(document.body.dataset.maxLagMs)")?
        .as_f64()
        .unwrap_or(f64::NAN);
    let shown_top = browser
        .evaluate("document.getElementById('most-failed-check')?.textContent")?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (top_check, top_count) = expected
        .iter()
        .max_by_key(|(_, count)| **count)
        .map(|(name, count)| (name.clone(), *count))
        .unwrap_or_default();
    let slowest = lags.last().copied().unwrap_or(f64::NAN);
    writeln!(
        out,
        "  {rows} learner rows; {} posts, each on the page after: median {:.0} ms, slowest {slowest:.0} ms \
         (post sent → cell updated, seen from outside; the page's own receipt lag: at most {page_lag:.0} ms)",
        lags.len(),
        lags.get(lags.len() / 2).copied().unwrap_or(f64::NAN),
    )?;
    writeln!(
        out,
        "  most failed check on the page: {shown_top} (the posts: {top_check}, {top_count} of {BROWSER_LEARNERS})"
    )?;
    if let Some(path) = &options.screenshot {
        browser.screenshot(path)?;
        // The projector's view: counts and checks, no names.
        let projector = path.with_file_name(format!(
            "{}-projector.png",
            path.file_stem().unwrap_or_default().to_string_lossy()
        ));
        let page = format!("http://127.0.0.1:{}/projector#{token}", board.port);
        let mut screen = Browser::open(&chromium, &page, 1600, 900)?;
        screen.wait_for(
            "document.getElementById('live').className === 'on' && \
             document.querySelectorAll('#heatmap li').length > 0",
            Duration::from_secs(20),
        )?;
        let names_shown = screen
            .evaluate("document.body.innerText.includes('Learner 0')")?
            .as_bool()
            .unwrap_or(true);
        ensure!(!names_shown, "the projector view shows learners' names");
        screen.screenshot(&projector)?;
        writeln!(
            out,
            "  screenshots: {} and {} (no names on it)",
            path.display(),
            projector.display()
        )?;
    }
    let green =
        rows == BROWSER_LEARNERS && slowest <= LIVE_BUDGET_MS as f64 && shown_top == top_check;
    writeln!(
        out,
        "  {} every post on the page within {LIVE_BUDGET_MS} ms, the heat-map naming the most failed check",
        if green { term::pass() } else { term::fail() }
    )?;
    Ok(green)
}

/// What the room did before Factor VI, so the page looks like a real morning: factors I to V green
/// for most, Factor II not compiling for some, and a doctor report each (a few with a problem).
fn history(base: &url::Url, learners: &[Learner], earlier: &[(u8, usize)]) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    for (n, learner) in learners.iter().enumerate() {
        let doctor = serde_json::json!({
            "id": crate::room::post::new_id(),
            "problems": if n % 7 == 3 { vec!["redis"] } else { Vec::new() },
            "at": now,
        });
        let reply = client::post_json(
            base,
            &format!("/api/learners/{}/doctor", learner.id),
            Some(&learner.token),
            &doctor.to_string(),
            Duration::from_secs(5),
        )?;
        ensure!(
            reply.status == 201,
            "doctor report refused: {}",
            reply.error()
        );
        for (factor, checks) in earlier.iter().take(1 + n % earlier.len().max(1)) {
            let broken = *factor == 2 && n % 6 == 5;
            let body = serde_json::json!({
                "id": crate::room::post::new_id(),
                "factor": factor,
                "passed": if broken { 0 } else { *checks },
                "total": checks,
                "failing": [],
                "not_checkable": 0,
                "compiled": !broken,
                "hints_used": n % 3,
                "checks_edited": false,
                "at": now,
            });
            let reply = post(base, learner, &body.to_string())?;
            ensure!(reply.status == 201, "post refused: {}", reply.error());
        }
    }
    Ok(())
}

/// Part 2: N learners posting on a schedule, the board restarted half-way.
fn load(
    board: &mut Board,
    base: &url::Url,
    code: &str,
    options: &BenchOptions,
    out: &mut impl Write,
) -> Result<bool> {
    writeln!(
        out,
        "{}",
        term::bold(&format!(
            "Load: {} learners, a post every {} s each for {} s, SIGTERM and restart at {} s",
            options.learners,
            options.interval,
            options.seconds,
            options.seconds / 2
        ))
    )?;
    let learners: Vec<Learner> = (0..options.learners)
        .map(|n| join(base, code, &format!("Load {n:03}")))
        .collect::<Result<_>>()?;
    let before = count_verdicts(board)?;
    let log_start = std::fs::metadata(&board.log).map_or(0, |meta| meta.len() as usize);
    // (seconds since the start, milliseconds) of every timed post.
    let latencies = Arc::new(Mutex::new(Vec::<(f64, f64)>::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(AtomicUsize::new(0));
    let restarting = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let end = start + Duration::from_secs(options.seconds);
    let interval = Duration::from_secs_f64(options.interval);
    let mut threads = Vec::new();
    for (n, learner) in learners.into_iter().enumerate() {
        let (base, latencies, accepted, retried, lost, restarting) = (
            base.clone(),
            Arc::clone(&latencies),
            Arc::clone(&accepted),
            Arc::clone(&retried),
            Arc::clone(&lost),
            Arc::clone(&restarting),
        );
        // Learners spread over the interval, as checks in a room are.
        let offset = interval.mul_f64(n as f64 / options.learners as f64);
        threads.push(std::thread::spawn(move || {
            let mut next = start + offset;
            let mut step = 0;
            while next < end {
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let body = verdict(n, step).to_string();
                // Retried until the board takes it, as the learner's outbox would.
                let give_up = Instant::now() + Duration::from_secs(30);
                loop {
                    let sent = Instant::now();
                    match post(&base, &learner, &body) {
                        Ok(reply) if reply.status == 201 || reply.status == 200 => {
                            if !restarting.load(Ordering::SeqCst) {
                                latencies.lock().expect("latencies").push((
                                    sent.duration_since(start).as_secs_f64(),
                                    sent.elapsed().as_secs_f64() * 1000.0,
                                ));
                            }
                            accepted.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        _ if Instant::now() < give_up => {
                            retried.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        _ => {
                            lost.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                }
                step += 1;
                next += interval;
            }
        }));
    }
    // Half-way: SIGTERM, then start again on the same database.
    let first_pid = board.child.as_ref().map(Child::id).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(options.seconds / 2));
    let first_cpu = cpu_seconds(first_pid).unwrap_or(f64::NAN);
    restarting.store(true, Ordering::SeqCst);
    let stopped_at = Instant::now();
    let status = board.stop()?;
    board.start()?;
    let downtime = stopped_at.elapsed();
    // Posts in flight around the restart are counted, not timed.
    std::thread::sleep(Duration::from_millis(500));
    restarting.store(false, Ordering::SeqCst);
    for thread in threads {
        let _ = thread.join();
    }
    let second_cpu = board
        .child
        .as_ref()
        .and_then(|child| cpu_seconds(child.id()))
        .unwrap_or(f64::NAN);
    let stored = count_verdicts(board)? - before;
    let accepted = accepted.load(Ordering::SeqCst);
    let timed = latencies.lock().expect("latencies").clone();
    // The tail per 10-second window: where the slow posts were (the restart, or the machine).
    let windows: Vec<String> = (0..options.seconds.div_ceil(10))
        .map(|window| {
            let mut slice: Vec<f64> = timed
                .iter()
                .filter(|(at, _)| (*at / 10.0) as u64 == window)
                .map(|(_, ms)| *ms)
                .collect();
            slice.sort_by(f64::total_cmp);
            let p99 = slice
                .get(((slice.len() as f64 - 1.0) * 0.99).round() as usize)
                .copied()
                .unwrap_or(f64::NAN);
            format!("{}–{} s: {p99:.0}", window * 10, window * 10 + 10)
        })
        .collect();
    let mut latencies: Vec<f64> = timed.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let (p50, p90, p99, max) = (
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0),
    );
    let lost = lost.load(Ordering::SeqCst);
    writeln!(out, "  p99 per 10 s (ms): {}", windows.join(" · "))?;
    // The board's own view of the same posts (its request log): time inside the board, from the
    // request read to the response written, without the network and the client's scheduling.
    let log = std::fs::read_to_string(&board.log).unwrap_or_default();
    let mut inside: Vec<f64> = log
        .get(log_start..)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("/verdicts") && line.contains("\"latency\""))
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let text = value["fields"]["latency"].as_str()?;
            text.trim_end_matches(" μs")
                .parse::<f64>()
                .ok()
                .map(|us| us / 1000.0)
        })
        .collect();
    inside.sort_by(f64::total_cmp);
    // What the board said went wrong, if anything (each distinct message once).
    let mut errors: Vec<String> = Vec::new();
    for line in log.get(log_start..).unwrap_or_default().lines() {
        if line.contains("\"level\":\"ERROR\"") || line.contains("\"level\":\"WARN\"") {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let text = format!(
                "{} {}",
                value["fields"]["message"].as_str().unwrap_or_default(),
                value["fields"]["error"].as_str().unwrap_or_default()
            );
            if !errors.contains(&text) {
                errors.push(text);
            }
        }
    }
    for error in errors.iter().take(5) {
        writeln!(out, "  the board logged: {}", error.trim())?;
    }
    let inside_p99 = inside
        .get(((inside.len() as f64 - 1.0) * 0.99).round() as usize)
        .copied()
        .unwrap_or(f64::NAN);
    writeln!(
        out,
        "  inside the board ({} posts in its log): p50 {:.1} ms · p99 {inside_p99:.1} ms",
        inside.len(),
        inside.get(inside.len() / 2).copied().unwrap_or(f64::NAN)
    )?;
    writeln!(
        out,
        "  {accepted} posts accepted ({} timed), {stored} stored, {lost} given up, {} retries \
         during the restart (board down {:.2} s, exit {})",
        latencies.len(),
        retried.load(Ordering::SeqCst),
        downtime.as_secs_f64(),
        status
            .code()
            .map_or("by signal".into(), |code| code.to_string())
    )?;
    writeln!(
        out,
        "  latency: p50 {p50:.1} ms · p90 {p90:.1} ms · p99 {p99:.1} ms · max {max:.1} ms; the board \
         used {:.1} CPU s in {} s; machine load average {}",
        first_cpu + second_cpu,
        options.seconds,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
    )?;
    let green = lost == 0 && stored as usize == accepted && p99 < P99_BUDGET_MS && status.success();
    writeln!(
        out,
        "  {} p99 under {P99_BUDGET_MS} ms, 0 posts lost, every accepted post stored, clean exit on SIGTERM",
        if green { term::pass() } else { term::fail() }
    )?;
    Ok(green)
}

/// Part 3: a warm `check 2` with no board joined, the board up, down (nothing listens) and slow
/// (it accepts connections and never answers), interleaved; the medians side by side. The
/// learner's own `.room.json` is put back afterwards.
fn check_timing(
    root: &Path,
    base: &url::Url,
    code: &str,
    runs: usize,
    out: &mut impl Write,
) -> Result<bool> {
    writeln!(
        out,
        "{}",
        term::bold(&format!(
            "check with a board: {runs} warm `check 2` runs each, no board / up / down / slow"
        ))
    )?;
    let path = crate::room::post::joined_path(root);
    // The learner's own join, outbox and last send, put back as they were afterwards.
    let kept: Vec<PathBuf> = vec![
        path.clone(),
        root.join("target/xtask/room-outbox.json"),
        root.join("target/xtask/room-last-send.json"),
    ];
    let saved: Vec<Option<Vec<u8>>> = kept.iter().map(|file| std::fs::read(file).ok()).collect();
    let result = (|| -> Result<bool> {
        let learner = join(base, code, "Check Timer")?;
        let slow = std::net::TcpListener::bind("127.0.0.1:0")?;
        let slow_port = slow.local_addr()?.port();
        // Accepts and holds every connection, answering nothing.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in slow.incoming().flatten() {
                held.push(stream);
            }
        });
        let down_port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = |url: String| {
            serde_json::json!({
                "url": url, "learner": learner.id, "token": learner.token,
                "class": "Bench class", "name": "Check Timer",
            })
            .to_string()
        };
        let states = [
            ("no board", None),
            (
                "board up",
                Some(config(base.as_str().trim_end_matches('/').into())),
            ),
            (
                "board down",
                Some(config(format!("http://127.0.0.1:{down_port}"))),
            ),
            (
                "board slow",
                Some(config(format!("http://127.0.0.1:{slow_port}"))),
            ),
        ];
        let exe = std::env::current_exe()?;
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); states.len()];
        // One unmeasured run, so every measured one is warm.
        Command::new(&exe)
            .args(["check", "2"])
            .env("XTASK_ROOT", root)
            .output()?;
        for _ in 0..runs {
            for (index, (_, config)) in states.iter().enumerate() {
                match config {
                    Some(text) => std::fs::write(&path, text)?,
                    None => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                let start = Instant::now();
                Command::new(&exe)
                    .args(["check", "2"])
                    .env("XTASK_ROOT", root)
                    .output()?;
                times[index].push(start.elapsed().as_secs_f64());
            }
        }
        let median = |values: &mut Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let medians: Vec<f64> = times.iter_mut().map(median).collect();
        let line: Vec<String> = states
            .iter()
            .zip(&medians)
            .map(|((name, _), median)| format!("{name} {median:.2} s"))
            .collect();
        writeln!(out, "  medians: {}", line.join(" · "))?;
        // A post must cost nothing a learner can feel: within the run-to-run noise of a check.
        let slowest = medians[1..].iter().copied().fold(0.0, f64::max);
        let green = slowest <= medians[0] * 1.10 + 0.05;
        writeln!(
            out,
            "  {} a board that is up, down or slow adds nothing measurable to `check` (within 10 %)",
            if green { term::pass() } else { term::fail() }
        )?;
        Ok(green)
    })();
    for (file, bytes) in kept.iter().zip(saved) {
        match bytes {
            Some(bytes) => std::fs::write(file, bytes)?,
            None => {
                let _ = std::fs::remove_file(file);
            }
        }
    }
    result
}

/// CPU seconds a process has used (user + system), from `/proc` (Linux; `None` elsewhere).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux the kit runs on.
    Some(ticks / 100.0)
}

fn count_verdicts(board: &Board) -> Result<i64> {
    let database = board
        .env
        .iter()
        .find(|(key, _)| key == "DATABASE_URL")
        .map(|(_, value)| value.clone())
        .context("no DATABASE_URL")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&database).await?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM verdicts")
            .fetch_one(&mut connection)
            .await?;
        Ok(count)
    })
}

fn drop_database(settings: &crate::engine::settings::Settings, name: &str) {
    let Ok(url) = settings.database_url() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let _ = runtime.block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(url.as_str()).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut connection)
        .await?;
        anyhow::Ok(())
    });
}
