//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::{Context, bail};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `REDIS_URL`: the Redis server (and database index) for shared state.
    pub redis_url: String,
    /// `SESSION_TTL_SECONDS`: how long a login session lasts.
    pub session_ttl: Duration,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            redis_url: required("REDIS_URL")?,
            session_ttl: Duration::from_secs(parse("SESSION_TTL_SECONDS", "3600")?),
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
