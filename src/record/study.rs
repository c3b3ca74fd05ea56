//! What a capacity study produced: each replication's headline figures, and intervals over
//! them. A replication is one run with its own seed; its headline is what a capacity review
//! compares (per-flow latency and approval, per-node utilisation, the SLOs).

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::payments::party::Flow;

/// The 0.975 quantile of Student's t with `df` degrees of freedom: the factor of a two-sided
/// 95 % interval.
///
/// # Panics
/// If `df` is zero (an interval needs two replications; the callers require them).
pub fn t_975(df: usize) -> f64 {
    assert!(df > 0, "an interval needs at least two replications");
    StudentsT::new(0.0, 1.0, df as f64).expect("positive degrees of freedom").inverse_cdf(0.975)
}

/// A mean and its two-sided 95 % Student-t interval over independent replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The sample mean.
    pub mean: f64,
    /// The interval's lower end.
    pub lo: f64,
    /// The interval's upper end.
    pub hi: f64,
}

impl Interval {
    /// Over `values` (at least two; one value gives a zero-width interval at it).
    pub fn of(values: &[f64]) -> Interval {
        let n = values.len();
        if n == 0 {
            return Interval { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Interval { mean, lo: mean, hi: mean };
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_975(n - 1) * (variance / n as f64).sqrt();
        Interval { mean, lo: mean - half, hi: mean + half }
    }

    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    /// Whether `x` lies inside.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// One flow's headline figures in one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowHeadline {
    /// The flow.
    pub flow: Flow,
    /// Payments created.
    pub payments_count: u64,
    /// Approved payments' end-to-end latency, median, ms.
    pub latency_ms_p50: f64,
    /// Its 99th percentile, ms.
    pub latency_ms_p99: f64,
    /// Approved over answered, percent.
    pub approval_pct: f64,
}

/// One node's utilisation in one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeHeadline {
    /// Its name.
    pub name: String,
    /// Busy servers over the whole run (drain included), percent of its servers.
    pub utilisation_pct_mean: f64,
    /// The same in the busiest simulated minute.
    pub utilisation_pct_peak_minute: f64,
}

/// One SLO's value in one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct SloHeadline {
    /// Its name.
    pub name: String,
    /// `max X` or `min X`.
    pub threshold: String,
    /// What the run measured.
    pub value: f64,
    /// Whether it held.
    pub passed: bool,
}

/// One replication's headline figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Headline {
    /// Its seed.
    pub seed: u64,
    /// It drained (every payment final) rather than stopping at a limit.
    pub complete: bool,
    /// Per flow present, in flow order.
    pub flows: Vec<FlowHeadline>,
    /// Per node, in the run's node order.
    pub nodes: Vec<NodeHeadline>,
    /// Per SLO, in the scenario's order.
    pub slos: Vec<SloHeadline>,
    /// Events processed.
    pub events_count: u64,
}

impl Headline {
    /// Every SLO held.
    pub fn slo_pass(&self) -> bool {
        self.slos.iter().all(|s| s.passed)
    }
}

/// Independent replications of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Replications {
    /// The scenario's name.
    pub scenario: String,
    /// The base seed the replications' seeds derive from.
    pub seed: u64,
    /// Each replication, in replication order.
    pub replications: Vec<Headline>,
}

impl Replications {
    /// A flow's figure over the replications.
    pub fn flow_interval(&self, flow: Flow, figure: fn(&FlowHeadline) -> f64) -> Interval {
        let values: Vec<f64> = self
            .replications
            .iter()
            .filter_map(|r| r.flows.iter().find(|f| f.flow == flow).map(figure))
            .collect();
        Interval::of(&values)
    }

    /// A node's figure over the replications.
    pub fn node_interval(&self, name: &str, figure: fn(&NodeHeadline) -> f64) -> Interval {
        let values: Vec<f64> = self
            .replications
            .iter()
            .filter_map(|r| r.nodes.iter().find(|n| n.name == name).map(figure))
            .collect();
        Interval::of(&values)
    }

    /// The replications in which every SLO held.
    pub fn slo_pass_count(&self) -> usize {
        self.replications.iter().filter(|r| r.slo_pass()).count()
    }
}

/// One `--vary KEY=V1,V2,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vary {
    /// The dotted key.
    pub key: String,
    /// The values, as written.
    pub values: Vec<String>,
}

/// One load point: its values of the varied keys, in `--vary` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointValues {
    /// `(KEY, VALUE)` pairs.
    pub values: Vec<(String, String)>,
}

/// One point's replications.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Its index in the grid (or in the order a knee search evaluated it).
    pub index: usize,
    /// Its values.
    pub values: PointValues,
    /// Its replications.
    pub runs: Replications,
}

/// A sweep's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// The scenario's name.
    pub scenario: String,
    /// The base seed.
    pub seed: u64,
    /// Replications per point.
    pub replications: u32,
    /// What was varied.
    pub vary: Vec<Vary>,
    /// The points this folder holds, by index (all of them, or one shard's).
    pub points: Vec<Point>,
    /// All the grid's points, whether or not this folder holds them.
    pub points_total: usize,
    /// `(I, N)` when this is one shard of the sweep.
    pub shard: Option<(usize, usize)>,
    /// The knee, when the sweep searched for one.
    pub knee: Option<Knee>,
}

/// The result of a knee search.
#[derive(Clone, Debug, PartialEq)]
pub struct Knee {
    /// The key searched.
    pub key: String,
    /// The highest value found at which every SLO held in every replication; `None` when
    /// they fail at the low end already.
    pub value: Option<f64>,
    /// How it was found, in words.
    pub rule: String,
}
