//! A flow's figures: outcomes by class, end-to-end and per-hop latency in HdrHistograms
//! (microseconds, 3 significant digits), approved latency per ten-minute interval, and the
//! per-minute series.

use hdrhistogram::Histogram;

use rust_decimal::Decimal;

use crate::payments::money::{Currency, Money};
use crate::payments::network::{Decline, Outcome};
use crate::payments::party::Flow;

/// Largest latency a histogram holds: one hour, in microseconds (larger values saturate).
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Length of the intervals approved latency is also kept per, for steady-state figures and the
/// interval log: ten simulated minutes.
pub const INTERVAL_MINUTES: u64 = 10;

/// A latency histogram: 1 µs to [`LATENCY_US_MAX`], 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid bounds")
}

/// An interval's histogram: 2 significant digits (1 % of the value), a seventh of the memory.
pub fn interval_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 2).expect("valid bounds")
}

/// One minute's latencies as recorded, for the per-minute quantiles: a value is pushed where a
/// [`histogram`] would increment one of its 23,552 counters, and the three quantiles a minute
/// needs are selected from the values. Each quantile is the one [`histogram`] would give for
/// the same values, bucket for bucket (a proptest holds them together); the minute's end no
/// longer clears 188 KB of counters per flow, nor walks them three times.
#[derive(Clone, Debug, Default)]
pub struct LatencySample {
    /// Each value as [`histogram`] stores it: it covers every `u32`, and clamps a larger value
    /// to [`LATENCY_US_MAX`].
    values_us: Vec<u32>,
}

impl LatencySample {
    /// Adds one latency, as `histogram().saturating_record(latency_us)` would.
    pub fn record(&mut self, latency_us: u64) {
        self.values_us.push(u32::try_from(latency_us).unwrap_or(LATENCY_US_MAX as u32));
    }

    /// Whether nothing was recorded since the last [`LatencySample::clear`].
    pub fn is_empty(&self) -> bool {
        self.values_us.is_empty()
    }

    /// The value at `quantile` (above 0, at most 1), as `value_at_quantile` of a [`histogram`]
    /// holding the same values: the highest value equivalent to the k-th smallest, k being the
    /// quantile of the count rounded up. `shape` is any histogram of [`histogram`]'s bounds
    /// (only its bucket arithmetic is used). Reorders the values.
    ///
    /// # Panics
    /// If the sample is empty or `quantile` is outside (0, 1].
    pub fn value_at_quantile(&mut self, shape: &Histogram<u64>, quantile: f64) -> u64 {
        assert!(quantile > 0.0 && quantile <= 1.0, "quantile {quantile} outside (0, 1]");
        assert!(!self.values_us.is_empty(), "the quantile of an empty sample");
        // The same arithmetic as the histogram's, so the same rank at every count.
        let rank = ((quantile * self.values_us.len() as f64).ceil() as usize).max(1);
        let (_, &mut value, _) = self.values_us.select_nth_unstable(rank - 1);
        shape.highest_equivalent(shape.lowest_equivalent(u64::from(value)))
    }

    /// Forgets the values, keeping the room they took.
    pub fn clear(&mut self) {
        self.values_us.clear();
    }
}

/// An interval histogram ([`interval_histogram`]) kept as its non-zero buckets, eight bytes
/// each: a few kilobytes for a busy ten-minute interval, where the whole histogram holds some
/// 26 KB of counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseHistogram {
    /// (the lowest value of the bucket, a count), in value order; a count above `u32::MAX` takes
    /// several entries. Values fit: [`LATENCY_US_MAX`] is below `u32::MAX`.
    buckets: Vec<(u32, u32)>,
}

const _: () = assert!(LATENCY_US_MAX < u32::MAX as u64);

