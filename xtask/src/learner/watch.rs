//! `cargo xtask watch [N]`: re-run `check` whenever the learner edits a file of the exercise.

use crate::Verdict;
use crate::engine::manifest::{Factor, Manifest};
use crate::engine::term;
use crate::learner::check::{self, Options};
use anyhow::{Context, Result, bail};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Config, Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A save is a burst of events (an editor's truncate and write, or its write and rename; a
/// formatter's second write). Where the platform reports the end of a write (Linux's close of a
/// file opened for writing, a rename onto the file), the check starts as soon as that end is seen;
/// otherwise (a removal, a polling or macOS watcher) it waits for the burst to end: this long
/// without another event. Ten times the gap between a burst's events, and every millisecond here
/// is one of the learner's loop. A save that still comes later only starts one more check.
pub const SETTLE: Duration = Duration::from_millis(30);

type Changes = Receiver<notify::Result<Event>>;

pub fn run(
    root: &Path,
    manifest: &Manifest,
    factor: &Factor,
    out: &mut impl Write,
) -> Result<Verdict> {
    // The whole crate: sources, but also Cargo.toml and files the build embeds (migrations).
    let dir = root.join(&factor.exercise);
    let saves = Saves::watch(&dir)?;
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
        saves.next(None)?;
        writeln!(out, "\n{}\n", "─".repeat(72))?;
    }
}

/// A folder watched for the learner's saves (the bench uses it too, to time what `watch` does).
pub struct Saves {
    // Kept alive for as long as the events are wanted.
    _watcher: Box<dyn Watcher>,
    changes: Changes,
}

impl Saves {
    pub fn watch(dir: &Path) -> Result<Self> {
        let (events, changes) = mpsc::channel();
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
            .watch(dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
        Ok(Self {
            _watcher: watcher,
            changes,
        })
    }

    /// Waits (at most `limit`, if one is given) for the learner to save a file of the exercise,
    /// then for that save to be complete. Returns whether a save came.
    ///
    /// Reads are not edits: every check compiles the crate, which opens every source file, and
    /// taking that for a save would re-run the check forever.
    pub fn next(&self, limit: Option<Duration>) -> Result<bool> {
        let deadline = limit.map(|limit| Instant::now() + limit);
        let mut complete = loop {
            let event = match deadline {
                None => self.changes.recv().ok(),
                Some(deadline) => match self
                    .changes
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(event) => Some(event),
                    Err(RecvTimeoutError::Timeout) => return Ok(false),
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            match event {
                None => bail!("the file watcher stopped"),
                Some(Ok(event)) if is_edit(&event) => break ends_a_save(&event),
                Some(_) => {}
            }
        };
        // The rest of the burst: what is already queued, and more only while the save is unfinished.
        loop {
            let wait = if complete { Duration::ZERO } else { SETTLE };
            match self.changes.recv_timeout(wait) {
                Ok(Ok(event)) if is_edit(&event) => complete = ends_a_save(&event),
                Ok(_) => {}
                Err(_) => return Ok(true),
            }
        }
    }

    /// Drops the events already queued (the bench's own edits between two timed saves).
    pub fn forget_queued(&self) {
        while self.changes.try_recv().is_ok() {}
    }
}

/// The file is whole after this event: its writer closed it, or it was renamed into place. A
/// truncation, a write still going on, a creation, a removal or a rename away (Vim's backup) may
/// be followed by more.
fn ends_a_save(event: &Event) -> bool {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        // A rename's destination is its last path.
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
            event.paths.last().is_some_and(|path| is_build_file(path))
        }
        _ => false,
    }
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
    writes && event.paths.iter().any(|path| is_build_file(path))
}

fn is_build_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|extension| extension.to_str()),
        Some("rs" | "toml" | "sql")
    )
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
        let saves = Saves::watch(dir.path()).unwrap();

        std::fs::read_to_string(&source).unwrap();
        std::fs::write(dir.path().join(".state.rs.swp"), "scratch").unwrap();
        let wait = Some(Duration::from_millis(300));
        assert!(!saves.next(wait).unwrap(), "a read woke the watcher");

        // An atomic save, as many editors do it: write a temporary file, rename it over the source.
        let temporary = dir.path().join("state.rs.tmp~");
        std::fs::write(&temporary, "// v2\n").unwrap();
        std::fs::rename(&temporary, &source).unwrap();
        assert!(saves.next(wait).unwrap(), "a save went unnoticed");

        std::fs::read_to_string(&source).unwrap();
        assert!(!saves.next(wait).unwrap(), "one save woke it twice");

        // A save in place.
        std::fs::write(&source, "// v3\n").unwrap();
        assert!(saves.next(wait).unwrap(), "a save in place went unnoticed");

        // Vim's save: the original renamed to a backup, then a new file written. The rename away
        // does not end the save; the new file's close does, and nothing of it is left to wake the
        // watcher a second time.
        std::fs::rename(&source, dir.path().join("state.rs~")).unwrap();
        std::fs::write(&source, "// v4\n").unwrap();
        assert!(saves.next(wait).unwrap(), "Vim's save went unnoticed");
        assert!(!saves.next(wait).unwrap(), "Vim's save woke it twice");
    }

    #[test]
    fn a_save_ends_with_the_close_of_a_write_or_a_rename_into_place() {
        let event = |kind, paths: &[&str]| {
            paths
                .iter()
                .fold(Event::new(kind), |event, path| event.add_path(path.into()))
        };
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let written = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Content));
        assert!(ends_a_save(&event(closed, &["src/state.rs"])));
        assert!(ends_a_save(&event(
            renamed,
            &["src/.state.rs.tmp", "src/state.rs"]
        )));
        assert!(!ends_a_save(&event(
            renamed,
            &["src/state.rs", "src/state.rs~"]
        )));
        assert!(!ends_a_save(&event(written, &["src/state.rs"])));
        let removed = EventKind::Remove(notify::event::RemoveKind::File);
        assert!(!ends_a_save(&event(removed, &["src/state.rs"])));
    }
}
