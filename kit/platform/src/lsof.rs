//! [`crate::process`]'s back end where there is no `/proc` (macOS): `lsof` for sockets, open files
//! and mapped libraries, `pgrep -P` for children, `ps` for command lines. These tools ship with
//! macOS and exist on Linux too, where this back end passes the same tests as `/proc`'s.
//!
//! `lsof -F` prints one field per line, each led by a letter: `p` a process id, `f` a descriptor
//! (a number, or `txt`, `mem`, `cwd` …), `a` its access mode (`r`, `w`, `u`), `t` its type, `n`
//! its name (a path, or `127.0.0.1:5000->127.0.0.1:6000` for a connection), and with `-T qs`
//! `TST=LISTEN`, `TQR=5` (bytes received and not read) for a TCP socket.

use crate::Gap;
use crate::process::{Backend, OpenFile, TcpSocket, same_endpoint};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The `lsof`, `pgrep` and `ps` back end.
pub const BACKEND: Backend = Backend {
    open_files,
    tcp_sockets,
    children,
    describe,
    tcp_socket_holders,
    mapped_libraries,
};

/// One descriptor as `lsof -F` reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Entry {
    pid: u32,
    fd: String,
    access: String,
    kind: String,
    name: String,
    /// `ST`, `QR`, `QS` … from `T` lines.
    tcp: Vec<(String, String)>,
}

impl Entry {
    fn tcp(&self, key: &str) -> Option<&str> {
        self.tcp
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Runs `lsof -nP -w -T qs -F pfatnT` with `args`. A process that is gone, or a filter nothing
/// matches, is no entry; `lsof` missing is a [`Gap`].
fn lsof(args: &[&str]) -> Vec<Entry> {
    let output = Command::new("lsof")
        .args(["-nP", "-w", "-T", "qs", "-F", "pfatnT"])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            Gap::new(format!("what a process holds (`lsof` did not run: {err})")).stop()
        });
    parse(&String::from_utf8_lossy(&output.stdout))
}

fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut pid = 0;
    for line in text.lines() {
        let Some(tag) = line.chars().next() else {
            continue;
        };
        let value = &line[tag.len_utf8()..];
        match tag {
            'p' => pid = value.parse().unwrap_or(0),
            'f' => entries.push(Entry {
                pid,
                fd: value.to_string(),
                ..Entry::default()
            }),
            _ => {
                let Some(entry) = entries.last_mut() else {
                    continue;
                };
                match tag {
                    'a' => entry.access = value.trim().to_string(),
                    't' => entry.kind = value.to_string(),
                    'n' => entry.name = value.to_string(),
                    'T' => {
                        if let Some((key, field)) = value.split_once('=') {
                            entry.tcp.push((key.to_string(), field.to_string()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    entries
}

fn open_files(pid: u32) -> Vec<OpenFile> {
    let mut files: Vec<OpenFile> = lsof(&["-p", &pid.to_string()])
        .into_iter()
        .filter_map(|entry| {
            Some(OpenFile {
                fd: entry.fd.parse().ok()?,
                writable: entry.access.contains('w') || entry.access.contains('u'),
                target: PathBuf::from(entry.name),
            })
        })
        .collect();
    files.sort_by_key(|file| file.fd);
    files
}

fn tcp_sockets(pid: u32) -> Vec<TcpSocket> {
    lsof(&["-a", "-p", &pid.to_string(), "-iTCP"])
        .iter()
        .filter_map(tcp_socket)
        .collect()
}

/// A TCP entry's ends and state. A listening socket's remote end is the unspecified address.
fn tcp_socket(entry: &Entry) -> Option<TcpSocket> {
    let state = entry.tcp("ST")?;
    let v6 = entry.kind == "IPv6";
    let (local, remote) = match entry.name.split_once("->") {
        Some((local, remote)) => (endpoint(local, v6)?, endpoint(remote, v6)?),
        None => {
            let unspecified = if v6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            (endpoint(&entry.name, v6)?, SocketAddr::new(unspecified, 0))
        }
    };
    Some(TcpSocket {
        local,
        remote,
        listening: state == "LISTEN",
        established: state == "ESTABLISHED",
        unread: entry.tcp("QR").and_then(|bytes| bytes.parse().ok()),
    })
}

/// `127.0.0.1:8080`, `[::1]:8080`, or `*:8080` (every interface of the socket's family).
fn endpoint(text: &str, v6: bool) -> Option<SocketAddr> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let ip = match host {
        "*" if v6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

fn children(pid: u32) -> Vec<u32> {
    let output = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            Gap::new(format!(
                "the child processes of {pid} (`pgrep` did not run: {err})"
            ))
            .stop()
        });
    let mut found: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect();
    found.sort_unstable();
    found
}

fn describe(pid: u32) -> String {
    let output = Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let command = output
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    if command.is_empty() {
        "?".into()
    } else {
        command
    }
}

fn tcp_socket_holders(local: SocketAddr, remote: SocketAddr, candidates: &[u32]) -> Vec<u32> {
    let holds = |entry: &Entry| {
        tcp_socket(entry).is_some_and(|socket| {
            same_endpoint(socket.local, local) && same_endpoint(socket.remote, remote)
        })
    };
    if !candidates.is_empty() {
        let list: Vec<String> = candidates.iter().map(u32::to_string).collect();
        let mut holders: Vec<u32> = lsof(&["-a", "-p", &list.join(","), "-iTCP"])
            .iter()
            .filter(|entry| holds(entry))
            .map(|entry| entry.pid)
            .collect();
        holders.sort_unstable();
        holders.dedup();
        if !holders.is_empty() {
            return holders;
        }
    }
    let mut holders: Vec<u32> = lsof(&[&format!("-iTCP:{}", local.port())])
        .iter()
        .filter(|entry| holds(entry))
        .map(|entry| entry.pid)
        .collect();
    holders.sort_unstable();
    holders.dedup();
    holders
}

fn mapped_libraries(pid: u32) -> Vec<PathBuf> {
    let mut libraries: Vec<PathBuf> = lsof(&["-p", &pid.to_string()])
        .into_iter()
        // Linux's lsof says `mem` for a mapped file, macOS's says `txt`.
        .filter(|entry| entry.fd == "mem" || entry.fd == "txt")
        .filter(|entry| {
            entry.name.starts_with('/')
                && (entry.name.contains(".so") || entry.name.ends_with(".dylib"))
        })
        .map(|entry| PathBuf::from(entry.name))
        .collect();
    libraries.sort();
    libraries.dedup();
    libraries
}

#[cfg(test)]
mod tests {
    use super::*;

    // These run wherever `lsof` is installed (it ships with macOS; on Debian `apt-get install
    // lsof`, which `cargo xtask verify` does before the harness's tests), so a Linux machine
    // tests the macOS back end.
    #[cfg(target_os = "linux")]
    crate::process::suite::suite_tests!(&BACKEND, "libc.so");
    #[cfg(target_os = "macos")]
    crate::process::suite::suite_tests!(&BACKEND, ".dylib");

    #[test]
    fn parses_lsof_fields_as_macos_prints_them() {
        let text = "p812\nf3\nau\ntIPv6\nn*:8080\nTST=LISTEN\nTQR=0\nTQS=0\n\
                    f4\nau\ntIPv4\nn127.0.0.1:8080->127.0.0.1:51234\nTST=ESTABLISHED\n\
                    ftxt\nar\ntREG\nn/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib\n";
        let entries = parse(text);
        assert_eq!(entries.len(), 3);
        let listening = tcp_socket(&entries[0]).unwrap();
        assert!(listening.listening);
        assert_eq!(listening.local, "[::]:8080".parse().unwrap());
        let connection = tcp_socket(&entries[1]).unwrap();
        assert!(connection.established && !connection.listening);
        assert_eq!(connection.remote, "127.0.0.1:51234".parse().unwrap());
        // macOS's lsof may not report queue sizes: then unread is unknown, not zero.
        assert_eq!(connection.unread, None);
        assert_eq!(entries[2].pid, 812);
        assert_eq!(entries[2].fd, "txt");
    }
}
