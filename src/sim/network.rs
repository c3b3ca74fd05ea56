//! Latency distributions and links: how long a hop takes, and whether a message arrives.
//!
//! A [`Latency`] is constant, exponential, log-normal (given its median and p99, as latency
//! budgets are written: σ = ln(p99 / median) / 2.326), or an empirical table of cumulative
//! shares. A [`Link`] adds loss, duplication, scheduled outages (everything sent is lost) and
//! degraded windows (latency and loss multiplied). Floating point shapes the draws here; what
//! leaves is integer nanoseconds.

use super::rng::Prng;
use crate::payments::time::Timestamp;

/// The standard normal quantile at 0.99.
const Z_99: f64 = 2.326_347_874_040_841;
/// The longest single delay a distribution may produce: one day, so a typo cannot stall a run.
pub const DELAY_NS_MAX: u64 = 86_400 * 1_000_000_000;

/// A delay distribution, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same.
    Constant {
        /// The delay.
        ns: u64,
    },
    /// Exponential with this mean.
    Exponential {
        /// The mean.
        mean_ns: u64,
    },
    /// Log-normal with this median and 99th percentile; made by [`Latency::log_normal`], which
    /// works out the two parameters a draw needs once instead of at every draw.
    LogNormal {
        /// The median.
        median_ns: u64,
        /// The 99th percentile, at least the median.
        p99_ns: u64,
        /// ln(median), the log's mean.
        ln_median: f64,
        /// ln(p99 / median) / z₀.₉₉, the log's standard deviation.
        sigma: f64,
    },
    /// Piecewise linear between points (cumulative share in basis points, delay), the shares
    /// rising to 10 000 and the delays not falling; starts from (0, first delay).
    Empirical {
        /// The points.
        points: Vec<(u32, u64)>,
    },
}

/// An impossible latency: what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LatencyError {
    /// A zero median or mean.
    #[error("the median (or mean) must be positive")]
    NotPositive,
    /// p99 below the median.
    #[error("p99 {p99_ns} ns is below the median {median_ns} ns")]
    P99BelowMedian {
        /// The median given.
        median_ns: u64,
        /// The p99 given.
        p99_ns: u64,
    },
    /// A delay above [`DELAY_NS_MAX`].
    #[error("a delay of {0} ns is above the one-day limit")]
    TooLong(u64),
    /// An empirical table that is empty, does not rise, or does not end at 10 000.
    #[error("empirical points must rise in both share and delay and end at 10000 bps")]
    BadTable,
}

