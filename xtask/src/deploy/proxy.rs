//! A TCP proxy between the app and Redis that the demo can cut and restore.
//!
//! Cutting the proxy, not Redis, simulates the outage for the demo's processes only: everyone
//! else using the shared Redis keeps working (the harness's `proxy` does the same for checks).
//! A cut resets the open connections and closes new ones at once, as a Redis that went away would.

use anyhow::{Context, Result};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct CutProxy {
    port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every open connection, to reset them on a cut.
    open: Mutex<Vec<TcpStream>>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<CutProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("the Redis proxy cannot bind")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if accepting.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = accepting.forward(client);
            }
        });
        Ok(CutProxy { port, shared })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The outage begins: open connections are reset, new ones closed.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        self.shared.close_all();
    }

    /// The outage ends.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.close_all();
        // Wake the accepting thread so it sees `stopped`.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(200),
        );
    }
}

impl Shared {
    fn forward(&self, client: TcpStream) -> io::Result<()> {
        let server = TcpStream::connect_timeout(&self.upstream, Duration::from_secs(2))?;
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        if let Ok(mut open) = self.open.lock() {
            open.push(client.try_clone()?);
            open.push(server.try_clone()?);
        }
        let (client_read, server_write) = (client.try_clone()?, server.try_clone()?);
        std::thread::spawn(move || pipe(client_read, server_write));
        std::thread::spawn(move || pipe(server, client));
        Ok(())
    }

    fn close_all(&self) {
        if let Ok(mut open) = self.open.lock() {
            for stream in open.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
