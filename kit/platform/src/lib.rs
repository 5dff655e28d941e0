//! What the checks observe through the operating system rather than through the app's HTTP,
//! signals, exit codes and output: the platform-specific part of the harness, kept in one crate
//! with no C build step so that `cargo xtask verify` type-checks it for macOS
//! (`aarch64-apple-darwin`) on a Linux machine.
//!
//! - [`process`]: a running process's TCP sockets, open files, children, command line and loaded
//!   libraries. Linux reads `/proc` ([`procfs`]); other Unix systems (macOS) ask `lsof`, `pgrep`
//!   and `ps` ([`lsof`]), which Linux also has, so both back ends are tested here.
//! - [`linked`]: the shared libraries a built binary asks the loader for: ELF's `DT_NEEDED`
//!   entries ([`elf`]) on Linux, `otool -L` ([`macho`]) on macOS.
//!
//! Where a platform cannot show what a check needs (no `lsof`, no queue sizes, no `otool`), the
//! call stops the check with a [`Gap`]: its message starts "not checkable on <platform>:", and
//! `cargo xtask check` counts such a check as neither passed nor failed (never a false red).

pub mod elf;
pub mod linked;
pub mod lsof;
pub mod macho;
pub mod process;
#[cfg(target_os = "linux")]
pub mod procfs;

/// What a check needs and this platform cannot show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// What could not be observed, and why, e.g. "the sockets of pid 42 (`lsof` did not run: …)".
    pub what: String,
}

/// How to run every check where some are not checkable: the kit's dev container.
pub const DEVCONTAINER: &str = "the dev container (VS Code: \"Dev Containers: Reopen in \
     Container\"; or `devcontainer up --workspace-folder .` then `devcontainer exec \
     --workspace-folder . cargo xtask check N`; or a GitHub Codespace)";

impl Gap {
    pub fn new(what: impl Into<String>) -> Self {
        Self { what: what.into() }
    }

    /// The message xtask recognises (`testrun::NOT_CHECKABLE`): "not checkable on macOS: …".
    pub fn message(&self) -> String {
        format!(
            "not checkable on {}: {}. Run this check in {DEVCONTAINER}.",
            platform_name(),
            self.what
        )
    }

    /// Ends the check here with [`Gap::message`]: a panic, which xtask turns into the
    /// "not checkable" outcome.
    #[track_caller]
    pub fn stop(self) -> ! {
        panic!("{}", self.message())
    }
}

/// The platform's name as messages say it.
pub fn platform_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS"
    } else if cfg!(target_os = "linux") {
        "Linux"
    } else {
        std::env::consts::OS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_says_not_checkable_and_where_to_run_the_check() {
        let text = Gap::new("the sockets of pid 42").message();
        assert!(text.starts_with("not checkable on "), "{text}");
        assert!(text.contains("the sockets of pid 42"), "{text}");
        assert!(text.contains("devcontainer exec"), "{text}");
    }
}
