//! Swarm fault campaigns (`sim swarm`): every seed draws its own storm, runs the network
//! through it, heals, and is checked.
//!
//! A seed's fault mix is a pure function of (scenario, seed), drawn from the seed's own
//! stream: each kind of fault is on or off by a fair draw, and when on its target, its time
//! and its strength are drawn within bounds the network can recover from. The mix becomes
//! `--set` overrides on the scenario (so a reader can replay it by hand with `sim run`), and
//! the scenario with them is validated like any file.
//!
//! Time has two phases. Faults that strike and pass (link outages, loss, duplication and
//! reordering; node crashes and stalls; the FX shock) fall in the first
//! [`FAULT_SHARE_PCT`] % of the arrivals; the rest of the arrivals and the drain are the
//! healing phase, with every one of them off. The day's conditions (UPI's clock skew, the
//! duplicate and late presentments in its file, the banks' liquidity cap, the reversal
//! attempts that fail) hold all day: they are not outages but what the checks must explain.
//!
//! The checks, in order: the auditor during the run (any breach stops it) and at the end,
//! with the reconciliation oracle; liveness (the run drained: every payment final, every
//! advice acknowledged or expired into manual handling); every reconciliation break
//! explained; and determinism (the seed run again gives byte-identical report files).
//! The swarm's windows and FX shocks replace the scenario's own.

use crate::payments::time::{Span, Timestamp};
use crate::record::Marks;
use crate::record::swarm::{Campaign, Fault, SeedOutcome, Verdict};
use crate::scenario::overrides::{Override, parse_file_with};
use crate::scenario::validate::{instant, links, nodes};
use crate::scenario::{Scenario, ScenarioFile};
use crate::sim::rng::Prng;
use crate::sim::world::{Sabotage, World};

use super::{StudyError, map_in_order};

/// Most seeds one campaign runs.
pub const SEEDS_MAX: u64 = 1_000_000;
/// The share of the arrivals' span in which faults strike, percent.
pub const FAULT_SHARE_PCT: u64 = 60;
/// The stream namespace of fault mixes (distinct from every entity's in a run).
const STREAM_SWARM: u64 = 0xC1 << 56;

/// A canary: a deliberate bug planted in the world, which the campaign must find.
pub struct Canary {
    /// Its name (`--canary NAME`).
    pub name: &'static str,
    /// What it breaks.
    pub means: &'static str,
    /// The switch that plants it.
    pub sabotage: Sabotage,
}

/// Every canary, each a bug the checks must catch.
pub const CANARIES: &[Canary] = &[
    Canary {
        name: "double_credit",
        means: "a duplicate request is credited again under a fresh id",
        sabotage: Sabotage { rebook_duplicates: true, ..Sabotage::NONE },
    },
    Canary {
        name: "lost_reversal_after_restart",
        means: "a crashed originator forgets the reversals it owed",
        sabotage: Sabotage { forget_reversals_on_restart: true, ..Sabotage::NONE },
    },
    Canary {
        name: "fee_to_wrong_account",
        means: "fees and spreads are booked to the next bank's fee income",
        sabotage: Sabotage { fee_to_other_bank: true, ..Sabotage::NONE },
    },
    Canary {
        name: "fx_rounded_up",
        means: "a conversion rounds the payee's amount up instead of toward zero",
        sabotage: Sabotage { round_fx_up: true, ..Sabotage::NONE },
    },
    Canary {
        name: "advice_dropped",
        means: "a node drops a store-and-forward reversal advice after a failed attempt",
        sabotage: Sabotage { drop_advice_on_retry: true, ..Sabotage::NONE },
    },
    Canary {
        name: "netting_twice",
        means: "a netting cycle's settlement is applied twice",
        sabotage: Sabotage { settle_cycles_twice: true, ..Sabotage::NONE },
    },
];

/// The canary named `name`.
pub fn canary(name: &str) -> Option<&'static Canary> {
    CANARIES.iter().find(|c| c.name == name)
}

