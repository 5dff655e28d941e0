//! Which app the platform runs: the finished noticeboard, or (for `--break N`) a factor's exercise
//! snapshot, with what each one offers the demo.

use super::procfile::Procfile;
use crate::UsageError;
use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The factors whose exercise the demo can run, and what it shows for each.
pub const BREAKABLE: [(u8, &str); 4] = [
    (4, "errors that never recover after the Redis cut"),
    (
        6,
        "replicas disagreeing on visits, sessions lost between replicas",
    ),
    (
        8,
        "notifications lost when a web process is killed or restarted",
    ),
    (9, "failed requests on every restart"),
];

/// What an app offers the demo (the load and the checks use only what it has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `GET /` counts a visit, `GET /visits` reads the count.
    pub visits: bool,
    /// `POST /login` gives a token, `GET /me` reads the session.
    pub sessions: bool,
    /// `POST /notifications` queues one for delivery to `WEBHOOK_URL`.
    pub notifications: bool,
    /// `GET /slow?ms=N` answers after N ms: requests kept in flight while replicas stop.
    pub slow: bool,
    /// The process type that delivers notifications (`worker`, or `web` when the web process
    /// does the work itself).
    pub delivers: &'static str,
    /// The app ignores `REDIS_URL` and counts in the Redis its code names, `127.0.0.1:6379`
    /// database 0 (Factor IV's exercise): the demo cuts its Redis by closing its own connections
    /// at the server, and takes back the visits it counted there.
    pub pinned_redis: bool,
}

/// The finished app's readiness probe: `200` once Postgres answers and `migrate` has run (Factor
/// XII). The same path as `deploy/haproxy.cfg`'s health check and the Kubernetes `readinessProbe`
/// (`verify`'s deploy-files step holds them together); `/health` is its liveness probe, which
/// touches no backing service.
pub const FINISHED_READINESS: &str = "/health/ready";

pub struct App {
    /// `the finished noticeboard`, `exercise IX (Disposability)`.
    pub label: String,
    /// The Cargo package to build first, if the app is one of the workspace's.
    pub package: Option<String>,
    pub procfile: Procfile,
    pub features: Features,
    /// Set for `--break N`.
    pub factor: Option<u8>,
    /// What the platform asks before it sends a web process traffic.
    pub readiness: &'static str,
}

/// The finished noticeboard: `noticeboard/`, its Procfile, every feature.
pub fn finished(root: &Path) -> Result<App> {
    let procfile_path = root.join("noticeboard").join("Procfile");
    if !procfile_path.is_file() {
        bail!(
            "the finished noticeboard is not in this checkout ({} is missing); pass --procfile to \
             run another app",
            procfile_path.display()
        );
    }
    Ok(App {
        label: "the finished noticeboard".into(),
        package: Some(Factor::package(root, Path::new("noticeboard"))?),
        procfile: Procfile::read(&procfile_path)?,
        features: Features {
            visits: true,
            sessions: true,
            notifications: true,
            slow: true,
            delivers: "worker",
            pinned_redis: false,
        },
        factor: None,
        readiness: FINISHED_READINESS,
    })
}

/// Any app from its Procfile (`--procfile`): the package is the one whose folder holds it, if
/// any, and the features are guessed from its process types (a `worker` type: notifications).
pub fn from_procfile(root: &Path, procfile_path: &Path) -> Result<App> {
    let procfile = Procfile::read(procfile_path)?;
    let dir: PathBuf = procfile_path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let relative = dir.strip_prefix(root).unwrap_or(&dir).to_path_buf();
    // A Procfile next to a Cargo package runs that package's binaries; any other runs its
    // commands as they are (built beforehand, or not Rust at all).
    let package = Factor::package(root, &relative).ok();
    let worker = procfile.command("worker").is_some();
    Ok(App {
        label: package
            .clone()
            .unwrap_or_else(|| procfile_path.display().to_string()),
        package,
        procfile,
        features: Features {
            visits: true,
            sessions: true,
            notifications: worker,
            slow: false,
            delivers: "worker",
            pinned_redis: false,
        },
        factor: None,
        // Any app of the kit answers `/health`; only the finished one has a readiness probe.
        readiness: "/health",
    })
}

/// Factor `query`'s exercise snapshot, run the way its factor's failure shows at scale.
pub fn exercise(root: &Path, manifest: &Manifest, query: &str) -> Result<App> {
    let factor = manifest.find(query)?;
    let supported: Vec<String> = BREAKABLE.iter().map(|(n, _)| n.to_string()).collect();
    if !BREAKABLE.iter().any(|(n, _)| *n == factor.number) {
        return Err(UsageError(format!(
            "--break {}: the demo cannot show {} at scale (it can for: {}; the other factors' \
             snapshots lack the process types or endpoints the demo drives)",
            factor.number,
            factor.heading(),
            supported.join(", ")
        ))
        .into());
    }
    let package = Factor::package(root, &factor.exercise)?;
    let (text, features) = match factor.number {
        // Its Redis is wired into its code; the demo gives it the run's own index all the same,
        // and shows the count landing elsewhere.
        4 => (
            format!("web: {package}\n"),
            Features {
                visits: true,
                sessions: false,
                notifications: false,
                slow: false,
                delivers: "worker",
                pinned_redis: true,
            },
        ),
        6 => (
            format!("web: {package}\n"),
            Features {
                visits: true,
                sessions: true,
                notifications: false,
                slow: false,
                delivers: "worker",
                pinned_redis: false,
            },
        ),
        // The exercise delivers from inside the web process: there is no worker type to scale.
        8 => (
            format!("web: {package} web\n"),
            Features {
                visits: false,
                sessions: false,
                notifications: true,
                slow: false,
                delivers: "web",
                pinned_redis: false,
            },
        ),
        _ => (
            format!("web: {package} web\nworker: {package} worker\n"),
            Features {
                visits: false,
                sessions: false,
                notifications: true,
                slow: true,
                delivers: "worker",
                pinned_redis: false,
            },
        ),
    };
    Ok(App {
        label: format!("exercise {} ({})", factor.roman, factor.title),
        package: Some(package),
        procfile: Procfile::parse(&text)?,
        features,
        factor: Some(factor.number),
        // The exercises have no readiness probe: `/health` says the process serves.
        readiness: "/health",
    })
}
