//! Where the backing services live, as `kit-common` resolves it for xtask and the harness alike
//! (the environment, then `.env`, then `.env.example`; an empty value counts as unset): xtask
//! starts exactly the services the checks will look for.

use anyhow::{Context, Result};
use std::path::Path;
use url::Url;

#[derive(Debug, Clone)]
pub struct Settings {
    resolved: kit_common::settings::Settings,
}

impl Settings {
    pub fn load(root: &Path) -> Result<Settings> {
        Ok(Settings {
            resolved: kit_common::settings::Settings::load(root)?,
        })
    }

    /// Under a given environment instead of this process's (tests).
    #[cfg(test)]
    fn load_with(
        root: &Path,
        environment: std::collections::HashMap<String, String>,
    ) -> Result<Settings> {
        Ok(Settings {
            resolved: kit_common::settings::Settings::load_with(root, environment)?,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.resolved.get(key)
    }

    fn url(key: &str, text: &str) -> Result<Url> {
        Url::parse(text).with_context(|| format!("{key}={text:?} is not a URL (see .env.example)"))
    }

    /// `DATABASE_URL`: the database the tests create theirs through.
    pub fn database_url(&self) -> Result<Url> {
        Self::url("DATABASE_URL", self.resolved.database_url())
    }

    /// `REDIS_URL`: the Redis server the tests lease databases from.
    pub fn redis_url(&self) -> Result<Url> {
        Self::url("REDIS_URL", self.resolved.redis_url())
    }
}

/// The URL with its password replaced by `*****`, for printing.
pub fn masked(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("*****"));
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case that once split them: `DATABASE_URL=` exported empty, and a learner's own `.env`
    /// pointing elsewhere. xtask (which starts the services) and the harness (which the checks
    /// use) must land on the same servers.
    #[test]
    fn xtask_and_the_harness_resolve_the_same_urls_with_an_empty_variable_and_a_custom_env() {
        let kit = tempfile::tempdir().unwrap();
        std::fs::write(
            kit.path().join(".env.example"),
            "DATABASE_URL=postgres://workshop:workshop@127.0.0.1:5432/noticeboard\n\
             REDIS_URL=redis://127.0.0.1:6379\n",
        )
        .unwrap();
        std::fs::write(
            kit.path().join(".env"),
            "DATABASE_URL=postgres://me:secret@127.0.0.1:5433/mine\nREDIS_URL=\n",
        )
        .unwrap();
        let environment: std::collections::HashMap<String, String> = [
            ("DATABASE_URL".to_string(), String::new()),
            ("REDIS_URL".to_string(), String::new()),
        ]
        .into();
        let xtask = Settings::load_with(kit.path(), environment.clone()).unwrap();
        let harness = kit_harness::services::Urls::of(kit.path(), environment);
        assert_eq!(xtask.database_url().unwrap().as_str(), harness.database_url);
        assert_eq!(xtask.redis_url().unwrap().as_str(), harness.redis_url);
        assert_eq!(
            harness.database_url,
            "postgres://me:secret@127.0.0.1:5433/mine"
        );
        assert_eq!(harness.redis_url, "redis://127.0.0.1:6379");
    }
}