/// A campaign's shape.
pub struct SwarmSpec<'a> {
    /// The scenario file's text.
    pub text: &'a str,
    /// `--set` overrides on every seed, before the fault mix.
    pub base: &'a [Override],
    /// The first seed and the last, inclusive.
    pub seeds: (u64, u64),
    /// Only the seeds at positions I mod N.
    pub shard: Option<(usize, usize)>,
    /// Threads.
    pub jobs: usize,
    /// A canary to plant in every seed.
    pub canary: Option<&'static Canary>,
}

/// A seed's fault mix: the faults in words and as `--set` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultMix {
    /// The faults.
    pub faults: Vec<Fault>,
    /// The `--set` arguments that make them.
    pub overrides: Vec<String>,
}

/// TOML for an instant (UTC; whole seconds).
fn toml_instant(at: Timestamp) -> String {
    let s = at.to_string();
    // `…T22:41:10.000Z`: TOML takes the fraction, but whole seconds read better.
    s.replace(".000Z", "Z")
}

/// `hh:mm:ss` of an instant in the scenario's zone, for the faults' words.
fn clock(at: Timestamp, zone_offset_minutes: i32) -> String {
    let local = at.as_nanos() as i128 + i128::from(zone_offset_minutes) * 60_000_000_000;
    let secs = (local / 1_000_000_000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A fault mix being drawn: the seed's stream, the fault phase, and what is drawn so far.
struct Mix {
    rng: Prng,
    start: Timestamp,
    zone_offset_minutes: i32,
    phase_s: u64,
    faults: Vec<Fault>,
    windows: Vec<String>,
    overrides: Vec<String>,
}

impl Mix {
    /// A fair draw: is the next kind of fault on?
    fn on(&mut self) -> bool {
        self.rng.below(2) == 0
    }

    /// A whole number in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.below(hi - lo + 1)
    }

    /// A percentage in `lo_permille..=hi_permille` thousandths, as an exact decimal.
    fn pct(&mut self, lo_permille: u64, hi_permille: u64) -> String {
        let x = self.int(lo_permille, hi_permille);
        format!("{}.{}", x / 10, x % 10)
    }

    /// One of `names`.
    fn pick(&mut self, names: &[&str]) -> String {
        names[self.rng.below(names.len() as u64) as usize].to_string()
    }

    /// A span of `d_min..=d_max` seconds inside the fault phase: from, to, seconds.
    fn span(&mut self, d_min: u64, d_max: u64) -> (Timestamp, Timestamp, u64) {
        let d = self.int(d_min, d_max);
        let from = self.rng.below(self.phase_s.saturating_sub(d).max(1));
        let at = |x: u64| self.start.checked_add(Span::from_secs(x)).expect("in the run");
        (at(from), at(from + d), d)
    }

    fn clock(&self, at: Timestamp) -> String {
        clock(at, self.zone_offset_minutes)
    }

    /// A window of the scenario's kind on `target`.
    fn window(
        &mut self,
        kind: &'static str,
        target: &str,
        d: (u64, u64),
        what: &str,
        settings: &str,
    ) {
        let (from, to, secs) = self.span(d.0, d.1);
        self.faults.push(Fault {
            kind,
            what: format!("{target} {what} for {secs} s from {}", self.clock(from)),
        });
        self.windows.push(format!(
            "{{ name = \"swarm_{kind}\", from = {}, to = {}, targets = [\"{target}\"], {settings} }}",
            toml_instant(from),
            toml_instant(to)
        ));
    }

    /// A day's condition: a fault in words and its `--set` arguments.
    fn condition(&mut self, kind: &'static str, what: String, sets: &[String]) {
        self.faults.push(Fault { kind, what });
        self.overrides.extend(sets.iter().cloned());
    }
}

/// Faults that strike and pass inside the fault phase: links, nodes, the FX shock.
fn strike_and_pass(m: &mut Mix, links: &[&str], nodes: &[&str]) {
    if m.on() {
        let link = m.pick(links);
        m.window("link_outage", &link, (10, 300), "down", "loss_pct = 100.0");
    }
    if m.on() {
        let (link, loss) = (m.pick(links), m.pct(5, 200));
        m.window(
            "link_loss",
            &link,
            (60, 1200),
            &format!("loses {loss} %"),
            &format!("loss_pct = {loss}"),
        );
    }
    if m.on() {
        let (link, dup) = (m.pick(links), m.pct(10, 300));
        let settings = format!("duplicate_pct = {dup}");
        m.window("link_duplication", &link, (60, 1200), &format!("duplicates {dup} %"), &settings);
    }
    if m.on() {
        let (link, x) = (m.pick(links), m.int(4, 20));
        let settings = format!("latency_median_x = 1.0, latency_p99_x = {x}.0");
        m.window(
            "link_reorder",
            &link,
            (60, 1200),
            &format!("reorders (p99 latency ×{x})"),
            &settings,
        );
    }
    if m.on() {
        let node = m.pick(nodes);
        m.window("node_crash", &node, (5, 240), "crashes", "crash = true");
    }
    if m.on() {
        let (node, x) = (m.pick(nodes), m.int(5, 50));
        let settings = format!("latency_median_x = {x}.0, latency_p99_x = {x}.0");
        m.window("node_stall", &node, (10, 180), &format!("stalls (service ×{x})"), &settings);
    }
    if m.on() {
        let (at, _, _) = m.span(0, 0);
        let pair = if m.on() { "USD/CNY" } else { "USD/KHR" };
        let magnitude = m.int(20, 200) as i64;
        let bps = if m.on() { magnitude } else { -magnitude };
        let what = format!("{pair} moves {bps} bps at {}", m.clock(at));
        let set = format!(
            "fx.shocks=[{{ at = {}, pair = \"{pair}\", move_bps = {bps} }}]",
            toml_instant(at)
        );
        m.condition("fx_shock", what, &[set]);
    }
}

/// The day's conditions: UPI's clock, the banks' liquidity, reversal attempts, UPI's file.
fn day_conditions(m: &mut Mix) {
    if m.on() {
        let ms = m.int(1_000, 300_000) as i64;
        let skew = if m.on() { ms } else { -ms };
        let set = format!("exceptions.scheme_clock_skew_ms={skew}");
        m.condition("clock_skew", format!("UPI's clock {skew} ms off"), &[set]);
    }
    if m.on() {
        let cap = m.int(2, 40);
        let what = format!("banks may owe {cap} % of their prefunding");
        m.condition("liquidity_squeeze", what, &[format!("liquidity.debit_cap_pct={cap}.0")]);
    }
    if m.on() {
        let fail = m.int(5, 50);
        let what = format!("{fail} % of reversal attempts fail");
        m.condition(
            "reversal_failures",
            what,
            &[format!("timeouts.reversal_attempt_fail_pct={fail}.0")],
        );
    }
    if m.on() {
        let (duplicate, late) = (m.int(5, 200), m.int(5, 200));
        let what = format!("UPI's file: {duplicate} duplicate and {late} late per 10,000");
        let sets = [
            format!("exceptions.duplicate={duplicate}.0"),
            format!("exceptions.late_presentment={late}.0"),
        ];
        m.condition("presentments", what, &sets);
    }
}

/// Draws the fault mix of `seed` for scenario `s`.
pub fn fault_mix(s: &Scenario, seed: u64) -> FaultMix {
    let zone_offset_minutes = s.meta.start.offset.map_or(0, |o| match o {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i32::from(minutes),
    });
    let mut m = Mix {
        rng: Prng::stream(seed, STREAM_SWARM),
        start: instant(&s.meta.start).expect("validated"),
        zone_offset_minutes,
        phase_s: u64::from(s.meta.duration_hours) * 3600 * FAULT_SHARE_PCT / 100,
        faults: Vec::new(),
        windows: Vec::new(),
        overrides: Vec::new(),
    };
    let links: Vec<&str> = links(s).iter().map(|l| l.0).collect();
    let nodes: Vec<&str> = nodes(s).iter().map(|n| n.0).collect();
    strike_and_pass(&mut m, &links, &nodes);
    day_conditions(&mut m);
    let mut overrides = vec![format!("windows=[{}]", m.windows.join(", "))];
    overrides.extend(m.overrides);
    FaultMix { faults: m.faults, overrides }
}

/// The report files a determinism check compares (fixed process facts).
fn texts(record: &crate::record::RunRecord) -> Vec<(String, Vec<u8>)> {
    let meta = crate::report::RunMeta {
        scenario_path: String::new(),
        scenario_hash: String::new(),
        overrides: Vec::new(),
        commit: String::new(),
        wall_seconds: 0.0,
        peak_rss_bytes: None,
    };
    crate::report::texts(record, &meta).into_iter().map(|f| (f.path, f.bytes)).collect()
}

/// One run of a seed: its record, or what broke (a breach, or a panic: an assertion that
/// stays on in release builds).
fn run_world(
    s: &Scenario,
    seed: u64,
    sabotage: Sabotage,
) -> Result<crate::record::RunRecord, String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        World::with_sabotage(s, seed, sabotage)
            .map_err(|e| e.to_string())
            .and_then(|w| w.run(&mut |_| {}).map_err(|b| b.to_string()))
    }));
    match run {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "a panic".into());
            Err(format!("panicked: {text}"))
        }
    }
}

