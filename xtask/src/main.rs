//! `cargo xtask`: the learner's one tool and the maintainer's gate.
//!
//! Each subcommand lives in its own module with a `run` function; output goes through `&mut impl
//! Write` so tests can capture it. Exit codes: 0 green (or done), 1 red (or a failed step), 2 usage
//! error.

mod book;
mod demo;
mod deploy;
mod engine;
mod gate;
mod learner;
mod room;

use clap::{Parser, Subcommand};
use engine::manifest::{Factor, Manifest, UnknownFactor};
use engine::{services, term};
use gate::{bench, verify};
use learner::{check, doctor, hint, reset, solution, status, watch};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Twelve-Factor Rust: check your exercises, get hints, run the backing services.",
    after_help = "Start with `cargo xtask check 1`, then follow the factors in order: plain `cargo xtask` names the next one. FACTOR is a number (6), a roman numeral (vi) or a name (processes)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a factor's checks against your exercise: one line per check, then what to fix.
    /// Without FACTOR, the next one that is not green.
    Check {
        factor: Option<String>,
        /// Check the reference solution instead (maintainers).
        #[arg(long)]
        solution: bool,
        /// Also print each failing check's full output (the app's logs, its environment).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Re-check a factor every time you save a file in its exercise.
    Watch { factor: Option<String> },
    /// Show the next hint for a factor (one more each time you ask). Without FACTOR, the next
    /// one that is not green.
    Hint {
        factor: Option<String>,
        /// Show hints up to this level instead of the next one.
        #[arg(long)]
        level: Option<usize>,
    },
    /// Compare your exercise with the reference solution. Without FACTOR, the next one that is
    /// not green.
    Solution {
        factor: Option<String>,
        /// Do not ask before revealing a solution you have not reached yet.
        #[arg(long, short)]
        yes: bool,
        /// Catch up: back up your version (as `reset` does), then apply the whole reference to
        /// your exercise (`src/` replaced, files and dependencies it adds).
        #[arg(long)]
        apply: bool,
    },
    /// Restore a factor's exercise as shipped, after backing up your version.
    Reset {
        factor: Option<String>,
        /// Reset every available exercise.
        #[arg(long, conflicts_with = "factor")]
        all: bool,
    },
    /// Where you are: every factor, green, red or not checked yet.
    Status {
        /// Machine-readable, for instructors collecting progress.
        #[arg(long)]
        json: bool,
        /// Also send every factor's last verdict to the class board you joined.
        #[arg(long, conflicts_with = "json")]
        push: bool,
    },
    /// Start, stop or inspect Postgres and Redis.
    Services {
        #[command(subcommand)]
        action: ServicesCmd,
    },
    /// Check this machine: toolchain, services, ports, disk, and what to do about each problem.
    Doctor {
        /// Machine-readable: each finding with its name, state and fix.
        #[arg(long)]
        json: bool,
        /// Also send which findings are problems to the class board you joined (pre-workshop triage).
        #[arg(long, conflicts_with = "json")]
        push: bool,
    },
    /// The class board: the instructor serves it on the LAN, learners join it once.
    Room {
        #[command(subcommand)]
        action: RoomCmd,
    },
    /// Posts queued verdicts to the class board (started in the background by `check`).
    #[command(hide = true)]
    RoomSend,
    /// Run a chapter's "See it break" demo, scripted, on a database and Redis index of its own
    /// (instructors: one command per live demo).
    Demo { factor: String },
    /// The maintainer's gate: every exercise red for its intended reason, every solution green,
    /// clippy, rustfmt, xtask's own tests, the compose file and the book.
    Verify {
        /// Run every factor's checks this many times (exercise and solution): a check that fails
        /// once in N is a flaky check, and fails the gate.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
        /// Record what the checks now say instead of comparing: the lesson each intended failure
        /// teaches (`kit/checks/*.lessons`) and the shipped checks' fingerprints. After changing a
        /// check on purpose.
        #[arg(long)]
        bless: bool,
        /// Run only the steps whose name contains this text (e.g. `mistakes`, `06-processes`).
        #[arg(long)]
        only: Option<String>,
    },
    /// Build the book (`--open` to read it, `--serve` to rebuild as you edit).
    Book {
        #[arg(long)]
        open: bool,
        #[arg(long, conflicts_with = "open")]
        serve: bool,
    },
    /// Make the offline pack in DIR (a USB stick): the kit as a git bundle, every crate vendored,
    /// the pinned mdBook and the built book; `--try` then installs from it with no network.
    Pack {
        dir: PathBuf,
        /// Then install from the pack as a learner would, offline, and run `check 1` and `book`.
        #[arg(long = "try")]
        try_it: bool,
    },
    /// Run the finished noticeboard as a small platform would: release phase, web and worker
    /// processes behind HAProxy, merged logs (`--demo`: a rolling restart under load).
    Deploy {
        /// How many processes of each type, e.g. `web=3,worker=2` (the default).
        #[arg(long)]
        scale: Option<String>,
        /// Run another app's Procfile instead of `noticeboard/Procfile`.
        #[arg(long)]
        procfile: Option<PathBuf>,
        /// The load balancer's port (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Roll every web replica and worker, kill a worker mid-delivery and cut Redis for 1 s
        /// (shorter than the app's 1.5 s wait for Redis) under load, then print what the users
        /// saw and write a report page.
        #[arg(long)]
        demo: bool,
        /// Run the demo on factor N's exercise too, side by side with the finished app
        /// (4, 6, 8 or 9; several as 4,6,8,9). Exercise IV counts in the shared Redis's
        /// database 0 (its bug): the demo cuts only its connections and takes its visits back.
        #[arg(long = "break", value_name = "N")]
        break_factor: Option<String>,
        /// The demo's short version (what `verify` runs).
        #[arg(long)]
        short: bool,
        /// Record the table and chart into the book (book/src/deploy-it/).
        #[arg(long)]
        book: bool,
    },
    /// Measure build cost and the edit→verdict time of `check 6`.
    Bench {
        /// How many warm edit→verdict runs to take the median of.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Skip the cold build (it takes minutes).
        #[arg(long)]
        skip_cold: bool,
        /// How many fresh clones to time to their first verdict (the median counts: this machine
        /// is noisy).
        #[arg(long, default_value_t = 3)]
        cold_runs: usize,
    },
    /// mdBook preprocessor for the book (run by mdBook, not by people).
    #[command(hide = true)]
    BookPreprocessor { args: Vec<String> },
}

