//! [`crate::process`]'s back end on Linux: read from `/proc` (the TCP sockets a process listens
//! on or is connected through, the files it has open, its children, the shared libraries it has
//! loaded).

use crate::process::{Backend, OpenFile, TcpSocket, same_endpoint};
use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The Linux back end.
pub const BACKEND: Backend = Backend {
    open_files,
    tcp_sockets,
    children,
    describe,
    tcp_socket_holders,
    mapped_libraries,
};

/// Every file descriptor `pid` has open. Empty if the process is gone.
pub fn open_files(pid: u32) -> Vec<OpenFile> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut files: Vec<OpenFile> = entries
        .flatten()
        .filter_map(|entry| {
            let fd: u32 = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            let flags = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            Some(OpenFile {
                fd,
                target,
                writable: is_writable(&flags),
            })
        })
        .collect();
    files.sort_by_key(|file| file.fd);
    files
}

/// The access mode in an `fdinfo` file's octal `flags:` line: `O_WRONLY` (1) or `O_RDWR` (2).
fn is_writable(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
        .is_some_and(|flags| matches!(flags & 0o3, 1 | 2))
}

/// Every TCP socket (listening or connected) among `pid`'s open files, from `/proc/<pid>/net`.
pub fn tcp_sockets(pid: u32) -> Vec<TcpSocket> {
    let inodes: HashSet<u64> = open_files(pid)
        .iter()
        .filter_map(|file| {
            let text = file.target.to_str()?;
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut sockets = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        sockets.extend(
            parse_tcp_table(&text)
                .into_iter()
                .filter(|entry| entry.inode != 0 && inodes.contains(&entry.inode))
                .map(|entry| TcpSocket {
                    local: entry.local,
                    remote: entry.remote,
                    listening: entry.listening,
                    established: entry.established,
                    unread: Some(entry.unread),
                }),
        );
    }
    sockets
}

/// The process ids of `pid`'s children, from every thread's `/proc/<pid>/task/<tid>/children`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children: Vec<u32> = tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

/// How `pid` was started, for messages: its executable and arguments (`/usr/bin/curl -s ...`), or
/// its name in brackets if the command line is gone, or `?` if the process is.
pub fn describe(pid: u32) -> String {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|&byte| byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
    let command = if args.is_empty() {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|name| format!("[{}]", name.trim()))
            .unwrap_or_else(|_| "?".into())
    } else {
        args.join(" ")
    };
    match exe {
        Some(exe) if !command.starts_with(&*exe.to_string_lossy()) => {
            format!("{command} (executable {})", exe.display())
        }
        _ => command,
    }
}

/// The processes holding the TCP socket whose local end is `local` and remote end is `remote`
/// (one side of a connection, as seen from the process that opened it).
///
/// `candidates` are searched first (say, the app and its descendants); only if none holds the
/// socket is every process in `/proc` searched. Processes whose descriptors cannot be read (other
/// users') are skipped. Empty if the connection is gone.
pub fn tcp_socket_holders(local: SocketAddr, remote: SocketAddr, candidates: &[u32]) -> Vec<u32> {
    let inodes: HashSet<u64> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(format!("/proc/net/{table}")).ok())
        .flat_map(|text| parse_tcp_table(&text))
        .filter(|entry| same_endpoint(entry.local, local) && same_endpoint(entry.remote, remote))
        .map(|entry| entry.inode)
        .filter(|&inode| inode != 0)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let holds = |pid: &u32| {
        open_files(*pid).iter().any(|file| {
            file.target
                .to_str()
                .and_then(|text| {
                    text.strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse()
                        .ok()
                })
                .is_some_and(|inode: u64| inodes.contains(&inode))
        })
    };
    let holders: Vec<u32> = candidates.iter().copied().filter(holds).collect();
    if !holders.is_empty() {
        return holders;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut holders: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(holds)
        .collect();
    holders.sort_unstable();
    holders
}

/// The shared libraries mapped into `pid`'s memory (`/proc/<pid>/maps`), each once: what the
/// loader actually loaded, including libraries opened at run time and libraries of libraries.
pub fn mapped_libraries(pid: u32) -> Vec<PathBuf> {
    let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut libraries: Vec<PathBuf> = maps
        .lines()
        // address perms offset dev inode path
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/') && path.contains(".so"))
        .map(PathBuf::from)
        .collect();
    libraries.sort();
    libraries.dedup();
    libraries
}

struct TcpEntry {
    local: SocketAddr,
    remote: SocketAddr,
    listening: bool,
    established: bool,
    unread: u64,
    inode: u64,
}

/// Parses `/proc/net/tcp` or `tcp6`: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`
/// (`st` 0A is LISTEN, 01 ESTABLISHED; `rx` is the receive queue, in hex).
fn parse_tcp_table(text: &str) -> Vec<TcpEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = parse_hex_addr(fields.get(1)?)?;
            let remote = parse_hex_addr(fields.get(2)?)?;
            let state = *fields.get(3)?;
            let (_, unread) = fields.get(4)?.split_once(':')?;
            let inode = fields.get(9)?.parse().ok()?;
            Some(TcpEntry {
                local,
                remote,
                listening: state == "0A",
                established: state == "01",
                unread: u64::from_str_radix(unread, 16).ok()?,
                inode,
            })
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6). The kernel prints each 32-bit word
/// of the address in host (little-endian) byte order.
fn parse_hex_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::process::suite::suite_tests!(&BACKEND, "libc.so");

    #[test]
    fn parses_the_kernels_hex_addresses() {
        assert_eq!(
            parse_hex_addr("0100007F:1F90"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_hex_addr("00000000:0050"),
            Some("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(
            parse_hex_addr("00000000000000000000000001000000:1F90"),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(
            parse_hex_addr("00000000000000000000000000000000:1F90"),
            Some("[::]:8080".parse().unwrap())
        );
    }
}
