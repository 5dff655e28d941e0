//! The webhook: where the noticeboard forwards every new notification, as JSON (a chat channel, a
//! push or e-mail gateway; the checks play it with a local stub).

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::process::Command;
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
}

impl Webhook {
    pub fn new(url: Url) -> anyhow::Result<Self> {
        Ok(Webhook { url })
    }

    // ANCHOR: send
    /// Posts `notification` to the webhook as JSON; an error unless the webhook answers 2xx.
    pub async fn send(&self, notification: &Notification) -> anyhow::Result<()> {
        let body = serde_json::to_string(notification)?;
        let url = self.url.to_string();
        // TODO(factor-2): `curl` is not a dependency of this crate. Nothing declares it, nothing
        // pins its version, and on a machine without it (a fresh laptop, a CI runner, a slim
        // container) every notification is lost. Make the call from Rust, with an HTTP client
        // declared in Cargo.toml. Mind the TLS stack it brings: one that links the system's
        // OpenSSL is the same problem again, one level down.
        let output = tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args(["--silent", "--show-error", "--fail", "--max-time", "10"])
                .args(["--header", "content-type: application/json"])
                .args(["--data-binary", &body, &url])
                .output()
        })
        .await?
        .context("cannot run curl")?;
        if !output.status.success() {
            bail!(
                "curl failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
    // ANCHOR_END: send
}