#[derive(Subcommand)]
enum RoomCmd {
    /// Run the class board (instructor): http://<this laptop>:7878, PORT to change.
    Serve,
    /// Open a class: prints its code for learners and your private board link.
    Open {
        /// The class's name, e.g. "Rust Day Lyon".
        name: String,
    },
    /// Close a class: its board stays readable, it takes no more verdicts.
    Close { code: String },
    /// Print a class's board as CSV.
    Export { code: String },
    /// Replace a class's instructor token (prints the new links).
    Token { code: String },
    /// List the classes.
    List,
    /// Join a class (learner): every `check` then shows on the instructor's board.
    Join {
        /// The board's address, e.g. http://192.168.1.20:7878
        url: String,
        /// The class code on the instructor's screen.
        code: String,
        /// How the instructor will see you.
        #[arg(long)]
        name: String,
    },
    /// Load and browser test of the board: N simulated learners, a restart mid-way, headless
    /// Chromium watching the page.
    Bench {
        #[arg(long, default_value_t = 200)]
        learners: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seconds between two posts of one learner.
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
        /// Where to save the browser's screenshot of the board.
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Also time this many warm `check 2` runs per board state (none, up, down, slow).
        #[arg(long, default_value_t = 0)]
        check_runs: usize,
    },
}

#[derive(Subcommand)]
enum ServicesCmd {
    /// Start Postgres and Redis (docker compose if an engine answers, else local binaries).
    Up {
        #[arg(long, value_enum)]
        backend: Option<services::Backend>,
    },
    /// Stop what `up` started.
    Down {
        #[arg(long, value_enum)]
        backend: Option<services::Backend>,
        /// Also delete their data.
        #[arg(long)]
        purge: bool,
    },
    /// Say whether each service answers at its URL.
    Status,
}

