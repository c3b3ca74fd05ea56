//! The scenario turned into what the run loop uses: instants, nanoseconds, parts per million,
//! arrival rates per minute, and amount samplers.

use rust_decimal::Decimal;

use crate::payments::money::{Currency, Money};
use crate::payments::network::Decline;
use crate::payments::network::originator::OriginatorPolicy;
use crate::payments::party::Flow;
use crate::payments::settlement::{Cutoff, NettingSchedule};
use crate::payments::time::{Date, Span, Timestamp, Zone};
use crate::record::{SloBound, SloMetric, SloSpec};
use crate::scenario::topology::{self, Participants, RouteNames};
use crate::scenario::validate::{self, instant};
use crate::scenario::{AmountSpec, DelaySpec, FlowSpec, Limits, Population, Scenario, WindowSpec};
use crate::sim::network::{self, Latency, standard_normal};
use crate::sim::rng::Prng;

/// Parts per million.
pub(crate) type Ppm = u32;

pub(crate) fn ppm(pct: f64) -> Ppm {
    (pct * 10_000.0).round().clamp(0.0, 1e6) as Ppm
}

fn ns(ms: f64) -> u64 {
    (ms * 1e6).round() as u64
}

pub(crate) fn lognormal_ms(pair: [f64; 2]) -> Latency {
    let ns = |ms: f64| ns(ms).max(1);
    Latency::log_normal(ns(pair[0]), ns(pair[1]).max(ns(pair[0])))
}

/// A delay as the engine draws it: `[median, p99]` is log-normal.
fn delay(pair: Option<[f64; 2]>, dist: Option<&DelaySpec>) -> Latency {
    let latency = match (pair, dist) {
        (Some(pair), _) => lognormal_ms(pair),
        (None, Some(DelaySpec::LogNormal { median_ms, p99_ms })) => {
            lognormal_ms([*median_ms, *p99_ms])
        }
        (None, Some(DelaySpec::Exponential { mean_ms })) => {
            Latency::Exponential { mean_ns: ns(*mean_ms).max(1) }
        }
        (None, Some(DelaySpec::Constant { ms })) => Latency::Constant { ns: ns(*ms) },
        (None, Some(DelaySpec::Empirical { points })) => Latency::Empirical {
            points: points.iter().map(|p| (validate::share_bps(p.0), ns(p.1))).collect(),
        },
        (None, None) => unreachable!("validated: a delay is given"),
    };
    assert_eq!(latency.validate(), Ok(()), "validated delays are possible");
    latency
}

/// A node as the run sees it: its parameters, and how many instances it has (one per
/// participant for a participants' node).
#[derive(Clone, Debug)]
pub(crate) struct NodeConfig {
    pub(crate) name: String,
    pub(crate) count: u32,
    /// Servers of each instance.
    pub(crate) servers: Vec<u32>,
    pub(crate) queue_max: u32,
    pub(crate) service: Latency,
    /// Every other message's service time.
    pub(crate) other_service: Latency,
    /// It discards requests whose originator has timed out.
    pub(crate) drop_expired: bool,
    /// It serves domestic requests first (`Some(true)`), cross-border first (`Some(false)`),
    /// or all alike.
    pub(crate) domestic_first: Option<bool>,
    /// Its limits on each sender's new requests.
    pub(crate) admission: Option<crate::sim::admission::Limits>,
    /// How long it waits for the answer to a request it forwards.
    pub(crate) deadline: Option<Span>,
    /// What it does then.
    pub(crate) on_deadline: crate::payments::network::relay::OnDeadline,
    /// Its circuit breaker's limits.
    pub(crate) breaker: Option<crate::sim::breaker::Limits>,
    /// The degraded windows that name it.
    pub(crate) windows: Vec<usize>,
}

/// A link as the run sees it.
#[derive(Clone, Debug)]
pub(crate) struct LinkConfig {
    pub(crate) name: String,
    pub(crate) link: network::Link,
}

