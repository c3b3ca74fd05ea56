//! A scenario's traffic as a request schedule for `sim load`: each flow's arrival process from
//! the scenario's resolved per-minute rates (the smooth daily curve the simulator uses, scaled
//! by `--rate-multiplier`), time compressed by `--speedup`, with payers, merchants' codes (made
//! by the simulator's own `build::merchant_khqr` and `unionpay_merchant`) and amounts (the scenario's amount mixtures).
//!
//! The draws come from the load generator's own streams of the scenario's seed, so a schedule
//! is a pure function of (scenario, seed, options); they are not the simulator's draws one for
//! one (surges, tour-group bursts, retries, think times, damaged or expired codes and
//! remittances fixed in CNY are the simulator's alone), so the
//! model check compares distributions, not payment by payment.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::generate::{Planned, Schedule};
use crate::payments::party::Flow;
use crate::sim::rng::Prng;
use crate::sim::world::build::{merchant_khqr, unionpay_merchant};
use crate::sim::world::config::{Config, cumulative, draw_share};

/// Streams of the load generator: far from the simulator's.
const STREAM_LOAD: u64 = 0x10AD << 48;

/// Merchants per flow the schedule makes codes for (each merchant's code is made once).
pub const MERCHANTS_MAX: u32 = 10_000;

struct FlowState {
    flow: Flow,
    index: usize,
    rng: Prng,
    next: Option<Duration>,
    /// Each merchant's code, in KHR and in USD (the same code twice where one currency).
    codes: Vec<[String; 2]>,
    originators: Vec<(Arc<str>, u32)>,
}

/// The schedule of a scenario's traffic.
pub struct ScenarioSchedule {
    cfg: Config,
    flows: Vec<FlowState>,
    speedup: f64,
    multiplier: f64,
    start_minute: u64,
    duration: Duration,
    run: String,
    n: u64,
}

/// What the schedule needs besides the scenario.
pub struct ScheduleOptions {
    /// Emulated time runs this many times faster than real time.
    pub speedup: f64,
    /// Every rate times this.
    pub multiplier: f64,
    /// The scenario minute the run starts at.
    pub start_minute: u64,
    /// Real time to run.
    pub duration: Duration,
    /// This run's name: idempotency keys are `RUN-n`, so runs against one journal never collide.
    pub run: String,
    /// The API token of each originator, by participant name.
    pub tokens: std::collections::BTreeMap<String, String>,
}

impl ScenarioSchedule {
    /// The schedule of `cfg`'s flows: merchant payments (domestic, inward, outward) and
    /// remittances to recipients at Chinese issuers.
    ///
    /// # Errors
    /// The name of an originator without a token.
    pub fn new(
        scenario: &crate::scenario::Scenario,
        options: ScheduleOptions,
    ) -> Result<ScenarioSchedule, String> {
        let cfg = Config::new(scenario, scenario.meta.seed);
        let p = &cfg.population;
        let bank_cum = cumulative(p.bank_shares_pct.iter().copied());
        let issuer_cum = cumulative(p.cn_issuer_shares_pct.iter().copied());
        let token = |name: String| -> Result<Arc<str>, String> {
            options.tokens.get(&name).map(|t| Arc::from(t.as_str())).ok_or(name)
        };
        let mut flows = Vec::new();
        for (index, f) in cfg.flows.iter().enumerate() {
            let mut rng = Prng::stream(cfg.seed, STREAM_LOAD | index as u64);
            let (originators, cum) = match f.flow {
                Flow::Domestic | Flow::Outward => (
                    (0..p.bank_shares_pct.len())
                        .map(|b| format!("kh_bank_{b}"))
                        .collect::<Vec<_>>(),
                    &bank_cum,
                ),
                Flow::Inward => (
                    (0..p.cn_issuer_shares_pct.len()).map(|b| format!("cn_issuer_{b}")).collect(),
                    &issuer_cum,
                ),
                Flow::Remittance => (
                    (0..p.bank_shares_pct.len()).map(|b| format!("kh_bank_{b}")).collect(),
                    &bank_cum,
                ),
            };
            let originators = originators
                .into_iter()
                .zip(cum.iter().copied())
                .map(|(name, c)| token(name).map(|t| (t, c)))
                .collect::<Result<Vec<_>, _>>()?;
            let merchants = match f.flow {
                Flow::Domestic => p.domestic_merchants,
                Flow::Inward => p.inward_merchants,
                Flow::Outward => p.outward_merchants,
                Flow::Remittance => p.remittance_recipients,
            }
            .clamp(1, MERCHANTS_MAX);
            let codes = (0..merchants)
                .map(|i| {
                    let bank =
                        u16::try_from(draw_share(&bank_cum, &mut rng)).expect("at most 64 banks");
                    let khqr =
                        |currency, upi| merchant_khqr(i, bank, currency, upi, "Phnom Penh".into());
                    match f.flow {
                        Flow::Remittance => {
                            // A recipient: an issuer by share, and a card number there.
                            let issuer = draw_share(&issuer_cum, &mut rng);
                            let card = format!("cn_issuer_{issuer}:62{i:014}");
                            [card.clone(), card]
                        }
                        Flow::Domestic => [khqr(116, false), khqr(840, false)],
                        Flow::Inward => [khqr(116, true), khqr(116, true)],
                        _ if rng.chance_ppm(cfg.wechat) => {
                            [format!("wxp://f2f0{i:010}"), format!("wxp://f2f0{i:010}")]
                        }
                        _ => [unionpay_merchant(i), unionpay_merchant(i)],
                    }
                })
                .collect();
            flows.push(FlowState { flow: f.flow, index, rng, next: None, codes, originators });
        }
        let mut s = ScenarioSchedule {
            cfg,
            flows,
            speedup: options.speedup,
            multiplier: options.multiplier,
            start_minute: options.start_minute,
            duration: options.duration,
            run: options.run,
            n: 0,
        };
        for i in 0..s.flows.len() {
            s.flows[i].next = s.next_arrival(i, Duration::ZERO);
        }
        Ok(s)
    }

