//! Settings, read from the environment (Factor III is its own exercise; here it is done for you,
//! except for the one setting this factor is about).

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    // ANCHOR: redis_url
    /// `REDIS_URL`: the Redis to attach, e.g. `redis://user:secret@cache.internal:6379/3`.
    ///
    /// Solved: one setting holds the whole location, kept as the operator wrote it. Separate
    /// `REDIS_HOST` and `REDIS_PORT` settings would need a third for the database index, a fourth
    /// and fifth for the user and password, a sixth for TLS (`rediss://`)... and every one the
    /// code forgets silently attaches the app to the wrong place.
    pub redis_url: String,
    // ANCHOR_END: redis_url
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            // Solved: required, with no fallback. A default of `redis://127.0.0.1:6379` would be
            // the hard-coded location again, now hidden behind a missing variable.
            redis_url: required("REDIS_URL")?,
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
