//! `cargo xtask watch [N]`: re-run `check` whenever a file in the exercise changes.

use crate::check::{self, Options};
use crate::manifest::{Factor, Manifest};
use crate::{Verdict, term};
use anyhow::{Context, Result};
use notify::{Config, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Saves arrive as bursts of events a few milliseconds apart; wait this long for the burst to end.
pub const SETTLE: Duration = Duration::from_millis(50);

pub fn run(
    root: &Path,
    manifest: &Manifest,
    factor: &Factor,
    out: &mut impl Write,
) -> Result<Verdict> {
    let (events, changes) = mpsc::channel();
    let dir = root.join(&factor.exercise).join("src");
    // Native events where the platform has them; polling otherwise (some network and VM mounts).
    let mut watcher: Box<dyn Watcher> =
        match RecommendedWatcher::new(events.clone(), Config::default()) {
            Ok(watcher) => Box::new(watcher),
            Err(_) => Box::new(PollWatcher::new(
                events,
                Config::default().with_poll_interval(Duration::from_secs(1)),
            )?),
        };
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    loop {
        check::run(
            root,
            manifest,
            factor,
            Options {
                solution: false,
                verbose: false,
            },
            out,
        )?;
        writeln!(
            out,
            "\n{}",
            term::dim(&format!("Watching {} (Ctrl-C to stop)…", dir.display()))
        )?;
        out.flush()?;
        changes.recv().context("the file watcher stopped")?.ok();
        while changes.recv_timeout(SETTLE).is_ok() {}
        writeln!(out, "\n{}\n", "─".repeat(72))?;
    }
}