    /// The flow's next arrival after real time `t`: a Poisson process whose rate is constant in
    /// each scenario minute (memorylessness lets a draw that crosses a minute restart there).
    fn next_arrival(&mut self, i: usize, t: Duration) -> Option<Duration> {
        let minute_real = 60.0 / self.speedup;
        let f = &self.cfg.flows[self.flows[i].index];
        let mut t = t.as_secs_f64();
        loop {
            if t >= self.duration.as_secs_f64() {
                return None;
            }
            let m = self.start_minute + (t / minute_real) as u64;
            let per_minute = *f.per_minute.get(usize::try_from(m).ok()?)? * self.multiplier;
            let boundary = ((t / minute_real).floor() + 1.0) * minute_real;
            if per_minute > 0.0 {
                let rate_per_real_s = per_minute * self.speedup / 60.0;
                let u = self.flows[i].rng.unit();
                let at = t - (1.0 - u).ln() / rate_per_real_s;
                if at < boundary {
                    return (at < self.duration.as_secs_f64()).then(|| Duration::from_secs_f64(at));
                }
            }
            t = boundary;
        }
    }
}

impl Schedule for ScenarioSchedule {
    fn next(&mut self) -> Option<Planned> {
        let i = (0..self.flows.len())
            .filter(|&i| self.flows[i].next.is_some())
            .min_by_key(|&i| self.flows[i].next)?;
        let at = self.flows[i].next?;
        self.flows[i].next = self.next_arrival(i, at);
        self.n += 1;
        let n = self.n;
        let fs = &mut self.flows[i];
        let f = &self.cfg.flows[fs.index];
        let cum: Vec<u32> = fs.originators.iter().map(|(_, c)| *c).collect();
        let token = fs.originators[draw_share(&cum, &mut fs.rng)].0.clone();
        let code = &fs.codes[fs.rng.below(fs.codes.len() as u64) as usize];
        let amount = f.amounts_for(&mut fs.rng).sample(&mut fs.rng);
        // A domestic merchant's code in the amount's currency (each merchant has both).
        let code =
            code[usize::from(amount.currency == crate::payments::money::Currency::Usd)].clone();
        let mut body = serde_json::json!({
            "amount": amount.to_decimal().to_string(),
            "currency": amount.currency.alpha(),
            "payer": format!("payer-{}", fs.rng.below(1_000_000)),
            "idempotency_key": format!("{}-{n}", self.run),
        });
        match code.split_once(':').filter(|_| fs.flow == Flow::Remittance) {
            Some((institution, account)) => {
                body["recipient"] =
                    serde_json::json!({ "institution": institution, "account": account });
            }
            None => body["qr"] = serde_json::Value::String(code),
        }
        Some(Planned { at, token, body: Bytes::from(body.to_string()), flow: Some(fs.flow) })
    }
}
