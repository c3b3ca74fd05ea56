//! `sim run FILE [--seed N] [--out DIR]` and `sim validate FILE`.
//!
//! The report folder is written whole into `DIR.partial` and renamed into place, so a reader
//! never sees half a report and an interrupted run leaves the previous report intact.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::{Outcome, write_atomically};
use crate::payments::qr::md5_hex;
use crate::payments::time::Zone;
use crate::report::{self, RunMeta};
use crate::sim::scenario::{self, MmcScenario, ScenarioFile};
use crate::sim::world::{Progress, World};

/// `sim run`.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// The seed; defaults to the scenario's `meta.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// The report folder; defaults to `reports/<scenario name>/`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `sim validate`.
#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// The scenario file (TOML).
    file: PathBuf,
}

fn load(path: &Path) -> anyhow::Result<(ScenarioFile, String)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match scenario::parse_file(&text) {
        Ok(s) => Ok((s, text)),
        Err(e) => bail!("{}:{e}", path.display()),
    }
}

pub(super) fn validate(args: ValidateArgs) -> anyhow::Result<Outcome> {
    match load(&args.file)?.0 {
        ScenarioFile::Network(s) => {
            let flows: Vec<&str> = scenario::validate::flows(&s).iter().map(|f| f.0).collect();
            println!(
                "{}: ok ({}, {} h from {}, flows: {})",
                args.file.display(),
                s.meta.name,
                s.meta.duration_hours,
                s.meta.start,
                flows.join(", ")
            );
        }
        ScenarioFile::Mmc(s) => {
            println!(
                "{}: ok ({}, M/M/{} validation)",
                args.file.display(),
                s.meta.name,
                s.mmc.servers
            );
        }
    }
    Ok(Outcome::Success)
}

fn run_mmc(args: &RunArgs, s: &MmcScenario) -> anyhow::Result<Outcome> {
    let seed = args.seed.unwrap_or(s.meta.seed);
    let out = args.out.clone().unwrap_or_else(|| Path::new("reports").join(&s.meta.name));
    let started = Instant::now();
    let v = report::mmc::validate(s, seed).context("running the M/M/c model")?;
    let wall = started.elapsed().as_secs_f64();
    let files = [
        ("summary.md", report::mmc::summary_md(s, &v)),
        ("summary.json", report::mmc::summary_json(s, &v)),
        ("replications.csv", report::mmc::replications_csv(&v)),
    ];
    write_folder(&out, &files, |_| Ok(()))?;
    let events: u64 = v.replications.iter().map(|r| r.events_count).sum();
    println!(
        "{}: Erlang-C Wq {:.3} ms, measured {:.3} ms ± {:.3} ms (95 % CI): {}; report in {}",
        s.meta.name,
        v.erlang_c.1 * 1000.0,
        v.wait_s_mean * 1000.0,
        v.wait_s_half_width * 1000.0,
        if v.agrees() { "agrees" } else { "DISAGREES" },
        out.display()
    );
    println!("wall {wall:.1} s, {:.0} events/s", events as f64 / wall.max(1e-9));
    Ok(if v.agrees() { Outcome::Success } else { Outcome::Negative })
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn progress_bar(p: &Progress, started: Instant, zone: Zone) {
    let width = 30;
    let filled = ((p.done_fraction.clamp(0.0, 1.0)) * width as f64) as usize;
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    let local = crate::report::local_time(p.now, zone);
    eprint!(
        "\r[{}{}] {:>3.0}%  sim {local}  payments {}  events {:.1} M  {:.1} M events/s ",
        "=".repeat(filled),
        " ".repeat(width - filled),
        p.done_fraction * 100.0,
        p.payments_count,
        p.events_count as f64 / 1e6,
        p.events_count as f64 / wall / 1e6
    );
    let _ = std::io::stderr().flush();
}

pub(super) fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let (file, text) = load(&args.file)?;
    let s = match file {
        ScenarioFile::Network(s) => s,
        ScenarioFile::Mmc(s) => return run_mmc(&args, &s),
    };
    let seed = args.seed.unwrap_or(s.meta.seed);
    let out = args.out.clone().unwrap_or_else(|| Path::new("reports").join(&s.meta.name));
    let started = Instant::now();
    let world = World::new(&s, seed);
    let zone = scenario::validate::zone_of(&s.meta.start).unwrap_or(Zone::UTC);
    let quiet = args.quiet;
    let mut on_progress = |p: Progress| {
        if !quiet {
            progress_bar(&p, started, zone);
        }
    };
    let result = world.run(&mut on_progress);
    if !quiet {
        eprintln!();
    }
    let record = match result {
        Ok(record) => record,
        Err(breach) => bail!(
            "invariant breach: {breach}\nreproduce with: sim run {} --seed {seed}",
            args.file.display()
        ),
    };
    let wall_seconds = started.elapsed().as_secs_f64();
    let meta = RunMeta {
        scenario_path: args.file.display().to_string(),
        scenario_hash: format!("md5:{}", md5_hex(&text)),
        commit: option_env!("BAKONG_SIM_COMMIT").unwrap_or("unknown").to_string(),
        wall_seconds,
        peak_rss_bytes: peak_rss_bytes(),
    };
    let verdicts = report::verdicts(&record, &s.slo);
    write_report(&out, &record, &meta, &verdicts, s.report.warmup_minutes.map(u64::from))?;
    let payments: u64 = record.flows.iter().map(|(_, f)| f.payments_count).sum();
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    println!(
        "{}: seed {seed}, {} payments, {} events; report in {}; SLOs {} passed, {failed} failed",
        s.meta.name,
        payments,
        record.events_count,
        out.display(),
        verdicts.len() - failed
    );
    println!(
        "wall {wall_seconds:.1} s, {:.0} events/s, {:.0} payments/s, peak memory {:.0} MiB",
        record.events_count as f64 / wall_seconds.max(1e-9),
        payments as f64 / wall_seconds.max(1e-9),
        meta.peak_rss_bytes.unwrap_or(0) as f64 / 1048576.0
    );
    Ok(if failed == 0 { Outcome::Success } else { Outcome::Negative })
}