impl SparseHistogram {
    /// The non-zero buckets of `h`, which has the interval histogram's bounds.
    pub fn of(h: &Histogram<u64>) -> SparseHistogram {
        let mut buckets = Vec::new();
        for v in h.iter_recorded() {
            let value = h.lowest_equivalent(v.value_iterated_to()).min(LATENCY_US_MAX) as u32;
            let mut count = v.count_at_value();
            while count > 0 {
                let part = count.min(u64::from(u32::MAX));
                buckets.push((value, part as u32));
                count -= part;
            }
        }
        buckets.shrink_to_fit();
        SparseHistogram { buckets }
    }

    /// The whole histogram again, bucket for bucket as it was recorded.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = interval_histogram();
        for &(value, count) in &self.buckets {
            h.saturating_record_n(u64::from(value), u64::from(count));
        }
        h
    }

    /// Adds `h`'s counts.
    pub fn add(&mut self, h: &Histogram<u64>) {
        if self.buckets.is_empty() {
            *self = SparseHistogram::of(h);
        } else {
            let mut whole = self.histogram();
            whole.add(h).expect("same bounds");
            *self = SparseHistogram::of(&whole);
        }
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.buckets.iter().map(|&(_, count)| u64::from(count)).sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<(u32, u32)>()
    }
}

/// One flow's figures.
#[derive(Clone, Debug)]
pub struct FlowStats {
    /// The flow.
    pub flow: Flow,
    /// Payments created (including abandoned and retries).
    pub payments_count: u64,
    /// Retries among them.
    pub retries_count: u64,
    /// Outcome counts.
    pub outcomes: std::collections::BTreeMap<Outcome, u64>,
    /// Confirm → payer sees the answer, approved payments, µs.
    pub latency_approved: Histogram<u64>,
    /// Confirm → payer sees the answer, every answered payment, µs.
    pub latency_answered: Histogram<u64>,
    /// Answers the payer's app saw after its own timeout.
    pub payer_timeouts_count: u64,
    /// Duplicate requests the core absorbed (duplicate taps and replayed messages).
    pub duplicates_absorbed_count: u64,
    /// Per hop of the route: time from arrival at its node to end of service, µs.
    pub hops: Vec<HopLatency>,
    /// Approved latency per [`INTERVAL_MINUTES`] of simulated time (by when the payer saw the
    /// answer), µs, 2 significant digits; each kept as its non-zero buckets once closed.
    pub intervals: Vec<SparseHistogram>,
    /// The interval being recorded, whole until time moves past it.
    open_interval: Option<(usize, Histogram<u64>)>,
    /// Its busiest simulated seconds.
    pub peak_seconds: PeakSeconds,
    /// Payer's confirm to the payee's notification of a credit (over `merchant_notify`), µs.
    pub latency_merchant_notified: Histogram<u64>,
    /// Credits whose notification the `merchant_notify` link lost.
    pub merchant_notifications_lost_count: u64,
    /// Per Bakong member bank, in bank order: the flow's payments through it (the payer's
    /// bank; inward, the merchant's).
    pub banks: Vec<BankStats>,
    /// What the approved payments cost, per pair of currencies (the payer's, the payee's), in
    /// the order the pairs first occurred.
    pub costs: Vec<Cost>,
}

/// What a flow's approved payments cost their payers and payees, for one pair of currencies,
/// from each payment's booked amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    /// The currency the payers paid in.
    pub payer_currency: Currency,
    /// The currency the payees were credited in.
    pub payee_currency: Currency,
    /// Approved payments.
    pub payments_count: u64,
    /// What the payers paid in all, the spread included; payer's minor units.
    pub paid_minor: i64,
    /// What the payees were credited before the merchant discount; payee's minor units.
    pub received_minor: i64,
    /// For two currencies, what the payees' amounts were worth at the mid rate in force at each
    /// payment's confirm, in the payer's minor units, unrounded: the price of the same payment
    /// at mid (zero for one currency: see [`Cost::received_at_mid_minor`]).
    pub converted_at_mid_minor: Decimal,
    /// The FX spread, which the payer's provider books as income; payer's minor units.
    pub spread_minor: i64,
    /// The merchant discount, which the payee's bank books as income; payee's minor units.
    pub fee_minor: i64,
}

