//! Renders one run record: `summary.json`, `summary.md`, `latency.csv`, `timeseries.csv`,
//! `nodes.csv`, `settlement.csv`, `scheme-settlement.csv`, `reconciliation.csv`.
//!
//! Pure: it turns a [`RunRecord`] (and what the caller measured of the process: wall time,
//! commit) into text. CSVs hold only simulated figures, so the same scenario and seed give
//! byte-identical CSVs; wall time appears in the summaries only.

pub mod banks;
pub mod capacity_plots;
pub mod compare;
pub mod cost;
pub mod headline;
pub mod html;
pub mod liquidity;
pub mod measured;
pub mod mmc;
pub mod plots;
pub mod replications;
pub mod steady;
pub mod swarm;
pub mod sweep;

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::payments::csv_text::CsvText;
use crate::payments::network::{Decline, Outcome};
use crate::payments::recon::write_breaks;
use crate::payments::settlement::write_settlement_csv;
use crate::payments::time::{Span, Timestamp, Zone};
use crate::record::study::{Headline, Throughput};
use crate::record::{
    AuditCounts, HopLatency, INTERVAL_MINUTES, NodeMinute, RunRecord, SloBound, SloMetric, Stop,
};

/// What the caller knows about the run besides the record.
#[derive(Clone, Debug)]
pub struct RunMeta {
    /// The scenario file as given.
    pub scenario_path: String,
    /// `sha256:` and the lower-case hex SHA-256 of the scenario file's bytes.
    pub scenario_hash: String,
    /// The `--set KEY=VALUE` arguments applied to it, in order.
    pub overrides: Vec<String>,
    /// The commit the binary was built from (or "unknown").
    pub commit: String,
    /// Wall-clock seconds the run took.
    pub wall_seconds: f64,
    /// Peak resident memory, bytes, if known.
    pub peak_rss_bytes: Option<u64>,
}

/// One file of a report folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFile {
    /// Its path in the folder, `/`-separated (`plots/nodes.svg`).
    pub path: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

impl ReportFile {
    /// A file from text or bytes.
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> ReportFile {
        ReportFile { path: path.into(), bytes: bytes.into() }
    }
}

/// The report folder's files besides the plots, in the order [`files`] renders them; the
/// summary's list of files is this one.
pub const FILE_NAMES: [&str; 12] = [
    "summary.json",
    "summary.md",
    "latency.csv",
    "banks.csv",
    "timeseries.csv",
    "timeseries-nodes.csv",
    "nodes.csv",
    "settlement.csv",
    "liquidity.csv",
    "scheme-settlement.csv",
    "reconciliation.csv",
    "histograms.hlog",
];

/// Every file of a run's report folder, in the one list that `sim run` writes and the golden
/// and determinism tests compare: the summaries, the CSVs, the interval log ([`FILE_NAMES`]),
/// then the plots.
///
/// # Errors
/// A plot that cannot be drawn.
pub fn files(record: &RunRecord, meta: &RunMeta) -> Result<Vec<ReportFile>, String> {
    let mut files = texts(record, meta);
    for plot in plots::plots(record)? {
        files.push(ReportFile::new(format!("plots/{}.png", plot.name), plot.png));
        files.push(ReportFile::new(format!("plots/{}.svg", plot.name), plot.svg));
    }
    Ok(files)
}

/// The report's files without its plots: what a determinism check compares.
pub fn texts(record: &RunRecord, meta: &RunMeta) -> Vec<ReportFile> {
    let verdicts = &verdicts(record);
    let steady = &steady::steady(record, record.warmup_minutes);
    let mut files = vec![
        ReportFile::new("summary.json", summary_json(record, meta, verdicts, steady)),
        ReportFile::new("summary.md", summary_md(record, meta, verdicts, steady)),
        ReportFile::new("latency.csv", latency_csv(record)),
        ReportFile::new("banks.csv", banks::banks_csv(record)),
        ReportFile::new("timeseries.csv", timeseries_csv(record)),
        ReportFile::new("timeseries-nodes.csv", timeseries_nodes_csv(record)),
        ReportFile::new("nodes.csv", nodes_csv(record)),
        ReportFile::new("settlement.csv", settlement_csv(record)),
        ReportFile::new("liquidity.csv", liquidity::liquidity_csv(record)),
        ReportFile::new("scheme-settlement.csv", scheme_settlement_csv(record)),
        ReportFile::new("reconciliation.csv", reconciliation_csv(record)),
        ReportFile::new("histograms.hlog", histogram_log(record)),
    ];
    assert!(files.iter().map(|f| f.path.as_str()).eq(FILE_NAMES), "FILE_NAMES lists the files");
    files.extend(clearing_files(record));
    files
}

/// Each party's clearing file per business date, as `sim recon` reads them:
/// `clearing/switch-2026-02-16.csv`, `clearing/upi-2026-02-16.csv`, ….
fn clearing_files(record: &RunRecord) -> Vec<ReportFile> {
    use crate::payments::clearing::ClearingRecord;
    use crate::payments::time::Date;
    let mut out = Vec::new();
    for (party, records) in [("switch", &record.clearing.switch), ("upi", &record.clearing.upi)] {
        let mut by_date: std::collections::BTreeMap<Date, Vec<&ClearingRecord>> =
            std::collections::BTreeMap::new();
        for r in records {
            by_date.entry(r.business_date).or_default().push(r);
        }
        for (date, day) in by_date {
            out.push(clearing_file(party, date, day));
        }
    }
    out
}

/// One party's clearing file of one business date (`party` is `switch` or `upi`), as `sim run`
/// writes it whether it kept the records or streamed them.
pub fn clearing_file<'a>(
    party: &str,
    date: crate::payments::time::Date,
    records: impl IntoIterator<Item = &'a crate::payments::clearing::ClearingRecord>,
) -> ReportFile {
    ReportFile::new(
        format!("{CLEARING_DIR}/{party}-{date}.csv"),
        crate::payments::clearing::write_clearing_file(records),
    )
}

/// The folder of a run's clearing files.
pub const CLEARING_DIR: &str = "clearing";

/// One SLO's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Its name.
    pub name: String,
    /// `max X` or `min X`.
    pub threshold: String,
    /// The measured value.
    pub value: f64,
    /// Whether it held.
    pub passed: bool,
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
}

