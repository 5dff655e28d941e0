//! What a running process holds, read from Linux's `/proc`: the TCP sockets it listens on and the
//! files it has open.
//!
//! Checks use it to observe what HTTP cannot show: which interface a server bound (all of them, or
//! loopback only), whether a process keeps a log file open for writing, and which connections it
//! holds and whether it has read what arrived on them (a request in flight, an idle keep-alive).

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// One open file descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub fd: u32,
    /// What the descriptor points to: a path, or `socket:[…]`, `pipe:[…]`, `anon_inode:…`.
    pub target: PathBuf,
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub writable: bool,
}

impl OpenFile {
    /// A file in a file system (not a socket, pipe, terminal or anonymous inode).
    pub fn is_regular_file(&self) -> bool {
        self.target.is_absolute()
            && !self.target.starts_with("/dev")
            && !self.target.starts_with("/proc")
            && fs::metadata(&self.target).is_ok_and(|meta| meta.is_file())
    }
}

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

/// Regular files `pid` holds open for writing (a log file, say).
pub fn files_open_for_writing(pid: u32) -> Vec<PathBuf> {
    open_files(pid)
        .into_iter()
        .filter(|file| file.writable && file.is_regular_file())
        .map(|file| file.target)
        .collect()
}

/// The access mode in an `fdinfo` file's octal `flags:` line: `O_WRONLY` (1) or `O_RDWR` (2).
fn is_writable(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
        .is_some_and(|flags| matches!(flags & 0o3, 1 | 2))
}

/// The TCP addresses `pid` listens on, IPv4 and IPv6 (`0.0.0.0:8080`, `[::]:8080`, `127.0.0.1:…`).
pub fn listening_sockets(pid: u32) -> Vec<SocketAddr> {
    tcp_sockets(pid)
        .into_iter()
        .filter(|entry| entry.listening)
        .map(|entry| entry.local)
        .collect()
}

/// One TCP connection a process holds (accepted or opened; listening sockets are not connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConnection {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// In the `ESTABLISHED` state (not closing, not yet connected).
    pub established: bool,
    /// Bytes that arrived on the connection and that the process has not read yet.
    pub unread: u64,
}

/// The TCP connections `pid` holds, IPv4 and IPv6. Empty if the process is gone.
///
/// A connection shows up here only once the process has accepted it (the kernel may hold it in
/// the listening socket's queue before that); `unread == 0` then says the process has read the
/// request that was sent on it.
pub fn tcp_connections(pid: u32) -> Vec<TcpConnection> {
    tcp_sockets(pid)
        .into_iter()
        .filter(|entry| !entry.listening)
        .map(|entry| TcpConnection {
            local: entry.local,
            remote: entry.remote,
            established: entry.established,
            unread: entry.unread,
        })
        .collect()
}

/// Every TCP socket (listening or connected) among `pid`'s open files.
fn tcp_sockets(pid: u32) -> Vec<TcpEntry> {
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
                .filter(|entry| entry.inode != 0 && inodes.contains(&entry.inode)),
        );
    }
    sockets
}

/// The processes `pid` started, their children, and so on (from `/proc/<pid>/task/*/children`).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if !found.contains(&child) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    found
}

/// Whether `addr` accepts connections on every interface (`0.0.0.0` or `::`), not only one.
pub fn is_all_interfaces(addr: &SocketAddr) -> bool {
    addr.ip().is_unspecified()
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
    use std::net::TcpListener;

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

    #[test]
    fn sees_this_process_listening() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let listening = listening_sockets(std::process::id());
        assert!(listening.contains(&addr), "{listening:?} lacks {addr}");
        assert!(!is_all_interfaces(&addr));
    }

    #[test]
    fn finds_the_children_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
    }

    #[test]
    fn sees_a_connection_and_whether_its_data_was_read() {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        let client_addr = client.local_addr().unwrap();
        client.write_all(b"hello").unwrap();
        let ours = |unread: u64| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                let seen = tcp_connections(std::process::id())
                    .into_iter()
                    .any(|c| c.remote == client_addr && c.established && c.unread == unread);
                if seen || std::time::Instant::now() > deadline {
                    return seen;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        assert!(ours(5), "the 5 unread bytes are not visible");
        let mut buffer = [0; 5];
        served.read_exact(&mut buffer).unwrap();
        assert!(ours(0), "the read is not visible");
        assert!(
            !listening_sockets(std::process::id()).contains(&client_addr),
            "a connection is listed as listening"
        );
    }

    #[test]
    fn sees_a_file_open_for_writing_and_not_one_open_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let written = dir.path().join("app.log");
        let read = dir.path().join("config.txt");
        fs::write(&read, "x").unwrap();
        let _writer = fs::File::create(&written).unwrap();
        let _reader = fs::File::open(&read).unwrap();
        let writing = files_open_for_writing(std::process::id());
        let written = fs::canonicalize(&written).unwrap();
        let read = fs::canonicalize(&read).unwrap();
        assert!(writing.contains(&written), "{writing:?}");
        assert!(!writing.contains(&read), "{writing:?}");
    }
}
