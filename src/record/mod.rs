//! What a run produced, as data: the record that the simulator writes, the series the load
//! tester writes, and that `report` renders without knowing which wrote it.
//!
//! * [`RunRecord`]: one run: per-flow and per-node figures, the books, the audit.
//! * [`flow`]: a flow's outcomes, latency histograms and per-minute series.
//! * [`node`]: a node's occupancy and its per-minute snapshots.
//! * [`measured`]: a load test's requests, answers and latency per interval of real time.
//!
//! Named structs throughout, never tuples: a field says what it holds and in which unit.

pub mod flow;
pub mod measured;
pub mod mmc;
pub mod node;
pub mod study;
pub mod swarm;

use rust_decimal::Decimal;

use crate::payments::clearing::ClearingRecord;
use crate::payments::party::Flow;
use crate::payments::recon::Break;
use crate::payments::settlement::{NetPositions, SchemeSettlement, SettlementRefusal};
use crate::payments::time::{Timestamp, Zone};

pub use flow::{
    BankStats, Cost, FlowStats, HopLatency, INTERVAL_MINUTES, LATENCY_US_MAX, MinuteStats,
    PaymentCost, PeakSecond, PeakSeconds, SparseHistogram,
};
pub use node::{NodeMinute, NodeStats, Occupancy, RelayCounts, Sizing, Throttled, Utilisation};

/// Why a run stopped before draining.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Everything finished.
    Drained,
    /// The drain period ended with payments still in flight.
    DrainTimeUp {
        /// How many.
        in_flight: u32,
    },
    /// A limit was reached.
    Limit(&'static str),
}

/// Everything a run produced, for the report.
pub struct RunRecord {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// When simulated time starts.
    pub start: Timestamp,
    /// When arrivals stop.
    pub end: Timestamp,
    /// When the last event happened.
    pub finished_at: Timestamp,
    /// The scenario's time zone.
    pub zone: Zone,
    /// Why it stopped.
    pub stop: Stop,
    /// Events processed.
    pub events_count: u64,
    /// Per flow present, in flow order.
    pub flows: Vec<FlowStats>,
    /// Per node.
    pub nodes: Vec<NodeStats>,
    /// Per minute, per flow present (same order as `flows`).
    pub minutes: Vec<Vec<MinuteStats>>,
    /// The busiest seconds of all flows together.
    pub peak_seconds: PeakSeconds,
    /// Per member bank: its liquidity at NBC through the run.
    pub liquidity: Vec<BankLiquidity>,
    /// Netting cycles settled.
    pub nettings: Vec<NetPositions>,
    /// Netting chains the ledger refused (a bank short of prefunding): findings.
    pub netting_refusals: Vec<SettlementRefusal>,
    /// UPI ⇄ NBC settlements per trade date.
    pub scheme_settlements: Vec<SchemeSettlement>,
    /// Reconciliation breaks, all trade dates.
    pub breaks: Vec<Break>,
    /// Breaks not explained by an injected exception or a recorded timeout.
    pub breaks_unexplained_count: u64,
    /// Exceptions injected into UPI's file.
    pub exceptions_injected_count: u64,
    /// The clearing records kept.
    pub clearing: Clearing,
    /// The scenario's degraded windows, crashes and link outages, in the scenario's order.
    pub incidents: Vec<Incident>,
    /// What each participant earned in fees and spreads, per currency, from its fee income
    /// accounts in the ledger at the end: nonzero balances, in the ledger's account order.
    pub income: Vec<Income>,
    /// The ledger at the end.
    pub ledger_size: LedgerSize,
    /// Whether every ledger invariant held at the end.
    pub invariants_ok: bool,
    /// Auditor checks made.
    pub audit_checks_count: u64,
    /// Payments the auditor saw created and final.
    pub audit_counts: AuditCounts,
    /// The mid rates at the start and at the end.
    pub fx_mid: FxMids,
    /// The SLOs the run is judged against.
    pub slos: Vec<SloSpec>,
    /// Minutes the scenario cuts from the start for steady-state figures (detected when none).
    pub warmup_minutes: Option<u64>,
    /// How often the run reached the states a fault campaign must reach.
    pub marks: Marks,
}