impl Cost {
    /// What the payees' amounts were worth at mid, in the payer's minor units: themselves when
    /// nothing was converted.
    pub fn received_at_mid_minor(&self) -> Decimal {
        if self.payer_currency == self.payee_currency {
            Decimal::from(self.received_minor)
        } else {
            self.converted_at_mid_minor
        }
    }
}

/// One approved payment's amounts, as [`FlowStats::add_cost`] takes them.
#[derive(Clone, Copy, Debug)]
pub struct PaymentCost {
    /// What the payer paid, spread included.
    pub paid: Money,
    /// What the payee was credited before the merchant discount.
    pub received: Money,
    /// `received` at the mid rate, in the payer's minor units, when it was converted.
    pub converted_at_mid_minor: Option<Decimal>,
    /// The FX spread, in the payer's currency.
    pub spread: Money,
    /// The merchant discount, in the payee's currency.
    pub fee: Money,
}

/// One member bank's part of a flow.
#[derive(Clone, Debug)]
pub struct BankStats {
    /// Payments created.
    pub payments_count: u64,
    /// Answered (any outcome the payer learnt but abandoned).
    pub answered_count: u64,
    /// Approved among them.
    pub approved_count: u64,
    /// Approved payments' end-to-end latency, µs, 2 significant digits.
    pub latency_approved: Histogram<u64>,
}

impl BankStats {
    /// Empty figures.
    pub fn new() -> BankStats {
        BankStats {
            payments_count: 0,
            answered_count: 0,
            approved_count: 0,
            latency_approved: interval_histogram(),
        }
    }
}

impl Default for BankStats {
    fn default() -> Self {
        BankStats::new()
    }
}

impl FlowStats {
    /// Records an approved payment's latency in interval `i`. Intervals are closed (kept as
    /// their non-zero buckets) as the recording moves past them, so a long run holds one whole
    /// interval histogram per flow, not one per ten minutes of the run.
    pub fn record_interval(&mut self, i: usize, latency_us: u64) {
        if self.open_interval.as_ref().is_some_and(|(open, _)| *open != i) {
            self.close_interval();
        }
        let (_, h) = self.open_interval.get_or_insert_with(|| (i, interval_histogram()));
        h.saturating_record(latency_us);
    }

    /// Closes the interval being recorded, if any: the run's end calls it.
    pub fn close_interval(&mut self) {
        if let Some((i, h)) = self.open_interval.take() {
            if self.intervals.len() <= i {
                self.intervals.resize_with(i + 1, SparseHistogram::default);
            }
            self.intervals[i].add(&h);
        }
    }

    /// Empty figures for `flow`, whose route crosses nodes of these kinds, among `banks`
    /// member banks.
    pub fn new(flow: Flow, hops: &[&str], banks: usize) -> FlowStats {
        FlowStats {
            flow,
            payments_count: 0,
            retries_count: 0,
            outcomes: Default::default(),
            latency_approved: histogram(),
            latency_answered: histogram(),
            payer_timeouts_count: 0,
            duplicates_absorbed_count: 0,
            hops: hops
                .iter()
                .map(|&node| HopLatency { node: node.to_string(), latency_us: histogram() })
                .collect(),
            intervals: Vec::new(),
            open_interval: None,
            peak_seconds: PeakSeconds::default(),
            latency_merchant_notified: histogram(),
            merchant_notifications_lost_count: 0,
            banks: (0..banks).map(|_| BankStats::new()).collect(),
            costs: Vec::new(),
        }
    }

