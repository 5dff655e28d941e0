//! `cargo xtask demo N`: the "See it break" demo of chapter N, scripted, for an instructor to run
//! live on the projector (or a learner to watch).
//!
//! Each demo builds the factor's exercise, runs it the way the chapter tells a reader to, and
//! prints a transcript: each command as the book shows it (`$ …`), then what it printed. It runs in
//! a world of its own, on the shared Postgres and Redis without disturbing anyone else there: a
//! database made for it and dropped afterwards, a Redis database index leased the way the checks
//! lease theirs and flushed afterwards, free ports, temp directories. Where an exercise writes
//! somewhere it was not told to (Factor IV's hard-coded Redis database 0), the demo saves what was
//! there and puts it back. It never disconnects other clients: Factor IV cuts only the app's own
//! Redis connection (`CLIENT KILL ID`).
//!
//! Output that may differ between two runs (a race, a worker's name) is printed on lines starting
//! with `~`; [`comparable`] leaves them out, with times and ports, so that two runs of a demo can
//! be compared line by line (`verify`'s demo step does).
//!
//! - `demo/early.rs`: Factors I to VI; `demo/late.rs`: VII to XII.
//! - `demo/world.rs`: the demo's own database, Redis index and processes, and the snapshot of
//!   the shared services that shows a demo left them as it found them.

pub(crate) mod early;
mod late;
pub mod world;

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest, Service};
use crate::engine::testrun::{self, Build};
use crate::engine::{services, term};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use world::World;

/// Runs chapter `factor`'s demo, printing its transcript to `out`.
pub fn run(root: &Path, factor: &Factor, out: &mut dyn Write) -> Result<Verdict> {
    services::ensure(root, &Service::ALL, &mut std::io::sink())?;
    writeln!(
        out,
        "{} {}",
        term::bold(&format!("{}: See it break", factor.heading())),
        term::dim(&format!("(book/src/{}#see-it-break)", factor.chapter))
    )?;
    let mut transcript = Transcript { out };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        script(root, factor, &mut transcript)
    }));
    match result {
        Ok(result) => result?,
        Err(panic) => bail!("the demo stopped: {}", panic_message(&*panic)),
    }
    writeln!(
        transcript.out,
        "(cleaned up: the demo's database, Redis index and processes are gone)"
    )?;
    Ok(Verdict::Green)
}

fn script(root: &Path, factor: &Factor, transcript: &mut Transcript) -> Result<()> {
    let mut world = World::new(root)?;
    let exercise = Exercise::build(root, factor, &BTreeMap::new())?;
    match factor.number {
        1 => early::codebase(&mut world, &exercise, transcript),
        2 => early::dependencies(&mut world, &exercise, transcript),
        3 => early::config(&mut world, &exercise, transcript),
        4 => early::backing_services(&mut world, &exercise, transcript),
        5 => early::build_release_run(&mut world, &exercise, transcript),
        6 => early::processes(&mut world, &exercise, transcript),
        7 => late::port_binding(&mut world, &exercise, transcript),
        8 => late::concurrency(&mut world, &exercise, transcript),
        9 => late::disposability(&mut world, &exercise, transcript),
        10 => late::dev_prod_parity(&mut world, &exercise, transcript),
        11 => late::logs(&mut world, &exercise, transcript),
        12 => late::admin_processes(&mut world, &exercise, transcript),
        other => bail!("Factor {other} has no demo"),
    }
}

/// Every available factor's demo, one after the other, into `out`.
pub fn run_all(root: &Path, manifest: &Manifest, out: &mut dyn Write) -> Result<()> {
    for factor in manifest.available() {
        run(root, factor, out).with_context(|| format!("the demo of {}", factor.heading()))?;
        writeln!(out)?;
    }
    Ok(())
}

