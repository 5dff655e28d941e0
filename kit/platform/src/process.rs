//! What a running process holds: the TCP sockets it listens on or is connected through, the files
//! it has open, the child processes it started, the shared libraries it has loaded.
//!
//! Checks use it to observe what HTTP cannot show: which interface a server bound (all of them, or
//! loopback only), whether a process keeps a log file open for writing, which connections it
//! holds and whether it has read what arrived on them (a request in flight, an idle keep-alive),
//! and which process really made an outgoing call (the app itself, or a `curl` it started).
//!
//! Linux answers from `/proc` ([`crate::procfs`]); elsewhere (macOS) `lsof`, `pgrep` and `ps`
//! answer ([`crate::lsof`]). Both back ends pass the same tests on Linux.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// One open file descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub fd: u32,
    /// What the descriptor points to: a path, or `socket:[…]`, `pipe:[…]`, `anon_inode:…`
    /// (Linux), or an address or `pipe` (lsof).
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

/// A TCP socket as a back end reports it. `unread` is `None` where the platform does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub listening: bool,
    pub established: bool,
    pub unread: Option<u64>,
}

/// The operations each back end provides.
pub struct Backend {
    pub open_files: fn(u32) -> Vec<OpenFile>,
    pub tcp_sockets: fn(u32) -> Vec<TcpSocket>,
    pub children: fn(u32) -> Vec<u32>,
    pub describe: fn(u32) -> String,
    pub tcp_socket_holders: fn(SocketAddr, SocketAddr, &[u32]) -> Vec<u32>,
    pub mapped_libraries: fn(u32) -> Vec<PathBuf>,
}

/// This platform's back end.
pub fn backend() -> &'static Backend {
    #[cfg(target_os = "linux")]
    return &crate::procfs::BACKEND;
    #[cfg(not(target_os = "linux"))]
    return &crate::lsof::BACKEND;
}

/// Every file descriptor `pid` has open. Empty if the process is gone.
pub fn open_files(pid: u32) -> Vec<OpenFile> {
    (backend().open_files)(pid)
}

/// Regular files `pid` holds open for writing (a log file, say).
pub fn files_open_for_writing(pid: u32) -> Vec<PathBuf> {
    open_files(pid)
        .into_iter()
        .filter(|file| file.writable && file.is_regular_file())
        .map(|file| file.target)
        .collect()
}

/// The TCP addresses `pid` listens on, IPv4 and IPv6 (`0.0.0.0:8080`, `[::]:8080`, `127.0.0.1:…`).
pub fn listening_sockets(pid: u32) -> Vec<SocketAddr> {
    (backend().tcp_sockets)(pid)
        .into_iter()
        .filter(|socket| socket.listening)
        .map(|socket| socket.local)
        .collect()
}

/// The TCP connections `pid` holds, IPv4 and IPv6. Empty if the process is gone.
///
/// A connection shows up here only once the process has accepted it (the kernel may hold it in
/// the listening socket's queue before that); `unread == 0` then says the process has read the
/// request that was sent on it. Where the platform does not report unread bytes, the check stops
/// as not checkable ([`crate::Gap`]).
pub fn tcp_connections(pid: u32) -> Vec<TcpConnection> {
    (backend().tcp_sockets)(pid)
        .into_iter()
        .filter(|socket| !socket.listening)
        .map(|socket| TcpConnection {
            local: socket.local,
            remote: socket.remote,
            established: socket.established,
            unread: socket.unread.unwrap_or_else(|| {
                crate::Gap::new(format!(
                    "how many bytes process {pid} has not yet read on a connection (lsof reports \
                     no receive-queue size on this system)"
                ))
                .stop()
            }),
        })
        .collect()
}

/// Whether `addr` accepts connections on every interface (`0.0.0.0` or `::`), not only one.
pub fn is_all_interfaces(addr: &SocketAddr) -> bool {
    addr.ip().is_unspecified()
}

/// The process ids of `pid`'s children.
pub fn children(pid: u32) -> Vec<u32> {
    (backend().children)(pid)
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
    (backend().describe)(pid)
}

/// The processes holding the TCP socket whose local end is `local` and remote end is `remote`
/// (one side of a connection, as seen from the process that opened it).
///
/// `candidates` are searched first (say, the app and its descendants); only if none holds the
/// socket is every process searched. Processes whose descriptors cannot be read (other users')
/// are skipped. Empty if the connection is gone.
pub fn tcp_socket_holders(local: SocketAddr, remote: SocketAddr, candidates: &[u32]) -> Vec<u32> {
    (backend().tcp_socket_holders)(local, remote, candidates)
}

/// The shared libraries mapped into `pid`'s memory, each once: what the loader actually loaded,
/// including libraries opened at run time and libraries of libraries.
pub fn mapped_libraries(pid: u32) -> Vec<PathBuf> {
    (backend().mapped_libraries)(pid)
}

/// An IPv4 address and its IPv4-mapped IPv6 form (`::ffff:127.0.0.1`) are the same endpoint.
pub fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |addr: SocketAddr| match addr.ip() {
        IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or(addr.ip(), IpAddr::V4),
        ip => ip,
    };
    a.port() == b.port() && canonical(a) == canonical(b)
}

