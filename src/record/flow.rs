//! A flow's figures: outcomes by class, end-to-end and per-hop latency in HdrHistograms
//! (microseconds, 3 significant digits), approved latency per ten-minute interval, and the
//! per-minute series.

use hdrhistogram::Histogram;

use crate::payments::network::{Decline, Outcome};
use crate::payments::party::Flow;

/// Largest latency a histogram holds: one hour, in microseconds (larger values saturate).
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Length of the intervals approved latency is also kept per, for steady-state figures and the
/// interval log: ten simulated minutes.
pub const INTERVAL_MINUTES: u64 = 10;

/// A latency histogram: 1 µs to [`LATENCY_US_MAX`], 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid bounds")
}

/// An interval's histogram: 2 significant digits (1 % of the value), a seventh of the memory.
pub fn interval_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 2).expect("valid bounds")
}

/// One flow's figures.
#[derive(Clone, Debug)]
pub struct FlowStats {
    /// The flow.
    pub flow: Flow,
    /// Payments created (including abandoned and retries).
    pub payments_count: u64,
    /// Retries among them.
    pub retries_count: u64,
    /// Outcome counts.
    pub outcomes: std::collections::BTreeMap<Outcome, u64>,
    /// Confirm → payer sees the answer, approved payments, µs.
    pub latency_approved: Histogram<u64>,
    /// Confirm → payer sees the answer, every answered payment, µs.
    pub latency_answered: Histogram<u64>,
    /// Answers the payer's app saw after its own timeout.
    pub payer_timeouts_count: u64,
    /// Duplicate requests the core absorbed (duplicate taps and replayed messages).
    pub duplicates_absorbed_count: u64,
    /// Per hop of the route: time from arrival at its node to end of service, µs.
    pub hops: Vec<HopLatency>,
    /// Approved latency per [`INTERVAL_MINUTES`] of simulated time (by when the payer saw the
    /// answer), µs, 2 significant digits.
    pub intervals: Vec<Histogram<u64>>,
}

impl FlowStats {
    /// Empty figures for `flow`, whose route crosses nodes of these kinds.
    pub fn new(flow: Flow, hops: &[&str]) -> FlowStats {
        FlowStats {
            flow,
            payments_count: 0,
            retries_count: 0,
            outcomes: Default::default(),
            latency_approved: histogram(),
            latency_answered: histogram(),
            payer_timeouts_count: 0,
            duplicates_absorbed_count: 0,
            hops: hops
                .iter()
                .map(|&node| HopLatency { node: node.to_string(), latency_us: histogram() })
                .collect(),
            intervals: Vec::new(),
        }
    }

    /// Approved over answered (approved + declined + reversed + manual), as a fraction.
    pub fn approval_ratio(&self) -> f64 {
        let (mut approved, mut total) = (0u64, 0u64);
        for (o, n) in &self.outcomes {
            if *o != Outcome::Abandoned {
                total += n;
            }
            if o.is_approved() {
                approved += n;
            }
        }
        if total == 0 { 0.0 } else { approved as f64 / total as f64 }
    }

    /// Count of one outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// One hop of a flow's route: the node kind it runs on and the time spent there.
#[derive(Clone, Debug)]
pub struct HopLatency {
    /// The node kind (`upi`, `kh_bank`).
    pub node: String,
    /// Arrival at the node to end of service, µs.
    pub latency_us: Histogram<u64>,
}

/// Per simulated minute and flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct MinuteStats {
    /// Payments offered (confirmed by payers).
    pub offered: u32,
    /// Payments that reached a final state.
    pub completed: u32,
    /// Approved among them.
    pub approved: u32,
    /// Declined among them.
    pub declined: u32,
    /// Declined among them, by class, in [`Decline::ALL`] order.
    pub declined_by_class: [u32; Decline::ALL.len()],
    /// Reversed or sent to manual handling among them.
    pub timed_out: u32,
    /// In flight at the minute's end.
    pub in_flight: u32,
    /// p50, p99 and p99.9 of answered payments' latency in the minute, µs.
    pub latency_us_p50: u64,
    /// See above.
    pub latency_us_p99: u64,
    /// See above.
    pub latency_us_p999: u64,
}
