//! What a demo run measured, and the one table that shows it (side by side for `--break N`).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Something the demo did to the formation, at a moment of the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Seconds since the load started.
    pub at: f64,
    /// `restart`, `kill` or `cut` (the chart's marker colour).
    pub kind: String,
    /// `web.1 → web.4`, `SIGKILL worker.1`, `Redis cut`.
    pub label: String,
}

/// One second of traffic, as the load balancer logged it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Second {
    pub requests: u64,
    pub failed: u64,
    pub p99_ms: u64,
}

/// Throughput and p99 of one address under an unlimited burst.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Burst {
    pub rate: f64,
    pub p99_ms: f64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    /// `the finished noticeboard`, `exercise IX (Disposability)`.
    pub app: String,
    pub factor: Option<u8>,
    /// When it ran (seconds since the Unix epoch), to say how old a recorded run is.
    pub when: u64,
    pub seconds: f64,
    pub sent: u64,
    pub failed: u64,
    /// What the failures were (`503`, `connection closed …`), with counts.
    pub failures: Vec<(String, u64)>,
    pub p50_ms: u64,
    pub p99_ms: u64,
    /// `GET /` answered 2xx, and the count the app reports afterwards (`GET /visits` through
    /// the load balancer).
    pub homepage_answered: Option<u64>,
    pub visits_counted: Option<u64>,
    /// The count each replica reports when asked directly.
    pub visits_by_replica: Vec<(String, u64)>,
    /// Sessions made through the load balancer, checked on every replica: (checks, accepted).
    pub sessions_checked: Option<(u64, u64)>,
    pub notifications_accepted: Option<u64>,
    pub notifications_delivered: Option<u64>,
    pub notifications_twice: Option<u64>,
    /// Deliveries whose sender died before the webhook answered (each must be sent again).
    #[serde(default)]
    pub notifications_abandoned: Option<u64>,
    /// Each replaced or killed process and how it ended.
    pub exits: Vec<(String, String)>,
    /// How long the rolling restart took, from the first new web replica to the last worker
    /// restarted.
    #[serde(default)]
    pub rollout_seconds: f64,
    /// Requests that failed while Redis was cut (the load balancer's log). The finished app waits
    /// through a cut shorter than its budget (`OUTAGE_BUDGET`) and fails none; an app without a
    /// reconnecting connection fails from the cut on (Factor IV).
    pub failed_during_cut: u64,
    /// Requests that failed in the last seconds of the load, well after the Redis cut ended.
    pub failed_after_recovery: u64,
    /// Requests that failed from the start of the Redis cut to the end of the load.
    #[serde(default)]
    pub failed_from_cut: u64,
    pub events: Vec<Event>,
    pub per_second: Vec<Second>,
    /// Unlimited bursts of `GET`: through the load balancer, and to one replica directly.
    pub through_balancer: Option<Burst>,
    pub direct: Option<Burst>,
}

