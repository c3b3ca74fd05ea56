//! `sim sweep SCENARIO --vary KEY=V1,V2,... [--replications N] [--jobs J] [--shard I/N]
//! [--out DIR]`, `sim sweep SCENARIO --find-knee KEY=LO..HI`, and `sim merge DIR... --out DIR`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::output::Writer;
use super::run::{default_jobs, finish_writing, prepare, scenario_meta};
use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::capacity::sweep::{self as sweeps, KneeRange, SweepSpec, parse_vary};
use crate::record::study::Sweep;
use crate::report::{self, ReportFile, RunMeta};
use crate::scenario::ScenarioFile;
use crate::scenario::overrides::{self, Override};

/// `sim sweep`.
#[derive(Debug, Args)]
pub(super) struct SweepArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// A key and its values, `KEY=V1,V2,...`; several `--vary` make a grid.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    vary: Vec<String>,
    /// Searches a load-like key for the highest value at which every SLO holds in every
    /// replication: `KEY=LO..HI`, by bisection.
    #[arg(long = "find-knee", value_name = "KEY=LO..HI", conflicts_with = "vary")]
    find_knee: Option<String>,
    /// Bisection steps of `--find-knee` (integer keys stop when the step is 1).
    #[arg(long, default_value_t = 8)]
    knee_steps: u32,
    /// Replications per point.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Threads (default: the machine's cores); the results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Runs only the points whose index is I modulo N; `sim merge` joins the shards.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The seed; defaults to the scenario's `meta.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Replaces one key for every point (as for `sim run`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The sweep folder; defaults to `reports/<scenario name>-sweep/`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// When `--out` already holds this very sweep or shard, whole (every file its manifest
    /// lists, with its hash) and from this commit, leaves it and exits 0: a batch task run again
    /// after a failure redoes only what is missing.
    #[arg(long)]
    skip_existing: bool,
}

/// `sim compare`.
#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// The first report folder (a run, replications or a sweep).
    a: PathBuf,
    /// The second.
    b: PathBuf,
    /// JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Also writes the comparison as a report folder: `compare.md`, `compare.json` and its page,
    /// `report.html`.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn compare(args: CompareArgs) -> anyhow::Result<Outcome> {
    let read = |dir: &Path| -> anyhow::Result<serde_json::Value> {
        let name = if dir.join("sweep.json").is_file() { "sweep.json" } else { "summary.json" };
        let text = read_text(&dir.join(name), SWEEP_JSON_BYTES_MAX, "report summary")?;
        serde_json::from_str(&text).with_context(|| format!("{}/{name}", dir.display()))
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    let rows = report::compare::compare(&a, &b).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (an, bn) = (args.a.display().to_string(), args.b.display().to_string());
    if let Some(out) = &args.out {
        let target = prepare(out)?;
        let files = vec![
            ReportFile::new("compare.md", report::compare::markdown(&an, &bn, &rows)),
            ReportFile::new("compare.json", report::compare::to_json(&an, &bn, &rows)),
        ];
        let writer = Writer { command: "compare", scenario: None, seed: None };
        finish_writing(target, &writer, files, out)?;
        eprintln!("comparison in {}", out.display());
    }
    if args.json {
        say!("{}", report::compare::to_json(&an, &bn, &rows).trim_end());
    } else {
        say!("{}", report::compare::markdown(&an, &bn, &rows).trim_end());
    }
    Ok(Outcome::Success)
}

/// `sim merge`.
#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// The shards' sweep folders.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The merged sweep folder.
    #[arg(long)]
    out: PathBuf,
}

/// The largest `sweep.json` or `summary.json` read: 10,000 points of a few hundred figures.
const SWEEP_JSON_BYTES_MAX: u64 = 1 << 30;

fn shard(arg: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = arg.split_once('/').and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {arg}: expected I/N with 0 <= I < N"),
    }
}

fn knee_range(arg: &str) -> anyhow::Result<(String, KneeRange)> {
    let parsed =
        arg.split_once('=').and_then(|(k, r)| Some((k.trim().to_string(), KneeRange::parse(r)?)));
    parsed.with_context(|| {
        format!("--find-knee {arg}: expected KEY=LO..HI, e.g. load.multiplier=1..4")
    })
}

