//! A formation: the processes of a Procfile, at a scale, supervised one by one.
//!
//! This is the kit's own Procfile runner. honcho and foreman stop the whole formation when one
//! process exits, and supervisord cannot prefix the merged log stream with process names or hand
//! back a stopped process's exit code without parsing its log (see ARCHITECTURE.md, "deploy").
//! Here each process is a child of xtask in a process group of its own, so a signal reaches
//! exactly the process it is meant for, and one process can be started, killed or restarted while
//! the rest keep running.
//!
//! The API, for the demos (`cargo xtask deploy --demo`, `cargo xtask demo 8`):
//!
//! ```text
//! let mut formation = Formation::start(&procfile, &scale, Settings::new(env))?; // web.1, worker.1, …
//! formation.wait_ready("web.1", Duration::from_secs(10))?;   // its readiness path answers 200
//! let new = formation.start_process("web")?;                 // one more: web.2
//! formation.kill("worker.1", Signal::SIGKILL)?;              // that one only; returns its exit
//! let exit = formation.restart("worker.2")?;                 // SIGTERM, wait, start it again
//! let exits = formation.stop();                              // SIGTERM all, then SIGKILL late ones
//! ```
//!
//! Every process gets the settings' environment (and nothing else from xtask's), `PORT` (a free
//! port of its own), `DYNO` (its name, as Heroku sets it), `WORKER_NAME` (the same, for apps that
//! name their deliveries) and a `PATH` that starts with the settings' binary folders. Its stdout
//! and stderr go, line by line and prefixed with its name, to the settings' log sink. Dropping a
//! formation kills what still runs, so an error anywhere leaves nothing behind.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::procfile::{Procfile, Scale};

/// Where the merged log stream goes: every line of every process, prefixed with its name.
#[derive(Clone)]
pub struct LogSink(Arc<Mutex<Box<dyn Write + Send>>>);

impl LogSink {
    pub fn new(out: impl Write + Send + 'static) -> LogSink {
        LogSink(Arc::new(Mutex::new(Box::new(out))))
    }

    /// The terminal's stdout, written to directly: `cargo xtask` holds `std::io::stdout()`'s
    /// lock for its whole run, and a process whose log cannot be written blocks once its pipe
    /// is full.
    pub fn stdout() -> LogSink {
        LogSink::new(unlocked_stdout())
    }

    /// Writes one line of `name`'s output, as foreman does: `12:00:01 web.1    | …`.
    pub fn line(&self, name: &str, line: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let (h, m, s) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
        let mut out = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(out, "{h:02}:{m:02}:{s:02} {name:<9}| {line}");
        let _ = out.flush();
    }
}

/// File descriptor 1 as a file of its own, bypassing the lock on `std::io::stdout()` (the command
/// that runs the formation holds it); falls back to stderr if it cannot be duplicated.
pub fn unlocked_stdout() -> Box<dyn Write + Send> {
    use std::os::fd::AsFd;
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::stderr()),
    }
}

/// How the formation runs its processes.
pub struct Settings {
    /// The config every process gets (`DATABASE_URL`, `REDIS_URL`, …).
    pub env: BTreeMap<String, String>,
    /// Folders put in front of the system `PATH` (where the app's binaries are).
    pub bin_dirs: Vec<PathBuf>,
    /// The working folder of every process.
    pub cwd: PathBuf,
    pub logs: LogSink,
    /// How long a process may take to exit after SIGTERM before it gets SIGKILL (Heroku: 30 s;
    /// the kit's apps promise 5 s).
    pub grace: Duration,
    /// The path that answers `200` once a web process may take traffic: the app's readiness
    /// probe (`/health` for the exercises, which have no other).
    pub readiness: String,
}

impl Settings {
    pub fn new(env: BTreeMap<String, String>) -> Settings {
        Settings {
            env,
            bin_dirs: Vec::new(),
            cwd: std::env::temp_dir(),
            logs: LogSink::stdout(),
            grace: Duration::from_secs(8),
            readiness: "/health".into(),
        }
    }
}

/// One running process of the formation.
pub struct Process {
    /// `web.1`, `worker.2`: the type and a number that is never reused in this formation.
    pub name: String,
    pub kind: String,
    /// The port in its `PORT` (only web processes are expected to listen on it).
    pub port: u16,
    child: Child,
    /// Its last lines of output, to show when it fails.
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its last lines of output (at most 20).
    pub fn tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub name: String,
    pub status: ExitStatus,
    /// Whether it had to be killed after its grace period.
    pub killed_after_grace: bool,
}