/// The scenario of one seed: the base file, the base overrides, the seed's fault mix.
///
/// # Errors
/// The scenario error, when the base (or a drawn mix) is refused.
pub fn seed_scenario(
    text: &str,
    base: &[Override],
    seed: u64,
) -> Result<(Scenario, FaultMix), String> {
    let plain = match parse_file_with(text, base) {
        Ok(ScenarioFile::Network(s)) => *s,
        Ok(ScenarioFile::Mmc(_)) => return Err("swarm campaigns run network scenarios".into()),
        Err(e) => return Err(e.to_string()),
    };
    let mix = fault_mix(&plain, seed);
    let mut all = base.to_vec();
    for arg in &mix.overrides {
        all.push(Override::parse(arg).map_err(|e| e.to_string())?);
    }
    match parse_file_with(text, &all) {
        Ok(ScenarioFile::Network(s)) => Ok((*s, mix)),
        Ok(ScenarioFile::Mmc(_)) => Err("swarm campaigns run network scenarios".into()),
        Err(e) => Err(format!("the drawn mix was refused: {e}")),
    }
}

/// Runs one seed and checks it.
pub fn run_seed(
    text: &str,
    base: &[Override],
    seed: u64,
    sabotage: Sabotage,
) -> (SeedOutcome, Option<crate::record::RunRecord>) {
    let (s, mix) = match seed_scenario(text, base, seed) {
        Ok(x) => x,
        Err(e) => {
            let outcome = SeedOutcome {
                seed,
                faults: Vec::new(),
                overrides: Vec::new(),
                verdict: Verdict::Refused(e),
                marks: Marks::default(),
                payments_count: 0,
            };
            return (outcome, None);
        }
    };
    let first = run_world(&s, seed, sabotage);
    let second = run_world(&s, seed, sabotage);
    let mut outcome = SeedOutcome {
        seed,
        faults: mix.faults,
        overrides: mix.overrides,
        verdict: Verdict::Clean,
        marks: Marks::default(),
        payments_count: 0,
    };
    let record = match (first, second) {
        (Err(a), Err(b)) if a == b => {
            outcome.verdict = Verdict::Breach(a);
            return (outcome, None);
        }
        (Err(a), _) | (_, Err(a)) => {
            outcome.verdict = Verdict::Nondeterministic(format!("one run broke: {a}"));
            return (outcome, None);
        }
        (Ok(a), Ok(b)) => {
            let (ta, tb) = (texts(&a), texts(&b));
            if let Some(((name, _), _)) = ta.iter().zip(&tb).find(|(x, y)| x != y) {
                outcome.verdict =
                    Verdict::Nondeterministic(format!("{name} differs between two runs"));
            }
            a
        }
    };
    outcome.marks = record.marks;
    outcome.payments_count = record.audit_counts.payments_created_count;
    if outcome.verdict == Verdict::Clean {
        outcome.verdict = liveness(&record).unwrap_or(Verdict::Clean);
    }
    (outcome, Some(record))
}

