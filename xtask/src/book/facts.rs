//! Facts the book states that the kit's own files fix, taken from there, and the lints that keep
//! chapters from typing them by hand.
//!
//! `{{#kit NAME ARGS}}`, anywhere in a line:
//!
//! - `{{#kit checks N}}` / `{{#kit Checks N}}`: how many checks factor N has (its check file's
//!   `#[test]` functions), as a word ("five" / "Five").
//! - `{{#kit postgres-version}}`, `{{#kit redis-version}}`: the major versions `docker-compose.yml`
//!   pins (`15`, `7`); `{{#kit postgres-image}}`, `{{#kit redis-image}}`: its images
//!   (`postgres:15-alpine`).
//! - `{{#kit locked CRATE}}`: the version of CRATE in `Cargo.lock` (`0.8.9`).
//! - `{{#kit mdbook-version}}`: the pinned mdBook.
//!
//! The lints (`typed_facts`): in a factor's chapter, the sentence that counts its checks and the
//! durations in the descriptions of its checks must come from the check file (this directive and
//! `{{#check-const}}`); anywhere, an image tag the compose file pins must come from it.

use super::preprocessor::Kit;
use crate::engine::manifest::Factor;
use anyhow::{Context, Result, bail};
use std::path::Path;

const OPEN: &str = "{{#kit ";

