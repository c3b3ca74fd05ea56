//! A run's headline figures: what a capacity review compares between runs, replications and
//! load points, taken from one run's record.

use serde_json::{Value, json};

use crate::payments::network::Outcome;
use crate::payments::party::Flow;
use crate::payments::recon::Resolution;
use crate::record::study::{
    FLOW_FIGURES, Figure, FlowHeadline, Headline, NODE_FIGURES, NodeHeadline, SloHeadline,
    TOTAL_FIGURES, Throughput, TotalHeadline,
};
use crate::record::{MinuteStats, PeakSeconds, RunRecord, Stop};

fn ms_at(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

/// Peak throughput from the busiest seconds and the per-minute series of one flow, or of all
/// flows added minute by minute.
fn throughput(seconds: &PeakSeconds, minutes: impl Iterator<Item = (u64, u64)>) -> Throughput {
    let (mut offered, mut completed) = (0u64, 0u64);
    for (o, c) in minutes {
        offered = offered.max(o);
        completed = completed.max(c);
    }
    Throughput {
        offered_per_s_peak_second: f64::from(seconds.offered.peak),
        offered_per_s_peak_minute: offered as f64 / 60.0,
        completed_per_s_peak_second: f64::from(seconds.completed.peak),
        completed_per_s_peak_minute: completed as f64 / 60.0,
    }
}

fn offered_completed(m: &MinuteStats) -> (u64, u64) {
    (u64::from(m.offered), u64::from(m.completed))
}

/// The figures a capacity review compares, from one run's record.
pub fn headline(record: &RunRecord) -> Headline {
    let run_ns = u128::from(record.finished_at.saturating_since(record.start).as_nanos());
    let minutes = record.minutes.first().map_or(0, Vec::len);
    let all_minutes = (0..minutes).map(|m| {
        record
            .minutes
            .iter()
            .map(|f| offered_completed(&f[m]))
            .fold((0, 0), |(a, b), (o, c)| (a + o, b + c))
    });
    let count = |o: Outcome| record.flows.iter().map(|f| f.count(o)).sum::<u64>();
    let audit = &record.audit_counts;
    let total = TotalHeadline {
        payments_count: record.flows.iter().map(|f| f.payments_count).sum(),
        throughput: throughput(&record.peak_seconds, all_minutes),
        reversed_count: count(Outcome::Reversed),
        manual_payments_count: count(Outcome::Manual),
        manual_breaks_count: record
            .breaks
            .iter()
            .filter(|b| b.resolution == Resolution::ManualQueue)
            .count() as u64,
        in_flight_count: audit.payments_in_flight_count,
        lost_count: audit
            .payments_created_count
            .saturating_sub(audit.payments_final_count + audit.payments_in_flight_count),
    };
    Headline {
        seed: record.seed,
        complete: record.stop == Stop::Drained,
        total,
        flows: record
            .flows
            .iter()
            .zip(&record.minutes)
            .map(|(f, minutes)| FlowHeadline {
                flow: f.flow,
                payments_count: f.payments_count,
                latency_ms_p50: ms_at(&f.latency_approved, 0.5),
                latency_ms_p99: ms_at(&f.latency_approved, 0.99),
                approval_pct: f.approval_ratio() * 100.0,
                throughput: throughput(&f.peak_seconds, minutes.iter().map(offered_completed)),
                reversed_count: f.count(Outcome::Reversed),
                manual_count: f.count(Outcome::Manual),
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
        slos: super::verdicts(record)
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

/// Rounds a figure for JSON: three decimals.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The figures of a headline (or of many) as JSON, `{"total": {KEY: ..}, "flows": {FLOW:
/// {KEY: ..}}, "nodes": {NODE: {KEY: ..}}}`, each figure's value as the closures give it: a
/// number for one run, a mean with its interval for replications.
pub(crate) fn shaped_json(
    flows: &[Flow],
    nodes: &[String],
    total: impl Fn(Figure<TotalHeadline>) -> Value,
    flow: impl Fn(Flow, Figure<FlowHeadline>) -> Value,
    node: impl Fn(&str, Figure<NodeHeadline>) -> Value,
) -> Value {
    let object = |pairs: Vec<(String, Value)>| Value::Object(pairs.into_iter().collect());
    json!({
        "total": object(TOTAL_FIGURES.iter().map(|&f| (f.key.to_string(), total(f))).collect()),
        "flows": object(flows.iter().map(|&fl| {
            let figures = FLOW_FIGURES.iter().map(|&f| (f.key.to_string(), flow(fl, f))).collect();
            (fl.name().to_string(), object(figures))
        }).collect()),
        "nodes": object(nodes.iter().map(|name| {
            let figures = NODE_FIGURES.iter().map(|&f| (f.key.to_string(), node(name, f))).collect();
            (name.clone(), object(figures))
        }).collect()),
    })
}

/// One figure of one run: counts as whole numbers, the rest to three decimals.
fn figure_json(key: &str, v: f64) -> Value {
    if key.ends_with("_count") { json!(v.round() as u64) } else { json!(round3(v)) }
}

/// One run's headline as JSON (see [`shaped_json`]).
pub fn headline_json(h: &Headline) -> Value {
    let flows: Vec<Flow> = h.flows.iter().map(|f| f.flow).collect();
    let nodes: Vec<String> = h.nodes.iter().map(|n| n.name.clone()).collect();
    shaped_json(
        &flows,
        &nodes,
        |f| figure_json(f.key, (f.get)(&h.total)),
        |flow, f| {
            let x = h.flows.iter().find(|x| x.flow == flow);
            x.map_or(Value::Null, |x| figure_json(f.key, (f.get)(x)))
        },
        |name, f| {
            let x = h.nodes.iter().find(|x| x.name == name);
            x.map_or(Value::Null, |x| figure_json(f.key, (f.get)(x)))
        },
    )
}
