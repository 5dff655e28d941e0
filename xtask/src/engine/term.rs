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