/// A mistake in how xtask was called: one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Green,
    Red,
}

impl From<bool> for Verdict {
    fn from(green: bool) -> Self {
        if green { Verdict::Green } else { Verdict::Red }
    }
}

/// The kit's root folder: the nearest folder at or above the current one that holds `factors.toml`
/// and `xtask/` (`XTASK_ROOT` overrides it for xtask's tests).
///
/// Found from where the command runs, never from a path compiled into the binary: with a target
/// folder shared between two clones (`CARGO_TARGET_DIR`), the binary may have been built in the other.
pub fn project_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let cwd = std::env::current_dir()
        .map_err(|err| UsageError(format!("cannot read the current folder: {err}")))?;
    cwd.ancestors()
        .find(|dir| dir.join("factors.toml").is_file() && dir.join("xtask").is_dir())
        .map(PathBuf::from)
        .ok_or_else(|| {
            UsageError(format!(
                "{} is not inside a Twelve-Factor Rust checkout (no factors.toml above it); \
                 run cargo xtask from the kit's folder",
                cwd.display()
            ))
            .into()
        })
}

/// Whether `err`, or anything it was wrapped around, is a mistake in how the command was called.
///
/// Searching the whole chain keeps exit code 2 when a caller adds `.context(..)` to a usage error.
fn is_usage_error(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.is::<UsageError>() || cause.is::<UnknownFactor>())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's first paragraph, on one line: "error: … not provided:\n  <FACTOR>" included.
            let rendered = err.render().to_string();
            let first: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see `cargo xtask --help`)", first.join(" "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(Verdict::Green) => ExitCode::SUCCESS,
        Ok(Verdict::Red) => ExitCode::from(1),
        Err(err) if is_usage_error(&err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Verdict> {
    let root = project_root()?;
    // A reader that stops early (`cargo xtask check 4 | head -2`) must not turn the verdict into an
    // error: the rest of the output is dropped and the exit code stays the verdict's.
    let out = &mut term::QuietPipe::new(std::io::stdout().lock());
    if let Some(Cmd::BookPreprocessor { args }) = &cli.command {
        return book::preprocess(&root, args).map(|()| Verdict::Green);
    }
    let manifest = Manifest::load(&root)?;
    let Some(command) = cli.command else {
        return status::overview(&root, &manifest, out);
    };
    if matches!(
        command,
        Cmd::Check { .. } | Cmd::Watch { .. } | Cmd::Solution { .. }
    ) {
        // A learner's build that compiles more than the exercise says so as it goes.
        engine::testrun::show_progress();
    }
    match command {
        Cmd::Check {
            factor,
            solution,
            verbose,
        } => {
            let Some(factor) = chosen(&root, &manifest, factor.as_deref(), "check", out)? else {
                return Ok(Verdict::Green);
            };
            check::run(
                &root,
                &manifest,
                factor,
                check::Options { solution, verbose },
                out,
            )
        }
        Cmd::Watch { factor } => {
            let Some(factor) = chosen(&root, &manifest, factor.as_deref(), "watch", out)? else {
                return Ok(Verdict::Green);
            };
            watch::run(&root, &manifest, &factor.clone(), out)
        }
        Cmd::Hint { factor, level } => {
            let Some(factor) = chosen(&root, &manifest, factor.as_deref(), "hint", out)? else {
                return Ok(Verdict::Green);
            };
            hint::run(&root, factor, level, out)
        }
        Cmd::Solution { factor, yes, apply } => {
            let Some(factor) = chosen(&root, &manifest, factor.as_deref(), "solution", out)? else {
                return Ok(Verdict::Green);
            };
            if apply {
                solution::apply(&root, factor, out)
            } else {
                solution::run(&root, &manifest, factor, yes, out)
            }
        }
        Cmd::Reset { factor, all } => {
            let factors: Vec<&Factor> = match (factor, all) {
                (Some(query), false) => vec![available(&manifest, &query)?],
                (None, true) => manifest.available().collect(),
                _ => return Err(UsageError("name a factor to reset, or use --all".into()).into()),
            };
            reset::run(&root, &factors, out)
        }
        Cmd::Status { json, push } => {
            if push {
                room::post::require_joined(&root)?;
            }
            let verdict = status::run(&root, &manifest, json, out)?;
            if push {
                return room::post::push_status(&root, &manifest, out);
            }
            Ok(verdict)
        }
        Cmd::Services { action } => match action {
            ServicesCmd::Up { backend } => {
                services::up(&root, backend, out).map(|()| Verdict::Green)
            }
            ServicesCmd::Down { backend, purge } => {
                services::down(&root, backend, purge, out).map(|()| Verdict::Green)
            }
            ServicesCmd::Status => services::status(&root, out).map(Verdict::from),
        },
        Cmd::Doctor { json, push } => {
            if push {
                room::post::require_joined(&root)?;
            }
            let report = match (json, push) {
                (true, _) => doctor::Report::Json,
                (_, true) => doctor::Report::Push,
                _ => doctor::Report::Text,
            };
            doctor::run(&root, &manifest, report, out)
        }
        Cmd::Room { action } => match action {
            RoomCmd::Serve => room::board::run(&root, &["serve".into()], out),
            RoomCmd::Open { name } => room::board::run(&root, &["open".into(), name], out),
            RoomCmd::Close { code } => room::board::run(&root, &["close".into(), code], out),
            RoomCmd::Export { code } => room::board::run(&root, &["export".into(), code], out),
            RoomCmd::Token { code } => room::board::run(&root, &["token".into(), code], out),
            RoomCmd::List => room::board::run(&root, &["list".into()], out),
            RoomCmd::Join { url, code, name } => room::post::join(&root, &url, &code, &name, out),
            RoomCmd::Bench {
                learners,
                seconds,
                interval,
                screenshot,
                check_runs,
            } => gate::room::bench(
                &root,
                gate::room::BenchOptions {
                    learners,
                    seconds,
                    interval,
                    screenshot,
                    check_runs,
                },
                out,
            ),
        },
        Cmd::RoomSend => room::post::send_outbox(&root),
        Cmd::Demo { factor } => demo::run(&root, available(&manifest, &factor)?, out),
        Cmd::Verify {
            repeat,
            bless,
            only,
        } => verify::run(
            &root,
            &manifest,
            verify::Options {
                repeat,
                bless,
                only,
            },
            out,
        ),
        Cmd::Book { open, serve } => book::run(&root, open, serve, out),
        Cmd::Pack { dir, try_it } => learner::pack::run(&root, &dir, try_it, out),
        Cmd::Deploy {
            scale,
            procfile,
            port,
            demo,
            break_factor,
            short,
            book,
        } => deploy::run(
            &root,
            &manifest,
            deploy::Options {
                scale,
                procfile,
                port,
                demo,
                break_factor,
                short,
                book,
            },
            out,
        ),
        Cmd::Bench {
            runs,
            skip_cold,
            cold_runs,
        } => bench::run(&root, runs, (!skip_cold).then_some(cold_runs), out),
        Cmd::BookPreprocessor { .. } => unreachable!("handled above"),
    }
}

/// The factor a command acts on: the one the learner named, else the first one not green yet (as
/// plain `cargo xtask` names it). When every factor is green and none was named, says so and
/// returns `None`.
fn chosen<'m>(
    root: &std::path::Path,
    manifest: &'m Manifest,
    query: Option<&str>,
    command: &str,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Option<&'m Factor>> {
    if let Some(query) = query {
        return available(manifest, query).map(Some);
    }
    let next = status::next_factor(root, manifest);
    if next.is_none() {
        writeln!(
            out,
            "{} Name a factor to {command} it again, e.g. `cargo xtask {command} 6`.",
            status::all_green(manifest)
        )?;
    }
    Ok(next)
}

/// The factor a learner named, if it has an exercise yet.
fn available<'m>(manifest: &'m Manifest, query: &str) -> anyhow::Result<&'m Factor> {
    let factor = manifest.find(query)?;
    if !factor.available {
        let ready: Vec<String> = manifest.available().map(|f| f.number.to_string()).collect();
        return Err(UsageError(format!(
            "{} is not available yet (available: {})",
            factor.heading(),
            ready.join(", ")
        ))
        .into());
    }
    Ok(factor)
}
