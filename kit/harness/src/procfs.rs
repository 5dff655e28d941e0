//! What a running process holds (sockets, open files, children, loaded libraries): `kit-platform`'s
//! [`process`](kit_platform::process) module, under the name the checks have always used. On Linux
//! it reads `/proc`; on macOS it asks `lsof`, `pgrep` and `ps`; where the platform cannot show what
//! a check needs, the check ends as "not checkable on macOS" (neither passed nor failed).
//!
//! One function is overridden here: [`listening_sockets`], which readiness asks on every app start.

pub use kit_platform::process::*;
use std::collections::HashSet;
use std::net::SocketAddr;

/// The TCP addresses `pid` listens on, IPv4 and IPv6 (`0.0.0.0:8080`, `[::]:8080`, `127.0.0.1:…`).
///
/// Asked of the kernel's socket diagnostics where it can ([`crate::sock_diag`]: microseconds, where
/// reading `/proc/<pid>/net/tcp` costs milliseconds); elsewhere `kit-platform`'s answer.
pub fn listening_sockets(pid: u32) -> Vec<SocketAddr> {
    match crate::sock_diag::listening() {
        Some(listeners) => {
            let inodes = socket_inodes(pid);
            listeners
                .into_iter()
                .filter(|listener| inodes.contains(&listener.inode))
                .map(|listener| listener.local)
                .collect()
        }
        None => kit_platform::process::listening_sockets(pid),
    }
}

/// The inodes of the sockets among `pid`'s open files (`/proc/<pid>/fd/N -> socket:[<inode>]`):
/// only the links, not each descriptor's `fdinfo`, which [`open_files`] also reads. Empty if the
/// process is gone.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.path()).ok()?;
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}
