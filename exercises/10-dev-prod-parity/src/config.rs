//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::Context;

/// Which environment this process runs in, from `APP_ENV`.
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
    // TODO(factor-10): optional, because development "does not need a database". Every environment
    // needs the same one kind of database: make it required, so that a missing DATABASE_URL stops
    // the app at start-up, naming the variable, instead of switching it to another store.
    pub database_url: Option<String>,
    // ANCHOR_END: database_url
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            app_env: AppEnv::from_env(),
            database_url: optional("DATABASE_URL"),
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