    /// Adds one approved payment's amounts to its pair of currencies.
    ///
    /// # Panics
    /// When the sums leave `i64`: a flow's approved payments would have to move more than
    /// 9.2 × 10^18 minor units.
    pub fn add_cost(&mut self, c: PaymentCost) {
        let (payer, payee) = (c.paid.currency, c.received.currency);
        let at = match self
            .costs
            .iter()
            .position(|k| k.payer_currency == payer && k.payee_currency == payee)
        {
            Some(at) => at,
            None => {
                self.costs.push(Cost {
                    payer_currency: payer,
                    payee_currency: payee,
                    payments_count: 0,
                    paid_minor: 0,
                    received_minor: 0,
                    converted_at_mid_minor: Decimal::ZERO,
                    spread_minor: 0,
                    fee_minor: 0,
                });
                self.costs.len() - 1
            }
        };
        let k = &mut self.costs[at];
        let sum = |a: i64, b: i64| a.checked_add(b).expect("a flow's sums fit i64");
        k.payments_count += 1;
        k.paid_minor = sum(k.paid_minor, c.paid.minor);
        k.received_minor = sum(k.received_minor, c.received.minor);
        if let Some(at_mid) = c.converted_at_mid_minor {
            k.converted_at_mid_minor += at_mid;
        }
        k.spread_minor = sum(k.spread_minor, c.spread.minor);
        k.fee_minor = sum(k.fee_minor, c.fee.minor);
    }

    /// Approved over answered (approved + declined + reversed + manual), as a fraction.
    pub fn approval_ratio(&self) -> f64 {
        let (mut approved, mut total) = (0u64, 0u64);
        for (o, n) in &self.outcomes {
            if *o != Outcome::Abandoned {
                total += n;
            }
            if o.is_approved() {
                approved += n;
            }
        }
        if total == 0 { 0.0 } else { approved as f64 / total as f64 }
    }

    /// Count of one outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// One hop of a flow's route: the node kind it runs on and the time spent there.
#[derive(Clone, Debug)]
pub struct HopLatency {
    /// The node kind (`upi`, `kh_bank`).
    pub node: String,
    /// Arrival at the node to end of service, µs.
    pub latency_us: Histogram<u64>,
}

/// Per simulated minute and flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct MinuteStats {
    /// Payments offered (confirmed by payers).
    pub offered: u32,
    /// Payments that reached a final state.
    pub completed: u32,
    /// Approved among them.
    pub approved: u32,
    /// Declined among them.
    pub declined: u32,
    /// Declined among them, by class, in [`Decline::ALL`] order.
    pub declined_by_class: [u32; Decline::ALL.len()],
    /// Reversed or sent to manual handling among them.
    pub timed_out: u32,
    /// In flight at the minute's end.
    pub in_flight: u32,
    /// p50, p99 and p99.9 of answered payments' latency in the minute, µs.
    pub latency_us_p50: u64,
    /// See above.
    pub latency_us_p99: u64,
    /// See above.
    pub latency_us_p999: u64,
}

/// The busiest simulated second of one count, kept as the run goes (a per-second series of a
/// 48-hour run would be 172,800 cells per flow; the peak needs four numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeakSecond {
    /// The second being counted, from the run's start.
    second: u64,
    /// Its count so far.
    count: u32,
    /// The highest count of any second.
    pub peak: u32,
    /// That second, from the run's start (the first one when several tie).
    pub peak_second: u64,
}

impl PeakSecond {
    /// Counts one event in `second` (seconds from the run's start).
    ///
    /// # Panics
    /// If `second` is before the last one counted: events come in time order.
    pub fn add(&mut self, second: u64) {
        assert!(
            second >= self.second,
            "seconds counted out of order: {second} after {}",
            self.second
        );
        if second != self.second {
            self.second = second;
            self.count = 0;
        }
        self.count += 1;
        if self.count > self.peak {
            self.peak = self.count;
            self.peak_second = second;
        }
    }
}

/// The busiest seconds of payments offered (confirmed by their payers) and completed (reaching a
/// final state other than abandoned, whatever the answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeakSeconds {
    /// Offered.
    pub offered: PeakSecond,
    /// Completed.
    pub completed: PeakSecond,
}

