//! Sweeps: a grid of load points (each a set of `--set` overrides) times replications, and the
//! knee: the highest value of a load-like key at which every SLO holds in every replication.
//!
//! Every point runs the same replication seeds (common random numbers), so two points differ
//! by their parameters, not by their luck. Tasks are (point, replication) pairs run on J
//! threads in task order; a shard `I/N` runs the points whose index is `I` modulo `N`, and
//! merging the shards' points gives the whole sweep.

use super::{StudyError, check, map_in_order, replication_seeds, run_one};
use crate::record::study::{
    Headline, KeyValue, Knee, Point, PointValues, Replications, Sweep, Vary,
};
use crate::scenario::overrides::{Override, OverrideError, parse_file_with};
use crate::scenario::{Scenario, ScenarioError, ScenarioFile};

/// Most points a sweep's grid may have.
pub const POINTS_MAX: usize = 10_000;
/// Most bisection steps of a knee search.
pub const KNEE_STEPS_MAX: u32 = 40;

/// Parses `KEY=V1,V2,...` (a value may be any TOML value without a top-level comma).
///
/// # Errors
/// [`OverrideError`] naming the argument.
pub fn parse_vary(arg: &str) -> Result<Vary, OverrideError> {
    let fail = |m: &str| OverrideError { arg: arg.to_string(), message: m.to_string() };
    let (key, values) = arg.split_once('=').ok_or_else(|| fail("expected KEY=V1,V2,..."))?;
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(fail("an empty value"));
    }
    // The key must be one an override accepts.
    Override::parse(&format!("{key}={}", values[0])).map_err(|e| fail(&e.message))?;
    Ok(Vary { key: key.trim().to_string(), values })
}

/// The overrides that make this point, after the command's own `--set`s.
fn point_overrides(p: &PointValues, base: &[Override]) -> Result<Vec<Override>, OverrideError> {
    let mut all = base.to_vec();
    for KeyValue { key: k, value: v } in &p.values {
        all.push(Override::parse(&format!("{k}={v}"))?);
    }
    Ok(all)
}

/// The grid of `vary`: every combination, the first key varying slowest.
pub fn grid(vary: &[Vary]) -> Vec<PointValues> {
    let mut points = vec![PointValues { values: Vec::new() }];
    for v in vary {
        points = points
            .into_iter()
            .flat_map(|p| {
                v.values.iter().map(move |value| {
                    let mut values = p.values.clone();
                    values.push(KeyValue { key: v.key.clone(), value: value.clone() });
                    PointValues { values }
                })
            })
            .collect();
    }
    points
}

/// A bad sweep argument or point.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// An argument.
    #[error(transparent)]
    Argument(#[from] OverrideError),
    /// A point's scenario is not valid.
    #[error("point {point}: {error}")]
    Point {
        /// `KEY=VALUE, ...`.
        point: String,
        /// What is wrong.
        error: ScenarioError,
    },
    /// The study.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// A limit of the sweep.
    #[error("{0}")]
    Limit(String),
}

fn describe(p: &PointValues) -> String {
    let parts: Vec<String> = p.values.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect();
    parts.join(", ")
}

/// The scenario of one point, validated.
fn point_scenario(text: &str, base: &[Override], p: &PointValues) -> Result<Scenario, SweepError> {
    let overrides = point_overrides(p, base)?;
    match parse_file_with(text, &overrides) {
        Ok(ScenarioFile::Network(s)) => Ok(*s),
        Ok(ScenarioFile::Mmc(_)) => {
            Err(SweepError::Limit("sweeps run network scenarios, not [mmc] ones".into()))
        }
        Err(error) => Err(SweepError::Point { point: describe(p), error }),
    }
}

/// Runs `points` (with their grid indexes) × `n` replications on `jobs` threads.
fn run_points(
    text: &str,
    base: &[Override],
    points: &[(usize, PointValues)],
    seed: u64,
    n: u32,
    jobs: usize,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Point>, SweepError> {
    let scenarios: Vec<Scenario> =
        points.iter().map(|(_, p)| point_scenario(text, base, p)).collect::<Result<_, _>>()?;
    for s in &scenarios {
        check(s, n, jobs)?;
    }
    let seeds = replication_seeds(seed, n);
    let per = n as usize;
    let results = map_in_order(points.len() * per, jobs, |t| {
        let (pi, ri) = (t / per, t % per);
        let run = run_one(&scenarios[pi], ri, seeds[ri]);
        done(t + 1, points.len() * per);
        run
    });
    let mut headlines = results.into_iter();
    let mut out = Vec::new();
    for ((index, values), s) in points.iter().zip(&scenarios) {
        let replications: Vec<Headline> =
            headlines.by_ref().take(per).collect::<Result<_, StudyError>>()?;
        out.push(Point {
            index: *index,
            values: values.clone(),
            runs: Replications { scenario: s.meta.name.clone(), seed, replications },
        });
    }
    Ok(out)
}

/// The sweep's shape.
#[derive(Clone, Debug)]
pub struct SweepSpec<'a> {
    /// The scenario file's text.
    pub text: &'a str,
    /// The command's own `--set`s, applied before each point's values.
    pub base: &'a [Override],
    /// The base seed.
    pub seed: u64,
    /// Replications per point.
    pub replications: u32,
    /// Threads.
    pub jobs: usize,
}

