//! What `sim load` measured over time: per interval of real time from the run's start, the
//! requests due (by their intended send time), the answers received and the connection
//! failures, and the latency (from the intended time) of the answers received in it.

use hdrhistogram::Histogram;

/// The most intervals a measured series keeps (a longer run gets longer intervals).
pub const INTERVALS_MAX: u64 = 3600;

/// A load test's series.
#[derive(Clone, Debug)]
pub struct MeasuredSeries {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's seed (the schedule's streams).
    pub seed: u64,
    /// Seconds per interval.
    pub interval_s: u64,
    /// The intervals, from the run's start.
    pub intervals: Vec<MeasuredInterval>,
}

/// One interval.
#[derive(Clone, Debug, Default)]
pub struct MeasuredInterval {
    /// Requests whose intended send time falls in it.
    pub due_count: u64,
    /// Answers received in it.
    pub answered_count: u64,
    /// Requests that got no HTTP answer, by when that was known.
    pub failed_count: u64,
    /// Latency of the answers received in it, µs from the intended time (2 significant
    /// digits); `None` when there were none.
    pub latency_us: Option<Histogram<u64>>,
}

impl MeasuredSeries {
    /// An empty series for a run of `duration_s`: intervals of a whole number of seconds, at
    /// most [`INTERVALS_MAX`] of them over the run.
    pub fn new(scenario: String, seed: u64, duration_s: u64) -> MeasuredSeries {
        MeasuredSeries {
            scenario,
            seed,
            interval_s: duration_s.div_ceil(INTERVALS_MAX).max(1),
            intervals: Vec::new(),
        }
    }

    /// The interval holding instant `at_us` (µs from the start), grown as needed; answers
    /// later than twice [`INTERVALS_MAX`] intervals (a long drain) go to the last one.
    pub fn at(&mut self, at_us: u64) -> &mut MeasuredInterval {
        let i = (at_us / 1_000_000 / self.interval_s).min(INTERVALS_MAX * 2) as usize;
        if self.intervals.len() <= i {
            self.intervals.resize_with(i + 1, MeasuredInterval::default);
        }
        &mut self.intervals[i]
    }
}
