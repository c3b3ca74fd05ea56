//! `sim run FILE [--seed N] [--out DIR]` and `sim validate FILE`.
//!
//! The report folder is checked before the run starts and written whole after it (see
//! `cli::output`): a reader never sees half a report, an interrupted run leaves the previous
//! report intact, and a folder that holds anything but a report of ours is refused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::output::{Target, Writer, sha256_hex};
use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::capacity;
use crate::payments::clearing::ClearingRecord;
use crate::payments::time::{Date, Zone};
use crate::report::{self, ReportFile, RunMeta};
use crate::scenario::overrides::{self, Override};
use crate::scenario::{self, MmcScenario, ScenarioFile};
use crate::sim::world::footprint::megabytes;
use crate::sim::world::{ClearingSink, Progress, World, check_memory};

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
    /// Replaces one key of the scenario for this run: KEY=VALUE, KEY a dotted TOML path
    /// (`nodes.bakong_switch.servers=8`, `load.multiplier=2.5`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Runs N independent replications (seeds drawn as independent streams from the seed) and
    /// reports each headline figure as a mean with its 95 % interval.
    #[arg(long, value_name = "N")]
    replications: Option<u32>,
    /// Threads for replications (default: the machine's cores); the results do not depend on it.
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
}

/// `sim validate`.
#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// The scenario file (TOML).
    file: PathBuf,
    /// As for `sim run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// Reads and checks a scenario file with its `--set` overrides.
pub(super) fn load(path: &Path, set: &[String]) -> anyhow::Result<(ScenarioFile, String)> {
    let overrides: Vec<Override> =
        set.iter().map(|a| Override::parse(a)).collect::<Result<_, _>>()?;
    let text = read_text(path, SMALL_INPUT_BYTES_MAX, "scenario")?;
    match overrides::parse_file_with(&text, &overrides) {
        Ok(s) => Ok((s, text)),
        Err(e) if e.set.is_some() => bail!("{}: {e}", path.display()),
        Err(e) => bail!("{}:{e}", path.display()),
    }
}

pub(super) fn validate(args: ValidateArgs) -> anyhow::Result<Outcome> {
    match load(&args.file, &args.set)?.0 {
        ScenarioFile::Network(s) => {
            let estimate = check_memory(&s)
                .with_context(|| format!("{} is valid but cannot run", args.file.display()))?;
            let flows: Vec<&str> = scenario::validate::flows(&s).iter().map(|f| f.0).collect();
            say!(
                "{}: ok ({}, {} h from {}, flows: {}; needs about {} of memory, limit {} MiB)",
                args.file.display(),
                s.meta.name,
                s.meta.duration_hours,
                s.meta.start,
                flows.join(", "),
                megabytes(estimate.total_bytes()),
                s.limits.memory_mb_max
            );
            say!("  biggest parts: {}", estimate.biggest(3));
        }
        ScenarioFile::Mmc(s) => {
            say!("{}: ok ({}, M/M/{} validation)", args.file.display(), s.meta.name, s.mmc.servers);
        }
    }
    Ok(Outcome::Success)
}

fn run_mmc(args: &RunArgs, s: &MmcScenario) -> anyhow::Result<Outcome> {
    let seed = args.seed.unwrap_or(s.meta.seed);
    let out = args.out.clone().unwrap_or_else(|| Path::new("reports").join(&s.meta.name));
    let target = prepare(&out)?;
    let started = Instant::now();
    let v = crate::sim::mmc::replicate(s, seed).context("running the M/M/c model")?;
    let wall = started.elapsed().as_secs_f64();
    let files = report::mmc::files(&v);
    let writer = Writer { command: "run", scenario: Some(s.meta.name.clone()), seed: Some(seed) };
    finish_writing(target, &writer, files, &out)?;
    let events: u64 = v.replications.iter().map(|r| r.events_count).sum();
    say!(
        "{}: Erlang-C Wq {:.3} ms, measured {:.3} ms ± {:.3} ms (95 % CI): {}; report in {}",
        s.meta.name,
        v.erlang_c.1 * 1000.0,
        v.wait_s_mean * 1000.0,
        v.wait_s_half_width * 1000.0,
        if v.agrees() { "agrees" } else { "DISAGREES" },
        out.display()
    );
    say!("wall {wall:.1} s, {:.0} events/s", events as f64 / wall.max(1e-9));
    Ok(if v.agrees() { Outcome::Success } else { Outcome::Negative })
}

