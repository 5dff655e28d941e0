//! The load: `oha`, a real HTTP load generator, one run per kind of request, at a fixed rate.
//!
//! Each run is a child process in a group of its own (stopped with the demo) that prints its
//! summary as JSON at the end: how many requests, which statuses, which connection errors, and
//! latency percentiles as the client saw them.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One kind of request the load sends.
#[derive(Debug, Clone)]
pub struct Target {
    /// `homepage`, `login`, `notification`: how the table names it.
    pub label: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<&'static str>,
    /// Requests per second.
    pub rate: u32,
}

/// What `oha` reported for one target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Requests that got an answer, by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer, by error.
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles, in milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second over the run.
    pub rate: f64,
}

impl Summary {
    pub fn sent(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    pub fn answered_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }

    /// Non-2xx answers and requests that got no answer.
    pub fn failed(&self) -> u64 {
        self.sent() - self.answered_2xx()
    }

    /// Reads `oha --output-format json`.
    pub fn parse(json: &str) -> Result<Summary> {
        let value: serde_json::Value =
            serde_json::from_str(json).context("oha's output is not JSON")?;
        let statuses = value["statusCodeDistribution"]
            .as_object()
            .map(|statuses| {
                statuses
                    .iter()
                    .filter_map(|(status, count)| Some((status.parse().ok()?, count.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let errors = value["errorDistribution"]
            .as_object()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|(error, count)| Some((error.clone(), count.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let seconds = |key: &str| value["latencyPercentiles"][key].as_f64().unwrap_or(0.0) * 1000.0;
        Ok(Summary {
            statuses,
            errors,
            p50_ms: seconds("p50"),
            p99_ms: seconds("p99"),
            rate: value["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        })
    }
}

/// A running `oha`.
pub struct Run {
    pub target: Target,
    /// `None` once finished.
    child: Option<Child>,
}

/// How `oha` is run for `target`: for `duration`, at its rate, over `connections` keep-alive
/// connections, waiting for the requests in flight at the end instead of counting them failed.
fn command(
    oha: &Path,
    base: &str,
    target: &Target,
    duration: Duration,
    connections: u32,
) -> Command {
    let mut command = Command::new(oha);
    command
        .args(["--no-tui", "--output-format", "json"])
        .args(["-z", &format!("{}ms", duration.as_millis())])
        .args(["-c", &connections.to_string()])
        .args(["-m", target.method])
        .args(["-t", "10s"])
        .arg("--wait-ongoing-requests-after-deadline");
    if target.rate > 0 {
        command.args(["-q", &target.rate.to_string()]);
    }
    if let Some(body) = target.body {
        command.args(["-H", "Content-Type: application/json", "-d", body]);
    }
    command.arg(format!("{base}{}", target.path));
    command
}

impl Run {
    /// Starts `oha` against `base` (`http://127.0.0.1:8080`).
    /// `dir`: its working folder (the demo's run folder, where nothing may be left running).
    pub fn start(
        oha: &Path,
        dir: &Path,
        base: &str,
        target: Target,
        duration: Duration,
    ) -> Result<Run> {
        // Enough connections that a second of slow answers (a Redis cut) does not hold the rate
        // back: oha then catches up in a burst, which would hide the cut in the chart.
        let connections = (target.rate / 8).clamp(4, 32);
        let child = command(oha, base, &target, duration, connections)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", oha.display()))?;
        Ok(Run {
            target,
            child: Some(child),
        })
    }

    /// Waits for the run to end and reads its summary.
    pub fn finish(mut self) -> Result<Summary> {
        let label = self.target.label;
        let child = self.child.take().context("oha already finished")?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "oha ({label}) failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Summary::parse(&String::from_utf8_lossy(&output.stdout))
            .with_context(|| format!("reading oha's summary for the {label} requests"))
    }
}

/// Kills an `oha` that is dropped before it finished (an error or Ctrl-C in the demo).
impl Drop for Run {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            stop(child);
        }
    }
}

fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
    }
}

/// An unlimited burst of `GET path` for `duration` over `connections` connections: the
/// throughput and p99 one address can give (the load balancer, or one replica directly).
pub fn burst(oha: &Path, base: &str, path: &'static str, duration: Duration) -> Result<Summary> {
    let target = Target {
        label: "burst",
        method: "GET",
        path,
        body: None,
        rate: 0,
    };
    let output = command(oha, base, &target, duration, 16)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", oha.display()))?;
    if !output.status.success() {
        bail!(
            "oha failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Summary::parse(&String::from_utf8_lossy(&output.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_non_2xx_and_connection_errors_as_failed() {
        let summary = Summary::parse(
            r#"{"summary": {"requestsPerSec": 99.5},
                "latencyPercentiles": {"p50": 0.002, "p99": 0.0125},
                "statusCodeDistribution": {"200": 90, "503": 4},
                "errorDistribution": {"connection closed before message completed": 6}}"#,
        )
        .unwrap();
        assert_eq!(
            (summary.sent(), summary.answered_2xx(), summary.failed()),
            (100, 90, 10)
        );
        assert_eq!((summary.p50_ms, summary.p99_ms), (2.0, 12.5));
    }
}