/// `verify`'s demo step: every chapter's demo, twice in a row, from a clean state each time; the
/// two transcripts must agree line by line (but for [`comparable`]'s filter), and Postgres and
/// Redis must hold afterwards what they held before ([`world::Snapshot`]).
pub fn check(root: &Path, manifest: &Manifest) -> Result<String> {
    let before = world::Snapshot::take()?;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut transcript = Vec::new();
        run_all(root, manifest, &mut transcript)?;
        runs.push(String::from_utf8_lossy(&transcript).into_owned());
    }
    let after = world::Snapshot::take()?;
    let (first, second) = (comparable(&runs[0]), comparable(&runs[1]));
    if let Some(line) = (0..first.len().max(second.len())).find(|&i| first.get(i) != second.get(i))
    {
        bail!(
            "two runs of the demos differ at line {}:\n  first:  {:?}\n  second: {:?}",
            line + 1,
            first.get(line),
            second.get(line)
        );
    }
    let mut differences = before.differences(&after);
    let made = world::MADE
        .lock()
        .map(|made| made.clone())
        .unwrap_or_default();
    for name in &made {
        if kit_harness::postgres::database_exists(name) {
            differences.push(format!("the demo's own database {name} was not dropped"));
        }
    }
    if !differences.is_empty() {
        bail!(
            "the demos left the shared services changed:\n  {}",
            differences.join("\n  ")
        );
    }
    Ok(format!(
        "{} demos, twice: {} lines each, the same; their {} databases dropped; Postgres ({} \
         databases, {} tables' rows) and Redis (database 0's keys, {} indexes' sizes) as before",
        manifest.available().count(),
        first.len(),
        made.len(),
        before.databases.len(),
        before.rows.len(),
        before.redis_sizes.len()
    ))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The exercise's binaries, built as a learner's `cargo build -p` builds them.
pub struct Exercise {
    pub package: String,
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
}

impl Exercise {
    pub fn build(
        root: &Path,
        factor: &Factor,
        build_env: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let package = Factor::package(root, &factor.exercise)?;
        if let Build::Failed { errors } = testrun::build_app(root, &package, build_env)? {
            bail!("{package} does not compile:\n{}", errors.join("\n"));
        }
        Ok(Exercise {
            package,
            dir: root.join(&factor.exercise),
            bin_dir: root.join("target/debug"),
        })
    }

    /// The same package built again with `build_env` (Factor V's demo: a variable the build sees).
    pub fn rebuild(&self, root: &Path, build_env: &BTreeMap<String, String>) -> Result<Self> {
        if let Build::Failed { errors } = testrun::build_app(root, &self.package, build_env)? {
            bail!("{} does not compile:\n{}", self.package, errors.join("\n"));
        }
        Ok(Exercise {
            package: self.package.clone(),
            dir: self.dir.clone(),
            bin_dir: self.bin_dir.clone(),
        })
    }

    /// The package's binary named `name` (its own name when `None`).
    pub fn binary(&self, name: Option<&str>) -> PathBuf {
        self.bin_dir.join(name.unwrap_or(&self.package))
    }
}

/// What the demo prints: commands as the book shows them, and their output.
pub struct Transcript<'a> {
    out: &'a mut dyn Write,
}

impl Transcript<'_> {
    /// A command, as a reader would type it.
    pub fn command(&mut self, command: &str) {
        let _ = writeln!(self.out, "{}", term::bold(&format!("$ {command}")));
    }

    /// What it printed (each line as is).
    pub fn output(&mut self, text: &str) {
        for line in text.trim_end().lines() {
            let _ = writeln!(self.out, "{line}");
        }
    }

    /// Output that differs from run to run (a race, a process id): marked, and left out of
    /// [`comparable`].
    pub fn varies(&mut self, text: &str) {
        for line in text.trim_end().lines() {
            let _ = writeln!(self.out, "~ {line}");
        }
    }

    /// What the instructor should point out.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}", term::dim(&format!("# {text}")));
    }
}

/// A transcript with what may differ between two runs taken out: `~` lines, times, ports, and the
/// demo's own database and Redis index names.
pub fn comparable(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .map(|line| anstream::adapter::strip_str(line).to_string())
        .filter(|line| !line.starts_with("~ "))
        .map(|line| {
            let mut cleaned = String::new();
            let mut digits = String::new();
            for c in line.chars() {
                if c.is_ascii_digit() {
                    digits.push(c);
                } else {
                    cleaned.push_str(&mask(&digits));
                    digits.clear();
                    cleaned.push(c);
                }
            }
            cleaned.push_str(&mask(&digits));
            cleaned
        })
        .collect()
}

/// Long numbers (ports, times, pids, hashes' digits) become `N`; short ones (counts, ids,
/// status codes) stay.
fn mask(digits: &str) -> String {
    if digits.len() >= 4 {
        "N".into()
    } else {
        digits.into()
    }
}
