//! A loopback TCP proxy a test can cut and restore.
//!
//! Point the app at the proxy instead of the real service; [`TcpProxy::cut`] then simulates an
//! outage (open connections are reset, new ones closed at once) without touching the real server,
//! and [`TcpProxy::restore`] ends it.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct TcpProxy {
    local: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    cut: AtomicBool,
    stopped: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
    accepted: AtomicUsize,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy cannot bind a loopback port");
        let local = listener.local_addr().expect("proxy has no local address");
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                accepting.accepted.fetch_add(1, Ordering::SeqCst);
                if accepting.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = accepting.forward(client);
            }
        });
        TcpProxy { local, shared }
    }

    /// The address to give the app.
    pub fn addr(&self) -> SocketAddr {
        self.local
    }

    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// How many connections clients have opened through the proxy so far (refused ones included):
    /// proof that an app reached its backing service through the address it was given.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Starts the outage: resets open connections and refuses new ones.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for stream in self.shared.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Ends the outage: new connections reach the upstream again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Shared {
    fn forward(&self, client: TcpStream) -> io::Result<()> {
        let server = match TcpStream::connect(self.upstream) {
            Ok(server) => server,
            Err(err) => {
                let _ = client.shutdown(Shutdown::Both);
                return Err(err);
            }
        };
        let mut open = self.open.lock().unwrap();
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
        drop(open);
        pipe(client.try_clone()?, server.try_clone()?);
        pipe(server, client);
        Ok(())
    }
}

/// Copies `from` into `to` until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stopped` and exits.
        let _ = TcpStream::connect(self.local);
    }
}
