//! Terminal output: marks and colour, only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;
use std::sync::OnceLock;

fn colour() -> bool {
    static COLOUR: OnceLock<bool> = OnceLock::new();
    *COLOUR.get_or_init(|| interactive() && std::env::var_os("NO_COLOR").is_none())
}

/// Whether stdout is a terminal (progress lines are only drawn there).
pub fn interactive() -> bool {
    std::io::stdout().is_terminal()
}

/// Returns to the start of the line and clears it, on a terminal; nothing otherwise.
pub fn line_start() -> &'static str {
    if interactive() { "\r\x1b[2K" } else { "" }
}

fn paint(code: &str, text: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn pass() -> String {
    paint("32", "✓")
}

pub fn fail() -> String {
    paint("31", "✗")
}

pub fn bold(text: &str) -> String {
    paint("1", text)
}

pub fn dim(text: &str) -> String {
    paint("2", text)
}

/// Prose lines wrap at this width, indentation included.
const WRAP_WIDTH: usize = 100;

/// Indents every line of `text` by `spaces` plus its own indentation, wrapping long lines to
/// [`WRAP_WIDTH`] with continuation lines under the line's first word.
pub fn wrap(text: &str, spaces: usize) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let pad = " ".repeat(spaces + line.len() - body.len());
            let options = textwrap::Options::new(WRAP_WIDTH)
                .initial_indent(&pad)
                .subsequent_indent(&pad)
                .break_words(false);
            textwrap::fill(body, options) + "\n"
        })
        .collect()
}

/// Indents every line of `text` by `spaces`.
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_explanations_wrap_under_their_own_indentation() {
        let observed = "word ".repeat(30);
        let text = format!("{observed}\n  Book: 06-processes.html#the-fix");
        let wrapped = super::wrap(&text, 4);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() >= 3, "{wrapped}");
        assert!(
            lines.iter().all(|line| line.len() <= super::WRAP_WIDTH),
            "{wrapped}"
        );
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|line| line.starts_with("    word"))
        );
        assert_eq!(
            *lines.last().unwrap(),
            "      Book: 06-processes.html#the-fix"
        );
    }
}
