//! `cargo xtask services up|down|status`: Postgres and Redis for the exercises.
//!
//! With a Docker engine, `docker compose` runs the repo's `docker-compose.yml`. Without one, the
//! local `postgres`/`initdb`/`pg_ctl` and `redis-server` binaries run the same services with the same
//! URLs, their data under `target/services/`. Either way, "up" is idempotent: a service that already
//! answers at its URL is left alone.

pub mod local;

use crate::engine::manifest::Service;
use crate::engine::settings::{Settings, masked};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// `docker compose`, when a Docker engine answers.
    Docker,
    /// Local `postgres` and `redis-server` binaries.
    Local,
}

impl Backend {
    /// Docker if an engine answers, else the local binaries.
    pub fn detect() -> Backend {
        if docker_engine_answers() {
            Backend::Docker
        } else {
            Backend::Local
        }
    }
}

/// Whether `docker info` reaches an engine within a few seconds (the CLI alone is not enough).
pub fn docker_engine_answers() -> bool {
    let Ok(mut child) = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// How xtask reaches a service the manifest names (`Service` itself is `kit-common`'s).
pub trait Reach {
    /// Where it is, by the kit's one rule (`settings`).
    fn url(self, settings: &Settings) -> Result<Url>;

    /// Connects and says hello; `Err` carries a short reason.
    fn probe(self, url: &Url) -> Result<(), String>;
}

impl Reach for Service {
    fn url(self, settings: &Settings) -> Result<Url> {
        match self {
            Service::Postgres => settings.database_url(),
            Service::Redis => settings.redis_url(),
        }
    }

    fn probe(self, url: &Url) -> Result<(), String> {
        match self {
            Service::Postgres => probe_postgres(url),
            Service::Redis => probe_redis(url),
        }
    }
}

fn probe_redis(url: &Url) -> Result<(), String> {
    let client = redis::Client::open(url.as_str()).map_err(|err| err.to_string())?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|err| err.to_string())?;
    // The timeout above covers the handshake only; a server that stops answering must not hang us.
    connection
        .set_read_timeout(Some(Duration::from_secs(2)))
        .and_then(|()| connection.set_write_timeout(Some(Duration::from_secs(2))))
        .map_err(|err| err.to_string())?;
    redis::cmd("PING")
        .query::<String>(&mut connection)
        .map(drop)
        .map_err(|err| err.to_string())
}

fn probe_postgres(url: &Url) -> Result<(), String> {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(async {
        let connect = sqlx::PgConnection::connect(url.as_str());
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                Ok(())
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("no answer within 3 s".into()),
        }
    })
}

/// Starts whichever of `services` do not answer yet; quiet when all already do.
pub fn ensure(root: &Path, services: &[Service], out: &mut impl Write) -> Result<()> {
    let settings = Settings::load(root)?;
    let mut missing = Vec::new();
    for &service in services {
        let url = service.url(&settings)?;
        if service.probe(&url).is_err() {
            missing.push(service);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    start(root, &settings, Backend::detect(), &missing, out)
}

/// `services up`.
pub fn up(root: &Path, backend: Option<Backend>, out: &mut impl Write) -> Result<()> {
    let settings = Settings::load(root)?;
    let backend = backend.unwrap_or_else(Backend::detect);
    start(root, &settings, backend, &Service::ALL, out)?;
    status(root, out).map(drop)
}

fn start(
    root: &Path,
    settings: &Settings,
    backend: Backend,
    services: &[Service],
    out: &mut impl Write,
) -> Result<()> {
    match backend {
        Backend::Docker => {
            // Compose service names are the lowercase names: `postgres`, `redis`.
            let names: Vec<String> = services
                .iter()
                .map(|service| service.name().to_ascii_lowercase())
                .collect();
            writeln!(out, "Starting {} with docker compose…", names.join(" and "))?;
            let mut args = vec!["up", "--detach", "--wait"];
            args.extend(names.iter().map(String::as_str));
            compose(root, &args)?;
        }
        Backend::Local => {
            for &service in services {
                let url = service.url(settings)?;
                if service.probe(&url).is_ok() {
                    writeln!(
                        out,
                        "{} already answers at {}.",
                        service.name(),
                        masked(&url)
                    )?;
                    continue;
                }
                writeln!(out, "Starting {} from local binaries…", service.name())?;
                match service {
                    Service::Postgres => local::start_postgres(root, &url)?,
                    Service::Redis => local::start_redis(root, &url)?,
                }
            }
        }
    }
    for &service in services {
        let url = service.url(settings)?;
        wait_until_answers(service, &url)?;
    }
    Ok(())
}

fn wait_until_answers(service: Service, url: &Url) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match service.probe(url) {
            Ok(()) => return Ok(()),
            Err(reason) if Instant::now() >= deadline => {
                bail!(
                    "{} does not answer at {} ({reason}); see `cargo xtask doctor`",
                    service.name(),
                    masked(url)
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `services down`: stops what `up` started (with `purge`, deletes the local data too).
pub fn down(
    root: &Path,
    backend: Option<Backend>,
    purge: bool,
    out: &mut impl Write,
) -> Result<()> {
    match backend.unwrap_or_else(Backend::detect) {
        Backend::Docker => {
            let mut args = vec!["down"];
            if purge {
                args.push("--volumes");
            }
            compose(root, &args)?;
            writeln!(out, "docker compose services stopped.")?;
        }
        Backend::Local => {
            for line in local::stop_all(root, purge)? {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

/// `services status`: one line per service; `Ok(true)` when both answer.
pub fn status(root: &Path, out: &mut impl Write) -> Result<bool> {
    let settings = Settings::load(root)?;
    let mut all = true;
    for service in Service::ALL {
        let url = service.url(&settings)?;
        match service.probe(&url) {
            Ok(()) => writeln!(
                out,
                "✓ {:<8} answers at {}{}",
                service.name(),
                masked(&url),
                local::note(root, service)
            )?,
            Err(reason) => {
                all = false;
                writeln!(
                    out,
                    "✗ {:<8} does not answer at {} ({reason})",
                    service.name(),
                    masked(&url)
                )?;
            }
        }
    }
    if !all {
        // `up` starts what is down and leaves the rest alone.
        writeln!(out, "Start what is down with `cargo xtask services up`.")?;
    }
    Ok(all)
}

fn compose(root: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new("docker")
        .arg("compose")
        .args(args)
        .current_dir(root)
        .status()
        .context("cannot run `docker compose`")?;
    if !status.success() {
        bail!("`docker compose {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
