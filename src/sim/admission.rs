//! Admission control at a node: each sender's new requests, limited by rate (a token bucket)
//! and by how many are in the node at once. A request over either limit is turned away at once,
//! before it queues: the node spends nothing on it, and the sender hears "throttled" in time to
//! try elsewhere, instead of timing out behind a queue it could never get through.
//!
//! Integer arithmetic throughout: the bucket holds tokens in units of 10⁻¹² request, filled at
//! the rate in thousandths of a request per second, so that refills are exact and a run is a
//! pure function of its inputs.

use std::collections::BTreeMap;

use crate::payments::time::Timestamp;

/// One request, in the bucket's units.
const TOKEN: u128 = 1_000_000_000_000;

/// A node's limits on each sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// New requests per second, in thousandths (a token bucket); `None`: no rate limit.
    pub rate_milli_per_s: Option<u64>,
    /// The bucket's size, requests.
    pub burst: u32,
    /// A sender's requests in the node at once at most; `None`: no limit.
    pub concurrency_max: Option<u32>,
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its sender is over its rate.
    Rate,
    /// Its sender has as many requests in the node as it may.
    Concurrency,
}

#[derive(Clone, Copy, Debug)]
struct Sender {
    in_node: u32,
    tokens: u128,
    filled_at: Timestamp,
}

/// The limits, and each sender's state (kept in a `BTreeMap`: iteration order never matters
/// here, but nothing in a run may depend on a hash).
#[derive(Clone, Debug)]
pub struct Admission {
    limits: Limits,
    senders: BTreeMap<u32, Sender>,
    refused_rate_count: u64,
    refused_concurrency_count: u64,
}

impl Admission {
    /// Admission with `limits`, every sender's bucket full.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            senders: BTreeMap::new(),
            refused_rate_count: 0,
            refused_concurrency_count: 0,
        }
    }

    /// A new request from `sender` arrives at `now`: admitted (and counted in the node until
    /// [`Admission::left`]), or refused.
    ///
    /// # Errors
    /// The limit it is over.
    pub fn admit(&mut self, sender: u32, now: Timestamp) -> Result<(), Refusal> {
        let full = u128::from(self.limits.burst) * TOKEN;
        let s = self.senders.entry(sender).or_insert(Sender {
            in_node: 0,
            tokens: full,
            filled_at: now,
        });
        if let Some(rate) = self.limits.rate_milli_per_s {
            let dt = u128::from(now.saturating_since(s.filled_at).as_nanos());
            s.tokens = (s.tokens + dt * u128::from(rate)).min(full);
            s.filled_at = now;
        }
        if self.limits.concurrency_max.is_some_and(|max| s.in_node >= max) {
            self.refused_concurrency_count += 1;
            return Err(Refusal::Concurrency);
        }
        if self.limits.rate_milli_per_s.is_some() {
            if s.tokens < TOKEN {
                self.refused_rate_count += 1;
                return Err(Refusal::Rate);
            }
            s.tokens -= TOKEN;
        }
        s.in_node += 1;
        Ok(())
    }

    /// A request `sender` brought has left the node (served, discarded or refused by the
    /// queue).
    ///
    /// # Panics
    /// If the sender has none in the node: every `left` follows an `admit`.
    pub fn left(&mut self, sender: u32) {
        let s = self.senders.get_mut(&sender).expect("a sender that was admitted");
        assert!(s.in_node > 0, "sender {sender} left more requests than it brought");
        s.in_node -= 1;
    }

    /// Requests refused for their sender's rate, and for its concurrency.
    pub fn refused_counts(&self) -> (u64, u64) {
        (self.refused_rate_count, self.refused_concurrency_count)
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the bucket admits its burst at once and then exactly its rate, the concurrency cap
    //! holds per sender, and senders do not share limits. Method: hand-timed arrivals.

    use super::*;

    fn at_ms(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn the_bucket_admits_its_burst_then_its_rate() {
        let mut a = Admission::new(Limits {
            rate_milli_per_s: Some(10_000),
            burst: 3,
            concurrency_max: None,
        });
        let results: Vec<bool> = (0..5).map(|_| a.admit(1, at_ms(0)).is_ok()).collect();
        assert_eq!(results, [true, true, true, false, false], "a burst of three");
        // Ten a second: one token every 100 ms, exactly.
        assert_eq!(a.admit(1, at_ms(99)), Err(Refusal::Rate));
        assert_eq!(a.admit(1, at_ms(100)), Ok(()));
        assert_eq!(a.admit(1, at_ms(100)), Err(Refusal::Rate));
        // A long pause refills only to the burst.
        let after: Vec<bool> = (0..4).map(|_| a.admit(1, at_ms(60_000)).is_ok()).collect();
        assert_eq!(after, [true, true, true, false]);
        // Another sender has its own bucket.
        assert_eq!(a.admit(2, at_ms(60_000)), Ok(()));
        assert_eq!(a.refused_counts(), (5, 0));
    }

    #[test]
    fn the_concurrency_cap_counts_what_is_in_the_node() {
        let mut a =
            Admission::new(Limits { rate_milli_per_s: None, burst: 1, concurrency_max: Some(2) });
        assert_eq!(a.admit(7, at_ms(0)), Ok(()));
        assert_eq!(a.admit(7, at_ms(1)), Ok(()));
        assert_eq!(a.admit(7, at_ms(2)), Err(Refusal::Concurrency));
        assert_eq!(a.admit(8, at_ms(2)), Ok(()), "per sender");
        a.left(7);
        assert_eq!(a.admit(7, at_ms(3)), Ok(()));
        assert_eq!(a.refused_counts(), (0, 1));
    }

    #[test]
    #[should_panic(expected = "left more")]
    fn leaving_twice_is_a_bug() {
        let mut a =
            Admission::new(Limits { rate_milli_per_s: None, burst: 1, concurrency_max: Some(2) });
        a.admit(1, at_ms(0)).expect("admitted");
        a.left(1);
        a.left(1);
    }
}
