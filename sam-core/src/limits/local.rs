//! Per-instance limit state, used while Redis is unreachable. It runs the
//! same arithmetic as the Redis scripts, so only the sharing across
//! replicas is lost.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::gcra::{self, Rate, RateDecision};

/// Entries kept before expired ones are removed.
const MIN_PRUNE_LEN: usize = 10_000;

/// A map whose expired entries are removed once it doubles in size since
/// the last removal, so memory stays bounded by the live keys.
#[derive(Debug)]
struct ExpiringMap<V> {
    entries: HashMap<String, V>,
    prune_at_len: usize,
}

impl<V> ExpiringMap<V> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
            prune_at_len: MIN_PRUNE_LEN,
        }
    }

    fn prune_if_large(&mut self, is_live: impl Fn(&V) -> bool) {
        if self.entries.len() < self.prune_at_len {
            return;
        }
        self.entries.retain(|_, value| is_live(value));
        self.prune_at_len = (self.entries.len() * 2).max(MIN_PRUNE_LEN);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// GCRA theoretical arrival times per key, in microseconds since the Unix
/// epoch.
#[derive(Debug)]
pub(crate) struct LocalRates {
    tats: Mutex<ExpiringMap<i64>>,
}

impl LocalRates {
    pub(crate) fn new() -> Self {
        Self {
            tats: Mutex::new(ExpiringMap::new()),
        }
    }

    /// Runs one GCRA step for `key` at `now` (microseconds).
    pub(crate) fn check(&self, key: &str, now: i64, rate: &Rate) -> RateDecision {
        let mut tats = lock(&self.tats);
        let (decision, new_tat) = gcra::step(tats.entries.get(key).copied(), now, rate);
        if let Some(new_tat) = new_tat {
            tats.entries.insert(key.to_owned(), new_tat);
        }
        tats.prune_if_large(|tat| *tat > now);
        decision
    }
}

/// A day's count of evaluations for one quota key.
#[derive(Debug, Clone, Copy)]
struct QuotaCount {
    used: u64,
    /// Unix seconds after which the count is no longer needed.
    expires_at: i64,
}

/// Daily quota counts per key.
#[derive(Debug)]
pub(crate) struct LocalQuotas {
    counts: Mutex<ExpiringMap<QuotaCount>>,
}

impl LocalQuotas {
    pub(crate) fn new() -> Self {
        Self {
            counts: Mutex::new(ExpiringMap::new()),
        }
    }

    /// Adds `amount` to the count under `key` unless that would pass
    /// `limit`. Returns whether it was added and the count after the call.
    pub(crate) fn consume(
        &self,
        key: &str,
        limit: u64,
        amount: u64,
        now: i64,
        expires_at: i64,
    ) -> (bool, u64) {
        let mut counts = lock(&self.counts);
        let entry = counts.entries.entry(key.to_owned()).or_insert(QuotaCount {
            used: 0,
            expires_at,
        });
        let allowed = entry.used.saturating_add(amount) <= limit;
        if allowed {
            entry.used += amount;
            entry.expires_at = expires_at;
        }
        let used = entry.used;
        counts.prune_if_large(|count| count.expires_at > now);
        (allowed, used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_rate_entries_are_pruned() {
        let local = LocalRates::new();
        let rate = Rate::per_second(10, 1).unwrap_or_else(|error| unreachable!("{error}"));
        for index in 1..MIN_PRUNE_LEN {
            local.check(&format!("key:{index}"), 0, &rate);
        }
        assert_eq!(lock(&local.tats).entries.len(), MIN_PRUNE_LEN - 1);

        // One second later every stored TAT is in the past, and this entry
        // brings the map to the size that triggers pruning.
        local.check("key:late", 1_000_000, &rate);
        let tats = lock(&local.tats);
        assert_eq!(tats.entries.len(), 1);
        assert!(tats.entries.contains_key("key:late"));
    }

    #[test]
    fn quota_counts_stop_at_limit() {
        let local = LocalQuotas::new();
        assert_eq!(
            local.consume("quota:acme:2026-03-10", 2, 1, 0, 10),
            (true, 1)
        );
        assert_eq!(
            local.consume("quota:acme:2026-03-10", 2, 2, 0, 10),
            (false, 1)
        );
        assert_eq!(
            local.consume("quota:acme:2026-03-10", 2, 1, 0, 10),
            (true, 2)
        );
        assert_eq!(
            local.consume("quota:acme:2026-03-11", 2, 1, 0, 10),
            (true, 1)
        );
    }
}
