//! The commands the book tells a reader to run, checked without running them.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// Every command a learner or instructor is told to run, in the book's `sh` and `console` blocks
/// (in `console`, the lines after `$ `; a trailing `\` joins the next line), must at least start:
/// `cargo xtask …` must parse as xtask's own command line (subcommand, flags, arguments), and
/// `cargo run|test|build -p PACKAGE [--bin NAME]` must name a workspace package, and a binary it has;
/// `cargo run` on a package with several binaries needs `--bin` (or `default-run`), or Cargo
/// stops with "could not determine which binary to run". Returns how many commands were checked.
pub fn check_commands(root: &Path) -> Result<usize> {
    let packages = workspace_binaries(root)?;
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("book/src"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    for page in pages {
        let text = std::fs::read_to_string(&page)?;
        let name = page.file_name().unwrap_or_default().to_string_lossy();
        for command in shell_commands(&text) {
            if let Some(problem) = command_problem(&command, &packages) {
                problems.push(format!("book/src/{name}: `{command}`: {problem}"));
            }
            checked += 1;
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} command(s) in the book would not run:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(checked)
}

/// The `cargo …` commands of a page's shell blocks, continuation lines joined, comments dropped.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut language: Option<String> = None;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            language = match language {
                Some(_) => None,
                None => Some(
                    info.split([',', ' '])
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
            };
            pending.clear();
            continue;
        }
        let Some(lang) = language.as_deref() else {
            continue;
        };
        let line = match lang {
            "sh" | "bash" | "shell" => trimmed,
            "console" if !pending.is_empty() => trimmed.trim_start_matches("> "),
            "console" => match trimmed.strip_prefix("$ ") {
                Some(command) => command,
                None => continue,
            },
            _ => continue,
        };
        let line = line.split(" #").next().unwrap_or_default().trim_end();
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                let command = pending.split_whitespace().collect::<Vec<_>>().join(" ");
                if command.contains("cargo ") {
                    commands.push(command);
                }
                pending.clear();
            }
        }
    }
    commands
}

/// What would stop `command` (one shell line with `cargo` in it).
fn command_problem(
    command: &str,
    packages: &std::collections::HashMap<String, (Vec<String>, bool)>,
) -> Option<String> {
    use clap::Parser;
    // Skip `VAR=value` prefixes, and stop at a pipe, redirection or `&&`.
    let words: Vec<&str> = command
        .split_whitespace()
        .skip_while(|word| *word != "cargo")
        .take_while(|word| !["|", ">", "2>", "&&", ";", "||"].contains(word))
        .collect();
    match words.get(1).copied() {
        Some("xtask") => {
            let args = std::iter::once("xtask").chain(words[2..].iter().copied());
            match crate::Cli::try_parse_from(args) {
                Ok(_) => None,
                Err(error) if !error.use_stderr() => None,
                Err(error) => Some(
                    error
                        .render()
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
            }
        }
        Some(verb @ ("run" | "test" | "build")) => {
            let value = |flag: &str| {
                words
                    .windows(2)
                    .find(|pair| pair[0] == flag)
                    .map(|pair| pair[1])
            };
            let package = value("-p").or_else(|| value("--package"))?;
            let Some((bins, default_run)) = packages.get(package) else {
                return Some(format!("no package {package} in the workspace"));
            };
            match value("--bin") {
                Some(bin) if !bins.iter().any(|b| b == bin) => Some(format!(
                    "{package} has no binary {bin} (it has: {})",
                    bins.join(", ")
                )),
                None if verb == "run" && bins.len() > 1 && !default_run => Some(format!(
                    "{package} has {} binaries and no default-run: Cargo cannot determine which \
                     binary to run; add --bin {package}",
                    bins.len()
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Each workspace package's binaries, and whether it names a `default-run`.
fn workspace_binaries(
    root: &Path,
) -> Result<std::collections::HashMap<String, (Vec<String>, bool)>> {
    let output = crate::engine::testrun::cargo_command()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut packages = std::collections::HashMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default().to_string();
        let bins = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
            })
            .filter_map(|target| target["name"].as_str().map(str::to_owned))
            .collect();
        packages.insert(name, (bins, package["default_run"].is_string()));
    }
    Ok(packages)
}

#[cfg(test)]
mod command_tests {
    use super::*;

    #[test]
    fn commands_are_read_from_shell_and_console_blocks() {
        let page = "```sh\ncargo xtask services up   # start\nA=1 cargo run -p x \\\n  --bin y\n```\n\
                    ```console\n$ cargo xtask hint 6\nout\n$ echo\n```\n```text\ncargo nope\n```\n";
        assert_eq!(
            shell_commands(page),
            [
                "cargo xtask services up",
                "A=1 cargo run -p x --bin y",
                "cargo xtask hint 6"
            ]
        );
    }

    #[test]
    fn a_command_that_would_not_run_is_named() {
        let mut packages = std::collections::HashMap::new();
        packages.insert("one".to_string(), (vec!["one".to_string()], false));
        packages.insert(
            "two".to_string(),
            (vec!["two".into(), "two-admin".into()], false),
        );
        let problem = |command: &str| command_problem(command, &packages);
        assert_eq!(problem("PORT=1 cargo run -p one"), None);
        assert!(
            problem("cargo run -p two")
                .unwrap()
                .contains("cannot determine")
        );
        assert_eq!(problem("cargo run -q -p two --bin two-admin"), None);
        assert_eq!(problem("cargo build -p two"), None);
        assert!(
            problem("cargo run -p two --bin three")
                .unwrap()
                .contains("no binary three")
        );
        assert!(
            problem("cargo test -p nope")
                .unwrap()
                .contains("no package nope")
        );
        assert_eq!(problem("cargo xtask hint 6 --level 1"), None);
        assert_eq!(problem("cargo xtask status --json > x.json"), None);
        assert!(problem("cargo xtask hint 6 --levle 1").is_some());
        assert!(problem("cargo xtask frobnicate").is_some());
    }

    #[test]
    fn every_command_in_the_kit_book_would_run() {
        let checked = check_commands(&crate::project_root().unwrap());
        assert!(checked.is_ok(), "{checked:?}");
    }
}
