//! Settings, read from the environment once at start-up (Factor III), for every process type and
//! admin task of the app.
//!
//! Each process reads only what it uses, and a variable it needs that is missing or malformed
//! stops it at once with one line naming the variable, never its value: `migrate` needs no Redis,
//! `reset-visits` no Postgres, the web process no webhook. The full contract is in `README.md`.
//! A `.env` file in the working directory fills in what the environment lacks (development only);
//! the real environment always wins.

use anyhow::{anyhow, bail};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;
use url::Url;

/// The longest grace period a process may be given (`SHUTDOWN_GRACE_SECONDS`).
///
/// The platform's own grace period must be longer than the app's (Kubernetes'
/// `terminationGracePeriodSeconds`, 30 s by default; `docker stop`'s 10 s), or the app is
/// SIGKILLed mid-drain: a bound here keeps a typo (`300`) from promising a drain no platform waits
/// for. `deploy/k8s/` sets 3 s and gives the pods 15 s.
pub const MAX_GRACE: Duration = Duration::from_secs(25);

/// Which process this run of the binary is: `noticeboard web` (the default) or
/// `noticeboard worker` (Factor VIII: one build, several process types).
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

/// What the web process needs.
#[derive(Clone)]
pub struct WebConfig {
    /// `HOST` (default: every interface) and `PORT` (Factor VII).
    pub host: IpAddr,
    pub port: u16,
    pub database: Database,
    pub redis: RedisUrl,
    /// `DEPLOY_NAME` (Factor I): which deploy this is; optional, shown on the homepage.
    pub deploy_name: String,
    /// `NOTICEBOARD_BANNER` (Factors I and V): optional notice.
    pub banner: Option<String>,
    /// `RELEASE_ID` (Factor V): required; `GET /release` names it.
    pub release_id: String,
    /// `SESSION_TTL_SECONDS` (Factor VI): how long a login lasts.
    pub session_ttl: Duration,
    /// `SHUTDOWN_GRACE_SECONDS` (Factor IX).
    pub grace: Duration,
}

/// What a worker process needs.
#[derive(Clone)]
pub struct WorkerConfig {
    pub database: Database,
    /// `WEBHOOK_URL`: where each notification is delivered.
    pub webhook_url: Url,
    /// `WORKER_NAME`: how this worker signs its deliveries (default `<hostname>-<pid>`).
    pub worker_name: String,
    pub release_id: String,
    pub grace: Duration,
}

impl WebConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let env = Env::load()?;
        Ok(WebConfig {
            host: env.parse("HOST", "0.0.0.0")?,
            port: port(&env)?,
            database: Database::from_env(&env)?,
            redis: RedisUrl::from_env(&env)?,
            deploy_name: env
                .optional("DEPLOY_NAME")
                .unwrap_or_else(|| "unnamed".into()),
            banner: env.optional("NOTICEBOARD_BANNER"),
            release_id: env.required("RELEASE_ID")?,
            session_ttl: Duration::from_secs(env.parse("SESSION_TTL_SECONDS", "86400")?),
            grace: grace(&env)?,
        })
    }
}

impl WorkerConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let env = Env::load()?;
        let webhook = env.required("WEBHOOK_URL")?;
        let webhook_url = Url::parse(&webhook)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| anyhow!("WEBHOOK_URL is not an http:// or https:// URL"))?;
        Ok(WorkerConfig {
            database: Database::from_env(&env)?,
            webhook_url,
            worker_name: env
                .optional("WORKER_NAME")
                .unwrap_or_else(default_worker_name),
            release_id: env.required("RELEASE_ID")?,
            grace: grace(&env)?,
        })
    }
}

/// `<hostname>-<pid>`: unique per process on a machine and across machines (Factor VIII).
fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// `PORT`: a port number, or the app stops naming it (Factor VII). Unset means 8080, a
/// development default; every platform sets it.
fn port(env: &Env) -> anyhow::Result<u16> {
    let value = env.optional("PORT").unwrap_or_else(|| "8080".into());
    value
        .parse()
        .map_err(|_| anyhow!("PORT={value:?} is not a port number (1-65535)"))
}

