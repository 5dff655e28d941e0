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

/// Stands for a space inside a quoted span while a line is wrapped (a private-use character).
const HELD_SPACE: char = '\u{E000}';

/// Indents every line of `text` by `spaces` plus its own indentation, wrapping long lines to
/// [`WRAP_WIDTH`] with continuation lines under the line's first word.
///
/// Lines break only between words: never inside a word (a hyphenated timestamp such as
/// `2026-12-05T10:00:00Z` stays whole) and never inside a `backtick-quoted` span, which is how
/// checks quote an app's output and commands; a quoted span longer than the width overflows.
pub fn wrap(text: &str, spaces: usize) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let pad = " ".repeat(spaces + line.len() - body.len());
            let options = textwrap::Options::new(WRAP_WIDTH)
                .initial_indent(&pad)
                .subsequent_indent(&pad)
                .break_words(false)
                .word_splitter(textwrap::WordSplitter::NoHyphenation);
            textwrap::fill(&hold_quoted_spaces(body), options).replace(HELD_SPACE, " ") + "\n"
        })
        .collect()
}

/// `line` with the spaces inside each complete pair of backticks replaced by [`HELD_SPACE`].
fn hold_quoted_spaces(line: &str) -> String {
    let spans: Vec<&str> = line.split('`').collect();
    // An odd count of backticks leaves the last one unpaired: its text is not quoted.
    let paired = if spans.len().is_multiple_of(2) {
        spans.len() - 1
    } else {
        spans.len()
    };
    spans
        .iter()
        .enumerate()
        .map(|(index, span)| {
            if index % 2 == 1 && index < paired {
                span.replace(' ', &HELD_SPACE.to_string())
            } else {
                (*span).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
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

    #[test]
    fn quoted_app_output_and_timestamps_are_never_cut() {
        let quoted = r#"`{"timestamp":"2026-12-05T10:00:00.123456Z","level":"INFO","fields":{"message":"request done"}}`"#;
        let text = format!(
            "the error request was logged without its status, as in {quoted}, and more words follow it here"
        );
        for indent in 0..60 {
            let wrapped = super::wrap(&format!("{}{text}", "x ".repeat(indent)), 4);
            assert!(wrapped.contains(quoted), "{wrapped}");
        }
        // A bare timestamp is one word: hyphens are not places to break.
        let stamp = "2026-12-05T10:00:00Z";
        for indent in 0..100 {
            let wrapped = super::wrap(&format!("{} {stamp} done", "y ".repeat(indent)), 0);
            assert!(wrapped.contains(stamp), "{wrapped}");
        }
    }

    #[test]
    fn an_unpaired_backtick_quotes_nothing() {
        let text = format!("one ` two {}", "word ".repeat(30));
        let wrapped = super::wrap(&text, 0);
        assert!(wrapped.lines().count() > 1, "{wrapped}");
    }
}

/// A writer that stops writing, quietly, once its reader has gone (`cargo xtask check 4 | head`).
///
/// Every later write succeeds without effect, so a command runs to its verdict and exits with the
/// verdict's code instead of failing with "Broken pipe".
pub struct QuietPipe<W> {
    inner: W,
    closed: bool,
}

impl<W: std::io::Write> QuietPipe<W> {
    pub fn new(inner: W) -> Self {
        QuietPipe {
            inner,
            closed: false,
        }
    }

    fn absorb<T>(&mut self, result: std::io::Result<T>, done: T) -> std::io::Result<T> {
        match result {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl<W: std::io::Write> std::io::Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.absorb(result, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.absorb(result, ())
    }
}

#[cfg(test)]
mod pipe_tests {
    use super::QuietPipe;
    use std::io::{self, Write};

    struct ClosedAfter(usize);

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.0 -= 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_reader_ends_the_output_without_an_error() {
        let mut out = QuietPipe::new(ClosedAfter(1));
        writeln!(out, "first").unwrap();
        writeln!(out, "second").unwrap();
        writeln!(out, "third").unwrap();
        out.flush().unwrap();
    }

    #[test]
    fn other_errors_still_surface() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::StorageFull.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(writeln!(QuietPipe::new(Full), "x").is_err());
    }
}
