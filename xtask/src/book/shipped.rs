//! Which version of the kit's files the book quotes.
//!
//! A learner's book must show the snippets as shipped, whatever they changed: after a right fix of
//! Factor I deletes `src/bin/staging.rs`, the working tree no longer has the file the chapter
//! quotes, and an edited file may have lost its `ANCHOR:` lines. So `cargo xtask book` quotes the
//! committed versions: the folders the book includes from (`exercises/`, `solutions/`, `kit/`) are
//! taken from `HEAD` with `git archive` into `target/book-shipped/` (once per commit), and the
//! preprocessor points every `{{#include}}` into those folders there. The maintainer's gate builds
//! from the working tree instead (`Quotes::WorkingTree`), since that is what is about to be
//! committed; in CI both are the same commit.

use anyhow::{Context, Result, bail};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// The folders the book quotes code from.
pub const QUOTED: [&str; 3] = ["exercises", "solutions", "kit"];

/// How `book::build` tells the preprocessor (a process mdBook starts) which version to quote.
const VARIABLE: &str = "KIT_BOOK_QUOTES";

/// Which files the book quotes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quotes {
    /// The committed versions (`HEAD`): what the kit shipped, whatever the learner changed.
    Shipped,
    /// The files as they are: what a maintainer is about to commit (`verify`).
    WorkingTree,
}

impl Quotes {
    /// Sets the choice for the preprocessor that `mdbook` will start.
    pub fn pass_to(self, mdbook: &mut Command) -> &mut Command {
        mdbook.env(
            VARIABLE,
            match self {
                Quotes::Shipped => "shipped",
                Quotes::WorkingTree => "working-tree",
            },
        )
    }

    /// The choice `book::build` passed to the preprocessor; otherwise what shipped, unless
    /// `KIT_BOOK_QUOTES=working-tree` asks for the working tree (a maintainer previewing a change to
    /// quoted code with `cargo xtask book --serve` before committing it).
    pub fn from_env() -> Quotes {
        match std::env::var(VARIABLE).as_deref() {
            Ok("working-tree") => Quotes::WorkingTree,
            _ => Quotes::Shipped,
        }
    }
}

/// The folder that holds the quoted `exercises/`, `solutions/` and `kit/`: the kit itself for the
/// working tree, else `target/book-shipped/` as of `HEAD`. A folder that is not a git checkout
/// (a downloaded archive) has nothing committed to quote: then the working tree is what shipped.
pub fn quoted_root(root: &Path, quotes: Quotes) -> Result<PathBuf> {
    if quotes == Quotes::WorkingTree {
        return Ok(root.to_path_buf());
    }
    let Some(commit) = head(root) else {
        return Ok(root.to_path_buf());
    };
    let dir = root.join("target").join("book-shipped");
    let stamp = dir.join(".commit");
    if std::fs::read_to_string(&stamp).is_ok_and(|done| done == commit) {
        return Ok(dir);
    }
    // Extracted beside it, then renamed: a build that stops half-way leaves no half snapshot.
    let partial = root
        .join("target")
        .join(format!("book-shipped.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    extract(root, &commit, &partial)?;
    std::fs::write(partial.join(".commit"), &commit)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("cannot move the snapshot to {}", dir.display()))?;
    Ok(dir)
}

/// `HEAD`'s commit, if this is a git checkout with one.
fn head(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

/// `git archive <commit> exercises solutions kit | tar -x -C into`.
fn extract(root: &Path, commit: &str, into: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .args(["archive", "--format=tar", commit, "--"])
        .args(QUOTED)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run git archive")?;
    let stdout = archive.stdout.take().context("git archive has no output")?;
    let untar = Command::new("tar")
        .args(["-x", "-f", "-", "-C"])
        .arg(into)
        .stdin(stdout)
        .output()
        .context("cannot run tar")?;
    let archived = archive.wait_with_output()?;
    if !archived.status.success() {
        bail!(
            "git archive {commit} {} failed: {}",
            QUOTED.join(" "),
            String::from_utf8_lossy(&archived.stderr).trim()
        );
    }
    if !untar.status.success() {
        bail!(
            "tar could not unpack the shipped files: {}",
            String::from_utf8_lossy(&untar.stderr).trim()
        );
    }
    Ok(())
}

/// `content` with every `{{#include path…}}` into a quoted folder of `root` pointed at the same
/// file under `quoted` instead (an absolute path: mdBook joins it to the chapter's folder, and an
/// absolute path wins). Other includes, and escaped ones (`\{{#include`), stay as written.
pub fn redirect_includes(content: &str, chapter_dir: &Path, root: &Path, quoted: &Path) -> String {
    if quoted == root {
        return content.to_string();
    }
    const OPEN: &str = "{{#include ";
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.find(OPEN) {
        let escaped = rest[..at].ends_with('\\');
        out.push_str(&rest[..at + OPEN.len()]);
        rest = &rest[at + OPEN.len()..];
        if escaped {
            continue;
        }
        let end = rest.find(['}', ':']).unwrap_or(rest.len());
        let file = rest[..end].trim();
        let target = normalized(&chapter_dir.join(file));
        match target.strip_prefix(root) {
            Ok(inside)
                if inside
                    .components()
                    .next()
                    .is_some_and(|first| QUOTED.iter().any(|q| first.as_os_str() == *q)) =>
            {
                out.push_str(&quoted.join(inside).display().to_string());
                rest = &rest[end..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

/// `a/b/../c` as `a/c`, without asking the file system (the file may not exist there).
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_into_the_quoted_folders_point_at_the_snapshot() {
        let root = Path::new("/kit");
        let chapter = root.join("book/src");
        let snapshot = Path::new("/kit/target/book-shipped");
        let page = "a {{#include ../../exercises/01-codebase/src/bin/staging.rs:staging_settings}}\n\
                    b {{#include ../../kit/harness/src/app.rs}}\n\
                    c {{#include images/x.txt}}\n\
                    d \\{{#include ../../exercises/x.rs:y}}\n";
        assert_eq!(
            redirect_includes(page, &chapter, root, snapshot),
            "a {{#include /kit/target/book-shipped/exercises/01-codebase/src/bin/staging.rs:staging_settings}}\n\
             b {{#include /kit/target/book-shipped/kit/harness/src/app.rs}}\n\
             c {{#include images/x.txt}}\n\
             d \\{{#include ../../exercises/x.rs:y}}\n"
        );
        assert_eq!(redirect_includes(page, &chapter, root, root), page);
    }
}
