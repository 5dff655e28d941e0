//! The book in a real browser: headless Chromium renders the built pages, served over HTTP from
//! `target/book/` by a tiny static server (so pages share one origin, and `localStorage`, where
//! mdBook keeps the theme, works as it does online).
//!
//! Two passes. Each page alone (`--dump-dom`): the scripts ran, the sidebar lists the twelve
//! factors, code is highlighted, no directive is left. Then a harness page loads every page with
//! images in an iframe, once per theme (`light`, and `navy`, the dark theme readers get), and
//! reports whether the theme was applied and every image loaded (`naturalWidth > 0`).

use crate::engine::manifest::{Factor, Manifest};
use anyhow::{Context, Result, ensure};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The themes every page with a picture is rendered in: mdBook's default and its dark default.
const THEMES: [&str; 2] = ["light", "navy"];

/// The path the harness page is served at (it exists only in the server).
const HARNESS: &str = "/__kit-browser-check.html";

pub fn smoke_test(manifest: &Manifest, built: &super::Built) -> Result<String> {
    let out = built.out.clone();
    ensure!(
        out.join("index.html").is_file(),
        "{} has no index.html, so there is nothing to render",
        out.display()
    );
    let browser = crate::engine::tools::chromium()?.display().to_string();
    let with_images = pages_with_images(&out)?;
    let server = Server::start(out.clone(), harness_page(&with_images))?;
    let profile = tempfile::TempDir::with_prefix("kit-chromium-")?;
    let dump = |url: &str, budget_ms: u32| -> Result<String> {
        let output = Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--dump-dom",
            ])
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .output()
            .with_context(|| format!("cannot run {browser}"))?;
        let dom = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(
            output.status.success() && dom.contains("</html>"),
            "{browser} could not render {url}: exit {:?}; {}",
            output.status.code(),
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
        );
        Ok(dom)
    };

    let mut pages = vec!["index.html".to_string()];
    pages.extend(manifest.available().map(Factor::page));
    for page in &pages {
        let dom = dump(&format!("{}/{page}", server.base()), 3000)?;
        ensure!(
            !dom.contains("{{#"),
            "{page} still shows an unexpanded {{{{#…}}}} directive"
        );
        for factor in &manifest.factors {
            let entry = format!("{}. {}", factor.roman, factor.title);
            ensure!(
                dom.contains(&entry),
                "{page}: the sidebar does not list “{entry}” (did the scripts run?)"
            );
        }
        if page != "index.html" {
            ensure!(
                dom.contains("hljs"),
                "{page}: code blocks were not highlighted (did the scripts run?)"
            );
            ensure!(dom.contains("<details>"), "{page}: the hints are missing");
        }
    }

    // Search: mdBook runs a query given in the URL and lists the hits, each linking with
    // `?highlight=`. Print: one page holding every chapter.
    let dom = dump(&format!("{}/index.html?search=INCR", server.base()), 5000)?;
    ensure!(
        dom.contains("06-processes.html?highlight=INCR"),
        "searching the book for INCR finds nothing in Factor VI (is the search index built?)"
    );
    let dom = dump(&format!("{}/print.html", server.base()), 5000)?;
    for factor in manifest.available() {
        let heading = format!("{}. {}</h1>", factor.roman, factor.title);
        ensure!(
            dom.contains(&heading) || dom.contains(&heading.replace("</h1>", "</a></h1>")),
            "print.html does not hold the chapter “{}. {}”",
            factor.roman,
            factor.title
        );
    }

    let dom = dump(&format!("{}{HARNESS}", server.base()), 20_000)?;
    let report = dom
        .split("<pre id=\"report\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .context("the browser check page did not run")?;
    ensure!(
        report.contains("DONE"),
        "the browser check page did not finish: {}",
        report.trim()
    );
    let problems: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL")).collect();
    ensure!(
        problems.is_empty(),
        "pictures in the book, rendered in {}:\n{}",
        THEMES.join(" and "),
        problems.join("\n")
    );
    let images: usize = report
        .lines()
        .filter_map(|l| {
            l.strip_prefix("OK ")?
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    Ok(format!(
        "{} pages rendered in {browser}, search and print work; {} pages with {images} picture loads in {} themes",
        pages.len(),
        with_images.len(),
        THEMES.len()
    ))
}

/// The built pages that show at least one picture from `images/`.
fn pages_with_images(out: &Path) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    for page in crate::engine::progress::files_under_all(out) {
        if page.extension().is_some_and(|ext| ext == "html")
            && page.parent() == Some(out)
            && page.file_name().is_some_and(|name| name != "print.html")
        {
            let html = std::fs::read_to_string(&page)?;
            if html.contains("src=\"images/") {
                pages.push(page.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    pages.sort();
    Ok(pages)
}

/// A page that loads each page in an iframe per theme and writes one line per (page, theme).
fn harness_page(pages: &[String]) -> String {
    let pages = serde_json::to_string(pages).unwrap_or_default();
    let themes = serde_json::to_string(&THEMES).unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>browser check</title></head>
<body><pre id="report">running</pre>
<script>
const pages = {pages};
const themes = {themes};
const lines = [];
function loaded(img) {{
  return img.complete ? Promise.resolve() : new Promise(done => {{ img.onload = img.onerror = done; }});
}}
async function check(page, theme) {{
  localStorage.setItem("mdbook-theme", theme);
  const frame = document.createElement("iframe");
  frame.style.width = "1200px";
  frame.style.height = "900px";
  document.body.appendChild(frame);
  await new Promise(done => {{ frame.onload = done; frame.src = page; }});
  const doc = frame.contentDocument;
  const seen = new Set();
  const images = [...doc.querySelectorAll("main img")].filter(img => !seen.has(img.src) && seen.add(img.src));
  await Promise.all(images.map(loaded));
  const broken = images.filter(img => !(img.naturalWidth > 0)).map(img => img.getAttribute("src"));
  const applied = doc.documentElement.classList.contains(theme);
  if (!applied) lines.push(`FAIL ${{page}} (${{theme}}): the theme was not applied (html class: "${{doc.documentElement.className}}")`);
  if (images.length === 0) lines.push(`FAIL ${{page}} (${{theme}}): no picture shown`);
  for (const src of broken) lines.push(`FAIL ${{page}} (${{theme}}): ${{src}} did not load`);
  if (applied && images.length && !broken.length) lines.push(`OK ${{images.length}} ${{page}} ${{theme}}`);
  frame.remove();
}}
(async () => {{
  try {{
    for (const page of pages) for (const theme of themes) await check(page, theme);
    lines.push("DONE");
  }} catch (e) {{
    lines.push("FAIL the check page itself: " + e);
  }}
  document.getElementById("report").textContent = lines.join("\n");
}})();
</script></body></html>
"#
    )
}

/// A static file server for one directory, on a free loopback port, for as long as it lives.
struct Server {
    port: u16,
}

impl Server {
    fn start(dir: PathBuf, harness: String) -> Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).context("cannot open a local port")?;
        let port = listener.local_addr()?.port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, harness) = (dir.clone(), harness.clone());
                std::thread::spawn(move || serve(stream, &dir, &harness));
            }
        });
        Ok(Server { port })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(mut stream: TcpStream, dir: &Path, harness: &str) {
    let mut request = String::new();
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Drain the headers.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let (status, kind, body) = if path == HARNESS {
        ("200 OK", "text/html", harness.as_bytes().to_vec())
    } else {
        let relative = path.trim_start_matches('/');
        let file = if relative.is_empty() {
            dir.join("index.html")
        } else {
            dir.join(relative)
        };
        match (relative.contains(".."), std::fs::read(&file)) {
            (false, Ok(body)) => ("200 OK", content_type(&file), body),
            _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|ext| ext.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}