/// What makes a run's answer "no" besides its SLOs, one sentence each: it stopped before every
/// payment was final (its figures cover only part of the traffic), or a settlement chain was
/// refused.
pub fn findings(record: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    let AuditCounts { payments_created_count: created, payments_final_count: finalized, .. } =
        record.audit_counts;
    let in_flight = created.saturating_sub(finalized);
    match &record.stop {
        Stop::Drained => {}
        Stop::DrainTimeUp { in_flight } => out.push(format!(
            "incomplete: the drain time ended with {in_flight} payments in flight; they are \
             audited as in flight and counted in no outcome"
        )),
        Stop::Limit(limit) => out.push(format!(
            "incomplete: stopped by limits.{limit} at {} with {in_flight} payments in flight; \
             the figures cover only the traffic before it",
            local_time(record.finished_at, record.zone)
        )),
    }
    for refusal in &record.netting_refusals {
        out.push(format!("settlement refused: {refusal}; those positions stay owed"));
    }
    out
}

/// Evaluates the scenario's SLOs against a record.
pub fn verdicts(record: &RunRecord) -> Vec<Verdict> {
    record
        .slos
        .iter()
        .map(|slo| {
            let flow = record.flows.iter().find(|s| Some(s.flow) == slo.flow);
            let value = match (slo.metric, flow) {
                (SloMetric::LatencyMsP50, Some(s)) => ms(&s.latency_approved, 0.5),
                (SloMetric::LatencyMsP99, Some(s)) => ms(&s.latency_approved, 0.99),
                (SloMetric::LatencyMsP999, Some(s)) => ms(&s.latency_approved, 0.999),
                (SloMetric::ApprovalPct, Some(s)) => s.approval_ratio() * 100.0,
                (SloMetric::UnexplainedBreaks, _) => record.breaks_unexplained_count as f64,
                (SloMetric::MerchantNotifiedMsP99, Some(s)) => {
                    ms(&s.latency_merchant_notified, 0.99)
                }
                (_, None) => f64::NAN,
            };
            let (threshold, passed) = match slo.bound {
                SloBound::Max(max) => (format!("max {max}"), value <= max),
                SloBound::Min(min) => (format!("min {min}"), value >= min),
            };
            Verdict { name: slo.name.clone(), threshold, value: round3(value), passed }
        })
        .collect()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `t` as local wall-clock time in `zone`, to the minute, with the offset.
pub fn local_time(t: Timestamp, zone: Zone) -> String {
    let shifted = if zone.offset_minutes >= 0 {
        t.checked_add(Span::from_minutes(zone.offset_minutes as u64)).unwrap_or(t)
    } else {
        Timestamp::from_nanos(
            t.as_nanos()
                .saturating_sub(u64::from(zone.offset_minutes.unsigned_abs()) * 60_000_000_000),
        )
    };
    let text = shifted.to_string();
    let (h, m) = (zone.offset_minutes / 60, (zone.offset_minutes % 60).abs());
    format!("{}{:+03}:{m:02}", &text[..16], h)
}

fn stop_text(stop: &Stop) -> String {
    match stop {
        Stop::Drained => "drained: every payment reached a final state".into(),
        Stop::DrainTimeUp { in_flight } => {
            format!("drain time up with {in_flight} payments in flight")
        }
        Stop::Limit(limit) => format!("stopped by limit {limit}"),
    }
}

/// `summary.json`.
pub fn summary_json(
    record: &RunRecord,
    meta: &RunMeta,
    verdicts: &[Verdict],
    steady: &steady::Steady,
) -> String {
    let payments: u64 = record.flows.iter().map(|s| s.payments_count).sum();
    let flows = flows_json(record);
    let wall = meta.wall_seconds.max(1e-9);
    let value = json!({
        "scenario": record.scenario,
        "scenario_path": meta.scenario_path,
        "scenario_hash": meta.scenario_hash,
        "overrides": meta.overrides,
        "seed": record.seed,
        "commit": meta.commit,
        "start": local_time(record.start, record.zone),
        "end": local_time(record.end, record.zone),
        "stop": stop_text(&record.stop),
        "answer": answer_json(&answer(record, verdicts)),
        "complete": record.stop == Stop::Drained,
        "findings": findings(record),
        "payments_count": payments,
        "events_count": record.events_count,
        "wall_seconds": round3(meta.wall_seconds),
        "events_per_second": (record.events_count as f64 / wall).round(),
        "payments_per_second": (payments as f64 / wall).round(),
        "peak_rss_bytes": meta.peak_rss_bytes,
        "flows": flows,
        "income": cost::income_json(record),
        "reconciliation": {
            "breaks_count": record.breaks.len(),
            "breaks_unexplained_count": record.breaks_unexplained_count,
            "exceptions_injected_count": record.exceptions_injected_count,
            "clearing_records_switch": record.clearing.switch_count,
            "clearing_records_upi": record.clearing.upi_count,
        },
        "settlement": {
            "netting_cycles_count": record.nettings.len(),
            "netting_refusals": record.netting_refusals.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "scheme_settlements": record.scheme_settlements.iter().map(|s| json!({
                "trade_date": s.trade_date.to_string(),
                "value_date": s.value_date.to_string(),
                "net_usd": s.net_usd.to_decimal().to_string(),
            })).collect::<Vec<_>>(),
        },
        "ledger": {
            "invariants_ok": record.invariants_ok,
            "accounts_count": record.ledger_size.accounts_count,
            "records_count": record.ledger_size.records_count,
            "audit_checks_count": record.audit_checks_count,
            "payments_created": record.audit_counts.payments_created_count,
            "payments_final": record.audit_counts.payments_final_count,
        },
        "steady_state": steady_json(steady),
        "slo": verdicts.iter().map(|v| json!({
            "name": v.name, "threshold": v.threshold, "value": v.value, "passed": v.passed,
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// `summary.json`'s `flows`: every flow, zero when it carried no traffic.
fn flows_json(record: &RunRecord) -> serde_json::Map<String, Value> {
    let mut flows = serde_json::Map::new();
    for flow in crate::payments::party::Flow::ALL {
        flows.insert(
            flow.name().to_string(),
            json!({
                "payments_count": 0, "approved_count": 0, "approval_pct": 0.0,
                "latency_ms_p50": 0.0, "latency_ms_p99": 0.0, "latency_ms_p999": 0.0,
            }),
        );
    }
    for s in &record.flows {
        let flow = s.flow;
        let approved: u64 = s.count(Outcome::Approved) + s.count(Outcome::ApprovedLate);
        let outcomes: serde_json::Map<String, Value> =
            s.outcomes.iter().map(|(o, n)| (o.name(), json!(n))).collect();
        flows.insert(
            flow.name().to_string(),
            json!({
                "payments_count": s.payments_count,
                "retries_count": s.retries_count,
                "approved_count": approved,
                "approval_pct": round3(s.approval_ratio() * 100.0),
                "latency_ms_p50": ms(&s.latency_approved, 0.5),
                "latency_ms_p90": ms(&s.latency_approved, 0.9),
                "latency_ms_p99": ms(&s.latency_approved, 0.99),
                "latency_ms_p999": ms(&s.latency_approved, 0.999),
                "latency_ms_max": if s.latency_approved.is_empty() { 0.0 } else { s.latency_approved.max() as f64 / 1000.0 },
                "payer_timeouts_count": s.payer_timeouts_count,
                "duplicates_absorbed_count": s.duplicates_absorbed_count,
                "outcomes": outcomes,
                "costs": cost::costs_json(s),
            }),
        );
    }
    flows
}

fn steady_json(steady: &steady::Steady) -> Value {
    json!({
        "warmup_minutes": steady.warmup_minutes,
        "warmup_source": match steady.source { steady::WarmupSource::Fixed => "fixed", steady::WarmupSource::Detected => "detected" },
        "warmup_detected_minutes": steady.detected_minutes,
        "latency_cut_minutes": steady.latency_cut_minutes,
        "flows": steady.flows.iter().map(|f| (f.flow.to_string(), json!({
            "approved_count": f.approved_count,
            "latency_ms_p50": f.latency_ms[0],
            "latency_ms_p99": f.latency_ms[1],
            "latency_ms_p999": f.latency_ms[2],
        }))).collect::<serde_json::Map<String, Value>>(),
        "littles_law": steady.nodes.iter().map(|(name, whole, after)| json!({
            "node": name,
            "error_pct_whole_run": round3(whole.error_pct),
            "error_pct_steady": round3(after.error_pct),
            "mean_in_system_steady": round3(after.mean_in_system),
        })).collect::<Vec<_>>(),
    })
}

/// `latency.csv`: per flow and hop, µs from HdrHistogram (3 significant digits).
pub fn latency_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "flow", "hop", "count", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
    ]);
    let mut row = |flow: &str, hop: &str, h: &Histogram<u64>| {
        let figures = if h.is_empty() {
            vec!["0".to_string(); 7]
        } else {
            vec![
                h.len().to_string(),
                format!("{:.0}", h.mean()),
                h.value_at_quantile(0.5).to_string(),
                h.value_at_quantile(0.9).to_string(),
                h.value_at_quantile(0.99).to_string(),
                h.value_at_quantile(0.999).to_string(),
                h.max().to_string(),
            ]
        };
        out.row([flow.to_string(), hop.to_string()].into_iter().chain(figures));
    };
    for s in &record.flows {
        let flow = s.flow.name();
        row(flow, "end_to_end_approved", &s.latency_approved);
        row(flow, "end_to_end_answered", &s.latency_answered);
        row(flow, "merchant_notified", &s.latency_merchant_notified);
        for (i, HopLatency { node: hop, latency_us: h }) in s.hops.iter().enumerate() {
            row(flow, &format!("{i}:{hop}"), h);
        }
    }
    out.finish()
}

/// `timeseries.csv`: per simulated minute and flow (declines also by class).
pub fn timeseries_csv(record: &RunRecord) -> String {
    let header = [
        "minute",
        "local_time",
        "flow",
        "offered",
        "completed",
        "approved",
        "declined",
        "timed_out",
        "in_flight",
        "p50_us",
        "p99_us",
        "p999_us",
    ]
    .map(String::from)
    .into_iter()
    .chain(Decline::ALL.iter().map(|d| format!("declined_{}", d.name())));
    let mut out = CsvText::new(header);
    let minutes = record.minutes.first().map_or(0, Vec::len);
    for m in 0..minutes {
        let at = record.start.checked_add(Span::from_minutes(m as u64)).unwrap_or(record.start);
        let when = local_time(at, record.zone);
        for (k, flow) in record.flows.iter().map(|s| s.flow).enumerate() {
            let c = record.minutes[k][m];
            let fields = [
                m.to_string(),
                when.clone(),
                flow.name().to_string(),
                c.offered.to_string(),
                c.completed.to_string(),
                c.approved.to_string(),
                c.declined.to_string(),
                c.timed_out.to_string(),
                c.in_flight.to_string(),
                c.latency_us_p50.to_string(),
                c.latency_us_p99.to_string(),
                c.latency_us_p999.to_string(),
            ];
            out.row(fields.into_iter().chain(c.declined_by_class.iter().map(|n| n.to_string())));
        }
    }
    out.finish()
}

/// `nodes.csv`: per node, utilisation and Little's law (L = λW) with its relative error.
pub fn nodes_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "node",
        "servers",
        "served",
        "refused",
        "queue_len_max",
        "utilisation_pct",
        "mean_in_system",
        "throughput_per_s",
        "mean_time_in_system_ms",
        "littles_law_error_pct",
        "discarded",
        "throttled",
        "deadlines_missed",
        "breaker_opened",
        "breaker_refused",
        "others_served",
        "queue_wait_ms_worst",
        "timeout_ms_behind",
        "margin_ms",
    ]);
    let span_ns = record.finished_at.saturating_since(record.start).as_nanos().max(1) as f64;
    for n in &record.nodes {
        let util = n.occupancy.busy_ns as f64 / (span_ns * f64::from(n.servers)) * 100.0;
        let law = steady::little(NodeMinute::default(), n.totals(), span_ns / 1e9);
        out.row([
            n.name.clone(),
            n.servers.to_string(),
            n.occupancy.served_count.to_string(),
            n.occupancy.refused_count.to_string(),
            n.occupancy.queue_len_max.to_string(),
            format!("{util:.3}"),
            format!("{:.3}", law.mean_in_system),
            format!("{:.3}", law.throughput_per_s),
            format!("{:.3}", law.mean_time_in_system_s * 1000.0),
            format!("{:.4}", law.error_pct),
            n.occupancy.discarded_count.to_string(),
            (n.throttled.rate_count + n.throttled.concurrency_count).to_string(),
            n.relay.deadlines_missed_count.to_string(),
            n.relay.breaker_opened_count.to_string(),
            n.relay.breaker_refused_count.to_string(),
            n.others_served_count.to_string(),
            format!("{:.3}", n.queue_wait_ns_worst() / 1e6),
            n.sizing
                .timeout_ns_behind
                .map_or_else(String::new, |t| format!("{:.3}", t as f64 / 1e6)),
            n.margin_ns().map_or_else(String::new, |m| format!("{:.3}", m / 1e6)),
        ]);
    }
    out.finish()
}

/// `settlement.csv`: Bakong net positions per cycle.
pub fn settlement_csv(record: &RunRecord) -> String {
    write_settlement_csv(&record.nettings, &record.netting_refusals)
        .expect("positions were checked when netted")
}

/// `scheme-settlement.csv`: UPI ⇄ NBC per trade date.
pub fn scheme_settlement_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "trade_date",
        "value_date",
        "currency",
        "owed_to_nbc_minor",
        "owed_to_upi_minor",
        "rate_to_usd",
        "net_usd",
    ]);
    for s in &record.scheme_settlements {
        for (currency, to_nbc, to_upi, rate) in &s.legs {
            out.row([
                s.trade_date.to_string(),
                s.value_date.to_string(),
                currency.alpha().to_string(),
                to_nbc.to_string(),
                to_upi.to_string(),
                rate.to_string(),
                s.net_usd.to_decimal().to_string(),
            ]);
        }
    }
    out.finish()
}

