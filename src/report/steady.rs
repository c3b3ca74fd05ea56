//! Steady-state figures: a warm-up cut from the start of the run, fixed by the scenario or
//! detected, and what latency and Little's law look like without it.
//!
//! Detection is MSER-5 (White, 1997) on the number of payments in flight at each minute's end:
//! the series is averaged in batches of five minutes, and the cut `d` (in batches, at most half
//! the series) that minimises the variance of the rest divided by its length squared is the
//! warm-up. A run that starts empty and fills quickly gets a short cut; one that never settles
//! gets a long one, which is itself a finding.

use hdrhistogram::Histogram;

use crate::record::{INTERVAL_MINUTES, NodeMinute, RunRecord, SparseHistogram};

/// Minutes per MSER batch.
const BATCH_MINUTES: usize = 5;

/// Where the warm-up cut came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmupSource {
    /// The scenario's `report.warmup_minutes`.
    Fixed,
    /// MSER-5 on payments in flight.
    Detected,
}

/// One flow after the warm-up.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyFlow {
    /// The flow's name.
    pub flow: &'static str,
    /// Approved payments answered after the cut.
    pub approved_count: u64,
    /// Latency percentiles of those, ms (2 significant digits).
    pub latency_ms: [f64; 3],
}

/// Little's law for one node over a span: L (mean in system), λ (throughput per second),
/// W (mean time in system, seconds), and |λW − L| / L.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Little {
    /// Mean number in the node.
    pub mean_in_system: f64,
    /// Requests served per second.
    pub throughput_per_s: f64,
    /// Mean time in the node, seconds.
    pub mean_time_in_system_s: f64,
    /// Relative error of L = λW, percent (0 when L is 0).
    pub error_pct: f64,
}

/// Steady-state figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Steady {
    /// The cut, minutes from the start.
    pub warmup_minutes: u64,
    /// Fixed or detected.
    pub source: WarmupSource,
    /// What MSER-5 detected (shown even when the scenario fixes the cut).
    pub detected_minutes: u64,
    /// The cut used for latency, rounded up to whole intervals.
    pub latency_cut_minutes: u64,
    /// Per flow.
    pub flows: Vec<SteadyFlow>,
    /// Per node: whole run, and after the cut.
    pub nodes: Vec<(String, Little, Little)>,
}

/// The MSER-5 truncation point of `series`, in minutes.
pub fn mser5(series: &[f64]) -> u64 {
    let batches: Vec<f64> = series
        .chunks_exact(BATCH_MINUTES)
        .map(|c| c.iter().sum::<f64>() / BATCH_MINUTES as f64)
        .collect();
    let n = batches.len();
    if n < 4 {
        return 0;
    }
    let mut best = (f64::INFINITY, 0);
    for d in 0..=n / 2 {
        let rest = &batches[d..];
        let m = rest.len() as f64;
        let mean = rest.iter().sum::<f64>() / m;
        let sse: f64 = rest.iter().map(|x| (x - mean).powi(2)).sum();
        let statistic = sse / (m * m);
        if statistic < best.0 {
            best = (statistic, d);
        }
    }
    (best.1 * BATCH_MINUTES) as u64
}

/// Little's law between two snapshots `span_s` seconds apart (departures: served and
/// discarded requests).
pub fn little(from: NodeMinute, to: NodeMinute, span_s: f64) -> Little {
    let l = (to.in_system_ns - from.in_system_ns) as f64 / (span_s * 1e9);
    let served =
        (to.served_count + to.discarded_count) - (from.served_count + from.discarded_count);
    let lambda = served as f64 / span_s;
    let w = if served == 0 {
        0.0
    } else {
        (to.sojourn_ns - from.sojourn_ns) as f64 / served as f64 / 1e9
    };
    let error_pct = if l > 0.0 { (lambda * w - l).abs() / l * 100.0 } else { 0.0 };
    Little { mean_in_system: l, throughput_per_s: lambda, mean_time_in_system_s: w, error_pct }
}

fn merged(intervals: &[SparseHistogram], from: usize) -> Option<Histogram<u64>> {
    let mut rest = intervals.iter().skip(from);
    let mut total = rest.next()?.histogram();
    for h in rest {
        total.add(h.histogram()).expect("same bounds");
    }
    Some(total)
}

/// Steady-state figures with the scenario's fixed warm-up, or the detected one.
pub fn steady(record: &RunRecord, fixed_minutes: Option<u64>) -> Steady {
    let minutes = record.minutes.first().map_or(0, Vec::len);
    let in_flight: Vec<f64> = (0..minutes)
        .map(|m| record.minutes.iter().map(|f| f64::from(f[m].in_flight)).sum())
        .collect();
    let detected_minutes = mser5(&in_flight);
    let (warmup_minutes, source) = match fixed_minutes {
        Some(m) => (m, WarmupSource::Fixed),
        None => (detected_minutes, WarmupSource::Detected),
    };
    let first_interval = warmup_minutes.div_ceil(INTERVAL_MINUTES) as usize;
    let flows = record
        .flows
        .iter()
        .map(|s| {
            let flow = s.flow;
            let h = merged(&s.intervals, first_interval);
            let q = |q: f64| h.as_ref().map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0);
            SteadyFlow {
                flow: flow.name(),
                approved_count: h.as_ref().map_or(0, Histogram::len),
                latency_ms: [q(0.5), q(0.99), q(0.999)],
            }
        })
        .collect();
    let nodes = record
        .nodes
        .iter()
        .filter_map(|n| {
            let last = *n.minutes.last()?;
            let cut = (warmup_minutes as usize).min(n.minutes.len() - 1);
            let start = if cut == 0 { NodeMinute::default() } else { n.minutes[cut - 1] };
            let whole = little(NodeMinute::default(), last, n.minutes.len() as f64 * 60.0);
            let steady = little(start, last, (n.minutes.len() - cut) as f64 * 60.0);
            Some((n.name.clone(), whole, steady))
        })
        .collect();
    Steady {
        warmup_minutes,
        source,
        detected_minutes,
        latency_cut_minutes: first_interval as u64 * INTERVAL_MINUTES,
        flows,
        nodes,
    }
}

#[cfg(test)]
mod tests {
    //! Goal: MSER-5 cuts a transient and nothing from a flat series. Method: synthetic series.

    use super::mser5;

    #[test]
    fn mser5_cuts_the_transient_only() {
        assert_eq!(mser5(&[100.0; 200]), 0);
        let noisy: Vec<f64> = (0..200).map(|i| 100.0 + f64::from(i % 7)).collect();
        assert!(mser5(&noisy) <= 20, "a stationary series loses little: {}", mser5(&noisy));
        let mut ramp: Vec<f64> = (0..40).map(|i| f64::from(i) * 2.5).collect();
        ramp.extend((0..160).map(|i| 100.0 + f64::from(i % 7)));
        let cut = mser5(&ramp);
        assert!((35..=45).contains(&cut), "cut {cut}");
        assert_eq!(mser5(&[1.0, 2.0, 3.0]), 0, "too short to cut");
    }
}
