//! `sim compare A B`: two report folders' headline figures side by side: runs and
//! replications from their `summary.json`, sweeps point by point (points with the same values)
//! from their `sweep.json`. With replications on both sides, each difference is tested with
//! Welch's t at 95 %; a single run has no interval, so nothing is called significant.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::record::study::t_975;

/// One side's value of a figure: a mean, and its interval's half-width and the replications
/// behind it when it has them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// The value (a run's figure, or the replications' mean).
    pub value: f64,
    /// Half the 95 % interval and the number of replications, for replications.
    pub spread: Option<(f64, usize)>,
}

/// One figure compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `inward latency_ms_p99`.
    pub figure: String,
    /// A's side.
    pub a: Side,
    /// B's side.
    pub b: Side,
    /// Whether B − A is significant at 95 % (Welch); `None` without replications on both.
    pub significant: Option<bool>,
    /// A node's utilisation (the Markdown leaves quiet ones out).
    pub node: bool,
}

/// A folder's figures as (name, side), from the headline shape `{"total", "flows", "nodes"}`
/// (plain numbers for one run, `{mean, ci95}` with `replications` behind them otherwise).
fn shaped_sides(
    shaped: &Value,
    replications: Option<usize>,
    prefix: &str,
) -> Result<Vec<(String, Side)>, String> {
    let mut out = Vec::new();
    let mut push = |name: String, v: &Value| -> Result<(), String> {
        let side = match (v.as_f64(), replications) {
            (Some(x), _) => Side { value: x, spread: None },
            (None, Some(n)) if v.is_object() => {
                let mean = v["mean"].as_f64().ok_or(format!("{name} has no mean"))?;
                let lo = v["ci95"][0].as_f64().unwrap_or(mean);
                let hi = v["ci95"][1].as_f64().unwrap_or(mean);
                Side { value: mean, spread: Some(((hi - lo) / 2.0, n)) }
            }
            _ => return Ok(()),
        };
        out.push((format!("{prefix}{name}"), side));
        Ok(())
    };
    let total = shaped["total"].as_object().ok_or("no headline figures (total)")?;
    for (key, v) in total {
        push(format!("all flows {key}"), v)?;
    }
    for part in ["flows", "nodes"] {
        let Some(entries) = shaped[part].as_object() else { continue };
        for (name, figures) in entries {
            let Some(figures) = figures.as_object() else { continue };
            let kind = if part == "nodes" { "node " } else { "" };
            for (key, v) in figures {
                push(format!("{kind}{name} {key}"), v)?;
            }
        }
    }
    Ok(out)
}

/// What a folder holds, for comparison: a run's or replications' `summary.json`, or a
/// sweep's `sweep.json` (each point's figures named by its values).
fn sides(summary: &Value) -> Result<Vec<(String, Side)>, String> {
    if let Some(points) = summary["points"].as_array() {
        let n = summary["replications"].as_u64().map(|n| n as usize);
        let mut out = Vec::new();
        for p in points {
            let values = p["values"].as_object().ok_or("a sweep point without values")?;
            let named: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.extend(shaped_sides(p, n, &format!("[{}] ", named.join(", ")))?);
        }
        return Ok(out);
    }
    match summary["answer"].get("headline") {
        Some(h) => shaped_sides(h, None, ""),
        None => {
            let n = summary["replications"].as_u64().map(|n| n as usize);
            shaped_sides(summary, n, "")
        }
    }
}

/// Welch's two-sided test at 95 % from two means with their interval half-widths.
fn welch(a: Side, b: Side) -> Option<bool> {
    let ((ha, na), (hb, nb)) = (a.spread?, b.spread?);
    if na < 2 || nb < 2 {
        return None;
    }
    // The half-width is t(n − 1) · s/√n: recover the squared standard errors.
    let (va, vb) = ((ha / t_975(na - 1)).powi(2), (hb / t_975(nb - 1)).powi(2));
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return Some(a.value != b.value);
    }
    let df = (va + vb).powi(2) / (va.powi(2) / (na - 1) as f64 + vb.powi(2) / (nb - 1) as f64);
    let df = df.floor().max(1.0) as usize;
    Some(((b.value - a.value) / se).abs() > t_975(df))
}

