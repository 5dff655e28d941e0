//! `factors.toml`: the kit's one list of factors, and how learners name them on the command line.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    #[serde(rename = "factor")]
    pub factors: Vec<Factor>,
    /// Workshop sessions that are not a factor (the closing deploy demo), for the agendas.
    #[serde(rename = "session", default)]
    pub sessions: Vec<Session>,
}

/// A session of the workshop that is not a factor's: how the agendas name it, its minutes and
/// its chapter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The word an `{{#agenda …}}` uses for it, e.g. `deploy-demo`.
    pub name: String,
    pub title: String,
    pub minutes: u32,
    pub chapter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub number: u8,
    pub roman: String,
    pub slug: String,
    pub title: String,
    /// Minutes the factor's session takes in a workshop (the instructor guide's agendas).
    pub minutes: u32,
    /// The printable one-page summary's text (the book's cheat sheets).
    pub cheatsheet: Cheatsheet,
    pub rule: String,
    pub exercise: PathBuf,
    pub solution: PathBuf,
    pub chapter: String,
    pub available: bool,
    pub services: Vec<Service>,
    pub intended_failures: Vec<String>,
    pub hints: Vec<String>,
    /// Environment variables set for the cargo invocations that build this factor's crates, and
    /// for those alone (Factor V's canary: a value the build sees and the binary must not keep).
    #[serde(default)]
    pub build_env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cheatsheet {
    pub anti_pattern: String,
    pub fix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Postgres,
    Redis,
}

impl Manifest {
    pub fn load(root: &Path) -> Result<Manifest> {
        let path = root.join("factors.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        for (index, factor) in manifest.factors.iter().enumerate() {
            if usize::from(factor.number) != index + 1 {
                bail!(
                    "factor {} is listed in position {}",
                    factor.number,
                    index + 1
                );
            }
        }
        Ok(manifest)
    }

    /// Resolves what a learner typed: `6`, `06`, `vi`, `VI`, `processes` or `06-processes`.
    pub fn find(&self, query: &str) -> Result<&Factor, UnknownFactor> {
        let wanted = query.trim().to_ascii_lowercase();
        self.factors
            .iter()
            .find(|factor| {
                wanted.parse::<u8>().ok() == Some(factor.number)
                    || wanted == factor.roman.to_ascii_lowercase()
                    || wanted == factor.slug
                    || wanted == factor.dir_name()
            })
            .ok_or_else(|| UnknownFactor(query.to_string()))
    }

    /// The session an agenda names (`deploy-demo`), if it is not a factor.
    pub fn session(&self, name: &str) -> Option<&Session> {
        self.sessions.iter().find(|session| session.name == name)
    }

    pub fn available(&self) -> impl Iterator<Item = &Factor> {
        self.factors.iter().filter(|factor| factor.available)
    }
}

/// A factor argument that names none of the twelve: a usage error.
#[derive(Debug)]
pub struct UnknownFactor(pub String);

impl std::fmt::Display for UnknownFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no factor {:?}: use a number from 1 to 12, a roman numeral (vi) or a name (processes)",
            self.0
        )
    }
}

impl std::error::Error for UnknownFactor {}

impl Factor {
    /// `06-processes`: the folder name under `exercises/` and `solutions/`.
    pub fn dir_name(&self) -> String {
        format!("{:02}-{}", self.number, self.slug)
    }

    /// `Factor VI — Processes`.
    pub fn heading(&self) -> String {
        format!("Factor {} — {}", self.roman, self.title)
    }

    /// The built page, e.g. `06-processes.html`.
    pub fn page(&self) -> String {
        format!("{}.html", self.chapter.trim_end_matches(".md"))
    }

    /// The package name of the crate in `dir` (exercise or solution), read from its Cargo.toml.
    pub fn package(root: &Path, dir: &Path) -> Result<String> {
        #[derive(Deserialize)]
        struct CargoToml {
            package: Package,
        }
        #[derive(Deserialize)]
        struct Package {
            name: String,
        }
        let path = root.join(dir).join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cargo: CargoToml =
            toml::from_str(&text).with_context(|| format!("{} does not parse", path.display()))?;
        Ok(cargo.package.name)
    }
}

/// The kit's own manifest, for xtask's unit tests.
#[cfg(test)]
pub fn kit() -> Manifest {
    Manifest::load(&crate::project_root().unwrap()).expect("factors.toml loads")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        kit()
    }

    #[test]
    fn a_factor_can_be_named_five_ways() {
        let manifest = manifest();
        for query in ["6", "06", "vi", "VI", "processes", "06-processes"] {
            assert_eq!(manifest.find(query).unwrap().number, 6, "{query}");
        }
    }

    #[test]
    fn unknown_factors_are_refused() {
        let manifest = manifest();
        for query in ["13", "0", "xiii", "process", ""] {
            assert!(manifest.find(query).is_err(), "{query}");
        }
    }

    #[test]
    fn build_env_is_optional() {
        let factor = |extra: &str| {
            format!(
                "[[factor]]\nnumber = 1\nroman = \"I\"\nslug = \"codebase\"\ntitle = \"Codebase\"\n\
                 minutes = 15\ncheatsheet.anti_pattern = \"a\"\ncheatsheet.fix = \"f\"\n\
                 rule = \"r\"\nexercise = \"e\"\nsolution = \"s\"\nchapter = \"c.md\"\n\
                 available = false\nservices = []\nintended_failures = []\nhints = []\n{extra}"
            )
        };
        let without = Manifest::parse(&factor("")).unwrap();
        assert!(without.factors[0].build_env.is_empty());
        let with = Manifest::parse(&factor("build_env = { BANNER = \"canary\" }")).unwrap();
        assert_eq!(with.factors[0].build_env["BANNER"], "canary");
    }

    #[test]
    fn every_available_factor_is_complete() {
        let root = crate::project_root().unwrap();
        for factor in manifest().available() {
            assert!(
                factor.hints.len() >= crate::gate::conventions::MIN_HINTS,
                "{} needs at least {} hints",
                factor.heading(),
                crate::gate::conventions::MIN_HINTS
            );
            assert!(
                !factor.intended_failures.is_empty(),
                "{} has no intended failure",
                factor.heading()
            );
            for dir in [&factor.exercise, &factor.solution] {
                assert!(Factor::package(&root, dir).is_ok(), "{}", dir.display());
            }
        }
    }
}