impl Outcome {
    /// The processes the demo killed on purpose (their exit is SIGKILL by design).
    fn killed(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| event.label.strip_prefix("SIGKILL ").map(str::to_string))
            .collect()
    }

    /// Whether this exit is the demo's own SIGKILL (a process restarted earlier under the same
    /// name has an exit of its own, judged like any other).
    fn killed_by_the_demo(&self, name: &str, exit: &str) -> bool {
        exit == "killed by SIGKILL" && self.killed().iter().any(|killed| killed == name)
    }

    /// The exits after SIGTERM that were not `exit 0`: (process, how it ended).
    fn bad_exits(&self) -> Vec<(&str, &str)> {
        self.exits
            .iter()
            .filter(|(name, exit)| !self.killed_by_the_demo(name, exit) && exit != "exit 0")
            .map(|(name, exit)| (name.as_str(), exit.as_str()))
            .collect()
    }

    /// Failed requests outside the Redis cut: restarts, kills, anything else.
    pub fn failed_elsewhere(&self) -> u64 {
        self.failed.saturating_sub(self.failed_during_cut)
    }

    /// What a twelve-factor app must not show under the demo; empty when it kept every promise.
    ///
    /// Every request counts, `503`s included: a restart, a kill and a Redis blip shorter than the
    /// app's budget for waiting through one must all go unnoticed by the users.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.failed > 0 {
            problems.push(format!(
                "{} of {} requests failed ({} while Redis was cut, {} anywhere else)",
                self.failed,
                self.sent,
                self.failed_during_cut,
                self.failed_elsewhere()
            ));
        }
        if let (Some(counted), Some(answered)) = (self.visits_counted, self.homepage_answered)
            && counted != answered
        {
            problems.push(format!(
                "{counted} visits counted for {answered} homepage requests answered"
            ));
        }
        if self.homepage_answered.is_some() && self.visits_counted.is_none() {
            problems.push("GET /visits did not answer after the load".into());
        }
        if let Some((checked, accepted)) = self.sessions_checked
            && accepted < checked
        {
            problems.push(format!(
                "only {accepted} of {checked} session checks on another replica succeeded"
            ));
        }
        if let Some(lost) = self.notifications_lost()
            && lost > 0
        {
            problems.push(format!(
                "{lost} accepted notifications were never delivered"
            ));
        }
        if let Some(twice) = self.notifications_twice
            && twice > 1
        {
            problems.push(format!(
                "{twice} notifications delivered twice (only the one in flight at the kill may be)"
            ));
        }
        for (name, exit) in self.bad_exits() {
            problems.push(format!(
                "{name} ended with {exit} after SIGTERM, not exit 0"
            ));
        }
        problems
    }

    /// For `--break N`: the failure factor N's chapter predicts, with its numbers, if this run
    /// showed it.
    pub fn predicted_failure(&self, factor: u8) -> Result<String, String> {
        let lost = self.notifications_lost().unwrap_or(0);
        let bad_exits: Vec<String> = self
            .bad_exits()
            .iter()
            .map(|(name, exit)| format!("{name} {exit}"))
            .collect();
        match factor {
            // The one connection made at start-up is gone with the cut, and nothing makes another.
            4 if self.failed_after_recovery > 0 => Ok(format!(
                "{} requests still failed after Redis was back ({} from the cut on): the \
                 connection each process made at start-up died with the cut, and nothing makes \
                 a new one; the Redis the platform attached (REDIS_URL) holds {} of its {} visits",
                self.failed_after_recovery,
                self.failed_from_cut,
                self.visits_counted.unwrap_or(0),
                self.homepage_answered.unwrap_or(0)
            )),
            4 => Err(format!(
                "no request failed after Redis was back ({} during the cut)",
                self.failed_during_cut
            )),
            6 => {
                let counts: std::collections::BTreeSet<u64> = self
                    .visits_by_replica
                    .iter()
                    .map(|(_, count)| *count)
                    .collect();
                let sessions = self.sessions_checked.unwrap_or((0, 0));
                if counts.len() > 1 || sessions.1 < sessions.0 {
                    Ok(format!(
                        "the replicas disagree on the visits ({}) and only {} of {} sessions \
                         were valid on another replica",
                        self.visits_by_replica
                            .iter()
                            .map(|(name, count)| format!("{name}: {count}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        sessions.1,
                        sessions.0
                    ))
                } else {
                    Err("the replicas agreed on visits and sessions".into())
                }
            }
            8 if lost > 0 => Ok(format!(
                "{lost} accepted notifications were never delivered: they died with \
                 the web process that was sending them"
            )),
            // Killed by SIGTERM is the lesson; how many requests it cuts off depends on timing.
            9 if !bad_exits.is_empty() => Ok(format!(
                "{} requests failed across the restarts; the old processes: {}",
                self.failed_elsewhere(),
                bad_exits.join(", ")
            )),
            8 => Err("no accepted notification was lost".into()),
            9 => Err(format!(
                "{} requests failed and {} old processes ended badly",
                self.failed_elsewhere(),
                bad_exits.len()
            )),
            _ => Err(format!("the demo predicts nothing for factor {factor}")),
        }
    }

    pub fn notifications_lost(&self) -> Option<u64> {
        Some(
            self.notifications_accepted?
                .saturating_sub(self.notifications_delivered?),
        )
    }

    /// The rows of the table: a label and this run's value.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "—".into());
        let rate = if self.seconds > 0.0 {
            self.sent as f64 / self.seconds
        } else {
            0.0
        };
        let mut rows = vec![
            ("requests sent", format!("{} ({rate:.0}/s)", self.sent)),
            ("failed (non-2xx or no answer)", self.failed.to_string()),
            ("  while Redis was cut", self.failed_during_cut.to_string()),
            ("  anywhere else", self.failed_elsewhere().to_string()),
            (
                "  after Redis was back",
                self.failed_after_recovery.to_string(),
            ),
            (
                "latency p50 / p99 (but /slow)",
                format!("{} ms / {} ms", self.p50_ms, self.p99_ms),
            ),
            (
                "visits counted / homepage answered",
                or_dash(
                    self.visits_counted
                        .zip(self.homepage_answered)
                        .map(|(counted, answered)| format!("{counted} / {answered}")),
                ),
            ),
            (
                "  each replica's count",
                if self.visits_by_replica.is_empty() {
                    "—".into()
                } else {
                    self.visits_by_replica
                        .iter()
                        .map(|(_, count)| count.to_string())
                        .collect::<Vec<_>>()
                        .join(" · ")
                },
            ),
            (
                "sessions valid on another replica",
                or_dash(
                    self.sessions_checked
                        .map(|(checked, accepted)| format!("{accepted} / {checked}")),
                ),
            ),
            (
                "notifications accepted / delivered",
                or_dash(
                    self.notifications_accepted
                        .zip(self.notifications_delivered)
                        .map(|(accepted, delivered)| format!("{accepted} / {delivered}")),
                ),
            ),
            (
                "  lost / delivered twice",
                or_dash(
                    self.notifications_lost()
                        .zip(self.notifications_twice)
                        .map(|(lost, twice)| format!("{lost} / {twice}")),
                ),
            ),
            (
                "  cut off by a dying process",
                or_dash(self.notifications_abandoned.map(|n| n.to_string())),
            ),
        ];
        // Grouped, to fit a projector: "3 × exit 0, worker.1 SIGKILL (the demo's kill)".
        let killed = self.killed();
        let mut groups: Vec<(String, usize)> = Vec::new();
        for (name, exit) in &self.exits {
            if self.killed_by_the_demo(name, exit) {
                continue;
            }
            match groups.iter_mut().find(|(described, _)| described == exit) {
                Some((_, count)) => *count += 1,
                None => groups.push((exit.clone(), 1)),
            }
        }
        let mut parts: Vec<String> = groups
            .iter()
            .map(|(exit, count)| format!("{count} × {exit}"))
            .collect();
        parts.extend(
            killed
                .iter()
                .map(|name| format!("{name} SIGKILLed by the demo")),
        );
        let exits = if parts.is_empty() {
            "—".to_string()
        } else {
            parts.join(", ")
        };
        rows.push(("old processes' exits after SIGTERM", exits));
        rows.push((
            "rolling restart (web, then workers)",
            format!("{:.1} s", self.rollout_seconds),
        ));
        rows
    }
}

