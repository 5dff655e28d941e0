//! The app's Procfile (read by `kit_common::procfile`, as the checks read it) and how many
//! processes of each type the deploy runs.

pub use kit_common::procfile::Procfile;

use anyhow::{Result, bail};
use std::collections::BTreeMap;

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