impl Latency {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`LatencyError`].
    pub fn validate(&self) -> Result<(), LatencyError> {
        let bounded =
            |ns: u64| if ns > DELAY_NS_MAX { Err(LatencyError::TooLong(ns)) } else { Ok(()) };
        match self {
            Latency::Constant { ns } => bounded(*ns),
            Latency::Exponential { mean_ns } if *mean_ns == 0 => Err(LatencyError::NotPositive),
            Latency::Exponential { mean_ns } => bounded(*mean_ns),
            Latency::LogNormal { median_ns, .. } if *median_ns == 0 => {
                Err(LatencyError::NotPositive)
            }
            Latency::LogNormal { median_ns, p99_ns, .. } if p99_ns < median_ns => {
                Err(LatencyError::P99BelowMedian { median_ns: *median_ns, p99_ns: *p99_ns })
            }
            Latency::LogNormal { p99_ns, .. } => bounded(*p99_ns),
            Latency::Empirical { points } => {
                let rising = points.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                if points.is_empty() || !rising || points.last().is_some_and(|p| p.0 != 10_000) {
                    return Err(LatencyError::BadTable);
                }
                bounded(points.last().map_or(0, |p| p.1))
            }
        }
    }

    /// Always zero: a node with this service time takes no server (the message passes
    /// through).
    pub fn is_zero(&self) -> bool {
        matches!(self, Latency::Constant { ns: 0 })
    }

    /// A log-normal latency with this median and 99th percentile.
    pub fn log_normal(median_ns: u64, p99_ns: u64) -> Latency {
        Latency::LogNormal {
            median_ns,
            p99_ns,
            ln_median: (median_ns as f64).ln(),
            sigma: (p99_ns as f64 / median_ns as f64).ln() / Z_99,
        }
    }

    /// The mean, in nanoseconds (before the cap at [`DELAY_NS_MAX`]): for a capacity figure,
    /// not a draw.
    pub fn mean_ns(&self) -> f64 {
        match self {
            Latency::Constant { ns } => *ns as f64,
            Latency::Exponential { mean_ns } => *mean_ns as f64,
            Latency::LogNormal { median_ns, sigma, .. } => {
                *median_ns as f64 * (sigma * sigma / 2.0).exp()
            }
            Latency::Empirical { points } => {
                let mut previous = (0u32, points.first().map_or(0, |p| p.1));
                let mut sum = 0.0;
                for &(share, ns) in points {
                    sum += f64::from(share - previous.0) * (previous.1 + ns) as f64 / 2.0;
                    previous = (share, ns);
                }
                sum / 10_000.0
            }
        }
    }

    /// This latency slowed: a log-normal's median and p99 multiplied separately (in
    /// thousandths; the p99 never below the median), any other shape scaled by the median's.
    pub fn slowed(&self, median_permille: u32, p99_permille: u32) -> Latency {
        let scale = |ns: u64, permille: u32| {
            (u128::from(ns) * u128::from(permille) / 1000).min(u128::from(DELAY_NS_MAX)) as u64
        };
        match self {
            Latency::LogNormal { median_ns, p99_ns, .. } => {
                let median_ns = scale(*median_ns, median_permille);
                Latency::log_normal(median_ns, scale(*p99_ns, p99_permille).max(median_ns))
            }
            Latency::Constant { ns } => Latency::Constant { ns: scale(*ns, median_permille) },
            Latency::Exponential { mean_ns } => {
                Latency::Exponential { mean_ns: scale(*mean_ns, median_permille) }
            }
            Latency::Empirical { points } => Latency::Empirical {
                points: points
                    .iter()
                    .map(|&(share, ns)| (share, scale(ns, median_permille)))
                    .collect(),
            },
        }
    }

    /// One delay, in nanoseconds, capped at [`DELAY_NS_MAX`].
    pub fn sample_ns(&self, rng: &mut Prng) -> u64 {
        let ns = match self {
            Latency::Constant { ns } => *ns,
            Latency::Exponential { mean_ns } => rng.exponential_ns(*mean_ns as f64),
            Latency::LogNormal { ln_median, sigma, .. } => {
                let z = standard_normal(rng);
                (ln_median + sigma * z).exp().round() as u64
            }
            Latency::Empirical { points } => empirical(points, rng),
        };
        ns.min(DELAY_NS_MAX)
    }
}

/// A standard normal draw ([`Prng::standard_normal`]).
pub fn standard_normal(rng: &mut Prng) -> f64 {
    rng.standard_normal()
}

fn empirical(points: &[(u32, u64)], rng: &mut Prng) -> u64 {
    let u = rng.below(10_000) as u32;
    let mut previous = (0u32, points[0].1);
    for &(share, ns) in points {
        if u < share {
            let span = f64::from(share - previous.0);
            let into = f64::from(u - previous.0) / span;
            return previous.1 + ((ns - previous.1) as f64 * into).round() as u64;
        }
        previous = (share, ns);
    }
    previous.1
}

/// A span of scenario time, `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its first instant.
    pub from: Timestamp,
    /// The first instant after it.
    pub until: Timestamp,
}

impl Window {
    /// Whether `at` is in the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.until
    }
}

/// A window in which a link is slower and lossier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Degraded {
    /// When.
    pub window: Window,
    /// Multiplier on the median latency, in thousandths (2000 = twice as slow).
    pub latency_median_permille: u32,
    /// Multiplier on the p99 latency, in thousandths (log-normal latencies; the others scale
    /// by the median's).
    pub latency_p99_permille: u32,
    /// Multiplier on the loss rate, in thousandths.
    pub loss_permille: u32,
    /// A loss rate, parts per million, that replaces the link's in the window.
    pub loss_ppm: Option<u32>,
    /// A duplication rate, parts per million, that replaces the link's in the window.
    pub duplicate_ppm: Option<u32>,
}

/// A one-way hop between two nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// How long a message takes.
    pub latency: Latency,
    /// Chance a message is lost, parts per million.
    pub loss_ppm: u32,
    /// Chance a delivered message arrives twice, parts per million.
    pub duplicate_ppm: u32,
    /// Windows in which every message is lost.
    pub outages: Vec<Window>,
    /// Windows in which the link is degraded.
    pub degraded: Vec<Degraded>,
}

/// What became of a message sent on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It never arrives.
    Lost,
    /// It arrives at this instant.
    Delivered(Timestamp),
    /// It arrives twice: the network replayed it.
    Duplicated(Timestamp, Timestamp),
}

