//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::{Context, bail};
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `WEBHOOK_URL`: where every new notification is forwarded, as JSON.
    pub webhook_url: Url,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            webhook_url: webhook_url()?,
        })
    }
}

fn webhook_url() -> anyhow::Result<Url> {
    let value = match std::env::var("WEBHOOK_URL") {
        Ok(value) if !value.is_empty() => value,
        _ => bail!("WEBHOOK_URL is not set: the URL to forward notifications to"),
    };
    let url = Url::parse(&value).context("WEBHOOK_URL is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("WEBHOOK_URL must be an http:// or https:// URL");
    }
    Ok(url)
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