/// Replaces every `{{#kit …}}` in `line`.
pub fn expand(line: &str, kit: &Kit) -> Result<String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{#kit …}}}} in: {}", line.trim()))?;
        let args: Vec<&str> = after[..end].split_whitespace().collect();
        out.push_str(&fact(&args, kit).with_context(|| format!("{{{{#kit {}}}}}", &after[..end]))?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fact(args: &[&str], kit: &Kit) -> Result<String> {
    match args {
        [which @ ("checks" | "Checks"), factor] => {
            let factor = kit.manifest.find(factor)?;
            let count = check_count(&kit.quoted, factor)?;
            let word = number_word(count)
                .with_context(|| format!("{count} checks is more than the words this knows"))?;
            Ok(if *which == "Checks" {
                capitalised(word)
            } else {
                word.to_string()
            })
        }
        ["postgres-version"] => Ok(major(&compose_image(kit.root, "postgres")?)),
        ["redis-version"] => Ok(major(&compose_image(kit.root, "redis")?)),
        ["postgres-image"] => compose_image(kit.root, "postgres"),
        ["redis-image"] => compose_image(kit.root, "redis"),
        ["locked", name] => locked_version(kit.root, name),
        ["mdbook-version"] => Ok(crate::engine::tools::MDBOOK_VERSION.to_string()),
        _ => bail!(
            "unknown fact; known: checks N, Checks N, postgres-version, redis-version, \
             postgres-image, redis-image, locked CRATE, mdbook-version"
        ),
    }
}

/// How many checks factor `factor` has: the `#[test]` functions of its check file.
pub fn check_count(quoted: &Path, factor: &Factor) -> Result<usize> {
    let file = format!("kit/checks/{}.rs", factor.dir_name());
    let source = std::fs::read_to_string(quoted.join(&file))
        .with_context(|| format!("cannot read {file}"))?;
    Ok(source
        .lines()
        .filter(|line| line.trim() == "#[test]")
        .count())
}

const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

fn number_word(count: usize) -> Option<&'static str> {
    NUMBER_WORDS.get(count).copied()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `image:` of the compose service whose image is `name:…` (`postgres:15-alpine`).
fn compose_image(root: &Path, name: &str) -> Result<String> {
    let text = std::fs::read_to_string(root.join("docker-compose.yml"))
        .context("cannot read docker-compose.yml")?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("image:"))
        .map(|image| image.trim().trim_matches('"').to_string())
        .find(|image| image.split_once(':').is_some_and(|(repo, _)| repo == name))
        .with_context(|| format!("docker-compose.yml has no `image: {name}:…`"))
}

/// Marks a line that names a Postgres or Redis version for what that version itself does
/// ("Redis 7 added `EXPIRE … NX`"), not as the one the kit runs.
pub const NOT_THE_KITS_VERSION: &str = "<!-- not the kit's version -->";

/// `(service, major)` of the versions `docker-compose.yml` pins: `("postgres", "15")`.
pub fn pinned_versions(root: &Path) -> Vec<(&'static str, String)> {
    ["postgres", "redis"]
        .into_iter()
        .filter_map(|service| Some((service, major(&compose_image(root, service).ok()?))))
        .collect()
}

/// The versions of Postgres and Redis a line names (`Postgres 15`, `postgresql@15`, `Redis 7`),
/// as `(service, major)`; not a port (`redis 6379`) nor a longer version (`Redis 7.2`).
pub fn service_versions(line: &str) -> Vec<(&'static str, String)> {
    let lower = line.to_lowercase();
    let mut found = Vec::new();
    for (service, names) in [
        (
            "postgres",
            ["postgresql@", "postgresql ", "postgres "].as_slice(),
        ),
        ("redis", ["redis@", "redis "].as_slice()),
    ] {
        for name in names {
            for (at, _) in lower.match_indices(name) {
                let before = lower[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                    continue;
                }
                let rest = &lower[at + name.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let after: Vec<char> = rest[digits.len()..].chars().take(2).collect();
                let longer = match after.as_slice() {
                    [c, ..] if c.is_ascii_digit() => true,
                    ['.' | ':', next, ..] => next.is_ascii_digit(),
                    _ => false,
                };
                if (1..=2).contains(&digits.len()) && !longer {
                    found.push((service, digits));
                }
            }
        }
    }
    found
}

/// `postgres:15-alpine` → `15`.
fn major(image: &str) -> String {
    let tag = image.split_once(':').map_or("", |(_, tag)| tag);
    tag.chars().take_while(char::is_ascii_digit).collect()
}

/// The version `Cargo.lock` fixes for crate `name` (the only one, or it fails: say which).
fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock: toml::Table = toml::from_str(
        &std::fs::read_to_string(root.join("Cargo.lock")).context("cannot read Cargo.lock")?,
    )?;
    let versions: Vec<String> = lock
        .get("package")
        .and_then(|packages| packages.as_array())
        .into_iter()
        .flatten()
        .filter(|package| package.get("name").and_then(|n| n.as_str()) == Some(name))
        .filter_map(|package| package.get("version")?.as_str().map(str::to_owned))
        .collect();
    match versions.as_slice() {
        [version] => Ok(version.clone()),
        [] => bail!("Cargo.lock has no crate {name}"),
        many => bail!("Cargo.lock has {name} {}: name one", many.join(" and ")),
    }
}

/// The facts `content` types by hand that the kit fixes. `factor` is the chapter's factor, if it
/// is a factor's chapter.
pub fn typed_facts(
    content: &str,
    factor: Option<&Factor>,
    root: &Path,
    quoted: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    let pinned = pinned_versions(root);
    for (index, line) in content.lines().enumerate() {
        let at = index + 1;
        if !line.contains(NOT_THE_KITS_VERSION) {
            for (service, version) in service_versions(line) {
                if pinned.contains(&(service, version.clone())) {
                    problems.push(format!(
                        "line {at}: “{service} {version}” types the version docker-compose.yml pins \
                         by hand; write {{{{#kit {service}-version}}}} (or, for a fact about that \
                         version itself, end the line with `{NOT_THE_KITS_VERSION}`)"
                    ));
                }
            }
        }
        for image in ["postgres:", "redis:"] {
            for (found, _) in line.match_indices(image) {
                // `postgres:15-alpine`, not `redis:6379` (a host and port).
                let digits = line[found + image.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .count();
                if (1..=2).contains(&digits) {
                    problems.push(format!(
                        "line {at}: `{image}…` types the image docker-compose.yml pins by hand; \
                         write {{{{#kit {}-image}}}} (or {{{{#kit {}-version}}}})",
                        image.trim_end_matches(':'),
                        image.trim_end_matches(':'),
                    ));
                }
            }
        }
    }
    let Some(factor) = factor else {
        return problems;
    };
    let source = quoted_checks(factor, quoted).unwrap_or_default();
    let constants = durations_of(&source);
    let limits = limits_of(&source);
    for (at, line) in exercise_section(content) {
        if let Some(count) = typed_check_count(line) {
            problems.push(format!(
                "line {at}: “{count} checks” counts the checks by hand; write {{{{#kit Checks {}}}}} \
                 (kit/checks/{}.rs decides)",
                factor.number,
                factor.dir_name()
            ));
        }
        let quoted_line = line.trim_start().starts_with('>');
        let describes_a_check = line.trim_start().starts_with("- **`")
            || line.trim_start().starts_with('|')
            || (line.starts_with("  ") && !quoted_line);
        if !describes_a_check {
            continue;
        }
        for (number, unit) in typed_durations(line) {
            let seconds = ["s", "second", "seconds"].contains(&unit.as_str());
            let same: Vec<&str> = constants
                .iter()
                .filter(|(_, value, in_seconds)| *value == number && *in_seconds == seconds)
                .map(|(name, ..)| name.as_str())
                .collect();
            if let Some(first) = same.first() {
                problems.push(format!(
                    "line {at}: “{number} {unit}” types the value of `{}` in kit/checks/{}.rs by \
                     hand; write {{{{#check-const {} {first}}}}} (or the constant meant)",
                    same.join("` or `"),
                    factor.dir_name(),
                    factor.number
                ));
            }
        }
        for number in typed_numbers(line) {
            if let Some((name, _)) = limits.iter().find(|(_, value)| *value == number) {
                problems.push(format!(
                    "line {at}: “{number}” types the value of `{name}` in kit/checks/{}.rs by hand; \
                     write {{{{#check-const {} {name}}}}}",
                    factor.dir_name(),
                    factor.number
                ));
            }
        }
    }
    problems
}

/// `(name, value)` of the plain integer constants of a check file (`const MESSAGE_LIMIT: usize =
/// 280;`) of at least 10, the limits a chapter states: smaller numbers are too often a count of
/// something else in the same sentence.
fn limits_of(source: &str) -> Vec<(String, String)> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let (name, rest) = line.strip_prefix("const ")?.split_once(':')?;
            let (kind, value) = rest.split_once('=')?;
            let name = name.trim();
            let integer = ["usize", "u64", "u32", "u16", "i64", "i32"].contains(&kind.trim());
            let duration_named = ["_MS", "_MILLIS", "_SECS", "_SECONDS"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            let value: String = value
                .trim()
                .trim_end_matches(';')
                .chars()
                .filter(|c| *c != '_')
                .collect();
            let number = value.parse::<u64>().ok()?;
            (integer && !duration_named && number >= 10).then(|| (name.to_string(), value))
        })
        .collect()
}

