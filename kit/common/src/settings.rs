//! Where the backing services are, for everyone: docker compose, `cargo xtask services up`, the
//! checks (through the harness) and CI.
//!
//! For each variable, the first non-empty value of: the real environment, the kit's `.env` (the
//! learner's own, git-ignored), the kit's `.env.example` (the workshop defaults), and, should that
//! file be gone, the same defaults compiled in. An empty value counts as unset wherever it is, so
//! `DATABASE_URL=` in a shell does not hide the `.env` beneath it.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;

// ANCHOR: defaults
const DEFAULT_DATABASE_URL: &str = "postgres://workshop:workshop@127.0.0.1:5432/noticeboard";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
// ANCHOR_END: defaults

/// The settings of a kit checkout, resolved by the one rule above.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The environment the settings were read from (the process's, or a test's).
    environment: HashMap<String, String>,
    /// `.env`, then `.env.example`: the files under the environment, in the order they count.
    files: [HashMap<String, String>; 2],
}

impl Settings {
    /// The settings of the kit at `root`, under this process's environment.
    pub fn load(root: &Path) -> Result<Settings> {
        Self::load_with(root, std::env::vars().collect())
    }

    /// The settings of the kit at `root` under `environment` (tests give their own).
    pub fn load_with(root: &Path, environment: HashMap<String, String>) -> Result<Settings> {
        Ok(Settings {
            environment,
            files: [read(&root.join(".env"))?, read(&root.join(".env.example"))?],
        })
    }

    /// The value of `key`: the first non-empty one of the environment, `.env`, `.env.example`.
    pub fn get(&self, key: &str) -> Option<&str> {
        std::iter::once(&self.environment)
            .chain(&self.files)
            .filter_map(|values| values.get(key))
            .map(String::as_str)
            .find(|value| !value.is_empty())
    }

    /// `DATABASE_URL`: the Postgres server the checks create their databases through.
    pub fn database_url(&self) -> &str {
        self.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL)
    }

    /// `REDIS_URL`: the Redis server the checks lease their database indexes from.
    pub fn redis_url(&self) -> &str {
        self.get("REDIS_URL").unwrap_or(DEFAULT_REDIS_URL)
    }
}

/// The variables a dotenv file sets; none if it does not exist.
fn read(path: &Path) -> Result<HashMap<String, String>> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let entries =
        dotenvy::from_path_iter(path).with_context(|| format!("cannot read {}", path.display()))?;
    entries
        .map(|entry| entry.with_context(|| format!("{} has a malformed line", path.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit(env_file: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env.example"),
            "DATABASE_URL=postgres://example@127.0.0.1:5432/example\nREDIS_URL=redis://127.0.0.1:6379\n",
        )
        .unwrap();
        if let Some(text) = env_file {
            std::fs::write(dir.path().join(".env"), text).unwrap();
        }
        dir
    }

    fn environment(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_then_env_then_env_example() {
        let dir = kit(Some("DATABASE_URL=postgres://mine@127.0.0.1:5433/mine\n"));
        let from_file = Settings::load_with(dir.path(), environment(&[])).unwrap();
        assert_eq!(
            from_file.database_url(),
            "postgres://mine@127.0.0.1:5433/mine"
        );
        assert_eq!(from_file.redis_url(), "redis://127.0.0.1:6379");
        let shell = environment(&[("DATABASE_URL", "postgres://shell@db:5432/shell")]);
        let from_shell = Settings::load_with(dir.path(), shell).unwrap();
        assert_eq!(from_shell.database_url(), "postgres://shell@db:5432/shell");
    }

    #[test]
    fn an_empty_variable_counts_as_unset_in_every_source() {
        let dir = kit(Some(
            "DATABASE_URL=postgres://mine@127.0.0.1:5433/mine\nREDIS_URL=\n",
        ));
        let settings = Settings::load_with(
            dir.path(),
            environment(&[("DATABASE_URL", ""), ("REDIS_URL", "")]),
        )
        .unwrap();
        assert_eq!(
            settings.database_url(),
            "postgres://mine@127.0.0.1:5433/mine"
        );
        assert_eq!(settings.redis_url(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn without_any_file_the_workshop_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_with(dir.path(), environment(&[])).unwrap();
        assert_eq!(settings.database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(settings.redis_url(), DEFAULT_REDIS_URL);
    }

    #[test]
    fn the_compiled_defaults_are_the_shipped_env_example() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let shipped = read(&root.join(".env.example")).unwrap();
        assert_eq!(shipped["DATABASE_URL"], DEFAULT_DATABASE_URL);
        assert_eq!(shipped["REDIS_URL"], DEFAULT_REDIS_URL);
    }

    #[test]
    fn a_malformed_env_file_is_named() {
        let dir = kit(Some("DATABASE_URL='unterminated\n"));
        let err = Settings::load_with(dir.path(), environment(&[])).unwrap_err();
        assert!(
            format!("{err:#}").contains(".env has a malformed line"),
            "{err:#}"
        );
    }
}
