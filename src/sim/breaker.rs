//! A circuit breaker at a node, per next hop: when too many of the requests it forwarded there
//! missed the node's deadline over a recent window, it opens, and the node declines requests
//! for that hop at once (`circuit_open`) instead of sending them into a hop that does not
//! answer; after a while it lets one request through (half open), closes if that one is
//! answered in time and opens again if not.
//!
//! Outcomes are counted per simulated second in a window of whole seconds, in integers, so a
//! run is a pure function of its inputs.

use std::collections::{BTreeMap, VecDeque};

use crate::payments::time::{Span, Timestamp};

/// When a breaker opens, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// It opens when at least this share of the window's outcomes are failures, per mille.
    pub failure_permille: u32,
    /// The window, whole seconds.
    pub window_s: u32,
    /// Outcomes the window must hold before it may open.
    pub requests_min: u32,
    /// How long it stays open before it lets a probe through.
    pub open: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Timestamp,
    },
    /// One request is let through at a time; its outcome decides.
    HalfOpen {
        probing: bool,
    },
}

/// Outcomes in one simulated second.
#[derive(Clone, Copy, Debug)]
struct Second {
    second: u64,
    ok: u32,
    failed: u32,
}

#[derive(Clone, Debug)]
struct Toward {
    state: State,
    seconds: VecDeque<Second>,
}

/// A node's breakers, one per next hop (kept in a `BTreeMap`: nothing may depend on a hash).
#[derive(Clone, Debug)]
pub struct Breaker {
    limits: Limits,
    toward: BTreeMap<u32, Toward>,
    opened_count: u64,
    refused_count: u64,
}

impl Breaker {
    /// Breakers with these limits, all closed.
    pub fn new(limits: Limits) -> Breaker {
        Breaker { limits, toward: BTreeMap::new(), opened_count: 0, refused_count: 0 }
    }

    fn toward(&mut self, next: u32) -> &mut Toward {
        self.toward.entry(next).or_insert(Toward { state: State::Closed, seconds: VecDeque::new() })
    }

    /// Whether a request may be forwarded to `next` at `now` (counted as refused when not).
    pub fn allow(&mut self, next: u32, now: Timestamp) -> bool {
        let t = self.toward(next);
        let allowed = match t.state {
            State::Closed => true,
            State::Open { until } if now >= until => {
                t.state = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } | State::HalfOpen { probing: true } => false,
            State::HalfOpen { probing: false } => {
                t.state = State::HalfOpen { probing: true };
                true
            }
        };
        if !allowed {
            self.refused_count += 1;
        }
        allowed
    }

    /// A request forwarded to `next` was answered in time (`ok`) or missed the deadline, at
    /// `now`.
    pub fn record(&mut self, next: u32, now: Timestamp, ok: bool) {
        let limits = self.limits;
        let second = now.as_nanos() / 1_000_000_000;
        let t = self.toward(next);
        let opened = match t.state {
            State::Open { .. } => false,
            State::HalfOpen { .. } if ok => {
                t.state = State::Closed;
                t.seconds.clear();
                false
            }
            State::HalfOpen { .. } => true,
            State::Closed => {
                match t.seconds.back_mut() {
                    Some(s) if s.second == second => {
                        s.ok += u32::from(ok);
                        s.failed += u32::from(!ok);
                    }
                    _ => t.seconds.push_back(Second {
                        second,
                        ok: u32::from(ok),
                        failed: u32::from(!ok),
                    }),
                }
                let oldest = second.saturating_sub(u64::from(limits.window_s) - 1);
                while t.seconds.front().is_some_and(|s| s.second < oldest) {
                    t.seconds.pop_front();
                }
                let (ok_sum, failed_sum) = t
                    .seconds
                    .iter()
                    .fold((0u64, 0u64), |(a, b), s| (a + u64::from(s.ok), b + u64::from(s.failed)));
                let total = ok_sum + failed_sum;
                total >= u64::from(limits.requests_min)
                    && failed_sum * 1000 >= u64::from(limits.failure_permille) * total
            }
        };
        if opened {
            t.state = State::Open { until: now.checked_add(limits.open).expect("in range") };
            t.seconds.clear();
            self.opened_count += 1;
        }
    }

    /// Times a breaker opened, and requests refused while one was open.
    pub fn counts(&self) -> (u64, u64) {
        (self.opened_count, self.refused_count)
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the breaker opens on a failing window and not before it holds enough outcomes,
    //! refuses while open, lets one probe through, and closes or reopens on the probe's
    //! outcome; other next hops are not affected. Method: hand-timed outcomes.

    use super::*;

    fn at_s(s: u64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    fn breaker() -> Breaker {
        Breaker::new(Limits {
            failure_permille: 500,
            window_s: 10,
            requests_min: 4,
            open: Span::from_secs(30),
        })
    }

    #[test]
    fn opens_on_a_failing_window_and_probes_before_closing() {
        let mut b = breaker();
        for s in 0..3 {
            b.record(1, at_s(s), false);
        }
        assert!(b.allow(1, at_s(3)), "three outcomes are fewer than the minimum");
        b.record(1, at_s(3), true);
        // 3 failed of 4: open.
        assert!(!b.allow(1, at_s(4)));
        assert!(b.allow(2, at_s(4)), "another next hop");
        assert!(!b.allow(1, at_s(32)));
        assert!(b.allow(1, at_s(33)), "the probe, thirty seconds after it opened");
        assert!(!b.allow(1, at_s(33)), "one probe at a time");
        b.record(1, at_s(34), false);
        assert!(!b.allow(1, at_s(36)), "the probe failed: open again");
        assert!(b.allow(1, at_s(64)), "the next probe");
        b.record(1, at_s(65), true);
        assert!(b.allow(1, at_s(65)) && b.allow(1, at_s(65)), "closed");
        assert_eq!(b.counts(), (2, 4));
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut b = breaker();
        for s in 0..3 {
            b.record(1, at_s(s), false);
        }
        for s in 20..23 {
            b.record(1, at_s(s), true);
        }
        b.record(1, at_s(23), false);
        assert!(b.allow(1, at_s(24)), "1 failed of 4 in the window");
    }
}