impl Exit {
    /// `exit 0`, `exit 1`, `killed by SIGTERM`.
    pub fn describe(&self) -> String {
        describe(self.status)
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// `exit 0`, `exit 1`, `killed by SIGTERM`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("killed by {signal}"),
            Err(_) => format!("killed by signal {signal}"),
        },
        _ => status.to_string(),
    }
}

pub struct Formation {
    procfile: Procfile,
    settings: Settings,
    processes: Vec<Process>,
    /// The last number given to each type: `web.4` after web.1–3, even once web.1 is gone.
    numbers: BTreeMap<String, usize>,
}

impl Formation {
    /// Starts `scale` processes of each type of the Procfile (not its release phase: see
    /// [`run_release`]).
    pub fn start(procfile: &Procfile, scale: &Scale, settings: Settings) -> Result<Formation> {
        scale.check_against(procfile)?;
        let mut formation = Formation {
            procfile: procfile.clone(),
            settings,
            processes: Vec::new(),
            numbers: BTreeMap::new(),
        };
        for (kind, _) in &procfile.types {
            for _ in 0..scale.of(kind) {
                formation.start_process(kind)?;
            }
        }
        Ok(formation)
    }

    /// Starts one more process of `kind`, with a port of its own; returns its name.
    pub fn start_process(&mut self, kind: &str) -> Result<String> {
        let command = self
            .procfile
            .command(kind)
            .with_context(|| format!("the Procfile has no process type `{kind}`"))?
            .to_string();
        let number = self.numbers.entry(kind.to_string()).or_default();
        *number += 1;
        let name = format!("{kind}.{number}");
        let port = free_port()?;
        let process = self.spawn(&name, kind, &command, port)?;
        self.processes.push(process);
        Ok(name)
    }

