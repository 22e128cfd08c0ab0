//! The transactional ids a gateway uses for HTTP requests that are transactions of their
//! own (`POST /v1/records`).

use std::sync::atomic::{AtomicU64, Ordering};

use silt_core::transactions::REQUEST_TRANSACTION_PREFIX;
use tokio::sync::Mutex;

/// The transactional ids a gateway uses for requests that are transactions of their
/// own: reused (each use a new epoch), so that their number stays that of the requests
/// in flight at once.
pub struct RequestTransactions {
    prefix: String,
    next: AtomicU64,
    free: Mutex<Vec<String>>,
}

impl Default for RequestTransactions {
    fn default() -> Self {
        RequestTransactions {
            prefix: format!(
                "{REQUEST_TRANSACTION_PREFIX}{}",
                uuid::Uuid::now_v7().simple()
            ),
            next: AtomicU64::new(0),
            free: Mutex::new(Vec::new()),
        }
    }
}

impl RequestTransactions {
    pub(crate) async fn take(&self) -> String {
        match self.free.lock().await.pop() {
            Some(id) => id,
            None => format!(
                "{}_{}",
                self.prefix,
                self.next.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub(crate) async fn give_back(&self, id: String) {
        self.free.lock().await.push(id);
    }
}
