//! The book's runnable output blocks: a ```console block right after a `<!-- runnable -->` line is
//! run the way a learner would type it, as one `sh` script at the root of the kit (so `$?`, `$!`
//! and variables carry from one command to the next), with `DATABASE_URL` pointing at a fresh
//! Postgres database of its own, made for the block and dropped after it
//! (`<!-- runnable: unset VAR … -->` runs it without those variables instead). Each command must
//! succeed, unless the next one is `echo $?`, which shows its exit status; and what each command
//! prints must be what the book shows under it, line for line, with the filters the lesson
//! records use for what changes between runs: Cargo's own status lines and a leading timestamp are
//! left out, and `...` stands for any number of lines left out.
//!
//! Only blocks that need no long-running server can be marked; the others are marked
//! illustrative (`outputs`), and their commands are covered by `commands`.

use crate::engine::settings::Settings;
use anyhow::{Context, Result, bail, ensure};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one block may take (a `cargo run` may have to build the crate first).
const BLOCK_LIMIT: Duration = Duration::from_secs(300);

/// One runnable block: where it is, the variables it runs without, and its commands with the
/// output the book shows for each.
#[derive(Debug, PartialEq)]
pub struct Demo {
    pub page: String,
    pub line: usize,
    pub unset: Vec<String>,
    /// A command run before the block, not shown (`cargo build -p …` for a block that runs a
    /// binary from `target/`); its output is not compared, but it must succeed.
    pub setup: Option<String>,
    pub steps: Vec<(String, Vec<String>)>,
}

/// The runnable blocks of one page.
pub fn demos_in(page: &str, text: &str) -> Result<Vec<Demo>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut demos = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(options) = line.trim().strip_prefix(super::outputs::RUNNABLE) else {
            continue;
        };
        let options = options.trim_end().strip_suffix("-->").unwrap_or(options);
        let (unset, setup) = options_of(options.trim()).with_context(|| {
            format!(
                "{page}:{}: expected `<!-- runnable -->`, `<!-- runnable: unset VAR … -->` or \
                 `<!-- runnable: setup COMMAND -->` (several joined with `;`)",
                index + 1
            )
        })?;
        let fence = lines.get(index + 1).map(|l| l.trim()).unwrap_or_default();
        ensure!(
            fence == "```console",
            "{page}:{}: <!-- runnable --> must be followed by a ```console block",
            index + 1
        );
        let mut steps: Vec<(String, Vec<String>)> = Vec::new();
        let mut continued = false;
        for body in lines[index + 2..].iter().take_while(|l| l.trim() != "```") {
            if let Some(command) = body.strip_prefix("$ ") {
                steps.push((command.to_string(), Vec::new()));
            } else if let Some((command, _)) = steps
                .last_mut()
                .filter(|_| continued || body.starts_with("> "))
            {
                // `> ` is the shell's prompt for the rest of a command (`for …; do`, a `\`).
                command.push('\n');
                command.push_str(body.strip_prefix("> ").unwrap_or(body));
            } else {
                match steps.last_mut() {
                    Some((_, output)) => output.push(body.to_string()),
                    None => bail!("{page}:{}: a runnable block starts with `$ `", index + 3),
                }
                continue;
            }
            continued = body.trim_end().ends_with('\\');
        }
        demos.push(Demo {
            page: page.to_string(),
            line: index + 1,
            unset,
            setup,
            steps,
        });
    }
    Ok(demos)
}

/// The options after `<!-- runnable:`: `unset VAR …` and `setup COMMAND`, joined with `;`.
fn options_of(options: &str) -> Option<(Vec<String>, Option<String>)> {
    let mut unset = Vec::new();
    let mut setup = None;
    let Some(options) = options.strip_prefix(':') else {
        return options.is_empty().then_some((unset, setup));
    };
    for option in options.split(';') {
        let option = option.trim();
        if let Some(names) = option.strip_prefix("unset ") {
            unset.extend(names.split_whitespace().map(str::to_owned));
        } else if let Some(command) = option.strip_prefix("setup ") {
            setup = Some(command.trim().to_string());
        } else {
            return None;
        }
    }
    Some((unset, setup))
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
            ran += run(root, &demo).with_context(|| {
                format!("the output block at book/src/{}:{}", demo.page, demo.line)
            })?;
        }
    }
    Ok(ran)
}

