//! What a run measures: outcomes per flow and class, end-to-end and per-hop latency in
//! HdrHistograms (microseconds, 3 significant digits), node occupancy for Little's law, and
//! per-minute series.

use hdrhistogram::Histogram;

use crate::payments::time::{Span, Timestamp};

/// Largest latency a histogram holds: one hour, in microseconds (larger values saturate).
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Length of the intervals approved latency is also kept per, for steady-state figures and the
/// interval log: ten simulated minutes.
pub const INTERVAL_MINUTES: u64 = 10;

/// How a payment ended. Declines carry their class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Approved with the first answer.
    Approved,
    /// Approved after the originator timed out (found by inquiry or a late answer).
    ApprovedLate,
    /// Declined: the class says why.
    Declined(Decline),
    /// Timed out and reversed.
    Reversed,
    /// Timed out; the reversal never got through and awaits manual handling.
    Manual,
    /// The payer scanned and walked away; nothing was sent.
    Abandoned,
}

/// Why a payment was declined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Decline {
    InsufficientBalance,
    PinFailure,
    LimitExceeded,
    RiskDecline,
    IssuerUnavailable,
    SwitchError,
    AcquirerError,
    MerchantInvalid,
    ExpiredQr,
    MalformedQr,
    /// A node's queue was full.
    NodeOverloaded,
    /// The reversal reached the far side before the request did.
    Reversed,
}

impl Decline {
    /// Every class, in report order.
    pub const ALL: [Decline; 12] = [
        Decline::InsufficientBalance,
        Decline::PinFailure,
        Decline::LimitExceeded,
        Decline::RiskDecline,
        Decline::IssuerUnavailable,
        Decline::SwitchError,
        Decline::AcquirerError,
        Decline::MerchantInvalid,
        Decline::ExpiredQr,
        Decline::MalformedQr,
        Decline::NodeOverloaded,
        Decline::Reversed,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Decline::InsufficientBalance => "insufficient_balance",
            Decline::PinFailure => "pin_failure",
            Decline::LimitExceeded => "limit_exceeded",
            Decline::RiskDecline => "risk_decline",
            Decline::IssuerUnavailable => "issuer_unavailable",
            Decline::SwitchError => "switch_error",
            Decline::AcquirerError => "acquirer_error",
            Decline::MerchantInvalid => "merchant_invalid",
            Decline::ExpiredQr => "expired_qr",
            Decline::MalformedQr => "malformed_qr",
            Decline::NodeOverloaded => "node_overloaded",
            Decline::Reversed => "reversed_before_arrival",
        }
    }
}

impl Outcome {
    /// The outcome's name in reports (`declined:<class>` for declines).
    pub fn name(self) -> String {
        match self {
            Outcome::Approved => "approved".into(),
            Outcome::ApprovedLate => "approved_late".into(),
            Outcome::Declined(d) => format!("declined:{}", d.name()),
            Outcome::Reversed => "reversed".into(),
            Outcome::Manual => "manual".into(),
            Outcome::Abandoned => "abandoned".into(),
        }
    }

    /// Approved, on time or late.
    pub fn is_approved(self) -> bool {
        matches!(self, Outcome::Approved | Outcome::ApprovedLate)
    }
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid bounds")
}

/// An interval's histogram: 2 significant digits (1 % of the value), a seventh of the memory.
pub(crate) fn interval_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 2).expect("valid bounds")
}

/// One flow's figures.
#[derive(Clone, Debug)]
pub struct FlowStats {
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
    /// Per node kind on the route: time from arrival to end of service, µs.
    pub hops: Vec<(&'static str, Histogram<u64>)>,
    /// Approved latency per [`INTERVAL_MINUTES`] of simulated time (by when the payer saw the
    /// answer), µs, 2 significant digits.
    pub intervals: Vec<Histogram<u64>>,
}

impl FlowStats {
    pub(crate) fn new(hops: &[&'static str]) -> FlowStats {
        FlowStats {
            payments_count: 0,
            retries_count: 0,
            outcomes: Default::default(),
            latency_approved: histogram(),
            latency_answered: histogram(),
            payer_timeouts_count: 0,
            duplicates_absorbed_count: 0,
            hops: hops.iter().map(|&h| (h, histogram())).collect(),
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

/// A node's occupancy figures.
#[derive(Clone, Debug)]
pub struct NodeStats {
    /// Its name (`upi`, `kh_bank[3]`).
    pub name: String,
    /// Its servers.
    pub servers: u32,
    /// Requests that finished service.
    pub served_count: u64,
    /// Requests refused because the queue was full.
    pub refused_count: u64,
    /// Longest queue seen.
    pub queue_len_max: u64,
    /// ∫ busy servers dt, in server-nanoseconds.
    pub busy_ns: u128,
    /// ∫ requests in the node (queued + in service) dt, in request-nanoseconds.
    pub in_system_ns: u128,
    /// Σ time in the node of the requests that finished service, ns.
    pub sojourn_ns: u128,
    /// At the end of each simulated minute.
    pub minutes: Vec<NodeMinute>,
}

impl NodeStats {
    /// The running totals now, as a minute snapshot.
    pub fn totals(&self) -> NodeMinute {
        NodeMinute {
            queue_len_max: u32::try_from(self.queue_len_max).unwrap_or(u32::MAX),
            busy_ns: self.busy_ns,
            in_system_ns: self.in_system_ns,
            served_count: self.served_count,
            sojourn_ns: self.sojourn_ns,
        }
    }
}

/// A node at the end of one simulated minute: the longest queue in the minute, and the running
/// totals (differences between minutes give per-minute figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMinute {
    /// Longest queue during the minute.
    pub queue_len_max: u32,
    /// ∫ busy servers dt so far, server-ns.
    pub busy_ns: u128,
    /// ∫ requests in the node dt so far, request-ns.
    pub in_system_ns: u128,
    /// Requests served so far.
    pub served_count: u64,
    /// Σ time in the node of the requests served so far, ns.
    pub sojourn_ns: u128,
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

/// The minute index of `at` in a run starting at `start`.
pub(crate) fn minute_of(at: Timestamp, start: Timestamp) -> usize {
    (at.saturating_since(start).as_nanos() / Span::from_minutes(1).as_nanos()) as usize
}
