//! `cargo xtask doctor`: is this machine ready for the workshop? Each problem comes with its fix.

use crate::Verdict;
use crate::engine::manifest::{Manifest, Service};
use crate::engine::services::{self, Reach, local};
use crate::engine::settings::{Settings, masked};
use crate::engine::term;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The oldest Rust the kit builds with (sqlx 0.9 needs it).
const MIN_RUST: (u32, u32) = (1, 94);
/// Free disk space below which a first build may run out.
const MIN_FREE_GIB: u64 = 3;

enum Finding {
    Ok(String),
    Problem { what: String, fix: String },
    Note(String),
}

/// How `doctor` reports: for a person, as JSON, or for a person and the class board too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Text,
    Json,
    /// The text, then which findings are problems, by name, to the class board (`room join`).
    Push,
}

/// Every finding, each under a stable name (the class board and `--json` use the names).
fn findings(root: &Path, manifest: &Manifest) -> Result<Vec<(&'static str, Finding)>> {
    let settings = Settings::load(root)?;
    let mut findings = vec![
        ("platform", platform()),
        ("toolchain", toolchain()),
        ("backend", backend()),
        ("disk", disk(root)),
    ];
    for service in Service::ALL {
        let name = match service {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        };
        findings.push((name, service_reachable(service, &settings)?));
    }
    findings.push(("compose-settings", compose_settings_agree(&settings)?));
    findings
        .extend(local_postgres_matches_compose(root).map(|finding| ("local-postgres", finding)));
    findings.push(("mdbook", mdbook(root)));
    let available = manifest.available().count();
    findings.push((
        "exercises",
        Finding::Note(format!(
            "{available} of 12 exercises are available in this version of the kit."
        )),
    ));
    Ok(findings)
}

pub fn run(
    root: &Path,
    manifest: &Manifest,
    report: Report,
    out: &mut impl Write,
) -> Result<Verdict> {
    let findings = findings(root, manifest)?;
    let problems: Vec<&str> = findings
        .iter()
        .filter(|(_, finding)| matches!(finding, Finding::Problem { .. }))
        .map(|(name, _)| *name)
        .collect();
    if report == Report::Json {
        let list: Vec<serde_json::Value> = findings
            .iter()
            .map(|(name, finding)| match finding {
                Finding::Ok(text) => json!({ "name": name, "state": "ok", "what": text }),
                Finding::Note(text) => json!({ "name": name, "state": "note", "what": text }),
                Finding::Problem { what, fix } => {
                    json!({ "name": name, "state": "problem", "what": what, "fix": fix })
                }
            })
            .collect();
        let document = json!({ "problems": problems, "findings": list });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(Verdict::from(problems.is_empty()));
    }
    for (_, finding) in &findings {
        match finding {
            Finding::Ok(text) => writeln!(out, "{} {text}", term::pass())?,
            Finding::Note(text) => writeln!(out, "· {text}")?,
            Finding::Problem { what, fix } => {
                writeln!(out, "{} {what}\n    fix: {fix}", term::fail())?;
            }
        }
    }
    if problems.is_empty() {
        // The same next step as `cargo xtask` alone.
        match crate::learner::status::next_factor(root, manifest) {
            Some(factor) => writeln!(
                out,
                "\nAll good: go on with `cargo xtask check {}`.",
                factor.number
            )?,
            None => writeln!(out, "\nAll good.")?,
        }
    } else {
        writeln!(
            out,
            "\n{} problem(s) to fix before the workshop.",
            problems.len()
        )?;
    }
    if report == Report::Push {
        crate::room::push_doctor(root, &problems, out)?;
    }
    Ok(Verdict::from(problems.is_empty()))
}

/// The platform, and the path to take where not every check runs natively.
fn platform() -> Finding {
    match crate::engine::platform::advice() {
        Ok(text) => Finding::Ok(text),
        Err(text) => Finding::Note(text),
    }
}

fn toolchain() -> Finding {
    let version = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    let numbers: Vec<u32> = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split(['.', '-'])
        .filter_map(|part| part.parse().ok())
        .collect();
    match numbers.as_slice() {
        [major, minor, ..] if (*major, *minor) >= MIN_RUST => Finding::Ok(version),
        _ => Finding::Problem {
            what: format!(
                "Rust {}.{} or newer is needed; this is {:?}",
                MIN_RUST.0, MIN_RUST.1, version
            ),
            fix: "rustup update stable".into(),
        },
    }
}

fn backend() -> Finding {
    if services::docker_engine_answers() {
        return Finding::Ok("a Docker engine answers: `services up` uses docker compose".into());
    }
    match (local::postgres_bin_dir(), local::redis_server()) {
        (Some(pg), Some(_)) => Finding::Ok(format!(
            "no Docker engine; local binaries found ({} and redis-server): `services up` uses them",
            pg.display()
        )),
        (pg, redis) => {
            let missing: Vec<&str> = [
                pg.is_none().then_some("postgresql"),
                redis.is_none().then_some("redis-server"),
            ]
            .into_iter()
            .flatten()
            .collect();
            Finding::Problem {
                what: format!("no Docker engine, and no local {}", missing.join(" or ")),
                fix: format!(
                    "start Docker, or install them (Debian/Ubuntu: `sudo apt-get install {}`; macOS: `brew install postgresql@15 redis`)",
                    missing.join(" ")
                ),
            }
        }
    }
}

