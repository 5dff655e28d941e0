//! The book's own directives, besides `{{#exercise N}}` and `{{#hints N}}`:
//!
//! - `{{#check-const N NAME}}`, anywhere in a line: the value of `const NAME` in factor N's check file
//!   (`kit/checks/NN-slug.rs`), so the numbers and names the book quotes from the checks cannot drift
//!   from them. A missing constant fails the book build.

use crate::manifest::Manifest;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// Replaces every inline `{{#check-const N NAME}}` in `line`.
pub fn expand_inline(line: &str, root: &Path, manifest: &Manifest) -> Result<String> {
    const OPEN: &str = "{{#check-const ";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{#check-const …}}}} in: {}", line.trim()))?;
        let args: Vec<&str> = after[..end].split_whitespace().collect();
        let [factor, name] = args[..] else {
            bail!(
                "{{{{#check-const {}}}}}: expected a factor and a constant's name",
                &after[..end]
            );
        };
        out.push_str(&check_const(root, manifest, factor, name)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `const name` in the factor's check file, as the book should print it.
pub fn check_const(root: &Path, manifest: &Manifest, factor: &str, name: &str) -> Result<String> {
    let factor = manifest.find(factor)?;
    let file = format!("kit/checks/{}.rs", factor.dir_name());
    let source = std::fs::read_to_string(root.join(&file))
        .with_context(|| format!("{{{{#check-const}}}}: cannot read {file}"))?;
    let value = const_value(&source, name)
        .with_context(|| format!("{{{{#check-const}}}}: {file} has no `const {name}`"))?;
    render(value).with_context(|| {
        format!("{{{{#check-const}}}}: cannot print `const {name} = {value}` from {file}")
    })
}

/// The expression of `const name: T = <expression>;` (one line, `pub` or not).
fn const_value<'s>(source: &'s str, name: &str) -> Option<&'s str> {
    source.lines().find_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let rest = line.strip_prefix("const ")?.strip_prefix(name)?;
        let rest = rest.trim_start().strip_prefix(':')?;
        let (_, value) = rest.split_once('=')?;
        Some(value.trim().strip_suffix(';')?.trim())
    })
}

/// An integer (`1_000u64` → `1000`), a string literal (its text), or a `Duration` built from a
/// whole number (`Duration::from_secs(2)` → `2`: the unit belongs in the sentence around it).
fn render(value: &str) -> Option<String> {
    if let Some(text) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return (!text.contains('\\')).then(|| text.to_string());
    }
    let value = [
        "Duration::from_secs(",
        "Duration::from_millis(",
        "from_secs(",
        "from_millis(",
    ]
    .iter()
    .find_map(|prefix| value.strip_prefix(prefix)?.strip_suffix(')'))
    .unwrap_or(value);
    let digits: String = value.chars().filter(|c| *c != '_').collect();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let (number, suffix) = digits.split_at(end);
    let integer_suffix = [
        "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    (!number.is_empty() && integer_suffix.contains(&suffix)).then(|| number.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_render_as_the_book_prints_them() {
        let source = "const A: u64 = 120;\npub const B: Duration = Duration::from_secs(2);\n    const C: &str = \"DATABASE_URL\";\nconst D: usize = 1_000usize;\nconst E: f64 = 0.5;\n";
        assert_eq!(
            render(const_value(source, "A").unwrap()).as_deref(),
            Some("120")
        );
        assert_eq!(
            render(const_value(source, "B").unwrap()).as_deref(),
            Some("2")
        );
        assert_eq!(
            render(const_value(source, "C").unwrap()).as_deref(),
            Some("DATABASE_URL")
        );
        assert_eq!(
            render(const_value(source, "D").unwrap()).as_deref(),
            Some("1000")
        );
        assert_eq!(render(const_value(source, "E").unwrap()), None);
        assert_eq!(const_value(source, "AB"), None);
    }

    #[test]
    fn the_book_quotes_the_checks_and_a_missing_constant_fails() {
        let root = crate::project_root();
        let manifest = crate::manifest::kit();
        let line = "sends {{#check-const 6 TOTAL_VISITS}} visits from {{#check-const vi CLIENTS}} clients\n";
        assert_eq!(
            expand_inline(line, &root, &manifest).unwrap(),
            "sends 120 visits from 16 clients\n"
        );
        assert!(expand_inline("{{#check-const 6 NO_SUCH}}", &root, &manifest).is_err());
        assert!(expand_inline("{{#check-const 6 TOTAL_VISITS", &root, &manifest).is_err());
    }
}
