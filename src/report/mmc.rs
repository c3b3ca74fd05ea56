//! The M/M/c validation report: the engine's measured mean wait against Erlang-C, with a 95 %
//! confidence interval over independent replications (Student's t), and Little's law per
//! replication. `summary.md`, `summary.json`, `replications.csv`. The replications themselves
//! are run by `sim::mmc::replicate`; this module only renders their record.

use std::fmt::Write as _;

use serde_json::json;

use crate::payments::csv_text::CsvText;
use crate::record::mmc::{MmcReport, MmcValidation};

/// Every file of an M/M/c report folder.
pub fn files(v: &MmcValidation) -> Vec<super::ReportFile> {
    vec![
        super::ReportFile::new("summary.md", summary_md(v)),
        super::ReportFile::new("summary.json", summary_json(v)),
        super::ReportFile::new("replications.csv", replications_csv(v)),
    ]
}

fn little_error_pct(r: &MmcReport) -> f64 {
    let l = r.area_ns as f64;
    if l == 0.0 { 0.0 } else { (r.sojourn_ns_sum as f64 - l).abs() / l * 100.0 }
}

/// `replications.csv`.
pub fn replications_csv(v: &MmcValidation) -> String {
    let mut out = CsvText::new([
        "replication",
        "seed",
        "customers",
        "mean_wait_ms",
        "mean_sojourn_ms",
        "mean_in_system",
        "littles_law_error_pct",
    ]);
    for (i, r) in v.replications.iter().enumerate() {
        out.row([
            i.to_string(),
            v.seeds[i].to_string(),
            r.customers_count.to_string(),
            format!("{:.6}", r.mean_wait_s() * 1000.0),
            format!("{:.6}", r.mean_sojourn_s() * 1000.0),
            format!("{:.6}", r.mean_in_system()),
            format!("{:.9}", little_error_pct(r)),
        ]);
    }
    out.finish()
}

/// `summary.json`.
pub fn summary_json(v: &MmcValidation) -> String {
    let value = json!({
        "scenario": v.name,
        "seed": v.seed,
        "model": { "servers": v.servers, "arrival_per_second": v.arrival_per_second, "service_mean_ms": v.service_mean_ms, "customers": v.customers, "replications": v.replications.len() },
        "load": v.arrival_per_second * v.service_mean_ms / 1000.0 / f64::from(v.servers),
        "erlang_c": { "wait_probability": v.erlang_c.0, "wait_ms": v.erlang_c.1 * 1000.0, "sojourn_ms": v.erlang_c.2 * 1000.0 },
        "measured": { "wait_ms_mean": v.wait_s_mean * 1000.0, "wait_ms_ci95_half_width": v.wait_s_half_width * 1000.0 },
        "agrees": v.agrees(),
        "littles_law_error_pct_max": v.replications.iter().map(little_error_pct).fold(0.0, f64::max),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("serialises");
    text.push('\n');
    text
}

/// `summary.md`.
pub fn summary_md(v: &MmcValidation) -> String {
    let mut out = String::new();
    let rho = v.arrival_per_second * v.service_mean_ms / 1000.0 / f64::from(v.servers);
    let _ = writeln!(out, "# {}: M/M/c validation\n", v.name);
    let _ = writeln!(out, "{}\n", v.description);
    let _ = writeln!(
        out,
        "M/M/{}: λ = {}/s, mean service {} ms, load ρ = {rho:.3}; {} replications of {} customers, seeds {} to {}.\n",
        v.servers,
        v.arrival_per_second,
        v.service_mean_ms,
        v.replications.len(),
        v.customers,
        v.seeds.first().copied().unwrap_or(v.seed),
        v.seeds.last().copied().unwrap_or(v.seed)
    );
    let verdict = if v.agrees() { "**AGREES**" } else { "**DISAGREES**" };
    let _ = writeln!(out, "| | mean wait Wq |\n|---|---:|");
    let _ = writeln!(out, "| Erlang-C | {:.3} ms |", v.erlang_c.1 * 1000.0);
    let _ = writeln!(
        out,
        "| measured (mean of replications) | {:.3} ms ± {:.3} ms (95 % CI) |",
        v.wait_s_mean * 1000.0,
        v.wait_s_half_width * 1000.0
    );
    let _ = writeln!(
        out,
        "\n{verdict}: Erlang-C's Wq is {} the measured interval.",
        if v.agrees() { "inside" } else { "outside" }
    );
    let worst = v.replications.iter().map(little_error_pct).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "\nLittle's law (area under the number-in-system curve = Σ sojourn times) holds in every replication; largest relative error {worst:.9} %."
    );
    let _ = writeln!(out, "\nPer replication: `replications.csv`.");
    out
}
