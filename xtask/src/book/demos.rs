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
//! A block that talks to a server names it (`<!-- runnable: serve COMMAND -->`): it is started on
//! a free port, which the block's `8080` stands for, and stopped after the block. Blocks that need
//! two servers, or the learner's own fix, stay illustrative (`outputs`); their commands are still
//! checked by `commands`.

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
    pub options: Options,
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
        let options = options_of(options.trim()).with_context(|| {
            format!(
                "{page}:{}: expected `<!-- runnable -->`, or options after `<!-- runnable:`: \
                 `unset VAR …`, `setup COMMAND`, `serve COMMAND` (joined with `;`)",
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
            options,
            steps,
        });
    }
    Ok(demos)
}

/// What a runnable block needs around it: `<!-- runnable: unset VAR …; setup COMMAND; serve
/// COMMAND -->`.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Variables the block runs without.
    pub unset: Vec<String>,
    /// A command run first, not shown (`cargo build -p …` for a block that runs a binary from
    /// `target/`, a migration); its output is not compared, but it must succeed.
    pub setup: Option<String>,
    /// A server the block talks to, started after the setup with `PORT` set to a free port, and
    /// stopped after the block. The block's `8080` stands for that port: in its commands it is
    /// replaced by it, and in what they print the port is written back as `8080`.
    pub serve: Option<String>,
}

/// The options after `<!-- runnable:`, joined with `;`.
fn options_of(options: &str) -> Option<Options> {
    let mut parsed = Options::default();
    let Some(options) = options.strip_prefix(':') else {
        return options.is_empty().then_some(parsed);
    };
    for option in options.split(';') {
        let option = option.trim();
        if let Some(names) = option.strip_prefix("unset ") {
            parsed
                .unset
                .extend(names.split_whitespace().map(str::to_owned));
        } else if let Some(command) = option.strip_prefix("setup ") {
            parsed.setup = Some(command.trim().to_string());
        } else if let Some(command) = option.strip_prefix("serve ") {
            parsed.serve = Some(command.trim().to_string());
        } else {
            return None;
        }
    }
    Some(parsed)
}

/// The port the book's blocks show for the server they talk to.
const BOOK_PORT: &str = "8080";

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
    let options = &demo.options;
    let database = if options.unset.iter().any(|name| name == "DATABASE_URL") {
        None
    } else {
        let settings = Settings::load(root)?;
        Some(ScratchDatabase::create(&settings.database_url()?)?)
    };
    // In a terminal, curl shows no progress meter; writing to a pipe, it does, unless told not to.
    let curl_home = tempfile::TempDir::with_prefix("kit-demo-curl-")?;
    std::fs::write(curl_home.path().join(".curlrc"), "no-progress-meter\n")?;
    let env = Env {
        database: database.as_ref(),
        unset: &options.unset,
        curl_home: curl_home.path(),
    };
    if let Some(setup) = &options.setup {
        let output = shell(root, &format!("exec 2>&1\n{setup}\n"), &env, &[])?;
        ensure!(
            output.status == 0,
            "its setup `{setup}` failed:\n{}",
            output.text.trim_end()
        );
    }
    let server = match &options.serve {
        Some(command) => Some(Server::start(root, command, &env)?),
        None => None,
    };
    let port = server.as_ref().map(|server| server.port.to_string());
    let mut script = String::from("exec 2>&1\n");
    // `(exit $__kit_status)` right before each command, so that `$?` is the previous command's.
    script.push_str("__kit_status=0\n");
    for (command, _) in &demo.steps {
        let command = match &port {
            Some(port) => command.replace(BOOK_PORT, port),
            None => command.clone(),
        };
        script.push_str(&format!(
            "printf '%s\\n' '{STEP_START}'\n(exit $__kit_status)\n{command}\n__kit_status=$?\n\
             printf '\\n{STEP_END}%s@@\\n' \"$__kit_status\"\n"
        ));
    }
    let output = shell(root, &script, &env, &[])?.text;
    let output = match &port {
        Some(port) => output.replace(port.as_str(), BOOK_PORT),
        None => output,
    };
    drop(server);
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

/// The environment a block and its server run in.
struct Env<'a> {
    database: Option<&'a ScratchDatabase>,
    unset: &'a [String],
    /// Holds the `.curlrc` that keeps curl's progress meter out of the output.
    curl_home: &'a Path,
}

impl Env<'_> {
    fn apply(&self, command: &mut Command) {
        crate::engine::testrun::without_xtask_env(command);
        command
            .env("NO_COLOR", "1")
            .env("CARGO_TERM_COLOR", "never")
            .env("CURL_HOME", self.curl_home);
        if let Some(database) = self.database {
            command.env("DATABASE_URL", database.url.as_str());
        }
        for name in self.unset {
            command.env_remove(name);
        }
    }
}

/// What a script printed (stdout and stderr together) and its exit status.
struct Printed {
    text: String,
    status: i32,
}

/// `script` through `sh -c` at the kit's root with a time limit.
fn shell(root: &Path, script: &str, env: &Env, extra: &[(&str, &str)]) -> Result<Printed> {
    let log = tempfile::NamedTempFile::new()?;
    let mut shell = Command::new("sh");
    env.apply(&mut shell);
    shell
        .args(["-c", script])
        .current_dir(root)
        .envs(extra.iter().copied());
    let mut child = shell
        .stdin(Stdio::null())
        .stdout(log.reopen()?)
        .stderr(log.reopen()?)
        .spawn()
        .context("cannot run sh")?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > BLOCK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the block was still running after {BLOCK_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = String::new();
    log.reopen()?.read_to_string(&mut text)?;
    Ok(Printed {
        text,
        status: status.code().unwrap_or(-1),
    })
}

/// A block's server: started in a process group of its own on a free port, ready once the port
/// accepts a connection, and the whole group stopped when dropped.
struct Server {
    child: std::process::Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Server {
    fn start(root: &Path, command: &str, env: &Env) -> Result<Server> {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = tempfile::NamedTempFile::new()?;
        let mut shell = Command::new("sh");
        env.apply(&mut shell);
        let child = shell
            .args(["-c", &format!("exec {command}")])
            .current_dir(root)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.reopen()?)
            .stderr(log.reopen()?)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start `{command}`"))?;
        let mut server = Server { child, port, log };
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            let exited = server.child.try_wait()?;
            if exited.is_some() || started.elapsed() > BLOCK_LIMIT {
                let mut printed = String::new();
                let _ = server.log.reopen()?.read_to_string(&mut printed);
                bail!(
                    "the block's server `{command}` {} on port {port}; it printed:\n{}",
                    if exited.is_some() {
                        "exited before it listened"
                    } else {
                        "never listened"
                    },
                    printed.trim_end()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let group = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
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
                options: Options {
                    unset: vec!["DATABASE_URL".into()],
                    ..Options::default()
                },
                steps: vec![
                    ("echo a \\\n  b".into(), vec!["a b".into(), "...".into()]),
                    ("true".into(), vec![]),
                ],
            }]
        );
        assert!(demos_in("p.md", "<!-- runnable -->\n```sh\nls\n```\n").is_err());
        assert!(demos_in("p.md", "<!-- runnable: nonsense -->\n```console\n```\n").is_err());
        assert_eq!(
            options_of(": unset A B; setup cargo build -q -p x; serve ./target/debug/x web"),
            Some(Options {
                unset: vec!["A".to_string(), "B".to_string()],
                setup: Some("cargo build -q -p x".to_string()),
                serve: Some("./target/debug/x web".to_string()),
            })
        );
        assert_eq!(options_of(""), Some(Options::default()));
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
