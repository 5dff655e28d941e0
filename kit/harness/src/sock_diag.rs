//! The machine's listening TCP sockets, asked of the kernel's socket-diagnostics interface (the
//! netlink protocol `ss -l` uses).
//!
//! Why not `/proc/<pid>/net/tcp`: the kernel builds that file by walking its whole connection hash
//! table, which costs 5–10 ms per read on this kind of machine whatever the number of sockets, and
//! readiness is judged on every app start. A sock_diag dump restricted to the LISTEN state walks
//! only the listening sockets: about 50 µs. The answer is the same (each socket's address and
//! inode); [`crate::procfs`] matches the inodes to a process's open files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A listening socket: its address and the inode that names it in `/proc/<pid>/fd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub local: SocketAddr,
    pub inode: u64,
}

/// Every listening TCP socket (IPv4 and IPv6) in this network namespace, or `None` where the
/// interface is not available (not Linux, or a kernel without it): callers then read `/proc`.
pub fn listening() -> Option<Vec<Listener>> {
    #[cfg(target_os = "linux")]
    {
        let mut found = dump(AF_INET).ok()?;
        found.extend(dump(AF_INET6).ok()?);
        Some(found)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

#[cfg(target_os = "linux")]
fn dump(family: u8) -> std::io::Result<Vec<Listener>> {
    use std::io::Read;
    const AF_NETLINK: i32 = 16;
    const NETLINK_SOCK_DIAG: i32 = 4;
    let socket = socket2::Socket::new(
        socket2::Domain::from(AF_NETLINK),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::from(NETLINK_SOCK_DIAG)),
    )?;
    socket.set_read_timeout(Some(std::time::Duration::from_secs(1)))?;
    // An unbound, unconnected netlink socket sends to the kernel and is bound on first use.
    socket.send(&request(family))?;
    let mut found = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = (&socket).read(&mut buffer)?;
        if read == 0 {
            return Ok(found);
        }
        match parse(&buffer[..read], &mut found) {
            Parsed::More => continue,
            Parsed::Done => return Ok(found),
            Parsed::Error => return Err(std::io::Error::other("sock_diag answered an error")),
        }
    }
}

/// `nlmsghdr` + `inet_diag_req_v2` asking for every TCP socket of `family` in the LISTEN state.
fn request(family: u8) -> Vec<u8> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const IPPROTO_TCP: u8 = 6;
    const TCP_LISTEN: u32 = 10;
    const LENGTH: u32 = 16 + 56;
    let mut message = Vec::with_capacity(LENGTH as usize);
    message.extend(LENGTH.to_ne_bytes());
    message.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    message.extend(1u32.to_ne_bytes()); // sequence number
    message.extend(0u32.to_ne_bytes()); // port id: the kernel fills it in
    message.extend([family, IPPROTO_TCP, 0, 0]);
    message.extend((1u32 << TCP_LISTEN).to_ne_bytes());
    // inet_diag_sockid: ports, addresses, interface, no cookie (all ones).
    message.extend([0u8; 4 + 16 + 16 + 4]);
    message.extend([0xffu8; 8]);
    message
}

enum Parsed {
    More,
    Done,
    Error,
}

/// Reads the `inet_diag_msg` records of one netlink datagram into `found`.
fn parse(datagram: &[u8], found: &mut Vec<Listener>) -> Parsed {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    let u32_at = |bytes: &[u8], at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut offset = 0;
    while offset + 16 <= datagram.len() {
        let Some(length) = u32_at(datagram, offset).map(|length| length as usize) else {
            return Parsed::Error;
        };
        let kind = u16::from_ne_bytes([datagram[offset + 4], datagram[offset + 5]]);
        if length < 16 || offset + length > datagram.len() {
            return Parsed::Error;
        }
        match kind {
            NLMSG_DONE => return Parsed::Done,
            NLMSG_ERROR => return Parsed::Error,
            _ => {
                let record = &datagram[offset + 16..offset + length];
                if let Some(listener) = listener(record) {
                    found.push(listener);
                }
            }
        }
        // Records are aligned to four bytes.
        offset += (length + 3) & !3;
    }
    Parsed::More
}

/// `inet_diag_msg`: family, state, timer, retrans, then `inet_diag_sockid` (source port and
/// address in network byte order), expires, queues, uid, inode.
fn listener(record: &[u8]) -> Option<Listener> {
    let family = *record.first()?;
    let port = u16::from_be_bytes([*record.get(4)?, *record.get(5)?]);
    let address = record.get(8..24)?;
    let ip = match family {
        AF_INET => IpAddr::V4(Ipv4Addr::new(
            address[0], address[1], address[2], address[3],
        )),
        AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(address).ok()?)),
        _ => return None,
    };
    let inode = record.get(68..72)?;
    Some(Listener {
        local: SocketAddr::new(ip, port),
        inode: u64::from(u32::from_ne_bytes([inode[0], inode[1], inode[2], inode[3]])),
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sees_a_listening_socket_on_both_families() {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let v6 = TcpListener::bind("[::1]:0");
        let found = listening().expect("sock_diag answers on Linux");
        let port = v4.local_addr().unwrap().port();
        assert!(
            found.iter().any(
                |listener| listener.local == SocketAddr::from(([127, 0, 0, 1], port))
                    && listener.inode != 0
            ),
            "{found:?}"
        );
        if let Ok(v6) = v6 {
            let port = v6.local_addr().unwrap().port();
            assert!(
                found.iter().any(|listener| listener.local.port() == port
                    && listener.local.ip() == IpAddr::V6(Ipv6Addr::LOCALHOST)),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_socket_that_stopped_listening_is_gone() {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        drop(socket);
        let found = listening().unwrap();
        assert!(!found.iter().any(|listener| listener.local == addr));
    }
}
