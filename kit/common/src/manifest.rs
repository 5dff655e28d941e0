//! `factors.toml`: the kit's one list of factors, parsed by one struct for xtask (commands, gate,
//! book) and the harness (failure messages), and how learners name a factor on the command line.

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
    /// Checks of earlier factors this factor's solution must still pass (what they taught stays
    /// taught), each run with the earlier factor's check binary against this solution.
    #[serde(default)]
    pub keeps: Vec<Kept>,
}

/// Some checks of an earlier factor, kept by a later solution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kept {
    /// The earlier factor, by number.
    pub factor: u8,
    /// Its checks, by test function name.
    pub checks: Vec<String>,
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

impl Service {
    pub const ALL: [Service; 2] = [Service::Postgres, Service::Redis];

    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "Postgres",
            Service::Redis => "Redis",
        }
    }
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
    /// The names of the factor's checks: the `#[test]` functions of `kit/checks/NN-slug.rs`. Known
    /// even when the exercise does not compile (the check binary is built with it).
    pub fn check_names(&self, root: &Path) -> Vec<String> {
        let path = root
            .join("kit/checks")
            .join(format!("{}.rs", self.dir_name()));
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        lines
            .iter()
            .enumerate()
            .filter(|(_, line)| **line == "#[test]")
            .filter_map(|(index, _)| {
                // Attributes and comments may sit between `#[test]` and the function.
                let line = lines[index + 1..]
                    .iter()
                    .find(|line| line.starts_with("fn ") || line.starts_with("pub fn "))?;
                let name = line.split("fn ").nth(1)?.split('(').next()?.trim();
                Some(name.to_string())
            })
            .collect()
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> Manifest {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Manifest::load(&root).expect("factors.toml loads")
    }

    #[test]
    fn a_factor_can_be_named_five_ways() {
        let manifest = kit();
        for query in ["6", "06", "vi", "VI", "processes", "06-processes"] {
            assert_eq!(manifest.find(query).unwrap().number, 6, "{query}");
        }
    }

    #[test]
    fn unknown_factors_are_refused() {
        let manifest = kit();
        for query in ["13", "0", "xiii", "process", ""] {
            assert!(manifest.find(query).is_err(), "{query}");
        }
    }

    #[test]
    fn the_kit_lists_twelve_factors_in_order() {
        let numerals = [
            "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
        ];
        let manifest = kit();
        assert_eq!(manifest.factors.len(), numerals.len());
        for (factor, roman) in manifest.factors.iter().zip(numerals) {
            assert_eq!(factor.roman, roman);
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
}