/// The machine's cores, for the default `--jobs`.
pub(super) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn run_meta(args: &RunArgs, text: &str, wall_seconds: f64) -> RunMeta {
    scenario_meta(&args.file, text, &args.set, wall_seconds)
}

/// Whether a folder's JSON came from this very scenario file, `--set`s and commit (a commit of
/// `unknown` never matches: it cannot tell one build from another). `--skip-existing` asks it.
pub(super) fn same_source(json: &serde_json::Value, meta: &RunMeta) -> bool {
    json["scenario_hash"] == meta.scenario_hash.as_str()
        && json["overrides"] == serde_json::json!(meta.overrides)
        && json["commit"] == meta.commit.as_str()
        && meta.commit != "unknown"
}

/// What a report says of the process that made it: the scenario file and its hash, the
/// overrides, the commit, the wall time and the peak memory.
pub(super) fn scenario_meta(file: &Path, text: &str, set: &[String], wall_seconds: f64) -> RunMeta {
    RunMeta {
        scenario_path: file.display().to_string(),
        scenario_hash: format!("sha256:{}", sha256_hex(text.as_bytes())),
        overrides: set.to_vec(),
        commit: option_env!("BAKONG_SIM_COMMIT").unwrap_or("unknown").to_string(),
        wall_seconds,
        peak_rss_bytes: peak_rss_bytes(),
    }
}