fn grace(env: &Env) -> anyhow::Result<Duration> {
    let seconds: f64 = env.parse("SHUTDOWN_GRACE_SECONDS", "3")?;
    let grace = Duration::try_from_secs_f64(seconds)
        .map_err(|_| anyhow!("SHUTDOWN_GRACE_SECONDS={seconds} is not a duration"))?;
    if grace > MAX_GRACE {
        bail!(
            "SHUTDOWN_GRACE_SECONDS={seconds} is longer than {} s: a platform SIGKILLs a process \
             long before (keep it below the platform's own grace period)",
            MAX_GRACE.as_secs()
        );
    }
    Ok(grace)
}

/// `DATABASE_URL`, checked at start-up; printed only through [`Database::redacted`].
#[derive(Clone)]
pub struct Database {
    url: String,
}

impl Database {
    /// For the admin tasks, which read nothing else.
    pub fn from_env_only() -> anyhow::Result<Self> {
        Database::from_env(&Env::load()?)
    }

    fn from_env(env: &Env) -> anyhow::Result<Self> {
        const EXPECTED: &str = "expected postgres://user:password@host:5432/database";
        let value = env.required("DATABASE_URL")?;
        // The error names the variable and what is wrong, never the value: a malformed URL can
        // still hold a real password.
        let url = Url::parse(&value)
            .map_err(|err| anyhow!("DATABASE_URL is not a valid URL ({err}); {EXPECTED}"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            bail!(
                "DATABASE_URL is a {}:// URL, not a Postgres one; {EXPECTED}",
                url.scheme()
            );
        }
        Ok(Database { url: value })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL as it is safe to log: password hidden, query dropped.
    pub fn redacted(&self) -> String {
        redacted(&self.url)
    }
}

/// `REDIS_URL`, all of it (server, database index, user and password: Factor IV).
#[derive(Clone)]
pub struct RedisUrl {
    url: String,
}

impl RedisUrl {
    /// For `reset-visits`, which reads nothing else.
    pub fn from_env_only() -> anyhow::Result<Self> {
        RedisUrl::from_env(&Env::load()?)
    }

    fn from_env(env: &Env) -> anyhow::Result<Self> {
        let value = env.required("REDIS_URL")?;
        let scheme_ok = Url::parse(&value)
            .is_ok_and(|url| matches!(url.scheme(), "redis" | "rediss" | "redis+unix"));
        if !scheme_ok {
            bail!("REDIS_URL is not a redis:// URL; expected redis://[user:password@]host:6379/0");
        }
        Ok(RedisUrl { url: value })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn redacted(&self) -> String {
        redacted(&self.url)
    }
}

/// Debug output must never leak a secret: it prints the redacted URLs only.
impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database.redacted())
            .field("redis", &self.redis.redacted())
            .field("deploy_name", &self.deploy_name)
            .field("release_id", &self.release_id)
            .finish_non_exhaustive()
    }
}

/// `url` with its password replaced by `*****` and its query (which may carry one) dropped.
pub fn redacted(url: &str) -> String {
    let Ok(mut url) = Url::parse(url) else {
        return "<not a URL>".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("*****"));
    }
    url.set_query(None);
    url.to_string()
}

/// The process environment, with a `.env` file (if there is one) filling in what it lacks.
/// Read into a map, never written into the environment (`set_var` is `unsafe` in Rust 2024, and
/// the runtime's threads already exist).
struct Env {
    dotenv: HashMap<String, String>,
}

impl Env {
    fn load() -> anyhow::Result<Self> {
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

    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.dotenv.get(key).cloned())
    }

    /// Set and not empty.
    fn optional(&self, key: &str) -> Option<String> {
        self.get(key).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, key: &str) -> anyhow::Result<String> {
        match self.get(key) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            Some(_) => bail!("{key} is set but empty; set it to the value for this deploy"),
            None => bail!("{key} is not set: the platform must set it (see noticeboard/README.md)"),
        }
    }

    fn parse<T: FromStr>(&self, key: &str, default: &str) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        let value = self.optional(key).unwrap_or_else(|| default.to_string());
        value
            .parse()
            .map_err(|err| anyhow!("{key}={value:?} is not valid: {err}"))
    }
}
