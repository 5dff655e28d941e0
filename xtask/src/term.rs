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

/// Indents every line of `text` by `spaces`.
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}