/// Which instance of a node a hop uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// The node has one instance.
    Only,
    /// The payer's participant's.
    Payer,
    /// The payee's participant's.
    Payee,
}

/// One hop of a route: the link crossed to reach a node, and the node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hop {
    /// Index into [`Config::links`].
    pub(crate) link: u16,
    /// Index into [`Config::nodes`].
    pub(crate) node: u16,
    pub(crate) place: Place,
}

/// A flow's route, resolved to indexes.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub(crate) hops: Vec<Hop>,
    /// The hop where the scheme's technical error may strike.
    pub(crate) scheme: u8,
    /// The hop that books the payee's side.
    pub(crate) credit: u8,
    /// The Bakong switch's hop, where a member bank's liquidity is checked (when the route
    /// crosses it).
    pub(crate) switch: Option<u8>,
    /// Where the switch's and the scheme's clearing files are kept (cross-border flows).
    pub(crate) taps: Option<Taps>,
}

/// The hops where an answer passing by is written to a clearing file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taps {
    /// The switch's file, kept at the Bakong gateway.
    pub(crate) switch: u8,
    /// The scheme's file, kept at UPI.
    pub(crate) scheme: u8,
}

impl Route {
    fn new(names: &RouteNames, flow: Flow, nodes: &[NodeConfig], links: &[LinkConfig]) -> Route {
        let node_index = |n: &str| nodes.iter().position(|x| x.name == n).expect("validated");
        let link_index = |l: &str| links.iter().position(|x| x.name == l).expect("validated");
        let last = names.nodes.len() - 1;
        let hops = names
            .nodes
            .iter()
            .zip(&names.links)
            .enumerate()
            .map(|(i, (n, l))| Hop {
                link: link_index(l) as u16,
                node: node_index(n) as u16,
                place: match (Participants::of_node(n), i) {
                    (None, _) => Place::Only,
                    (Some(_), 0) => Place::Payer,
                    (Some(_), _) => {
                        assert_eq!(i, last, "validated: participants only at the ends");
                        Place::Payee
                    }
                },
            })
            .collect();
        let hop_of = |name: &str| {
            let i = names.nodes.iter().skip(1).position(|n| n == name).expect("validated");
            (i + 1) as u8
        };
        let taps = (flow != Flow::Domestic).then(|| Taps {
            switch: hop_of(topology::BAKONG_GATEWAY),
            scheme: hop_of(topology::UPI),
        });
        let switch = names.nodes.iter().position(|n| n == topology::BAKONG_SWITCH).map(|i| i as u8);
        Route { hops, scheme: hop_of(&names.scheme), credit: hop_of(&names.credit), switch, taps }
    }

    /// The node names along the route.
    pub(crate) fn names<'a>(&self, nodes: &'a [NodeConfig]) -> Vec<&'a str> {
        self.hops.iter().map(|h| nodes[h.node as usize].name.as_str()).collect()
    }
}

/// Windows (by index) that name `target`.
fn windows_for(windows: &[Window], target: &str) -> Vec<usize> {
    windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.targets.iter().any(|t| t == target))
        .map(|(i, _)| i)
        .collect()
}

