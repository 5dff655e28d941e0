//! What a running process holds, read from Linux's `/proc`: the TCP sockets it listens on or is
//! connected through, the files it has open, the child processes it started, the shared libraries
//! it has loaded.
//!
//! Checks use it to observe what HTTP cannot show: which interface a server bound (all of them, or
//! loopback only), whether a process keeps a log file open for writing, which connections it
//! holds and whether it has read what arrived on them (a request in flight, an idle keep-alive),
//! and which process really made an outgoing call (the app itself, or a `curl` it started).

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
///
/// Asked of the kernel's socket diagnostics where it can ([`crate::sock_diag`]: microseconds, where
/// reading `/proc/<pid>/net/tcp` costs milliseconds, and readiness asks on every app start).
pub fn listening_sockets(pid: u32) -> Vec<SocketAddr> {
    if let Some(listeners) = crate::sock_diag::listening() {
        let inodes = socket_inodes(pid);
        return listeners
            .into_iter()
            .filter(|listener| inodes.contains(&listener.inode))
            .map(|listener| listener.local)
            .collect();
    }
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

/// The inodes of the sockets among `pid`'s open files (`socket:[<inode>]`). Empty if it is gone.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let target = fs::read_link(entry.path()).ok()?;
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// Every TCP socket (listening or connected) among `pid`'s open files.
fn tcp_sockets(pid: u32) -> Vec<TcpEntry> {
    let inodes = socket_inodes(pid);
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

/// Whether `addr` accepts connections on every interface (`0.0.0.0` or `::`), not only one.
pub fn is_all_interfaces(addr: &SocketAddr) -> bool {
    addr.ip().is_unspecified()
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

/// Every process below `pid`: children, their children, and so on.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = children(pid);
    while let Some(next) = queue.pop() {
        if !found.contains(&next) {
            found.push(next);
            queue.extend(children(next));
        }
    }
    found.sort_unstable();
    found
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

/// An IPv4 address and its IPv4-mapped IPv6 form (`::ffff:127.0.0.1`) are the same endpoint.
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |addr: SocketAddr| match addr.ip() {
        IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or(addr.ip(), IpAddr::V4),
        ip => ip,
    };
    a.port() == b.port() && canonical(a) == canonical(b)
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

    #[test]
    fn finds_who_holds_each_end_of_a_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let local = client.local_addr().unwrap();
        let me = std::process::id();
        assert_eq!(tcp_socket_holders(local, server, &[me]), [me]);
        // Not among the candidates: found by the search of every process.
        assert_eq!(tcp_socket_holders(local, server, &[]), [me]);
        let unused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(tcp_socket_holders(unused, server, &[me]).is_empty());
    }

    #[test]
    fn sees_a_child_process_and_describes_it() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let found = children(me).contains(&child.id()) && descendants(me).contains(&child.id());
        // Right after exec the new command line may not be readable yet: poll briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut description = describe(child.id());
        while !description.contains("sleep 5") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            description = describe(child.id());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found, "children of {me}: {:?}", children(me));
        assert!(description.contains("sleep 5"), "{description}");
        assert!(descendants(child.id()).is_empty());
    }

    #[test]
    fn lists_the_libraries_this_process_has_loaded() {
        let libraries = mapped_libraries(std::process::id());
        assert!(
            libraries
                .iter()
                .any(|path| path.to_string_lossy().contains("libc.so")),
            "{libraries:?}"
        );
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_same_endpoint() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert!(same_endpoint(v4, mapped));
        assert!(!same_endpoint(v4, "127.0.0.1:81".parse().unwrap()));
    }
}
