//! A run's headline figures, for comparing replications and load points.

use crate::record::study::{FlowHeadline, Headline, NodeHeadline, SloHeadline};
use crate::record::{RunRecord, Stop};
use crate::report;

fn ms_at(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

/// The figures a capacity review compares, from one run's record.
pub fn headline(record: &RunRecord) -> Headline {
    let run_ns = u128::from(record.finished_at.saturating_since(record.start).as_nanos());
    Headline {
        seed: record.seed,
        complete: record.stop == Stop::Drained,
        flows: record
            .flows
            .iter()
            .map(|f| FlowHeadline {
                flow: f.flow,
                payments_count: f.payments_count,
                latency_ms_p50: ms_at(&f.latency_approved, 0.5),
                latency_ms_p99: ms_at(&f.latency_approved, 0.99),
                approval_pct: f.approval_ratio() * 100.0,
            })
            .collect(),
        nodes: record
            .nodes
            .iter()
            .map(|n| {
                let u = n.utilisation(run_ns);
                NodeHeadline {
                    name: n.name.clone(),
                    utilisation_pct_mean: u.pct_mean,
                    utilisation_pct_peak_minute: u.pct_peak_minute,
                }
            })
            .collect(),
        slos: report::verdicts(record)
            .into_iter()
            .map(|v| SloHeadline {
                name: v.name,
                threshold: v.threshold,
                value: v.value,
                passed: v.passed,
            })
            .collect(),
        events_count: record.events_count,
    }
}
