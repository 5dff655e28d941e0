//! Settings, read from the environment (Factor III is its own exercise; here it is done for you).

use anyhow::{Context, bail};

/// Which kind of process this run of the binary is: `<binary> web` (the default) or
/// `<binary> worker`. One build, several process types (Factor VIII).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessType {
    Web,
    Worker,
}

impl ProcessType {
    /// The first command-line argument: none or `web`, or `worker`.
    pub fn from_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        match args.next().as_deref() {
            None | Some("web") => Ok(ProcessType::Web),
            Some("worker") => Ok(ProcessType::Worker),
            Some(other) => bail!("unknown process type {other:?}: expected `web` or `worker`"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: where the web process listens.
    pub port: u16,
    /// `DATABASE_URL`: the Postgres database that holds the queue of notifications to deliver.
    pub database_url: String,
    /// `WEBHOOK_URL`: where the worker delivers each notification (required by the worker only).
    pub webhook_url: String,
    /// `WORKER_NAME`: how a worker names itself in what it delivers (default: `worker-<pid>`).
    pub worker_name: String,
}

impl Config {
    pub fn from_env(process: ProcessType) -> anyhow::Result<Self> {
        Ok(Config {
            port: parse("PORT", "8080")?,
            database_url: required("DATABASE_URL", "see .env.example")?,
            webhook_url: match process {
                ProcessType::Worker => {
                    required("WEBHOOK_URL", "a worker delivers each notification there")?
                }
                ProcessType::Web => std::env::var("WEBHOOK_URL").unwrap_or_default(),
            },
            worker_name: std::env::var("WORKER_NAME")
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| format!("worker-{}", std::process::id())),
        })
    }
}

fn required(key: &str, why: &str) -> anyhow::Result<String> {
    match std::env::var(key) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => bail!("{key} is not set ({why})"),
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
