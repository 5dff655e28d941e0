//! The book's runnable demos: a ```console block right after a `<!-- runnable -->` line is run,
//! command by command, the way a learner would type it (`sh -c`, at the root of the kit), with
//! `DATABASE_URL` pointing at a fresh Postgres database of its own, made for the block and dropped
//! after it. Every command must succeed within its time limit, and every output line the book shows
//! must appear in what it printed (a leading timestamp aside; `...` stands for lines left out).
//!
//! Only blocks that need no long-running server can be marked; the demos that need one are covered
//! by the static checks in `lint::check_commands`.

use crate::engine::settings::Settings;
use anyhow::{Context, Result, bail, ensure};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The marker line, alone, just before the block.
const MARKER: &str = "<!-- runnable -->";

/// How long one command may take (a `cargo run` may have to build the crate first).
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// One runnable block: where it is, and its commands with the output the book shows for each.
#[derive(Debug, PartialEq)]
pub struct Demo {
    pub page: String,
    pub line: usize,
    pub steps: Vec<(String, Vec<String>)>,
}

/// The runnable blocks of one page.
pub fn demos_in(page: &str, text: &str) -> Result<Vec<Demo>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut demos = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim() != MARKER {
            continue;
        }
        let fence = lines.get(index + 1).map(|l| l.trim()).unwrap_or_default();
        ensure!(
            fence == "```console",
            "{page}:{}: {MARKER} must be followed by a ```console block",
            index + 1
        );
        let mut steps: Vec<(String, Vec<String>)> = Vec::new();
        for body in lines[index + 2..].iter().take_while(|l| l.trim() != "```") {
            match body.strip_prefix("$ ") {
                Some(command) => steps.push((command.to_string(), Vec::new())),
                None => match steps.last_mut() {
                    Some((_, output)) => output.push(body.to_string()),
                    None => bail!("{page}:{}: a runnable block starts with `$ `", index + 3),
                },
            }
        }
        demos.push(Demo {
            page: page.to_string(),
            line: index + 1,
            steps,
        });
    }
    Ok(demos)
}

/// Runs every runnable block of the book; returns how many commands ran.
pub fn run_all(root: &Path) -> Result<usize> {
    let mut pages: Vec<_> = std::fs::read_dir(root.join("book/src"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    let mut ran = 0;
    for path in pages {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for demo in demos_in(&name, &std::fs::read_to_string(&path)?)? {
            ran += run(root, &demo)
                .with_context(|| format!("the demo at book/src/{}:{}", demo.page, demo.line))?;
        }
    }
    Ok(ran)
}

fn run(root: &Path, demo: &Demo) -> Result<usize> {
    let settings = Settings::load(root)?;
    let database = ScratchDatabase::create(&settings.database_url()?)?;
    for (command, shown) in &demo.steps {
        let output = shell(root, command, database.url.as_str())?;
        let printed: Vec<String> = output.lines().map(without_timestamp).collect();
        for expected in shown.iter().map(|line| without_timestamp(line)) {
            if expected.trim().is_empty() || expected.trim() == "..." {
                continue;
            }
            ensure!(
                printed
                    .iter()
                    .any(|line| line.trim_end() == expected.trim_end()),
                "`{command}` did not print the line the book shows:\n  {expected}\nit printed:\n{}",
                output.trim_end()
            );
        }
    }
    Ok(demo.steps.len())
}

/// `command` through `sh -c` with a time limit; its stdout and stderr together, or why it failed.
fn shell(root: &Path, command: &str, database_url: &str) -> Result<String> {
    let log = tempfile::NamedTempFile::new()?;
    let mut shell = Command::new("sh");
    crate::engine::testrun::without_xtask_env(&mut shell);
    let mut child = shell
        .args(["-c", command])
        .current_dir(root)
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(log.reopen()?)
        .stderr(log.reopen()?)
        .spawn()
        .with_context(|| format!("cannot run `{command}`"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{command}` was still running after {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    log.reopen()?.read_to_string(&mut output)?;
    ensure!(
        status.success(),
        "`{command}` failed ({status}):\n{}",
        output.trim_end()
    );
    Ok(output)
}

/// A log line without its leading RFC 3339 timestamp (`2026-01-12T09:30:01.412764Z  INFO …`).
fn without_timestamp(line: &str) -> String {
    let trimmed = line.trim_start();
    let first = trimmed.split_whitespace().next().unwrap_or_default();
    let looks_like_time = first.len() >= 20
        && first.as_bytes().get(4) == Some(&b'-')
        && first.contains('T')
        && first.ends_with('Z');
    if looks_like_time {
        trimmed[first.len()..].trim_start().to_string()
    } else {
        line.to_string()
    }
}

/// A database made for one demo, dropped afterwards.
struct ScratchDatabase {
    admin: url::Url,
    name: String,
    url: url::Url,
}

impl ScratchDatabase {
    fn create(admin: &url::Url) -> Result<ScratchDatabase> {
        let name = format!("book_demo_{}_{}", std::process::id(), nanos());
        let mut url = admin.clone();
        url.set_path(&format!("/{name}"));
        sql(admin, &format!("CREATE DATABASE \"{name}\"")).context(
            "cannot create a database for the demo: is Postgres up (`cargo xtask services up`)?",
        )?;
        Ok(ScratchDatabase {
            admin: admin.clone(),
            name,
            url,
        })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or_default()
}

fn sql(url: &url::Url, statement: &str) -> Result<()> {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut connection = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(url.as_str()),
        )
        .await
        .context("Postgres did not answer within 5 s")??;
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut connection)
            .await?;
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runnable_blocks_are_read_with_their_output() {
        let page = "text\n<!-- runnable -->\n```console\n$ echo a\na\n...\n$ true\n```\n```console\n$ not run\n```\n";
        let demos = demos_in("p.md", page).unwrap();
        assert_eq!(
            demos,
            [Demo {
                page: "p.md".into(),
                line: 2,
                steps: vec![
                    ("echo a".into(), vec!["a".into(), "...".into()]),
                    ("true".into(), vec![]),
                ],
            }]
        );
        assert!(demos_in("p.md", "<!-- runnable -->\n```sh\nls\n```\n").is_err());
    }

    #[test]
    fn timestamps_are_not_compared() {
        assert_eq!(
            without_timestamp("2026-01-12T09:30:01.412764Z  INFO x: applied"),
            "INFO x: applied"
        );
        assert_eq!(without_timestamp("visited 1 times"), "visited 1 times");
    }
}
