//! Just enough of the Chrome DevTools Protocol to watch a live page: start headless Chromium on a
//! URL, evaluate JavaScript in the page while it runs, take a screenshot.
//!
//! `--dump-dom` and `--screenshot` capture a page when it has loaded, which for a page that keeps an
//! event stream open is before anything arrives (and `--virtual-time-budget` never ends while the
//! stream is open). So the bench keeps the page running in real time and asks it questions over
//! DevTools' WebSocket: a minimal client (text frames, client frames masked as RFC 6455 requires),
//! instead of a browser-automation dependency.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    // Dropped first (fields drop in order): the browser stops before its profile is deleted.
    _process: Process,
    _profile: tempfile::TempDir,
    socket: TcpStream,
    next_id: u64,
}

impl Browser {
    /// Headless Chromium showing `url` in a `width`×`height` window.
    pub fn open(chromium: &Path, url: &str, width: u32, height: u32) -> Result<Browser> {
        let profile = tempfile::TempDir::with_prefix("kit-cdp-")?;
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A process group of its own: `chromium` may be a wrapper script, and the browser starts
        // helpers; stopping the group stops them all, on every path out of here.
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let process = Process(
            command
                .spawn()
                .with_context(|| format!("cannot start {}", chromium.display()))?,
        );
        // Chromium writes the port it chose into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port: u16 = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.lines().next()?.trim().parse().ok())
            {
                break port;
            }
            ensure!(
                Instant::now() < deadline,
                "Chromium opened no DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let targets = http_get(port, "/json/list").context("DevTools' /json/list")?;
        let targets: Value = serde_json::from_str(&targets).context("DevTools' target list")?;
        let page = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|target| target["type"] == "page")
            .and_then(|target| target["webSocketDebuggerUrl"].as_str())
            .context("Chromium shows no page")?
            .to_string();
        let path = page
            .split_once("/devtools/")
            .map(|(_, rest)| format!("/devtools/{rest}"))
            .context("an unexpected DevTools URL")?;
        let socket = handshake(port, &path).context("DevTools' WebSocket handshake")?;
        Ok(Browser {
            _process: process,
            _profile: profile,
            socket,
            next_id: 1,
        })
    }

    /// Sends a DevTools command and returns its result (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        send_text(&mut self.socket, message.as_bytes())?;
        loop {
            let message = read_message(&mut self.socket)
                .with_context(|| format!("no answer from the browser to {method}"))?;
            let reply: Value = serde_json::from_slice(&message)?;
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    bail!("{method}: {error}");
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    /// The value of a JavaScript expression in the page (JSON-serialisable).
    pub fn evaluate(&mut self, expression: &str) -> Result<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            bail!("the page threw: {exception}");
        }
        Ok(result["result"]["value"].clone())
    }

    /// Waits until `expression` is true in the page (an exception, while the page is still
    /// loading, counts as not yet).
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.evaluate(expression) {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(value) => last = value.to_string(),
                Err(err) => last = format!("{err:#}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("the page never satisfied `{expression}` within {timeout:?} (last: {last})")
    }

    /// A PNG of the whole page.
    pub fn screenshot(&mut self, path: &Path) -> Result<()> {
        let result = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        )?;
        let data = result["data"].as_str().context("no screenshot data")?;
        std::fs::write(path, base64_decode(data)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The browser's process group, stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let group = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET to DevTools' HTTP endpoint, read by its `Content-Length` (it keeps connections open).
fn http_get(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("a bad Content-Length")?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn handshake(port: u16, path: &str) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Any 16 bytes, base64: the key only proves the server speaks WebSocket.
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    ensure!(
        status.contains(" 101 "),
        "DevTools refused the WebSocket: {status}"
    );
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
    }
    ensure!(
        reader.buffer().is_empty(),
        "DevTools spoke before being asked"
    );
    Ok(stream)
}

/// One masked text frame (a client must mask; any mask will do).
fn send_text(stream: &mut TcpStream, payload: &[u8]) -> Result<()> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81u8];
    match payload.len() {
        len if len < 126 => frame.push(0x80 | len as u8),
        len if len <= usize::from(u16::MAX) => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(index, byte)| byte ^ mask[index % 4]),
    );
    stream.write_all(&frame)?;
    Ok(())
}

/// One whole message (continuation frames joined; control frames skipped).
fn read_message(stream: &mut TcpStream) -> Result<Vec<u8>> {
    let mut message = Vec::new();
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head)?;
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut bytes = [0u8; 2];
            stream.read_exact(&mut bytes)?;
            len = u64::from(u16::from_be_bytes(bytes));
        } else if len == 127 {
            let mut bytes = [0u8; 8];
            stream.read_exact(&mut bytes)?;
            len = u64::from_be_bytes(bytes);
        }
        ensure!(len < 256 << 20, "a DevTools message of {len} bytes");
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload)?;
        match opcode {
            0x8 => bail!("DevTools closed the connection"),
            0x9 | 0xA => continue,
            _ => message.extend_from_slice(&payload),
        }
        if fin {
            return Ok(message);
        }
    }
}

fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let value = |byte: u8| -> Result<u32> {
        Ok(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64"),
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|byte| *byte != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (index, byte) in chunk.iter().enumerate() {
            acc |= value(*byte)? << (18 - 6 * index);
        }
        let produced = chunk.len() * 6 / 8;
        for index in 0..produced {
            out.push((acc >> (16 - 8 * index)) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
    }
}