fn nodes(s: &Scenario, windows: &[Window]) -> Vec<NodeConfig> {
    let p = &s.population;
    validate::nodes(s)
        .into_iter()
        .map(|(name, spec)| NodeConfig {
            name: name.to_string(),
            count: match Participants::of_node(name) {
                Some(Participants::KhBanks) => p.bank_shares_pct.len() as u32,
                Some(Participants::CnIssuers) => p.cn_issuer_shares_pct.len() as u32,
                Some(Participants::CnAcquirers) => topology::CN_ACQUIRERS_COUNT,
                None => 1,
            },
            servers: validate::servers_of(s, name, spec),
            queue_max: spec.queue_max,
            service: delay(spec.service_ms, spec.service.as_ref()),
            other_service: if spec.other_service_ms.is_some() || spec.other_service.is_some() {
                delay(spec.other_service_ms, spec.other_service.as_ref())
            } else {
                delay(spec.service_ms, spec.service.as_ref())
            },
            drop_expired: spec.drop_expired,
            domestic_first: spec.priority.as_deref().and_then(validate::priority),
            admission: spec.admission.as_ref().map(|a| crate::sim::admission::Limits {
                rate_milli_per_s: a.rate_per_s.map(|r| (r * 1000.0).round() as u64),
                burst: a
                    .burst
                    .unwrap_or_else(|| a.rate_per_s.map_or(1, |r| (r.ceil() as u32).max(1))),
                concurrency_max: a.concurrency_max,
            }),
            deadline: spec.deadline_s.map(|d| Span::from_nanos(secs(d))),
            on_deadline: spec
                .on_deadline
                .as_deref()
                .and_then(validate::on_deadline)
                .unwrap_or(crate::payments::network::relay::OnDeadline::Decline),
            breaker: spec.breaker.as_ref().map(|b| crate::sim::breaker::Limits {
                failure_permille: (b.failure_pct * 10.0).round() as u32,
                window_s: b.window_s,
                requests_min: b.requests_min,
                open: Span::from_secs(u64::from(b.open_s)),
            }),
            windows: windows_for(windows, name),
        })
        .collect()
}

fn links(s: &Scenario, windows: &[Window]) -> Vec<LinkConfig> {
    validate::links(s)
        .into_iter()
        .map(|(name, l)| LinkConfig {
            name: name.to_string(),
            link: network::Link {
                latency: delay(l.latency_ms, l.latency.as_ref()),
                loss_ppm: ppm(l.loss_pct),
                duplicate_ppm: ppm(l.duplicate_pct),
                outages: l.outages.iter().map(span).collect(),
                degraded: windows_for(windows, name)
                    .iter()
                    .map(|&w| windows[w].degraded())
                    .collect(),
            },
        })
        .collect()
}

fn span(o: &crate::scenario::Span) -> network::Window {
    network::Window {
        from: instant(&o.from).expect("validated"),
        until: instant(&o.to).expect("validated"),
    }
}

/// A degraded window, resolved: multipliers in thousandths, rates in parts per million.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    pub(crate) name: String,
    pub(crate) span: network::Window,
    pub(crate) targets: Vec<String>,
    pub(crate) median_permille: u32,
    pub(crate) p99_permille: u32,
    pub(crate) error_permille: u32,
    pub(crate) loss: Option<Ppm>,
    pub(crate) late_approval: Option<Ppm>,
    pub(crate) duplicate: Option<Ppm>,
    /// The targeted nodes are down (crashed) in the window.
    pub(crate) crash: bool,
}

fn permille(x: f64) -> u32 {
    (x * 1000.0).round() as u32
}

impl Window {
    fn new(w: &WindowSpec) -> Window {
        Window {
            name: w.name.clone(),
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
            duplicate: w.duplicate_pct.map(ppm),
            crash: w.crash,
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
            duplicate_ppm: self.duplicate,
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
    /// Surges of the single arrivals' rate, when the flow has them.
    pub(crate) surges: Option<SurgeConfig>,
    pub(crate) auspicious: Ppm,
    pub(crate) auspicious_cny: Vec<Money>,
    pub(crate) amounts: Vec<AmountSampler>,
    amounts_cum: Vec<u32>,
    pub(crate) failures: FailureRates,
    /// How the flow's originator waits, inquires and reverses.
    pub(crate) policy: OriginatorPolicy,
    pub(crate) route: Route,
}

/// A flow's surges: the two states' rate factors and mean lengths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SurgeConfig {
    /// The rate factor in a surge, and outside one (the mean factor is one).
    pub(crate) high_x: f64,
    pub(crate) low_x: f64,
    /// Mean lengths of a surge and of the calm between two, ns.
    pub(crate) high_mean_ns: f64,
    pub(crate) low_mean_ns: f64,
    /// The chance a run starts in a surge.
    pub(crate) share: f64,
}

impl SurgeConfig {
    fn new(s: &crate::scenario::Surges) -> SurgeConfig {
        let share = s.share_pct / 100.0;
        SurgeConfig {
            high_x: s.x,
            low_x: (1.0 - share * s.x) / (1.0 - share),
            high_mean_ns: s.mean_s * 1e9,
            low_mean_ns: s.mean_s * 1e9 * (1.0 - share) / share,
            share,
        }
    }
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

impl FailureRates {
    /// The originator's decision: PIN, limit and risk, then the host's availability, each
    /// drawn (by `chance`, given the class and its rate) only when the one before did not
    /// decline. The simulator and the emulated members of `sim serve` both draw this.
    pub(crate) fn originator_decline(
        &self,
        mut chance: impl FnMut(Decline, Ppm) -> bool,
    ) -> Option<Decline> {
        [
            (Decline::PinFailure, self.pin_failure),
            (Decline::LimitExceeded, self.limit_exceeded),
            (Decline::RiskDecline, self.risk_decline),
            (Decline::IssuerUnavailable, self.issuer_unavailable),
        ]
        .into_iter()
        .find(|&(d, ppm)| chance(d, ppm))
        .map(|(d, _)| d)
    }

