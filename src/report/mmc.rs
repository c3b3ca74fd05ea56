//! The M/M/c validation report: the engine's measured mean wait against Erlang-C, with a 95 %
//! confidence interval over independent replications (Student's t), and Little's law per
//! replication. `summary.md`, `summary.json`, `replications.csv`.

use std::fmt::Write as _;

use serde_json::json;

use crate::sim::mmc::{MmcConfig, MmcError, MmcReport, erlang_c, run_mmc};
use crate::sim::scenario::MmcScenario;

/// The experiment's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct MmcValidation {
    /// Scenario name.
    pub name: String,
    /// First seed.
    pub seed: u64,
    /// One report per replication.
    pub replications: Vec<MmcReport>,
    /// Erlang-C: probability of waiting, Wq, W (seconds).
    pub erlang_c: (f64, f64, f64),
    /// Mean of the replications' mean waits, seconds.
    pub wait_s_mean: f64,
    /// Half-width of its 95 % confidence interval, seconds.
    pub wait_s_half_width: f64,
}

impl MmcValidation {
    /// Whether Erlang-C's Wq lies inside the interval.
    pub fn agrees(&self) -> bool {
        (self.erlang_c.1 - self.wait_s_mean).abs() <= self.wait_s_half_width
    }
}

/// Student's t at 0.975 for `df` degrees of freedom (table to 30, then the normal value).
fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    TABLE.get(df.saturating_sub(1)).copied().unwrap_or(1.960)
}

/// Runs the scenario's replications with seeds `seed`, `seed + 1`, ….
///
/// # Errors
/// [`MmcError`] from the engine.
pub fn validate(s: &MmcScenario, seed: u64) -> Result<MmcValidation, MmcError> {
    let m = &s.mmc;
    let service_rate = 1000.0 / m.service_mean_ms;
    let replications = (0..u64::from(m.replications))
        .map(|i| {
            run_mmc(MmcConfig {
                servers: m.servers,
                arrival_rate_per_s: m.arrival_per_second,
                service_rate_per_s: service_rate,
                customers: m.customers,
                seed: seed.wrapping_add(i),
                waiting_max: 10_000_000,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let waits: Vec<f64> = replications.iter().map(MmcReport::mean_wait_s).collect();
    let n = waits.len() as f64;
    let mean = waits.iter().sum::<f64>() / n;
    let variance = waits.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t_975(waits.len() - 1) * (variance / n).sqrt();
    Ok(MmcValidation {
        name: s.meta.name.clone(),
        seed,
        replications,
        erlang_c: erlang_c(m.servers, m.arrival_per_second, service_rate)
            .expect("validated: the node is stable"),
        wait_s_mean: mean,
        wait_s_half_width: half,
    })
}

fn little_error_pct(r: &MmcReport) -> f64 {
    let l = r.area_ns as f64;
    if l == 0.0 { 0.0 } else { (r.sojourn_ns_sum as f64 - l).abs() / l * 100.0 }
}

/// `replications.csv`.
pub fn replications_csv(v: &MmcValidation) -> String {
    let mut out = String::from(
        "replication,seed,customers,mean_wait_ms,mean_sojourn_ms,mean_in_system,littles_law_error_pct\n",
    );
    for (i, r) in v.replications.iter().enumerate() {
        let _ = writeln!(
            out,
            "{i},{},{},{:.6},{:.6},{:.6},{:.9}",
            v.seed.wrapping_add(i as u64),
            r.customers_count,
            r.mean_wait_s() * 1000.0,
            r.mean_sojourn_s() * 1000.0,
            r.mean_in_system(),
            little_error_pct(r)
        );
    }
    out
}

/// `summary.json`.
pub fn summary_json(s: &MmcScenario, v: &MmcValidation) -> String {
    let m = &s.mmc;
    let value = json!({
        "scenario": v.name,
        "seed": v.seed,
        "model": { "servers": m.servers, "arrival_per_second": m.arrival_per_second, "service_mean_ms": m.service_mean_ms, "customers": m.customers, "replications": m.replications },
        "load": m.arrival_per_second * m.service_mean_ms / 1000.0 / f64::from(m.servers),
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
pub fn summary_md(s: &MmcScenario, v: &MmcValidation) -> String {
    let m = &s.mmc;
    let mut out = String::new();
    let rho = m.arrival_per_second * m.service_mean_ms / 1000.0 / f64::from(m.servers);
    let _ = writeln!(out, "# {}: M/M/c validation\n", v.name);
    let _ = writeln!(out, "{}\n", s.meta.description);
    let _ = writeln!(
        out,
        "M/M/{}: λ = {}/s, mean service {} ms, load ρ = {rho:.3}; {} replications of {} customers, seeds {} to {}.\n",
        m.servers,
        m.arrival_per_second,
        m.service_mean_ms,
        m.replications,
        m.customers,
        v.seed,
        v.seed.wrapping_add(u64::from(m.replications) - 1)
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