/// `reconciliation.csv`: every break.
pub fn reconciliation_csv(record: &RunRecord) -> String {
    write_breaks(&record.breaks)
}

/// `summary.md`: what a reviewer reads first.
pub fn summary_md(
    record: &RunRecord,
    meta: &RunMeta,
    verdicts: &[Verdict],
    steady: &steady::Steady,
) -> String {
    let mut out = String::new();
    md_header(&mut out, record, meta);
    md_answer(&mut out, &answer(record, verdicts));
    md_findings(&mut out, record);
    md_flows(&mut out, record);
    md_precision(&mut out);
    md_slos(&mut out, verdicts);
    md_hops(&mut out, record);
    md_payees(&mut out, record);
    md_nodes(&mut out, record);
    banks::md_banks(&mut out, record);
    md_outcomes(&mut out, record);
    md_books(&mut out, record);
    md_recon(&mut out, record);
    cost::md_costs(&mut out, record);
    liquidity::md_liquidity(&mut out, record);
    md_steady(&mut out, steady);
    md_plots(&mut out, record);
    let names: Vec<String> = FILE_NAMES.iter().map(|n| format!("`{n}`")).collect();
    let _ = writeln!(
        out,
        "\n## Files\n\n{}, `plots/`, and `{CLEARING_DIR}/`: the switch's and UPI's clearing files \
         per business date, which `sim recon` reads.",
        names.join(", ")
    );
    out
}