    /// The far side's decision: the payee's account invalid, then a technical error (drawn
    /// for every flow, declining all but domestic ones), each drawn only when the one before
    /// did not decline.
    pub(crate) fn far_side_decline(
        &self,
        flow: Flow,
        mut chance: impl FnMut(Decline, Ppm) -> bool,
    ) -> Option<Decline> {
        if chance(Decline::MerchantInvalid, self.merchant_invalid) {
            Some(Decline::MerchantInvalid)
        } else if chance(Decline::AcquirerError, self.acquirer_error) && flow != Flow::Domestic {
            Some(Decline::AcquirerError)
        } else {
            None
        }
    }
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
    fn new(flow: Flow, f: &FlowSpec, s: &Scenario, start: Timestamp, route: Route) -> FlowConfig {
        let minutes = u64::from(s.meta.duration_hours) * 60;
        let t = &s.timeouts;
        let originator_s = match flow {
            Flow::Inward => t.issuer_to_upi_s,
            Flow::Outward | Flow::Remittance => t.bank_to_bakong_s,
            Flow::Domestic => t.domestic_s,
        };
        let zone = validate::offset(&f.hours_offset).expect("validated");
        let burst_share = f.bursts.as_ref().map_or(0.0, |b| b.share_pct / 100.0);
        let steps: Vec<f64> = (0..minutes)
            .map(|m| {
                let at = start.checked_add(Span::from_minutes(m)).expect("in range");
                let (day_index, hour) = local_day_hour(at, start, zone);
                let multiplier = f.day_multipliers[day_index.min(f.day_multipliers.len() - 1)];
                f.daily_payments * s.load.multiplier * multiplier * f.hourly_shares_pct[hour]
                    / 100.0
                    / 60.0
            })
            .collect();
        let hours: Vec<u64> = (0..minutes)
            .map(|m| {
                let at = start.checked_add(Span::from_minutes(m)).expect("in range");
                let (day_index, hour) = local_day_hour(at, start, zone);
                day_index as u64 * 24 + hour as u64
            })
            .collect();
        let per_minute = smooth(&steps, &hours);
        let r = &f.failures_pct;
        let backoff: Vec<Span> =
            t.reversal_backoff_s.iter().map(|&b| Span::from_secs(u64::from(b))).collect();
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
            surges: f.surges.as_ref().map(SurgeConfig::new),
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
                reversal_backoff: backoff.clone(),
                reversal_attempts_max: OriginatorPolicy::reversal_attempts_within(
                    &backoff,
                    Span::from_minutes(u64::from(t.reversal_expiry_minutes)),
                ),
            },
            route,
        }
    }

    /// The amount sampler for a payment: by currency share.
    pub(crate) fn amounts_for(&self, rng: &mut Prng) -> &AmountSampler {
        &self.amounts[draw_share(&self.amounts_cum, rng)]
    }
}

