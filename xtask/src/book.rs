//! `cargo xtask book [--open|--serve]`: builds the book, with xtask itself as its mdBook
//! preprocessor (`preprocessor`), and the book steps of `verify`.
//!
//! - `preprocessor`: the directives (`directives`, `facts`) and the build-time lints (`includes`,
//!   `outputs`, `chapters`), on the version of the code the book quotes (`shipped`).
//! - `built`: checks of the built HTML (empty code blocks, links, the checks' anchors).
//! - `quality`: verify's checks of the sources, nothing built (the build's lints, `chapters`, `svg`,
//!   `commands`, `workflow`); `demos` runs the runnable output blocks for real.
//! - `browser`: the built book rendered in headless Chromium.

mod browser;
mod built;
mod chapters;
mod commands;
pub mod demos;
mod directives;
mod facts;
mod includes;
mod messages;
mod outputs;
mod preprocessor;
mod quality;
mod shipped;
pub(crate) mod svg;
mod workflow;

pub use built::{check_lesson_anchors, check_links};
pub use preprocessor::preprocess;
pub use shipped::Quotes;

use crate::Verdict;
use crate::engine::manifest::Manifest;
use crate::engine::term;
use anyhow::{Context, Result, bail, ensure};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the book is published (`.github/workflows/book.yml`, on every push to main). The
/// organisation is a placeholder until the kit's public home is decided; `site-url` in
/// `book/book.toml` is this URL's path.
pub const ONLINE_URL: &str = "https://twelve-factor-rust.github.io/twelve-factor-rust/";

/// Where `mdbook build` writes the HTML (see `book/book.toml`).
pub fn output_dir(root: &Path) -> PathBuf {
    root.join("target").join("book")
}

/// The book, built: what the steps that need the built book take (`smoke_test_in_browser`), so
/// that none of them renders an old or half-written `target/book/`.
#[derive(Debug)]
pub struct Built {
    pub out: PathBuf,
}

/// `mdbook build book`, failing on any warning, a missing include anchor, an output block nobody
/// ran or an empty code block. `quotes` says which version of the code the book quotes.
pub fn build(root: &Path, quotes: Quotes) -> Result<Built> {
    let output = mdbook_command(root, quotes)?
        .args(["build", "book"])
        .output()
        .context("cannot run mdbook")?;
    let log = String::from_utf8_lossy(&output.stderr);
    let problems: Vec<&str> = log
        .lines()
        // mdBook's own warnings and errors, and the preprocessor's `error: …` with its causes.
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("INFO"))
        .collect();
    if !output.status.success() || !problems.is_empty() {
        let detail = if problems.is_empty() {
            log.trim().to_string()
        } else {
            problems.join("\n")
        };
        bail!("the book does not build cleanly:\n{detail}");
    }
    let empty = built::empty_code_blocks(&output_dir(root))?;
    ensure!(
        empty.is_empty(),
        "the book has {} empty code block(s):\n{}",
        empty.len(),
        empty.join("\n")
    );
    Ok(Built {
        out: output_dir(root),
    })
}

/// `mdbook` at the kit's root, with xtask itself as the preprocessor: mdBook then starts this very
/// binary instead of `book.toml`'s `cargo run …` (kept for `mdbook` run by hand), so a build pays
/// no Cargo start-up and a copy of the kit needs no build of xtask of its own.
fn mdbook_command(root: &Path, quotes: Quotes) -> Result<Command> {
    let mut command = Command::new(mdbook_program(root)?);
    crate::engine::testrun::without_xtask_env(&mut command);
    command.current_dir(root);
    if let Ok(xtask) = std::env::current_exe() {
        command.env(
            "MDBOOK_PREPROCESSOR__KIT__COMMAND",
            format!("'{}' book-preprocessor", xtask.display()),
        );
    }
    quotes.pass_to(&mut command);
    Ok(command)
}

