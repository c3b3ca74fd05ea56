//! `sim serve`, `sim journal check` and `sim keys generate`: the load tester's server side.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::run::load;
use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::load::journal;
use crate::load::serve::{self, KeyFile, ServeOptions};
use crate::payments::time::{Span, Timestamp, Zone};
use crate::scenario::ScenarioFile;

/// `sim serve`.
#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// The scenario whose network to serve.
    file: PathBuf,
    /// The payer API's address (port 0: any free port; the address bound is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Serve on an address that is not loopback.
    #[arg(long)]
    allow_remote: bool,
    /// The journal (SQLite): created if missing, recovered from if ours, refused otherwise.
    #[arg(long, default_value = "bakong-sim-journal.sqlite")]
    journal: PathBuf,
    /// Emulated delays run this many times faster than the scenario's.
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// The participants' link keys and the originators' API tokens (`sim keys generate`).
    #[arg(long)]
    keys: PathBuf,
    /// Capture the first 10,000 ISO 8583 frames sent on the links into this new file (hex, one
    /// frame per line, MAC included), for other decoders.
    #[arg(long)]
    capture_frames: Option<PathBuf>,
    /// The emulated far sides answer at once instead of taking the scenario's time, so the
    /// latency measured is the server's own (for the model check)
    #[arg(long)]
    no_far_delays: bool,
    /// Each link's signing-on side sends an echo (0800) this often, real seconds (1 to 3600)
    #[arg(long, default_value_t = 30)]
    echo_every_s: u64,
}

/// `sim journal`.
#[derive(Debug, Subcommand)]
pub(super) enum JournalCommand {
    /// Check a journal: prints JSON, exits 0 only when it is consistent.
    Check {
        /// The journal.
        path: PathBuf,
    },
}

/// `sim keys`.
#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Make a new key file for a scenario's participants (refuses to overwrite a file).
    Generate {
        /// The scenario.
        file: PathBuf,
        /// The new key file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn network(path: &std::path::Path) -> anyhow::Result<crate::scenario::Scenario> {
    match load(path, &[])?.0 {
        ScenarioFile::Network(s) => Ok(*s),
        ScenarioFile::Mmc(_) => {
            anyhow::bail!("{}: an M/M/c scenario has no network to serve", path.display())
        }
    }
}

pub(super) fn keys(command: KeysCommand) -> anyhow::Result<Outcome> {
    let KeysCommand::Generate { file, out } = command;
    let scenario = network(&file)?;
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    let mut hex = |n: usize| -> anyhow::Result<String> {
        let mut bytes = vec![0u8; n];
        std::io::Read::read_exact(&mut random, &mut bytes).context("reading /dev/urandom")?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    };
    let mut key_file = KeyFile { keys: Default::default(), tokens: Default::default() };
    for role in serve::roles(&scenario) {
        key_file.keys.insert(role.name(), hex(32)?);
        if serve::originates(role) {
            key_file.tokens.insert(role.name(), hex(24)?);
        }
    }
    let text = toml::to_string(&key_file).context("writing the key file")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&out).with_context(|| {
        format!("creating {} (an existing file is never overwritten)", out.display())
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    say!("wrote {} ({} participants)", out.display(), key_file.keys.len());
    Ok(Outcome::Success)
}

pub(super) fn read_keys(path: &std::path::Path) -> anyhow::Result<KeyFile> {
    let text = read_text(path, SMALL_INPUT_BYTES_MAX, "key file")?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("key file {}: {}", path.display(), e.to_string().trim()))
}

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.speedup.is_finite() && args.speedup > 0.0 && args.speedup <= 1e6,
        "--speedup must be above 0 and at most 1000000"
    );
    anyhow::ensure!((1..=3600).contains(&args.echo_every_s), "--echo-every-s must be 1 to 3600");
    let scenario = network(&args.file)?;
    let keys = read_keys(&args.keys)?;
    let capture = match &args.capture_frames {
        Some(path) => {
            Some(std::fs::OpenOptions::new().write(true).create_new(true).open(path).with_context(
                || format!("creating {} (an existing file is never overwritten)", path.display()),
            )?)
        }
        None => None,
    };
    let options = ServeOptions {
        capture,
        far_delays: !args.no_far_delays,
        echo_every: std::time::Duration::from_secs(args.echo_every_s),
        listen: args.listen,
        allow_remote: args.allow_remote,
        journal: args.journal,
        speedup: args.speedup,
        keys,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve::serve(
            &scenario,
            options,
            |running| {
                say!("listening on http://{}", running.api);
                if running.recovered_approved + running.recovered_reversed > 0 {
                    eprintln!(
                        "recovered {} open payments from the journal: {} the switch had booked, approved; {} reversed",
                        running.recovered_approved + running.recovered_reversed,
                        running.recovered_approved,
                        running.recovered_reversed
                    );
                }
            },
            stop,
        )
        .await
    })?;
    Ok(Outcome::Success)
}

