//! Delivering a notification: one HTTP `POST` of JSON to `WEBHOOK_URL`.

use crate::db::Notification;
use anyhow::Context;
use serde::Serialize;
use std::time::Duration;

/// The longest one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of a delivery, as the receiving end sees it.
#[derive(Serialize)]
struct Delivery<'a> {
    id: String,
    name: &'a str,
    message: &'a str,
    /// Which process delivered it: lets the receiver (and the checks) see who did the work.
    worker: &'a str,
}

/// An HTTP client for the webhook, cheap to share between tasks.
#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: String,
}

impl Webhook {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        // The kit's reqwest speaks TLS through rustls with the ring provider (Factor II); it must be
        // installed once per process before a client is built (a second install is a harmless error).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .context("cannot build the HTTP client for WEBHOOK_URL")?;
        Ok(Webhook {
            client,
            url: url.to_string(),
        })
    }

    /// Posts `notification` to the webhook; an error unless it answers 2xx.
    pub async fn deliver(&self, notification: &Notification, worker: &str) -> anyhow::Result<()> {
        let delivery = Delivery {
            id: notification.id.to_string(),
            name: &notification.name,
            message: &notification.message,
            worker,
        };
        self.client
            .post(&self.url)
            .json(&delivery)
            .send()
            .await
            .context("the webhook did not answer")?
            .error_for_status()
            .context("the webhook refused the delivery")?;
        Ok(())
    }
}

/// A name for this process, unique across machines: `<hostname>-<pid>`.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}-{}", std::process::id())
}
