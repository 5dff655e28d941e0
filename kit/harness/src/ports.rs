//! Ports for the apps under test, handed out so that no two checks can get the same one.
//!
//! Binding port 0 and letting it go is racy: between the moment the harness lets a port go and the
//! moment the app binds it, another test (in this process or another test binary) can be handed the
//! same port, and outgoing connections take their local ports from the same ephemeral range. So
//! the harness leases ports from *below* the kernel's ephemeral range, and each lease is an
//! exclusive lock on a file named after the port, shared by every test process on the machine and
//! released by the kernel when the process that holds it ends.

use std::fs::{self, File, TryLockError};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;

/// How many ports below the ephemeral range the harness may use: room for every app of several
/// check binaries running at once, without reaching down into well-known service ports.
const SPAN: u16 = 10_000;

/// Leases held for the life of this test process (see [`lease`]). Each `File` *is* a lease: its
/// lock, on `<tmp>/kit-harness-ports/<port>`, lasts as long as the file stays open, so keeping the
/// files here keeps the ports; the kernel releases them when the process ends, even by a crash,
/// so no lease can outlive its holder and no clean-up step is needed.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A port that no other test on this machine holds, free on every interface when handed out.
///
/// The lease lasts until this test process ends, so a port is never handed out twice while a
/// check may still be using it (an app restarted on its old port, say).
#[track_caller]
pub fn lease() -> u16 {
    let dir = lock_dir();
    fs::create_dir_all(&dir)
        .unwrap_or_else(|err| panic!("cannot create {} for port leases: {err}", dir.display()));
    let (low, high) = range();
    let count = high - low;
    let start = random_offset() % count;
    for step in 0..count {
        let port = low + (start + step) % count;
        let Ok(file) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        match file.try_lock() {
            Ok(()) if is_free(port) => {
                HELD.lock().unwrap().push(file);
                return port;
            }
            Ok(()) | Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(err)) => panic!("cannot lock a port lease file: {err}"),
        }
    }
    panic!("no free port between {low} and {high}: every one is leased or in use")
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("kit-harness-ports")
}

/// Free on all interfaces and on loopback (apps bind either).
fn is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// `[low, high)`: the `SPAN` ports just below the ephemeral range (Linux: 32768–60999 by default).
fn range() -> (u16, u16) {
    let ephemeral_start = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let high = ephemeral_start.max(1024 + SPAN);
    (high - SPAN, high)
}

fn random_offset() -> u16 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([bytes[0], bytes[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn leases_are_distinct_free_and_outside_the_ephemeral_range() {
        let (low, high) = range();
        let ports: Vec<u16> = (0..50).map(|_| lease()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|port| (low..high).contains(port)));
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).expect("a leased port is free");
        }
    }

    #[test]
    fn a_port_leased_by_another_process_is_not_handed_out() {
        let port = lease();
        // Another process's lock: open the same file afresh and try it, as a second process would.
        let other = File::options()
            .write(true)
            .open(lock_dir().join(port.to_string()))
            .unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
    }
}
