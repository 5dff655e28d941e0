//! Where the noticeboard listens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

// ANCHOR: address
// TODO(factor-7): this address is wired into the code: port 8080, which a platform did not choose
// and which another process may already hold, on 127.0.0.1, which only programs on the same
// machine (inside a container: the same container) can reach. Take the port from `PORT`, listen on
// all interfaces unless `HOST` names one, and when `PORT` is not a port number, return an error
// that names it: never fall back to a default.
/// The address the noticeboard listens on: the one its first developer picked.
const ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Where to listen. Whatever the environment says (`PORT=5000`, `PORT=abc`): 127.0.0.1:8080.
pub fn listen_address() -> anyhow::Result<SocketAddr> {
    Ok(ADDRESS)
}
// ANCHOR_END: address