fn run_replications(
    args: &RunArgs,
    s: &scenario::Scenario,
    text: &str,
    n: u32,
    out: &Path,
) -> anyhow::Result<Outcome> {
    let seed = args.seed.unwrap_or(s.meta.seed);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    capacity::check(s, n, jobs)?;
    let target = prepare(out)?;
    let started = Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let done = |i: usize| {
        let k = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if !args.quiet {
            eprintln!(
                "replication {i} done ({k} of {n}, {:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    };
    let r = capacity::replicate(s, seed, n, jobs, &done).map_err(|e| match e {
        capacity::StudyError::Breach { seed, .. } => anyhow::anyhow!(
            "{e}\nreproduce with: sim run {} --seed {seed}{}",
            args.file.display(),
            args.set.iter().map(|a| format!(" --set '{a}'")).collect::<String>()
        ),
        other => other.into(),
    })?;
    let meta = run_meta(args, text, started.elapsed().as_secs_f64());
    let files = report::replications::files(&r, &meta)
        .map_err(|e| anyhow::anyhow!("drawing plots: {e}"))?;
    let writer = Writer { command: "run", scenario: Some(s.meta.name.clone()), seed: Some(seed) };
    finish_writing(target, &writer, files, out)?;
    let pass = r.slo_pass_count();
    say!(
        "{}: {n} replications from seed {seed} on {jobs} threads; report in {}; SLOs held in \
         {pass} of {n}",
        s.meta.name,
        out.display()
    );
    say!("wall {:.1} s", meta.wall_seconds);
    Ok(if pass == n as usize { Outcome::Success } else { Outcome::Negative })
}

/// Checks and locks a report folder before any work, and says what it tidied.
pub(super) fn prepare(out: &Path) -> anyhow::Result<Target> {
    let mut target = Target::prepare(out)?;
    for note in target.take_notes() {
        eprintln!("note: {note}");
    }
    Ok(target)
}

/// Writes a report folder whole, with its page (`report.html`) when it has a summary, and says
/// what it replaced or left. A page that cannot be rendered (a renderer bug that panics) loses
/// nothing else: the folder is written without it, and then this fails.
pub(super) fn finish_writing(
    target: Target,
    writer: &Writer,
    files: Vec<ReportFile>,
    out: &Path,
) -> anyhow::Result<()> {
    // Every folder with a summary gets its page: one file a reviewer opens anywhere.
    let mut files = files;
    let page = guarded("rendering report.html", || Ok(crate::report::html::page(&files)));
    let page_failed = match page {
        Ok(Some(page)) => {
            files.push(page);
            None
        }
        Ok(None) => None,
        Err(e) => Some(e),
    };
    let written = target.write(writer, files)?;
    for note in &written.notes {
        eprintln!("note: {note}");
    }
    if written.replaced {
        eprintln!("replaced the previous report in {}", out.display());
    }
    if let Some(e) = page_failed {
        bail!("{e}; every other file of the report is in {}", out.display());
    }
    Ok(())
}

/// Runs one rendering step, turning its error or its panic (a bug; the panic's message is
/// already on stderr) into a message, so that the caller can still write what it has.
fn guarded<T>(what: &str, step: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what} failed (a bug: the panic is above)")),
    }
}

/// A run's files. Plots that cannot be drawn must not lose the simulation: the text files are
/// kept (every CSV, the summaries, the clearing files), with the reason to fail after writing.
fn run_files(
    render: impl FnOnce() -> Result<Vec<ReportFile>, String>,
    texts: impl FnOnce() -> Vec<ReportFile>,
) -> (Vec<ReportFile>, Option<String>) {
    match guarded("drawing plots", render) {
        Ok(files) => (files, None),
        Err(e) => (texts(), Some(e)),
    }
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The progress of a run on stderr: a bar with an ETA on a terminal; otherwise (a log, a CI
/// job) a plain line at every tenth of the simulated span, without carriage returns.
struct ProgressView {
    bar: Option<indicatif::ProgressBar>,
    zone: Zone,
    started: Instant,
    /// Shows nothing at all.
    quiet: bool,
    tenths_shown: u64,
}

/// Steps of the bar: thousandths of the simulated span.
const PROGRESS_STEPS: u64 = 1000;

impl ProgressView {
    fn new(quiet: bool, zone: Zone) -> ProgressView {
        use std::io::IsTerminal;
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(PROGRESS_STEPS);
            let style = indicatif::ProgressStyle::with_template(
                "[{bar:30}] {percent:>3}%  {msg}  ETA {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        ProgressView { bar, zone, started: Instant::now(), quiet, tenths_shown: 0 }
    }

    fn text(&self, p: &Progress) -> String {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "sim {}  payments {}  events {:.1} M  {:.1} M events/s",
            crate::report::local_time(p.now, self.zone),
            p.payments_count,
            p.events_count as f64 / 1e6,
            p.events_count as f64 / wall / 1e6
        )
    }

    fn update(&mut self, p: &Progress) {
        let steps = (p.done_fraction.clamp(0.0, 1.0) * PROGRESS_STEPS as f64) as u64;
        if let Some(bar) = &self.bar {
            bar.set_position(steps);
            bar.set_message(self.text(p));
        } else if !self.quiet && steps / 100 > self.tenths_shown {
            self.tenths_shown = steps / 100;
            eprintln!("{:>3} %  {}", self.tenths_shown * 10, self.text(p));
        }
    }

    /// The run is over: the bar (or the log) ends at 100 %.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(PROGRESS_STEPS);
            bar.finish();
        } else if !self.quiet {
            eprintln!("100 %  simulated; writing the report");
        }
    }
}

pub(super) fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let (file, text) = load(&args.file, &args.set)?;
    let s = match file {
        ScenarioFile::Network(s) => s,
        ScenarioFile::Mmc(s) => return run_mmc(&args, &s),
    };
    let seed = args.seed.unwrap_or(s.meta.seed);
    let out = args.out.clone().unwrap_or_else(|| Path::new("reports").join(&s.meta.name));
    if let Some(n) = args.replications {
        return run_replications(&args, &s, &text, n, &out);
    }
    if args.jobs.is_some() {
        bail!("--jobs runs replications in parallel: give --replications N too");
    }
    let mut target = prepare(&out)?;
    let started = Instant::now();
    let world = World::new(&s, seed)?;
    let zone = scenario::validate::zone_of(&s.meta.start).unwrap_or(Zone::UTC);
    let mut view = ProgressView::new(args.quiet, zone);
    let writer = Writer { command: "run", scenario: Some(s.meta.name.clone()), seed: Some(seed) };
    let mut clearing = ClearingFiles { target: &mut target, writer: &writer, error: None };
    let result = world.run_streaming(&mut |p: Progress| view.update(&p), Some(&mut clearing));
    view.finish();
    if let Some(e) = clearing.error {
        return Err(e.context("writing the clearing files as the business dates closed"));
    }
    let record = match result {
        Ok(record) => record,
        Err(breach) => bail!(
            "invariant breach: {breach}\nreproduce with: sim run {} --seed {seed}{}",
            args.file.display(),
            args.set.iter().map(|a| format!(" --set '{a}'")).collect::<String>()
        ),
    };
    let wall_seconds = started.elapsed().as_secs_f64();
    let meta = run_meta(&args, &text, wall_seconds);
    let verdicts = report::verdicts(&record);
    let (files, plots_failed) =
        run_files(|| report::files(&record, &meta), || report::texts(&record, &meta));
    finish_writing(target, &writer, files, &out)?;
    if let Some(e) = plots_failed {
        bail!("{e}; the report's text files are in {}, without plots", out.display());
    }
    let payments: u64 = record.flows.iter().map(|f| f.payments_count).sum();
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let findings = report::findings(&record);
    for finding in &findings {
        say!("finding: {finding}");
    }
    say!(
        "{}: seed {seed}, {} payments, {} events; report in {}; SLOs {} passed, {failed} failed",
        s.meta.name,
        payments,
        record.events_count,
        out.display(),
        verdicts.len() - failed
    );
    say!(
        "wall {wall_seconds:.1} s, {:.0} events/s, {:.0} payments/s, peak memory {:.0} MiB",
        record.events_count as f64 / wall_seconds.max(1e-9),
        payments as f64 / wall_seconds.max(1e-9),
        meta.peak_rss_bytes.unwrap_or(0) as f64 / 1048576.0
    );
    Ok(if failed == 0 && findings.is_empty() { Outcome::Success } else { Outcome::Negative })
}

