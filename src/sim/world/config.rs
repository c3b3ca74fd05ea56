//! The scenario turned into what the run loop uses: instants, nanoseconds, parts per million,
//! arrival rates per minute, and amount samplers.

use rust_decimal::Decimal;

use crate::payments::money::{Currency, Money};
use crate::payments::network::originator::OriginatorPolicy;
use crate::payments::party::Flow;
use crate::payments::settlement::{Cutoff, NettingSchedule};
use crate::payments::time::{Date, Span, Timestamp, Zone};
use crate::record::{SloBound, SloMetric, SloSpec};
use crate::scenario::validate::{self, instant};
use crate::scenario::{AmountSpec, FlowSpec, Scenario, WindowSpec};
use crate::sim::network::{self, Latency, standard_normal};
use crate::sim::rng::Prng;

/// Parts per million.
pub(crate) type Ppm = u32;

pub(crate) fn ppm(pct: f64) -> Ppm {
    (pct * 10_000.0).round().clamp(0.0, 1e6) as Ppm
}

pub(crate) fn lognormal_ms(pair: [f64; 2]) -> Latency {
    let ns = |ms: f64| (ms * 1e6).round().max(1.0) as u64;
    Latency::LogNormal { median_ns: ns(pair[0]), p99_ns: ns(pair[1]).max(ns(pair[0])) }
}

/// A degraded window, resolved: multipliers in thousandths, rates in parts per million.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    pub(crate) span: network::Window,
    pub(crate) targets: Vec<String>,
    pub(crate) median_permille: u32,
    pub(crate) p99_permille: u32,
    pub(crate) error_permille: u32,
    pub(crate) loss: Option<Ppm>,
    pub(crate) late_approval: Option<Ppm>,
}

fn permille(x: f64) -> u32 {
    (x * 1000.0).round() as u32
}

impl Window {
    fn new(w: &WindowSpec) -> Window {
        Window {
            span: network::Window {
                from: instant(&w.from).expect("validated"),
                until: instant(&w.to).expect("validated"),
            },
            targets: w.targets.clone(),
            median_permille: permille(w.latency_median_x),
            p99_permille: permille(w.latency_p99_x),
            error_permille: permille(w.error_x),
            loss: w.loss_pct.map(ppm),
            late_approval: w.late_approval_pct.map(ppm),
        }
    }

    /// The window as a link sees it.
    pub(crate) fn degraded(&self) -> network::Degraded {
        network::Degraded {
            window: self.span,
            latency_median_permille: self.median_permille,
            latency_p99_permille: self.p99_permille,
            loss_permille: self.error_permille,
            loss_ppm: self.loss,
        }
    }

    /// A rate scaled by the window's error multiplier.
    pub(crate) fn scale(&self, rate: Ppm) -> Ppm {
        (u64::from(rate) * u64::from(self.error_permille) / 1000).min(1_000_000) as Ppm
    }
}

/// One flow's traffic and behaviour, resolved.
#[derive(Clone, Debug)]
pub(crate) struct FlowConfig {
    pub(crate) flow: Flow,
    /// Expected arrivals per minute, for every minute of the run (bursts excluded).
    pub(crate) per_minute: Vec<f64>,
    pub(crate) think: Latency,
    pub(crate) think_dynamic: Latency,
    pub(crate) dynamic: Ppm,
    pub(crate) abandon: Ppm,
    pub(crate) retry: Ppm,
    pub(crate) retry_after_ns: [u64; 2],
    pub(crate) duplicate_tap: Ppm,
    pub(crate) burst_share: f64,
    pub(crate) burst_size: [u32; 2],
    pub(crate) burst_spread_ns: [u64; 2],
    pub(crate) auspicious: Ppm,
    pub(crate) auspicious_cny: Vec<Money>,
    pub(crate) amounts: Vec<AmountSampler>,
    amounts_cum: Vec<u32>,
    pub(crate) failures: FailureRates,
    /// How the flow's originator waits, inquires and reverses.
    pub(crate) policy: OriginatorPolicy,
}

/// Failure rates in parts per million.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub(crate) struct FailureRates {
    pub(crate) insufficient_balance: Ppm,
    pub(crate) pin_failure: Ppm,
    pub(crate) limit_exceeded: Ppm,
    pub(crate) risk_decline: Ppm,
    pub(crate) issuer_unavailable: Ppm,
    pub(crate) switch_error: Ppm,
    pub(crate) acquirer_error: Ppm,
    pub(crate) merchant_invalid: Ppm,
    pub(crate) expired_qr: Ppm,
    pub(crate) malformed_qr: Ppm,
    pub(crate) late_approval: Ppm,
}

/// Draws amounts of one currency.
#[derive(Clone, Debug)]
pub(crate) struct AmountSampler {
    pub(crate) currency: Currency,
    min: i64,
    max: i64,
    /// Rounding steps in minor units, and their cumulative shares.
    round_to: Vec<i64>,
    round_cum: Vec<u32>,
    /// Components (median in minor units, sigma), and their cumulative shares.
    components: Vec<(f64, f64)>,
    components_cum: Vec<u32>,
}

