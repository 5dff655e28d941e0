//! Failure messages that teach.
//!
//! A failing check says three things: what was observed, the rule it breaks, and where to read.
//! The rule and the chapter come from `factors.toml`, the kit's one manifest (parsed by
//! `kit_common::manifest`, as xtask parses it), so no test repeats them.

use std::fmt::Display;
use std::sync::OnceLock;

const MANIFEST: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../factors.toml"));

/// One factor, as a failing test presents it: the manifest's entry (`kit_common::manifest`, the
/// same struct xtask reads), so `lesson(5).build_env` or `.rule` are the manifest's own fields.
#[derive(Debug, Clone)]
pub struct Lesson {
    factor: kit_common::manifest::Factor,
}

impl std::ops::Deref for Lesson {
    type Target = kit_common::manifest::Factor;

    fn deref(&self) -> &Self::Target {
        &self.factor
    }
}

/// The lesson for factor `number` (1–12), read from `factors.toml`.
pub fn lesson(number: u8) -> &'static Lesson {
    static LESSONS: OnceLock<Vec<Lesson>> = OnceLock::new();
    let lessons = LESSONS.get_or_init(|| {
        kit_common::manifest::Manifest::parse(MANIFEST)
            .expect("factors.toml does not parse; run `cargo xtask verify`")
            .factors
            .into_iter()
            .map(|factor| Lesson { factor })
            .collect()
    });
    lessons
        .iter()
        .find(|lesson| lesson.number == number)
        .unwrap_or_else(|| panic!("factors.toml has no factor {number}"))
}

impl Lesson {
    /// The book page of this factor with a section anchor, e.g. `06-processes.html#the-fix`.
    pub fn link(&self, section: &str) -> String {
        let page = self.chapter.trim_end_matches(".md");
        format!("{page}.html#{section}")
    }

    /// A teaching message: the observation, then the rule, then where to read.
    pub fn explain(&self, section: &str, observed: impl Display) -> String {
        format!(
            "{observed}\n  Rule (Factor {roman}, {title}): {rule}.\n  Book: {link}",
            roman = self.roman,
            title = self.title,
            rule = self.rule,
            link = self.link(section),
        )
    }

    /// Fails the test with [`Lesson::explain`] unless `holds`.
    ///
    /// The observation is built lazily so passing checks pay nothing for it.
    #[track_caller]
    pub fn ensure<S: Display>(&self, holds: bool, section: &str, observed: impl FnOnce() -> S) {
        if !holds {
            panic!("{}", self.explain(section, observed()));
        }
    }

    /// Fails the test with [`Lesson::explain`].
    #[track_caller]
    pub fn fail(&self, section: &str, observed: impl Display) -> ! {
        panic!("{}", self.explain(section, observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_factor_is_in_the_manifest_in_order() {
        let numerals = [
            "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
        ];
        for (number, roman) in (1..=12).zip(numerals) {
            assert_eq!(lesson(number).roman, roman);
        }
    }

    #[test]
    fn explanation_names_rule_observation_and_chapter() {
        let text = lesson(6).explain("the-fix", "replica B saw 1 visit");
        assert!(text.starts_with("replica B saw 1 visit\n"));
        assert!(text.contains("Factor VI, Processes"));
        assert!(text.ends_with("Book: 06-processes.html#the-fix"));
    }
}
