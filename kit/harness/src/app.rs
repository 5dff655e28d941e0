//! Spawning the app under test and watching it from the outside.
//!
//! Each [`App`] runs the real binary in a world of its own: a cleared environment (only what the test
//! sets, plus a minimal `PATH`), a temp directory as cwd, `HOME` and `TMPDIR`, and a free `PORT`.
//! Its stdout and stderr are captured line by line while it runs; if the test fails, they are
//! printed with the environment it ran with, secrets masked.

use crate::http::{self, Reply};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long an app may take to answer its readiness probe.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times an app that found its leased port taken is started again on another one.
const PORT_RACE_RETRIES: u32 = 2;

/// Whether a starting app became ready, or exited because its port was in use.
#[derive(Debug, PartialEq, Eq)]
enum Readiness {
    Ready,
    PortTaken,
}

/// How often a starting app's port is tried (a refused connection costs microseconds).
const READY_PROBE_INTERVAL: Duration = Duration::from_millis(1);

/// How a secret the app itself printed appears in failure messages: unmistakably a leak, not the
/// `*****` a learner is told to redact with.
pub const LEAKED: &str = "[LEAKED SECRET]";

/// The `PATH` apps get unless a test sets its own: system tools only, nothing from the developer.
pub const MINIMAL_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A line the app wrote, with when the harness read it (to prove logs stream while it runs).
#[derive(Debug, Clone)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
    pub at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Configures one run of the app; [`AppBuilder::spawn`] starts it.
#[derive(Debug, Clone)]
pub struct AppBuilder {
    /// The executable: usually [`crate::app_binary!`], so the same check judges the exercise, the
    /// solution or any app xtask names.
    binary: PathBuf,
    /// How failure messages name the process (`replica A`): a check with three apps running must
    /// say which one misbehaved.
    name: String,
    args: Vec<String>,
    /// The whole environment the app gets (it starts cleared): a check states every input, so an
    /// app cannot pass on something the developer's shell happened to export.
    env: BTreeMap<String, String>,
    /// Values to mask in everything printed about the app, and to look for in its output (a leak
    /// fails the test). Passwords inside URLs in `env` are added when the app starts.
    secrets: Vec<String>,
    /// The working directory, when a check needs a particular one (a release directory); by
    /// default a fresh temp directory, so the app finds no source tree and no `.env` by accident.
    cwd: Option<PathBuf>,
    /// Files written into the cwd before the start (a `.env`), relative to it.
    files: Vec<(PathBuf, String)>,
    /// What readiness means: `GET` on this path answers 2xx (`/health`, the kit's contract), or,
    /// without one, the port accepts a connection.
    ready_path: Option<String>,
    /// A port the check chose (to take it away, or reuse it after a restart); otherwise one is
    /// leased from [`crate::ports`].
    port: Option<u16>,
}

