//! A loopback HTTP server that stands in for an upstream the app calls (a webhook, a push or e-mail
//! gateway): it records every request it receives and answers after a delay the test chooses.
//!
//! Checks use it to see *that* the app made a call, *what* it sent, and to hold a call in flight
//! (a slow upstream) while they kill or signal the app.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest a request head or body may take to arrive before the stub gives up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The caller's end of the connection: with [`crate::procfs::tcp_socket_holders`], which
    /// process made the call.
    pub peer: SocketAddr,
    /// When the request had arrived completely.
    pub at: Instant,
    /// Whether the stub finished answering it (false while delayed, or if the caller hung up).
    pub answered: bool,
}

impl Call {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON, or `None` if it is not.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    changed: Condvar,
    delay: Mutex<Duration>,
    status: Mutex<u16>,
    stopped: AtomicBool,
}

/// A recording HTTP/1.1 server on `127.0.0.1`. Dropping it stops it.
pub struct HttpStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HttpStub {
    /// A stub that answers every request at once with `200` and `{"ok":true}`.
    #[track_caller]
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the HTTP stub");
        let addr = listener.local_addr().expect("the HTTP stub has no address");
        let shared = Arc::new(Shared::default());
        *shared.status.lock().unwrap() = 200;
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let serving = Arc::clone(&accepting);
                thread::spawn(move || serve(stream, &serving));
            }
        });
        HttpStub { addr, shared }
    }

    /// Answers every later request only after `delay` (a slow upstream).
    pub fn delay(self, delay: Duration) -> Self {
        self.set_delay(delay);
        self
    }

    /// Changes the delay for requests that arrive from now on.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Answers later requests with `status` (e.g. 500, to play a failing upstream).
    pub fn set_status(&self, status: u16) {
        *self.shared.status.lock().unwrap() = status;
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`, the URL to give the app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests have arrived, or `timeout` passes; returns them all.
    pub fn wait_for_calls(&self, count: usize, timeout: Duration) -> Vec<Call> {
        self.wait_until(timeout, |calls| calls.len() >= count)
    }

    /// Waits until `done` holds for the recorded calls, or `timeout` passes; returns them all.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        let mut calls = self.shared.calls.lock().unwrap();
        while !done(&calls) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            calls = self.shared.changed.wait_timeout(calls, left).unwrap().0;
        }
        calls.clone()
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Reads requests from one connection (keep-alive included) until the caller hangs up.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while !shared.stopped.load(Ordering::SeqCst) {
        let Some(call) = read_request(&mut reader, peer) else {
            return;
        };
        // HTTP/1.1: a caller that asks to close expects the server to hang up after answering.
        let close = call
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let index = record(shared, call);
        let delay = *shared.delay.lock().unwrap();
        let status = *shared.status.lock().unwrap();
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        let body = br#"{"ok":true}"#;
        let head = format!(
            "HTTP/1.1 {status} Stub\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let sent = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body))
            .and_then(|()| writer.flush());
        if sent.is_err() {
            return;
        }
        shared.calls.lock().unwrap()[index].answered = true;
        shared.changed.notify_all();
        if close {
            return;
        }
    }
}

fn record(shared: &Shared, call: Call) -> usize {
    let mut calls = shared.calls.lock().unwrap();
    calls.push(call);
    shared.changed.notify_all();
    calls.len() - 1
}

fn read_request(reader: &mut BufReader<TcpStream>, peer: SocketAddr) -> Option<Call> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(':')?;
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Call {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        peer,
        at: Instant::now(),
        answered: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(stub: &HttpStub, body: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(stub.addr())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn records_each_request_and_answers_it() {
        let stub = HttpStub::start();
        let answer = post(&stub, r#"{"n":1}"#).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let calls = stub.wait_for_calls(1, Duration::from_secs(2));
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "POST");
        assert_eq!(calls[0].path, "/hook");
        assert_eq!(calls[0].json().unwrap()["n"], 1);
        assert_eq!(calls[0].header("Content-Type"), Some("application/json"));
        assert!(calls[0].peer.ip().is_loopback());
    }

    #[test]
    fn a_slow_stub_records_the_call_before_it_answers() {
        let stub = HttpStub::start().delay(Duration::from_millis(600));
        let url = stub.addr();
        let caller = thread::spawn(move || {
            let stub_addr = url;
            let mut stream = TcpStream::connect(stub_addr).unwrap();
            stream
                .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        });
        let calls = stub.wait_for_calls(1, Duration::from_secs(2));
        assert_eq!(calls.len(), 1);
        assert!(!calls[0].answered, "answered before its delay");
        assert!(caller.join().unwrap().starts_with("HTTP/1.1 200"));
        let calls = stub.wait_until(Duration::from_secs(2), |calls| calls[0].answered);
        assert!(calls[0].answered);
    }

    #[test]
    fn waiting_for_calls_that_never_come_is_bounded() {
        let stub = HttpStub::start();
        let started = Instant::now();
        assert!(
            stub.wait_for_calls(1, Duration::from_millis(100))
                .is_empty()
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