/// The start of a summary's header table: the scenario file and its hash, and the `--set`
/// overrides applied to it.
pub(crate) fn md_provenance(out: &mut String, meta: &RunMeta) {
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ =
        writeln!(out, "| scenario | `{}` (hash `{}`) |", meta.scenario_path, meta.scenario_hash);
    if !meta.overrides.is_empty() {
        let set: Vec<String> = meta.overrides.iter().map(|o| format!("`--set {o}`")).collect();
        let _ = writeln!(out, "| overrides | {} |", set.join(" "));
    }
}

fn md_header(out: &mut String, record: &RunRecord, meta: &RunMeta) {
    let payments: u64 = record.flows.iter().map(|s| s.payments_count).sum();
    let _ = writeln!(out, "# {}: run report\n", record.scenario);
    md_provenance(out, meta);
    let _ = writeln!(out, "| seed | {} |", record.seed);
    let _ = writeln!(out, "| commit | `{}` |", meta.commit);
    let mut again = format!("sim run {} --seed {}", meta.scenario_path, record.seed);
    for o in &meta.overrides {
        let _ = write!(again, " --set '{o}'");
    }
    let _ = writeln!(out, "| reproduce | `{again}` at that commit |");
    let _ = writeln!(
        out,
        "| simulated | {} to {} (time zone of the scenario) |",
        local_time(record.start, record.zone),
        local_time(record.end, record.zone)
    );
    let _ = writeln!(out, "| ended | {} |", stop_text(&record.stop));
    let _ = writeln!(out, "| payments / events | {payments} / {} |", record.events_count);
    let _ = writeln!(
        out,
        "| wall time | {:.1} s ({:.0} events/s) |\n",
        meta.wall_seconds,
        record.events_count as f64 / meta.wall_seconds.max(1e-9)
    );
}

/// What a capacity review asks first, from one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// SLOs held, of all.
    pub slos_held: usize,
    /// SLOs in all.
    pub slos_count: usize,
    /// The run's headline figures: peak throughput in total and per flow, the payments left
    /// over, every node's utilisation.
    pub headline: Headline,
    /// The node busiest in its peak minute.
    pub busiest: Option<BusiestNode>,
    /// Nodes whose full queue holds requests past the timeout behind them, worst first (one
    /// per node kind: a participant's instances share their sizing).
    pub dead_work: Vec<DeadWork>,
    /// Payments declined or held for lack of liquidity, and the tightest bank.
    pub liquidity: liquidity::LiquidityAnswer,
}

/// A node whose full queue outlasts the shortest timeout behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadWork {
    /// The node (its kind, for a participant's).
    pub node: String,
    /// The longest a new request can wait in its full queue, ns.
    pub queue_wait_ns_worst: f64,
    /// The shortest timeout behind it, ns.
    pub timeout_ns_behind: u64,
}

