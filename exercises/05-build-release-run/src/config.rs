//! Settings: what differs between two releases of one build.

use anyhow::{Context, bail};

// ANCHOR: baked
// TODO(factor-5): `option_env!` runs in the compiler, not in the app: it copies whatever
// NOTICEBOARD_BANNER held *on the machine that ran `cargo build`* into the binary. Every release of
// this build shows that banner, whatever its own environment says. Read it when the process starts.
const BANNER: Option<&str> = option_env!("NOTICEBOARD_BANNER");

// TODO(factor-5): the release settings are a file compiled into the binary by `include_str!`. A new
// release id means a new build, and two releases of one build cannot differ. The release id is
// config: read `RELEASE_ID` from the environment, and stop if it is missing.
const RELEASE_ENV: &str = include_str!("../release.env");
// ANCHOR_END: baked

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// Which release this process runs, e.g. `v42`.
    pub release_id: String,
    /// A notice shown above the homepage, if any.
    pub banner: Option<String>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
        Ok(Config {
            port: port
                .parse()
                .with_context(|| format!("PORT={port:?} is not a port number"))?,
            release_id: setting(RELEASE_ENV, "RELEASE_ID")?,
            banner: BANNER.map(str::to_string),
        })
    }
}

/// The value of `key` in `.env`-style text (`KEY=value` lines, `#` comments).
fn setting(text: &str, key: &str) -> anyhow::Result<String> {
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('=')
            && name.trim() == key
        {
            return Ok(value.trim().to_string());
        }
    }
    bail!("{key} is missing from release.env")
}
