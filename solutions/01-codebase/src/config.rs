//! What differs between deploys, read from the environment.
//!
//! Solved: the exercise wrote each deploy's settings into its own copy of the app. Here there is
//! one app, and a deploy is nothing but values for these variables. A new deploy (a preview for a
//! pull request, a second region) needs no code at all.

use anyhow::{Context, bail};
use std::env::{self, VarError};

// ANCHOR: config
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `DEPLOY_NAME`: which deploy this process belongs to, e.g. `staging`. A label to show and log,
    /// never a switch: no code compares it with a known name, so any name works.
    pub deploy_name: String,
    /// `NOTICEBOARD_BANNER`: a line shown at the top of the homepage; unset or empty for none.
    pub banner: Option<String>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let deploy_name = match env::var("DEPLOY_NAME") {
            Ok(name) if !name.trim().is_empty() => name,
            Ok(_) | Err(VarError::NotPresent) => {
                bail!("DEPLOY_NAME is not set: name the deploy this process belongs to")
            }
            Err(VarError::NotUnicode(_)) => bail!("DEPLOY_NAME is not valid UTF-8"),
        };
        let banner = env::var("NOTICEBOARD_BANNER")
            .ok()
            .filter(|banner| !banner.trim().is_empty());
        let port = env::var("PORT").unwrap_or_else(|_| "8080".into());
        let port = port
            .parse()
            .with_context(|| format!("PORT={port:?} is not a port number"))?;
        Ok(Config {
            port,
            deploy_name,
            banner,
        })
    }
}
// ANCHOR_END: config