/// How often a run reached the states that matter to a fault campaign (`sim swarm`): each
/// is a path through the protocol that ordinary traffic rarely takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// The originator timed out after the far side had booked the credit.
    pub timeout_after_credit_count: u64,
    /// A reversal undid a credit the far side had booked.
    pub credit_reversed_count: u64,
    /// An approval reached the payer after the originator's timeout.
    pub late_approval_count: u64,
    /// A payment confirmed before the Beijing day cut (23:00 Phnom Penh) and final after it.
    pub across_day_cut_count: u64,
    /// A duplicate request reached a side that had booked, and idempotency absorbed it.
    pub duplicate_absorbed_count: u64,
    /// A payment declined for its bank's liquidity at NBC.
    pub liquidity_decline_count: u64,
    /// A node crashed while a payment with an open hold had it on its route.
    pub crash_open_hold_count: u64,
    /// Messages lost in crashes (held in memory, or sent to a node that was down).
    pub crash_lost_count: u64,
}

/// One mark: its key in `swarm.json`, what it means, and its count.
pub struct Mark {
    /// Its key.
    pub name: &'static str,
    /// What it means.
    pub means: &'static str,
    /// Its count in a run's marks.
    pub count: fn(&Marks) -> u64,
    /// Sets its count (reading a campaign back).
    pub set: fn(&mut Marks, u64),
}

/// Every mark, in the order reports list them.
pub const MARKS: &[Mark] = &[
    Mark {
        name: "timeout_after_credit",
        means: "a timeout after the far side booked",
        count: |m| m.timeout_after_credit_count,
        set: |m, n| m.timeout_after_credit_count = n,
    },
    Mark {
        name: "credit_reversed",
        means: "a reversal of a credited payment",
        count: |m| m.credit_reversed_count,
        set: |m, n| m.credit_reversed_count = n,
    },
    Mark {
        name: "late_approval",
        means: "a late approval",
        count: |m| m.late_approval_count,
        set: |m, n| m.late_approval_count = n,
    },
    Mark {
        name: "across_day_cut",
        means: "a payment across the Beijing day cut",
        count: |m| m.across_day_cut_count,
        set: |m, n| m.across_day_cut_count = n,
    },
    Mark {
        name: "duplicate_absorbed",
        means: "a duplicate absorbed by idempotency",
        count: |m| m.duplicate_absorbed_count,
        set: |m, n| m.duplicate_absorbed_count = n,
    },
    Mark {
        name: "liquidity_decline",
        means: "a liquidity decline",
        count: |m| m.liquidity_decline_count,
        set: |m, n| m.liquidity_decline_count = n,
    },
    Mark {
        name: "crash_open_hold",
        means: "a crash during an open hold",
        count: |m| m.crash_open_hold_count,
        set: |m, n| m.crash_open_hold_count = n,
    },
];

/// A member bank's liquidity at NBC in one currency at the end of a simulated minute, minor
/// units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiquidityPoint {
    /// What it may owe this cycle.
    pub cap_minor: i64,
    /// What it owes so far this cycle, net (negative: it is owed).
    pub position_minor: i64,
    /// What payments on their way have reserved.
    pub reserved_minor: i64,
}

impl LiquidityPoint {
    /// What is left under the cap.
    pub fn headroom_minor(&self) -> i64 {
        self.cap_minor - self.position_minor - self.reserved_minor
    }
}

/// A member bank's liquidity at NBC through the run, in KHR (index 0) and USD (1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankLiquidity {
    /// The bank's index.
    pub bank: usize,
    /// Its prefunding, minor units.
    pub prefund_minor: [i64; 2],
    /// At the end of each simulated minute.
    pub minutes: [Vec<LiquidityPoint>; 2],
    /// Payments declined because they did not fit.
    pub short_count: [u64; 2],
    /// Payments held at the switch for a later cycle.
    pub held_count: [u64; 2],
    /// Of those, still held when the run ended.
    pub still_held_count: [u64; 2],
    /// What its treasury moved in to restore its balance after settlements, minor units.
    pub topped_up_minor: [i64; 2],
}

/// A service-level objective the run is judged against (from the scenario's `[[slo]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct SloSpec {
    /// Its name.
    pub name: String,
    /// What it measures.
    pub metric: SloMetric,
    /// The flow, for per-flow metrics.
    pub flow: Option<Flow>,
    /// The bound the metric must keep.
    pub bound: SloBound,
}

