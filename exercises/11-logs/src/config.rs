//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
        Ok(Config {
            port: port
                .parse()
                .with_context(|| format!("PORT={port:?} is not a port number"))?,
        })
    }
}
