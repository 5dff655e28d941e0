//! Runs `verify`'s steps: the static ones first, one after the other, then each lane of the
//! others in a thread of its own (lanes share nothing, so a lane waiting on apps or on a build
//! lets another work); prints a line per step as it ends and the summary line.

use crate::Verdict;
use crate::engine::term;
use anyhow::Result;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Which steps may run at the same time: steps of one lane run in order, lanes side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Reads files (and validates two with a tool): seconds in all, so it runs whatever `--only`
    /// says, before every other lane (a broken layout is then the first thing a maintainer sees).
    Static,
    /// What every factor lane needs first (the backing services): after the static lane, before
    /// the others.
    Setup,
    /// A share of the factors' builds and checks. Factors share nothing but the services (each
    /// check leases its own ports, database and Redis index) and Cargo's build lock, so two lanes
    /// of factors overlap one factor's checks (mostly waiting on apps) with another's build.
    Factors(u8),
    /// Toolchain steps with their own outputs (xtask's tests, clippy in its own folder, rustfmt,
    /// the book): nothing the factors' checks read.
    Tools,
}

/// One named step of the gate; `Ok` carries a short note for the summary line.
pub struct Step<'a> {
    pub name: String,
    pub lane: Lane,
    pub run: Box<dyn Fn() -> Result<String> + Send + Sync + 'a>,
}

/// A step in `lane` named `name` that runs `run`.
pub fn step<'a>(
    lane: Lane,
    name: impl Into<String>,
    run: impl Fn() -> Result<String> + Send + Sync + 'a,
) -> Step<'a> {
    Step {
        name: name.into(),
        lane,
        run: Box::new(run),
    }
}

/// What a lane's thread reports to the printer.
enum Event {
    Started(usize),
    Ended(usize, Result<String>, Duration),
}

/// Runs `steps` (static first, then the lanes side by side) and prints one line per step, then
/// the summary. Green when every step passed.
pub fn run_all(steps: &[Step<'_>], out: &mut impl Write) -> Result<Verdict> {
    let started = Instant::now();
    let lane = |lane: Lane| -> Vec<usize> {
        (0..steps.len())
            .filter(|&index| steps[index].lane == lane)
            .collect()
    };
    let run_lane = |indices: Vec<usize>, sender: mpsc::Sender<Event>| {
        for index in indices {
            let _ = sender.send(Event::Started(index));
            let clock = Instant::now();
            let result = (steps[index].run)();
            let _ = sender.send(Event::Ended(index, result, clock.elapsed()));
        }
    };
    let mut printer = Printer {
        steps,
        running: Vec::new(),
        failed: Vec::new(),
    };
    // The static lane alone first (its steps are quick and say the most basic things), then the
    // set-up, then every other lane side by side.
    for first in [Lane::Static, Lane::Setup] {
        let (sender, events) = mpsc::channel();
        run_lane(lane(first), sender);
        for event in events {
            printer.show(event, out)?;
        }
    }
    let mut others: Vec<Lane> = steps
        .iter()
        .map(|step| step.lane)
        .filter(|lane| !matches!(lane, Lane::Static | Lane::Setup))
        .collect();
    others.sort_by_key(|lane| format!("{lane:?}"));
    others.dedup();
    let (sender, events) = mpsc::channel();
    std::thread::scope(|scope| -> Result<()> {
        for indices in others.into_iter().map(lane) {
            let sender = sender.clone();
            scope.spawn(move || run_lane(indices, sender));
        }
        drop(sender);
        for event in events {
            printer.show(event, out)?;
        }
        Ok(())
    })?;
    printer.summary(started.elapsed(), out)
}

/// Prints what the lanes report, in the order it happens.
struct Printer<'s, 'a> {
    steps: &'s [Step<'a>],
    /// The steps under way, for the progress line on a terminal.
    running: Vec<usize>,
    failed: Vec<usize>,
}

