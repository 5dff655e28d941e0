//! The webhook the workers deliver to: it records every delivery, so the demo can count the
//! notifications lost and those delivered twice, and it can hold one delivery open so the demo
//! kills a worker in the middle of it.
//!
//! A delivery counts only once it is *acknowledged*: the webhook takes a while to answer, as a
//! real endpoint does, and a delivery whose sender died meanwhile (its connection closed before
//! the answer) was never known to succeed, so the app must send it again. Detecting that needs
//! the socket, so this is a small HTTP/1.1 server of its own rather than a framework handler.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// The deliveries received so far.
#[derive(Default)]
struct Record {
    /// How many times each notification id was acknowledged.
    acknowledged: BTreeMap<String, usize>,
    /// Deliveries whose sender was gone before the answer.
    abandoned: usize,
    /// Set by [`Webhook::hold_next`]: the next delivery is held and its worker sent here.
    hold: Option<oneshot::Sender<String>>,
}

#[derive(Clone)]
struct Shared {
    record: Arc<Mutex<Record>>,
    release: Arc<Notify>,
    /// How long every delivery takes to answer.
    delay: Duration,
}

pub struct Webhook {
    pub port: u16,
    shared: Shared,
    runtime: Option<tokio::runtime::Runtime>,
}

/// What the webhook saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// Distinct notifications acknowledged.
    pub distinct: usize,
    /// Notifications acknowledged more than once.
    pub twice: usize,
    /// Deliveries whose sender died before the answer.
    pub abandoned: usize,
}

impl Webhook {
    pub fn start(delay: Duration) -> Result<Webhook> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let shared = Shared {
            record: Arc::default(),
            release: Arc::new(Notify::new()),
            delay,
        };
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .context("the webhook cannot bind")?;
        let port = listener.local_addr()?.port();
        let accepting = shared.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accepting.clone()));
            }
        });
        Ok(Webhook {
            port,
            shared,
            runtime: Some(runtime),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Holds the next delivery open until [`Webhook::release`]; returns the `worker` field of
    /// that delivery once it has arrived (within `timeout`).
    pub fn hold_next(&self, timeout: Duration) -> Result<String> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut record) = self.shared.record.lock() {
            record.hold = Some(sender);
        }
        let runtime = self.runtime.as_ref().context("the webhook has stopped")?;
        runtime
            .block_on(async { tokio::time::timeout(timeout, receiver).await })
            .context("no delivery arrived to hold")?
            .context("the webhook stopped")
    }

    /// Answers the held delivery (if its sender is still there).
    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    pub fn deliveries(&self) -> Deliveries {
        let record = self.shared.record.lock().unwrap_or_else(|p| p.into_inner());
        Deliveries {
            distinct: record.acknowledged.len(),
            twice: record
                .acknowledged
                .values()
                .filter(|count| **count > 1)
                .count(),
            abandoned: record.abandoned,
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.release();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_millis(200));
        }
    }
}

/// One keep-alive connection: each request is a delivery, answered after the delay.
async fn serve(mut stream: TcpStream, shared: Shared) {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let delivery: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = match &delivery["id"] {
            serde_json::Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        let worker = delivery["worker"].as_str().unwrap_or("?").to_string();
        let held = shared.record.lock().ok().and_then(|mut r| r.hold.take());
        match held {
            Some(sender) => {
                let released = shared.release.notified();
                let _ = sender.send(worker);
                released.await;
            }
            None => tokio::time::sleep(shared.delay).await,
        }
        // The sender still there? A closed connection reads as end of file at once.
        let mut probe = [0u8; 1];
        let gone = match stream.try_read(&mut probe) {
            Ok(0) => true,
            // The next request already (no client of the demo pipelines, but keep it).
            Ok(_) => {
                buffer.push(probe[0]);
                false
            }
            Err(_) => false,
        };
        if let Ok(mut record) = shared.record.lock() {
            if gone {
                record.abandoned += 1;
            } else {
                *record.acknowledged.entry(id).or_default() += 1;
            }
        }
        if gone {
            return;
        }
        let close = head.to_ascii_lowercase().contains("connection: close");
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nok\n";
        if stream.write_all(answer.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// Reads one request (head and `Content-Length` body) from the connection; `None` once it ends.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buffer.len() < total {
                let mut chunk = [0u8; 4096];
                let read = stream.read(&mut chunk).await.ok()?;
                if read == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let body = buffer[end + 4..total].to_vec();
            buffer.drain(..total);
            return Some((head, body));
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn post(stream: &mut std::net::TcpStream, id: u32) {
        let body = format!(r#"{{"id": {id}, "name": "ada", "message": "hi", "worker": "w"}}"#);
        write!(
            stream,
            "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }

    /// Answered deliveries count; one whose sender hung up before the answer does not.
    #[test]
    fn only_acknowledged_deliveries_count() {
        let webhook = Webhook::start(Duration::from_millis(100)).unwrap();
        let mut kept = std::net::TcpStream::connect(("127.0.0.1", webhook.port)).unwrap();
        post(&mut kept, 1);
        post(&mut kept, 2);
        let mut dropped = std::net::TcpStream::connect(("127.0.0.1", webhook.port)).unwrap();
        post(&mut dropped, 3);
        std::thread::sleep(Duration::from_millis(20));
        drop(dropped);
        let mut answers = [0u8; 200];
        let mut read = 0;
        kept.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        while String::from_utf8_lossy(&answers[..read])
            .matches("ok\n")
            .count()
            < 2
        {
            read += kept.read(&mut answers[read..]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(150));
        let deliveries = webhook.deliveries();
        assert_eq!((deliveries.distinct, deliveries.abandoned), (2, 1));
    }
}
