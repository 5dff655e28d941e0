//! The webhook: where the noticeboard forwards every new notification, as JSON (a chat channel, a
//! push or e-mail gateway; the checks play it with a local stub).
//!
//! Solved: the call is made by the app itself, with reqwest, a crate declared in `Cargo.toml` and
//! locked in `Cargo.lock`. No program is started and nothing on the machine's `PATH` matters; the
//! TLS stack (rustls) is Rust code compiled into the binary, so no system OpenSSL is needed either.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// A notification, as `POST /notifications` receives it and as the webhook gets it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub name: String,
    pub message: String,
}

#[derive(Clone)]
pub struct Webhook {
    url: Url,
    // Solved: one client for the whole process (cloning it is cheap): it keeps the connection to
    // the webhook open between calls, where `curl` started a process and a connection per call.
    client: reqwest::Client,
}

impl Webhook {
    // ANCHOR: new
    pub fn new(url: Url) -> anyhow::Result<Self> {
        // Solved: rustls needs a crypto provider. The kit's rustls comes without a built-in one
        // (its default, aws-lc-rs, compiles a large C library), so the app installs ring, declared
        // in Cargo.toml, before it builds a client. `Err` only means one is installed already.
        // ANCHOR: provider
        let _ = rustls::crypto::ring::default_provider().install_default();
        // ANCHOR_END: provider
        // Solved: bounded, like curl's `--max-time 10` was: a stuck webhook cannot hold a request
        // forever.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Webhook { url, client })
    }
    // ANCHOR_END: new

    // ANCHOR: send
    /// Posts `notification` to the webhook as JSON; an error unless the webhook answers 2xx.
    pub async fn send(&self, notification: &Notification) -> anyhow::Result<()> {
        // Solved: `.json()` serialises the body and sets `Content-Type: application/json`;
        // `error_for_status` turns a 4xx or 5xx answer into an error, as curl's `--fail` did.
        self.client
            .post(self.url.clone())
            .json(notification)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
    // ANCHOR_END: send
}