pub(super) fn run(args: SweepArgs) -> anyhow::Result<Outcome> {
    let base: Vec<Override> =
        args.set.iter().map(|a| Override::parse(a)).collect::<Result<_, _>>()?;
    let text = read_text(&args.file, SMALL_INPUT_BYTES_MAX, "scenario")?;
    let s = match overrides::parse_file_with(&text, &base) {
        Ok(ScenarioFile::Network(s)) => s,
        Ok(ScenarioFile::Mmc(_)) => bail!("{}: sweeps run network scenarios", args.file.display()),
        Err(e) if e.set.is_some() => bail!("{}: {e}", args.file.display()),
        Err(e) => bail!("{}:{e}", args.file.display()),
    };
    let seed = args.seed.unwrap_or(s.meta.seed);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("{}-sweep", s.meta.name)));
    let spec = SweepSpec { text: &text, base: &base, seed, replications: args.replications, jobs };
    let started = Instant::now();
    let quiet = args.quiet;
    let done = |k: usize, total: usize| {
        if !quiet {
            eprintln!("run {k} of {total} done ({:.0} s)", started.elapsed().as_secs_f64());
        }
    };
    let shard = args.shard.as_deref().map(shard).transpose()?;
    let sweep = match &args.find_knee {
        Some(arg) => {
            if shard.is_some() {
                bail!("--find-knee searches one point after another: it does not shard");
            }
            let (key, range) = knee_range(arg)?;
            let target = prepare(&out)?;
            let sweep = sweeps::find_knee(&spec, &key, range, args.knee_steps, &done)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
            write(target, &sweep, &args, &text, started, &out)?;
            sweep
        }
        None => {
            if args.vary.is_empty() {
                bail!("give --vary KEY=V1,V2,... (or --find-knee KEY=LO..HI)");
            }
            let vary = args.vary.iter().map(|a| parse_vary(a)).collect::<Result<Vec<_>, _>>()?;
            if args.skip_existing && already_done(&out, &args, &text, seed, &vary, shard) {
                say!("{}: this sweep is already whole there; skipped", out.display());
                return Ok(Outcome::Success);
            }
            let target = prepare(&out)?;
            let sweep = sweeps::sweep(&spec, &vary, shard, &done)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
            write(target, &sweep, &args, &text, started, &out)?;
            sweep
        }
    };
    let passing = sweep
        .points
        .iter()
        .filter(|p| p.runs.slo_pass_count() == p.runs.replications.len())
        .count();
    say!(
        "{}: {} points × {} replications on {jobs} threads; every SLO held at {passing} of them; \
         {}; report in {}",
        sweep.scenario,
        sweep.points.len(),
        sweep.replications,
        match &sweep.knee {
            Some(k) => match k.value {
                Some(v) => format!("knee {} = {v}", k.key),
                None => "no knee in range".to_string(),
            },
            None => "no knee searched".to_string(),
        },
        out.display()
    );
    say!("wall {:.1} s", started.elapsed().as_secs_f64());
    Ok(Outcome::Success)
}

/// Whether `out` holds, whole, the sweep (or shard) these arguments would write: the same
/// scenario bytes, `--set`s, commit, seed, replications, values and shard.
fn already_done(
    out: &Path,
    args: &SweepArgs,
    text: &str,
    seed: u64,
    vary: &[crate::record::study::Vary],
    shard: Option<(usize, usize)>,
) -> bool {
    if !super::output::is_whole(out) {
        return false;
    }
    let Ok(json) = read_text(&out.join("sweep.json"), SWEEP_JSON_BYTES_MAX, "sweep") else {
        return false;
    };
    let Ok(j) = serde_json::from_str::<serde_json::Value>(&json) else { return false };
    let meta = scenario_meta(&args.file, text, &args.set, 0.0);
    let vary_json: Vec<serde_json::Value> =
        vary.iter().map(|v| serde_json::json!({ "key": v.key, "texts": v.values })).collect();
    let vary_there: Vec<serde_json::Value> = j["vary"]
        .as_array()
        .map(|a| {
            a.iter().map(|v| serde_json::json!({ "key": v["key"], "texts": v["texts"] })).collect()
        })
        .unwrap_or_default();
    let shard_json = shard.map(|(i, n)| serde_json::json!({ "index": i, "count": n }));
    super::run::same_source(&j, &meta)
        && j["seed"] == seed
        && j["replications"] == args.replications
        && vary_there == vary_json
        && j["shard"] == shard_json.unwrap_or(serde_json::Value::Null)
        && j["knee"].is_null()
}

fn write(
    target: super::output::Target,
    sweep: &Sweep,
    args: &SweepArgs,
    text: &str,
    started: Instant,
    out: &Path,
) -> anyhow::Result<()> {
    let files = report::sweep::files(
        sweep,
        &scenario_meta(&args.file, text, &args.set, started.elapsed().as_secs_f64()),
    )
    .map_err(|e| anyhow::anyhow!("drawing plots: {e}"))?;
    let writer =
        Writer { command: "sweep", scenario: Some(sweep.scenario.clone()), seed: Some(sweep.seed) };
    finish_writing(target, &writer, files, out)
}

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<Outcome> {
    if args.dirs[0].join("swarm.json").is_file() {
        return super::swarm::merge(&args.dirs, &args.out);
    }
    let mut shards = Vec::new();
    let mut first_meta: Option<serde_json::Value> = None;
    for dir in &args.dirs {
        let read = |name: &str| read_text(&dir.join(name), 4 << 30, "sweep file");
        let json = read("sweep.json")?;
        let sweep = sweeps::read(&json, &read("headlines.csv")?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let j: serde_json::Value = serde_json::from_str(&json)?;
        if let Some(m) = &first_meta {
            for key in ["scenario_path", "scenario_hash", "overrides", "commit"] {
                if m[key] != j[key] {
                    bail!("{}: its {key} differs from {}'s", dir.display(), args.dirs[0].display());
                }
            }
        } else {
            first_meta = Some(j);
        }
        shards.push(sweep);
    }
    let m = first_meta.expect("at least one folder");
    let whole = sweeps::merge(shards).map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = prepare(&args.out)?;
    let meta = RunMeta {
        scenario_path: m["scenario_path"].as_str().unwrap_or("").to_string(),
        scenario_hash: m["scenario_hash"].as_str().unwrap_or("").to_string(),
        overrides: serde_json::from_value(m["overrides"].clone()).unwrap_or_default(),
        commit: m["commit"].as_str().unwrap_or("").to_string(),
        wall_seconds: 0.0,
        peak_rss_bytes: None,
    };
    let files =
        report::sweep::files(&whole, &meta).map_err(|e| anyhow::anyhow!("drawing plots: {e}"))?;
    let writer =
        Writer { command: "sweep", scenario: Some(whole.scenario.clone()), seed: Some(whole.seed) };
    finish_writing(target, &writer, files, &args.out)?;
    say!(
        "merged {} folders: {} points; report in {}",
        args.dirs.len(),
        whole.points.len(),
        args.out.display()
    );
    Ok(Outcome::Success)
}