/// Runs the grid of `vary` (or its shard `I/N`).
///
/// # Errors
/// [`SweepError`]: every point is validated before any runs.
pub fn sweep(
    spec: &SweepSpec<'_>,
    vary: &[Vary],
    shard: Option<(usize, usize)>,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Sweep, SweepError> {
    let all = grid(vary);
    if all.len() > POINTS_MAX {
        return Err(SweepError::Limit(format!(
            "{} points, more than {POINTS_MAX}: vary fewer values",
            all.len()
        )));
    }
    if let Some((i, n)) = shard
        && (n == 0 || i >= n)
    {
        return Err(SweepError::Limit(format!("--shard {i}/{n}: I must be below N")));
    }
    let mine: Vec<(usize, PointValues)> = all
        .iter()
        .cloned()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(k, n)| i % n == k))
        .collect();
    // Every point of the whole grid is checked, so a bad value fails every shard alike.
    for p in &all {
        point_scenario(spec.text, spec.base, p)?;
    }
    let points =
        run_points(spec.text, spec.base, &mine, spec.seed, spec.replications, spec.jobs, done)?;
    let scenario = point_scenario(spec.text, spec.base, &all[0])?.meta.name;
    Ok(Sweep {
        scenario,
        seed: spec.seed,
        replications: spec.replications,
        vary: vary.to_vec(),
        points,
        points_total: all.len(),
        shard,
        knee: None,
    })
}

/// Formats a knee search's value for an override: integers stay integers.
fn value_text(x: f64, integer: bool) -> String {
    if integer { format!("{}", x.round() as i64) } else { format!("{x}") }
}

/// A knee search's range: `LO..HI`, whole numbers when both are written as integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KneeRange {
    /// The low end, where the SLOs should hold.
    pub lo: f64,
    /// The high end.
    pub hi: f64,
    /// Search whole numbers only (the key is a count, such as servers).
    pub integer: bool,
}

impl KneeRange {
    /// Parses `LO..HI`.
    pub fn parse(text: &str) -> Option<KneeRange> {
        let (lo, hi) = text.split_once("..")?;
        let (lo, hi) = (lo.trim(), hi.trim());
        let integer = [lo, hi].iter().all(|t| t.parse::<i64>().is_ok());
        Some(KneeRange { lo: lo.parse().ok()?, hi: hi.parse().ok()?, integer })
    }
}

