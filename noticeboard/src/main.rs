//! `noticeboard web` (the default) and `noticeboard worker`: the app's process types, one build
//! (Factor VIII). Config, then logs, then the signal listener, then the process: each a few lines;
//! the work is in the library (`src/lib.rs`).

use noticeboard::config::{ProcessType, WebConfig, WorkerConfig};
use noticeboard::shutdown::Shutdown;
use noticeboard::{exit_code, logging, web, worker};

fn main() -> std::process::ExitCode {
    exit_code(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let process = ProcessType::from_args(std::env::args().skip(1))?;
    // Config first and whole: a missing or malformed variable stops the process within
    // milliseconds, before any connection is attempted (Factor III).
    match process {
        ProcessType::Web => {
            let config = WebConfig::from_env()?;
            logging::init()?;
            // Listen for signals before anything else, so that one arriving during start-up ends
            // the process cleanly as soon as it can act on it (Factor IX).
            let shutdown = Shutdown::listen()?;
            web::run(config, shutdown).await
        }
        ProcessType::Worker => {
            let config = WorkerConfig::from_env()?;
            logging::init()?;
            let shutdown = Shutdown::listen()?;
            worker::run(config, shutdown).await
        }
    }
}
