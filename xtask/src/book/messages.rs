//! A message the book quotes from the kit's code is compared with the code.
//!
//! A block under `<!-- output: message FILE … -->` quotes what the kit prints (a harness panic, an
//! error of `cargo xtask book`). Every line of it must be one of the string literals of the named
//! files, as the code formats it: a `{…}` of the format string stands for any text (the book shows
//! a sample value, or `...`), a `{NAME}` that names a `const NAME: &str` of the file's folder is
//! that constant's text, and a literal with several lines is several messages. A line may start
//! with the context the message is printed after (`error: book/src/….md: `): the message then
//! starts after one of the line's `: `. So a reworded message, or a reworded constant it prints,
//! fails the book step until the book quotes the new text.

use super::preprocessor::Kit;
use super::shipped::QUOTED;

/// A literal's fixed text must be at least this long to stand for a line the book quotes: shorter
/// ones (`"book/src/{}"`) would match almost any line.
const MIN_FIXED: usize = 16;

/// A piece of a format string: text as written, or a `{…}` that stands for any text.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Any,
}

/// What is wrong with the lines of a message block, as `(index of the line in body, problem)`.
pub fn message_problems(files: &[&str], body: &[&str], kit: &Kit) -> Vec<(usize, String)> {
    if files.is_empty() {
        return vec![(
            0,
            "`<!-- output: message FILE -->` must name the file(s) the message comes from".into(),
        )];
    }
    let mut patterns = Vec::new();
    for file in files {
        let path = if QUOTED
            .iter()
            .any(|dir| file.starts_with(&format!("{dir}/")))
        {
            kit.quoted.join(file)
        } else {
            kit.root.join(file)
        };
        let Ok(source) = std::fs::read_to_string(&path) else {
            return vec![(0, format!("`{file}`: no such file"))];
        };
        let constants = path.parent().map(folder_constants).unwrap_or_default();
        patterns.extend(
            string_literals(&source)
                .iter()
                .flat_map(|literal| literal.split('\n').map(str::to_owned).collect::<Vec<_>>())
                .map(|line| parts(&line, &constants))
                .filter(|parts| fixed_len(parts) >= MIN_FIXED),
        );
    }
    let mut problems = Vec::new();
    for (index, line) in body.iter().enumerate() {
        let expanded = match super::preprocessor::expand(line, kit) {
            Ok(expanded) => expanded,
            Err(error) => {
                problems.push((index, format!("{error:#}")));
                continue;
            }
        };
        let shown = expanded.replace("\\{{", "{{");
        let shown = shown.trim();
        if shown.is_empty() || patterns.iter().any(|parts| quotes(shown, parts)) {
            continue;
        }
        problems.push((
            index,
            format!(
                "the book quotes `{shown}`, which no format string of {} prints any more: quote \
                 the message as the code writes it now",
                files.join(", ")
            ),
        ));
    }
    problems
}

/// Whether `line` is the message `parts` formats: all of it, or what follows one of its `: `.
fn quotes(line: &str, parts: &[Part]) -> bool {
    std::iter::once(0)
        .chain(line.match_indices(": ").map(|(at, _)| at + 2))
        .any(|start| matches(&line[start..], parts))
}

/// Whether `text` is what `parts` formats, a `{…}` standing for any text.
fn matches(text: &str, parts: &[Part]) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Text(fixed), rest)) => text
            .strip_prefix(fixed.as_str())
            .is_some_and(|after| matches(after, rest)),
        Some((Part::Any, rest)) => text
            .char_indices()
            .map(|(at, _)| at)
            .chain(std::iter::once(text.len()))
            .any(|at| matches(&text[at..], rest)),
    }
}

fn fixed_len(parts: &[Part]) -> usize {
    parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => text.trim().chars().count(),
            Part::Any => 0,
        })
        .sum()
}

/// A format string's pieces: `{{`/`}}` are braces, `{NAME}` a known constant's text, any other
/// `{…}` any text. Leading and trailing blanks are dropped (the book's line is trimmed too).
fn parts(format: &str, constants: &[(String, String)]) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = format.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let inside: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let name = inside.split(':').next().unwrap_or_default();
                match constants.iter().find(|(constant, _)| constant == name) {
                    Some((_, value)) => text.push_str(value),
                    None => {
                        if !text.is_empty() {
                            parts.push(Part::Text(std::mem::take(&mut text)));
                        }
                        if parts.last() != Some(&Part::Any) {
                            parts.push(Part::Any);
                        }
                    }
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

/// The `const NAME: &str = "…";` of the Rust files in `folder`: a message may print one.
fn folder_constants(folder: &std::path::Path) -> Vec<(String, String)> {
    let mut constants = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        for line in source.lines() {
            let line = line.trim_start().trim_start_matches("pub ");
            let Some(rest) = line.strip_prefix("const ") else {
                continue;
            };
            let Some((name, value)) = rest.split_once(": &str = ") else {
                continue;
            };
            if let Some(literal) = string_literals(value).into_iter().next() {
                constants.push((name.trim().to_owned(), literal));
            }
        }
    }
    constants
}