/// Marks around each command's output in the script's output.
const STEP_START: &str = "@@kit-step-start@@";
const STEP_END: &str = "@@kit-step-end ";

fn run(root: &Path, demo: &Demo) -> Result<usize> {
    let database = if demo.unset.iter().any(|name| name == "DATABASE_URL") {
        None
    } else {
        let settings = Settings::load(root)?;
        Some(ScratchDatabase::create(&settings.database_url()?)?)
    };
    let mut script = String::from("exec 2>&1\n");
    if let Some(setup) = &demo.setup {
        // Its output only if it fails: the block's own output starts after it.
        script.push_str(&format!(
            "__kit_setup=$({setup} 2>&1) || {{ printf '%s\\n' \"setup failed: $__kit_setup\"; exit 97; }}\n"
        ));
    }
    // `(exit $__kit_status)` right before each command, so that `$?` is the previous command's.
    script.push_str("__kit_status=0\n");
    for (command, _) in &demo.steps {
        script.push_str(&format!(
            "printf '%s\\n' '{STEP_START}'\n(exit $__kit_status)\n{command}\n__kit_status=$?\n\
             printf '\\n{STEP_END}%s@@\\n' \"$__kit_status\"\n"
        ));
    }
    let output = shell(root, &script, database.as_ref(), &demo.unset)?;
    ensure!(
        !output.starts_with("setup failed: "),
        "its setup `{}` failed:\n{}",
        demo.setup.as_deref().unwrap_or_default(),
        output.trim_end()
    );
    let printed = split_steps(&output);
    ensure!(
        printed.len() == demo.steps.len(),
        "the block stopped after {} of its {} commands; it printed:\n{}",
        printed.len(),
        demo.steps.len(),
        output.trim_end()
    );
    for (index, ((command, shown), (status, lines))) in demo.steps.iter().zip(&printed).enumerate()
    {
        let shows_status = demo
            .steps
            .get(index + 1)
            .is_some_and(|(next, _)| next.trim() == "echo $?");
        ensure!(
            *status == 0 || shows_status,
            "`{command}` exited with status {status}, and the book shows no failure (an `echo $?` \
             after it would); it printed:\n{}",
            lines.join("\n")
        );
        let printed: Vec<String> = lines.iter().filter_map(|line| filtered(line)).collect();
        let shown: Vec<String> = shown.iter().filter_map(|line| filtered(line)).collect();
        ensure!(
            matches(&shown, &printed),
            "`{command}` does not print what the book shows.\nthe book shows:\n{}\nit printed:\n{}",
            indent(&shown),
            indent(&printed)
        );
    }
    Ok(demo.steps.len())
}

fn indent(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each command's exit status and output lines, from the script's marked output.
fn split_steps(output: &str) -> Vec<(i32, Vec<String>)> {
    let mut steps = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in output.lines() {
        if line == STEP_START {
            current = Some(Vec::new());
        } else if let Some(status) = line
            .strip_prefix(STEP_END)
            .and_then(|rest| rest.strip_suffix("@@"))
        {
            let mut lines = current.take().unwrap_or_default();
            // The `\n` printed before the end mark, when the output already ended with one.
            if lines.last().is_some_and(|last| last.is_empty()) {
                lines.pop();
            }
            steps.push((status.parse().unwrap_or(-1), lines));
        } else if let Some(lines) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    steps
}

/// A line as compared: without a leading timestamp and trailing spaces; `None` for what is not
/// compared (Cargo's own status lines, which go to stderr and which the book leaves out, and
/// empty lines).
fn filtered(line: &str) -> Option<String> {
    let cargo_status = line.starts_with("  ")
        && line.split_whitespace().next().is_some_and(|word| {
            [
                "Compiling",
                "Finished",
                "Running",
                "Blocking",
                "Updating",
                "Locking",
                "Downloaded",
                "Downloading",
            ]
            .contains(&word)
        });
    let line = without_timestamp(line);
    (!cargo_status && !line.trim().is_empty()).then(|| line.trim_end().to_string())
}

/// Whether `printed` is what `shown` shows: equal line for line, `...` standing for any number of
/// lines.
fn matches(shown: &[String], printed: &[String]) -> bool {
    match shown.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=printed.len()).any(|skip| matches(rest, &printed[skip..]))
        }
        Some((first, rest)) => printed
            .split_first()
            .is_some_and(|(line, others)| line == first && matches(rest, others)),
    }
}

