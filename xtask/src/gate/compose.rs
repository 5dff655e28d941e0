//! `verify`'s compose step: `docker-compose.yml` parsed by a real Compose implementation, offline.

use crate::engine::tools;
use anyhow::{Result, ensure};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Parses the compose file with a real Compose implementation (no engine needed) and checks what the
/// kit promises: pinned major versions, healthchecks, loopback-only ports, env-driven credentials.
pub fn check(root: &Path) -> Result<String> {
    let validator = tools::compose(root)?;
    let output = Command::new(&validator[0])
        .args(&validator[1..])
        .args(["--file", "docker-compose.yml", "config", "--format", "json"])
        .current_dir(root)
        // Validate the defaults, not whatever this shell exports.
        .env_remove("POSTGRES_USER")
        .env_remove("POSTGRES_PASSWORD")
        .output()?;
    ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let config: Value = serde_json::from_slice(&output.stdout)?;
    for (service, image) in [("postgres", "postgres:"), ("redis", "redis:")] {
        let spec = &config["services"][service];
        ensure!(spec.is_object(), "no `{service}` service");
        let tag = spec["image"].as_str().unwrap_or_default();
        ensure!(
            tag.strip_prefix(image)
                .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit())),
            "`{service}` image {tag:?} does not pin a major version"
        );
        ensure!(
            spec["healthcheck"]["test"].is_array(),
            "`{service}` has no healthcheck"
        );
        for port in spec["ports"].as_array().into_iter().flatten() {
            ensure!(
                port["host_ip"] == "127.0.0.1",
                "`{service}` publishes a port beyond loopback"
            );
        }
    }
    let raw = std::fs::read_to_string(root.join("docker-compose.yml"))?;
    for variable in [
        "${POSTGRES_USER",
        "${POSTGRES_PASSWORD",
        "${POSTGRES_PORT",
        "${REDIS_PORT",
    ] {
        ensure!(
            raw.contains(variable),
            "docker-compose.yml does not take {variable}}} from the environment"
        );
    }
    Ok(format!("validated with `{}`", validator.join(" ")))
}