/// What a platform attaches to every process of a whole app (`KIT_APP_ENV`: `KEY=value` lines),
/// before the test's own settings, which win (`env`, `env_remove`).
///
/// Set only by `cargo xtask verify`'s finished-app step, which judges the finished noticeboard with
/// every factor's checks: that app needs Postgres and Redis wherever it runs, while each factor's
/// checks give it only what their snapshot uses. Unset for exercises and solutions.
fn attached_env() -> Vec<(String, String)> {
    std::env::var("KIT_APP_ENV")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A one-off process that ran to its end (see [`AppBuilder::run_to_end`]).
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

impl AppBuilder {
    /// Runs `binary` (usually [`crate::app_binary!`]) with a cleared environment.
    pub fn new(binary: impl AsRef<Path>) -> Self {
        let binary = binary.as_ref().to_path_buf();
        let name = binary
            .file_name()
            .map_or_else(|| "app".into(), |name| name.to_string_lossy().into_owned());
        // RUST_BACKTRACE=1, as many Rust developers export it: a fatal start-up error must still
        // be one clear line, never a backtrace (a test may remove it).
        let mut env = BTreeMap::from([
            ("PATH".into(), MINIMAL_PATH.into()),
            ("RUST_BACKTRACE".into(), "1".into()),
        ]);
        env.extend(attached_env());
        AppBuilder {
            binary,
            name,
            args: Vec::new(),
            env,
            secrets: Vec::new(),
            cwd: None,
            files: Vec::new(),
            ready_path: Some("/health".into()),
            port: None,
        }
    }

    /// How failure output names this process, e.g. `replica A`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Like [`AppBuilder::env`], and the value is masked wherever the harness prints output.
    pub fn secret_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        self.secrets.push(value.clone());
        self.env(key, value)
    }

    /// Masks `secret` in everything the harness prints about this app.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Runs in `dir` instead of a fresh temp directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Writes `contents` to `path` (relative to the app's cwd) before the app starts, e.g. a `.env`.
    pub fn file(mut self, path: impl Into<PathBuf>, contents: impl Into<String>) -> Self {
        self.files.push((path.into(), contents.into()));
        self
    }

    /// The path polled until it answers 2xx (default `/health`).
    pub fn ready_path(mut self, path: impl Into<String>) -> Self {
        self.ready_path = Some(path.into());
        self
    }

    /// Considers the app ready as soon as its port accepts a TCP connection.
    pub fn ready_on_connect(mut self) -> Self {
        self.ready_path = None;
        self
    }

    /// Binds this port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Starts the app and waits until it is ready; fails the test if it exits or stays silent.
    #[track_caller]
    pub fn spawn(self) -> App {
        let [app] = Self::spawn_all([self]);
        app
    }

    /// Starts every app at once, then waits until each is ready: replicas start in the time of
    /// one, not one after the other.
    #[track_caller]
    pub fn spawn_all<const N: usize>(builders: [AppBuilder; N]) -> [App; N] {
        let mut apps = builders.clone().map(AppBuilder::start);
        for (app, builder) in apps.iter_mut().zip(&builders) {
            let path = builder.ready_path.as_deref();
            let mut retries = 0;
            while app.wait_ready_or_port_taken(path, READY_TIMEOUT) == Readiness::PortTaken {
                // A port the harness chose was taken by a program outside its leases between the
                // lease and the app's bind: the machine's fault, not the app's. Try another port.
                if builder.port.is_some() || retries == PORT_RACE_RETRIES {
                    app.panic_not_ready();
                }
                retries += 1;
                *app = builder.clone().start();
            }
        }
        apps
    }

    /// Runs a one-off process (an admin task, say) until it exits; fails the test if it is still
    /// running after `timeout`, showing its output.
    #[track_caller]
    pub fn run_to_end(self, timeout: Duration) -> Finished {
        let started = Instant::now();
        let mut app = self.start();
        let Some(status) = app.wait_exit(timeout) else {
            panic!(
                "{} was still running after {timeout:?}; a one-off process must finish; its output:\n{}",
                app.name,
                app.tail(12)
            );
        };
        Finished {
            status,
            stdout: app.stdout(),
            stderr: app.stderr(),
            took: started.elapsed(),
        }
    }

    /// Starts the app without waiting for it (to watch it fail at start-up, for instance).
    #[track_caller]
    pub fn start(self) -> App {
        // The HTTP client is built once per check binary (tens of milliseconds): build it while
        // the first app starts rather than after.
        http::warm_up();
        let home = TempDir::with_prefix("kit-app-").expect("cannot create a temp dir for the app");
        let cwd = self
            .cwd
            .clone()
            .unwrap_or_else(|| home.path().to_path_buf());
        for (path, contents) in &self.files {
            let path = cwd.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("cannot create a folder for a test file");
            }
            std::fs::write(&path, contents)
                .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        }
        let port = self.port.unwrap_or_else(free_port);
        default_signals_for_children();
        let mut env = self.env.clone();
        env.entry("PORT".into()).or_insert_with(|| port.to_string());
        for key in ["HOME", "TMPDIR"] {
            env.entry(key.into())
                .or_insert_with(|| home.path().display().to_string());
        }
        let mut secrets = self.secrets.clone();
        secrets.extend(env.values().filter_map(|value| url_password(value)));
        let mut child = Command::new(&self.binary)
            .args(&self.args)
            .env_clear()
            .envs(&env)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", self.binary.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            capture(child.stdout.take().unwrap(), Stream::Stdout, &lines),
            capture(child.stderr.take().unwrap(), Stream::Stderr, &lines),
        ];
        App {
            name: self.name,
            port,
            env,
            secrets,
            child,
            exit: None,
            lines,
            readers,
            home,
        }
    }
}