/// The bare numbers typed in `line` (not in inline code, not part of a word or another number).
fn typed_numbers(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (index, piece) in line.split('`').enumerate() {
        if index % 2 == 1 {
            continue;
        }
        for word in piece.split(|c: char| c.is_whitespace() || "(),;:".contains(c)) {
            let word = word.trim_end_matches('.');
            if !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
                found.push(word.to_string());
            }
        }
    }
    found
}

/// The check file the book quotes, for the lints.
fn quoted_checks(factor: &Factor, quoted: &Path) -> Option<String> {
    std::fs::read_to_string(quoted.join(format!("kit/checks/{}.rs", factor.dir_name()))).ok()
}

/// `(name, value, in seconds?)` of every duration constant of a check file:
/// `Duration::from_secs(2)`, `Duration::from_millis(500)`, and integers named `…_MS`, `…_MILLIS`,
/// `…_SECS`, `…_SECONDS`.
fn durations_of(source: &str) -> Vec<(String, String, bool)> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let (name, rest) = line.strip_prefix("const ")?.split_once(':')?;
            let value = rest.split_once('=')?.1.trim().trim_end_matches(';').trim();
            let name = name.trim();
            let (number, seconds) = if let Some(secs) = value
                .strip_prefix("Duration::from_secs(")
                .and_then(|v| v.strip_suffix(')'))
            {
                (secs, true)
            } else if let Some(millis) = value
                .strip_prefix("Duration::from_millis(")
                .and_then(|v| v.strip_suffix(')'))
            {
                (millis, false)
            } else if name.ends_with("_MS") || name.ends_with("_MILLIS") {
                (
                    value
                        .split(|c: char| !c.is_ascii_digit() && c != '_')
                        .next()?,
                    false,
                )
            } else if name.ends_with("_SECS") || name.ends_with("_SECONDS") {
                (
                    value
                        .split(|c: char| !c.is_ascii_digit() && c != '_')
                        .next()?,
                    true,
                )
            } else {
                return None;
            };
            let number: String = number.chars().filter(|c| *c != '_').collect();
            (!number.is_empty()).then(|| (name.to_string(), number, seconds))
        })
        .collect()
}

/// `(line number, line)` of the "## The exercise" section (the checks are described there).
fn exercise_section(content: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut inside = false;
    content
        .lines()
        .enumerate()
        .filter_map(move |(index, line)| {
            if let Some(title) = line.strip_prefix("## ") {
                inside = title.trim() == "The exercise";
                return None;
            }
            inside.then_some((index + 1, line))
        })
}

/// "Five" in "Five checks run…": a line that opens with a count of checks (a number word or
/// digits). A count inside a sentence ("… and two checks turn green") is of some of them.
fn typed_check_count(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let number = words.next()?.trim_start_matches(['*', '_']);
    let is_number = NUMBER_WORDS.contains(&number.to_ascii_lowercase().as_str())
        || (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit()));
    let checks = words.next()?.trim_end_matches([',', '.', ':', ';']);
    (is_number && checks == "checks").then(|| number.to_string())
}

