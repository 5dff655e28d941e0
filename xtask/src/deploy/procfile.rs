//! A Procfile, as Heroku, foreman and honcho read it: one `<type>: <command>` per line.
//!
//! The `release` type is special (Heroku's release phase): it runs once, to completion, before
//! any other process starts, and is never scaled.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::Path;

/// The process types of an app and the command each runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procfile {
    /// Every type except `release`, in the file's order.
    pub types: Vec<(String, String)>,
    /// The release phase's command, if the app has one.
    pub release: Option<String>,
}

impl Procfile {
    pub fn read(path: &Path) -> Result<Procfile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the Procfile {}", path.display()))?;
        Procfile::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Procfile> {
        let mut types = Vec::new();
        let mut release = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, command)) = line.split_once(':') else {
                bail!(
                    "line {}: expected `<type>: <command>`, found {line:?}",
                    number + 1
                );
            };
            let (name, command) = (name.trim(), command.trim());
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid || command.is_empty() {
                bail!(
                    "line {}: expected `<type>: <command>`, found {line:?}",
                    number + 1
                );
            }
            if name == "release" {
                release = Some(command.to_string());
            } else if types.iter().any(|(known, _)| known == name) {
                bail!(
                    "line {}: the process type `{name}` is listed twice",
                    number + 1
                );
            } else {
                types.push((name.to_string(), command.to_string()));
            }
        }
        if types.is_empty() {
            bail!("no process types (expected lines such as `web: noticeboard web`)");
        }
        Ok(Procfile { types, release })
    }

    /// The command of a process type.
    pub fn command(&self, kind: &str) -> Option<&str> {
        self.types
            .iter()
            .find(|(name, _)| name == kind)
            .map(|(_, command)| command.as_str())
    }
}

/// How many processes of each type to run, as `web=3,worker=2` (a type not named runs one
/// process, as `heroku local` does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scale(pub BTreeMap<String, usize>);

impl Scale {
    pub fn parse(text: &str) -> Result<Scale> {
        let mut scale = BTreeMap::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let Some((name, count)) = part.split_once('=') else {
                bail!("expected `type=count` in --scale, found {part:?} (e.g. web=3,worker=2)");
            };
            let count: usize = count.trim().parse().map_err(|_| {
                anyhow::anyhow!("expected a number of processes in --scale, found {part:?}")
            })?;
            if count > 16 {
                bail!("--scale {part}: at most 16 processes of one type on one machine");
            }
            scale.insert(name.trim().to_string(), count);
        }
        Ok(Scale(scale))
    }

    /// How many processes of `kind` to run.
    pub fn of(&self, kind: &str) -> usize {
        self.0.get(kind).copied().unwrap_or(1)
    }

    /// Fails when the scale names a type the Procfile does not have.
    pub fn check_against(&self, procfile: &Procfile) -> Result<()> {
        for name in self.0.keys() {
            if procfile.command(name).is_none() {
                let known: Vec<&str> = procfile.types.iter().map(|(n, _)| n.as_str()).collect();
                bail!(
                    "--scale names `{name}`, which the Procfile does not list (it has: {})",
                    known.join(", ")
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_release_and_comments() {
        let procfile = Procfile::parse(
            "# the app\nweb: noticeboard web\nworker:noticeboard worker\n\nrelease: migrate\n",
        )
        .unwrap();
        assert_eq!(procfile.command("web"), Some("noticeboard web"));
        assert_eq!(procfile.command("worker"), Some("noticeboard worker"));
        assert_eq!(procfile.release.as_deref(), Some("migrate"));
        assert_eq!(procfile.types.len(), 2);
    }

    #[test]
    fn rejects_lines_without_a_type() {
        let err = Procfile::parse("web noticeboard\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(Procfile::parse("web: a\nweb: b\n").is_err());
        assert!(Procfile::parse("release: migrate\n").is_err());
    }

    #[test]
    fn scale_defaults_to_one_and_rejects_unknown_types() {
        let procfile = Procfile::parse("web: a\nworker: b\n").unwrap();
        let scale = Scale::parse("web=3, worker=0").unwrap();
        assert_eq!((scale.of("web"), scale.of("worker")), (3, 0));
        assert_eq!(Scale::default().of("web"), 1);
        assert!(
            Scale::parse("clock=1")
                .unwrap()
                .check_against(&procfile)
                .is_err()
        );
        assert!(Scale::parse("web=lots").is_err());
        assert!(Scale::parse("web").is_err());
    }
}
