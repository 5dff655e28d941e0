//! `.devcontainer/devcontainer.json`, validated offline: it must parse (JSON with comments), give
//! Postgres and Redis at the major versions `docker-compose.yml` pins, and run xtask commands that
//! exist. (Its JSON schema is not available offline; what matters to the kit is checked here.)

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use std::path::Path;

const FILE: &str = ".devcontainer/devcontainer.json";

/// Redis's major version in each Debian release a dev container image may be based on.
const DEBIAN_REDIS: &[(&str, u32)] = &[("bookworm", 7), ("trixie", 8)];

pub fn check(root: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(root.join(FILE)).with_context(|| format!("{FILE} is missing"))?;
    let config: serde_json::Value = serde_json::from_str(&without_comments(&text))
        .with_context(|| format!("{FILE} is not JSON (with comments)"))?;
    let compose = std::fs::read_to_string(root.join("docker-compose.yml"))?;
    let postgres = compose_major(&compose, "postgres")?;
    let redis = compose_major(&compose, "redis")?;

    let image = config["image"]
        .as_str()
        .with_context(|| format!("{FILE} names no \"image\""))?;
    let (release, image_redis) = DEBIAN_REDIS
        .iter()
        .find(|(release, _)| image.contains(release))
        .with_context(|| {
            format!("{FILE}: image {image} is not based on a Debian release the kit knows")
        })?;
    ensure!(
        *image_redis == redis,
        "{FILE}: {image} is Debian {release}, whose Redis is {image_redis}, but docker-compose.yml pins \
         Redis {redis}"
    );
    let setup = config["postCreateCommand"]
        .as_str()
        .with_context(|| format!("{FILE} has no \"postCreateCommand\" (a string)"))?;
    ensure!(
        setup.contains(&format!("postgresql-{postgres} "))
            || setup.ends_with(&format!("postgresql-{postgres}")),
        "{FILE}: postCreateCommand must install postgresql-{postgres}, the major docker-compose.yml pins"
    );
    ensure!(
        setup.contains("redis-server"),
        "{FILE}: postCreateCommand must install redis-server"
    );
    let mut commands = 0;
    for key in ["postCreateCommand", "postStartCommand"] {
        for command in config[key].as_str().unwrap_or_default().split("&&") {
            let words: Vec<&str> = command.split_whitespace().collect();
            if let ["cargo", "xtask", args @ ..] = words.as_slice() {
                let argv = std::iter::once("cargo xtask").chain(args.iter().copied());
                if let Err(err) = crate::Cli::try_parse_from(argv) {
                    bail!(
                        "{FILE}: {key} runs `{}`, which xtask rejects: {}",
                        command.trim(),
                        err.kind()
                    );
                }
                commands += 1;
            }
        }
    }
    ensure!(commands > 0, "{FILE} never runs `cargo xtask services up`");
    Ok(format!(
        "Postgres {postgres} and Redis {redis} as compose pins them, {commands} xtask commands"
    ))
}

/// The major version of `service`'s image in the compose file (`image: postgres:15-alpine` → 15).
fn compose_major(compose: &str, service: &str) -> Result<u32> {
    compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix("image:"))
        .map(str::trim)
        .find(|image| image.starts_with(&format!("{service}:")))
        .and_then(|image| {
            let tag = image.split_once(':')?.1;
            tag.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| format!("docker-compose.yml has no pinned `{service}:<major>` image"))
}

/// JSON with `//` and `/* */` comments, as dev containers allow, made plain JSON. Comment markers
/// inside strings (a URL's `//`) are left alone.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for next in chars.by_ref() {
                    if last == '*' && next == '/' {
                        break;
                    }
                    last = next;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kits_dev_container_matches_its_compose_file() {
        check(&crate::project_root().unwrap()).unwrap();
    }

    #[test]
    fn comments_go_and_strings_stay() {
        let text = "// top\n{ \"url\": \"https://x\", /* inline */ \"a\": 1 // end\n}";
        let value: serde_json::Value = serde_json::from_str(&without_comments(text)).unwrap();
        assert_eq!(value["url"], "https://x");
        assert_eq!(value["a"], 1);
    }

    #[test]
    fn a_postgres_major_out_of_step_with_compose_is_named() {
        let root = crate::project_root().unwrap();
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join(".devcontainer")).unwrap();
        let text = std::fs::read_to_string(root.join(FILE)).unwrap();
        std::fs::write(
            copy.path().join(FILE),
            text.replace("postgresql-15", "postgresql-16"),
        )
        .unwrap();
        std::fs::copy(
            root.join("docker-compose.yml"),
            copy.path().join("docker-compose.yml"),
        )
        .unwrap();
        let err = check(copy.path()).unwrap_err().to_string();
        assert!(err.contains("must install postgresql-15"), "{err}");
    }
}