pub(super) fn journal(command: JournalCommand) -> anyhow::Result<Outcome> {
    let JournalCommand::Check { path } = command;
    anyhow::ensure!(path.is_file(), "{}: no such journal file", path.display());
    let report = journal::check(&path)?;
    say!("{}", serde_json::to_string_pretty(&report).context("JSON")?);
    Ok(if report.ok() { Outcome::Success } else { Outcome::Negative })
}

/// `sim load`.
#[derive(Debug, Args)]
pub(super) struct LoadArgs {
    /// The scenario whose traffic to send (and whose originators' tokens `--keys` holds).
    file: PathBuf,
    /// The payer API, `http://127.0.0.1:PORT` (what `sim serve` printed).
    #[arg(long)]
    target: String,
    /// The key file the server was started with (the originators' API tokens).
    #[arg(long)]
    keys: PathBuf,
    /// Scenario time runs this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// Every flow's rate times this.
    #[arg(long, default_value_t = 1.0)]
    rate_multiplier: f64,
    /// The scenario hour (from its start) the run begins at.
    #[arg(long, default_value_t = 0)]
    start_hour: u32,
    /// Real seconds to send for.
    #[arg(long, default_value_t = 60)]
    duration_s: u64,
    /// Connections to the API.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Requests waiting or in flight at most; beyond it a request is dropped and counted.
    #[arg(long, default_value_t = 100_000)]
    in_flight_max: usize,
    /// Instead of the scenario's schedule: this many requests per second of `--request`.
    #[arg(long, requires = "request")]
    rate: Option<f64>,
    /// A JSON request body for `--rate`: the letter n in braces becomes each request's number,
    /// so that idempotency keys differ
    #[arg(long, requires = "rate")]
    request: Option<PathBuf>,
    /// The originator whose token `--rate` requests carry.
    #[arg(long, default_value = "kh_bank_0")]
    originator: String,
    /// Also check the simulator's prediction against what was measured (`model-check.md`):
    /// the server must run with `--no-far-delays`
    #[arg(long)]
    model_check: bool,
    /// The report folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `sim load`'s progress on standard error: a bar on a terminal, else a plain line at every
/// tenth of the run, without carriage returns.
struct LoadProgress {
    bar: Option<indicatif::ProgressBar>,
    duration_s: u64,
    tenths_shown: u64,
}

impl LoadProgress {
    fn new(duration_s: u64) -> LoadProgress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(duration_s.max(1) * 10);
            let style = indicatif::ProgressStyle::with_template("[{bar:30}] {percent:>3}%  {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        LoadProgress { bar, duration_s: duration_s.max(1), tenths_shown: 0 }
    }

    fn update(&mut self, p: &crate::load::generate::Progress) {
        let text = format!(
            "{:>6.1} s  sent {}  answered {}  dropped {}",
            p.at.as_secs_f64(),
            p.sent,
            p.answered,
            p.dropped
        );
        let tenths_s = (p.at.as_secs_f64() * 10.0) as u64;
        if let Some(bar) = &self.bar {
            bar.set_position(tenths_s.min(self.duration_s * 10));
            bar.set_message(text);
        } else {
            let tenths = (tenths_s / self.duration_s).min(10);
            if tenths > self.tenths_shown {
                self.tenths_shown = tenths;
                eprintln!("load: {:>3} %  {text}", tenths * 10);
            }
        }
    }

    /// The schedule is over: the bar ends at 100 %.
    fn finish(&self) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.duration_s * 10);
                bar.finish();
            }
            None => eprintln!("load: 100 %  sent; writing the report"),
        }
    }
}