impl Delivery {
    /// When the message (first) arrives, if it does.
    pub fn first(self) -> Option<Timestamp> {
        match self {
            Delivery::Lost => None,
            Delivery::Delivered(at) | Delivery::Duplicated(at, _) => Some(at),
        }
    }
}

impl Link {
    /// Sends a message at `now`: draws loss, latency and duplication from `rng`. In a degraded
    /// window the first one that holds `now` applies.
    pub fn send(&self, now: Timestamp, rng: &mut Prng) -> Delivery {
        if self.outages.iter().any(|w| w.contains(now)) {
            return Delivery::Lost;
        }
        let degraded = self.degraded.iter().find(|d| d.window.contains(now));
        let loss_ppm = match degraded {
            None => self.loss_ppm,
            Some(d) => d.loss_ppm.unwrap_or(
                (u64::from(self.loss_ppm) * u64::from(d.loss_permille) / 1000).min(1_000_000)
                    as u32,
            ),
        };
        if rng.chance_ppm(loss_ppm) {
            return Delivery::Lost;
        }
        let slowed = degraded
            .map(|d| self.latency.slowed(d.latency_median_permille, d.latency_p99_permille));
        let latency = slowed.as_ref().unwrap_or(&self.latency);
        let at = |ns: u64| {
            now.checked_add(crate::payments::time::Span::from_nanos(ns)).expect("within u64 ns")
        };
        let first = at(latency.sample_ns(rng));
        let duplicate_ppm = degraded.and_then(|d| d.duplicate_ppm).unwrap_or(self.duplicate_ppm);
        if rng.chance_ppm(duplicate_ppm) {
            let second = at(latency.sample_ns(rng)).max(first);
            return Delivery::Duplicated(first, second);
        }
        Delivery::Delivered(first)
    }
}

#[cfg(test)]
mod tests {
    //! Goal: each distribution hits its stated median, mean or percentiles; impossible
    //! parameters are refused; outages lose everything; degraded windows slow and lose more;
    //! duplicates arrive at the stated rate; draws are deterministic per stream.
    //! Method: 100 000-sample quantile and moment checks with tolerances far wider than the
    //! sampling error.

    use super::*;

    fn quantile(samples: &mut [u64], q: f64) -> u64 {
        samples.sort_unstable();
        samples[((samples.len() as f64 - 1.0) * q).round() as usize]
    }

    fn draw(latency: &Latency, n: usize) -> Vec<u64> {
        let mut rng = Prng::stream(9, 9);
        (0..n).map(|_| latency.sample_ns(&mut rng)).collect()
    }

    #[test]
    fn log_normal_hits_its_median_and_p99() {
        // The domain notes' switch hop: median 40 ms, p99 250 ms.
        let l = Latency::log_normal(40_000_000, 250_000_000);
        l.validate().expect("valid");
        let mut s = draw(&l, 100_000);
        let (median, p99) = (quantile(&mut s, 0.5), quantile(&mut s, 0.99));
        assert!((median as f64 / 40e6 - 1.0).abs() < 0.03, "median {median}");
        assert!((p99 as f64 / 250e6 - 1.0).abs() < 0.06, "p99 {p99}");
    }

    #[test]
    fn exponential_constant_and_empirical() {
        let s = draw(&Latency::Exponential { mean_ns: 5_000_000 }, 100_000);
        let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
        assert!((mean / 5e6 - 1.0).abs() < 0.02, "mean {mean}");
        assert!(draw(&Latency::Constant { ns: 7 }, 10).iter().all(|&x| x == 7));
        let table = Latency::Empirical { points: vec![(5_000, 10), (9_000, 100), (10_000, 1_000)] };
        table.validate().expect("valid");
        let mut s = draw(&table, 100_000);
        assert!(s.iter().all(|&x| (10..=1_000).contains(&x)));
        let median = quantile(&mut s, 0.5);
        assert!((9..=12).contains(&median), "median {median}");
        assert!((90..=110).contains(&quantile(&mut s, 0.9)));
    }

    #[test]
    fn the_stated_mean_is_the_mean_of_the_draws() {
        for l in [
            Latency::log_normal(40_000_000, 250_000_000),
            Latency::Exponential { mean_ns: 5_000_000 },
            Latency::Constant { ns: 7 },
            Latency::Empirical {
                points: vec![(5_000, 10_000), (9_000, 100_000), (10_000, 1_000_000)],
            },
        ] {
            let s = draw(&l, 200_000);
            let drawn = s.iter().sum::<u64>() as f64 / s.len() as f64;
            assert!((drawn / l.mean_ns() - 1.0).abs() < 0.02, "{l:?}: {drawn} vs {}", l.mean_ns());
        }
    }