/// The nodes whose margin is negative, worst first, one per node kind.
fn dead_work(record: &RunRecord) -> Vec<DeadWork> {
    let mut out: Vec<DeadWork> = Vec::new();
    for n in &record.nodes {
        let kind = n.name.split('[').next().unwrap_or(&n.name);
        let (Some(margin), Some(t)) = (n.margin_ns(), n.sizing.timeout_ns_behind) else {
            continue;
        };
        if margin >= 0.0 {
            continue;
        }
        let d = DeadWork {
            node: kind.to_string(),
            queue_wait_ns_worst: n.queue_wait_ns_worst(),
            timeout_ns_behind: t,
        };
        // A participant's instances may differ in servers: keep each kind's worst.
        match out.iter_mut().find(|x| x.node == kind) {
            Some(x) if x.queue_wait_ns_worst < d.queue_wait_ns_worst => *x = d,
            Some(_) => {}
            None => out.push(d),
        }
    }
    let margin = |d: &DeadWork| d.timeout_ns_behind as f64 - d.queue_wait_ns_worst;
    out.sort_by(|a, b| margin(a).total_cmp(&margin(b)).then(a.node.cmp(&b.node)));
    out
}

/// The node busiest in its peak minute.
#[derive(Clone, Debug, PartialEq)]
pub struct BusiestNode {
    /// Its name.
    pub name: String,
    /// Its utilisation.
    pub utilisation: crate::record::Utilisation,
}

impl BusiestNode {
    /// How many times its peak minute's load it could take before it is 100 % busy.
    pub fn headroom_x(&self) -> Option<f64> {
        let peak = self.utilisation.pct_peak_minute;
        (peak > 0.0).then(|| 100.0 / peak)
    }
}

/// The run's answer-first figures.
pub fn answer(record: &RunRecord, verdicts: &[Verdict]) -> Answer {
    let run_ns = u128::from(record.finished_at.saturating_since(record.start).as_nanos());
    let busiest = record
        .nodes
        .iter()
        .map(|n| BusiestNode { name: n.name.clone(), utilisation: n.utilisation(run_ns) })
        .max_by(|a, b| {
            let peak = |x: &BusiestNode| x.utilisation.pct_peak_minute;
            peak(a).total_cmp(&peak(b)).then(b.name.cmp(&a.name))
        });
    Answer {
        slos_held: verdicts.iter().filter(|v| v.passed).count(),
        slos_count: verdicts.len(),
        headline: headline::headline(record),
        busiest,
        dead_work: dead_work(record),
        liquidity: liquidity::answer(record),
    }
}

fn throughput_row(out: &mut String, name: &str, t: &Throughput) {
    let _ = writeln!(
        out,
        "| {name} | {:.0} | {:.1} | {:.0} | {:.1} |",
        t.offered_per_s_peak_second,
        t.offered_per_s_peak_minute,
        t.completed_per_s_peak_second,
        t.completed_per_s_peak_minute
    );
}

fn md_answer(out: &mut String, a: &Answer) {
    let h = &a.headline;
    let _ = writeln!(out, "## The answer\n");
    let _ = writeln!(out, "- SLOs: {} of {} held.", a.slos_held, a.slos_count);
    if let Some(b) = &a.busiest {
        let u = &b.utilisation;
        let headroom =
            b.headroom_x().map_or_else(|| "unbounded".to_string(), |x| format!("{x:.2}×"));
        let _ = writeln!(
            out,
            "- Busiest node: {}, {:.1} % busy in its peak minute (minute {} of the run), {:.1} % \
             averaged over the whole run including the drain (which hides saturation); headroom \
             {headroom} that minute's load before it is 100 % busy. Queueing delay grows well \
             before 100 %: a sweep's knee (`sim sweep --find-knee`) is the headroom to plan on.",
            b.name, u.pct_peak_minute, u.peak_minute, u.pct_mean
        );
    }
    if a.dead_work.is_empty() {
        let _ = writeln!(
            out,
            "- Dead work: no node's full queue outlasts the shortest timeout behind it."
        );
    } else {
        let nodes: Vec<String> = a
            .dead_work
            .iter()
            .map(|d| {
                format!(
                    "{} holds {:.1} s of work in a full queue, behind a timeout of {:.0} s",
                    d.node,
                    d.queue_wait_ns_worst / 1e9,
                    d.timeout_ns_behind as f64 / 1e9
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "- Dead work: {}; in overload such a node serves requests whose payer has already \
             been told they failed (and retries add more). Shorter queues, `drop_expired` or \
             admission control bound it.",
            nodes.join("; ")
        );
    }
    if let Some(t) = a.liquidity.tightest {
        let _ = writeln!(
            out,
            "- Liquidity: {} payments declined and {} held for lack of their bank's liquidity at \
             NBC; the tightest, kh_bank[{}] in {}, kept {:.1} % of its cap (minute {} of the \
             run).",
            a.liquidity.declined_count,
            a.liquidity.held_count,
            t.bank,
            t.currency,
            t.at.headroom_pct,
            t.at.minute
        );
    }
    let t = &h.total;
    let _ = writeln!(
        out,
        "- Payments: {} created; {} reversed; {} waiting for manual handling (their reversal \
         never got through); {} in flight when the run stopped; {} lost (created, neither final \
         nor in flight: the auditor stops a run with any). Reconciliation sent {} breaks to its \
         manual queue, a different queue: records the two files disagree on.",
        t.payments_count,
        t.reversed_count,
        t.manual_payments_count,
        t.in_flight_count,
        t.lost_count,
        t.manual_breaks_count
    );
    let _ = writeln!(
        out,
        "\nPeak throughput, payments per second: offered (confirmed by the payer) and completed \
         (a final answer, approved or not), in the busiest second and in the busiest minute of \
         each, each count its own busiest.\n\n\
         | flow | offered, peak second | offered, peak minute | completed, peak second | \
         completed, peak minute |\n|---|---:|---:|---:|---:|"
    );
    throughput_row(out, "all flows", &t.throughput);
    for f in &h.flows {
        throughput_row(out, f.flow.name(), &f.throughput);
    }
    let _ = writeln!(out);
}

fn answer_json(a: &Answer) -> Value {
    json!({
        "slos_held": a.slos_held,
        "slos_count": a.slos_count,
        "busiest_node": a.busiest.as_ref().map(|b| {
            let u = &b.utilisation;
            json!({
                "name": b.name,
                "utilisation_pct_peak_minute": round3(u.pct_peak_minute),
                "peak_minute": u.peak_minute,
                "utilisation_pct_mean": round3(u.pct_mean),
                "headroom_x": b.headroom_x().map(round3),
            })
        }),
        "liquidity": json!({
            "declined_count": a.liquidity.declined_count,
            "held_count": a.liquidity.held_count,
            "tightest": a.liquidity.tightest.map(|t| json!({
                "bank": t.bank,
                "currency": t.currency.alpha(),
                "headroom_pct": round3(t.at.headroom_pct),
                "minute": t.at.minute,
            })),
        }),
        "dead_work_risk": a.dead_work.iter().map(|d| json!({
            "node": d.node,
            "queue_wait_ms_worst": round3(d.queue_wait_ns_worst / 1e6),
            "timeout_ms_behind": round3(d.timeout_ns_behind as f64 / 1e6),
        })).collect::<Vec<_>>(),
        "headline": headline::headline_json(&a.headline),
    })
}

fn md_findings(out: &mut String, record: &RunRecord) {
    let findings = findings(record);
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Findings\n");
    for f in findings {
        let _ = writeln!(out, "- **{f}**");
    }
    out.push('\n');
}

fn md_flows(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "## Flows (end to end, confirm to payer sees the answer; approved payments)\n"
    );
    let _ = writeln!(
        out,
        "| flow | payments | approval % | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for s in &record.flows {
        let flow = s.flow;
        let h = &s.latency_approved;
        let max = if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            flow.name(),
            s.payments_count,
            s.approval_ratio() * 100.0,
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            ms(h, 0.999),
            max
        );
    }
    md_rates(out, record);
}