fn capture(
    stream: impl Read + Send + 'static,
    kind: Stream,
    lines: &Arc<Mutex<Vec<Line>>>,
) -> thread::JoinHandle<()> {
    let lines = Arc::clone(lines);
    thread::spawn(move || {
        for text in BufReader::new(stream).lines() {
            let Ok(text) = text else { break };
            let line = Line {
                stream: kind,
                text,
                at: Instant::now(),
            };
            lines.lock().unwrap().push(line);
        }
    })
}

/// A port for an app: leased so that no other check on this machine gets it (see [`crate::ports`]).
pub fn free_port() -> u16 {
    crate::ports::lease()
}

/// The password in `value` if it is a URL with one (`postgres://user:<password>@host/db`): a
/// secret the harness handed to the app, whichever variable carried it.
fn url_password(value: &str) -> Option<String> {
    let url = reqwest::Url::parse(value).ok()?;
    let password = url.password()?;
    let decoded = percent_decoded(password);
    Some(decoded)
}

/// `%xx` escapes decoded (a URL's password may carry them); anything else as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Secrets shorter than this are not looked for in an app's output: too likely to occur by
/// chance. Every secret the checks hand out is a random string of 16 characters or more.
const SHORTEST_SECRET: usize = 8;

/// The signals a shell leaves ignored in a background job (`&` ignores SIGINT and SIGQUIT,
/// `nohup` SIGHUP), or that a parent may have ignored: each app starts with their default action.
const RESET_SIGNALS: [tokio::signal::unix::SignalKind; 4] = [
    tokio::signal::unix::SignalKind::interrupt(),
    tokio::signal::unix::SignalKind::terminate(),
    tokio::signal::unix::SignalKind::hangup(),
    tokio::signal::unix::SignalKind::quit(),
];

/// Makes every app started from now on begin with the default action for [`RESET_SIGNALS`],
/// whatever this process inherited.
///
/// A process inherits ignored signals across `exec`, but a signal it *handles* goes back to its
/// default action there (POSIX `execve`). So instead of resetting the disposition in the child
/// (`pre_exec` and `sigaction`, which are `unsafe`, forbidden in the kit), the harness handles
/// these signals itself, through tokio's safe API, before it starts the first app. Its handler
/// ends the check process as the default action would (exit status 128 + the signal's number),
/// so a check run still stops on Ctrl+C or SIGTERM.
fn default_signals_for_children() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let (installed, done) = std::sync::mpsc::channel();
        thread::Builder::new()
            .name("kit-signals".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cannot start a runtime for the harness's signal handler");
                runtime.block_on(async move {
                    let mut streams = Vec::new();
                    for kind in RESET_SIGNALS {
                        match tokio::signal::unix::signal(kind) {
                            Ok(stream) => streams.push((kind, stream)),
                            Err(err) => panic!("cannot handle signal {kind:?}: {err}"),
                        }
                    }
                    let _ = installed.send(());
                    let waits = streams.iter_mut().map(|(kind, stream)| {
                        let number = kind.as_raw_value();
                        Box::pin(async move {
                            stream.recv().await;
                            number
                        })
                    });
                    let number = first_of(waits).await;
                    std::process::exit(128 + number);
                });
            })
            .expect("cannot start the harness's signal thread");
        // Handlers are installed before the first app is spawned.
        let _ = done.recv_timeout(Duration::from_secs(5));
    });
}