    #[test]
    fn impossible_latencies_are_refused() {
        use LatencyError as E;
        assert_eq!(
            Latency::log_normal(50, 40).validate(),
            Err(E::P99BelowMedian { median_ns: 50, p99_ns: 40 })
        );
        assert_eq!(Latency::log_normal(0, 40).validate(), Err(E::NotPositive));
        assert_eq!(Latency::Exponential { mean_ns: 0 }.validate(), Err(E::NotPositive));
        assert_eq!(
            Latency::Constant { ns: DELAY_NS_MAX + 1 }.validate(),
            Err(E::TooLong(DELAY_NS_MAX + 1))
        );
        for points in [
            vec![],
            vec![(5_000, 10)],
            vec![(6_000, 10), (5_000, 20), (10_000, 30)],
            vec![(5_000, 20), (10_000, 10)],
        ] {
            assert_eq!(Latency::Empirical { points }.validate(), Err(E::BadTable));
        }
    }

    fn link() -> Link {
        Link {
            latency: Latency::Constant { ns: 1_000 },
            loss_ppm: 10_000,
            duplicate_ppm: 20_000,
            outages: vec![],
            degraded: vec![],
        }
    }

    fn tally(link: &Link, at: Timestamp, n: u32) -> (u32, u32, u32) {
        let mut rng = Prng::stream(3, 4);
        let (mut lost, mut dup, mut latest) = (0, 0, 0);
        for _ in 0..n {
            match link.send(at, &mut rng) {
                Delivery::Lost => lost += 1,
                Delivery::Duplicated(_, second) => {
                    dup += 1;
                    latest = latest.max((second.as_nanos() - at.as_nanos()) as u32);
                }
                Delivery::Delivered(t) => {
                    latest = latest.max((t.as_nanos() - at.as_nanos()) as u32)
                }
            }
        }
        (lost, dup, latest)
    }

    #[test]
    fn links_lose_duplicate_and_degrade_as_configured() {
        let t = |s: u64| Timestamp::from_nanos(s * 1_000_000_000);
        let (lost, dup, latest) = tally(&link(), t(5), 100_000);
        assert!((800..1_200).contains(&lost), "1 % loss: {lost}");
        assert!((1_750..2_200).contains(&dup), "2 % of delivered: {dup}");
        assert_eq!(latest, 1_000);
        let outage = Link { outages: vec![Window { from: t(10), until: t(20) }], ..link() };
        assert_eq!(tally(&outage, t(10), 1_000).0, 1_000, "everything is lost in an outage");
        assert_eq!(
            tally(&outage, t(20), 100_000),
            tally(&link(), t(20), 100_000),
            "the window is half-open"
        );
        let degraded = Degraded {
            window: Window { from: t(0), until: t(100) },
            latency_median_permille: 3_000,
            latency_p99_permille: 3_000,
            loss_permille: 10_000,
            loss_ppm: None,
            duplicate_ppm: None,
        };
        let slow = Link { degraded: vec![degraded], ..link() };
        let (lost, _, latest) = tally(&slow, t(5), 100_000);
        assert!((9_500..10_500).contains(&lost), "loss ×10: {lost}");
        assert_eq!(latest, 3_000, "latency ×3");
        let replaced = Degraded { loss_ppm: Some(500_000), ..degraded };
        let (lost, _, _) = tally(&Link { degraded: vec![replaced], ..link() }, t(5), 100_000);
        assert!((49_000..51_000).contains(&lost), "loss replaced by 50 %: {lost}");
        let doubled = Degraded { duplicate_ppm: Some(300_000), ..degraded };
        let (_, dup, _) = tally(&Link { degraded: vec![doubled], ..link() }, t(5), 100_000);
        assert!(
            (26_000..28_500).contains(&dup),
            "duplication replaced by 30 % of delivered: {dup}"
        );
    }

    #[test]
    fn slowed_log_normal_moves_median_and_p99_separately() {
        let l = Latency::log_normal(40_000_000, 120_000_000);
        assert_eq!(l.slowed(1_500, 3_000), Latency::log_normal(60_000_000, 360_000_000));
        assert_eq!(l.slowed(3_000, 1_000), Latency::log_normal(120_000_000, 120_000_000));
        assert_eq!(Latency::Constant { ns: 10 }.slowed(2_000, 9_000), Latency::Constant { ns: 20 });
    }
}