/// What the flows table's rates mean, with each flow's counts.
fn md_rates(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "\n*Payments* counts every payment created, retries included: a payer who tries again \
         after a decline or a timeout makes a new payment. *Approval* is (approved + approved \
         late) ÷ (payments − abandoned): a payer who scanned and walked away sent nothing. \
         Per flow:\n"
    );
    for s in &record.flows {
        let approved = s.count(Outcome::Approved);
        let late = s.count(Outcome::ApprovedLate);
        let abandoned = s.count(Outcome::Abandoned);
        let finals: u64 = s.outcomes.values().sum();
        let in_flight = s.payments_count.saturating_sub(finals);
        let mut line = format!(
            "- {}: ({approved} + {late}) ÷ ({} − {abandoned}) = {:.2} %; {} of the {} payments \
             were retries",
            s.flow.name(),
            finals,
            s.approval_ratio() * 100.0,
            s.retries_count,
            s.payments_count,
        );
        if in_flight > 0 {
            let _ = write!(line, "; {in_flight} were still in flight and count in no outcome");
        }
        let _ = writeln!(out, "{line}.");
    }
}

fn md_precision(out: &mut String) {
    let _ = writeln!(
        out,
        "\nLatencies come from HdrHistograms with 3 significant digits (0.1 % of the value); `latency.csv` is in microseconds, and `histograms.hlog` holds every histogram in HdrHistogram's interval-log format."
    );
}

fn md_slos(out: &mut String, verdicts: &[Verdict]) {
    let _ = writeln!(out, "\n## SLOs\n");
    if verdicts.is_empty() {
        let _ = writeln!(out, "None declared.");
    }
    for v in verdicts {
        let mark = if v.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "- **{mark}** {}: {} (threshold {})", v.name, v.value, v.threshold);
    }
}

fn md_hops(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "\n## Where the time goes\n\nTime at each node (queue wait + service), per hop of the route, p99 in ms; then the nodes ranked by their mean share of the mean end-to-end latency of answered payments (the rest is links — mostly the payer's mobile link — and waiting out timeouts).\n"
    );
    for s in &record.flows {
        let flow = s.flow;
        let hops: Vec<String> =
            s.hops.iter().map(|h| format!("{} {:.0}", h.node, ms(&h.latency_us, 0.99))).collect();
        let _ = writeln!(out, "- {}: {}", flow.name(), hops.join(" → "));
        let total = s.latency_answered.mean();
        if total > 0.0 {
            let mut ranked: Vec<(&str, f64)> = s
                .hops
                .iter()
                .map(|h| {
                    let l = &h.latency_us;
                    (h.node.as_str(), if l.is_empty() { 0.0 } else { l.mean() })
                })
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let shares: Vec<String> = ranked
                .iter()
                .take(3)
                .map(|(name, mean)| {
                    format!("{name} {:.0} ms ({:.0} %)", mean / 1000.0, mean / total * 100.0)
                })
                .collect();
            let _ = writeln!(out, "  - biggest: {} of {:.0} ms", shares.join(", "), total / 1000.0);
        }
    }
}

fn md_payees(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "\n## The payee's side\n\nWhen the far side books a credit, the payee (the merchant, or \
         the remittance's recipient) hears of it over `merchant_notify`: from the payer's \
         confirm to that notification, ms; and the notifications the link lost.\n\n| flow | \
         credits | notified p50 ms | p99 ms | lost |\n|---|---:|---:|---:|---:|"
    );
    for s in &record.flows {
        let h = &s.latency_merchant_notified;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {} |",
            s.flow.name(),
            h.len() + s.merchant_notifications_lost_count,
            ms(h, 0.5),
            ms(h, 0.99),
            s.merchant_notifications_lost_count
        );
    }
}

