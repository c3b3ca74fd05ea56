//! The report of independent replications: each headline figure as the mean and its 95 %
//! Student-t interval over the replications, and every replication's own figures.

use std::fmt::Write as _;

use serde_json::{Value, json};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plots::{Drawing, Drawn, PALETTE, err, font, linear_label, render_drawing, row_label};
use super::{ReportFile, RunMeta};
use crate::payments::csv_text::CsvText;
use crate::record::study::{
    FLOW_FIGURES, Figure, FlowHeadline, Interval, NODE_FIGURES, Replications, TOTAL_FIGURES,
};

/// The folder's files: `summary.json`, `summary.md`, `replications.csv`, and the intervals plot.
///
/// # Errors
/// A plot that cannot be drawn.
pub fn files(r: &Replications, meta: &RunMeta) -> Result<Vec<ReportFile>, String> {
    let mut files = vec![
        ReportFile::new("summary.json", summary_json(r, meta)),
        ReportFile::new("summary.md", summary_md(r, meta)),
        ReportFile::new("replications.csv", replications_csv(r)),
    ];
    let title = "each flow's latency and approval over the replications: every replication, the mean and its 95 % interval";
    let plot = render_drawing("intervals".to_owned(), title.to_owned(), &IntervalsPlot(r))?;
    files.push(ReportFile::new(format!("plots/{}.png", plot.name), plot.png));
    files.push(ReportFile::new(format!("plots/{}.svg", plot.name), plot.svg));
    Ok(files)
}

/// Per flow and figure (p50 and p99 latency, approval): each replication's value as a dot,
/// the 95 % interval of the mean as a bar, the mean as a tick.
struct IntervalsPlot<'a>(&'a Replications);

/// Reads one figure of a flow's headline.
type FlowFigure = fn(&FlowHeadline) -> f64;

/// The figures the plot shows, with their axis text.
const PLOTTED: [(&str, FlowFigure); 3] = [
    ("p50 latency, ms", |f| f.latency_ms_p50),
    ("p99 latency, ms", |f| f.latency_ms_p99),
    ("approval, %", |f| f.approval_pct),
];

impl Drawing for IntervalsPlot<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let r = self.0;
        let title = format!(
            "{} — {} replications (seed {}): dots each replication, bar the mean's 95 % interval, \
             tick the mean",
            r.scenario,
            r.replications.len(),
            r.seed
        );
        let area = root.titled(&title, font(19)).map_err(err)?;
        let flows = r.flows_present();
        let panels = area.split_evenly((1, PLOTTED.len()));
        let names: Vec<&str> = flows.iter().map(|f| f.name()).collect();
        for (p, (panel, (desc, get))) in panels.iter().zip(PLOTTED).enumerate() {
            let values: Vec<Vec<f64>> =
                flows.iter().map(|&flow| r.flow_values(flow, get)).collect();
            let intervals: Vec<Interval> = values.iter().map(|v| Interval::of(v)).collect();
            let ends: Vec<f64> = intervals.iter().flat_map(|i| [i.lo, i.hi]).collect();
            let all = values.iter().flatten().chain(&ends).copied().filter(|v| v.is_finite());
            let (lo, hi) =
                all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.01).max(1e-6);
            let mut chart = ChartBuilder::on(panel)
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(if p == 0 { 90 } else { 10 })
                .build_cartesian_2d((lo - pad)..(hi + pad), -0.5..flows.len().max(1) as f64 - 0.5)
                .map_err(err)?;
            // The flows' names once, left of the first panel.
            let shown: &[&str] = if p == 0 { &names } else { &[] };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc(desc)
                .x_labels(5)
                .x_label_formatter(&linear_label)
                .y_labels(flows.len().max(1))
                .y_label_formatter(&|y| row_label(shown, *y))
                .label_style(font(14))
                .axis_desc_style(font(16))
                .draw()
                .map_err(err)?;
            for (k, (v, i)) in values.iter().zip(&intervals).enumerate() {
                let y = k as f64;
                let dots = v.iter().map(|&x| Circle::new((x, y), 4, PALETTE[0].mix(0.45).filled()));
                chart.draw_series(dots).map_err(err)?;
                let bar = Rectangle::new(
                    [(i.lo, y - 0.12), (i.hi, y + 0.12)],
                    PALETTE[1].mix(0.35).filled(),
                );
                chart.draw_series([bar]).map_err(err)?;
                let tick = PathElement::new(
                    vec![(i.mean, y - 0.25), (i.mean, y + 0.25)],
                    BLACK.stroke_width(3),
                );
                chart.draw_series([tick]).map_err(err)?;
            }
        }
        Ok(())
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn interval_json(i: Interval) -> Value {
    json!({ "mean": round3(i.mean), "ci95": [round3(i.lo), round3(i.hi)] })
}