/// The first of `futures` to finish, without a dependency on the `futures` crate.
async fn first_of<F>(futures: impl IntoIterator<Item = F>) -> i32
where
    F: std::future::Future<Output = i32> + Unpin,
{
    let mut futures: Vec<F> = futures.into_iter().collect();
    std::future::poll_fn(move |context| {
        for future in &mut futures {
            if let std::task::Poll::Ready(number) = std::pin::Pin::new(future).poll(context) {
                return std::task::Poll::Ready(number);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// A running (or exited) app. Dropping it kills the process.
pub struct App {
    /// How failure messages name it (see [`AppBuilder::name`]).
    name: String,
    /// The port in its `PORT`, leased for the life of the test process, so that no other check
    /// gets it while this app may still use it, and readiness can insist this very process listens
    /// there ([`App::listens_on_its_port`]).
    port: u16,
    /// The environment it was started with, printed (secrets masked) when a test fails: the first
    /// thing to know about a process that misbehaved.
    env: BTreeMap<String, String>,
    /// Every secret handed to it: masked in any output the harness prints, and looked for in its
    /// output when it is dropped (Factor III's lesson holds in every factor).
    secrets: Vec<String>,
    /// The process itself: killed and reaped on drop, so no app outlives its test.
    child: Child,
    /// Its exit status once seen: `try_wait` reaps the process, so the status is kept for the
    /// checks that ask again.
    exit: Option<ExitStatus>,
    /// Every line of stdout and stderr, with when it was read: filled by the reader threads while
    /// the app runs, so a check can wait for a line (logs must stream, not arrive at exit).
    lines: Arc<Mutex<Vec<Line>>>,
    /// The threads reading stdout and stderr; joined once the process has exited, so that
    /// [`App::output`] then holds everything it wrote.
    readers: Vec<thread::JoinHandle<()>>,
    /// Its private temp directory (default cwd, `HOME` and `TMPDIR`), removed with the `App`: what
    /// the app writes there disappears with the test.
    home: TempDir,
}

impl App {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The app's private temp directory (its default cwd, `HOME` and `TMPDIR`).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Reply {
        self.checked(http::get(&self.url(path), &[]), "GET", path)
    }

    #[track_caller]
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.checked(http::get(&self.url(path), headers), "GET", path)
    }

    #[track_caller]
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.checked(http::post_json(&self.url(path), body), "POST", path)
    }

    /// The raw result, for tests that expect the request itself to fail.
    pub fn try_get(&self, path: &str) -> Result<Reply, String> {
        http::get(&self.url(path), &[])
    }

    #[track_caller]
    fn checked(&self, reply: Result<Reply, String>, method: &str, path: &str) -> Reply {
        reply.unwrap_or_else(|err| {
            panic!(
                "{} did not answer {method} {path}: {err}{}",
                self.name,
                self.exit_note()
            )
        })
    }

    fn exit_note(&self) -> String {
        match self.exit {
            Some(status) => format!(" (the process has exited: {status})"),
            None => String::new(),
        }
    }

    /// Waits until `path` answers 2xx (or, without a path, the port accepts connections).
    ///
    /// The port is probed every [`READY_PROBE_INTERVAL`] with a bare connection attempt, which a
    /// port nobody listens on refuses at once (microseconds): the app is seen ready within a
    /// millisecond of binding. Only then does the HTTP probe and the `/proc` proof of who listens
    /// run, once.
    #[track_caller]
    pub fn wait_ready(&mut self, path: Option<&str>, timeout: Duration) {
        if self.wait_ready_or_port_taken(path, timeout) == Readiness::PortTaken {
            self.panic_not_ready();
        }
    }

    /// [`App::wait_ready`], except that an app that exited because its port was already in use
    /// is reported rather than failed: the harness may start it again on another port.
    #[track_caller]
    fn wait_ready_or_port_taken(&mut self, path: Option<&str>, timeout: Duration) -> Readiness {
        let deadline = Instant::now() + timeout;
        loop {
            let accepts = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            let ready = accepts
                && match path {
                    Some(path) => {
                        matches!(http::get(&self.url(path), &[]), Ok(reply) if reply.is_success())
                    }
                    None => true,
                };
            // An answer proves readiness only if it came from this process, not from another
            // program that happens to listen on the port, and if the process is still alive.
            if ready && self.listens_on_its_port() {
                return Readiness::Ready;
            }
            if self.poll_exit().is_some() {
                if self.found_its_port_in_use() {
                    return Readiness::PortTaken;
                }
                self.panic_not_ready();
            }
            if Instant::now() >= deadline {
                let probe = path.map_or("a connection".to_string(), |p| format!("GET {p}"));
                if ready {
                    panic!(
                        "port {} answered {probe}, but {} (pid {}) does not listen on it: another \
                         process answered; its last output:\n{}",
                        self.port,
                        self.name,
                        self.pid(),
                        self.tail(12)
                    );
                }
                panic!(
                    "{} did not answer {probe} on port {} within {:?}; its last output:\n{}",
                    self.name,
                    self.port,
                    timeout,
                    self.tail(12)
                );
            }
            thread::sleep(READY_PROBE_INTERVAL);
        }
    }

    /// Whether the app, now exited, said its port was already in use (`EADDRINUSE`: os error 98 on
    /// Linux, 48 on macOS).
    fn found_its_port_in_use(&self) -> bool {
        let output = self.output().to_lowercase();
        output.contains("address already in use")
            || output.contains("addrinuse")
            || output.contains("os error 98")
            || output.contains("os error 48")
    }

    /// Fails the check: the app exited before it was ready.
    #[track_caller]
    fn panic_not_ready(&mut self) -> ! {
        let status = self
            .poll_exit()
            .map_or("still running".to_string(), |status| status.to_string());
        panic!(
            "{} exited ({status}) before it was ready; its last output:\n{}",
            self.name,
            self.tail(12)
        );
    }

    /// Whether this process (or a process it started) holds a listening socket on its port.
    ///
    /// Where `/proc` cannot tell (not Linux), the answer on the port is taken at its word.
    pub fn listens_on_its_port(&self) -> bool {
        if !Path::new("/proc/self/net/tcp").exists() {
            return true;
        }
        let mut pids = vec![self.pid()];
        pids.extend(crate::procfs::descendants(self.pid()));
        pids.iter().any(|pid| {
            crate::procfs::listening_sockets(*pid)
                .iter()
                .any(|addr| addr.port() == self.port)
        })
    }

    /// What is wrong with how the app reported a fatal error, if anything: a panic, or a backtrace
    /// (the harness runs apps with `RUST_BACKTRACE=1`, as many developers' shells do). A process
    /// that cannot start should say why in one clear line, whatever the environment.
    pub fn fatal_error_noise(&self) -> Option<String> {
        let output = crate::noticeboard::strip_ansi(&self.output());
        if output.contains("panicked at") {
            Some("it panicked instead of reporting the error".into())
        } else if output.contains("Stack backtrace:") || output.contains("stack backtrace:") {
            Some(
                "it printed a backtrace with the error (with RUST_BACKTRACE=1 set, as many \
                 developers have it): returning an `anyhow::Error` from `main` prints its `Debug` \
                 form; print `{err:#}` on one line and exit with a failure status instead"
                    .into(),
            )
        } else {
            None
        }
    }

    /// Sends a Unix signal (SIGTERM, SIGINT, ...) to the process.
    pub fn signal(&self, signal: Signal) {
        // The process may already be gone; that is what the test will then observe.
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// SIGKILL, then reap: the process is gone when this returns.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.exit = self.child.wait().ok();
        self.join_readers();
    }

    /// The exit status if the process has exited, without waiting.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        self.wait_exit(Duration::ZERO)
    }

    /// Waits at most `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit {
                return Some(status);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                self.join_readers();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// Every line read so far, in arrival order.
    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().unwrap().clone()
    }

    /// Everything the app wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stream_text(Stream::Stdout)
    }

    /// Everything the app wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stream_text(Stream::Stderr)
    }

    /// Stdout and stderr together, in arrival order.
    pub fn output(&self) -> String {
        self.lines()
            .into_iter()
            .map(|line| line.text + "\n")
            .collect()
    }

    fn stream_text(&self, stream: Stream) -> String {
        self.lines()
            .into_iter()
            .filter(|line| line.stream == stream)
            .map(|line| line.text + "\n")
            .collect()
    }

    /// Waits until some output line satisfies `matches`, at most `timeout`.
    pub fn wait_for_line(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> Option<Line> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| matches(&line.text)) {
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last `count` lines, masked, for failure messages.
    pub fn tail(&self, count: usize) -> String {
        let lines = self.lines();
        let start = lines.len().saturating_sub(count);
        let text: String = lines[start..]
            .iter()
            .map(|line| format!("    | {}\n", line.text))
            .collect();
        if text.is_empty() {
            "    | (no output)\n".into()
        } else {
            self.mask(&text)
        }
    }

    /// Prepares app output for a failure message: colour codes stripped, and every secret the
    /// test registered replaced by [`LEAKED`], so a leak cannot pass for a line already redacted.
    pub fn mask(&self, text: &str) -> String {
        self.replace_secrets(&crate::noticeboard::strip_ansi(text), LEAKED)
    }

    fn replace_secrets(&self, text: &str, with: &str) -> String {
        self.secrets
            .iter()
            .filter(|secret| !secret.is_empty())
            .fold(text.to_string(), |text, secret| {
                text.replace(secret.as_str(), with)
            })
    }

    fn report(&self) -> String {
        // What the check gave the app: secrets hidden as a redaction would hide them.
        let env: String = self
            .env
            .iter()
            .map(|(key, value)| format!("    {key}={}\n", self.replace_secrets(value, "*****")))
            .collect();
        let output: String = self
            .lines()
            .iter()
            .map(|line| {
                let tag = if line.stream == Stream::Stdout {
                    "out"
                } else {
                    "err"
                };
                format!("    {tag} | {}\n", self.mask(&line.text))
            })
            .collect();
        format!(
            "── {} (pid {}, port {}) ──\n  env:\n{env}  output:\n{}",
            self.name,
            self.child.id(),
            self.port,
            if output.is_empty() {
                "    (none)\n".into()
            } else {
                output
            }
        )
    }
}