    fn spawn(&self, name: &str, kind: &str, command: &str, port: u16) -> Result<Process> {
        let mut child = self
            .command(command)
            .env("PORT", port.to_string())
            .env("DYNO", name)
            .env("WORKER_NAME", name)
            .spawn()
            .with_context(|| format!("cannot start {name} (`{command}`)"))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stdout) = child.stdout.take() {
            pump(name, stdout, self.settings.logs.clone(), Arc::clone(&tail));
        }
        if let Some(stderr) = child.stderr.take() {
            pump(name, stderr, self.settings.logs.clone(), Arc::clone(&tail));
        }
        Ok(Process {
            name: name.to_string(),
            kind: kind.to_string(),
            port,
            child,
            tail,
        })
    }

    /// A shell running `command` with the formation's
    /// environment, in a process group of its own.
    fn command(&self, command: &str) -> Command {
        let mut path: Vec<PathBuf> = self.settings.bin_dirs.clone();
        path.extend(std::env::split_paths("/usr/local/bin:/usr/bin:/bin"));
        // `exec` for a plain command, so the signals reach the app and not a shell; a command
        // with shell syntax of its own runs as written.
        let plain = !command.contains([';', '&', '|', '\n']);
        let script = if plain {
            format!("exec {command}")
        } else {
            command.to_string()
        };
        let mut process = Command::new("/bin/sh");
        process
            .arg("-c")
            .arg(script)
            .env_clear()
            .envs(&self.settings.env)
            .env("PATH", std::env::join_paths(path).unwrap_or_default())
            .current_dir(&self.settings.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Ctrl-C in the terminal reaches xtask only; xtask then stops each process in order.
            .process_group(0);
        if let Some(home) = std::env::var_os("HOME") {
            process.env("HOME", home);
        }
        process
    }

    /// Changes one variable for the processes started from now on (a new release's config: the
    /// running ones keep theirs, as on any platform).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.settings.env.insert(key.to_string(), value.to_string());
    }

    /// The running processes, oldest first.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter()
    }

    pub fn process(&self, name: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The names of the running processes of `kind`, oldest first.
    pub fn names_of(&self, kind: &str) -> Vec<String> {
        self.processes
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.name.clone())
            .collect()
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.processes
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("no running process is called {name}"))
    }

    /// Waits until `name` answers `GET <readiness path>` with `200` on its port.
    pub fn wait_ready(&mut self, name: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let index = self.index(name)?;
            let process = &mut self.processes[index];
            if let Some(status) = process.child.try_wait()? {
                // Let the log pumps read its last lines.
                std::thread::sleep(Duration::from_millis(100));
                bail!(
                    "{name} exited before it was ready ({}); its last lines:\n{}",
                    describe(status),
                    process.tail().join("\n")
                );
            }
            if http_status(process.port, "GET", &self.settings.readiness, "") == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} did not answer GET {} with 200 on port {} within {timeout:?}; its \
                     last lines:\n{}",
                    self.settings.readiness,
                    process.port,
                    process.tail().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to `name` only. With SIGKILL, also waits for it and returns how it ended.
    pub fn kill(&mut self, name: &str, signal: Signal) -> Result<Option<Exit>> {
        let index = self.index(name)?;
        let group = Pid::from_raw(self.processes[index].pid() as i32);
        killpg(group, signal).with_context(|| format!("cannot send {signal} to {name}"))?;
        if signal != Signal::SIGKILL {
            return Ok(None);
        }
        let mut process = self.processes.remove(index);
        let status = process.child.wait()?;
        Ok(Some(Exit {
            name: process.name,
            status,
            killed_after_grace: false,
        }))
    }

    /// SIGTERM to `name`, then its exit; SIGKILL if it is still running after the grace period.
    pub fn terminate(&mut self, name: &str) -> Result<Exit> {
        let index = self.index(name)?;
        let process = self.processes.remove(index);
        Ok(stop_one(process, self.settings.grace))
    }

    /// Stops `name` (as [`Formation::terminate`]) and starts it again under the same name and port,
    /// with the formation's current environment (the deploy demo restarts its workers so).
    pub fn restart(&mut self, name: &str) -> Result<Exit> {
        let index = self.index(name)?;
        let (kind, port) = (
            self.processes[index].kind.clone(),
            self.processes[index].port,
        );
        let exit = self.terminate(name)?;
        let command = self.procfile.command(&kind).unwrap_or_default().to_string();
        let process = self.spawn(name, &kind, &command, port)?;
        self.processes.push(process);
        Ok(exit)
    }

    /// The processes that ended on their own since the last call (a crash, a worker that gave up).
    pub fn exited(&mut self) -> Vec<Exit> {
        let mut ended = Vec::new();
        self.processes
            .retain_mut(|process| match process.child.try_wait() {
                Ok(Some(status)) => {
                    ended.push(Exit {
                        name: process.name.clone(),
                        status,
                        killed_after_grace: false,
                    });
                    false
                }
                _ => true,
            });
        ended
    }

    /// SIGTERM to every process at once, then each one's exit (SIGKILL after the grace period).
    pub fn stop(&mut self) -> Vec<Exit> {
        for process in &self.processes {
            let _ = killpg(Pid::from_raw(process.pid() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + self.settings.grace;
        self.processes
            .drain(..)
            .map(|process| exit_within(process, deadline))
            .collect()
    }
}

impl Drop for Formation {
    /// An error or a panic anywhere must not leave processes running.
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = killpg(Pid::from_raw(process.pid() as i32), Signal::SIGKILL);
            let _ = process.child.wait();
        }
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; the exit either way. Signals go to the process's
/// group, so whatever it started goes with it.
fn stop_one(process: Process, grace: Duration) -> Exit {
    let _ = killpg(Pid::from_raw(process.pid() as i32), Signal::SIGTERM);
    exit_within(process, Instant::now() + grace)
}

/// The exit of a process already asked to stop, or SIGKILL at `deadline` (one SIGTERM only: some
/// apps take a second one as "stop now").
fn exit_within(mut process: Process, deadline: Instant) -> Exit {
    let group = Pid::from_raw(process.pid() as i32);
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            return Exit {
                name: process.name,
                status,
                killed_after_grace: false,
            };
        }
        if Instant::now() >= deadline {
            let _ = killpg(group, Signal::SIGKILL);
            let status = process
                .child
                .wait()
                .unwrap_or_else(|_| ExitStatus::from_raw(9));
            return Exit {
                name: process.name,
                status,
                killed_after_grace: true,
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the release phase (`release:` in the Procfile) to completion, its output on the log sink
/// under the name `release`; fails unless it exits 0.
pub fn run_release(procfile: &Procfile, settings: &Settings) -> Result<()> {
    let Some(command) = &procfile.release else {
        return Ok(());
    };
    let formation = Formation {
        procfile: procfile.clone(),
        settings: Settings {
            env: settings.env.clone(),
            bin_dirs: settings.bin_dirs.clone(),
            cwd: settings.cwd.clone(),
            logs: settings.logs.clone(),
            grace: settings.grace,
            readiness: settings.readiness.clone(),
        },
        processes: Vec::new(),
        numbers: BTreeMap::new(),
    };
    let mut process = formation.spawn("release", "release", command, free_port()?)?;
    let status = process.child.wait()?;
    // Let the log pumps write the last lines before the verdict.
    std::thread::sleep(Duration::from_millis(50));
    if !status.success() {
        bail!(
            "the release phase (`{command}`) failed ({}); nothing was started. Its last lines:\n{}",
            describe(status),
            process.tail().join("\n")
        );
    }
    Ok(())
}

/// Copies `stream` to the log sink line by line, keeping the last lines in `tail`.
fn pump(
    name: &str,
    stream: impl Read + Send + 'static,
    logs: LogSink,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let name = name.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            logs.line(&name, &line);
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    });
}

/// A loopback port nobody listens on now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free loopback port")?
        .local_addr()?
        .port())
}

