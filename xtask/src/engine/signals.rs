//! Ctrl-C and SIGTERM, caught: for the commands that must stop what they started before xtask
//! ends (the deploy platform's processes, a learner's running checks).

use anyhow::{Result, bail};

/// From now on, each SIGINT (Ctrl-C) or SIGTERM calls `handle` (on a thread of its own) instead of
/// ending xtask; `handle` decides whether and when xtask ends.
pub fn on_interrupt(handle: impl Fn() + Send + 'static) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                let _ = ready_tx.send(false);
                return;
            };
            let _ = ready_tx.send(true);
            loop {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                handle();
            }
        });
    });
    if !ready_rx.recv().unwrap_or(false) {
        bail!("cannot listen for Ctrl-C");
    }
    Ok(())
}