/// Searches `key` between `lo` and `hi` by bisection for the highest value at which every
/// SLO holds in every replication, in at most `steps` halvings (integer keys stop at 1).
///
/// # Errors
/// [`SweepError`].
pub fn find_knee(
    spec: &SweepSpec<'_>,
    key: &str,
    range: KneeRange,
    steps: u32,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Sweep, SweepError> {
    let KneeRange { lo, hi, integer } = range;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) || steps == 0 || steps > KNEE_STEPS_MAX {
        return Err(SweepError::Limit(format!(
            "--find-knee {key}={lo}..{hi}: LO below HI, both finite; 1 to {KNEE_STEPS_MAX} steps"
        )));
    }
    let mut evaluated: Vec<Point> = Vec::new();
    let mut evaluate = |x: f64| -> Result<bool, SweepError> {
        let values = PointValues {
            values: vec![KeyValue { key: key.to_string(), value: value_text(x, integer) }],
        };
        let index = evaluated.len();
        let mut point = run_points(
            spec.text,
            spec.base,
            &[(index, values)],
            spec.seed,
            spec.replications,
            spec.jobs,
            done,
        )?;
        let p = point.remove(0);
        let pass = p.runs.slo_pass_count() == p.runs.replications.len();
        evaluated.push(p);
        Ok(pass)
    };
    let (mut good, mut bad) = (lo, hi);
    let value = if !evaluate(lo)? {
        None
    } else if evaluate(hi)? {
        Some(hi)
    } else {
        for _ in 0..steps {
            // Midpoints to nine decimals, so that values print as written (1.771875, not
            // 1.7718749999999999).
            let mid = if integer {
                ((good + bad) / 2.0).floor()
            } else {
                ((good + bad) / 2.0 * 1e9).round() / 1e9
            };
            if (integer && bad - good <= 1.0) || mid <= good {
                break;
            }
            if evaluate(mid)? {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Some(good)
    };
    let n = spec.replications;
    let rule = match value {
        None => format!("every SLO did not hold in all {n} replications even at {key} = {lo}"),
        Some(v) if v == hi => {
            format!("every SLO held in all {n} replications up to {key} = {hi}: the knee is higher")
        }
        Some(v) => format!(
            "the highest {key} at which every SLO held in all {n} replications, by bisection \
             between {lo} and {hi}: it held at {v} and not at {bad}"
        ),
    };
    evaluated.sort_by(|a, b| {
        let x = |p: &Point| p.values.values[0].value.parse::<f64>().unwrap_or(f64::NAN);
        x(a).total_cmp(&x(b))
    });
    for (i, p) in evaluated.iter_mut().enumerate() {
        p.index = i;
    }
    let scenario = evaluated.first().map_or_else(String::new, |p| p.runs.scenario.clone());
    let vary = vec![Vary {
        key: key.to_string(),
        values: evaluated.iter().map(|p| p.values.values[0].value.clone()).collect(),
    }];
    Ok(Sweep {
        scenario,
        seed: spec.seed,
        replications: n,
        vary,
        points_total: evaluated.len(),
        points: evaluated,
        shard: None,
        knee: Some(Knee { key: key.to_string(), value, base: knee_base(spec, key)?, rule }),
    })
}

/// The scenario's own value of a knee search's key when the key scales the load (so that the
/// knee over it is the headroom): as the file (and its `--set`s) say, or the default of
/// `load.multiplier` when the file has no `[load]`. `None` for other keys (servers, say).
fn knee_base(spec: &SweepSpec<'_>, key: &str) -> Result<Option<f64>, SweepError> {
    let load_like =
        key == "load.multiplier" || (key.starts_with("flows.") && key.ends_with(".daily_payments"));
    if !load_like {
        return Ok(None);
    }
    if let Some(x) = crate::scenario::overrides::number_at(spec.text, spec.base, key) {
        return Ok(Some(x));
    }
    let as_given = point_scenario(spec.text, spec.base, &PointValues { values: Vec::new() })?;
    Ok((key == "load.multiplier").then_some(as_given.load.multiplier))
}

/// Merges shards of one sweep into the whole.
///
/// # Errors
/// A description of what does not fit: different sweeps, a point twice or missing.
pub fn merge(shards: Vec<Sweep>) -> Result<Sweep, String> {
    let mut shards = shards.into_iter();
    let Some(mut whole) = shards.next() else { return Err("nothing to merge".into()) };
    for s in shards {
        let same = s.scenario == whole.scenario
            && s.seed == whole.seed
            && s.replications == whole.replications
            && s.vary == whole.vary
            && s.points_total == whole.points_total
            && s.knee.is_none()
            && whole.knee.is_none();
        if !same {
            return Err("the folders are not shards of one sweep (scenario, seed, replications \
                        or --vary differ, or one is a knee search)"
                .into());
        }
        whole.points.extend(s.points);
    }
    whole.points.sort_by_key(|p| p.index);
    if let Some(w) = whole.points.windows(2).find(|w| w[0].index == w[1].index) {
        return Err(format!("point {} is in two folders", w[0].index));
    }
    if whole.points.len() != whole.points_total {
        let have: Vec<usize> = whole.points.iter().map(|p| p.index).collect();
        let missing: Vec<String> =
            (0..whole.points_total).filter(|i| !have.contains(i)).map(|i| i.to_string()).collect();
        return Err(format!("points missing: {} (a shard was not given)", missing.join(", ")));
    }
    whole.shard = None;
    Ok(whole)
}

/// Reads a sweep folder back from its `sweep.json` and `headlines.csv` (for `sim merge`).
///
/// # Errors
/// What is missing or malformed, in words.
pub fn read(sweep_json: &str, headlines_csv: &str) -> Result<Sweep, String> {
    let j: serde_json::Value =
        serde_json::from_str(sweep_json).map_err(|e| format!("sweep.json: {e}"))?;
    let text = |v: &serde_json::Value, what: &str| {
        v.as_str().map(str::to_string).ok_or_else(|| format!("sweep.json: {what} is not text"))
    };
    let number = |v: &serde_json::Value, what: &str| {
        v.as_u64().ok_or_else(|| format!("sweep.json: {what} is not a whole number"))
    };
    if !j["knee"].is_null() {
        return Err("a knee search is one folder; only a sweep's shards merge".into());
    }
    let vary: Vec<Vary> = j["vary"]
        .as_array()
        .ok_or("sweep.json: no vary")?
        .iter()
        .map(|v| {
            let texts = v["texts"].as_array().ok_or("sweep.json: vary without texts")?;
            Ok(Vary {
                key: text(&v["key"], "vary.key")?,
                values: texts.iter().map(|t| text(t, "vary.texts")).collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<_, String>>()?;
    let all = grid(&vary);
    let shard = match &j["shard"] {
        serde_json::Value::Null => None,
        s => Some((
            number(&s["index"], "shard.index")? as usize,
            number(&s["count"], "shard.count")? as usize,
        )),
    };
    let seed = number(&j["seed"], "seed")?;
    let scenario = text(&j["scenario"], "scenario")?;
    let mut points: Vec<Point> = Vec::new();
    let mut reader = csv::Reader::from_reader(headlines_csv.as_bytes());
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("headlines.csv: {e}"))?;
        let field = |i: usize| row.get(i).unwrap_or("");
        let bad = |what: &str| format!("headlines.csv line {}: bad {what}", line + 2);
        let point: usize = field(0).parse().map_err(|_| bad("point"))?;
        let replication: usize = field(1).parse().map_err(|_| bad("replication"))?;
        if point >= all.len() {
            return Err(bad("point (beyond the grid)"));
        }
        if points.last().is_none_or(|p| p.index != point) {
            points.push(Point {
                index: point,
                values: all[point].clone(),
                runs: Replications { scenario: scenario.clone(), seed, replications: Vec::new() },
            });
        }
        let runs = &mut points.last_mut().expect("pushed").runs.replications;
        if runs.len() == replication {
            runs.push(Headline {
                seed: field(2).parse().map_err(|_| bad("seed"))?,
                complete: field(3) == "true",
                total: Default::default(),
                flows: Vec::new(),
                nodes: Vec::new(),
                slos: Vec::new(),
                events_count: field(4).parse().map_err(|_| bad("events"))?,
            });
        }
        let h = runs.get_mut(replication).ok_or_else(|| bad("replication order"))?;
        let (kind, name, key, value) = (field(5), field(6), field(7), field(8));
        apply_row(h, [kind, name, key, value]).map_err(|what| bad(&what))?;
    }
    Ok(Sweep {
        scenario,
        seed,
        replications: number(&j["replications"], "replications")? as u32,
        vary,
        points,
        points_total: number(&j["points_total"], "points_total")? as usize,
        shard,
        knee: None,
    })
}

/// One `headlines.csv` row's figure into its replication's headline: `[kind, name, field,
/// value]`. Each flow's rows start with its count, each node's with its mean, each SLO's with
/// its threshold, which opens a new entry even when a name repeats.
fn apply_row(h: &mut Headline, [kind, name, key, value]: [&str; 4]) -> Result<(), String> {
    use crate::payments::party::Flow;
    use crate::record::study::{
        FLOW_FIGURES, Figure, FlowHeadline, NODE_FIGURES, NodeHeadline, SloHeadline, TOTAL_FIGURES,
    };
    let float = || value.parse::<f64>().map_err(|_| String::from("value"));
    match kind {
        "total" => {
            let f = Figure::find(&TOTAL_FIGURES, key).ok_or("total field")?;
            (f.set)(&mut h.total, float()?);
        }
        "flow" => {
            let flow = Flow::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| String::from("flow"))?;
            let figure = Figure::find(&FLOW_FIGURES, key).ok_or("flow field")?;
            // Each flow's rows start with its count, each node's with its mean, each SLO's
            // with its threshold: a new entry even if the name repeats.
            if key == FLOW_FIGURES[0].key || h.flows.last().is_none_or(|f| f.flow != flow) {
                h.flows.push(FlowHeadline::empty(flow));
            }
            (figure.set)(h.flows.last_mut().expect("pushed"), float()?);
        }
        "node" => {
            let figure = Figure::find(&NODE_FIGURES, key).ok_or("node field")?;
            if key == NODE_FIGURES[0].key || h.nodes.last().is_none_or(|n| n.name != name) {
                h.nodes.push(NodeHeadline {
                    name: name.to_string(),
                    utilisation_pct_mean: 0.0,
                    utilisation_pct_peak_minute: 0.0,
                });
            }
            (figure.set)(h.nodes.last_mut().expect("pushed"), float()?);
        }
        "slo" => {
            if key == "threshold" || h.slos.last().is_none_or(|s| s.name != name) {
                h.slos.push(SloHeadline {
                    name: name.to_string(),
                    threshold: String::new(),
                    value: 0.0,
                    passed: false,
                });
            }
            let s = h.slos.last_mut().expect("pushed");
            match key {
                "threshold" => s.threshold = value.to_string(),
                "value" => s.value = float()?,
                "passed" => s.passed = value == "true",
                _ => return Err(String::from("slo field")),
            }
        }
        _ => return Err(String::from("kind")),
    }
    Ok(())
}
