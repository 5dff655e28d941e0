//! The load balancer: HAProxy in front of the web processes.
//!
//! The backend is a template of empty slots (`server-template`), all in maintenance at first.
//! Putting a replica in rotation is two commands on HAProxy's runtime API (its stats socket):
//! point a slot at the replica's port, then make it ready; HAProxy health-checks it on the app's
//! readiness path and sends it traffic once the check passes. Taking one out is `drain` (no new
//! requests; those in flight finish), then `maint`. No reload, no dropped connection: this is what
//! a platform's router does during a rolling deploy.
//!
//! HAProxy logs every request on its stdout (one line: time, status, total time, server, method,
//! path); [`Traffic`] turns them into the per-second figures of the live line and the report.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many web replicas the backend can hold at once (a rolling deploy needs one more than the
/// scale).
pub const SLOTS: usize = 16;

/// One request as HAProxy logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Milliseconds since the Unix epoch, when HAProxy received it.
    pub at_ms: u64,
    /// The status sent to the client (`-1` when the client went away first).
    pub status: i32,
    /// Total time HAProxy spent on it, in milliseconds (the client's latency, minus the network).
    pub total_ms: u64,
    /// The slot that answered (`web3`), or `<NOSRV>`.
    pub server: String,
    pub method: String,
    pub path: String,
}

impl Request {
    /// Parses a line of the log format below.
    pub fn parse(line: &str) -> Option<Request> {
        let mut fields = line.split_whitespace();
        let seconds: u64 = fields.next()?.parse().ok()?;
        let millis: u64 = fields.next()?.parse().ok()?;
        let status = fields.next()?.parse().ok()?;
        let total_ms = fields.next()?.parse::<i64>().ok()?.max(0) as u64;
        let server = fields.next()?.to_string();
        let method = fields.next()?.to_string();
        let path = fields.next()?.to_string();
        Some(Request {
            at_ms: seconds * 1000 + millis,
            status,
            total_ms,
            server,
            method,
            path,
        })
    }

    pub fn failed(&self) -> bool {
        !(200..300).contains(&self.status)
    }
}

/// Every request the load balancer has logged so far.
#[derive(Clone, Default)]
pub struct Traffic(Arc<Mutex<Vec<Request>>>);

