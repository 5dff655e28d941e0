//! Settings: where the noticeboard listens, and which database it uses.
//!
//! Solved: every deploy-specific value comes from the environment, read once at start-up. A `.env`
//! file fills in what the environment lacks (a development convenience) and never overrides it. A
//! required variable that is missing or malformed stops the app at once, with an error that names
//! it; and the config is logged with the password hidden.

use anyhow::{anyhow, bail};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use url::Url;

// ANCHOR: config
// Solved: no constant, no fallback. An `unwrap_or("postgres://...")` would keep the old URL
// "just in case", and a deploy that forgot DATABASE_URL would start, pass its health check and
// then fail every request against the wrong database (or, worse, succeed against it).
pub struct Config {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `DATABASE_URL`: the Postgres URL, credentials included. Never log it as it is.
    pub database_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let env = Env::load()?;
        Ok(Config {
            port: env.parse("PORT", "8080")?,
            database_url: database_url(env.required("DATABASE_URL")?)?,
        })
    }
}
// ANCHOR_END: config

// ANCHOR: debug
// Solved: `Debug` written by hand, so that logging the config (as `main` does) cannot leak the
// password. The road not taken: a wrapper type for secrets (the `secrecy` crate's `SecretString`)
// whose `Debug` hides the value and which has no `Display`, so no format string anywhere can print
// it. It is worth it once secrets travel further than this one struct.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("database_url", &redacted(&self.database_url))
            .finish()
    }
}

/// The URL as it is safe to log: the password replaced with `*****`, and the query string dropped
/// (sqlx also accepts `?password=...` there).
fn redacted(url: &str) -> String {
    let Ok(mut url) = Url::parse(url) else {
        return "<not a URL>".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("*****"));
    }
    url.set_query(None);
    url.to_string()
}
// ANCHOR_END: debug

// ANCHOR: validate
/// Checks `DATABASE_URL` now, at start-up, rather than at the first request.
///
/// Solved: the error names the variable and what is wrong, never the value: a malformed URL can
/// still hold a real password, and error messages end up in logs too.
fn database_url(value: String) -> anyhow::Result<String> {
    const EXPECTED: &str = "expected postgres://user:password@host:5432/database";
    let url = Url::parse(&value)
        .map_err(|err| anyhow!("DATABASE_URL is not a valid URL ({err}); {EXPECTED}"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        bail!(
            "DATABASE_URL is a {}:// URL, not a Postgres one; {EXPECTED}",
            url.scheme()
        );
    }
    Ok(value)
}
// ANCHOR_END: validate

// ANCHOR: env
/// The process environment, with a `.env` file (if there is one) filling in what it lacks.
///
/// Solved: `.env` is read into a map rather than loaded with `dotenvy::dotenv()`. That one-liner
/// works too (and it also lets the real environment win), but it writes into the process's
/// environment with `set_var`, which Rust 2024 marks `unsafe`: other threads may read the
/// environment at the same moment, and under `#[tokio::main]` the runtime's threads already exist.
/// Reading without writing needs no `unsafe` and makes the precedence explicit.
struct Env {
    dotenv: HashMap<String, String>,
}

impl Env {
    fn load() -> anyhow::Result<Self> {
        // `dotenv_iter` looks for `.env` in the working directory and its parents.
        let dotenv = match dotenvy::dotenv_iter() {
            Ok(lines) => lines.collect::<Result<_, _>>().map_err(|err| match err {
                // dotenvy quotes the whole line, which may hold a secret: say where, not what.
                dotenvy::Error::LineParse(_, at) => {
                    anyhow!(".env has a line that is not KEY=value (at character {at})")
                }
                other => anyhow!("cannot read .env: {other}"),
            })?,
            Err(err) if err.not_found() => HashMap::new(),
            Err(err) => bail!("cannot read .env: {err}"),
        };
        Ok(Env { dotenv })
    }

    /// The real environment first; `.env` only for what it does not set.
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.dotenv.get(key).cloned())
    }

    /// A setting the app cannot run without.
    fn required(&self, key: &str) -> anyhow::Result<String> {
        match self.get(key) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            Some(_) => bail!("{key} is set but empty; set it to the value for this deploy"),
            None => bail!(
                "{key} is not set: set it in the environment (or, for development, in a .env \
                 file; see .env.example)"
            ),
        }
    }

    /// A setting with a default that suits every deploy.
    fn parse<T: FromStr>(&self, key: &str, default: &str) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        let value = self.get(key).unwrap_or_else(|| default.to_string());
        value
            .parse()
            .map_err(|err| anyhow!("{key}={value:?} is not valid: {err}"))
    }
}
// ANCHOR_END: env
