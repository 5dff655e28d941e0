//! The notifications, kept in memory: where state belongs is Factor VI's lesson, not this one's.

use serde::Serialize;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Board(Arc<Mutex<Vec<Notification>>>);

#[derive(Clone, Serialize)]
pub struct Notification {
    pub id: u64,
    pub name: String,
    pub message: String,
}

impl Board {
    pub fn add(&self, name: String, message: String) -> Notification {
        let mut notifications = self.0.lock().unwrap();
        let notification = Notification {
            id: notifications.len() as u64 + 1,
            name,
            message,
        };
        notifications.push(notification.clone());
        notification
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    // ANCHOR: latest
    /// The `limit` newest notifications (all of them without a limit), newest first.
    pub fn latest(&self, limit: Option<usize>) -> Vec<Notification> {
        let notifications = self.0.lock().unwrap();
        // Solved: staging's fix of the off-by-one (`1..limit`), made once for every deploy, and
        // written without index arithmetic so there is no bound to get wrong.
        notifications
            .iter()
            .rev()
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
    // ANCHOR_END: latest
}
