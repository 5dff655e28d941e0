//! What one factor taught stays taught: every later snapshot (starter and reference solution)
//! keeps it, so a learner never meets, two chapters on, the mistake a chapter just fixed.
//!
//! Each rule names the factor that teaches it and what its code looks like, and is checked in the
//! source of every exercise and solution from that factor on, or from the first factor when the
//! kit chose one behaviour for all (the solution of the teaching factor included; its exercise is
//! the anti-pattern, so it is exempt). A source check, and deliberately
//! a narrow one: the behaviour itself is what the factor's checks judge; this step only keeps the
//! snapshots from drifting apart, which no check of a later factor looks at.

use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// One lesson that later snapshots must keep.
struct Taught {
    /// The factor that teaches it; its exercise is the anti-pattern, so it is exempt.
    factor: u8,
    /// The first factor whose snapshots keep it: the teaching factor, or an earlier one when the
    /// kit decided on one behaviour for every snapshot (a typo in `RUST_LOG` stops every app).
    since: u8,
    /// What it is, as the failure message says it.
    rule: &'static str,
    /// Files it applies to: those whose text contains this.
    applies_to: &'static str,
    /// What such a file must not contain (the ways of forgetting the lesson).
    forbidden: &'static [&'static str],
    /// What such a file must contain.
    required: &'static [&'static str],
}

const TAUGHT: &[Taught] = &[
    Taught {
        factor: 11,
        since: 1,
        rule: "the log level comes from RUST_LOG, and a RUST_LOG that does not parse stops the \
               process (`EnvFilter::try_new(..)?` or `EnvFilter::builder()..from_env()?`), never \
               a silent fallback",
        applies_to: "EnvFilter",
        forbidden: &[
            "try_from_default_env()",
            "from_default_env()",
            "from_env_lossy()",
            "parse_lossy(",
        ],
        required: &["RUST_LOG"],
    },
    Taught {
        factor: 4,
        since: 4,
        rule: "the Redis connection has bounded waits: a `ConnectionManagerConfig` with a \
               connection and a response timeout, never the manager's defaults",
        applies_to: "ConnectionManager",
        forbidden: &["ConnectionManager::new(", "ConnectionManager::new_lazy("],
        required: &["set_connection_timeout(", "set_response_timeout("],
    },
];

/// `verify`'s step: every snapshot from each teaching factor on keeps what it taught.
pub fn agree(root: &Path, manifest: &Manifest) -> Result<String> {
    let mut problems = Vec::new();
    let mut files = 0;
    for factor in manifest.available() {
        for (dir, is_exercise) in [(&factor.exercise, true), (&factor.solution, false)] {
            for file in rust_files(&root.join(dir)) {
                files += 1;
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let relative = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                problems.extend(broken(factor, is_exercise, &relative, &text));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "a later snapshot forgets what an earlier factor taught:\n{}",
            problems.join("\n")
        );
    }
    Ok(format!("{} rules over {files} files", TAUGHT.len()))
}

/// What `text` (the file `relative` of `factor`'s exercise or solution) breaks, one line each.
fn broken(factor: &Factor, is_exercise: bool, relative: &str, text: &str) -> Vec<String> {
    let code = without_comments(text);
    TAUGHT
        .iter()
        .filter(|taught| {
            let exempt = is_exercise && factor.number == taught.factor;
            factor.number >= taught.since && !exempt && code.contains(taught.applies_to)
        })
        .filter_map(|taught| {
            let found: Vec<&str> = taught
                .forbidden
                .iter()
                .copied()
                .filter(|bad| contains_name(&code, bad))
                .collect();
            let missing: Vec<&str> = taught
                .required
                .iter()
                .copied()
                .filter(|good| !code.contains(good))
                .collect();
            if found.is_empty() && missing.is_empty() {
                return None;
            }
            let mut what = Vec::new();
            if !found.is_empty() {
                what.push(format!("uses {}", found.join(", ")));
            }
            if !missing.is_empty() {
                what.push(format!("lacks {}", missing.join(", ")));
            }
            Some(format!(
                "  {relative} {}: Factor {} teaches that {}",
                what.join(" and "),
                taught.factor,
                taught.rule
            ))
        })
        .collect()
}

/// Whether `code` holds `name` as a whole name: `from_default_env()` is not found inside
/// `try_from_default_env()`.
fn contains_name(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|before| before.is_alphanumeric() || before == '_')
    })
}

/// The code of `text` without `//` comments, so that a comment naming the wrong way is no match.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string (a URL) is code: only strip when no quote precedes it.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = crate::engine::progress::files_under(dir)
        .into_iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(number: u8) -> Factor {
        crate::engine::manifest::kit()
            .factors
            .into_iter()
            .find(|factor| factor.number == number)
            .expect("the kit has this factor")
    }

    const SILENT: &str =
        r#"let f = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());"#;
    const STOPS: &str =
        r#"let f = EnvFilter::try_new(std::env::var("RUST_LOG").unwrap_or_default())?;"#;

    #[test]
    fn a_silent_rust_log_fallback_is_caught_in_every_snapshot_but_the_teaching_exercise() {
        let problems = broken(&factor(9), false, "solutions/09/src/main.rs", SILENT);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("uses try_from_default_env()"),
            "{problems:?}"
        );
        assert!(problems[0].contains("Factor 11 teaches"), "{problems:?}");
        assert!(broken(&factor(9), true, "exercises/09/src/main.rs", SILENT).len() == 1);
        assert!(broken(&factor(11), true, "exercises/11/src/logging.rs", SILENT).is_empty());
        assert!(broken(&factor(9), false, "solutions/09/src/main.rs", STOPS).is_empty());
    }

    #[test]
    fn redis_without_timeouts_is_caught_from_factor_iv_on_only() {
        let bare = "let redis = ConnectionManager::new(client).await?;";
        let problems = broken(&factor(6), true, "exercises/06/src/state.rs", bare);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("lacks set_connection_timeout(, set_response_timeout("));
        assert!(broken(&factor(4), true, "exercises/04/src/state.rs", bare).is_empty());
        assert_eq!(
            broken(&factor(4), false, "solutions/04/src/state.rs", bare).len(),
            1
        );
        let bounded = "ConnectionManagerConfig::new().set_connection_timeout(t).set_response_timeout(t); \
                       ConnectionManager::new_with_config(client, config)";
        assert!(broken(&factor(6), true, "exercises/06/src/state.rs", bounded).is_empty());
    }

    #[test]
    fn a_comment_naming_the_wrong_way_is_not_code() {
        let commented = format!("// Not `try_from_default_env()`: it hides a typo.\n{STOPS}");
        assert!(broken(&factor(9), false, "solutions/09/src/main.rs", &commented).is_empty());
    }

    #[test]
    fn the_shipped_snapshots_agree() {
        let root = crate::project_root().expect("the kit's root");
        let manifest = crate::engine::manifest::kit();
        agree(&root, &manifest).expect("the kit's snapshots agree");
    }
}
