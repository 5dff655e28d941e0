//! Blocking HTTP helpers with short timeouts: a check can fail, but it cannot hang.

use serde::de::DeserializeOwned;
use std::sync::OnceLock;
use std::time::Duration;

/// The longest any single request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // The kit's reqwest has rustls without a built-in crypto provider (see the workspace
        // Cargo.toml): building a client needs one installed. `Err` means one already is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("cannot build the HTTP client")
    })
}

/// Builds the shared client in the background, if no one has yet: the first request then finds it
/// ready (see [`crate::AppBuilder::start`]).
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(client);
    });
}

/// A response, read completely.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or `None` if it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.body).ok()
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn read(response: reqwest::Result<reqwest::blocking::Response>) -> Result<Reply, String> {
    let response = response.map_err(describe)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(key, value)| {
            (
                key.to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = response.text().map_err(describe)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {REQUEST_TIMEOUT:?}")
    } else if err.is_connect() {
        "connection refused".into()
    } else {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
    let mut request = client().get(url);
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    read(request.send())
}

pub fn post_json(url: &str, body: &serde_json::Value) -> Result<Reply, String> {
    read(client().post(url).json(body).send())
}
