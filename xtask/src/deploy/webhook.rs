//! The webhook the workers deliver to: it records every delivery, so the demo can count the
//! notifications lost and those delivered twice, and it can hold one delivery open so the demo
//! kills a worker in the middle of it.

use anyhow::{Context, Result};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// The deliveries received so far.
#[derive(Default)]
struct Record {
    /// How many times each notification id arrived.
    received: BTreeMap<String, usize>,
    /// How many deliveries each worker made (the `worker` field).
    by_worker: BTreeMap<String, usize>,
    /// Set by [`Webhook::hold_next`]: the next delivery is held and its worker sent here.
    hold: Option<oneshot::Sender<String>>,
}

#[derive(Clone)]
struct Shared {
    record: Arc<Mutex<Record>>,
    release: Arc<Notify>,
    /// How long every delivery takes to answer, as a real endpoint would.
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
    /// Distinct notifications delivered.
    pub distinct: usize,
    /// Notifications that arrived more than once.
    pub twice: usize,
    /// Deliveries per worker.
    pub by_worker: BTreeMap<String, usize>,
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
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("the webhook cannot bind")?;
        let port = listener.local_addr()?.port();
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
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

    /// Answers the held delivery.
    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    pub fn deliveries(&self) -> Deliveries {
        let record = self.shared.record.lock().unwrap_or_else(|p| p.into_inner());
        Deliveries {
            distinct: record.received.len(),
            twice: record.received.values().filter(|count| **count > 1).count(),
            by_worker: record.by_worker.clone(),
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

async fn receive(
    State(shared): State<Shared>,
    Json(delivery): Json<serde_json::Value>,
) -> &'static str {
    let id = match &delivery["id"] {
        serde_json::Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    let worker = delivery["worker"].as_str().unwrap_or("?").to_string();
    let held = {
        let mut record = shared.record.lock().unwrap_or_else(|p| p.into_inner());
        *record.received.entry(id).or_default() += 1;
        *record.by_worker.entry(worker.clone()).or_default() += 1;
        record.hold.take()
    };
    match held {
        Some(sender) => {
            let released = shared.release.notified();
            let _ = sender.send(worker);
            released.await;
        }
        None => tokio::time::sleep(shared.delay).await,
    }
    "ok\n"
}