/// Liveness and explanations, after healing.
fn liveness(r: &crate::record::RunRecord) -> Option<Verdict> {
    let c = r.audit_counts;
    if r.stop != crate::record::Stop::Drained {
        return Some(Verdict::NotLive(format!(
            "the run did not drain ({:?}): {} of {} payments final",
            r.stop, c.payments_final_count, c.payments_created_count
        )));
    }
    if c.payments_final_count != c.payments_created_count || c.payments_in_flight_count != 0 {
        return Some(Verdict::NotLive(format!(
            "{} of {} payments final",
            c.payments_final_count, c.payments_created_count
        )));
    }
    if r.breaks_unexplained_count > 0 {
        return Some(Verdict::Unexplained(format!(
            "{} of {} reconciliation breaks unexplained",
            r.breaks_unexplained_count,
            r.breaks.len()
        )));
    }
    if !r.netting_refusals.is_empty() {
        return Some(Verdict::Unexplained(format!(
            "{} netting chains refused",
            r.netting_refusals.len()
        )));
    }
    None
}

/// Runs a campaign, calling `done` (from worker threads) as each seed finishes. Failing seeds
/// keep their record for the report.
///
/// # Errors
/// [`StudyError::Limit`] for a seed range out of bounds, or one the base scenario refuses;
/// [`StudyError::TooBig`] and the others of [`super::check`].
pub fn campaign(
    spec: &SwarmSpec<'_>,
    done: &(dyn Fn(&SeedOutcome) + Sync),
) -> Result<(Campaign, Vec<crate::record::RunRecord>), StudyError> {
    let (from, to) = spec.seeds;
    if from > to || to - from >= SEEDS_MAX {
        return Err(StudyError::Limit(format!(
            "--seeds A..B: A at most B, at most {SEEDS_MAX} seeds"
        )));
    }
    let seeds: Vec<u64> = (from..=to)
        .enumerate()
        .filter(|(i, _)| spec.shard.is_none_or(|(k, n)| i % n == k))
        .map(|(_, s)| s)
        .collect();
    let (plain, _) = seed_scenario(spec.text, spec.base, from).map_err(StudyError::Limit)?;
    // Memory: the runs at once, each of the plain scenario (a fault mix adds no traffic).
    let at_once = spec.jobs.min(seeds.len()).clamp(1, super::JOBS_MAX);
    super::check(&plain, at_once as u32, spec.jobs)?;
    let sabotage = spec.canary.map_or(Sabotage::NONE, |c| c.sabotage);
    let results = map_in_order(seeds.len(), spec.jobs, |i| {
        let (outcome, record) = run_seed(spec.text, spec.base, seeds[i], sabotage);
        done(&outcome);
        let keep = outcome.verdict != Verdict::Clean;
        (outcome, record.filter(|_| keep))
    });
    let mut outcomes = Vec::with_capacity(results.len());
    let mut kept = Vec::new();
    for (o, r) in results {
        outcomes.push(o);
        kept.extend(r);
    }
    Ok((
        Campaign {
            scenario: plain.meta.name.clone(),
            seeds_from: from,
            seeds_to: to,
            shard: spec.shard,
            canary: spec.canary.map(|c| c.name),
            seeds: outcomes,
        },
        kept,
    ))
}

