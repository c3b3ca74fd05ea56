//! A sweep's folder: `sweep.json` (for tools), `capacity.md` (for people), `capacity.csv` (per
//! point and flow), and `headlines.csv` (every replication's figures at full precision, from
//! which `sim merge` rebuilds the sweep exactly).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::replications::intervals_json;
use super::{ReportFile, RunMeta};
use crate::payments::csv_text::CsvText;
use crate::record::study::{FLOW_FIGURES, NODE_FIGURES, Point, Sweep, TOTAL_FIGURES};

/// The folder's files: the four above, then the capacity curves (`plots/capacity-*.png` and
/// `.svg`) when the sweep varies one numeric key.
///
/// # Errors
/// A plot that cannot be drawn.
pub fn files(s: &Sweep, meta: &RunMeta) -> Result<Vec<ReportFile>, String> {
    let plots = super::capacity_plots::plots(s)?;
    let mut files = vec![
        ReportFile::new("sweep.json", sweep_json(s, meta)),
        ReportFile::new("capacity.md", capacity_md(s, meta, &plots)),
        ReportFile::new("capacity.csv", capacity_csv(s)),
        ReportFile::new("headlines.csv", headlines_csv(s)),
    ];
    for plot in plots {
        files.push(ReportFile::new(format!("plots/{}.png", plot.name), plot.png));
        files.push(ReportFile::new(format!("plots/{}.svg", plot.name), plot.svg));
    }
    Ok(files)
}

fn json_value(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .or_else(|_| text.parse::<f64>().map(Value::from))
        .unwrap_or_else(|_| Value::from(text))
}

fn point_json(p: &Point) -> Value {
    let figures = intervals_json(&p.runs);
    let values: serde_json::Map<String, Value> =
        p.values.values.iter().map(|kv| (kv.key.clone(), json_value(&kv.value))).collect();
    json!({
        "index": p.index,
        "values": values,
        "slo_pass": p.runs.slo_pass_count() == p.runs.replications.len(),
        "slo_pass_replications": p.runs.slo_pass_count(),
        "total": figures["total"],
        "flows": figures["flows"],
        "nodes": figures["nodes"],
    })
}

