//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).
//!
//! Every process type of the app reads the same settings the same way: one config, whichever
//! process it configures.

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where the web process listens.
    pub port: u16,
    /// `DATABASE_URL`: the Postgres database that holds the notifications.
    pub database_url: String,
    /// `WEBHOOK_URL`: where each notification is delivered, with an HTTP `POST`.
    pub webhook_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let webhook_url = required("WEBHOOK_URL")?;
        if !webhook_url.starts_with("http://") && !webhook_url.starts_with("https://") {
            bail!("WEBHOOK_URL must be an http:// or https:// URL");
        }
        Ok(Config {
            port: parse("PORT", "8080")?,
            database_url: required("DATABASE_URL")?,
            webhook_url,
        })
    }
}

fn required(key: &str) -> anyhow::Result<String> {
    match std::env::var(key) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => bail!("{key} is not set (see the exercise's README.md)"),
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
