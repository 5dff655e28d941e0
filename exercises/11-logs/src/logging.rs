//! Where the noticeboard's logs go, and what they look like.

use anyhow::Context;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use tracing::level_filters::LevelFilter;

// ANCHOR: init
// TODO(factor-11): the app decides where its logs are stored (a file in its working directory),
// how they are rotated, what they look like (text) and which level is worth keeping (INFO, fixed at
// compile time). None of that is the app's business: write one JSON event per line to stdout,
// unbuffered, take the level from `RUST_LOG`, and let the environment route and store the stream.
const LOG_FILE: &str = "log/noticeboard.log";

pub fn init() -> anyhow::Result<()> {
    let file = RollingFile::open(LOG_FILE).with_context(|| format!("cannot open {LOG_FILE}"))?;
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(LevelFilter::INFO)
        .init();
    println!("noticeboard: logging to {LOG_FILE}");
    Ok(())
}
// ANCHOR_END: init

// ANCHOR: rolling
/// A log file that rolls over by size: `noticeboard.log` becomes `noticeboard.log.1` (and `.1`
/// becomes `.2`, up to `KEEP`) once it holds `MAX_BYTES`.
struct RollingFile {
    path: PathBuf,
    file: File,
    written: u64,
}

const MAX_BYTES: u64 = 10 * 1024 * 1024;
const KEEP: u32 = 5;

impl RollingFile {
    fn open(path: &str) -> io::Result<Self> {
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(RollingFile {
            path,
            file,
            written,
        })
    }

    fn roll(&mut self) -> io::Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..KEEP).rev() {
            if numbered(n).exists() {
                fs::rename(numbered(n), numbered(n + 1))?;
            }
        }
        fs::rename(&self.path, numbered(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RollingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > MAX_BYTES {
            self.roll()?;
        }
        let count = self.file.write(buf)?;
        self.written += count as u64;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
// ANCHOR_END: rolling