fn sweep_json(s: &Sweep, meta: &RunMeta) -> String {
    let value = json!({
        "scenario": s.scenario,
        "scenario_path": meta.scenario_path,
        "scenario_hash": meta.scenario_hash,
        "overrides": meta.overrides,
        "commit": meta.commit,
        "seed": s.seed,
        "replications": s.replications,
        "vary": s.vary.iter().map(|v| json!({
            "key": v.key,
            "values": v.values.iter().map(|x| json_value(x)).collect::<Vec<_>>(),
            "texts": v.values,
        })).collect::<Vec<_>>(),
        "points_total": s.points_total,
        "shard": s.shard.map(|(i, n)| json!({ "index": i, "count": n })),
        "points": s.points.iter().map(point_json).collect::<Vec<_>>(),
        "knee": s.knee.as_ref().map(|k| json!({
            "key": k.key,
            "value": k.value,
            "rule": k.rule,
            "base": k.base,
            "headroom_x": k.headroom_x(),
        })),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

fn described(p: &Point) -> String {
    let parts: Vec<String> =
        p.values.values.iter().map(|kv| format!("{} = {}", kv.key, kv.value)).collect();
    parts.join(", ")
}

fn capacity_md(s: &Sweep, meta: &RunMeta, plots: &[super::plots::Plot]) -> String {
    let n = s.replications;
    let mut out = String::new();
    let _ = writeln!(out, "# {}: capacity sweep\n", s.scenario);
    if let Some(k) = &s.knee {
        match k.value {
            Some(v) => {
                let _ = writeln!(out, "**Knee: {} = {v}.** {}.\n", k.key, k.rule);
                if let (Some(x), Some(base)) = (k.headroom_x(), k.base) {
                    let _ = writeln!(
                        out,
                        "**Headroom: {x:.3}×** the scenario's own {} = {base}: the load it can \
                         take before an SLO breaks.\n",
                        k.key
                    );
                }
            }
            None => {
                let _ = writeln!(out, "**No knee in range:** {}.\n", k.rule);
            }
        }
    }
    if let Some((i, count)) = s.shard {
        let _ = writeln!(
            out,
            "Shard {i} of {count}: {} of the sweep's {} points; `sim merge` joins the shards.\n",
            s.points.len(),
            s.points_total
        );
    }
    super::md_provenance(&mut out, meta);
    let _ = writeln!(
        out,
        "| base seed | {} ({n} replications per point, the same seeds at every point) |",
        s.seed
    );
    let _ = writeln!(out, "| commit | `{}` |", meta.commit);
    let _ = writeln!(
        out,
        "\nPer point: how many replications held every SLO, each flow's p99 of approved \
         payments (ms) and approval (%) as mean [95 % interval], the payments offered in the \
         busiest second (all flows), and the busiest node by its peak-minute utilisation.\n"
    );
    let flows: Vec<_> = s
        .points
        .first()
        .and_then(|p| p.runs.replications.first())
        .map_or_else(Vec::new, |h| h.flows.iter().map(|f| f.flow).collect());
    let mut header = "| point | SLOs held |".to_string();
    let mut rule = "|---|---:|".to_string();
    for f in &flows {
        let _ = write!(header, " {} p99 ms | {} approval % |", f.name(), f.name());
        rule.push_str("---:|---:|");
    }
    header.push_str(" offered/s, peak second | busiest node, peak minute % |");
    rule.push_str("---:|---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for p in &s.points {
        let mut row = format!("| {} | {} of {n} |", described(p), p.runs.slo_pass_count());
        for &f in &flows {
            let p99 = p.runs.flow_interval(f, |x| x.latency_ms_p99);
            let ap = p.runs.flow_interval(f, |x| x.approval_pct);
            let _ = write!(
                row,
                " {:.0} [{:.0}, {:.0}] | {:.2} [{:.2}, {:.2}] |",
                p99.mean, p99.lo, p99.hi, ap.mean, ap.lo, ap.hi
            );
        }
        let offered = p.runs.total_interval(|t| t.throughput.offered_per_s_peak_second);
        let _ = write!(row, " {:.0} [{:.0}, {:.0}] |", offered.mean, offered.lo, offered.hi);
        match p.runs.busiest_node() {
            Some((name, i)) => {
                let _ = write!(row, " {name} {:.1} [{:.1}, {:.1}] |", i.mean, i.lo, i.hi);
            }
            None => row.push_str(" – |"),
        }
        let _ = writeln!(out, "{row}");
    }
    md_plots(&mut out, plots);
    let _ = writeln!(
        out,
        "\n## Files\n\n`sweep.json`, `capacity.md`, `capacity.csv`, `headlines.csv` (every \
         replication's figures; `sim merge` rebuilds a sweep from its shards' files), `plots/`."
    );
    out
}

fn md_plots(out: &mut String, plots: &[super::plots::Plot]) {
    if plots.is_empty() {
        let _ = writeln!(
            out,
            "\nNo capacity curves: they are drawn when a sweep varies one numeric key."
        );
    } else {
        let _ = writeln!(out, "\n## Capacity curves\n");
        for p in plots {
            let _ = writeln!(
                out,
                "- [{}](plots/{}.png) ([SVG](plots/{}.svg))",
                p.title, p.name, p.name
            );
        }
    }
}

fn capacity_csv(s: &Sweep) -> String {
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(s.vary.iter().map(|v| v.key.clone()));
    header.extend(["flow".into(), "slo_pass_replications".into()]);
    for f in FLOW_FIGURES {
        let key = f.key;
        header.extend([format!("{key}_mean"), format!("{key}_lo"), format!("{key}_hi")]);
    }
    let mut out = CsvText::new(header);
    for p in &s.points {
        let Some(first) = p.runs.replications.first() else { continue };
        for f in first.flows.iter().map(|f| f.flow) {
            let mut row: Vec<String> = vec![p.index.to_string()];
            row.extend(p.values.values.iter().map(|kv| kv.value.clone()));
            row.extend([f.name().to_string(), p.runs.slo_pass_count().to_string()]);
            for figure in FLOW_FIGURES {
                let i = p.runs.flow_interval(f, figure.get);
                row.extend([i.mean, i.lo, i.hi].map(|x| format!("{x:.3}")));
            }
            out.row(row);
        }
    }
    out.finish()
}

/// `headlines.csv`: one row per point, replication and figure, values in Rust's shortest
/// round-trip form, so that reading it back gives the same numbers.
fn headlines_csv(s: &Sweep) -> String {
    let mut out = CsvText::new([
        "point",
        "replication",
        "seed",
        "complete",
        "events",
        "kind",
        "name",
        "field",
        "value",
    ]);
    for p in &s.points {
        for (ri, h) in p.runs.replications.iter().enumerate() {
            let mut row = |kind: &str, name: &str, field: &str, value: String| {
                out.row([
                    p.index.to_string(),
                    ri.to_string(),
                    h.seed.to_string(),
                    h.complete.to_string(),
                    h.events_count.to_string(),
                    kind.to_string(),
                    name.to_string(),
                    field.to_string(),
                    value,
                ]);
            };
            for figure in TOTAL_FIGURES {
                row("total", "", figure.key, format!("{}", (figure.get)(&h.total)));
            }
            for f in &h.flows {
                for figure in FLOW_FIGURES {
                    row("flow", f.flow.name(), figure.key, format!("{}", (figure.get)(f)));
                }
            }
            for n in &h.nodes {
                for figure in NODE_FIGURES {
                    row("node", &n.name, figure.key, format!("{}", (figure.get)(n)));
                }
            }
            for slo in &h.slos {
                row("slo", &slo.name, "threshold", slo.threshold.clone());
                row("slo", &slo.name, "value", format!("{}", slo.value));
                row("slo", &slo.name, "passed", slo.passed.to_string());
            }
        }
    }
    out.finish()
}