/// `{"total": {KEY: {mean, ci95}}, "flows": {FLOW: {KEY: {mean, ci95}}}, "nodes": {NODE: {KEY:
/// {mean, ci95}}}}`: every headline figure over the replications.
pub fn intervals_json(r: &Replications) -> Value {
    super::headline::shaped_json(
        &r.flows_present(),
        &r.node_names(),
        |f| interval_json(r.total_interval(f.get)),
        |flow, f| interval_json(r.flow_interval(flow, f.get)),
        |name, f| interval_json(r.node_interval(name, f.get)),
    )
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
    let figures = intervals_json(r);
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
        "answer": answer_json(r),
        "total": figures["total"],
        "flows": figures["flows"],
        "nodes": figures["nodes"],
        "wall_seconds": round3(meta.wall_seconds),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

fn cell(i: Interval, decimals: usize) -> String {
    format!("{:.*} [{:.*}, {:.*}]", decimals, i.mean, decimals, i.lo, decimals, i.hi)
}

/// The busiest node's headroom in each replication: how many times its peak minute's load it
/// could take before it is 100 % busy.
fn headroom(r: &Replications, name: &str) -> Interval {
    let values: Vec<f64> = r
        .replications
        .iter()
        .filter_map(|h| h.nodes.iter().find(|n| n.name == name))
        .filter(|n| n.utilisation_pct_peak_minute > 0.0)
        .map(|n| 100.0 / n.utilisation_pct_peak_minute)
        .collect();
    Interval::of(&values)
}

fn answer_json(r: &Replications) -> Value {
    json!({
        "slo_pass_replications": r.slo_pass_count(),
        "replications": r.replications.len(),
        "busiest_node": r.busiest_node().map(|(name, peak)| json!({
            "name": name,
            "utilisation_pct_peak_minute": interval_json(peak),
            "utilisation_pct_mean": interval_json(
                r.node_interval(&name, |n| n.utilisation_pct_mean)),
            "headroom_x": interval_json(headroom(r, &name)),
        })),
    })
}

/// The answer first: SLOs, the busiest node and its headroom, the payments left over, peak
/// throughput; each a mean and its interval.
fn md_answer(out: &mut String, r: &Replications) {
    let n = r.replications.len();
    let _ = writeln!(out, "## The answer\n");
    let _ = writeln!(out, "- SLOs: every SLO held in {} of {n} replications.", r.slo_pass_count());
    if let Some((name, peak)) = r.busiest_node() {
        let mean = r.node_interval(&name, |x| x.utilisation_pct_mean);
        let _ = writeln!(
            out,
            "- Busiest node: {name}, {} % busy in its peak minute, {} % averaged over the whole \
             run including the drain (which hides saturation); headroom {}× that minute's load \
             before it is 100 % busy. Queueing delay grows well before 100 %: a sweep's knee is \
             the headroom to plan on.",
            cell(peak, 1),
            cell(mean, 1),
            cell(headroom(r, &name), 2)
        );
    }
    let t = |key: &str| {
        let f = Figure::find(&TOTAL_FIGURES, key).expect("a total figure");
        cell(r.total_interval(f.get), 1)
    };
    let _ = writeln!(
        out,
        "- Payments per replication: {} created; {} reversed; {} waiting for manual handling; \
         {} in flight when the run stopped; {} lost (the auditor stops a run with any). \
         Reconciliation breaks sent to its manual queue: {}.",
        t("payments_count"),
        t("reversed_count"),
        t("manual_payments_count"),
        t("in_flight_count"),
        t("lost_count"),
        t("manual_breaks_count")
    );
    let _ = writeln!(
        out,
        "\nPeak throughput, payments per second: offered and completed (a final answer, \
         approved or not), in the busiest second and in the busiest minute of each.\n\n\
         | flow | offered, peak second | offered, peak minute | completed, peak second | \
         completed, peak minute |\n|---|---:|---:|---:|---:|"
    );
    let keys = [
        "offered_per_s_peak_second",
        "offered_per_s_peak_minute",
        "completed_per_s_peak_second",
        "completed_per_s_peak_minute",
    ];
    let cells: Vec<String> = keys.iter().map(|k| t(k)).collect();
    let _ = writeln!(out, "| all flows | {} |", cells.join(" | "));
    for flow in r.flows_present() {
        let cells: Vec<String> = keys
            .iter()
            .map(|k| {
                let f = Figure::find(&FLOW_FIGURES, k).expect("a flow figure");
                cell(r.flow_interval(flow, f.get), 1)
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", flow.name(), cells.join(" | "));
    }
    let _ = writeln!(out);
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
    md_answer(&mut out, r);
    let _ = writeln!(out, "## Flows\n");
    let _ = writeln!(
        out,
        "| flow | payments | p50 ms | p99 ms | approval % | reversed | manual |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for flow in r.flows_present() {
        let i = |key: &str| {
            let f = Figure::find(&FLOW_FIGURES, key).expect("a flow figure");
            r.flow_interval(flow, f.get)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            flow.name(),
            cell(i("payments_count"), 0),
            cell(i("latency_ms_p50"), 1),
            cell(i("latency_ms_p99"), 1),
            cell(i("approval_pct"), 3),
            cell(i("reversed_count"), 1),
            cell(i("manual_count"), 1)
        );
    }
    let _ = writeln!(
        out,
        "\nEach cell is the mean over the replications and its 95 % Student-t interval; \
         [`plots/intervals.svg`](plots/intervals.svg) shows every replication beside them."
    );
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
        "\n## Nodes\n\nUtilisation, percent of the node's servers busy: averaged over the whole \
         run (drain included, which hides saturation) and in the busiest simulated minute; every \
         node, the busiest first.\n\n| node | whole run % | peak minute % |\n|---|---:|---:|"
    );
    let mut names = r.node_names();
    let peak = |name: &str| r.node_interval(name, |n| n.utilisation_pct_peak_minute).mean;
    names.sort_by(|a, b| peak(b).total_cmp(&peak(a)).then(a.cmp(b)));
    for name in &names {
        let [mean, peak] = NODE_FIGURES.map(|f| r.node_interval(name, f.get));
        let _ = writeln!(out, "| {name} | {} | {} |", cell(mean, 1), cell(peak, 1));
    }
    let _ = writeln!(out, "\n## Files\n\n`summary.json`, `summary.md`, `replications.csv`.");
    out
}

/// `replications.csv`: per replication and flow, the headline figures.
fn replications_csv(r: &Replications) -> String {
    let mut header: Vec<String> =
        ["replication", "seed", "complete", "slo_pass", "flow"].map(String::from).to_vec();
    header.extend(FLOW_FIGURES.iter().map(|f| f.key.to_string()));
    let mut out = CsvText::new(header);
    for (i, h) in r.replications.iter().enumerate() {
        for f in &h.flows {
            let mut row = vec![
                i.to_string(),
                h.seed.to_string(),
                h.complete.to_string(),
                h.slo_pass().to_string(),
                f.flow.name().to_string(),
            ];
            row.extend(FLOW_FIGURES.iter().map(|fig| format!("{:.3}", (fig.get)(f))));
            out.row(row);
        }
    }
    out.finish()
}