/// What an SLO measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SloMetric {
    /// A flow's approved payments, end to end, median, ms.
    LatencyMsP50,
    /// Their 99th percentile, ms.
    LatencyMsP99,
    /// Their 99.9th percentile, ms.
    LatencyMsP999,
    /// A flow's approval rate, percent.
    ApprovalPct,
    /// Reconciliation breaks no cause explains.
    UnexplainedBreaks,
    /// A flow's payee notified of a credit: confirm to notification, 99th percentile, ms.
    MerchantNotifiedMsP99,
}

impl SloMetric {
    /// Every metric, in the format's order.
    pub const ALL: [SloMetric; 6] = [
        SloMetric::LatencyMsP50,
        SloMetric::LatencyMsP99,
        SloMetric::LatencyMsP999,
        SloMetric::ApprovalPct,
        SloMetric::UnexplainedBreaks,
        SloMetric::MerchantNotifiedMsP99,
    ];

    /// The name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::LatencyMsP50 => "latency_ms_p50",
            SloMetric::LatencyMsP99 => "latency_ms_p99",
            SloMetric::LatencyMsP999 => "latency_ms_p999",
            SloMetric::ApprovalPct => "approval_pct",
            SloMetric::UnexplainedBreaks => "unexplained_breaks",
            SloMetric::MerchantNotifiedMsP99 => "merchant_notified_ms_p99",
        }
    }

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Option<SloMetric> {
        SloMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether it is measured per flow.
    pub fn per_flow(self) -> bool {
        self != SloMetric::UnexplainedBreaks
    }
}

/// The bound an SLO's metric must keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SloBound {
    /// At most this.
    Max(f64),
    /// At least this.
    Min(f64),
}

/// The clearing records each party kept: the files that `sim recon` reads, one per party and
/// business date (`report` writes them to `clearing/`). A run that streamed its files as each
/// business date closed keeps none here, only the counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clearing {
    /// The Bakong switch's records, by business date, each date's in the order written.
    pub switch: Vec<ClearingRecord>,
    /// UPI's.
    pub upi: Vec<ClearingRecord>,
    /// How many records the switch wrote, kept or streamed.
    pub switch_count: u64,
    /// How many UPI wrote.
    pub upi_count: u64,
}

/// A participant's fees and spreads earned in one currency over the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Income {
    /// The participant, by its node name (`kh_bank[3]`).
    pub participant: String,
    /// The account's currency.
    pub currency: crate::payments::money::Currency,
    /// The fee income account's balance at the end, minor units.
    pub earned_minor: i64,
}

/// What an incident did to its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentKind {
    /// Slower, lossier or failing more (a `[[windows]]` entry).
    Degraded,
    /// The targeted nodes were down (a window with `crash = true`).
    Crash,
    /// A link lost everything sent on it (a link's `outages`).
    Outage,
}

impl IncidentKind {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::Degraded => "degraded",
            IncidentKind::Crash => "crash",
            IncidentKind::Outage => "outage",
        }
    }
}

/// A stretch of time in which the scenario degraded, crashed or cut part of the network: the
/// plots shade it on every time axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The window's name, or `<link> outage`.
    pub name: String,
    /// What it did.
    pub kind: IncidentKind,
    /// Its first instant.
    pub from: Timestamp,
    /// The first instant after it.
    pub until: Timestamp,
    /// The nodes and links it hit.
    pub targets: Vec<String>,
}

/// The ledger's size at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerSize {
    /// Accounts open.
    pub accounts_count: usize,
    /// Records in the transfer log.
    pub records_count: usize,
}

/// What the auditor counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditCounts {
    /// Payments created.
    pub payments_created_count: u64,
    /// Payments that reached their one final state.
    pub payments_final_count: u64,
    /// Payments declared in flight when the run stopped early (their holds audited).
    pub payments_in_flight_count: u64,
}

/// A mid rate at the start and at the end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidMove {
    /// At the start.
    pub start: Decimal,
    /// At the end.
    pub end: Decimal,
}

/// The mid rates a run moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FxMids {
    /// USD/CNY.
    pub usd_cny: MidMove,
    /// USD/KHR.
    pub usd_khr: MidMove,
}
