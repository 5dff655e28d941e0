//! Settings: where the noticeboard listens, and which database it uses.

use std::str::FromStr;

// ANCHOR: literal
// TODO(factor-3): the database credentials are written into the code. Every deploy (your laptop,
// CI, staging, production) gets the same user, password, host and database, and anyone who can
// read the repository can read the password. Take the whole URL from the `DATABASE_URL`
// environment variable instead, and delete this constant.
const DATABASE_URL: &str = "postgres://noticeboard:s3cret@localhost:5432/noticeboard";
// ANCHOR_END: literal

// ANCHOR: config
// TODO(factor-3): `main` logs this struct at start-up, and a derived `Debug` prints every field,
// the password included. Log the database URL with its password hidden.
#[derive(Debug)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// The Postgres URL, credentials included.
    pub database_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            // TODO(factor-3): read `DATABASE_URL` from the environment. A `.env` file may fill it
            // in on a developer's machine, but never overrides the real environment. If it is
            // missing or not a valid URL, stop at once with an error that names it.
            database_url: DATABASE_URL.to_string(),
        })
    }
}
// ANCHOR_END: config

/// `key` from the environment, or `default` when it is not set.
fn parse<T: FromStr>(key: &str, default: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let value = std::env::var(key).unwrap_or_else(|_| default.to_string());
    value
        .parse()
        .map_err(|err| anyhow::anyhow!("{key}={value:?} is not valid: {err}"))
}