fn md_nodes(out: &mut String, record: &RunRecord) {
    let run_ns = u128::from(record.finished_at.saturating_since(record.start).as_nanos());
    let _ = writeln!(
        out,
        "\n## Nodes\n\nUtilisation, percent of the node's servers busy: in its busiest simulated \
         minute (which shows saturation) and averaged over the whole run including the drain \
         (which hides it); headroom is 100 % over the peak minute's. Refused: new requests \
         turned away by a full queue; throttled: by admission control (its sender over its \
         rate or concurrency); discarded: requests dropped unserved because their \
         originator had already timed out. Worst queue wait: a full queue of new requests \
         times the mean service time, over the servers; margin: the shortest timeout of whoever \
         waits behind the node less that wait (negative: a full queue serves dead work). Every \
         node, the busiest first.\n\n| node | servers | peak minute % | at minute | whole \
         run % | headroom × | refused | throttled | discarded | longest queue | worst queue \
         wait s | timeout behind s | margin s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut nodes: Vec<_> = record.nodes.iter().map(|n| (n, n.utilisation(run_ns))).collect();
    nodes.sort_by(|(a, ua), (b, ub)| {
        ub.pct_peak_minute.total_cmp(&ua.pct_peak_minute).then(a.name.cmp(&b.name))
    });
    for (n, u) in nodes {
        let headroom = if u.pct_peak_minute > 0.0 {
            format!("{:.2}", 100.0 / u.pct_peak_minute)
        } else {
            "–".into()
        };
        let seconds =
            |ns: Option<f64>| ns.map_or_else(|| "–".to_string(), |x| format!("{:.1}", x / 1e9));
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {:.1} | {headroom} | {} | {} | {} | {} | {} | {} | {} |",
            n.name,
            n.servers,
            u.pct_peak_minute,
            u.peak_minute,
            u.pct_mean,
            n.occupancy.refused_count,
            n.throttled.rate_count + n.throttled.concurrency_count,
            n.occupancy.discarded_count,
            n.occupancy.queue_len_max,
            seconds(Some(n.queue_wait_ns_worst())),
            seconds(n.sizing.timeout_ns_behind.map(|t| t as f64)),
            seconds(n.margin_ns())
        );
    }
    let relaying: Vec<String> = record
        .nodes
        .iter()
        .filter(|n| n.relay != crate::record::RelayCounts::default())
        .map(|n| {
            let r = n.relay;
            let mut text =
                format!("{} missed its deadline {} times", n.name, r.deadlines_missed_count);
            if r.breaker_opened_count > 0 || r.breaker_refused_count > 0 {
                text.push_str(&format!(
                    ", its breaker opened {} times and declined {} requests at once",
                    r.breaker_opened_count, r.breaker_refused_count
                ));
            }
            text
        })
        .collect();
    if !relaying.is_empty() {
        let _ = writeln!(out, "\nNodes with deadlines of their own: {}.", relaying.join("; "));
    }
}

