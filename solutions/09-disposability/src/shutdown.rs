//! Solved: the signals a platform sends to stop a process, as a value the rest of the code awaits.
//!
//! `docker stop`, Kubernetes, systemd and Heroku send SIGTERM, wait a grace period, then SIGKILL;
//! a terminal sends SIGINT on Ctrl+C. Both mean "finish up and exit". SIGKILL cannot be caught:
//! that is why a worker's job must survive a process that dies without warning (see `db.rs`).

use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// How long a process lets the work in flight finish after a signal before it exits anyway.
///
/// Below the 10 s `docker stop` gives by default (Kubernetes gives 30 s, and the checks 5 s), so
/// the process exits on its own terms, with its pool closed, rather than being SIGKILLed.
pub const GRACE: Duration = Duration::from_secs(3);

// ANCHOR: shutdown
/// SIGTERM and SIGINT, listened for from the moment this is created.
///
/// Why not `tokio::signal::ctrl_c()` alone: it is SIGINT only, and platforms send SIGTERM. Why
/// create the listeners at start-up rather than when shutdown is first awaited: from the moment
/// tokio installs its handler, the default action (killing the process) no longer applies, so a
/// signal that arrives early is not lost.
pub struct Shutdown {
    terminate: Signal,
    interrupt: Signal,
}

impl Shutdown {
    pub fn listen() -> std::io::Result<Self> {
        Ok(Shutdown {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the first SIGTERM or SIGINT and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
// ANCHOR_END: shutdown