/// The hourly staircase of expected arrivals per minute made a smooth curve: linear between
/// the middles of the hours, each hour keeping exactly its own total (the middles' heights
/// are fitted so that the curve's hours hold their totals, then each hour is scaled to its
/// total exactly). `hour_of[m]` names minute `m`'s hour: a run that starts or ends inside an
/// hour has a shorter piece of it.
pub(crate) fn smooth(steps: &[f64], hour_of: &[u64]) -> Vec<f64> {
    // The run's hours: (first minute, minutes, total).
    let mut pieces: Vec<(usize, usize, f64)> = Vec::new();
    for (m, (&x, &h)) in steps.iter().zip(hour_of).enumerate() {
        match pieces.last_mut() {
            Some(p) if hour_of[p.0] == h => {
                p.1 += 1;
                p.2 += x;
            }
            _ => pieces.push((m, 1, x)),
        }
    }
    let middle = |p: &(usize, usize, f64)| p.0 as f64 + p.1 as f64 / 2.0;
    let curve = |heights: &[f64]| -> Vec<f64> {
        (0..steps.len())
            .map(|m| {
                let t = m as f64 + 0.5;
                let k = pieces.partition_point(|p| middle(p) <= t);
                match (k.checked_sub(1), pieces.get(k)) {
                    (Some(a), Some(b)) => {
                        let (ta, tb) = (middle(&pieces[a]), middle(b));
                        heights[a] + (heights[k] - heights[a]) * (t - ta) / (tb - ta)
                    }
                    (Some(a), None) => heights[a],
                    (None, _) => heights[0],
                }
            })
            .collect()
    };
    let sum_of = |c: &[f64], p: &(usize, usize, f64)| c[p.0..p.0 + p.1].iter().sum::<f64>();
    let mut heights: Vec<f64> = pieces.iter().map(|p| p.2 / p.1 as f64).collect();
    for _ in 0..4 {
        let c = curve(&heights);
        for (h, p) in heights.iter_mut().zip(&pieces) {
            let got = sum_of(&c, p);
            if got > 0.0 {
                *h *= p.2 / got;
            }
        }
    }
    let mut c = curve(&heights);
    for p in &pieces {
        let got = sum_of(&c, p);
        for x in &mut c[p.0..p.0 + p.1] {
            *x = if got > 0.0 { *x * p.2 / got } else { 0.0 };
        }
    }
    c
}

/// The zone of each flow's hours, in the order [`Config::flows`] keeps them.
pub(crate) fn flow_zones(s: &Scenario) -> Vec<Zone> {
    [&s.flows.inward, &s.flows.outward, &s.flows.remittance, &s.flows.domestic]
        .into_iter()
        .flatten()
        .map(|f| validate::offset(&f.hours_offset).expect("validated"))
        .collect()
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
    /// Whether any window crashes a node (else the crash checks are skipped).
    pub(crate) any_crash: bool,
    pub(crate) app_timeout: Span,
    pub(crate) reversal_fail: Ppm,
    pub(crate) reversal_gap: Span,
    pub(crate) hold: Span,
    pub(crate) quote_ttl: Span,
    pub(crate) slos: Vec<SloSpec>,
    pub(crate) warmup_minutes: Option<u64>,
    /// Every node, standard ones first ([`topology::NODES`]), then added ones by name.
    pub(crate) nodes: Vec<NodeConfig>,
    /// Every link, in the same order ([`topology::LINKS`], then added ones).
    pub(crate) links: Vec<LinkConfig>,
    /// Participants and customers (counts and shares: already numbers).
    pub(crate) population: Population,
    pub(crate) limits: Limits,
    pub(crate) fx: FxConfig,
    /// Exceptions injected into UPI's file, parts per million: missing at the network, missing
    /// at the switch, duplicated, amount mismatch, status mismatch.
    pub(crate) exceptions: [Ppm; 6],
    /// UPI's clock against the switch's when it dates its records.
    pub(crate) scheme_clock_skew_ns: i64,
    pub(crate) rounding_tolerance_minor: i64,
    /// Share of outward merchants whose code is WeChat Pay's.
    pub(crate) wechat: Ppm,
    /// Ledger accounts the population and participants open.
    pub(crate) accounts_needed: u64,
    /// Member banks' prefunding and liquidity rules.
    pub(crate) liquidity: LiquidityConfig,
}