impl Printer<'_, '_> {
    fn show(&mut self, event: Event, out: &mut impl Write) -> Result<()> {
        match event {
            Event::Started(index) => self.running.push(index),
            Event::Ended(index, result, took) => {
                self.running.retain(|&running| running != index);
                let name = &self.steps[index].name;
                let took = term::dim(&format!("{:.1}s", took.as_secs_f64()));
                write!(out, "{}", term::line_start())?;
                match result {
                    Ok(note) if note.is_empty() => {
                        writeln!(out, "  {} {name} {took}", term::pass())?
                    }
                    Ok(note) => writeln!(out, "  {} {name}: {note} {took}", term::pass())?,
                    Err(err) => {
                        writeln!(out, "  {} {name} {took}", term::fail())?;
                        write!(out, "{}", term::indent(&format!("{err:#}"), 6))?;
                        self.failed.push(index);
                    }
                }
            }
        }
        if term::interactive() && !self.running.is_empty() {
            let names: Vec<&str> = self
                .running
                .iter()
                .map(|&index| self.steps[index].name.as_str())
                .collect();
            write!(out, "{}  … {}", term::line_start(), names.join(" · "))?;
            out.flush()?;
        }
        Ok(())
    }

    /// The one line that ends `verify`: how many steps, how long, which failed (in list order).
    fn summary(mut self, elapsed: Duration, out: &mut impl Write) -> Result<Verdict> {
        let seconds = elapsed.as_secs();
        let time = format!("{}m{:02}s", seconds / 60, seconds % 60);
        let total = self.steps.len();
        if self.failed.is_empty() {
            writeln!(out, "verify: all {total} steps pass ({time})")?;
            return Ok(Verdict::Green);
        }
        self.failed.sort_unstable();
        let names: Vec<&str> = self
            .failed
            .iter()
            .map(|&index| self.steps[index].name.as_str())
            .collect();
        writeln!(
            out,
            "verify: {} of {total} steps failed ({time}): {}",
            names.len(),
            names.join("; ")
        )?;
        Ok(Verdict::Red)
    }
}

/// Runs `step` `times` times and judges the runs together: all green passes; all red fails with
/// the first run's error; a mix fails as flaky, naming the runs that failed (a check that fails
/// once in N is a broken check, and the label says it is not a plain regression).
pub fn repeated(times: u32, step: impl Fn() -> Result<String>) -> Result<String> {
    let mut failures = Vec::new();
    let mut note = String::new();
    for run in 1..=times {
        match step() {
            Ok(passed) => note = passed,
            Err(err) => failures.push((run, err)),
        }
    }
    if failures.is_empty() {
        return Ok(if times > 1 {
            format!("{note} ({times} runs)")
        } else {
            note
        });
    }
    let failed_runs: Vec<String> = failures.iter().map(|(run, _)| run.to_string()).collect();
    let count = failures.len() as u32;
    let (_, first) = failures.remove(0);
    if count == times {
        if times == 1 {
            return Err(first);
        }
        return Err(first.context(format!("failed in every one of {times} runs")));
    }
    Err(first.context(format!(
        "flaky: run(s) {} of {times} failed, the others passed",
        failed_runs.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_step_that_fails_once_in_three_runs_is_labelled_flaky() {
        let calls = AtomicU32::new(0);
        let err = repeated(3, || {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                anyhow::bail!("`a_check` fails")
            }
            Ok("1 checks pass".into())
        })
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with("flaky: run(s) 1 of 3 failed, the others passed: `a_check` fails"),
            "{text}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3, "every run is taken");
    }

    #[test]
    fn a_step_that_always_fails_is_not_called_flaky() {
        let err = repeated(3, || -> Result<String> { anyhow::bail!("red") }).unwrap_err();
        assert_eq!(format!("{err:#}"), "failed in every one of 3 runs: red");
        let err = repeated(1, || -> Result<String> { anyhow::bail!("red") }).unwrap_err();
        assert_eq!(format!("{err:#}"), "red");
        assert_eq!(repeated(2, || Ok("ok".into())).unwrap(), "ok (2 runs)");
    }

    #[test]
    fn lanes_run_side_by_side_and_every_step_is_reported() {
        use std::sync::Barrier;
        // Each of the two lanes' steps waits for the other: only side by side do both end.
        let barrier = Barrier::new(2);
        let steps = [
            step(Lane::Static, "static", || Ok(String::new())),
            step(Lane::Factors(0), "factor", || {
                barrier.wait();
                Ok(String::new())
            }),
            step(Lane::Tools, "tool", || {
                barrier.wait();
                anyhow::bail!("broken")
            }),
        ];
        let mut out = Vec::new();
        let verdict = run_all(&steps, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(verdict, Verdict::Red);
        assert!(text.lines().next().unwrap().contains("static"), "{text}");
        assert!(
            text.contains("verify: 1 of 3 steps failed") && text.contains("): tool"),
            "{text}"
        );
    }
}