/// Refuses options out of their limits, before anything is read or written.
fn check_load_args(args: &LoadArgs) -> anyhow::Result<()> {
    use crate::load::generate;
    anyhow::ensure!(
        !args.model_check || args.rate.is_none(),
        "--model-check compares with the scenario's traffic: leave out --rate"
    );
    anyhow::ensure!(
        args.speedup.is_finite() && args.speedup > 0.0 && args.speedup <= 1e6,
        "--speedup must be above 0 and at most 1000000"
    );
    anyhow::ensure!(
        args.rate_multiplier.is_finite()
            && args.rate_multiplier > 0.0
            && args.rate_multiplier <= 1e4,
        "--rate-multiplier must be above 0 and at most 10000"
    );
    anyhow::ensure!(
        (1..=generate::DURATION_S_MAX).contains(&args.duration_s),
        "--duration-s must be 1 to {}",
        generate::DURATION_S_MAX
    );
    anyhow::ensure!(
        (1..=generate::CONNECTIONS_MAX).contains(&args.connections),
        "--connections must be 1 to {}",
        generate::CONNECTIONS_MAX
    );
    anyhow::ensure!(args.in_flight_max >= 1, "--in-flight-max must be at least 1");
    Ok(())
}

pub(super) fn load_run(args: LoadArgs) -> anyhow::Result<Outcome> {
    use crate::load::generate;
    check_load_args(&args)?;
    let scenario = network(&args.file)?;
    let keys = read_keys(&args.keys)?;
    generate::target_addr(&args.target)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reports/{}-load", scenario.meta.name)));
    let target = super::run::prepare(&out)?;
    let run_id = format!(
        "load-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let (schedule, mode) = schedule_of(&args, &scenario, &keys, &run_id)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let before = match args.model_check {
        true => Some(runtime.block_on(scrape(&args.target))?),
        false => None,
    };
    let cpu_before = crate::load::model::process_cpu_seconds().unwrap_or(0.0);
    let mut view = LoadProgress::new(args.duration_s);
    let measured = runtime.block_on(generate::run(
        &args.target,
        args.connections,
        args.in_flight_max,
        schedule,
        crate::record::measured::MeasuredSeries::new(
            scenario.meta.name.clone(),
            scenario.meta.seed,
            args.duration_s,
        ),
        |p| view.update(&p),
    ))?;
    let metrics_text = runtime
        .block_on(scrape(&args.target))
        .unwrap_or_else(|e| format!("# scraping {}/metrics failed: {e}\n", args.target));
    view.finish();
    let cpu_s = crate::load::model::process_cpu_seconds().unwrap_or(0.0) - cpu_before;
    let mut files = crate::load::generate::report_files(
        &measured,
        &crate::load::generate::ReportMeta {
            scenario: scenario.meta.name.clone(),
            seed: scenario.meta.seed,
            target: args.target.clone(),
            mode,
            run: run_id,
            connections: args.connections,
        },
        metrics_text.clone(),
    );
    files.extend(
        crate::report::measured::files(&measured.series)
            .map_err(|e| anyhow::anyhow!("drawing the load test's plots: {e}"))?,
    );
    if let Some(before) = before {
        files.push(model_check(&args, &scenario, &measured, &before, &metrics_text, cpu_s)?);
    }
    let writer = super::output::Writer {
        command: "load",
        scenario: Some(scenario.meta.name.clone()),
        seed: Some(scenario.meta.seed),
    };
    super::run::finish_writing(target, &writer, files, &out)?;
    let p = generate::percentiles_ms(&measured.latency_us);
    say!(
        "sent {} ({} dropped, {} failed) in {:.1} s; latency from the intended time p50 {:.1} ms, p99 {:.1} ms; report in {}",
        measured.sent,
        measured.dropped,
        measured.failed,
        measured.elapsed.as_secs_f64(),
        p["p50"],
        p["p99"],
        out.display()
    );
    Ok(Outcome::Success)
}