/// The pinned mdBook: installed, or the one in the offline pack this kit was cloned from, or
/// installed now; offline, one line that says what to do (`learner::pack`).
fn mdbook_program(root: &Path) -> Result<PathBuf> {
    if let Some(found) = crate::engine::tools::installed_mdbook(root) {
        return Ok(found);
    }
    if let Some(packed) = crate::learner::pack::packed_mdbook(root) {
        return Ok(packed);
    }
    crate::learner::pack::require_network_for_mdbook(root)?;
    // A machine with no network that Cargo was not told about: `cargo install` fails on the
    // registry, and the error says what to do instead.
    crate::engine::tools::mdbook(root).with_context(|| {
        format!(
            "mdBook {} is not installed and could not be installed (no network?): {}",
            crate::engine::tools::MDBOOK_VERSION,
            crate::learner::pack::mdbook_advice(root)
        )
    })
}

pub fn run(root: &Path, open: bool, serve: bool, out: &mut impl Write) -> Result<Verdict> {
    if serve {
        let status = mdbook_command(root, Quotes::from_env())?
            .args(["serve", "book"])
            .status()?;
        return Ok(Verdict::from(status.success()));
    }
    let built = build(root, Quotes::from_env())?;
    let index = built.out.join("index.html");
    writeln!(out, "{} The book is at {}", term::pass(), index.display())?;
    if open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        // A machine without a desktop has no browser to open: then say where the book is.
        let opened = Command::new(opener)
            .arg(&index)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !opened {
            writeln!(
                out,
                "No browser could be opened here ({opener}); open file://{} yourself.",
                index.display()
            )?;
        }
    }
    Ok(Verdict::Green)
}

/// `cargo xtask verify`'s book build, done at most once and handed to the steps that need it:
/// the build step, and the browser step, which renders what this run built (and builds it itself
/// when it runs alone, `--only browser`), never an older `target/book/`.
#[derive(Default)]
pub struct GateBuild(std::sync::OnceLock<Result<Built, String>>);

impl GateBuild {
    /// The book built from the working tree (what is about to be committed), or why it did not build.
    pub fn get(&self, root: &Path) -> Result<&Built> {
        self.0
            .get_or_init(|| build(root, Quotes::WorkingTree).map_err(|error| format!("{error:#}")))
            .as_ref()
            .map_err(|cause| anyhow::anyhow!("{cause}"))
    }
}

/// `cargo xtask verify`'s static book step: the sources' checks, nothing built or run
/// (`quality::check_book`).
pub fn lint_sources(root: &Path, manifest: &Manifest) -> Result<String> {
    quality::check_book(root, manifest)
}

/// `cargo xtask verify`'s demo step: the `<!-- runnable -->` blocks, run and compared (`demos`).
pub fn run_demos(root: &Path) -> Result<String> {
    demos::run_all(root).map(|ran| format!("{ran} demo commands ran"))
}

/// Renders the built book in headless Chromium (see `browser`).
pub fn smoke_test_in_browser(manifest: &Manifest, built: Result<&Built>) -> Result<String> {
    let built = built.context("nothing to render: the book did not build")?;
    browser::smoke_test(manifest, built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_step_names_the_build_failure_not_the_browser() {
        let failed = GateBuild::default();
        let _ = failed
            .0
            .set(Err("no `ANCHOR: counter` line in the file".into()));
        let error = smoke_test_in_browser(
            &crate::engine::manifest::kit(),
            failed.get(Path::new("/nowhere")),
        )
        .unwrap_err();
        let error = format!("{error:#}");
        assert!(
            error.contains("nothing to render: the book did not build")
                && error.contains("ANCHOR: counter"),
            "{error}"
        );
    }

    #[test]
    fn the_online_book_url_is_the_same_everywhere() {
        let root = crate::project_root().unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        assert!(
            readme.contains(ONLINE_URL),
            "README.md must point to {ONLINE_URL}"
        );
        let book_toml = std::fs::read_to_string(root.join("book/book.toml")).unwrap();
        let path = ONLINE_URL.split_once(".io").unwrap().1;
        assert!(
            book_toml.contains(&format!("site-url = \"{path}\"")),
            "book/book.toml's site-url must be {path}"
        );
    }
}
