//! Settings, read from the environment (Factor III is its own exercise; here it is done for you,
//! except for the one setting this factor is about).

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    // TODO(factor-4): the app has no setting for *where Redis is*: `state.rs` decides that in
    // code. Add one, `REDIS_URL`, read here as one whole URL (it names the server, the database
    // index and, when there is one, the user and password). A missing `REDIS_URL` is an error
    // that names the variable, not a reason to fall back to a default Redis.
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
        })
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
