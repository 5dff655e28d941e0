//! Where the backing services live: the real environment, then `.env`, then `.env.example`.
//!
//! The harness reads the same variables in the same order, so xtask starts exactly the services
//! the tests will look for.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;
use url::Url;

#[derive(Debug, Clone)]
pub struct Settings {
    values: HashMap<String, String>,
}

impl Settings {
    pub fn load(root: &Path) -> Result<Settings> {
        let mut values = HashMap::new();
        // Later sources only fill gaps: the real environment always wins.
        for file in [".env.example", ".env"] {
            let path = root.join(file);
            if !path.exists() {
                continue;
            }
            let entries = dotenvy::from_path_iter(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for entry in entries {
                let (key, value) =
                    entry.with_context(|| format!("{} has a malformed line", path.display()))?;
                values.insert(key, value);
            }
        }
        values.extend(std::env::vars().filter(|(_, value)| !value.is_empty()));
        Ok(Settings { values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    fn url(&self, key: &str, default: &str) -> Result<Url> {
        let text = self.get(key).unwrap_or(default);
        Url::parse(text).with_context(|| format!("{key}={text:?} is not a URL (see .env.example)"))
    }

    /// `DATABASE_URL`: the database the tests create theirs through.
    pub fn database_url(&self) -> Result<Url> {
        self.url(
            "DATABASE_URL",
            "postgres://workshop:workshop@127.0.0.1:5432/noticeboard",
        )
    }

    /// `REDIS_URL`: the Redis server the tests lease databases from.
    pub fn redis_url(&self) -> Result<Url> {
        self.url("REDIS_URL", "redis://127.0.0.1:6379")
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
