//! Bulkheads: a semaphore per partner that bounds its concurrent gradings,
//! so a burst from one partner waits on its own limit instead of crowding
//! out the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A partner's semaphore and the limit it was built with.
#[derive(Debug)]
struct Bulkhead {
    limit: usize,
    semaphore: Arc<Semaphore>,
}

/// The bulkheads of all partners, created on first use.
#[derive(Debug, Default)]
pub(crate) struct Bulkheads {
    partners: Mutex<HashMap<String, Bulkhead>>,
}

impl Bulkheads {
    /// Returns the partner's semaphore. A new limit replaces the semaphore,
    /// so gradings already running under the old one are not counted
    /// against the new limit.
    fn semaphore(&self, partner: &str, limit: usize) -> Arc<Semaphore> {
        let mut partners = self.partners.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = partners
            .entry(partner.to_owned())
            .or_insert_with(|| Bulkhead {
                limit,
                semaphore: Arc::new(Semaphore::new(limit)),
            });
        if entry.limit != limit {
            *entry = Bulkhead {
                limit,
                semaphore: Arc::new(Semaphore::new(limit)),
            };
        }
        Arc::clone(&entry.semaphore)
    }

    /// Waits for one of the partner's `limit` permits until `deadline`.
    /// Returns `None` when the deadline passes first.
    pub(crate) async fn acquire(
        &self,
        partner: &str,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Option<OwnedSemaphorePermit> {
        let acquire = self.semaphore(partner, limit).acquire_owned();
        let permit = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, acquire).await.ok()?,
            None => acquire.await,
        };
        permit.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn full_bulkhead_times_out_at_deadline() {
        let bulkheads = Bulkheads::default();
        let held = bulkheads.acquire("acme", 1, None).await;
        assert!(held.is_some());
        let deadline = Instant::now() + Duration::from_secs(1);
        assert!(bulkheads.acquire("acme", 1, Some(deadline)).await.is_none());
        assert!(bulkheads
            .acquire("globex", 1, Some(deadline))
            .await
            .is_some());
        drop(held);
        assert!(bulkheads.acquire("acme", 1, None).await.is_some());
    }
}
