//! What a world will hold in memory, estimated from the scenario before anything is allocated,
//! so that a run too big for its `[limits] memory_mb_max` is refused up front with what drives it
//! rather than failing after minutes (or asking the allocator for terabytes).
//!
//! Each part multiplies a count the scenario implies (accounts, transfers, clearing records,
//! simulated minutes, merchants) by the size of the structure that holds it, taken from the
//! types themselves with `size_of`, so the estimate follows the code. `benches/README.md`
//! records how it compares with the measured peak of the shipped scenarios.

use std::mem::size_of;

use hdrhistogram::Histogram;

use super::build::{busiest_window, code_table_bytes_max, ledger_hints};
use super::config::Config;
use super::{Event, Payment};
use crate::payments::clearing::ClearingRecord;
use crate::payments::ledger::{Account, AccountId, Record};
use crate::payments::party::Flow;
use crate::record::flow::{histogram, interval_histogram};
use crate::record::{INTERVAL_MINUTES, LiquidityPoint, MinuteStats, NodeMinute};

/// Bytes that every run holds whatever its size: the binary, the allocator, the plot canvases.
const BASE_BYTES: u64 = 24 << 20;
/// How many seconds of the busiest minute's arrivals are assumed in flight at once: a payment
/// lives a few seconds, one that times out a minute or more.
const IN_FLIGHT_SECONDS: f64 = 90.0;

/// One part of the estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FootprintPart {
    /// What it is (`ledger transfer log`).
    pub what: &'static str,
    /// What in the scenario drives it.
    pub driver: String,
    /// Bytes.
    pub bytes: u64,
}

/// The estimate, by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Every part, largest first.
    pub parts: Vec<FootprintPart>,
}

impl Footprint {
    /// The whole estimate, bytes.
    pub fn total_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The largest parts, for a message: `ledger transfer log 1204 MiB (…); …`.
    pub fn biggest(&self, count: usize) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .take(count)
            .map(|p| format!("{} {} ({})", p.what, megabytes(p.bytes), p.driver))
            .collect();
        parts.join("; ")
    }
}

/// `1234 MiB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

fn histogram_bytes(h: &Histogram<u64>) -> u64 {
    h.distinct_values() as u64 * size_of::<u64>() as u64
}

/// The closed intervals' sparse histograms: at most one 8-byte bucket per payment, and at most
/// [`INTERVAL_BUCKETS_MAX`] per interval.
fn closed_intervals_bytes(cfg: &Config) -> u64 {
    let interval = INTERVAL_MINUTES as usize;
    cfg.flows
        .iter()
        .flat_map(|f| f.per_minute.chunks(interval).map(|c| c.iter().sum::<f64>()))
        .map(|n| (n.ceil() as u64).min(INTERVAL_BUCKETS_MAX) * 8)
        .sum()
}

/// The most non-zero buckets an interval histogram has: those of a 1 ms to 60 s spread at
/// 2 significant digits (16 octaves of 128 buckets).
const INTERVAL_BUCKETS_MAX: u64 = 16 * 128;

/// The most cross-border payments whose clearing records are held at once. A business date's
/// records stay until the next date has ended and the retention horizon has passed it: at most
/// two days and the horizon of them.
fn cross_border_open(cfg: &Config) -> f64 {
    let open_minutes = (48 + cfg.limits.ledger_retention_hours as usize) * 60;
    cfg.flows
        .iter()
        .filter(|f| f.flow != Flow::Domestic)
        .map(|f| busiest_window(&f.per_minute, open_minutes))
        .sum()
}