impl App {
    /// The variable that carried a secret the app wrote to its output, if it wrote one: Factor
    /// III's lesson holds in every factor.
    pub fn leaked_secret(&self) -> Option<String> {
        let output = crate::noticeboard::strip_ansi(&self.output());
        let secret = self
            .secrets
            .iter()
            .filter(|secret| secret.len() >= SHORTEST_SECRET)
            .find(|secret| output.contains(secret.as_str()))?;
        let carrier = self
            .env
            .iter()
            .find(|(_, value)| value.contains(secret.as_str()))
            .map_or("a secret the check gave it".to_string(), |(key, _)| {
                format!("the password in {key}")
            });
        Some(carrier)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
        }
        if thread::panicking() {
            eprintln!("{}", self.report());
        } else if let Some(carrier) = self.leaked_secret() {
            // Every factor's checks hand out secrets; none may come back in the app's output.
            eprintln!("{}", self.report());
            crate::lesson(3).fail(
                "the-fix",
                format!(
                    "{} wrote {carrier} to its output (the app's output, shown with this \
                     failure, marks it {LEAKED}): \
                     logs are read by many people and kept for a long time, so whoever reads them \
                     could use it. Log a URL with its password replaced (`*****`), or leave the \
                     secret out",
                    self.name
                ),
            );
        }
    }
}