/// `(number, unit)` of each "2 s", "500 ms", "10 seconds" typed in `line` (not in inline code).
fn typed_durations(line: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut in_code = false;
    let words: Vec<&str> = line.split(' ').collect();
    for pair in words.windows(2) {
        in_code ^= pair[0].matches('`').count() % 2 == 1;
        if in_code {
            continue;
        }
        let number = pair[0].trim_start_matches('(');
        let unit = pair[1].trim_end_matches([',', '.', ':', ';', ')']);
        if !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && ["s", "ms", "second", "seconds"].contains(&unit)
        {
            found.push((number.to_string(), unit.to_string()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_version_typed_in_prose_is_named() {
        let root = crate::project_root().unwrap();
        let pinned = pinned_versions(&root);
        let (_, postgres) = pinned.iter().find(|(s, _)| *s == "postgres").unwrap();
        let (_, redis) = pinned.iter().find(|(s, _)| *s == "redis").unwrap();
        let page = format!(
            "Postgres {postgres} and Redis {redis}.\n`brew install postgresql@{postgres}`\n\
             Postgres {{{{#kit postgres-version}}}}, redis 6379, Redis {redis}.2\n\
             Postgres {postgres} removed it. {NOT_THE_KITS_VERSION}\n"
        );
        let problems = typed_facts(&page, None, &root, &root);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with(&format!("line 1: “postgres {postgres}”")));
        assert!(problems[1].starts_with(&format!("line 1: “redis {redis}”")));
        assert!(problems[2].starts_with("line 2: “postgres"));
    }

    #[test]
    fn facts_come_from_the_compose_file_the_lock_file_and_the_checks() {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let kit = Kit::as_checked_out(&root, &manifest);
        let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
        let postgres = expand("{{#kit postgres-image}}", &kit).unwrap();
        assert!(
            compose.contains(&format!("image: {postgres}")),
            "{postgres}"
        );
        let major = expand("Postgres {{#kit postgres-version}}", &kit).unwrap();
        assert!(
            postgres.starts_with(&format!("postgres:{}", &major[9..])),
            "{major}"
        );
        let tests = std::fs::read_to_string(root.join("kit/checks/06-processes.rs"))
            .unwrap()
            .matches("#[test]")
            .count();
        assert_eq!(
            expand("{{#kit Checks 6}} checks, {{#kit checks vi}}", &kit).unwrap(),
            format!(
                "{} checks, {}",
                capitalised(NUMBER_WORDS[tests]),
                NUMBER_WORDS[tests]
            )
        );
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
        let axum = expand("{{#kit locked axum}}", &kit).unwrap();
        assert!(
            lock.contains(&format!("name = \"axum\"\nversion = \"{axum}\"")),
            "{axum}"
        );
        assert!(expand("{{#kit locked no-such-crate}}", &kit).is_err());
        assert!(expand("{{#kit nonsense}}", &kit).is_err());
        assert!(expand("{{#kit checks 6", &kit).is_err());
    }

    #[test]
    fn counts_durations_and_images_typed_by_hand_are_named() {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let factor = manifest.find("9").unwrap();
        let checks = std::fs::read_to_string(root.join("kit/checks/09-disposability.rs")).unwrap();
        let constants = durations_of(&checks);
        let (name, start, _) = constants
            .iter()
            .find(|(name, _, seconds)| name == "START_BOUND" && *seconds)
            .expect("IX's checks bound the start-up in seconds");
        let chapter = format!(
            "## The anti-pattern\nIt takes {start} s.\n## The exercise\n\
             Four checks run the binary, and two checks turn green first.\n\
             - **`starts`** expects `GET /health` within {start} s, and `within {start} s`.\n\
             - **`stops`** exits within {{{{#check-const 9 EXIT_BOUND}}}} s, in 987654 s.\n\
             > Hints: within {start} s.\n\
             | start-up | 200 within {start} seconds |\n\
             ## Going further\nFive checks elsewhere; image postgres:15-alpine, redis://redis:6379\n"
        );
        let problems = typed_facts(&chapter, Some(factor), &root, &root);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(
            problems[0].contains("line 10: `postgres:…`"),
            "{problems:#?}"
        );
        assert!(
            problems[1].contains("line 4: “Four checks”"),
            "{problems:#?}"
        );
        assert!(
            problems[2].contains(&format!("line 5: “{start} s” types the value of `{name}")),
            "{problems:#?}"
        );
        assert!(
            problems[3].contains(&format!("line 8: “{start} seconds”")),
            "{problems:#?}"
        );
        assert_eq!(
            durations_of(
                "const A: Duration = Duration::from_millis(1_500);\nconst B_MS: u64 = 20;\nconst C: u32 = 3;\n"
            ),
            [
                ("A".to_string(), "1500".to_string(), false),
                ("B_MS".into(), "20".into(), false)
            ]
        );
    }
}
