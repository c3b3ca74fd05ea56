//! `sim swarm SCENARIO --seeds A..B [--jobs J] [--shard I/N] [--out DIR]`: a fault campaign,
//! every seed a different storm (see `capacity::swarm`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::output::Writer;
use super::run::{default_jobs, finish_writing, prepare, scenario_meta};
use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::capacity::swarm::{self, SwarmSpec};
use crate::record::RunRecord;
use crate::record::swarm::{Campaign, SeedOutcome, Verdict};
use crate::report::{self, ReportFile, RunMeta};
use crate::scenario::overrides::Override;

/// Most failing seeds that keep a folder of their own (every one is in `swarm.json`).
const FAILING_SEED_FOLDERS_MAX: usize = 20;
/// The largest file copied from a shard's seed folder.
const SEED_FILE_BYTES_MAX: u64 = 64 << 20;
/// The largest `swarm.json` read back (a merge, or `--skip-existing`).
const SWARM_JSON_BYTES_MAX: u64 = 1 << 30;

/// `sim swarm`.
#[derive(Debug, Args)]
pub(super) struct SwarmArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// The seeds, `A..B` inclusive (`S..S` replays one).
    #[arg(long, value_name = "A..B")]
    seeds: String,
    /// Threads (default: the machine's cores); the results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Runs only the seeds at positions I modulo N (for a batch array).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Replaces one key for every seed, before the fault mix.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The campaign folder; defaults to `reports/<scenario name>-swarm/`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Plants a deliberate bug (a test of the campaign itself): one of
    /// `capacity::swarm::CANARIES`.
    #[arg(long, hide = true)]
    canary: Option<String>,
    /// Only the summary, not a line per seed.
    #[arg(long)]
    quiet: bool,
    /// Does nothing when `--out` already holds, whole, this very campaign (or shard): the same
    /// scenario bytes, `--set`s, commit, seeds, shard and canary. A batch array resubmitted
    /// after a failure redoes only what is missing. The exit code is still the campaign's.
    #[arg(long)]
    skip_existing: bool,
}

fn seeds(arg: &str) -> anyhow::Result<(u64, u64)> {
    let parsed = arg.split_once("..").and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some((a, b)) if a <= b => Ok((a, b)),
        _ => bail!("--seeds {arg}: expected A..B with A at most B, e.g. 1..200"),
    }
}

fn shard(arg: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = arg.split_once('/').and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {arg}: expected I/N with 0 <= I < N"),
    }
}

pub(super) fn run(args: SwarmArgs) -> anyhow::Result<Outcome> {
    let base: Vec<Override> =
        args.set.iter().map(|a| Override::parse(a)).collect::<Result<_, _>>()?;
    let text = read_text(&args.file, SMALL_INPUT_BYTES_MAX, "scenario")?;
    let canary = match &args.canary {
        Some(name) => Some(swarm::canary(name).with_context(|| {
            let known: Vec<&str> = swarm::CANARIES.iter().map(|c| c.name).collect();
            format!("--canary {name}: known: {}", known.join(", "))
        })?),
        None => None,
    };
    let (scenario, _) = swarm::seed_scenario(&text, &base, 0)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("{}-swarm", scenario.meta.name)));
    let spec = SwarmSpec {
        text: &text,
        base: &base,
        seeds: seeds(&args.seeds)?,
        shard: args.shard.as_deref().map(shard).transpose()?,
        jobs: args.jobs.unwrap_or_else(default_jobs),
        canary,
    };
    if let Some(failed) =
        args.skip_existing.then(|| already_done(&out, &args, &text, &spec)).flatten()
    {
        say!(
            "{}: this campaign is already whole there, {failed} seeds failed; skipped",
            out.display()
        );
        return Ok(if failed == 0 { Outcome::Success } else { Outcome::Negative });
    }
    let target = prepare(&out)?;
    let started = Instant::now();
    let quiet = args.quiet;
    let done = |s: &SeedOutcome| {
        if !quiet {
            eprintln!("{}", progress_line(s));
        }
    };
    let (campaign, records) = swarm::campaign(&spec, &done)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let meta = scenario_meta(&args.file, &text, &args.set, started.elapsed().as_secs_f64());
    let mut files = vec![
        ReportFile::new("swarm.json", report::swarm::swarm_json(&campaign, &meta)),
        ReportFile::new("summary.md", report::swarm::summary_md(&campaign, &meta)),
    ];
    files.extend(failing_seed_files(&campaign, &records, &meta)?);
    let writer = Writer { command: "swarm", scenario: Some(campaign.scenario.clone()), seed: None };
    finish_writing(target, &writer, files, &out)?;
    let failed: Vec<_> = campaign.failed().collect();
    say!(
        "{}: {} seeds on {} threads, {} clean, {} failed; report in {}",
        campaign.scenario,
        campaign.seeds.len(),
        spec.jobs,
        campaign.seeds.len() - failed.len(),
        failed.len(),
        out.display()
    );
    for s in &failed {
        say!(
            "seed {} failed ({}): replay with `{}` at commit {}",
            s.seed,
            s.verdict.name(),
            report::swarm::replay_command(&campaign, &meta, s.seed),
            meta.commit
        );
    }
    say!("wall {:.1} s", started.elapsed().as_secs_f64());
    Ok(if failed.is_empty() { Outcome::Success } else { Outcome::Negative })
}

