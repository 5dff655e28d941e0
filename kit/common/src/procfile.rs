//! A Procfile, as Heroku, foreman and honcho read it: one `<type>: <command>` per line.
//!
//! One reader for the two that run an app's processes: the checks (the harness starts every type a
//! Procfile declares, so a check sees the work done by whichever process does it) and `cargo xtask
//! deploy` (which scales them behind a load balancer). The `release` type is special (Heroku's
//! release phase): it runs once, to completion, before any other process starts, and is never
//! scaled.

use anyhow::{Context, Result, bail};
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

    /// The Procfile in `text`: a line a platform could not run either is an error naming it.
    pub fn parse(text: &str) -> Result<Procfile> {
        let mut types = Vec::new();
        let mut release = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let expected = || {
                format!(
                    "line {}: expected `<type>: <command>`, found {line:?}",
                    number + 1
                )
            };
            let Some((name, command)) = line.split_once(':') else {
                bail!(expected());
            };
            let (name, command) = (name.trim(), command.trim());
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid || command.is_empty() {
                bail!(expected());
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
    fn a_line_a_platform_could_not_run_is_an_error_naming_it() {
        let err = Procfile::parse("web: noticeboard\nworker:\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = Procfile::parse("web noticeboard\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(Procfile::parse("web: a\nweb: b\n").is_err());
        assert!(Procfile::parse("we b: a\n").is_err());
        assert!(Procfile::parse("release: migrate\n").is_err());
    }
}