fn disk(root: &Path) -> Finding {
    let free_kib = Command::new("df")
        .args(["-Pk"])
        .arg(root)
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.lines()
                .nth(1)?
                .split_whitespace()
                .nth(3)?
                .parse::<u64>()
                .ok()
        });
    match free_kib {
        Some(kib) if kib / 1024 / 1024 >= MIN_FREE_GIB => {
            Finding::Ok(format!("{} GiB free on the kit's disk", kib / 1024 / 1024))
        }
        Some(kib) => Finding::Problem {
            what: format!(
                "only {} MiB free on the kit's disk; a first build needs about {MIN_FREE_GIB} GiB",
                kib / 1024
            ),
            fix: "free some space (`cargo clean` in other projects is a good start)".into(),
        },
        None => Finding::Note("could not measure free disk space (no `df`)".into()),
    }
}

fn service_reachable(service: Service, settings: &Settings) -> Result<Finding> {
    let url = service.url(settings)?;
    Ok(match service.probe(&url) {
        Ok(()) => Finding::Ok(format!("{} answers at {}", service.name(), masked(&url))),
        Err(reason) => {
            let host = url.host_str().unwrap_or("127.0.0.1").to_string();
            let port = url.port().unwrap_or(if service == Service::Postgres {
                5432
            } else {
                6379
            });
            let taken = TcpStream::connect_timeout(
                &format!("{host}:{port}")
                    .parse()
                    .unwrap_or_else(|_| ([127, 0, 0, 1], port).into()),
                Duration::from_secs(1),
            )
            .is_ok();
            if taken {
                Finding::Problem {
                    what: format!(
                        "port {port} answers, but not as the {} the kit expects ({reason})",
                        service.name()
                    ),
                    fix: format!(
                        "another program holds port {port} (a system {}?): stop it, or pick another port in .env (see .env.example)",
                        service.name()
                    ),
                }
            } else {
                Finding::Problem {
                    what: format!(
                        "{} does not answer at {} ({reason})",
                        service.name(),
                        masked(&url)
                    ),
                    fix: "cargo xtask services up".into(),
                }
            }
        }
    })
}

/// docker compose reads `POSTGRES_*`, the tests read `DATABASE_URL`: they must describe one server.
fn compose_settings_agree(settings: &Settings) -> Result<Finding> {
    let url = settings.database_url()?;
    let pairs = [
        ("POSTGRES_USER", url.username().to_string()),
        (
            "POSTGRES_PASSWORD",
            url.password().unwrap_or_default().to_string(),
        ),
        (
            "POSTGRES_DB",
            url.path().trim_start_matches('/').to_string(),
        ),
        ("POSTGRES_PORT", url.port().unwrap_or(5432).to_string()),
    ];
    let disagree: Vec<&str> = pairs
        .iter()
        .filter(|(key, value)| settings.get(key).is_some_and(|set| set != value))
        .map(|(key, _)| *key)
        .collect();
    Ok(if disagree.is_empty() {
        Finding::Ok("DATABASE_URL agrees with the compose settings (POSTGRES_*)".into())
    } else {
        Finding::Problem {
            what: format!("DATABASE_URL disagrees with {}", disagree.join(", ")),
            fix: "make them describe the same server in .env (compare with .env.example)".into(),
        }
    })
}

/// Dev/prod parity (Factor X): the local Postgres should be the major version compose pins.
fn local_postgres_matches_compose(root: &Path) -> Option<Finding> {
    let bin = local::postgres_bin_dir()?;
    let version = Command::new(bin.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let local_major = version
        .split_whitespace()
        .last()?
        .split('.')
        .next()?
        .to_string();
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).ok()?;
    let pinned = compose
        .lines()
        .find_map(|line| line.trim().strip_prefix("image: postgres:"))?
        .split(['-', '.'])
        .next()?
        .to_string();
    Some(if local_major == pinned {
        Finding::Ok(format!(
            "the local Postgres is {local_major}, the major version docker-compose.yml pins"
        ))
    } else {
        Finding::Note(format!(
            "the local Postgres is {local_major} but docker-compose.yml pins {pinned}: fine for the workshop, \
             but not dev/prod parity (Factor X)"
        ))
    })
}

fn mdbook(root: &Path) -> Finding {
    match crate::engine::tools::installed_mdbook(root) {
        Some(found) => Finding::Ok(format!(
            "mdBook {} at {} (for `cargo xtask book`; the book is also online at {})",
            crate::engine::tools::MDBOOK_VERSION,
            found.display(),
            crate::book::ONLINE_URL
        )),
        None => Finding::Note(format!(
            "mdBook {} is not installed yet: `cargo xtask book` installs it into your cache the \
             first time (a few minutes); or read the book online at {}",
            crate::engine::tools::MDBOOK_VERSION,
            crate::book::ONLINE_URL
        )),
    }
}
