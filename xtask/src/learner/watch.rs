//! `cargo xtask watch [N]`: re-run `check` whenever the learner edits a file of the exercise.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::term;
use crate::learner::check::{self, Options};
use anyhow::{Context, Result, bail};
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Config, Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Saves arrive as bursts of events a few milliseconds apart (an editor's write and rename, a
/// formatter's second write); wait this long for the burst to end. Ten times the gap is enough,
/// and every millisecond here is a millisecond of the learner's loop. A save that still comes
/// later only starts one more check.
pub const SETTLE: Duration = Duration::from_millis(30);

type Changes = Receiver<notify::Result<Event>>;

pub fn run(
    root: &Path,
    manifest: &Manifest,
    factor: &Factor,
    out: &mut impl Write,
) -> Result<Verdict> {
    let (events, changes) = mpsc::channel();
    // The whole crate: sources, but also Cargo.toml and files the build embeds (migrations).
    let dir = root.join(&factor.exercise);
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
        wait_for_edit(&changes, None)?;
        writeln!(out, "\n{}\n", "─".repeat(72))?;
    }
}

/// Waits (at most `limit`, if one is given) for the learner to edit a file of the exercise, then
/// for the burst of events one save makes to end. Returns whether an edit came.
///
/// Reads are not edits: every check compiles the crate, which opens every source file, and taking
/// that for a save would re-run the check forever.
fn wait_for_edit(changes: &Changes, limit: Option<Duration>) -> Result<bool> {
    let deadline = limit.map(|limit| Instant::now() + limit);
    loop {
        let event = match deadline {
            None => changes.recv().ok(),
            Some(deadline) => {
                match changes.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(event) => Some(event),
                    Err(RecvTimeoutError::Timeout) => return Ok(false),
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            }
        };
        match event {
            None => bail!("the file watcher stopped"),
            Some(Ok(event)) if is_edit(&event) => break,
            Some(_) => {}
        }
    }
    while changes.recv_timeout(SETTLE).is_ok() {}
    Ok(true)
}

/// A file the build reads was written, created, renamed or removed. Editors' scratch files
/// (`.state.rs.swp`, `state.rs~`, `4913`) are not the build's.
fn is_edit(event: &Event) -> bool {
    let writes = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    writes
        && event.paths.iter().any(|path| {
            matches!(
                path.extension().and_then(|extension| extension.to_str()),
                Some("rs" | "toml" | "sql")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real watcher on a real folder: what the compiler does is not an edit, an editor's save is.
    #[test]
    fn a_build_reading_the_sources_is_not_an_edit_but_a_save_is() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("state.rs");
        std::fs::write(&source, "// v1\n").unwrap();
        let (events, changes) = mpsc::channel();
        let mut watcher = RecommendedWatcher::new(events, Config::default()).unwrap();
        watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();

        std::fs::read_to_string(&source).unwrap();
        std::fs::write(dir.path().join(".state.rs.swp"), "scratch").unwrap();
        let wait = Some(Duration::from_millis(300));
        assert!(
            !wait_for_edit(&changes, wait).unwrap(),
            "a read woke the watcher"
        );

        // An atomic save, as many editors do it: write a temporary file, rename it over the source.
        let temporary = dir.path().join("state.rs.tmp~");
        std::fs::write(&temporary, "// v2\n").unwrap();
        std::fs::rename(&temporary, &source).unwrap();
        assert!(
            wait_for_edit(&changes, wait).unwrap(),
            "a save went unnoticed"
        );

        std::fs::read_to_string(&source).unwrap();
        assert!(
            !wait_for_edit(&changes, wait).unwrap(),
            "one save woke it twice"
        );

        // A save in place.
        std::fs::write(&source, "// v3\n").unwrap();
        assert!(
            wait_for_edit(&changes, wait).unwrap(),
            "a save in place went unnoticed"
        );
    }
}
