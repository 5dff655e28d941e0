//! The book's own directives, besides `{{#exercise N}}` and `{{#hints N}}`:
//!
//! - `{{#check-const N NAME}}`, anywhere in a line: the value of `const NAME` in factor N's check file
//!   (`kit/checks/NN-slug.rs`), so the numbers and names the book quotes from the checks cannot drift
//!   from them. A missing constant fails the book build.

use crate::engine::manifest::Manifest;
use anyhow::{Context, Result, bail};
use kit_common::check_const::{const_value, render};
use std::path::Path;

/// Replaces every inline `{{#check-const N NAME}}` in `line`.
pub fn expand_inline(line: &str, root: &Path, manifest: &Manifest) -> Result<String> {
    const OPEN: &str = "{{#check-const ";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{#check-const …}}}} in: {}", line.trim()))?;
        let args: Vec<&str> = after[..end].split_whitespace().collect();
        let [factor, name] = args[..] else {
            bail!(
                "{{{{#check-const {}}}}}: expected a factor and a constant's name",
                &after[..end]
            );
        };
        out.push_str(&check_const(root, manifest, factor, name)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `const name` in the factor's check file, as the book should print it.
pub fn check_const(root: &Path, manifest: &Manifest, factor: &str, name: &str) -> Result<String> {
    let factor = manifest.find(factor)?;
    let file = format!("kit/checks/{}.rs", factor.dir_name());
    let source = std::fs::read_to_string(root.join(&file))
        .with_context(|| format!("{{{{#check-const}}}}: cannot read {file}"))?;
    let value = const_value(&source, name)
        .with_context(|| format!("{{{{#check-const}}}}: {file} has no `const {name}`"))?;
    render(value).with_context(|| {
        format!("{{{{#check-const}}}}: cannot print `const {name} = {value}` from {file}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_quotes_the_checks_and_a_missing_constant_fails() {
        let root = crate::project_root().unwrap();
        let manifest = crate::engine::manifest::kit();
        let line = "sends {{#check-const 6 TOTAL_VISITS}} visits from {{#check-const vi CLIENTS}} clients\n";
        assert_eq!(
            expand_inline(line, &root, &manifest).unwrap(),
            "sends 120 visits from 16 clients\n"
        );
        assert!(expand_inline("{{#check-const 6 NO_SUCH}}", &root, &manifest).is_err());
        assert!(expand_inline("{{#check-const 6 TOTAL_VISITS", &root, &manifest).is_err());
    }
}

/// `{{#minutes N}}`, anywhere in a line: the `minutes` of factor N (or of the session named N,
/// e.g. `deploy-demo`) from factors.toml.
pub fn expand_minutes(line: &str, manifest: &Manifest) -> Result<String> {
    const OPEN: &str = "{{#minutes ";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{#minutes …}}}} in: {}", line.trim()))?;
        let name = after[..end].trim();
        let minutes = match manifest.session(name) {
            Some(session) => session.minutes,
            None => manifest.find(name)?.minutes,
        };
        out.push_str(&minutes.to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A fixed slot of an agenda: its name in the directive, minutes and what happens.
const SLOTS: &[(&str, u32, &str)] = &[
    (
        "welcome",
        15,
        "Welcome, twelve-factor in five minutes, a tour of the noticeboard \
         ([notes](instructor-guide.md#the-welcome-and-the-tour))",
    ),
    (
        // Rehearsed: 25 minutes, since some laptops still build cold (2:45 to 3:24 with the crates
        // already downloaded), and a few need help with their services.
        "first-check",
        25,
        "Everyone runs `cargo xtask check 1`, the day's one first command, and sees red; \
         whoever sees an error instead gets help now ([Set-up](setup.md))",
    ),
    ("break", 15, "Break"),
    // 45 minutes, so that the rehearsed session lengths fit a 9:00 to 17:00 day.
    ("lunch", 45, "Lunch"),
    (
        "wrap-up",
        10,
        "Wrap-up: what each learner will change first in their own service; feedback \
         ([What next](what-next.md))",
    ),
];

/// The most an agenda may leave unplanned at its end (shown as a catch-up slot), in minutes.
const MAX_BUFFER: u32 = 30;

/// `{{#agenda 9:00-12:00 welcome first-check 3 4 break 6:demo-plus-homework …}}`: a timetable from factors.toml's
/// minutes and the fixed slots above. Fails when the day overruns its window, or leaves more than
/// `MAX_BUFFER` minutes unplanned (a slot with nothing in it); what is left over, if anything,
/// becomes a catch-up slot.
pub fn agenda(spec: &str, manifest: &Manifest) -> Result<String> {
    let mut words = spec.split_whitespace();
    let window = words
        .next()
        .context("{{#agenda}}: no time window such as 9:00-12:00")?;
    let (start, end) = window
        .split_once('-')
        .and_then(|(start, end)| Some((clock(start)?, clock(end)?)))
        .with_context(|| {
            format!("{{{{#agenda}}}}: {window:?} is not a window such as 9:00-12:00")
        })?;
    let mut rows = Vec::new();
    for word in words {
        if let Some((_, minutes, what)) = SLOTS.iter().find(|(name, ..)| *name == word) {
            rows.push((*minutes, (*what).to_string()));
            continue;
        }
        if let Some(session) = manifest.session(word) {
            rows.push((
                session.minutes,
                format!("[{}]({})", session.title, session.chapter),
            ));
            continue;
        }
        // `2:demo-plus-homework`: the factor, then how the session runs, dashes read as spaces.
        let (word, how) = match word.split_once(':') {
            Some((word, how)) => (word, format!(": {}", how.replace('-', " "))),
            None => (word, String::new()),
        };
        let factor = manifest.find(word)?;
        let what = if factor.available {
            format!(
                "[{}. {}]({}){how}",
                factor.roman, factor.title, factor.chapter
            )
        } else {
            // No page to link to yet: the chapter is a draft in SUMMARY.md.
            format!(
                "{}. {}: a talk and a discussion (no exercise in this checkout yet)",
                factor.roman, factor.title
            )
        };
        rows.push((factor.minutes, what));
    }
    let planned: u32 = rows.iter().map(|(minutes, _)| minutes).sum();
    let window_minutes = end
        .checked_sub(start)
        .context("{{#agenda}}: the window ends before it starts")?;
    if planned > window_minutes {
        bail!(
            "{{{{#agenda {spec}}}}} plans {planned} minutes, {} more than its window",
            planned - window_minutes
        );
    }
    let left = window_minutes - planned;
    if left > MAX_BUFFER {
        bail!(
            "{{{{#agenda {spec}}}}} leaves {left} minutes unplanned (at most {MAX_BUFFER}): add a factor or shorten the window"
        );
    }
    if left > 0 {
        // Before the wrap-up, so the day still ends with it.
        let at = rows.len() - usize::from(spec.ends_with(" wrap-up"));
        rows.insert(
            at,
            (
                left,
                "Catch-up: finish an exercise, or apply the reference (`cargo xtask solution N \
                 --apply`, [the catch-up path](instructor-guide.md#the-catch-up-path)) and move \
                 on; questions"
                    .to_string(),
            ),
        );
    }
    let mut table = String::from("| time | minutes | segment |\n|---|---|---|\n");
    let mut at = start;
    for (minutes, what) in rows {
        table.push_str(&format!("| {} | {minutes} | {what} |\n", show_clock(at)));
        at += minutes;
    }
    table.push_str(&format!("| {} | | End |\n", show_clock(at)));
    Ok(table)
}

/// `9:30` as minutes after midnight.
fn clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

fn show_clock(minutes: u32) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// The session plan in a chapter's instructor notes, a table whose first column is minutes, must
/// add up to the session's `minutes` in factors.toml (`expected`, for `what`: a factor or a
/// `[[session]]`), so the session plan and the agendas agree. Its header is `| minutes | …` or,
/// when the table also plans a longer session beside the agendas' one, `| {{#minutes N}} min | …`
/// (Factor IX): the first column is the agendas' session either way.
pub fn session_table_problem(content: &str, expected: u32, what: &str) -> Option<String> {
    let is_header = |line: &&str| {
        line.starts_with("| minutes |")
            || (line.starts_with("| {{#minutes ") && line.contains("}} min |"))
    };
    let mut lines = content.lines().skip_while(|line| !is_header(line));
    lines.next()?;
    let total: u32 = lines
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            line.trim_start_matches('|')
                .split('|')
                .next()?
                .trim()
                .parse::<u32>()
                .ok()
        })
        .sum();
    (total != expected).then(|| {
        format!(
            "the instructor notes' session plan adds up to {total} minutes, but factors.toml gives \
             {what} {expected}"
        )
    })
}

#[cfg(test)]
mod session_table_tests {
    use super::session_table_problem;

    #[test]
    fn a_session_plan_must_add_up_to_the_manifests_minutes() {
        let plan = "Plan it:\n\n| minutes | what |\n|---|---|\n| 5 | The rule |\n| 20 | Exercise |\n\nText.";
        assert_eq!(session_table_problem(plan, 25, "Factor VI"), None);
        let problem = session_table_problem(plan, 30, "Factor VI").unwrap();
        assert!(
            problem.contains("adds up to 25") && problem.contains("30"),
            "{problem}"
        );
    }

    /// Factor IX's table plans the agendas' session and a longer one side by side: its first
    /// column is still checked.
    #[test]
    fn a_plan_beside_a_longer_one_is_checked_on_its_first_column() {
        let plan = "| {{#minutes 9}} min | 70 min | what |\n|---|---|---|\n| 5 | 10 | Demo |\n| 30 | 60 | Exercise |\n";
        assert_eq!(session_table_problem(plan, 35, "Factor IX"), None);
        assert!(session_table_problem(plan, 40, "Factor IX").is_some());
    }
}

#[cfg(test)]
mod agenda_tests {
    use super::*;

    #[test]
    fn an_agenda_adds_up_from_the_manifest_and_fills_its_window() {
        let manifest = crate::engine::manifest::kit();
        let minutes = |n: &str| manifest.find(n).unwrap().minutes;
        let planned = 15 + minutes("3") + minutes("6");
        let end = 9 * 60 + planned + 10;
        let spec = format!("9:00-{} welcome 3 6", show_clock(end));
        let table = agenda(&spec, &manifest).unwrap();
        assert!(table.contains("| 9:00 | 15 | Welcome"), "{table}");
        assert!(table.contains("| 10 | Catch-up"), "{table}");
        // The catch-up row names the command that applies the reference, not the one that only
        // prints a diff.
        assert!(
            table.contains("`cargo xtask solution N --apply`"),
            "{table}"
        );
        let noted = agenda(
            &format!("9:00-{} welcome 3:demo-plus-homework 6", show_clock(end)),
            &manifest,
        )
        .unwrap();
        assert!(
            noted.contains("(03-config.md): demo plus homework |"),
            "{noted}"
        );
        assert!(
            table.contains(&format!("| {} | | End |", show_clock(end))),
            "{table}"
        );
        assert!(
            agenda("9:00-9:30 welcome 3 6", &manifest).is_err(),
            "overrun"
        );
        assert!(
            agenda("9:00-17:00 welcome", &manifest).is_err(),
            "empty afternoon"
        );
        assert!(
            agenda("9:00-12:00 welcome 13", &manifest).is_err(),
            "no factor 13"
        );
    }

    #[test]
    fn minutes_come_from_the_manifest() {
        let manifest = crate::engine::manifest::kit();
        let expected = format!("Plan {} minutes.", manifest.find("6").unwrap().minutes);
        assert_eq!(
            expand_minutes("Plan {{#minutes 6}} minutes.", &manifest).unwrap(),
            expected
        );
    }
}

/// `{{#cheatsheets}}`: one printable page per factor, from factors.toml: the rule, the
/// anti-pattern, the fix, the command that checks it, and where to read more.
pub fn cheatsheets(manifest: &Manifest) -> String {
    let mut out = String::new();
    for factor in &manifest.factors {
        let services = match factor.services.as_slice() {
            [] => "none".to_string(),
            list => list
                .iter()
                .map(|service| service.name())
                .collect::<Vec<_>>()
                .join(" and "),
        };
        let chapter = if factor.available {
            format!("[the chapter]({})", factor.chapter)
        } else {
            "the chapter (not in this checkout yet)".to_string()
        };
        let check = if factor.available {
            format!(
                "`cargo xtask check {n}` (hints: `cargo xtask hint {n}`; backing services: {services})",
                n = factor.number
            )
        } else {
            format!(
                "`cargo xtask check {}` once the exercise ships; until then, discuss it",
                factor.number
            )
        };
        out.push_str(&format!(
            "<section class=\"cheatsheet\">\n\n\
             ### {roman}. {title}\n\n\
             **The rule.** {rule}.\n\n\
             **The anti-pattern.** {anti}\n\n\
             **The fix.** {fix}\n\n\
             **Check it.** {check}\n\n\
             **Read more.** {chapter} · <https://12factor.net/{slug}> · about {minutes} minutes in a workshop\n\n\
             </section>\n\n",
            roman = factor.roman,
            title = factor.title,
            rule = capitalised(&factor.rule),
            anti = factor.cheatsheet.anti_pattern.trim(),
            fix = factor.cheatsheet.fix.trim(),
            // 12factor.net's pages have the kit's slugs.
            slug = factor.slug,
            minutes = factor.minutes,
        ));
    }
    out
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod cheatsheet_tests {
    #[test]
    fn every_factor_gets_a_printable_page() {
        let manifest = crate::engine::manifest::kit();
        let sheets = super::cheatsheets(&manifest);
        assert_eq!(sheets.matches("<section class=\"cheatsheet\">").count(), 12);
        assert!(sheets.contains("### VI. Processes"), "{sheets}");
        assert!(sheets.contains("`cargo xtask check 6`"), "{sheets}");
        assert!(
            sheets.contains("https://12factor.net/processes"),
            "{sheets}"
        );
    }
}
