//! The report of independent replications: each headline figure as the mean and its 95 %
//! Student-t interval over the replications, and every replication's own figures.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{ReportFile, RunMeta};
use crate::payments::csv_text::CsvText;
use crate::payments::party::Flow;
use crate::record::study::{FlowHeadline, Interval, NodeHeadline, Replications};

/// The folder's files: `summary.json`, `summary.md`, `replications.csv`.
pub fn files(r: &Replications, meta: &RunMeta) -> Vec<ReportFile> {
    vec![
        ReportFile::new("summary.json", summary_json(r, meta)),
        ReportFile::new("summary.md", summary_md(r, meta)),
        ReportFile::new("replications.csv", replications_csv(r)),
    ]
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn interval_json(i: Interval) -> Value {
    json!({ "mean": round3(i.mean), "ci95": [round3(i.lo), round3(i.hi)] })
}

/// A figure a study reports: its key in the JSON, and how to read it from a headline.
pub type Figure<T> = (&'static str, fn(&T) -> f64);

/// The flow figures a study reports, by key.
pub const FLOW_FIGURES: [Figure<FlowHeadline>; 4] = [
    ("latency_ms_p50", |f| f.latency_ms_p50),
    ("latency_ms_p99", |f| f.latency_ms_p99),
    ("approval_pct", |f| f.approval_pct),
    ("payments_count", |f| f.payments_count as f64),
];

/// The node figures a study reports, by key.
pub const NODE_FIGURES: [Figure<NodeHeadline>; 2] = [
    ("utilisation_pct_mean", |n| n.utilisation_pct_mean),
    ("utilisation_pct_peak_minute", |n| n.utilisation_pct_peak_minute),
];

fn flows_present(r: &Replications) -> Vec<Flow> {
    r.replications.first().map_or_else(Vec::new, |h| h.flows.iter().map(|f| f.flow).collect())
}

fn node_names(r: &Replications) -> Vec<String> {
    r.replications
        .first()
        .map_or_else(Vec::new, |h| h.nodes.iter().map(|n| n.name.clone()).collect())
}

/// `{FLOW: {figure: {mean, ci95}}}` and `{NODE: {figure: {mean, ci95}}}`.
pub fn intervals_json(r: &Replications) -> (Value, Value) {
    let mut flows = serde_json::Map::new();
    for flow in flows_present(r) {
        let mut figures = serde_json::Map::new();
        for (key, figure) in FLOW_FIGURES {
            figures.insert(key.into(), interval_json(r.flow_interval(flow, figure)));
        }
        flows.insert(flow.name().into(), Value::Object(figures));
    }
    let mut nodes = serde_json::Map::new();
    for name in node_names(r) {
        let mut figures = serde_json::Map::new();
        for (key, figure) in NODE_FIGURES {
            figures.insert(key.into(), interval_json(r.node_interval(&name, figure)));
        }
        nodes.insert(name, Value::Object(figures));
    }
    (Value::Object(flows), Value::Object(nodes))
}

fn slo_json(r: &Replications) -> Vec<Value> {
    let Some(first) = r.replications.first() else { return Vec::new() };
    first
        .slos
        .iter()
        .enumerate()
        .map(|(i, slo)| {
            let values: Vec<f64> = r.replications.iter().map(|h| h.slos[i].value).collect();
            json!({
                "name": slo.name,
                "threshold": slo.threshold,
                "value": interval_json(Interval::of(&values)),
                "passed_replications": r.replications.iter().filter(|h| h.slos[i].passed).count(),
            })
        })
        .collect()
}

fn summary_json(r: &Replications, meta: &RunMeta) -> String {
    let (flows, nodes) = intervals_json(r);
    let value = json!({
        "scenario": r.scenario,
        "scenario_path": meta.scenario_path,
        "scenario_hash": meta.scenario_hash,
        "overrides": meta.overrides,
        "commit": meta.commit,
        "seed": r.seed,
        "replications": r.replications.len(),
        "seeds": r.replications.iter().map(|h| h.seed).collect::<Vec<_>>(),
        "complete_replications": r.replications.iter().filter(|h| h.complete).count(),
        "slo_pass": r.slo_pass_count() == r.replications.len(),
        "slo_pass_replications": r.slo_pass_count(),
        "slo": slo_json(r),
        "flows": flows,
        "nodes": nodes,
        "wall_seconds": round3(meta.wall_seconds),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

fn cell(i: Interval, decimals: usize) -> String {
    format!("{:.*} [{:.*}, {:.*}]", decimals, i.mean, decimals, i.lo, decimals, i.hi)
}

fn summary_md(r: &Replications, meta: &RunMeta) -> String {
    let n = r.replications.len();
    let mut out = String::new();
    let _ = writeln!(out, "# {}: {n} replications\n", r.scenario);
    super::md_provenance(&mut out, meta);
    let _ = writeln!(out, "| base seed | {} (seeds in `replications.csv`) |", r.seed);
    let _ = writeln!(out, "| commit | `{}` |", meta.commit);
    let _ = writeln!(out, "| SLOs | all held in {} of {n} replications |", r.slo_pass_count());
    let _ = writeln!(
        out,
        "\nEach figure is the mean over the replications and its 95 % Student-t interval \
         [low, high] ({} degrees of freedom); the replications' seeds are independent streams \
         of the base seed.\n",
        n.saturating_sub(1)
    );
    let _ = writeln!(out, "## Flows\n");
    let _ = writeln!(
        out,
        "| flow | payments | p50 ms | p99 ms | approval % |\n|---|---:|---:|---:|---:|"
    );
    for flow in flows_present(r) {
        let [p50, p99, approval, payments] =
            FLOW_FIGURES.map(|(_, figure)| r.flow_interval(flow, figure));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            flow.name(),
            cell(payments, 0),
            cell(p50, 1),
            cell(p99, 1),
            cell(approval, 3)
        );
    }
    let _ =
        writeln!(out, "\n## SLOs\n\n| SLO | threshold | value | held in |\n|---|---|---:|---:|");
    for s in slo_json(r) {
        let v = &s["value"];
        let _ = writeln!(
            out,
            "| {} | {} | {} [{}, {}] | {} of {n} |",
            s["name"].as_str().unwrap_or(""),
            s["threshold"].as_str().unwrap_or(""),
            v["mean"],
            v["ci95"][0],
            v["ci95"][1],
            s["passed_replications"]
        );
    }
    let _ = writeln!(
        out,
        "\n## Nodes\n\nUtilisation: mean over the whole run (drain included, which hides \
         saturation) and in the busiest simulated minute, percent of the node's servers; the \
         ten busiest by their peak minute.\n\n| node | mean % | peak minute % |\n|---|---:|---:|"
    );
    let mut names = node_names(r);
    let peak = |name: &str| r.node_interval(name, |n| n.utilisation_pct_peak_minute).mean;
    names.sort_by(|a, b| peak(b).total_cmp(&peak(a)).then(a.cmp(b)));
    for name in names.iter().take(10) {
        let [mean, peak] = NODE_FIGURES.map(|(_, figure)| r.node_interval(name, figure));
        let _ = writeln!(out, "| {name} | {} | {} |", cell(mean, 1), cell(peak, 1));
    }
    let _ = writeln!(out, "\n## Files\n\n`summary.json`, `summary.md`, `replications.csv`.");
    out
}

/// `replications.csv`: per replication and flow, the headline figures.
fn replications_csv(r: &Replications) -> String {
    let mut out = CsvText::new([
        "replication",
        "seed",
        "complete",
        "slo_pass",
        "flow",
        "payments",
        "latency_ms_p50",
        "latency_ms_p99",
        "approval_pct",
    ]);
    for (i, h) in r.replications.iter().enumerate() {
        for f in &h.flows {
            out.row([
                i.to_string(),
                h.seed.to_string(),
                h.complete.to_string(),
                h.slo_pass().to_string(),
                f.flow.name().to_string(),
                f.payments_count.to_string(),
                format!("{:.3}", f.latency_ms_p50),
                format!("{:.3}", f.latency_ms_p99),
                format!("{:.3}", f.approval_pct),
            ]);
        }
    }
    out.finish()
}
