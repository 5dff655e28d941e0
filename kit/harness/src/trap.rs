//! Trap commands: a directory of stand-ins for system tools (`curl`, `wget`, `psql`, ...) to put on
//! an app's `PATH`. Each stand-in records that it was run, with its arguments, and fails.
//!
//! A check that gives the app `PATH=<trap dir>` sees at once whether the app depends on a tool it
//! does not declare: a real fix never runs one, and a fix that does (directly, or through
//! `sh -c "curl …"`) springs the trap instead of reaching the network.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The exit status of a trap: 127, what a shell answers for "command not found".
pub const TRAP_EXIT_STATUS: i32 = 127;

/// A temp directory of trap commands. Dropping it removes them.
pub struct TrapCommands {
    dir: TempDir,
}

/// One run of a trap command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapRun {
    /// The tool's name, e.g. `curl`.
    pub tool: String,
    /// The arguments, joined with spaces.
    pub args: String,
}

impl TrapRun {
    /// `curl -s -X POST ...`, for messages.
    pub fn command_line(&self) -> String {
        if self.args.is_empty() {
            self.tool.clone()
        } else {
            format!("{} {}", self.tool, self.args)
        }
    }
}

impl TrapCommands {
    /// Plants one trap per name in a new temp directory.
    #[track_caller]
    pub fn new(tools: &[&str]) -> Self {
        let dir = TempDir::with_prefix("kit-traps-").expect("cannot create a temp dir for traps");
        fs::create_dir(dir.path().join("runs")).expect("cannot create the traps' record folder");
        let traps = TrapCommands { dir };
        for tool in tools {
            traps.plant(tool);
        }
        traps
    }

    fn plant(&self, tool: &str) {
        assert!(
            tool.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "a trap needs a plain command name, not {tool:?}"
        );
        let runs = self.dir.path().join("runs");
        let runs = runs.to_str().expect("the temp dir's path is not UTF-8");
        assert!(!runs.contains('\''), "the temp dir's path holds a quote");
        // Runs under /bin/sh whatever PATH holds: the kernel reads the interpreter from the first
        // line. Only shell built-ins below, so an empty PATH is enough. One file per run, named by
        // the shell's pid: runs at the same moment never write to the same file.
        let script = format!(
            "#!/bin/sh\n\
             # A trap planted by a kit check: it stands in for `{tool}`, records that it ran, and fails.\n\
             printf '%s\\n' \"$*\" > '{runs}/{tool}.'$$\n\
             echo '{tool}: a stand-in planted by the check; the real `{tool}` is not there to rely on' >&2\n\
             exit {TRAP_EXIT_STATUS}\n"
        );
        let path = self.dir.path().join(tool);
        fs::write(&path, script).expect("cannot write a trap");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .expect("cannot make a trap executable");
    }

    /// The directory to put on the app's `PATH`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every run so far, in no particular order.
    pub fn runs(&self) -> Vec<TrapRun> {
        let Ok(entries) = fs::read_dir(self.dir.path().join("runs")) else {
            return Vec::new();
        };
        let mut runs: Vec<(PathBuf, TrapRun)> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_str()?.to_string();
                let (tool, _pid) = name.rsplit_once('.')?;
                let args = fs::read_to_string(entry.path()).unwrap_or_default();
                Some((
                    entry.path(),
                    TrapRun {
                        tool: tool.to_string(),
                        args: args.trim_end_matches('\n').to_string(),
                    },
                ))
            })
            .collect();
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        runs.into_iter().map(|(_, run)| run).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_trap_records_its_arguments_and_fails() {
        let traps = TrapCommands::new(&["curl", "wget"]);
        let output = Command::new("curl")
            .args(["-s", "-d", "{\"name\": \"ada's\"}", "http://x/"])
            .env_clear()
            .env("PATH", traps.dir())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(TRAP_EXIT_STATUS));
        assert!(String::from_utf8_lossy(&output.stderr).contains("planted by the check"));
        assert_eq!(
            traps.runs(),
            [TrapRun {
                tool: "curl".into(),
                args: "-s -d {\"name\": \"ada's\"} http://x/".into()
            }]
        );
    }

    #[test]
    fn a_shell_command_on_the_trap_path_springs_the_trap() {
        let traps = TrapCommands::new(&["curl"]);
        let status = Command::new("/bin/sh")
            .args(["-c", "curl --version"])
            .env_clear()
            .env("PATH", traps.dir())
            .status()
            .unwrap();
        assert!(!status.success());
        let runs = traps.runs();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].command_line(), "curl --version");
    }

    #[test]
    fn no_run_no_record() {
        let traps = TrapCommands::new(&["curl"]);
        assert!(traps.runs().is_empty());
        assert!(traps.dir().join("curl").is_file());
    }
}