/// A campaign read back from its `swarm.json` (the shards of one campaign, for merging).
///
/// # Errors
/// What is missing or malformed, by key.
pub fn read(json: &str) -> Result<Campaign, String> {
    let j: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("swarm.json: {e}"))?;
    let u = |v: &serde_json::Value, key: &str| {
        v[key].as_u64().ok_or_else(|| format!("swarm.json: {key} is not a whole number"))
    };
    let canary = match j["canary"].as_str() {
        Some(name) => Some(canary(name).ok_or_else(|| format!("unknown canary {name}"))?.name),
        None => None,
    };
    let mut seeds = Vec::new();
    for s in j["seeds"].as_array().ok_or("swarm.json: seeds is not a list")? {
        let seed = u(s, "seed")?;
        let at = |what: &str| format!("swarm.json: seed {seed}: {what}");
        let verdict = Verdict::from_name(s["verdict"].as_str().unwrap_or(""), s["detail"].as_str())
            .ok_or_else(|| at("unknown verdict"))?;
        let mut faults = Vec::new();
        for f in s["faults"].as_array().ok_or_else(|| at("faults is not a list"))? {
            let kind = f["kind"].as_str().unwrap_or("");
            let kind = crate::record::swarm::FAULT_KINDS
                .iter()
                .find(|k| **k == kind)
                .ok_or_else(|| at(&format!("unknown fault kind {kind:?}")))?;
            faults.push(Fault { kind, what: f["what"].as_str().unwrap_or("").to_string() });
        }
        let overrides = s["overrides"]
            .as_array()
            .ok_or_else(|| at("overrides is not a list"))?
            .iter()
            .map(|o| o.as_str().map(str::to_string).ok_or_else(|| at("an override is not text")))
            .collect::<Result<Vec<String>, String>>()?;
        let mut marks = Marks::default();
        for m in crate::record::MARKS {
            (m.set)(&mut marks, u(&s["marks"], m.name).map_err(|e| at(&e))?);
        }
        marks.crash_lost_count = u(s, "crash_lost_messages")?;
        let payments_count = u(s, "payments")?;
        seeds.push(SeedOutcome { seed, faults, overrides, verdict, marks, payments_count });
    }
    let shard = match &j["shard"] {
        serde_json::Value::Null => None,
        v => Some((u(v, "index")? as usize, u(v, "count")? as usize)),
    };
    Ok(Campaign {
        scenario: j["scenario"].as_str().ok_or("swarm.json: scenario is not text")?.to_string(),
        seeds_from: u(&j, "seeds_from")?,
        seeds_to: u(&j, "seeds_to")?,
        shard,
        canary,
        seeds,
    })
}

