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

/// One headline figure: its key in files (`summary.json`, `headlines.csv`, `sweep.json`), and
/// how to read it from and write it into its headline. Counts are whole numbers held in an
/// `f64`, exact to 2^53.
pub struct Figure<T> {
    /// Its key, units last (`latency_ms_p99`).
    pub key: &'static str,
    /// Reads it.
    pub get: fn(&T) -> f64,
    /// Writes it (reading a file back).
    pub set: fn(&mut T, f64),
}

// By hand: the derive would ask `T: Copy`, and only the function pointers are copied.
impl<T> Clone for Figure<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Figure<T> {}

impl<T> Figure<T> {
    /// The figure with this key in `figures`.
    pub fn find(figures: &[Figure<T>], key: &str) -> Option<Figure<T>> {
        figures.iter().copied().find(|f| f.key == key)
    }
}

/// Peak throughput: payments offered (confirmed by their payers) and completed (a final state
/// other than abandoned, whatever the answer), per second, in the busiest second and in the
/// busiest minute of each (each count its own busiest).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Throughput {
    /// Offered in the busiest second.
    pub offered_per_s_peak_second: f64,
    /// Offered in the busiest minute, per second.
    pub offered_per_s_peak_minute: f64,
    /// Completed in the busiest second.
    pub completed_per_s_peak_second: f64,
    /// Completed in the busiest minute, per second.
    pub completed_per_s_peak_minute: f64,
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
    /// Its peak throughput.
    pub throughput: Throughput,
    /// Payments that ended reversed.
    pub reversed_count: u64,
    /// Payments waiting for manual handling (their reversal never got through).
    pub manual_count: u64,
}

impl FlowHeadline {
    /// A flow's headline with every figure zero (filled in as a file is read back).
    pub fn empty(flow: Flow) -> FlowHeadline {
        FlowHeadline {
            flow,
            payments_count: 0,
            latency_ms_p50: 0.0,
            latency_ms_p99: 0.0,
            approval_pct: 0.0,
            throughput: Throughput::default(),
            reversed_count: 0,
            manual_count: 0,
        }
    }
}

/// A count held in a figure's `f64`.
fn count(x: f64) -> u64 {
    if x.is_finite() && x >= 0.0 { x.round() as u64 } else { 0 }
}

/// The flow figures, in the order files write them (`payments_count` first: reading a file
/// back, it opens the flow's entry).
pub const FLOW_FIGURES: [Figure<FlowHeadline>; 10] = [
    Figure {
        key: "payments_count",
        get: |f| f.payments_count as f64,
        set: |f, x| f.payments_count = count(x),
    },
    Figure { key: "latency_ms_p50", get: |f| f.latency_ms_p50, set: |f, x| f.latency_ms_p50 = x },
    Figure { key: "latency_ms_p99", get: |f| f.latency_ms_p99, set: |f, x| f.latency_ms_p99 = x },
    Figure { key: "approval_pct", get: |f| f.approval_pct, set: |f, x| f.approval_pct = x },
    Figure {
        key: "offered_per_s_peak_second",
        get: |f| f.throughput.offered_per_s_peak_second,
        set: |f, x| f.throughput.offered_per_s_peak_second = x,
    },
    Figure {
        key: "offered_per_s_peak_minute",
        get: |f| f.throughput.offered_per_s_peak_minute,
        set: |f, x| f.throughput.offered_per_s_peak_minute = x,
    },
    Figure {
        key: "completed_per_s_peak_second",
        get: |f| f.throughput.completed_per_s_peak_second,
        set: |f, x| f.throughput.completed_per_s_peak_second = x,
    },
    Figure {
        key: "completed_per_s_peak_minute",
        get: |f| f.throughput.completed_per_s_peak_minute,
        set: |f, x| f.throughput.completed_per_s_peak_minute = x,
    },
    Figure {
        key: "reversed_count",
        get: |f| f.reversed_count as f64,
        set: |f, x| f.reversed_count = count(x),
    },
    Figure {
        key: "manual_count",
        get: |f| f.manual_count as f64,
        set: |f, x| f.manual_count = count(x),
    },
];

/// The figures of all flows together in one replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TotalHeadline {
    /// Payments created.
    pub payments_count: u64,
    /// Peak throughput of all flows together.
    pub throughput: Throughput,
    /// Payments that ended reversed.
    pub reversed_count: u64,
    /// Payments waiting for manual handling.
    pub manual_payments_count: u64,
    /// Reconciliation breaks sent to the manual queue (a different queue: records two files
    /// disagree on).
    pub manual_breaks_count: u64,
    /// Payments still in flight when the run stopped (zero when it drained).
    pub in_flight_count: u64,
    /// Payments created that are neither final nor in flight (the auditor stops a run with
    /// any, so a report always says zero).
    pub lost_count: u64,
}

