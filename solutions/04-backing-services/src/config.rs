//! Settings, read from the environment (Factor III is its own exercise; here it is done for you,
//! except for the one setting this factor is about).

use anyhow::{Context, bail};
use std::fmt;

// Solved: no derived `Debug`. `REDIS_URL` may hold a password, and a derived `Debug` prints it
// wherever the config is logged (Factor III); the hand-written one below masks it.
#[derive(Clone)]
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

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("redis_url", &redacted(&self.redis_url))
            .finish()
    }
}

/// The URL as it is safe to log: a password before the `@` replaced with `*****`, and the query
/// string (where `redis+unix://` URLs may carry `pass=`) dropped.
fn redacted(url: &str) -> String {
    let url = url.split('?').next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:*****@{host}{path}")
        }
        _ => url.to_string(),
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
