//! Server-sent events: every open instructor page of a class receives each changed learner row.
//!
//! A subscriber is a bounded channel; a page that falls behind is dropped and reconnects (the
//! browser's `EventSource` does that by itself, and the page then reloads the whole board), so a slow
//! projector can never slow a learner's post. At shutdown every channel closes, so open event
//! streams end and the graceful shutdown does not wait on them.

use axum::response::sse::Event;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Events a page may have queued before it counts as gone.
const QUEUE: usize = 512;

#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Vec<(i64, mpsc::Sender<Arc<str>>)>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Hub {
    /// A stream of the class's events, for one page.
    pub fn subscribe(&self, class_id: i64) -> Events {
        let (sender, receiver) = mpsc::channel(QUEUE);
        if !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            self.subscribers
                .lock()
                .expect("hub lock")
                .push((class_id, sender));
        }
        Events { receiver }
    }

    /// Whether any page of the class is listening (a post skips building the row if none is).
    pub fn has_subscribers(&self, class_id: i64) -> bool {
        self.subscribers
            .lock()
            .expect("hub lock")
            .iter()
            .any(|(class, sender)| *class == class_id && !sender.is_closed())
    }

    pub fn subscriber_count(&self) -> usize {
        let mut subscribers = self.subscribers.lock().expect("hub lock");
        subscribers.retain(|(_, sender)| !sender.is_closed());
        subscribers.len()
    }

    pub fn publish(&self, class_id: i64, data: &str) {
        let data: Arc<str> = Arc::from(data);
        self.subscribers
            .lock()
            .expect("hub lock")
            .retain(|(class, sender)| {
                *class != class_id || sender.try_send(Arc::clone(&data)).is_ok()
            });
    }

    /// Ends every stream (shutdown).
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.subscribers.lock().expect("hub lock").clear();
    }
}

/// One page's events: a learner row as JSON, named `learner`.
pub struct Events {
    receiver: mpsc::Receiver<Arc<str>>,
}

impl futures_core::Stream for Events {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver
            .poll_recv(cx)
            .map(|data| data.map(|data| Ok(Event::default().event("learner").data(&*data))))
    }
}
