//! A small HTTP/1.1 client for the class board: one JSON request, every step under a deadline.
//!
//! The board is served over plain HTTP on the LAN, and a post must never hold a learner up, so this
//! speaks just enough HTTP over a `TcpStream` with timeouts, instead of an async client and its
//! runtime.

use anyhow::{Context, Result, bail, ensure};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use url::Url;

/// The largest answer read: the board's answers are a few hundred bytes.
const MAX_REPLY: usize = 64 * 1024;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The board's `{"error": "..."}` sentence, or the body.
    pub fn error(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|value| value["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.body.trim().to_string())
    }
}

/// The board's base URL, if it is one: `http://host:port` (a path is ignored).
pub fn board_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .with_context(|| format!("{text:?} is not a URL (e.g. http://192.168.1.20:7878)"))?;
    ensure!(
        url.scheme() == "http",
        "the class board is served over http on the LAN: use http://…, not {}://",
        url.scheme()
    );
    ensure!(url.host_str().is_some(), "{text:?} names no host");
    Ok(url)
}

/// `POST {base}{path}` with a JSON body, the whole exchange within `deadline`.
pub fn post_json(
    base: &Url,
    path: &str,
    token: Option<&str>,
    body: &str,
    deadline: Duration,
) -> Result<Reply> {
    let start = Instant::now();
    let host = base.host_str().context("the board URL names no host")?;
    let port = base.port_or_known_default().unwrap_or(80);
    let addresses = base
        .socket_addrs(|| Some(80))
        .with_context(|| format!("cannot resolve {host}"))?;
    let address = addresses
        .first()
        .with_context(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(address, deadline)
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    let left = |start: Instant| {
        deadline
            .checked_sub(start.elapsed())
            .filter(|left| !left.is_zero())
            .unwrap_or(Duration::from_millis(1))
    };
    stream.set_write_timeout(Some(left(start)))?;
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{authorization}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(left(start)))?;
        let read = match stream.read(&mut buffer) {
            Ok(read) => read,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no answer within {} s", deadline.as_secs_f64())
            }
            Err(err) => return Err(err).context("the connection broke"),
        };
        if read == 0 {
            break;
        }
        reply.extend_from_slice(&buffer[..read]);
        ensure!(reply.len() <= MAX_REPLY, "the board's answer is too long");
        if start.elapsed() >= deadline {
            bail!("no complete answer within {deadline:?}");
        }
    }
    parse(&reply)
}

fn parse(reply: &[u8]) -> Result<Reply> {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the board's answer is not HTTP")?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .context("the board's answer has no status")?;
    Ok(Reply {
        status,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_are_boards() {
        assert!(board_url("http://192.168.1.20:7878").is_ok());
        assert!(board_url("https://example.test").is_err());
        assert!(board_url("192.168.1.20:7878").is_err());
    }

    #[test]
    fn an_answer_is_read_with_its_status_and_error() {
        let reply = parse(b"HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 20\r\n\r\n{\"error\":\"bad name\"}").unwrap();
        assert_eq!(reply.status, 422);
        assert_eq!(reply.error(), "bad name");
    }

    #[test]
    fn a_board_that_is_down_fails_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let base = board_url(&format!("http://127.0.0.1:{port}")).unwrap();
        let start = Instant::now();
        assert!(post_json(&base, "/x", None, "{}", Duration::from_secs(2)).is_err());
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