/// Member banks' prefunding at NBC and what a shortage does.
#[derive(Clone, Debug)]
pub(crate) struct LiquidityConfig {
    /// Per bank: KHR and USD prefunding, minor units.
    pub(crate) prefunds: Vec<[i64; 2]>,
    /// The cap on a bank's net debit in a cycle, per mille of its balance at the cycle's start.
    pub(crate) cap_permille: u64,
    /// Hold a payment that would pass the cap for the next cycle, rather than decline it.
    pub(crate) hold: bool,
    /// Restore each bank's balance to its prefunding after each settlement.
    pub(crate) top_up: bool,
}

impl LiquidityConfig {
    /// The cap a balance gives.
    pub(crate) fn cap(&self, balance: i64) -> i64 {
        (i128::from(balance.max(0)) * i128::from(self.cap_permille) / 1000) as i64
    }
}

/// The rates' movement, the scheme's margin, and the spreads and fees.
#[derive(Clone, Debug)]
pub(crate) struct FxConfig {
    pub(crate) walk_step: Span,
    /// How far the walk may drift from the starting mid, as a fraction.
    pub(crate) band: Decimal,
    /// Per pair (USD/CNY, USD/KHR).
    pub(crate) daily_sigma_pct: [f64; 2],
    pub(crate) shocks: Vec<Shock>,
    pub(crate) scheme_margin_bps: u32,
    pub(crate) outward_spread_bps: u32,
    pub(crate) remittance_spread_bps: u32,
    pub(crate) inward_mdr_bps: u32,
}

/// A step change of one mid rate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shock {
    pub(crate) at: Timestamp,
    /// 0: USD/CNY, 1: USD/KHR.
    pub(crate) pair: usize,
    pub(crate) move_bps: i32,
}

impl FxConfig {
    fn new(fx: &crate::scenario::Fx) -> FxConfig {
        FxConfig {
            walk_step: Span::from_minutes(u64::from(fx.walk_step_minutes)),
            band: Decimal::from_f64_retain(fx.band_pct / 100.0).unwrap_or_default().round_dp(6),
            daily_sigma_pct: [fx.usd_cny_daily_sigma_pct, fx.usd_khr_daily_sigma_pct],
            shocks: fx
                .shocks
                .iter()
                .map(|x| Shock {
                    at: instant(&x.at).expect("validated"),
                    pair: usize::from(x.pair == "USD/KHR"),
                    move_bps: x.move_bps,
                })
                .collect(),
            scheme_margin_bps: fx.scheme_margin_bps,
            outward_spread_bps: fx.outward_spread_bps,
            remittance_spread_bps: fx.remittance_spread_bps,
            inward_mdr_bps: fx.inward_mdr_bps,
        }
    }
}