impl Traffic {
    pub fn snapshot(&self) -> Vec<Request> {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn push(&self, request: Request) {
        if let Ok(mut requests) = self.0.lock() {
            requests.push(request);
        }
    }
}

pub struct LoadBalancer {
    child: Child,
    /// The port clients connect to.
    pub port: u16,
    socket: PathBuf,
    /// Which slot serves which process (`web3` → `web.5`).
    slots: BTreeMap<String, String>,
    pub traffic: Traffic,
    tail: Arc<Mutex<Vec<String>>>,
}

/// The configuration: a frontend on `port`, a backend of [`SLOTS`] empty slots checked on
/// the app's `readiness` path, the runtime API on `socket`, one log line per request on stdout.
pub fn config(port: u16, socket: &Path, readiness: &str) -> String {
    format!(
        r#"# Written by `cargo xtask deploy`: the load balancer of the local platform.
global
    stats socket {socket} mode 600 level admin
    log stdout format raw local0
    maxconn 4096

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
    # A connection refused by a replica that is going away is tried again on another one: the
    # request never reached the app, so even a POST is safe to retry. Nothing else is retried
    # (a request the app received may have done its work).
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend app
    bind 127.0.0.1:{port}
    # One line per request: time (s, ms), status, total ms, server, method, path.
    log-format "%Ts %ms %ST %Ta %s %HM %HP"
    default_backend web

backend web
    balance roundrobin
    option httpchk GET {readiness}
    http-check expect status 200
    # Every second while up; every 200 ms while a replica is coming up or going down.
    default-server inter 1s fastinter 200ms downinter 200ms fall 2 rise 1
    server-template web 1-{SLOTS} 127.0.0.1:9 disabled check
"#,
        socket = socket.display()
    )
}

impl LoadBalancer {
    /// Starts HAProxy (`haproxy`, the path from `tools::haproxy`) with its files in `dir`.
    pub fn start(haproxy: &Path, dir: &Path, port: u16, readiness: &str) -> Result<LoadBalancer> {
        std::fs::create_dir_all(dir)?;
        let socket = dir.join("haproxy.sock");
        let _ = std::fs::remove_file(&socket);
        let config_path = dir.join("haproxy.cfg");
        std::fs::write(&config_path, config(port, &socket, readiness))?;
        let mut child = Command::new(haproxy)
            // -db: stay in the foreground, as a child of xtask, stopped with it.
            .args(["-db", "-f"])
            .arg(&config_path)
            // In the run's folder, like every process of the demo: what is left there is a leak.
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", haproxy.display()))?;
        let traffic = Traffic::default();
        let tail = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            read_log(stdout, traffic.clone(), Arc::clone(&tail));
        }
        if let Some(stderr) = child.stderr.take() {
            read_log(stderr, traffic.clone(), Arc::clone(&tail));
        }
        let mut balancer = LoadBalancer {
            child,
            port,
            socket,
            slots: BTreeMap::new(),
            traffic,
            tail,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while balancer.command("show info").is_err() {
            if let Some(status) = balancer.child.try_wait()? {
                bail!(
                    "HAProxy exited at start ({}):\n{}",
                    super::formation::describe(status),
                    balancer
                        .tail
                        .lock()
                        .map(|t| t.join("\n"))
                        .unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("HAProxy did not open its runtime API within 5 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(balancer)
    }

    /// One command on the runtime API; its answer.
    pub fn command(&self, command: &str) -> Result<String> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    /// Puts `process`, listening on `port`, in rotation; returns once HAProxy's health check has
    /// found it up.
    pub fn add(&mut self, process: &str, port: u16, timeout: Duration) -> Result<()> {
        let slot = (1..=SLOTS)
            .map(|n| format!("web{n}"))
            .find(|slot| !self.slots.contains_key(slot))
            .context("every load balancer slot is taken")?;
        for command in [
            format!("set server web/{slot} addr 127.0.0.1 port {port}"),
            format!("set server web/{slot} state ready"),
        ] {
            let answer = self.command(&command)?;
            if answer.to_lowercase().contains("no such") || answer.contains("denied") {
                bail!("HAProxy refused `{command}`: {}", answer.trim());
            }
        }
        self.slots.insert(slot.clone(), process.to_string());
        let deadline = Instant::now() + timeout;
        while self.status(&slot)? != "UP" {
            if Instant::now() > deadline {
                bail!("HAProxy's health check did not find {process} up within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops sending new requests to `process`; returns once it has no request of the load
    /// balancer's in flight, or after `timeout` (zero: at once).
    pub fn drain(&mut self, process: &str, timeout: Duration) -> Result<()> {
        let slot = self.slot(process)?;
        self.command(&format!("set server web/{slot} state drain"))?;
        let deadline = Instant::now() + timeout;
        while self.stat(&slot, "scur")? != "0" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Takes `process` out of the backend altogether (after it has stopped).
    pub fn remove(&mut self, process: &str) -> Result<()> {
        let slot = self.slot(process)?;
        self.command(&format!("set server web/{slot} state maint"))?;
        self.slots.remove(&slot);
        Ok(())
    }

    fn slot(&self, process: &str) -> Result<String> {
        self.slots
            .iter()
            .find(|(_, name)| *name == process)
            .map(|(slot, _)| slot.clone())
            .with_context(|| format!("{process} is not behind the load balancer"))
    }

    /// The slots in rotation and what serves them.
    pub fn slots(&self) -> &BTreeMap<String, String> {
        &self.slots
    }

    /// `UP`, `DOWN`, `MAINT`, `DRAIN`, … for a slot (from `show stat`).
    fn status(&self, slot: &str) -> Result<String> {
        self.stat(slot, "status")
    }

    /// One column of `show stat` for a slot of the backend.
    fn stat(&self, slot: &str, column: &str) -> Result<String> {
        let answer = self.command("show stat")?;
        let mut lines = answer.lines();
        let header = lines.next().context("empty answer to `show stat`")?;
        let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
        let index = columns
            .iter()
            .position(|c| *c == column)
            .with_context(|| format!("`show stat` has no column {column}"))?;
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.first() == Some(&"web") && fields.get(1) == Some(&slot) {
                return Ok(fields.get(index).unwrap_or(&"").to_string());
            }
        }
        bail!("`show stat` does not list web/{slot}")
    }

    /// Stops HAProxy (SIGUSR1: a soft stop, after the connections it holds).
    pub fn stop(mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGUSR1);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Drop kills it.
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Reads HAProxy's output: request lines into `traffic`, anything else into `tail`.
fn read_log(stream: impl Read + Send + 'static, traffic: Traffic, tail: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            match Request::parse(&line) {
                Some(request) => traffic.push(request),
                None => {
                    if let Ok(mut tail) = tail.lock() {
                        tail.push(line);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_request_line() {
        let request = Request::parse("1764936000 042 503 12 web3 POST /notifications").unwrap();
        assert_eq!(request.at_ms, 1_764_936_000_042);
        assert!(request.failed());
        assert_eq!((request.server.as_str(), request.total_ms), ("web3", 12));
        assert!(Request::parse("[NOTICE] haproxy started").is_none());
    }
}
