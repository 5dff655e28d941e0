//! The platform xtask runs on, and what that means for the checks.
//!
//! Linux and WSL 2 run every check natively. On macOS the checks observe what they need through
//! portable means (HTTP, signals, exit codes, output, `lsof`, `otool -L`); a check that cannot
//! says "not checkable on macOS" and counts as neither passed nor failed
//! (`kit-platform`'s `Gap`, `testrun::NOT_CHECKABLE`). Anything else is untested.

/// Where the kit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    /// Windows Subsystem for Linux 2: a real Linux kernel, so everything runs natively.
    Wsl2,
    /// WSL 1 translates Linux calls and has no real `/proc/<pid>/net`: some checks cannot see
    /// sockets there.
    Wsl1,
    MacOs,
    Other,
}

pub fn current() -> Platform {
    if cfg!(target_os = "macos") {
        return Platform::MacOs;
    }
    if !cfg!(target_os = "linux") {
        return Platform::Other;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    wsl_from_release(&release)
}

/// Linux, or which WSL, from the kernel's release string (`5.15.153.1-microsoft-standard-WSL2`
/// on WSL 2, `4.4.0-19041-Microsoft` on WSL 1).
fn wsl_from_release(release: &str) -> Platform {
    let lower = release.to_lowercase();
    if lower.contains("wsl2") {
        Platform::Wsl2
    } else if lower.contains("microsoft") {
        Platform::Wsl1
    } else {
        Platform::Linux
    }
}

/// The platform's name as the checks' messages say it.
pub fn name() -> &'static str {
    match current() {
        Platform::Linux => "Linux",
        Platform::Wsl2 => "WSL 2",
        Platform::Wsl1 => "WSL 1",
        Platform::MacOs => "macOS",
        Platform::Other => std::env::consts::OS,
    }
}

/// How to run the checks a platform cannot: the kit's dev container (the harness says the same).
pub const DEVCONTAINER: &str = kit_platform::DEVCONTAINER;

/// What `doctor` says about the platform: whether every check runs here, and else the path to
/// take. `Ok` for a platform that runs everything natively.
pub fn advice() -> Result<String, String> {
    match current() {
        Platform::Linux => Ok("Linux: every check runs natively.".into()),
        Platform::Wsl2 => Ok("WSL 2: a real Linux kernel, every check runs natively.".into()),
        Platform::MacOs => Err(format!(
            "macOS: most checks run natively (through HTTP, signals, `lsof`, `otool -L`); a \
             check that cannot observe what it needs here says \"not checkable on macOS\" and \
             counts as neither passed nor failed. For every check, work in {DEVCONTAINER}."
        )),
        Platform::Wsl1 => Err(format!(
            "WSL 1: its kernel is a translation layer, and the checks that read sockets from \
             /proc cannot work. Convert the distribution with `wsl --set-version <distro> 2`, or \
             work in {DEVCONTAINER}."
        )),
        Platform::Other => Err(format!(
            "{}: the kit is built for Linux (and macOS, with a few checks not checkable). Work \
             in {DEVCONTAINER}.",
            std::env::consts::OS
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsl_is_told_apart_by_its_kernel_release() {
        assert_eq!(
            wsl_from_release("5.15.153.1-microsoft-standard-WSL2\n"),
            Platform::Wsl2
        );
        assert_eq!(wsl_from_release("4.4.0-19041-Microsoft\n"), Platform::Wsl1);
        assert_eq!(wsl_from_release("6.1.0-18-amd64\n"), Platform::Linux);
    }
}
