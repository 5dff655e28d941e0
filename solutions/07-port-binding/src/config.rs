//! Where the noticeboard listens: `HOST` and `PORT`, from the environment.

use anyhow::bail;
use std::env::{self, VarError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

// ANCHOR: defaults
// Solved: no address is wired into the code any more; these are only what an unset variable
// means. Every interface (`0.0.0.0`) by default, because a process in a container, or behind a
// load balancer on another machine, is reached through an interface that is not loopback.
const ALL_INTERFACES: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
// Solved: an *unset* `PORT` is a developer's `cargo run`, and 8080 is the usual convention there
// (Cloud Run's own samples do the same). Platforms always set it. A `PORT` that is set but not a
// port is another matter: see `port` below.
const DEFAULT_PORT: u16 = 8080;
// ANCHOR_END: defaults

// ANCHOR: address
/// Where to listen: `HOST` (default: every interface) and `PORT` (default: 8080 when unset).
pub fn listen_address() -> anyhow::Result<SocketAddr> {
    let host = match var("HOST")? {
        None => ALL_INTERFACES,
        Some(text) => match text.parse() {
            Ok(ip) => ip,
            Err(_) => bail!("HOST={text:?} is not an IP address (such as 0.0.0.0 or 127.0.0.1)"),
        },
    };
    let port = match var("PORT")? {
        None => DEFAULT_PORT,
        Some(text) => port(&text)?,
    };
    Ok(SocketAddr::new(host, port))
}
// ANCHOR_END: address

// ANCHOR: port
/// Solved: a `PORT` that is set but broken stops the app with an error naming it. Falling back to
/// the default would leave the process listening where the platform never sends traffic, and the
/// typo would surface as a failing health check minutes later, far from its cause.
fn port(text: &str) -> anyhow::Result<u16> {
    match text.parse::<u16>() {
        // Port 0 asks the kernel for any free port: one the platform could not know.
        Ok(port) if port != 0 => Ok(port),
        _ => bail!("PORT={text:?} is not a port number (1 to 65535)"),
    }
}
// ANCHOR_END: port

/// `Some(value)` when `key` is set, `None` when it is not; an error when it is not UTF-8.
fn var(key: &str) -> anyhow::Result<Option<String>> {
    match env::var(key) {
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => bail!("{key} is not valid UTF-8"),
    }
}