/// The string literals of Rust source, unescaped (`\n` a newline, `\` at a line's end joins the
/// next line without its indentation), outside comments and character literals.
fn string_literals(source: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '/' if chars.get(at + 1) == Some(&'/') => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
            }
            '\'' => {
                // A character literal ('"', '\'', '\n') or a lifetime ('a).
                if chars.get(at + 1) == Some(&'\\') {
                    at += 2;
                    while at < chars.len() && chars[at] != '\'' {
                        at += 1;
                    }
                    at += 1;
                } else if chars.get(at + 2) == Some(&'\'') {
                    at += 3;
                } else {
                    at += 1;
                }
            }
            'r' if matches!(chars.get(at + 1), Some('"' | '#'))
                && (at == 0 || !chars[at - 1].is_alphanumeric() && chars[at - 1] != '_') =>
            {
                let hashes = chars[at + 1..].iter().take_while(|&&c| c == '#').count();
                let open = at + 1 + hashes;
                if chars.get(open) != Some(&'"') {
                    at += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest: String = chars[open + 1..].iter().collect();
                let end = rest.find(&close).unwrap_or(rest.len());
                literals.push(rest[..end].to_owned());
                at = open + 1 + rest[..end].chars().count() + close.chars().count();
            }
            '"' => {
                let mut literal = String::new();
                at += 1;
                while at < chars.len() && chars[at] != '"' {
                    if chars[at] == '\\' {
                        at += 1;
                        match chars.get(at) {
                            Some('n') => literal.push('\n'),
                            Some('t') => literal.push('\t'),
                            Some('0') => literal.push('\0'),
                            Some('\n') => {
                                while chars.get(at + 1).is_some_and(|c| c.is_whitespace()) {
                                    at += 1;
                                }
                            }
                            Some('u') => {
                                let code: String = chars[at..]
                                    .iter()
                                    .skip(2)
                                    .take_while(|&&c| c != '}')
                                    .collect();
                                at += code.chars().count() + 2;
                                if let Some(c) =
                                    u32::from_str_radix(&code, 16).ok().and_then(char::from_u32)
                                {
                                    literal.push(c);
                                }
                            }
                            Some(&c) => literal.push(c),
                            None => {}
                        }
                    } else {
                        literal.push(chars[at]);
                    }
                    at += 1;
                }
                literals.push(literal);
                at += 1;
            }
            _ => at += 1,
        }
    }
    literals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_unescaped_and_comments_skipped() {
        let source = "// \"not this\"\nlet c = '\"';\npanic!(\"a {x} \\\n    b\\n{{c}} \\\"q\\\"\");\nr#\"raw \"x\"\"#";
        assert_eq!(
            string_literals(source),
            ["a {x} b\n{{c}} \"q\"", "raw \"x\""]
        );
    }

    #[test]
    fn a_line_is_the_message_with_any_text_for_its_placeholders() {
        let constants = [("HINT".to_owned(), "run `up`".to_owned())];
        let parts = parts(
            "Redis is not reachable at {url} ({err}): {HINT}",
            &constants,
        );
        assert!(quotes(
            "Redis is not reachable at redis://x (...): run `up`",
            &parts
        ));
        assert!(quotes(
            "error: x.md: Redis is not reachable at r (e): run `up`",
            &parts
        ));
        assert!(!quotes(
            "Redis cannot be reached at r (e): run `up`",
            &parts
        ));
        assert!(!quotes(
            "Redis is not reachable at r (e): run `down`",
            &parts
        ));
        assert!(fixed_len(&self::parts("book/src/{}", &[])) < MIN_FIXED);
    }

    #[test]
    fn a_reworded_harness_message_fails_the_block_that_quotes_it() {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let kit = Kit::as_checked_out(&root, &manifest);
        let files = ["kit/harness/src/redis.rs"];
        let quoted =
            "Redis is not reachable at redis://127.0.0.1:6379 (...): run `cargo xtask services up`";
        assert!(message_problems(&files, &[quoted], &kit).is_empty());
        let reworded = quoted.replace("is not reachable", "cannot be reached");
        let problems = message_problems(&files, &["", &reworded], &kit);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, 1);
        assert!(
            problems[0]
                .1
                .contains("no format string of kit/harness/src/redis.rs")
        );
    }
}