fn md_outcomes(out: &mut String, record: &RunRecord) {
    let _ = writeln!(out, "\n## Outcomes\n");
    let _ = writeln!(
        out,
        "| flow | approved | late | reversed | manual | abandoned | declined (by class) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    for s in &record.flows {
        let flow = s.flow;
        let declines: Vec<String> = Decline::ALL
            .iter()
            .filter_map(|&d| {
                let n = s.count(Outcome::Declined(d));
                (n > 0).then(|| format!("{} {n}", d.name()))
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            flow.name(),
            s.count(Outcome::Approved),
            s.count(Outcome::ApprovedLate),
            s.count(Outcome::Reversed),
            s.count(Outcome::Manual),
            s.count(Outcome::Abandoned),
            declines.join(", ")
        );
    }
}

fn md_books(out: &mut String, record: &RunRecord) {
    let _ = writeln!(out, "\n## Books\n");
    let _ = writeln!(
        out,
        "- Ledger: {} accounts, {} records; every invariant held at every netting cut-off and at the end, every wallet, fee income and bank settlement account agreed with what the payments and netting cycles account for (holds of payments in flight included), every conversion and merchant discount with the pricing rules, and the receivable with the network's file after reconciliation ({} auditor checks; {} payments created, {} final).",
        record.ledger_size.accounts_count,
        record.ledger_size.records_count,
        record.audit_checks_count,
        record.audit_counts.payments_created_count,
        record.audit_counts.payments_final_count
    );
    let _ = writeln!(
        out,
        "- Netting: {} Bakong cycles settled; {} refused.",
        record.nettings.len(),
        record.netting_refusals.len()
    );
    for s in &record.scheme_settlements {
        let when = if s.value_at <= record.finished_at {
            "booked at its value time, 15:00 Beijing"
        } else {
            "after the run: booked at its end"
        };
        let _ = writeln!(
            out,
            "- UPI ⇄ NBC: trade date {} settles {} USD on {} ({when}).",
            s.trade_date,
            s.net_usd.to_decimal(),
            s.value_date
        );
    }
    let _ = writeln!(
        out,
        "- Reconciliation: {} breaks ({} unexplained), {} exceptions injected; clearing records: switch {}, UPI {}.",
        record.breaks.len(),
        record.breaks_unexplained_count,
        record.exceptions_injected_count,
        record.clearing.switch_count,
        record.clearing.upi_count
    );
    let _ = writeln!(
        out,
        "- FX mid: USD/CNY {} → {}, USD/KHR {} → {}.",
        record.fx_mid.usd_cny.start,
        record.fx_mid.usd_cny.end,
        record.fx_mid.usd_khr.start,
        record.fx_mid.usd_khr.end
    );
}

/// Reconciliation's breaks by class and resolution, with their amounts, and how its manual
/// queue relates to the outcomes table's manual payments.
fn md_recon(out: &mut String, record: &RunRecord) {
    use crate::payments::recon::{BreakClass, Resolution};
    let _ = writeln!(
        out,
        "\n## Reconciliation\n\nThe switch's clearing file against UPI's, per business date \
         (`clearing/`, `reconciliation.csv`): {} breaks, {} of them not explained by an event \
         of the run. Per class and resolution: the breaks and the change each makes to the \
         switch's receivable from the network, summed as absolute amounts per currency.\n",
        record.breaks.len(),
        record.breaks_unexplained_count
    );
    if record.breaks.is_empty() {
        let _ = writeln!(out, "The files agreed.");
    } else {
        let _ = writeln!(
            out,
            "| class | resolution | breaks | KHR | USD | CNY |\n|---|---|---:|---:|---:|---:|"
        );
        for class in BreakClass::ALL {
            for resolution in Resolution::ALL {
                let mut count = 0u64;
                let mut amounts = [0i128; 3];
                for b in
                    record.breaks.iter().filter(|b| b.class == class && b.resolution == resolution)
                {
                    count += 1;
                    amounts[b.receivable_change.currency.index()] +=
                        i128::from(b.receivable_change.minor).abs();
                }
                if count == 0 {
                    continue;
                }
                let amount = |k: usize| {
                    let c = crate::payments::money::Currency::ALL[k];
                    let minor = i64::try_from(amounts[k]).unwrap_or(i64::MAX);
                    crate::payments::money::Money::new(c, minor).to_decimal().to_string()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {count} | {} | {} | {} |",
                    class.name(),
                    resolution.name(),
                    amount(0),
                    amount(1),
                    amount(2)
                );
            }
        }
    }
    let manual_breaks =
        record.breaks.iter().filter(|b| b.resolution == Resolution::ManualQueue).count();
    let manual_payments: u64 = record.flows.iter().map(|s| s.count(Outcome::Manual)).sum();
    let _ = writeln!(
        out,
        "\nTwo different things are called manual. The outcomes table's *manual* counts payments \
         whose reversal never got through, so the payer's bank must settle them by hand: \
         {manual_payments}. Reconciliation's *manual queue* counts breaks between the two files \
         parked in suspense for a person to investigate: {manual_breaks}."
    );
}

fn md_steady(out: &mut String, steady: &steady::Steady) {
    let source = match steady.source {
        steady::WarmupSource::Fixed => "fixed by the scenario",
        steady::WarmupSource::Detected => "detected by MSER-5",
    };
    let _ = writeln!(
        out,
        "\n## Steady state\n\nWarm-up cut: {} min ({source}; MSER-5 on payments in flight detects {} min). Latency after the cut uses whole {}-minute intervals from minute {} (2 significant digits).\n",
        steady.warmup_minutes,
        steady.detected_minutes,
        INTERVAL_MINUTES,
        steady.latency_cut_minutes
    );
    let _ = writeln!(
        out,
        "| flow | approved after cut | p50 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|"
    );
    for f in &steady.flows {
        let [p50, p99, p999] = f.latency_ms;
        let _ = writeln!(
            out,
            "| {} | {} | {p50:.0} | {p99:.0} | {p999:.0} |",
            f.flow, f.approved_count
        );
    }
    let _ = writeln!(
        out,
        "\nLittle's law per node, L = λW (L: mean requests in the node; λ: served per second; W: mean time in the node), with its relative error over the whole run and after the cut:\n"
    );
    let _ = writeln!(
        out,
        "| node | L | λ /s | W ms | error, whole run | error, steady |\n|---|---:|---:|---:|---:|---:|"
    );
    for (name, whole, after) in &steady.nodes {
        let _ = writeln!(
            out,
            "| {name} | {:.3} | {:.2} | {:.1} | {:.4} % | {:.4} % |",
            after.mean_in_system,
            after.throughput_per_s,
            after.mean_time_in_system_s * 1000.0,
            whole.error_pct,
            after.error_pct
        );
    }
}

fn md_plots(out: &mut String, record: &RunRecord) {
    let _ = writeln!(out, "\n## Plots\n");
    for (name, title) in plots::names(record) {
        let _ = writeln!(out, "- [{title}](plots/{name}.png) ([SVG](plots/{name}.svg))");
    }
    if record.incidents.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nShaded on every time plot, the scenario's incidents:\n");
    for i in &record.incidents {
        let _ = writeln!(
            out,
            "- {} ({}: {}), {} to {}",
            i.name,
            i.kind.name(),
            i.targets.join(", "),
            local_time(i.from, record.zone),
            local_time(i.until, record.zone)
        );
    }
}

/// `timeseries-nodes.csv`: per simulated minute and node, the longest queue and utilisation.
pub fn timeseries_nodes_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "minute",
        "local_time",
        "node",
        "queue_len_max",
        "utilisation_pct",
        "served",
    ]);
    let minutes = record.nodes.first().map_or(0, |n| n.minutes.len());
    for m in 0..minutes {
        let at = record.start.checked_add(Span::from_minutes(m as u64)).unwrap_or(record.start);
        let when = local_time(at, record.zone);
        for n in &record.nodes {
            let cell = n.minutes[m];
            let before = if m == 0 { NodeMinute::default() } else { n.minutes[m - 1] };
            let busy = (cell.busy_ns - before.busy_ns) as f64;
            let utilisation = busy / (60e9 * f64::from(n.servers)) * 100.0;
            out.row([
                m.to_string(),
                when.clone(),
                n.name.clone(),
                cell.queue_len_max.to_string(),
                format!("{utilisation:.3}"),
                (cell.served_count - before.served_count).to_string(),
            ]);
        }
    }
    out.finish()
}

/// `histograms.hlog`: every latency histogram in HdrHistogram's interval-log format (V2,
/// compressed), tagged `<flow>.<what>`, so runs can be merged later. The whole-run histograms
/// (3 significant digits) span the run; each flow's approved latency is also logged per
/// ten-minute interval (2 significant digits) with tag `<flow>.approved_interval`.
pub fn histogram_log(record: &RunRecord) -> Vec<u8> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use std::time::Duration;
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let start = std::time::UNIX_EPOCH + Duration::from_nanos(record.start.as_nanos());
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "bakong-sim {} seed {}: latency in microseconds",
            record.scenario, record.seed
        ))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0);
    let mut log = builder.begin_log_with(&mut out, &mut serializer).expect("writing to memory");
    let run = Duration::from_nanos(record.finished_at.saturating_since(record.start).as_nanos());
    for s in &record.flows {
        let flow = s.flow;
        let mut whole: Vec<(String, &Histogram<u64>)> = vec![
            (format!("{}.end_to_end_approved", flow.name()), &s.latency_approved),
            (format!("{}.end_to_end_answered", flow.name()), &s.latency_answered),
        ];
        for (i, HopLatency { node: hop, latency_us: h }) in s.hops.iter().enumerate() {
            whole.push((format!("{}.hop{i}_{hop}", flow.name()), h));
        }
        for (tag, h) in whole {
            let tag = Tag::new(&tag).expect("tags have no commas or spaces");
            log.write_histogram(h, Duration::ZERO, run, Some(tag)).expect("writing to memory");
        }
        let tag = format!("{}.approved_interval", flow.name());
        let interval = Duration::from_secs(INTERVAL_MINUTES * 60);
        for (i, h) in s.intervals.iter().enumerate() {
            let tag = Tag::new(&tag).expect("tag");
            log.write_histogram(&h.histogram(), interval * i as u32, interval, Some(tag))
                .expect("writing to memory");
        }
    }
    drop(log);
    out
}
