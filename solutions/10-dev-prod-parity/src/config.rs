//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::{Context, bail};

/// Which environment this process runs in, from `APP_ENV`.
///
/// Solved: it still exists, and still differs between environments, but it only chooses how logs
/// look (see `main.rs`). It never chooses a backing service, or anything else a user can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `APP_ENV`: `development`, `production` or unset (see [`AppEnv::from_env`]).
    pub app_env: AppEnv,
    // ANCHOR: database_url
    /// `DATABASE_URL`: the Postgres database notifications are stored in.
    // Solved: required in every environment. Without it the app stops at start-up and names the
    // variable; a developer learns to run `cargo xtask services up` instead of getting a fake.
    pub database_url: String,
    // ANCHOR_END: database_url
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            app_env: AppEnv::from_env(),
            database_url: required("DATABASE_URL")?,
        })
    }
}

// ANCHOR: app_env
impl AppEnv {
    /// `APP_ENV=development` is development; so is no `APP_ENV` at all in a debug build, which is
    /// what `cargo run` makes. Anything else is production.
    fn from_env() -> Self {
        match optional("APP_ENV").as_deref() {
            Some("development") => AppEnv::Development,
            None if cfg!(debug_assertions) => AppEnv::Development,
            _ => AppEnv::Production,
        }
    }
}
// ANCHOR_END: app_env

/// A setting the app cannot run without: fails with the variable's name.
fn required(key: &str) -> anyhow::Result<String> {
    match optional(key) {
        Some(value) => Ok(value),
        None => bail!("{key} is not set (see .env.example)"),
    }
}

fn optional(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|value| !value.is_empty())
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
