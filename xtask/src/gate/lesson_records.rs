//! What each intended failure must teach, recorded, so `verify` notices an exercise that is red for
//! the wrong reason.
//!
//! Failing is not enough: an exercise whose counter always answers 0 fails the Factor VI check too,
//! but with the message about GET-then-SET races, which is not its mistake. So `verify` compares the
//! message of every intended failure of the shipped exercise with `kit/checks/<NN-slug>.lessons`,
//! numbers and temporary paths filtered out. After an intended change of a message, `cargo xtask
//! verify --bless` records the new ones.

use crate::engine::manifest::Factor;
use crate::engine::testrun::Outcome;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn record_path(root: &Path, factor: &Factor) -> PathBuf {
    root.join("kit/checks")
        .join(format!("{}.lessons", factor.dir_name()))
}

const HEADER: &str = "\
# What each intended failure of the shipped exercise teaches: its message, with every word that
# holds a digit or a temporary path written as #. `cargo xtask verify` compares; after an intended
# change of a message, `cargo xtask verify --bless` records the new ones.
";

/// The message with what changes from run to run written as `#` (counts, ports, pids, random
/// names, temp paths: any word holding a digit, book links excepted) and without what it quotes of
/// the app (text in parentheses, `|` lines), whose timing can differ between runs.
pub fn normalize(message: &str) -> String {
    without_parentheses(message)
        .lines()
        .filter(|line| !line.trim_start().starts_with('|'))
        .map(|line| {
            line.split_whitespace()
                .map(|word| {
                    if word.contains(".html#") {
                        word.to_string()
                    } else if word.chars().any(|c| c.is_ascii_digit()) || word.contains("tmp") {
                        "#".to_string()
                    } else {
                        word.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without any `( … )`, nested ones included (an unclosed one runs to the end).
fn without_parentheses(text: &str) -> String {
    let mut depth = 0usize;
    text.chars()
        .filter(|c| {
            match c {
                '(' => depth += 1,
                ')' if depth > 0 => {
                    depth -= 1;
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

/// Whether two normalized messages teach the same thing: the same book section, and nearly the
/// same words (a count can still change a word's grammar: "1 delivery", "4 deliveries").
fn same_lesson(recorded: &str, seen: &str) -> bool {
    let book = |text: &str| {
        text.lines()
            .filter(|line| line.trim_start().starts_with("Book:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    book(recorded) == book(seen)
        && similar::TextDiff::from_words(recorded, seen).ratio() >= SAME_LESSON
}

/// How alike two messages' words must be to count as the same lesson.
const SAME_LESSON: f32 = 0.9;

fn parse(text: &str) -> BTreeMap<String, String> {
    let mut lessons = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        // Comments only in the header: a message may start with `#` (a filtered number).
        if current.is_none() && line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            if let Some((test, body)) = current.take() {
                lessons.insert(test, body.join("\n").trim().to_string());
            }
            current = Some((name.trim().to_string(), Vec::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push(line);
        }
    }
    if let Some((test, body)) = current {
        lessons.insert(test, body.join("\n").trim().to_string());
    }
    lessons
}

/// Writes the lessons of `outcomes`' intended failures.
pub fn bless(root: &Path, factor: &Factor, outcomes: &[Outcome]) -> Result<()> {
    let mut text = HEADER.to_string();
    for intended in &factor.intended_failures {
        let Some(outcome) = outcomes.iter().find(|outcome| &outcome.name == intended) else {
            continue;
        };
        text.push_str(&format!(
            "\n== {intended}\n{}\n",
            normalize(&outcome.explanation)
        ));
    }
    let path = record_path(root, factor);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Fails unless every intended failure teaches what its record says.
pub fn compare(root: &Path, factor: &Factor, outcomes: &[Outcome]) -> Result<()> {
    let path = record_path(root, factor);
    let shown = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let recorded = parse(&std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{shown} is missing: run `cargo xtask verify --bless --only {}` to record the lessons",
            factor.dir_name()
        )
    })?);
    for intended in &factor.intended_failures {
        let Some(outcome) = outcomes.iter().find(|outcome| &outcome.name == intended) else {
            continue;
        };
        let expected = recorded.get(intended).with_context(|| {
            format!(
                "{shown} has no lesson for `{intended}`: run `cargo xtask verify --bless --only {}`",
                factor.dir_name()
            )
        })?;
        let seen = normalize(&outcome.explanation);
        if !same_lesson(expected, &seen) {
            bail!(
                "`{intended}` fails for another reason than recorded in {shown}:\n\
                 recorded:\n{}\nnow:\n{}\n\
                 (if the new message is intended, `cargo xtask verify --bless --only {}` records it)",
                crate::engine::term::indent(expected, 2),
                crate::engine::term::indent(&seen, 2),
                factor.dir_name()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_changes_between_runs_is_filtered_and_the_book_link_is_kept() {
        let first = "after 120 visits, replica A counts 71 (pid 4242, port 30071)\n  \
                     Book: 06-processes.html#the-anti-pattern";
        let second = "after 120 visits, replica A counts 80 (pid 99, port 29999)\n  \
                      Book: 06-processes.html#the-anti-pattern";
        assert_eq!(normalize(first), normalize(second));
        assert!(normalize(first).ends_with("Book: 06-processes.html#the-anti-pattern"));
        let other =
            "both replicas agree on 0 visits: GET then SET\n  Book: 06-processes.html#the-fix";
        assert_ne!(normalize(first), normalize(other));
        assert_eq!(
            normalize("answered 503 (its log: cannot reach it yet). Take the URL"),
            normalize("answered 503 (its log: request failed (twice)). Take the URL")
        );
        assert_eq!(
            normalize("wrote /tmp/.tmpAbCdEf/app.log"),
            normalize("wrote /tmp/.tmpXyZwVu/app.log")
        );
    }

    #[test]
    fn grammar_that_follows_a_count_is_the_same_lesson_and_another_reason_is_not() {
        let recorded = normalize(
            "the webhook received 5 deliveries within 1s anyway: the web process does the work \
             itself, in the request or in a task it spawns\n  Book: 08-concurrency.html#the-fix",
        );
        let singular = normalize(
            "the webhook received 1 delivery within 1s anyway: the web process does the work \
             itself, in the request or in a task it spawns\n  Book: 08-concurrency.html#the-fix",
        );
        assert!(same_lesson(&recorded, &singular));
        let other_section = recorded.replace("#the-fix", "#the-anti-pattern");
        assert!(!same_lesson(&recorded, &other_section));
        let other_reason = normalize(
            "both replicas agree on 0 visits, but 120 were made: GET then SET loses increments\n  \
             Book: 08-concurrency.html#the-fix",
        );
        assert!(!same_lesson(&recorded, &other_reason));
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let text = format!("{HEADER}\n== a\nline one\nline two\n\n== b\nonly\n");
        let lessons = parse(&text);
        assert_eq!(lessons["a"], "line one\nline two");
        let text = format!("{HEADER}\n== counted\n# visits were made\n");
        assert_eq!(parse(&text)["counted"], "# visits were made");
        assert_eq!(lessons["b"], "only");
    }
}