#[cfg(test)]
mod tests {
    use super::PeakSecond;

    fn check(seconds: &[u64], peak: u32, peak_second: u64) {
        let mut p = PeakSecond::default();
        for &s in seconds {
            p.add(s);
        }
        assert_eq!((p.peak, p.peak_second), (peak, peak_second), "{seconds:?}");
    }

    #[test]
    fn the_peak_second_is_the_busiest_and_the_first_of_a_tie() {
        check(&[], 0, 0);
        check(&[0], 1, 0);
        check(&[0, 0, 1, 1, 1, 2], 3, 1);
        check(&[3, 3, 7, 7, 9], 2, 3);
        check(&[5, 6, 6, 6, 6, 8, 8, 8, 8, 8], 5, 8);
    }

    /// Records `values` in an interval histogram and checks that the sparse form gives back
    /// the same histogram, bucket for bucket, and its count.
    fn check_sparse(values: &[(u64, u64)]) {
        let mut whole = super::interval_histogram();
        for &(value, count) in values {
            whole.saturating_record_n(value, count);
        }
        let sparse = super::SparseHistogram::of(&whole);
        assert_eq!(sparse.histogram(), whole, "{values:?}");
        assert_eq!(sparse.len(), whole.len());
        assert_eq!(sparse.is_empty(), whole.is_empty());
        // Adding to a sparse histogram is adding to the whole one.
        let mut twice = sparse.clone();
        twice.add(&whole);
        whole.add(whole.clone()).expect("same bounds");
        assert_eq!(twice.histogram(), whole);
    }

    #[test]
    fn a_sparse_histogram_is_its_histogram() {
        check_sparse(&[]);
        check_sparse(&[(1, 1)]);
        check_sparse(&[(573_439, 27_000), (2_498_559, 270), (120, 3)]);
        // The top of the range, beyond it (saturated), and a count above u32::MAX.
        check_sparse(&[(super::LATENCY_US_MAX, 2), (u64::MAX, 1), (1_000, 5_000_000_000)]);
        let spread: Vec<(u64, u64)> = (0..5_000u64).map(|i| (100 + i * 997, 1 + i % 7)).collect();
        check_sparse(&spread);
    }

    /// The per-minute quantiles of a sample and of a histogram given the same values agree.
    fn check_sample(values: &[u64]) {
        let (mut sample, mut whole) = (super::LatencySample::default(), super::histogram());
        for &v in values {
            sample.record(v);
            whole.saturating_record(v);
        }
        let shape = super::histogram();
        for q in [0.5, 0.99, 0.999, 1.0, 1e-9] {
            assert_eq!(sample.value_at_quantile(&shape, q), whole.value_at_quantile(q), "{q}");
        }
        sample.clear();
        assert!(sample.is_empty());
    }

    #[test]
    fn a_sample_gives_the_histograms_quantiles_at_the_edges() {
        check_sample(&[1]);
        check_sample(&[5, 5, 5]);
        check_sample(&[2_047, 2_048, 2_049, 4_095, 4_096]);
        // The top of the range, every `u32` (stored as it is), and beyond (clamped).
        let max = super::LATENCY_US_MAX;
        check_sample(&[max, max + 1, u64::from(u32::MAX), 1 << 32, u64::MAX, 7]);
        let spread: Vec<u64> = (0..5_000u64).map(|i| 100 + i * 997 % 1_000_003).collect();
        check_sample(&spread);
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]

        #[test]
        fn a_sample_gives_the_histograms_quantiles(
            values in proptest::collection::vec(
                proptest::prop_oneof![1u64..5_000, 1u64..10_000_000, 1u64..u64::MAX],
                1..3_000,
            ),
        ) {
            check_sample(&values);
        }
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn seconds_counted_out_of_order_are_a_bug() {
        check(&[4, 3], 1, 4);
    }
}