fn write_report(
    out: &Path,
    record: &crate::sim::world::RunRecord,
    meta: &RunMeta,
    verdicts: &[report::Verdict],
    warmup_minutes: Option<u64>,
) -> anyhow::Result<()> {
    let steady = report::steady::steady(record, warmup_minutes);
    let files = [
        ("summary.json", report::summary_json(record, meta, verdicts, &steady)),
        ("summary.md", report::summary_md(record, meta, verdicts, &steady)),
        ("latency.csv", report::latency_csv(record)),
        ("timeseries.csv", report::timeseries_csv(record)),
        ("timeseries-nodes.csv", report::timeseries_nodes_csv(record)),
        ("nodes.csv", report::nodes_csv(record)),
        ("settlement.csv", report::settlement_csv(record)),
        ("scheme-settlement.csv", report::scheme_settlement_csv(record)),
        ("reconciliation.csv", report::reconciliation_csv(record)),
    ];
    write_folder(out, &files, |partial| {
        std::fs::write(partial.join("histograms.hlog"), report::histogram_log(record))
            .context("writing histograms.hlog")?;
        let plots_dir = partial.join("plots");
        std::fs::create_dir_all(&plots_dir)
            .with_context(|| format!("creating {}", plots_dir.display()))?;
        let plots =
            report::plots::plots(record).map_err(|e| anyhow::anyhow!("drawing plots: {e}"))?;
        for plot in &plots {
            let png = plots_dir.join(format!("{}.png", plot.name));
            std::fs::write(&png, &plot.png)
                .with_context(|| format!("writing {}", png.display()))?;
            write_atomically(&plots_dir.join(format!("{}.svg", plot.name)), &plot.svg)?;
        }
        Ok(())
    })
}

/// Writes a report folder whole: everything into `out.partial`, then a rename over `out`.
fn write_folder(
    out: &Path,
    files: &[(&str, String)],
    more: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut partial = out.as_os_str().to_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    for (name, contents) in files {
        write_atomically(&partial.join(name), contents)?;
    }
    more(&partial)?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    std::fs::rename(&partial, out)
        .with_context(|| format!("renaming {} to {}", partial.display(), out.display()))
}