/// The all-flows figures, in file order.
pub const TOTAL_FIGURES: [Figure<TotalHeadline>; 10] = [
    Figure {
        key: "payments_count",
        get: |t| t.payments_count as f64,
        set: |t, x| t.payments_count = count(x),
    },
    Figure {
        key: "offered_per_s_peak_second",
        get: |t| t.throughput.offered_per_s_peak_second,
        set: |t, x| t.throughput.offered_per_s_peak_second = x,
    },
    Figure {
        key: "offered_per_s_peak_minute",
        get: |t| t.throughput.offered_per_s_peak_minute,
        set: |t, x| t.throughput.offered_per_s_peak_minute = x,
    },
    Figure {
        key: "completed_per_s_peak_second",
        get: |t| t.throughput.completed_per_s_peak_second,
        set: |t, x| t.throughput.completed_per_s_peak_second = x,
    },
    Figure {
        key: "completed_per_s_peak_minute",
        get: |t| t.throughput.completed_per_s_peak_minute,
        set: |t, x| t.throughput.completed_per_s_peak_minute = x,
    },
    Figure {
        key: "reversed_count",
        get: |t| t.reversed_count as f64,
        set: |t, x| t.reversed_count = count(x),
    },
    Figure {
        key: "manual_payments_count",
        get: |t| t.manual_payments_count as f64,
        set: |t, x| t.manual_payments_count = count(x),
    },
    Figure {
        key: "manual_breaks_count",
        get: |t| t.manual_breaks_count as f64,
        set: |t, x| t.manual_breaks_count = count(x),
    },
    Figure {
        key: "in_flight_count",
        get: |t| t.in_flight_count as f64,
        set: |t, x| t.in_flight_count = count(x),
    },
    Figure { key: "lost_count", get: |t| t.lost_count as f64, set: |t, x| t.lost_count = count(x) },
];

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

/// The node figures, in file order (`utilisation_pct_mean` first: it opens the node's entry).
pub const NODE_FIGURES: [Figure<NodeHeadline>; 2] = [
    Figure {
        key: "utilisation_pct_mean",
        get: |n| n.utilisation_pct_mean,
        set: |n, x| n.utilisation_pct_mean = x,
    },
    Figure {
        key: "utilisation_pct_peak_minute",
        get: |n| n.utilisation_pct_peak_minute,
        set: |n, x| n.utilisation_pct_peak_minute = x,
    },
];

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
    /// All flows together.
    pub total: TotalHeadline,
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
    /// An all-flows figure over the replications.
    pub fn total_interval(&self, figure: fn(&TotalHeadline) -> f64) -> Interval {
        let values: Vec<f64> = self.replications.iter().map(|r| figure(&r.total)).collect();
        Interval::of(&values)
    }

    /// A flow's figure over the replications.
    pub fn flow_interval(&self, flow: Flow, figure: fn(&FlowHeadline) -> f64) -> Interval {
        Interval::of(&self.flow_values(flow, figure))
    }

    /// A flow's figure in each replication that carried the flow, in replication order.
    pub fn flow_values(&self, flow: Flow, figure: fn(&FlowHeadline) -> f64) -> Vec<f64> {
        self.replications
            .iter()
            .filter_map(|r| r.flows.iter().find(|f| f.flow == flow).map(figure))
            .collect()
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

    /// The flows of the first replication (every replication has the same).
    pub fn flows_present(&self) -> Vec<Flow> {
        self.replications
            .first()
            .map_or_else(Vec::new, |h| h.flows.iter().map(|f| f.flow).collect())
    }

    /// The nodes' names, in the run's order.
    pub fn node_names(&self) -> Vec<String> {
        self.replications
            .first()
            .map_or_else(Vec::new, |h| h.nodes.iter().map(|n| n.name.clone()).collect())
    }

    /// The node with the highest mean peak-minute utilisation, and that interval.
    pub fn busiest_node(&self) -> Option<(String, Interval)> {
        self.node_names()
            .into_iter()
            .map(|name| {
                let peak = self.node_interval(&name, |n| n.utilisation_pct_peak_minute);
                (name, peak)
            })
            .max_by(|a, b| a.1.mean.total_cmp(&b.1.mean).then(b.0.cmp(&a.0)))
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

/// One varied key's value at a load point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The dotted key.
    pub key: String,
    /// Its value, as written.
    pub value: String,
}

/// One load point: its values of the varied keys, in `--vary` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointValues {
    /// The keys and their values.
    pub values: Vec<KeyValue>,
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
    /// The key's value in the scenario as given (with its `--set`s), when it is a number.
    pub base: Option<f64>,
    /// How it was found, in words.
    pub rule: String,
}

impl Knee {
    /// How many times the scenario's own value of a load-like key the knee is: the headroom
    /// to plan on (`None` without both, or for a zero base).
    pub fn headroom_x(&self) -> Option<f64> {
        let (value, base) = (self.value?, self.base?);
        (base > 0.0).then(|| value / base)
    }
}