/// Writes each business date's clearing files into the report as the date closes, so the run
/// never holds more than the dates still open; the first error stops the writing and is
/// reported when the run ends.
struct ClearingFiles<'a> {
    target: &'a mut Target,
    writer: &'a Writer,
    error: Option<anyhow::Error>,
}

impl ClearingSink for ClearingFiles<'_> {
    fn day(&mut self, date: Date, switch: &[ClearingRecord], upi: &[ClearingRecord]) {
        for (party, records) in [("switch", switch), ("upi", upi)] {
            if self.error.is_some() || records.is_empty() {
                continue;
            }
            let file = report::clearing_file(party, date, records);
            if let Err(e) = self.target.stream(self.writer, &file) {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders with `render` and reports which files would be written and why the run fails.
    fn check(
        render: impl FnOnce() -> Result<Vec<ReportFile>, String>,
        want: (&[&str], Option<&str>),
    ) {
        let texts =
            || vec![ReportFile::new("summary.md", "# r\n"), ReportFile::new("latency.csv", "")];
        let (files, failed) = run_files(render, texts);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!((paths.as_slice(), failed.as_deref()), want);
    }

    #[test]
    fn plots_that_cannot_be_drawn_keep_the_text_files() {
        check(|| Ok(vec![ReportFile::new("plots/a.svg", "<svg/>")]), (&["plots/a.svg"], None));
        check(
            || Err("no font".to_owned()),
            (&["summary.md", "latency.csv"], Some("drawing plots: no font")),
        );
        check(
            || -> Result<Vec<ReportFile>, String> { panic!("a renderer's bug") },
            (
                &["summary.md", "latency.csv"],
                Some("drawing plots failed (a bug: the panic is above)"),
            ),
        );
    }
}
