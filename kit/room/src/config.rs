//! Configuration, from the environment only (Factor III), with the kit's defaults.
//!
//! `cargo xtask room serve` sets `DATABASE_URL` from the kit's settings (`.env`, `.env.example`); run
//! alone, the board falls back to the same local Postgres the kit's services start.

use anyhow::{Context, Result};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The kit's Postgres (`.env.example`), database `room`: the board's own, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "postgres://workshop:workshop@127.0.0.1:5432/room";
pub const DEFAULT_PORT: u16 = 7878;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: where every class, learner and verdict is kept.
    pub database_url: String,
    /// `ROOM_BIND` (default `0.0.0.0`, the whole LAN) and `PORT` (default 7878).
    pub listen: SocketAddr,
    /// `ROOM_BOOK_DIR`: a built book to serve at `/book/` (so links work without internet).
    pub book_dir: Option<PathBuf>,
    /// `ROOM_JOINS_PER_MINUTE`: join attempts one address may make per minute (guessing codes).
    pub joins_per_minute: u32,
    /// `ROOM_POSTS_PER_MINUTE`: verdicts one learner may post per minute.
    pub posts_per_minute: u32,
    /// `ROOM_SHUTDOWN_SECONDS`: how long in-flight requests may take after SIGTERM.
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
    }

    /// The same, reading variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let number = |key: &str, default: u64| -> Result<u64> {
            lookup(key).map_or(Ok(default), |text| {
                text.parse()
                    .with_context(|| format!("{key}={text:?} is not a whole number"))
            })
        };
        let bind: IpAddr = lookup("ROOM_BIND")
            .unwrap_or_else(|| "0.0.0.0".into())
            .parse()
            .context("ROOM_BIND is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)")?;
        let port = u16::try_from(number("PORT", u64::from(DEFAULT_PORT))?)
            .context("PORT is not a port number")?;
        Ok(Config {
            database_url: lookup("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen: SocketAddr::new(bind, port),
            book_dir: lookup("ROOM_BOOK_DIR").map(PathBuf::from),
            joins_per_minute: u32::try_from(number("ROOM_JOINS_PER_MINUTE", 20)?)
                .context("ROOM_JOINS_PER_MINUTE is too large")?,
            posts_per_minute: u32::try_from(number("ROOM_POSTS_PER_MINUTE", 120)?)
                .context("ROOM_POSTS_PER_MINUTE is too large")?,
            shutdown_grace: Duration::from_secs(number("ROOM_SHUTDOWN_SECONDS", 5)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_kits() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen.to_string(), "0.0.0.0:7878");
    }

    #[test]
    fn a_bad_port_names_the_variable() {
        let err = Config::from_lookup(|key| (key == "PORT").then(|| "eighty".into())).unwrap_err();
        assert!(format!("{err:#}").contains("PORT"), "{err:#}");
    }
}
