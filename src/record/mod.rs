//! What a run produced, as data: the record that the simulator writes (and the load tester
//! will), and that `report` renders without knowing which wrote it.
//!
//! * [`RunRecord`]: one run: per-flow and per-node figures, the books, the audit.
//! * [`flow`]: a flow's outcomes, latency histograms and per-minute series.
//! * [`node`]: a node's occupancy and its per-minute snapshots.
//!
//! Named structs throughout, never tuples: a field says what it holds and in which unit.

pub mod flow;
pub mod node;

use rust_decimal::Decimal;

use crate::payments::recon::Break;
use crate::payments::settlement::{NetPositions, SchemeSettlement, SettlementRefusal};
use crate::payments::time::{Timestamp, Zone};

pub use flow::{FlowStats, HopLatency, INTERVAL_MINUTES, LATENCY_US_MAX, MinuteStats};
pub use node::{NodeMinute, NodeStats};

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
    /// Clearing records kept.
    pub clearing_counts: ClearingCounts,
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
}

/// How many clearing records each party kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClearingCounts {
    /// The Bakong switch's.
    pub switch_records_count: usize,
    /// UPI's.
    pub upi_records_count: usize,
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