/// Cumulative parts per million of shares in percent, the last forced to exactly 1 000 000.
pub(crate) fn cumulative(shares: impl Iterator<Item = f64>) -> Vec<u32> {
    let mut total = 0.0;
    let mut out: Vec<u32> = shares
        .map(|s| {
            total += s;
            ppm(total)
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = 1_000_000;
    }
    out
}

/// Draws an index by cumulative shares (from [`cumulative`]): one draw from `rng`.
pub(crate) fn draw_share(cum: &[u32], rng: &mut Prng) -> usize {
    let u = rng.below(1_000_000) as u32;
    cum.iter().position(|&c| u < c).unwrap_or(cum.len() - 1)
}

impl AmountSampler {
    fn new(a: &AmountSpec) -> AmountSampler {
        let currency = validate::currency(&a.currency).expect("validated");
        let scale = 10f64.powi(currency.exponent() as i32);
        AmountSampler {
            currency,
            min: Money::parse(&a.min, currency).expect("validated").minor,
            max: Money::parse(&a.max, currency).expect("validated").minor,
            round_to: a.round_to.iter().map(|r| r.0).collect(),
            round_cum: cumulative(a.round_to.iter().map(|r| r.1)),
            components: a.components.iter().map(|c| (c.median * scale, c.sigma)).collect(),
            components_cum: cumulative(a.components.iter().map(|c| c.share_pct)),
        }
    }

    /// One amount: a log-normal draw from a component, rounded to a step, clamped.
    pub(crate) fn sample(&self, rng: &mut Prng) -> Money {
        let (median, sigma) = self.components[draw_share(&self.components_cum, rng)];
        let z = standard_normal(rng);
        let raw = (median.ln() + sigma * z).exp().round().clamp(1.0, 9e15) as i64;
        let step = if self.round_to.is_empty() {
            1
        } else {
            self.round_to[draw_share(&self.round_cum, rng)]
        };
        let rounded = ((raw + step / 2) / step * step).max(step);
        let minor = rounded.clamp(self.min, self.max);
        Money::new(self.currency, minor)
    }
}

fn secs(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

impl FlowConfig {
    fn new(flow: Flow, f: &FlowSpec, s: &Scenario, start: Timestamp, minutes: u64) -> FlowConfig {
        let t = &s.timeouts;
        let originator_s = match flow {
            Flow::Inward => t.issuer_to_upi_s,
            Flow::Outward | Flow::Remittance => t.bank_to_bakong_s,
            Flow::Domestic => t.domestic_s,
        };
        let zone = validate::offset(&f.hours_offset).expect("validated");
        let burst_share = f.bursts.as_ref().map_or(0.0, |b| b.share_pct / 100.0);
        let per_minute = (0..minutes)
            .map(|m| {
                let at = start.checked_add(Span::from_minutes(m)).expect("in range");
                let (day_index, hour) = local_day_hour(at, start, zone);
                let multiplier = f.day_multipliers[day_index.min(f.day_multipliers.len() - 1)];
                f.daily_payments * multiplier * f.hourly_shares_pct[hour] / 100.0 / 60.0
            })
            .collect();
        let r = &f.failures_pct;
        FlowConfig {
            flow,
            per_minute,
            think: lognormal_ms(f.think_ms),
            think_dynamic: lognormal_ms(f.think_dynamic_ms.unwrap_or(f.think_ms)),
            dynamic: ppm(f.dynamic_qr_pct),
            abandon: ppm(f.abandon_pct),
            retry: ppm(f.retry_pct),
            retry_after_ns: [secs(f.retry_after_s[0]), secs(f.retry_after_s[1])],
            duplicate_tap: ppm(f.duplicate_tap_pct),
            burst_share,
            burst_size: f.bursts.as_ref().map_or([0, 0], |b| b.size),
            burst_spread_ns: f.bursts.as_ref().map_or([0, 0], |b| {
                [secs(b.spread_minutes[0] * 60.0), secs(b.spread_minutes[1] * 60.0)]
            }),
            auspicious: ppm(f.auspicious_pct),
            auspicious_cny: f
                .auspicious_cny
                .iter()
                .filter(|&&a| a > 0)
                .map(|&a| Money::new(Currency::Cny, i64::from(a) * 100))
                .collect(),
            amounts: f.amounts.iter().map(AmountSampler::new).collect(),
            amounts_cum: cumulative(f.amounts.iter().map(|a| a.share_pct)),
            failures: FailureRates {
                insufficient_balance: ppm(r.insufficient_balance),
                pin_failure: ppm(r.pin_failure),
                limit_exceeded: ppm(r.limit_exceeded),
                risk_decline: ppm(r.risk_decline),
                issuer_unavailable: ppm(r.issuer_unavailable),
                switch_error: ppm(r.switch_error),
                acquirer_error: ppm(r.acquirer_error),
                merchant_invalid: ppm(r.merchant_invalid),
                expired_qr: ppm(r.expired_qr),
                malformed_qr: ppm(r.malformed_qr),
                late_approval: ppm(r.late_approval),
            },
            policy: OriginatorPolicy {
                timeout: Span::from_secs(u64::from(originator_s)),
                inquiry_every: Span::from_secs(u64::from(t.inquiry_every_s)),
                inquiries_max: u16::try_from(t.inquiry_window_s / t.inquiry_every_s)
                    .expect("validated: at most 3600 inquiries"),
                reversal_backoff: t
                    .reversal_backoff_s
                    .iter()
                    .map(|&b| Span::from_secs(u64::from(b)))
                    .collect(),
            },
        }
    }

    /// The amount sampler for a payment: by currency share.
    pub(crate) fn amounts_for(&self, rng: &mut Prng) -> &AmountSampler {
        &self.amounts[draw_share(&self.amounts_cum, rng)]
    }
}

/// Which local day of the run (0 = the day the run starts in) and which local hour `at` is in.
fn local_day_hour(at: Timestamp, start: Timestamp, zone: Zone) -> (usize, usize) {
    let offset_ns = i128::from(zone.offset_minutes) * 60 * 1_000_000_000;
    let local = |t: Timestamp| i128::from(t.as_nanos()) + offset_ns;
    let day_ns = 86_400 * 1_000_000_000i128;
    let day = (local(at).div_euclid(day_ns) - local(start).div_euclid(day_ns)) as usize;
    let hour = (local(at).rem_euclid(day_ns) / (3600 * 1_000_000_000)) as usize;
    (day, hour)
}

/// Everything the run needs, resolved from a scenario and a seed.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) seed: u64,
    pub(crate) start: Timestamp,
    pub(crate) zone: Zone,
    /// Arrivals stop here.
    pub(crate) end: Timestamp,
    /// Everything stops here.
    pub(crate) hard_end: Timestamp,
    pub(crate) flows: Vec<FlowConfig>,
    pub(crate) usd_cny: Decimal,
    pub(crate) usd_khr: Decimal,
    pub(crate) netting: NettingSchedule,
    pub(crate) cn_holidays: Vec<Date>,
    pub(crate) kh_holidays: Vec<Date>,
    pub(crate) windows: Vec<Window>,
    pub(crate) app_timeout: Span,
    pub(crate) reversal_fail: Ppm,
    pub(crate) reversal_gap: Span,
    pub(crate) hold: Span,
    pub(crate) quote_ttl: Span,
    pub(crate) slos: Vec<SloSpec>,
    pub(crate) warmup_minutes: Option<u64>,
}

fn slo(s: &crate::scenario::Slo) -> SloSpec {
    SloSpec {
        name: s.name.clone(),
        metric: SloMetric::from_name(&s.metric).expect("validated"),
        flow: s.flow.as_deref().and_then(|f| Flow::ALL.into_iter().find(|x| x.name() == f)),
        bound: match (s.max, s.min) {
            (Some(max), _) => SloBound::Max(max),
            (_, Some(min)) => SloBound::Min(min),
            (None, None) => unreachable!("validated: exactly one of max and min"),
        },
    }
}

impl Config {
    pub(crate) fn new(s: &Scenario, seed: u64) -> Config {
        let start = instant(&s.meta.start).expect("validated");
        let minutes = u64::from(s.meta.duration_hours) * 60;
        let end = start.checked_add(Span::from_minutes(minutes)).expect("in range");
        let hard_end =
            end.checked_add(Span::from_minutes(u64::from(s.meta.drain_minutes))).expect("range");
        let flows = Flow::ALL
            .into_iter()
            .zip([&s.flows.inward, &s.flows.outward, &s.flows.remittance, &s.flows.domestic])
            .filter_map(|(flow, spec)| {
                spec.as_ref().map(|f| FlowConfig::new(flow, f, s, start, minutes))
            })
            .collect();
        let cutoffs: Vec<Cutoff> = s
            .settlement
            .bakong_cutoffs
            .iter()
            .map(|c| validate::cutoff(c).expect("validated"))
            .collect();
        let t = &s.timeouts;
        let sec = |n: u32| Span::from_secs(u64::from(n));
        Config {
            name: s.meta.name.clone(),
            seed,
            start,
            zone: validate::zone_of(&s.meta.start).expect("validated"),
            end,
            hard_end,
            flows,
            usd_cny: validate::rate(&s.fx.usd_cny).expect("validated"),
            usd_khr: validate::rate(&s.fx.usd_khr).expect("validated"),
            netting: NettingSchedule::new(&cutoffs).expect("validated"),
            cn_holidays: validate::holiday_dates(&s.calendar.cn_holidays),
            kh_holidays: validate::holiday_dates(&s.calendar.kh_holidays),
            windows: s.windows.iter().map(Window::new).collect(),
            app_timeout: sec(t.app_s),
            reversal_fail: ppm(t.reversal_attempt_fail_pct),
            reversal_gap: Span::from_nanos(1_000_000_000 / u64::from(t.reversals_per_second_max)),
            hold: Span::from_minutes(u64::from(t.hold_minutes)),
            quote_ttl: sec(s.fx.quote_ttl_seconds),
            slos: s.slo.iter().map(slo).collect(),
            warmup_minutes: s.report.warmup_minutes.map(u64::from),
        }
    }
}