/// The status of one HTTP/1.1 request to `127.0.0.1:port`, if it answers within a second.
pub fn http_status(port: u16, method: &str, path: &str, body: &str) -> Option<u16> {
    http(port, method, path, body, &[]).map(|(status, _)| status)
}

/// One HTTP/1.1 request to `127.0.0.1:port` (`Connection: close`): its status and body, if it
/// answers within two seconds.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Some((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::kill;

    fn settings(sink: Arc<Mutex<Vec<u8>>>) -> Settings {
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut settings = Settings::new(BTreeMap::from([("GREETING".into(), "hi".into())]));
        settings.logs = LogSink::new(Shared(sink));
        settings.grace = Duration::from_secs(2);
        settings
    }

    /// One process of a formation is killed and another restarted while the rest keep running;
    /// the log stream names each line's process; nothing outlives the formation.
    #[test]
    fn one_process_stops_and_restarts_while_the_rest_run() {
        let procfile = Procfile::parse(
            "web: echo \"$GREETING from $DYNO on $PORT\"; exec sleep 30\n\
             worker: trap 'exit 0' TERM; while true; do sleep 0.05; done\n",
        )
        .unwrap();
        let sink = Arc::new(Mutex::new(Vec::new()));
        let mut formation = Formation::start(
            &procfile,
            &Scale::parse("web=2,worker=2").unwrap(),
            settings(Arc::clone(&sink)),
        )
        .unwrap();
        let names: Vec<String> = formation.processes().map(|p| p.name.clone()).collect();
        assert_eq!(names, ["web.1", "web.2", "worker.1", "worker.2"]);
        let pids: Vec<u32> = formation.processes().map(Process::pid).collect();

        let killed = formation.kill("web.1", Signal::SIGKILL).unwrap().unwrap();
        assert_eq!(killed.describe(), "killed by SIGKILL");
        // The worker traps SIGTERM and exits 0: a graceful exit is reported as such.
        std::thread::sleep(Duration::from_millis(200));
        let restarted = formation.restart("worker.1").unwrap();
        assert_eq!(restarted.describe(), "exit 0");
        assert!(formation.exited().is_empty(), "the others kept running");
        let added = formation.start_process("web").unwrap();
        assert_eq!(added, "web.3", "numbers are never reused");

        let exits = formation.stop();
        assert_eq!(exits.len(), 4);
        for pid in pids {
            assert!(
                kill(Pid::from_raw(pid as i32), None).is_err(),
                "process {pid} still runs after stop"
            );
        }
        let log = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        assert!(log.contains("web.2    | hi from web.2 on "), "{log}");
    }

    #[test]
    fn a_failed_release_phase_says_why_and_starts_nothing() {
        let procfile = Procfile::parse("web: sleep 30\nrelease: echo migrating; exit 3\n").unwrap();
        let err = run_release(&procfile, &settings(Arc::default())).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("exit 3") && err.contains("migrating"), "{err}");
    }
}
