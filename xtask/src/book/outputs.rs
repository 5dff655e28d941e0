//! Every program output the book shows comes from running it.
//!
//! An output block is a ```console block with a line that is not a command (`$ …`, or a `> `
//! continuation), or any block under an `<!-- output: … -->` marker. Each must say where its
//! output comes from, in a marker on the line before it:
//!
//! - `<!-- runnable -->` (options: `<!-- runnable: unset VAR … -->`): `verify` runs the block and
//!   compares what it prints with the book's text (`demos`);
//! - `<!-- output: lesson N CHECK -->`: the message of factor N's check CHECK as the shipped
//!   exercise fails it, compared with `kit/checks/NN-slug.lessons`, which `verify` compares with
//!   what the check really prints (numbers and parentheses filtered, as there);
//! - `<!-- output: message FILE … -->`: a message the kit's code prints, compared with the string
//!   literals of FILE (`messages`): a reworded message fails until the book quotes the new one;
//! - `<!-- output: illustrative: WHY -->`: shown as an illustration, never compared (another
//!   platform's output, a race, a server the block leaves running); WHY is required.
//!
//! A block with none of these is typed by hand, and fails the book build. So does a ```text or
//! ```json block with no marker (unless it only includes a file): one that shows no program's output
//! (a file tree, a Procfile's lines) says so, `<!-- not output: what it is -->`.

use super::messages;
use super::preprocessor::Kit;
use crate::gate::lesson_records;

/// The marker of a block `verify` runs.
pub const RUNNABLE: &str = "<!-- runnable";
const OUTPUT: &str = "<!-- output:";
/// The marker of a ```text or ```json block that is no program's output (a file tree, a file's lines).
const NOT_OUTPUT: &str = "<!-- not output:";
/// Fences that hold a program's output unless marked otherwise.
const OUTPUT_FENCES: [&str; 2] = ["text", "json"];

/// Whether a block is only `{{#include …}}` lines (a file's text, not something typed).
fn only_includes(body: &[&str]) -> bool {
    body.iter()
        .all(|line| line.trim().is_empty() || line.trim().starts_with("{{#include "))
}

/// What is wrong with the output blocks of `content` (a chapter's source, before expansion).
pub fn output_block_problems(content: &str, kit: &Kit) -> Vec<String> {
    let lines: Vec<&str> = content.lines().collect();
    let mut problems = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(info) = lines[index].trim_start().strip_prefix("```") else {
            index += 1;
            continue;
        };
        let start = index;
        let body_end = lines[start + 1..]
            .iter()
            .position(|line| line.trim_start().starts_with("```"))
            .map_or(lines.len(), |offset| start + 1 + offset);
        index = body_end + 1;
        let body = &lines[start + 1..body_end.min(lines.len())];
        let marker = start
            .checked_sub(1)
            .map(|before| lines[before].trim())
            .filter(|line| {
                line.starts_with(RUNNABLE)
                    || line.starts_with(OUTPUT)
                    || line.starts_with(NOT_OUTPUT)
            });
        let at = start + 1;
        match marker {
            Some(marker) if marker.starts_with(RUNNABLE) && info.trim() != "console" => {
                problems.push(format!(
                    "line {at}: {RUNNABLE} …--> must be followed by a ```console block"
                ));
            }
            Some(marker) if marker.starts_with(RUNNABLE) => {}
            Some(marker) if marker.starts_with(NOT_OUTPUT) => {
                let what = marker[NOT_OUTPUT.len()..]
                    .trim_end()
                    .trim_end_matches("-->")
                    .trim();
                if what.is_empty() {
                    problems.push(format!(
                        "line {at}: `{NOT_OUTPUT} …-->` must say what the block shows instead"
                    ));
                }
            }
            Some(marker) if message_files(marker).is_some() => {
                let files = message_files(marker).unwrap_or_default();
                for (line, problem) in messages::message_problems(&files, body, kit) {
                    problems.push(format!("line {}: {problem}", at + 1 + line));
                }
            }
            Some(marker) => {
                if let Some(problem) = output_marker_problem(marker, body, kit) {
                    problems.push(format!("line {at}: {problem}"));
                }
            }
            None if info.trim() == "console" && has_output(body) => problems.push(format!(
                "line {at}: a console block shows output nobody ran: mark it `<!-- runnable -->` \
                 (verify runs it and compares), `<!-- output: lesson N CHECK -->` (a check's \
                 recorded message) or `<!-- output: illustrative: why -->`"
            )),
            None if OUTPUT_FENCES.contains(&info.trim()) && !only_includes(body) => {
                problems.push(format!(
                    "line {at}: a ```{} block shows text nobody ran: mark it `<!-- output: … -->` \
                     (a run, a check's lesson, a message of the kit's code, or illustrative: why) \
                     or, if it is no program's output, `<!-- not output: what it is -->`",
                    info.trim()
                ));
            }
            None => {}
        }
    }
    problems
}

/// The files a `<!-- output: message FILE … -->` marker names, if it is one.
fn message_files(marker: &str) -> Option<Vec<&str>> {
    let inner = marker
        .strip_prefix(OUTPUT)?
        .trim_end()
        .strip_suffix("-->")?;
    let files = inner.trim().strip_prefix("message")?;
    (files.is_empty() || files.starts_with(' ')).then(|| files.split_whitespace().collect())
}