fn slo(s: &crate::scenario::Slo) -> SloSpec {
    SloSpec {
        name: s.name.clone(),
        metric: SloMetric::from_name(&s.metric).expect("validated"),
        flow: s.flow.as_deref().and_then(Flow::from_name),
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
        let windows: Vec<Window> = s.windows.iter().map(Window::new).collect();
        let nodes = nodes(s, &windows);
        let links = links(s, &windows);
        let flows = Flow::ALL
            .into_iter()
            .zip([&s.flows.inward, &s.flows.outward, &s.flows.remittance, &s.flows.domestic])
            .filter_map(|(flow, spec)| {
                let route = Route::new(&validate::route(s, flow), flow, &nodes, &links);
                spec.as_ref().map(|f| FlowConfig::new(flow, f, s, start, route))
            })
            .collect();
        let e = &s.exceptions;
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
            any_crash: windows.iter().any(|w| w.crash),
            windows,
            app_timeout: sec(t.app_s),
            reversal_fail: ppm(t.reversal_attempt_fail_pct),
            reversal_gap: Span::from_nanos(1_000_000_000 / u64::from(t.reversals_per_second_max)),
            hold: Span::from_minutes(u64::from(t.hold_minutes)),
            quote_ttl: sec(s.fx.quote_ttl_seconds),
            slos: s.slo.iter().map(slo).collect(),
            warmup_minutes: s.report.warmup_minutes.map(u64::from),
            nodes,
            links,
            population: s.population.clone(),
            limits: s.limits.clone(),
            fx: FxConfig::new(&s.fx),
            exceptions: [
                e.missing_at_network,
                e.missing_at_switch,
                e.duplicate,
                e.amount_mismatch,
                e.status_mismatch,
                e.late_presentment,
            ]
            .map(|per_10k| (per_10k * 100.0).round() as Ppm),
            scheme_clock_skew_ns: e.scheme_clock_skew_ms * 1_000_000,
            rounding_tolerance_minor: s.settlement.recon_rounding_tolerance_minor,
            wechat: s.flows.outward.as_ref().map_or(0, |f| ppm(f.wechat_share_pct)),
            accounts_needed: validate::accounts_needed(s),
            liquidity: LiquidityConfig {
                prefunds: validate::prefunds(s),
                cap_permille: (s.liquidity.debit_cap_pct * 10.0).round() as u64,
                hold: s.liquidity.on_short == "hold",
                top_up: s.liquidity.top_up,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the smoothed daily curve keeps every hour's total, never goes negative, leaves a
    //! flat day flat and has no staircase. Method: a day's shares from the domain notes.

    use super::smooth;

    fn check(shares: &[f64], first_hour_minutes: usize, smooth_expected: bool) {
        let mut steps = Vec::new();
        let mut hours = Vec::new();
        for (h, &s) in shares.iter().enumerate() {
            let minutes = if h == 0 { first_hour_minutes } else { 60 };
            for _ in 0..minutes {
                steps.push(s);
                hours.push(h as u64);
            }
        }
        let c = smooth(&steps, &hours);
        assert_eq!(c.len(), steps.len());
        assert!(c.iter().all(|&x| x >= 0.0));
        let mut at = 0;
        for (h, &s) in shares.iter().enumerate() {
            let minutes = if h == 0 { first_hour_minutes } else { 60 };
            let total: f64 = c[at..at + minutes].iter().sum();
            assert!((total - s * minutes as f64).abs() < 1e-9 * (1.0 + s), "hour {h}: {total}");
            at += minutes;
        }
        // Minute to minute, the curve moves far less than the staircase jumps.
        let jump = shares.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f64::max);
        let step = c.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f64::max);
        if smooth_expected {
            assert!(jump == 0.0 || step < jump / 4.0, "largest minute step {step} vs jump {jump}");
        }
    }

    #[test]
    fn every_hour_keeps_its_total_and_the_staircase_is_gone() {
        // Inward tourists' hourly shares (docs/calibration.md).
        let inward = [
            1.0, 0.5, 0.3, 0.2, 0.3, 1.2, 2.5, 3.5, 4.5, 5.0, 5.5, 7.0, 8.0, 6.5, 5.0, 4.5, 4.5,
            6.0, 8.5, 8.5, 6.5, 4.5, 3.5, 2.5,
        ];
        check(&inward, 60, true);
        check(&inward, 30, true);
        check(&[2.0; 24], 60, true);
        // An hour without traffic stays without: its neighbours keep a step at its edges.
        check(&[0.0, 0.0, 4.0, 0.0, 1.0], 60, false);
        let flat = smooth(&[2.0; 180], &[0; 180]);
        assert!(flat.iter().all(|&x| (x - 2.0).abs() < 1e-12));
    }
}