/// `model-check.md`: the scenario run by the simulator with the service times measured, its
/// latency per flow against the measured.
fn model_check(
    args: &LoadArgs,
    scenario: &crate::scenario::Scenario,
    measured: &crate::load::generate::Measured,
    before: &str,
    after: &str,
    generator_cpu_s: f64,
) -> anyhow::Result<crate::report::ReportFile> {
    use crate::load::model::{self, Inputs, Scrape};
    let parse = |t: &str| Scrape::parse(t).map_err(|e| anyhow::anyhow!("--model-check: {e}"));
    let inputs = Inputs::new(&parse(before)?, &parse(after)?, generator_cpu_s, args.speedup)
        .map_err(|e| anyhow::anyhow!("--model-check: {e}"))?;
    // The model covers the whole scenario hours the run sent.
    let start =
        crate::scenario::validate::instant(&scenario.meta.start).context("the scenario's start")?;
    let zone = crate::scenario::validate::zone_of(&scenario.meta.start).unwrap_or(Zone::UTC);
    let start = start
        .checked_add(Span::from_nanos(u64::from(args.start_hour) * 3_600_000_000_000))
        .context("the run's start")?;
    let hours = ((args.duration_s as f64 * args.speedup) / 3600.0).ceil().max(1.0) as u32;
    let sets = inputs.overrides(
        &rfc3339(start, zone),
        hours,
        scenario.load.multiplier * args.rate_multiplier,
    );
    let (file, _) = super::run::load(&args.file, &sets)?;
    let crate::scenario::ScenarioFile::Network(model) = file else {
        anyhow::bail!("--model-check needs a network scenario");
    };
    let record = crate::sim::world::World::new(&model, model.meta.seed)?
        .run(&mut |_| {})
        .map_err(|breach| anyhow::anyhow!("the model's run: invariant breach: {breach}"))?;
    let checks = model::compare(measured, &record, args.speedup);
    let offered =
        (measured.sent + measured.dropped) as f64 / measured.scheduled.as_secs_f64().max(1e-9);
    let command = format!(
        "sim run {}{}",
        args.file.display(),
        sets.iter().map(|s| format!(" \\\n  --set '{s}'")).collect::<String>()
    );
    for c in &checks {
        let e = c.errors();
        say!(
            "model check {}: p50 {:+.1} %, p99 {:+.1} % ({})",
            c.flow,
            e[0] * 100.0,
            e[1] * 100.0,
            if c.within() { "within" } else { "outside" }
        );
    }
    Ok(crate::report::ReportFile {
        path: "model-check.md".into(),
        bytes: model::markdown(&inputs, offered, &checks, &command).into_bytes(),
    })
}

/// An instant as an RFC 3339 date-time in `zone` (whole minutes).
fn rfc3339(t: Timestamp, zone: Zone) -> String {
    let date = t.date_at(zone);
    let local_s = t.as_nanos() / 1_000_000_000;
    let offset_s = i64::from(zone.offset_minutes) * 60;
    let secs = (local_s as i64 + offset_s).rem_euclid(86_400);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let sign = if zone.offset_minutes < 0 { '-' } else { '+' };
    let off = zone.offset_minutes.unsigned_abs();
    format!("{date}T{h:02}:{m:02}:{s:02}{sign}{:02}:{:02}", off / 60, off % 60)
}

async fn scrape(target: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = crate::load::generate::target_addr(target)?;
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut text = String::new();
    s.take(16 << 20).read_to_string(&mut text).await?;
    Ok(text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// The requests to send: a fixed rate of one template, or the scenario's traffic.
fn schedule_of(
    args: &LoadArgs,
    scenario: &crate::scenario::Scenario,
    keys: &KeyFile,
    run_id: &str,
) -> anyhow::Result<(Box<dyn crate::load::generate::Schedule>, String)> {
    use crate::load::generate::FixedRate;
    use crate::load::schedule::{ScenarioSchedule, ScheduleOptions};
    let duration = std::time::Duration::from_secs(args.duration_s);
    Ok(match (&args.rate, &args.request) {
        (Some(rate), Some(request)) => {
            anyhow::ensure!(
                rate.is_finite() && *rate > 0.0 && *rate <= 1e7,
                "--rate must be above 0 and at most 10000000"
            );
            let template = read_text(request, SMALL_INPUT_BYTES_MAX, "request")?;
            serde_json::from_str::<serde_json::Value>(&template.replace("{n}", "0"))
                .with_context(|| format!("request {}: not JSON", request.display()))?;
            let token = keys.tokens.get(&args.originator).with_context(|| {
                format!("--originator {}: no token in the key file", args.originator)
            })?;
            let template = template.replace("{n}", &format!("{run_id}-{{n}}"));
            (
                Box::new(FixedRate {
                    rate_per_s: *rate,
                    duration,
                    template,
                    token: token.as_str().into(),
                    n: 0,
                }),
                format!("fixed rate {rate}/s of {}", request.display()),
            )
        }
        _ => {
            let options = ScheduleOptions {
                speedup: args.speedup,
                multiplier: args.rate_multiplier,
                start_minute: u64::from(args.start_hour) * 60,
                duration,
                run: run_id.to_string(),
                tokens: keys.tokens.clone(),
            };
            let schedule = ScenarioSchedule::new(scenario, options)
                .map_err(|name| anyhow::anyhow!("the key file has no API token for {name}"))?;
            (
                Box::new(schedule),
                format!(
                    "scenario schedule, speed-up {} x, rates x {}, from hour {}",
                    args.speedup, args.rate_multiplier, args.start_hour
                ),
            )
        }
    })
}