/// The table, one column per run (the finished app first), as plain text for the terminal.
pub fn text_table(runs: &[&Outcome]) -> String {
    let rows: Vec<Vec<(&str, String)>> = runs.iter().map(|run| run.rows()).collect();
    let label_width = rows[0]
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = runs
        .iter()
        .zip(&rows)
        .map(|(run, rows)| {
            rows.iter()
                .map(|(_, value)| value.chars().count())
                .chain([run.app.chars().count()])
                .max()
                .unwrap_or(0)
                .min(48)
        })
        .collect();
    let mut table = format!("{:label_width$}", "");
    for (run, width) in runs.iter().zip(&widths) {
        let _ = write!(table, "  {:<width$}", run.app);
    }
    table.push('\n');
    for (index, (label, _)) in rows[0].iter().enumerate() {
        let _ = write!(table, "{label:label_width$}");
        for (run_rows, width) in rows.iter().zip(&widths) {
            let _ = write!(table, "  {:<width$}", run_rows[index].1);
        }
        table.push('\n');
    }
    table
}

/// The same table in Markdown, for the book.
pub fn markdown_table(runs: &[&Outcome]) -> String {
    let rows: Vec<Vec<(&str, String)>> = runs.iter().map(|run| run.rows()).collect();
    let mut table = String::from("| |");
    for run in runs {
        let _ = write!(table, " {} |", run.app);
    }
    table.push_str("\n|---|");
    for _ in runs {
        table.push_str("---|");
    }
    table.push('\n');
    for (index, (label, _)) in rows[0].iter().enumerate() {
        let label = label.trim_start();
        let _ = write!(table, "| {label} |");
        for run_rows in &rows {
            let _ = write!(table, " {} |", run_rows[index].1.replace('|', "\\|"));
        }
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that kept every promise: nothing failed, every visit counted once.
    fn clean() -> Outcome {
        Outcome {
            sent: 1000,
            homepage_answered: Some(600),
            visits_counted: Some(600),
            notifications_accepted: Some(100),
            notifications_delivered: Some(100),
            notifications_twice: Some(1),
            exits: vec![
                ("web.1".into(), "exit 0".into()),
                ("worker.1".into(), "exit 0".into()),
                ("worker.1".into(), "killed by SIGKILL".into()),
            ],
            events: vec![Event {
                at: 5.0,
                kind: "kill".into(),
                label: "SIGKILL worker.1".into(),
            }],
            ..Outcome::default()
        }
    }

    #[test]
    fn a_clean_run_has_no_problem() {
        assert_eq!(clean().problems(), Vec::<String>::new());
    }

    #[test]
    fn a_503_while_redis_was_cut_is_a_failed_request() {
        let run = Outcome {
            failed: 3,
            failed_during_cut: 3,
            homepage_answered: Some(597),
            visits_counted: Some(597),
            ..clean()
        };
        assert_eq!(
            run.problems(),
            ["3 of 1000 requests failed (3 while Redis was cut, 0 anywhere else)"]
        );
    }

    #[test]
    fn a_visit_counted_twice_or_not_at_all_is_a_problem() {
        for counted in [599, 601] {
            let run = Outcome {
                visits_counted: Some(counted),
                ..clean()
            };
            assert_eq!(run.problems().len(), 1, "{counted} visits for 600 answered");
        }
    }

    /// The demo's SIGKILL is excused; the same worker's earlier restart is judged.
    #[test]
    fn a_bad_exit_before_the_demos_kill_still_counts() {
        let mut run = clean();
        run.exits[1].1 = "killed by SIGTERM".into();
        assert_eq!(
            run.problems(),
            ["worker.1 ended with killed by SIGTERM after SIGTERM, not exit 0"]
        );
    }
}
