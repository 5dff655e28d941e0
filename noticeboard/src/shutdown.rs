//! The signals a platform sends to stop a process, as a value the rest of the code awaits
//! (Factor IX). `docker stop`, Kubernetes and systemd send SIGTERM, wait their grace period, then
//! SIGKILL; a terminal sends SIGINT on Ctrl+C. Both mean "finish up and exit".

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM and SIGINT, listened for from the moment this is created: from then on the default
/// action (dying at once) no longer applies, so a signal during start-up is not lost.
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