/// `script` through `sh -c` with a time limit; its stdout and stderr together.
fn shell(
    root: &Path,
    script: &str,
    database: Option<&ScratchDatabase>,
    unset: &[String],
) -> Result<String> {
    let log = tempfile::NamedTempFile::new()?;
    let mut shell = Command::new("sh");
    crate::engine::testrun::without_xtask_env(&mut shell);
    shell
        .args(["-c", script])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    if let Some(database) = database {
        shell.env("DATABASE_URL", database.url.as_str());
    }
    for name in unset {
        shell.env_remove(name);
    }
    let mut child = shell
        .stdin(Stdio::null())
        .stdout(log.reopen()?)
        .stderr(log.reopen()?)
        .spawn()
        .context("cannot run sh")?;
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > BLOCK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the block was still running after {BLOCK_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut output = String::new();
    log.reopen()?.read_to_string(&mut output)?;
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
        let page = "text\n<!-- runnable: unset DATABASE_URL -->\n```console\n$ echo a \\\n>   b\na b\n...\n$ true\n```\n```console\n$ not run\n```\n";
        let demos = demos_in("p.md", page).unwrap();
        assert_eq!(
            demos,
            [Demo {
                page: "p.md".into(),
                line: 2,
                unset: vec!["DATABASE_URL".into()],
                setup: None,
                steps: vec![
                    ("echo a \\\n  b".into(), vec!["a b".into(), "...".into()]),
                    ("true".into(), vec![]),
                ],
            }]
        );
        assert!(demos_in("p.md", "<!-- runnable -->\n```sh\nls\n```\n").is_err());
        assert!(demos_in("p.md", "<!-- runnable: nonsense -->\n```console\n```\n").is_err());
        assert_eq!(
            options_of(": unset A B; setup cargo build -q -p x"),
            Some((
                vec!["A".to_string(), "B".to_string()],
                Some("cargo build -q -p x".to_string())
            ))
        );
        assert_eq!(options_of(""), Some((vec![], None)));
    }

    #[test]
    fn the_output_must_be_the_books_line_for_line() {
        let lines = |text: &str| text.lines().filter_map(filtered).collect::<Vec<_>>();
        let printed = lines(
            "   Compiling x v0.1.0\n    Finished `dev` profile\n     Running `target/debug/x`\n2026-01-12T09:30:01.412764Z  INFO x: one\ntwo\nthree\n",
        );
        assert!(matches(&lines("INFO x: one\ntwo\nthree"), &printed));
        assert!(matches(&lines("INFO x: one\n...\n"), &printed));
        assert!(matches(&lines("...\nthree"), &printed));
        assert!(
            !matches(&lines("INFO x: one\ntwo"), &printed),
            "a line left out without ..."
        );
        assert!(!matches(&lines("INFO x: one\ntwo\nfour"), &printed));
    }

    #[test]
    fn each_commands_output_and_status_are_told_apart() {
        let output = format!(
            "{STEP_START}\nnoticeboard: no\n\n{STEP_END}1@@\n{STEP_START}\n1\n\n{STEP_END}0@@\n"
        );
        assert_eq!(
            split_steps(&output),
            [
                (1, vec!["noticeboard: no".to_string()]),
                (0, vec!["1".to_string()])
            ]
        );
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
