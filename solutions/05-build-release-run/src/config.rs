//! Settings: what differs between two releases of one build.
//!
//! Solved: nothing here is read by the compiler. The banner and the release id come from the
//! environment of the process, read once as it starts, so one binary runs as any number of
//! releases, each with its own config, and a rollback is the same binary started again with the
//! previous release's config.

use anyhow::{Context, bail};

// ANCHOR: config
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `RELEASE_ID`: which release this process runs, e.g. `v42`.
    pub release_id: String,
    /// `NOTICEBOARD_BANNER`: a notice shown above the homepage, if any.
    pub banner: Option<String>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
        Ok(Config {
            port: port
                .parse()
                .with_context(|| format!("PORT={port:?} is not a port number"))?,
            // Solved: the release id comes with the release, from whoever made it (a deploy
            // script, the platform). No default: a process that cannot say which release it runs
            // cannot be rolled back to, or told apart from the one before it.
            release_id: required("RELEASE_ID")?,
            // Solved: read at run time, and no fallback. An `.unwrap_or(option_env!(..))` would
            // keep the build machine's value in the binary "just in case", and every release that
            // forgot the variable would show it.
            banner: optional("NOTICEBOARD_BANNER"),
        })
    }
}
// ANCHOR_END: config

fn required(key: &str) -> anyhow::Result<String> {
    match optional(key) {
        Some(value) => Ok(value),
        None => bail!("{key} is not set: every release needs an id, e.g. {key}=v42"),
    }
}

/// The variable's value; unset and empty are the same: not given.
fn optional(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|value| !value.is_empty())
}