/// Compares two summaries figure by figure (figures on one side only are left out); two
/// sweeps compare the points they share.
///
/// # Errors
/// A summary without the figures, a sweep against a run, or two sweeps without a point in
/// common.
pub fn compare(a: &Value, b: &Value) -> Result<Vec<Row>, String> {
    let sweep = |v: &Value| v["points"].is_array();
    if sweep(a) != sweep(b) {
        return Err("a sweep compares with another sweep (its points with theirs), a run or \
                    replications with a run or replications"
            .into());
    }
    let (sa, sb) = (sides(a)?, sides(b)?);
    let sb: std::collections::BTreeMap<String, Side> = sb.into_iter().collect();
    let rows: Vec<Row> = sa
        .into_iter()
        .filter_map(|(figure, x)| {
            let y = *sb.get(&figure)?;
            let node = figure.starts_with("node ") || figure.contains("] node ");
            Some(Row { significant: welch(x, y), figure, a: x, b: y, node })
        })
        .collect();
    if rows.is_empty() {
        return Err("the two folders share no figure (two sweeps must share a point)".into());
    }
    Ok(rows)
}

/// Node figures at most this high on both sides (percent busy) are left out of the Markdown
/// unless their difference is significant (`--json` has every one).
const QUIET_NODE_PCT_MAX: f64 = 5.0;

fn shown(s: Side) -> String {
    match s.spread {
        Some((h, _)) => format!("{:.3} ± {h:.3}", s.value),
        None => format!("{:.3}", s.value),
    }
}

/// The comparison as Markdown.
pub fn markdown(a_name: &str, b_name: &str, rows: &[Row]) -> String {
    let mut out = format!("# {a_name} → {b_name}\n\n");
    let _ = writeln!(
        out,
        "Mean ± 95 % half-width where a side has replications. Significant: Welch's t at 95 %, \
         only when both sides have replications.\n"
    );
    let _ = writeln!(
        out,
        "| figure | A | B | B − A | B vs A | significant |\n|---|---:|---:|---:|---:|---|"
    );
    let quiet = |r: &Row| {
        r.node && r.significant != Some(true) && r.a.value.max(r.b.value) <= QUIET_NODE_PCT_MAX
    };
    for r in rows.iter().filter(|r| !quiet(r)) {
        let d = r.b.value - r.a.value;
        let rel = if r.a.value != 0.0 {
            format!("{:+.1} %", d / r.a.value * 100.0)
        } else {
            "–".into()
        };
        let sig = match r.significant {
            Some(true) => "yes",
            Some(false) => "no",
            None => "–",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {d:+.3} | {rel} | {sig} |",
            r.figure,
            shown(r.a),
            shown(r.b)
        );
    }
    let left_out = rows.iter().filter(|r| quiet(r)).count();
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n{left_out} figures of nodes at most {QUIET_NODE_PCT_MAX} % busy on both sides, \
             none significantly different, are left out here; `--json` has every figure."
        );
    }
    out
}

/// The comparison as JSON.
pub fn to_json(a_name: &str, b_name: &str, rows: &[Row]) -> String {
    let side = |s: Side| json!({ "value": s.value, "ci95_half_width": s.spread.map(|x| x.0), "replications": s.spread.map(|x| x.1) });
    let value = json!({
        "a": a_name,
        "b": b_name,
        "figures": rows.iter().map(|r| json!({
            "figure": r.figure,
            "a": side(r.a),
            "b": side(r.b),
            "difference": r.b.value - r.a.value,
            "significant": r.significant,
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_calls_a_big_gap_significant_and_a_small_one_not() {
        let side = |value, h| Side { value, spread: Some((h, 5)) };
        assert_eq!(welch(side(100.0, 2.0), side(110.0, 2.0)), Some(true));
        assert_eq!(welch(side(100.0, 2.0), side(101.0, 2.0)), Some(false));
        assert_eq!(welch(Side { value: 1.0, spread: None }, side(2.0, 0.1)), None);
    }

    #[test]
    fn runs_and_replications_compare_by_figure() {
        let run = json!({"answer": {"headline": {"total": {}, "flows": {"inward": {"latency_ms_p99": 2000.0, "approval_pct": 96.0, "payments_count": 10}}}}});
        let reps = json!({"replications": 4, "total": {}, "flows": {"inward": {
            "latency_ms_p99": {"mean": 2100.0, "ci95": [2000.0, 2200.0]},
            "approval_pct": {"mean": 96.5, "ci95": [96.0, 97.0]},
        }}});
        let rows = compare(&run, &reps).expect("compares");
        assert_eq!(rows.len(), 2, "payments_count is on one side only");
        assert!(rows.iter().all(|r| r.significant.is_none()));
        let md = markdown("a", "b", &rows);
        assert!(
            md.contains(
                "| inward latency_ms_p99 | 2000.000 | 2100.000 ± 100.000 | +100.000 | +5.0 % | – |"
            ),
            "{md}"
        );
    }
}