/// When `out` holds, whole, the campaign (or shard) these arguments would write, how many of
/// its seeds failed.
fn already_done(out: &Path, args: &SwarmArgs, text: &str, spec: &SwarmSpec) -> Option<usize> {
    if !super::output::is_whole(out) {
        return None;
    }
    let json = read_text(&out.join("swarm.json"), SWARM_JSON_BYTES_MAX, "swarm.json").ok()?;
    let j: serde_json::Value = serde_json::from_str(&json).ok()?;
    let meta = scenario_meta(&args.file, text, &args.set, 0.0);
    let shard = spec.shard.map(|(i, n)| serde_json::json!({ "index": i, "count": n }));
    let same = super::run::same_source(&j, &meta)
        && j["seeds_from"] == spec.seeds.0
        && j["seeds_to"] == spec.seeds.1
        && j["shard"] == shard.unwrap_or(serde_json::Value::Null)
        && j["canary"] == serde_json::json!(spec.canary.map(|c| c.name));
    if !same {
        return None;
    }
    j["summary"]["failed"].as_array().map(Vec::len)
}

/// The line a seed prints as it finishes.
fn progress_line(s: &SeedOutcome) -> String {
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind).collect();
    let kinds = if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") };
    match &s.verdict {
        Verdict::Clean => {
            format!("seed {}: clean, {} payments; faults: {kinds}", s.seed, s.payments_count)
        }
        v => format!(
            "seed {}: FAILED ({}): {}; faults: {kinds}",
            s.seed,
            v.name(),
            v.detail().unwrap_or("")
        ),
    }
}

/// What a failing seed keeps: `seed-S/fault-mix.txt` (its faults, its `--set` arguments, the
/// command that replays it, the commit) and, when its run ended, its report.
fn failing_seed_files(
    campaign: &Campaign,
    records: &[RunRecord],
    meta: &RunMeta,
) -> anyhow::Result<Vec<ReportFile>> {
    let mut files = Vec::new();
    for s in campaign.failed().take(FAILING_SEED_FOLDERS_MAX) {
        let dir = format!("seed-{}", s.seed);
        let mut mix = format!(
            "# seed {}: {}\n# {}\n# replay: {}\n# commit: {}\n",
            s.seed,
            s.verdict.name(),
            s.verdict.detail().unwrap_or(""),
            report::swarm::replay_command(campaign, meta, s.seed),
            meta.commit
        );
        for f in &s.faults {
            mix.push_str(&format!("# {}: {}\n", f.kind, f.what));
        }
        for o in &s.overrides {
            mix.push_str(&format!("--set '{o}'\n"));
        }
        files.push(ReportFile::new(format!("{dir}/fault-mix.txt"), mix));
        if let Some(record) = records.iter().find(|r| r.seed == s.seed) {
            let run = report::files(record, meta).map_err(|e| anyhow::anyhow!("plots: {e}"))?;
            files.extend(
                run.into_iter()
                    .map(|f| ReportFile { path: format!("{dir}/{}", f.path), bytes: f.bytes }),
            );
        }
    }
    Ok(files)
}

/// `sim merge` of a campaign's shard folders: one `swarm.json` and `summary.md`, the failing
/// seeds' folders copied from their shards.
pub(super) fn merge(dirs: &[PathBuf], out: &Path) -> anyhow::Result<Outcome> {
    let mut shards = Vec::new();
    let mut first: Option<serde_json::Value> = None;
    let mut wall_seconds = 0.0;
    for dir in dirs {
        let text = read_text(&dir.join("swarm.json"), SWARM_JSON_BYTES_MAX, "swarm.json")?;
        let j: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}/swarm.json", dir.display()))?;
        if let Some(f) = &first {
            for key in ["scenario_path", "scenario_hash", "overrides", "commit"] {
                if f[key] != j[key] {
                    bail!("{}: its {key} differs from {}'s", dir.display(), dirs[0].display());
                }
            }
        }
        wall_seconds += j["summary"]["wall_seconds"].as_f64().unwrap_or(0.0);
        first.get_or_insert(j);
        shards.push(swarm::read(&text).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?);
    }
    let f = first.context("no shard folders")?;
    let whole = swarm::merge(shards).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = |key: &str| f[key].as_str().unwrap_or("").to_string();
    let meta = RunMeta {
        scenario_path: text("scenario_path"),
        scenario_hash: text("scenario_hash"),
        overrides: serde_json::from_value(f["overrides"].clone()).unwrap_or_default(),
        commit: text("commit"),
        wall_seconds,
        peak_rss_bytes: None,
    };
    let target = prepare(out)?;
    let mut files = vec![
        ReportFile::new("swarm.json", report::swarm::swarm_json(&whole, &meta)),
        ReportFile::new("summary.md", report::swarm::summary_md(&whole, &meta)),
    ];
    for s in whole.failed().take(FAILING_SEED_FOLDERS_MAX) {
        let prefix = format!("seed-{}/", s.seed);
        for dir in dirs {
            for (path, bytes) in super::output::listed_files(dir).unwrap_or_default() {
                if !path.starts_with(&prefix) {
                    continue;
                }
                let on_disk =
                    std::fs::symlink_metadata(dir.join(&path)).map_or(u64::MAX, |m| m.len());
                if bytes.max(on_disk) > SEED_FILE_BYTES_MAX {
                    bail!("{}/{path}: larger than {SEED_FILE_BYTES_MAX} bytes", dir.display());
                }
                let data = std::fs::read(dir.join(&path))
                    .with_context(|| format!("reading {}/{path}", dir.display()))?;
                files.push(ReportFile { path, bytes: data });
            }
        }
    }
    let writer = Writer { command: "swarm", scenario: Some(whole.scenario.clone()), seed: None };
    finish_writing(target, &writer, files, out)?;
    let failed = whole.failed().count();
    say!(
        "merged {} folders: {} seeds, {} failed; report in {}",
        dirs.len(),
        whole.seeds.len(),
        failed,
        out.display()
    );
    Ok(if failed == 0 { Outcome::Success } else { Outcome::Negative })
}
