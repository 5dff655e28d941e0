//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).
//!
//! Meant for every binary of this package, the web process and the admin tasks alike: one place
//! that says which variables the app reads.

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where the web process listens.
    pub port: u16,
    /// `DATABASE_URL`: the Postgres database that holds the visit count.
    pub database_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            database_url: required("DATABASE_URL")?,
        })
    }
}

fn required(key: &str) -> anyhow::Result<String> {
    match std::env::var(key) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => bail!("{key} is not set (see .env.example)"),
    }
}

fn parse<T: std::str::FromStr>(key: &str, default: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let value = std::env::var(key).unwrap_or_else(|_| default.to_string());
    value
        .parse()
        .with_context(|| format!("{key}={value:?} is not valid"))
}
