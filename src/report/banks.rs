//! The member banks: each bank's servers, the busiest minute of its node, and what its
//! customers saw (payments, approval, latency of approved payments), over all flows and per
//! flow. A bank's payments are those of its payers, and inward those of its merchants.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::payments::csv_text::CsvText;
use crate::record::RunRecord;
use crate::record::flow::BankStats;

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

fn pct(approved: u64, answered: u64) -> f64 {
    if answered == 0 { 0.0 } else { approved as f64 / answered as f64 * 100.0 }
}

/// One bank's figures over every flow.
fn total(record: &RunRecord, bank: usize) -> BankStats {
    let mut t = BankStats::new();
    for f in &record.flows {
        let b = &f.banks[bank];
        t.payments_count += b.payments_count;
        t.answered_count += b.answered_count;
        t.approved_count += b.approved_count;
        t.latency_approved.add(&b.latency_approved).expect("same bounds");
    }
    t
}

/// The banks' count: every flow holds one entry per bank.
fn banks_count(record: &RunRecord) -> usize {
    record.flows.first().map_or(0, |f| f.banks.len())
}

/// `summary.md`'s section on the member banks.
pub(super) fn md_banks(out: &mut String, record: &RunRecord) {
    let count = banks_count(record);
    if count == 0 {
        return;
    }
    let run_ns = u128::from(record.finished_at.saturating_since(record.start).as_nanos());
    let _ = writeln!(
        out,
        "\n## Member banks\n\nPer Bakong member bank, over every flow: its payers' payments \
         (inward, its merchants'), approval (approved over answered), and the end-to-end latency \
         of approved payments (2 significant digits); its node's servers and busiest minute. \
         `banks.csv` has each flow apart.\n\n| bank | servers | peak minute % | payments | \
         approval % | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for bank in 0..count {
        let t = total(record, bank);
        let node = record.nodes.iter().find(|n| n.name == format!("kh_bank[{bank}]"));
        let (servers, peak) = node.map_or((String::from("–"), String::from("–")), |n| {
            (n.servers.to_string(), format!("{:.1}", n.utilisation(run_ns).pct_peak_minute))
        });
        let _ = writeln!(
            out,
            "| kh_bank[{bank}] | {servers} | {peak} | {} | {:.2} | {:.0} | {:.0} |",
            t.payments_count,
            pct(t.approved_count, t.answered_count),
            ms(&t.latency_approved, 0.5),
            ms(&t.latency_approved, 0.99)
        );
    }
}

/// `banks.csv`: per member bank and flow, payments, answered, approved, approval, and the
/// latency of approved payments in ms (2 significant digits).
pub fn banks_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "bank",
        "flow",
        "payments",
        "answered",
        "approved",
        "approval_pct",
        "latency_ms_p50",
        "latency_ms_p99",
    ]);
    for bank in 0..banks_count(record) {
        let rows = record
            .flows
            .iter()
            .map(|f| (f.flow.name(), f.banks[bank].clone()))
            .chain([("all", total(record, bank))]);
        for (flow, b) in rows {
            out.row([
                format!("kh_bank[{bank}]"),
                flow.to_string(),
                b.payments_count.to_string(),
                b.answered_count.to_string(),
                b.approved_count.to_string(),
                format!("{:.3}", pct(b.approved_count, b.answered_count)),
                format!("{:.3}", ms(&b.latency_approved, 0.5)),
                format!("{:.3}", ms(&b.latency_approved, 0.99)),
            ]);
        }
    }
    out.finish()
}
