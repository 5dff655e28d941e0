//! `{{#check-const N NAME}}`: a constant of a check file as the book and the class board print it,
//! rendered in one place (the book's preprocessor in xtask and the board's notes in kit-room both
//! quote the checks' constants, and must print the same number).

/// The expression of `const name: T = <expression>;` (one line, `pub` or not).
pub fn const_value<'s>(source: &'s str, name: &str) -> Option<&'s str> {
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
pub fn render(value: &str) -> Option<String> {
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

/// `const name` of a check file's `source`, rendered; `None` if it has none, or one that cannot
/// be printed.
pub fn value(source: &str, name: &str) -> Option<String> {
    render(const_value(source, name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_render_as_the_book_prints_them() {
        let source = "const A: u64 = 120;\npub const B: Duration = Duration::from_secs(2);\n    const C: &str = \"DATABASE_URL\";\nconst D: usize = 1_000usize;\nconst E: f64 = 0.5;\n";
        assert_eq!(value(source, "A").as_deref(), Some("120"));
        assert_eq!(value(source, "B").as_deref(), Some("2"));
        assert_eq!(value(source, "C").as_deref(), Some("DATABASE_URL"));
        assert_eq!(value(source, "D").as_deref(), Some("1000"));
        assert_eq!(value(source, "E"), None);
        assert_eq!(const_value(source, "AB"), None);
    }
}