/// Estimates the memory a run of `cfg` holds at its peak.
pub(crate) fn footprint(cfg: &Config) -> Footprint {
    let [accounts, records, pending] = ledger_hints(cfg).map(|n| n as u64);
    let retention_h = cfg.limits.ledger_retention_hours;
    let minutes = cfg.hard_end.saturating_since(cfg.start).as_nanos() / 60_000_000_000 + 1;
    let p = &cfg.population;
    let nodes = cfg.nodes.iter().map(|n| u64::from(n.count)).sum::<u64>();
    let banks = p.bank_shares_pct.len() as u64;
    let cross_border = cross_border_open(cfg);
    let peak_per_second = cfg
        .flows
        .iter()
        .map(|f| f.per_minute.iter().copied().fold(0.0, f64::max) / 60.0)
        .sum::<f64>();
    let in_flight = (peak_per_second * IN_FLIGHT_SECONDS)
        .min(f64::from(cfg.limits.payments_in_flight_max)) as u64;
    let merchants =
        [p.inward_merchants, p.outward_merchants, p.remittance_recipients, p.domestic_merchants]
            .iter()
            .map(|&n| u64::from(n))
            .sum::<u64>();
    let customers = u64::from(
        p.inward_payers
            + p.outward_payers
            + p.remittance_senders
            + p.domestic_payers
            + p.inward_merchants
            + p.outward_merchants
            + p.remittance_recipients
            + p.domestic_merchants,
    );
    let flow_count = cfg.flows.len() as u64;
    let hops: u64 = cfg.flows.iter().map(|f| f.route.hops.len() as u64 + 2).sum();
    let size = |n: usize| n as u64;
    // The key map: a B-tree filled in key order keeps its leaves a little over half full (6 of
    // 11 entries), and its inner nodes add about a sixth again: 8/3 of an entry's own bytes.
    let key_entry = size(size_of::<u64>() + size_of::<AccountId>()) * 8 / 3;
    let clearing_record = size(size_of::<ClearingRecord>()) + 48;
    let mut parts = vec![
        FootprintPart {
            what: "ledger transfer log",
            driver: format!("{records} transfers in the busiest {retention_h}-hour window"),
            // The log, and its id index (a direct window of one slot per id issued, about two
            // ids per transfer).
            bytes: records * (size(size_of::<Record>()) + 8) + pending * 16,
        },
        FootprintPart {
            what: "ledger accounts",
            driver: format!("{accounts} accounts from the population"),
            // And the auditor's expected balance, and its copy while it checks: 16 bytes.
            bytes: accounts * (size(size_of::<Account>()) + key_entry + 16),
        },
        FootprintPart {
            what: "clearing records",
            driver: format!(
                "{cross_border:.0} cross-border payments in the business dates open at once"
            ),
            // Both parties' files, and the copies reconciliation sorts by trade date.
            bytes: (cross_border * 1.1) as u64 * 2 * clearing_record * 2,
        },
        FootprintPart {
            what: "merchant codes and customers",
            driver: format!("{merchants} merchants and recipients, {customers} customers"),
            // Each customer keeps where it is held: two bytes.
            bytes: code_table_bytes_max(cfg) + customers * 2,
        },
        FootprintPart {
            what: "per-minute series",
            driver: format!(
                "{minutes} simulated minutes × {flow_count} flows, {nodes} nodes and {banks} \
                 banks' liquidity"
            ),
            // The series, and the CSV text the report renders from them.
            bytes: minutes
                * (flow_count * (size(size_of::<MinuteStats>()) + 160)
                    + nodes * (size(size_of::<NodeMinute>()) + 60)
                    + banks * 2 * (size(size_of::<LiquidityPoint>()) + 60)),
        },
        FootprintPart {
            what: "latency histograms",
            driver: format!(
                "{flow_count} flows' whole-run, per-hop and per-bank histograms, and their \
                 closed 10-minute intervals' buckets"
            ),
            bytes: hops * histogram_bytes(&histogram())
                + flow_count
                    * (1 + cfg.population.bank_shares_pct.len() as u64)
                    * histogram_bytes(&interval_histogram())
                + closed_intervals_bytes(cfg),
        },
        FootprintPart {
            what: "payments in flight",
            driver: format!("{in_flight} payments at the busiest minute's rate"),
            bytes: in_flight * (size(size_of::<Payment>()) + 4 * (size(size_of::<Event>()) + 24)),
        },
        FootprintPart { what: "program and plots", driver: "fixed".into(), bytes: BASE_BYTES },
    ];
    parts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.what.cmp(b.what)));
    Footprint { parts }
}