/// Whether a console block shows anything besides the commands typed (`$ …`, and the `> ` lines
/// that continue one: after a `\`, or inside `for …; do`).
fn has_output(body: &[&str]) -> bool {
    let mut after_command = false;
    for line in body {
        let trimmed = line.trim_start();
        let command = trimmed.starts_with("$ ") || (after_command && trimmed.starts_with("> "));
        if !command && !trimmed.is_empty() {
            return true;
        }
        after_command = command;
    }
    false
}

fn output_marker_problem(marker: &str, body: &[&str], kit: &Kit) -> Option<String> {
    let inner = marker
        .strip_prefix(OUTPUT)?
        .trim_end()
        .strip_suffix("-->")
        .unwrap_or_default()
        .trim();
    let words: Vec<&str> = inner.split_whitespace().collect();
    match words.as_slice() {
        ["illustrative:", why @ ..] if !why.is_empty() => None,
        ["illustrative:" | "illustrative", ..] => Some(
            "an illustrative output block must say why: `<!-- output: illustrative: why -->`"
                .into(),
        ),
        ["lesson", factor, check] => lesson_problem(factor, check, body, kit).err(),
        _ => Some(format!(
            "`{marker}`: expected `<!-- output: lesson N CHECK -->` or `<!-- output: illustrative: why -->`"
        )),
    }
}

/// The block must be the lesson `verify` recorded for the check (`kit/checks/NN-slug.lessons`).
fn lesson_problem(factor: &str, check: &str, body: &[&str], kit: &Kit) -> Result<(), String> {
    let factor = kit
        .manifest
        .find(factor)
        .map_err(|error| error.to_string())?;
    let record = lesson_records::record_path(&kit.quoted, factor);
    let text = std::fs::read_to_string(&record)
        .map_err(|error| format!("cannot read {}: {error}", record.display()))?;
    let lessons = lesson_records::parse(&text);
    let file = format!("kit/checks/{}.lessons", factor.dir_name());
    let recorded = lessons
        .get(check)
        .ok_or_else(|| format!("{file} records no lesson for the check `{check}`"))?;
    let shown = super::preprocessor::expand(&body.join("\n"), kit).map_err(|e| format!("{e:#}"))?;
    let shown = lesson_records::normalize(&shown);
    if &shown == recorded {
        Ok(())
    } else {
        Err(format!(
            "the block quotes `{check}`'s message, but the check says something else now \
             (after `cargo xtask verify --bless --only {}`, {file} records what it prints).\n  \
             the book, filtered: {}\n  the record:        {}",
            factor.dir_name(),
            shown.replace('\n', " / "),
            recorded.replace('\n', " / ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(page: &str) -> Vec<String> {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let kit = Kit::as_checked_out(&root, &manifest);
        output_block_problems(page, &kit)
    }

    #[test]
    fn output_typed_by_hand_fails_and_each_marker_is_accepted() {
        assert!(problems("```console\n$ cargo xtask hint 6\n```\n").is_empty());
        assert!(problems("```console\n$ for a in b; do\n>   echo $a\n> done\n```\n").is_empty());
        let typed = problems("text\n\n```console\n$ cargo run -p sol03-config\nError: nope\n```\n");
        assert_eq!(typed.len(), 1, "{typed:?}");
        assert!(typed[0].starts_with("line 3: a console block shows output nobody ran"));
        assert!(problems("<!-- runnable -->\n```console\n$ echo a\na\n```\n").is_empty());
        assert!(
            problems(
                "<!-- output: illustrative: macOS prints this -->\n```console\n$ ls\nx\n```\n"
            )
            .is_empty()
        );
        assert!(
            problems("<!-- output: illustrative -->\n```console\n$ ls\nx\n```\n")[0]
                .contains("must say why")
        );
        assert!(problems("<!-- output: guess -->\n```text\nx\n```\n")[0].contains("expected"));
        assert!(problems("```text\nError: typed\n```\n")[0].contains("shows text nobody ran"));
        assert!(problems("```json\n{}\n```\n")[0].contains("shows text nobody ran"));
        assert!(problems("```text\n{{#include ../../Procfile}}\n```\n").is_empty());
        assert!(problems("<!-- not output: a file tree -->\n```text\na/\n```\n").is_empty());
        assert!(problems("<!-- not output: -->\n```text\na/\n```\n")[0].contains("must say"));
    }

    #[test]
    fn a_quoted_check_message_must_be_the_recorded_one() {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let factor = manifest.find("6").unwrap();
        let record = std::fs::read_to_string(lesson_records::record_path(&root, factor)).unwrap();
        let recorded = &lesson_records::parse(&record)["visits_are_shared_between_replicas"];
        let block = |text: &str| {
            format!(
                "<!-- output: lesson 6 visits_are_shared_between_replicas -->\n```text\n{text}\n```\n"
            )
        };
        assert!(
            problems(&block(recorded)).is_empty(),
            "{:?}",
            problems(&block(recorded))
        );
        let reworded = recorded.replacen("do not share", "never share", 1);
        let problems = problems(&block(&reworded));
        assert!(
            problems[0].contains("says something else now"),
            "{problems:?}"
        );
    }
}