/// The shards of one campaign as the whole: every shard of the same seed range and canary,
/// each once, the seeds in order.
///
/// # Errors
/// Shards of different campaigns, a shard twice or missing, a seed twice.
pub fn merge(shards: Vec<Campaign>) -> Result<Campaign, String> {
    let first = shards.first().ok_or("no shards")?;
    let (scenario, from, to, canary) =
        (first.scenario.clone(), first.seeds_from, first.seeds_to, first.canary);
    let count = first.shard.map_or(1, |(_, n)| n);
    let mut seen = vec![false; count];
    let mut seeds = Vec::new();
    for c in shards {
        if (c.scenario.as_str(), c.seeds_from, c.seeds_to, c.canary)
            != (scenario.as_str(), from, to, canary)
        {
            return Err(format!(
                "shards of different campaigns: {} seeds {}..{} and {scenario} seeds {from}..{to}",
                c.scenario, c.seeds_from, c.seeds_to
            ));
        }
        let (i, n) = c.shard.unwrap_or((0, 1));
        if n != count || seen[i] {
            return Err(format!("shard {i}/{n} is given twice or does not fit {count} shards"));
        }
        seen[i] = true;
        seeds.extend(c.seeds);
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("shard {i}/{count} is missing"));
    }
    seeds.sort_by_key(|s| s.seed);
    if let Some(w) = seeds.windows(2).find(|w| w[0].seed == w[1].seed) {
        return Err(format!("seed {} is in two shards", w[0].seed));
    }
    Ok(Campaign { scenario, seeds_from: from, seeds_to: to, shard: None, canary, seeds })
}