/// The behaviour every back end must have, run against each one this platform can run.
#[cfg(test)]
pub(crate) mod suite {
    use super::*;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    fn until(mut seen: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if seen() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn sees_this_process_listening(backend: &Backend) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let listening: Vec<SocketAddr> = (backend.tcp_sockets)(std::process::id())
            .into_iter()
            .filter(|socket| socket.listening)
            .map(|socket| socket.local)
            .collect();
        assert!(listening.contains(&addr), "{listening:?} lacks {addr}");
        assert!(!is_all_interfaces(&addr));
    }

    pub fn sees_a_connection_and_whether_its_data_was_read(backend: &Backend) {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        let client_addr = client.local_addr().unwrap();
        client.write_all(b"hello").unwrap();
        let ours = |unread: u64| {
            until(|| {
                (backend.tcp_sockets)(std::process::id())
                    .into_iter()
                    .any(|socket| {
                        !socket.listening
                            && socket.remote == client_addr
                            && socket.established
                            && socket.unread == Some(unread)
                    })
            })
        };
        assert!(ours(5), "the 5 unread bytes are not visible");
        let mut buffer = [0; 5];
        served.read_exact(&mut buffer).unwrap();
        assert!(ours(0), "the read is not visible");
        assert!(
            !(backend.tcp_sockets)(std::process::id())
                .iter()
                .any(|socket| socket.listening && socket.local == client_addr),
            "a connection is listed as listening"
        );
    }

    pub fn sees_a_file_open_for_writing_and_not_one_open_for_reading(backend: &Backend) {
        let dir = tempfile::tempdir().unwrap();
        let written = dir.path().join("app.log");
        let read = dir.path().join("config.txt");
        fs::write(&read, "x").unwrap();
        let _writer = fs::File::create(&written).unwrap();
        let _reader = fs::File::open(&read).unwrap();
        let writing: Vec<PathBuf> = (backend.open_files)(std::process::id())
            .into_iter()
            .filter(|file| file.writable && file.is_regular_file())
            .map(|file| file.target)
            .collect();
        let written = fs::canonicalize(&written).unwrap();
        let read = fs::canonicalize(&read).unwrap();
        assert!(writing.contains(&written), "{writing:?}");
        assert!(!writing.contains(&read), "{writing:?}");
    }

    pub fn finds_who_holds_each_end_of_a_connection(backend: &Backend) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let local = client.local_addr().unwrap();
        let me = std::process::id();
        assert_eq!((backend.tcp_socket_holders)(local, server, &[me]), [me]);
        // Not among the candidates: found by the search of every process.
        assert_eq!((backend.tcp_socket_holders)(local, server, &[]), [me]);
        let unused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!((backend.tcp_socket_holders)(unused, server, &[me]).is_empty());
    }

    pub fn sees_a_child_process_and_describes_it(backend: &Backend) {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let found = until(|| (backend.children)(me).contains(&child.id()));
        // Right after exec the new command line may not be readable yet: poll briefly.
        let described = until(|| (backend.describe)(child.id()).contains("sleep 5"));
        let description = (backend.describe)(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found, "children of {me}: {:?}", (backend.children)(me));
        assert!(described, "{description}");
        assert!((backend.children)(child.id()).is_empty());
    }

    pub fn lists_the_libraries_this_process_has_loaded(backend: &Backend, library: &str) {
        let libraries = (backend.mapped_libraries)(std::process::id());
        assert!(
            libraries
                .iter()
                .any(|path| path.to_string_lossy().contains(library)),
            "{libraries:?}"
        );
    }

    /// Every test of the suite, against `backend`; `library` is one every process here loads.
    macro_rules! suite_tests {
        ($backend:expr, $library:expr) => {
            #[test]
            fn sees_this_process_listening() {
                crate::process::suite::sees_this_process_listening($backend);
            }
            #[test]
            fn sees_a_connection_and_whether_its_data_was_read() {
                crate::process::suite::sees_a_connection_and_whether_its_data_was_read($backend);
            }
            #[test]
            fn sees_a_file_open_for_writing_and_not_one_open_for_reading() {
                crate::process::suite::sees_a_file_open_for_writing_and_not_one_open_for_reading(
                    $backend,
                );
            }
            #[test]
            fn finds_who_holds_each_end_of_a_connection() {
                crate::process::suite::finds_who_holds_each_end_of_a_connection($backend);
            }
            #[test]
            fn sees_a_child_process_and_describes_it() {
                crate::process::suite::sees_a_child_process_and_describes_it($backend);
            }
            #[test]
            fn lists_the_libraries_this_process_has_loaded() {
                crate::process::suite::lists_the_libraries_this_process_has_loaded(
                    $backend, $library,
                );
            }
        };
    }
    pub(crate) use suite_tests;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_mapped_address_is_the_same_endpoint() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert!(same_endpoint(v4, mapped));
        assert!(!same_endpoint(v4, "127.0.0.1:81".parse().unwrap()));
    }

    #[test]
    fn descendants_are_found_through_this_platforms_back_end() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
    }
}
