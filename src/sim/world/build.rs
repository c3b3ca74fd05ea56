//! Building a world from a scenario: participants, customers and their wallets, merchant codes
//! (made by the QR core), nodes, links, rates, and the first events.

use std::collections::BTreeSet;
use std::mem::size_of;

use rand_distr::Zipf;
use rust_decimal::Decimal;

use super::books::{self, Books, Role};
use super::config::{Config, cumulative, draw_share};
use super::{Codes, Event, FxWalk, LinkModel, Node, Sabotage, Stop, Surge, World};
use crate::payments::fx::{Pair, scheme_publication_instants};
use crate::payments::money::Currency;
use crate::payments::party::Flow;
use crate::payments::qr::{CodeKind, EncodeSpec, encode};
use crate::payments::settlement::Calendar;
use crate::payments::time::{Span, Timestamp, Zone};
use crate::record::flow::LatencySample;
use crate::record::{FlowStats, MinuteStats, PeakSeconds, Sizing};
use crate::scenario::validate::{EVENT_QUEUE_MAX, EVENTS_MAX};
use crate::sim::audit::Auditor;
use crate::sim::queue::{EventQueue, SEQUENCE_MAX, SLOTS_MAX};
use crate::sim::rng::Prng;
use crate::sim::station::Station;

/// Stream namespaces: each entity's stream is `Prng::stream(seed, namespace | index)`.
pub(super) const STREAM_ARRIVALS: u64 = 1 << 56;
pub(super) const STREAM_NODES: u64 = 2 << 56;
pub(super) const STREAM_LINKS: u64 = 3 << 56;
pub(super) const STREAM_FX: u64 = 4 << 56;
pub(super) const STREAM_EXCEPTIONS: u64 = 5 << 56;
pub(super) const STREAM_PAYMENTS: u64 = 6 << 56;
pub(super) const STREAM_CUSTOMERS: u64 = 7 << 56;
pub(super) const STREAM_SURGES: u64 = 8 << 56;

/// Where merchants are (domain notes §7.1), and the cumulative shares in parts per million.
const CITIES: [&str; 4] = ["Phnom Penh", "Siem Reap", "Sihanoukville", "Battambang"];
const CITIES_CUM: [u32; 4] = [450_000, 800_000, 950_000, 1_000_000];

/// Merchants' popularity: rank k (from 1) drawn with weight 1/k^s, in constant memory.
fn zipf(n: u32, s: f64) -> Option<Zipf<f64>> {
    (n > 0).then(|| Zipf::new(f64::from(n), s).expect("validated: n ≥ 1, s ≥ 0"))
}

fn customer_at(seed: u64, role: Role, i: u32, cum: &[u32]) -> u16 {
    let mut rng = Prng::stream(seed, STREAM_CUSTOMERS | ((role as u64) << 32) | u64::from(i));
    draw_share(cum, &mut rng) as u16
}

/// Whether the scenario has `flow`: its merchants' codes are made only then.
fn runs(cfg: &Config, flow: Flow) -> bool {
    cfg.flows.iter().any(|f| f.flow == flow)
}

/// Merchants' codes, made by the QR encoder; each merchant's bank or acquirer is the one
/// `books` opened its account at.
fn codes(cfg: &Config, books: &Books) -> Codes {
    let (p, seed) = (&cfg.population, cfg.seed);
    let has = |flow: Flow| runs(cfg, flow);
    let city = |rng: &mut Prng| CITIES[draw_share(&CITIES_CUM, rng)].to_string();
    let khqr = |i: u32, role: Role, currency: u16, upi: bool| {
        let b = books.customer(role, i).at;
        let mut rng =
            Prng::stream(seed, STREAM_CUSTOMERS | 1 << 40 | ((role as u64) << 32) | u64::from(i));
        merchant_khqr(i, b, currency, upi, city(&mut rng))
    };
    let inward_static = (0..if has(Flow::Inward) { p.inward_merchants } else { 0 })
        .map(|i| khqr(i, Role::InwardMerchant, 116, true))
        .collect();
    let domestic = (0..if has(Flow::Domestic) { p.domestic_merchants } else { 0 })
        .flat_map(|i| {
            [
                khqr(i, Role::DomesticMerchant, 116, false),
                khqr(i, Role::DomesticMerchant, 840, false),
            ]
        })
        .collect();
    let outward = (0..if has(Flow::Outward) { p.outward_merchants } else { 0 })
        .map(|i| {
            if books.customer(Role::OutwardMerchant, i).at == 0 {
                wechat_merchant(i)
            } else {
                unionpay_merchant(i)
            }
        })
        .collect();
    Codes { inward_static, outward, domestic }
}

/// Merchant `i`'s KHQR at member bank `bank`, in `currency` (ISO 4217 numeric), with a UnionPay
/// account (tag 15) when it accepts UnionPay wallets: the code the simulator's merchants show,
/// and the load generator's.
pub(crate) fn merchant_khqr(i: u32, bank: u16, currency: u16, upi: bool, city: String) -> String {
    let spec = EncodeSpec {
        kind: CodeKind::Merchant,
        account_id: Some(format!("m{i}@kb{bank:02}")),
        merchant_name: Some(format!("Shop {i}")),
        merchant_city: Some(city),
        merchant_id: Some(format!("{i:06}")),
        acquiring_bank: Some(format!("Bank {bank:02}")),
        currency_numeric: Some(currency),
        upi_account: upi.then(|| {
            format!("{:08}{:08}{i:015}", 25_990_000 + u32::from(bank), 30_000_000 + u32::from(bank))
        }),
        ..EncodeSpec::default()
    };
    encode(&spec).expect("merchant specs are valid")
}

/// Chinese merchant `i`'s WeChat Pay code.
fn wechat_merchant(i: u32) -> String {
    format!("wxp://f2f0{i:010}")
}

/// Chinese merchant `i`'s UnionPay code.
pub(crate) fn unionpay_merchant(i: u32) -> String {
    let spec = EncodeSpec {
        kind: CodeKind::Unionpay,
        merchant_name: Some(format!("Shanghai Shop {i}")),
        merchant_city: Some("Shanghai".into()),
        upi_account: Some(format!("{:08}{:08}{i:015}", 26_040_000, 48_000_000)),
        mcc: Some("5812".into()),
        ..EncodeSpec::default()
    };
    encode(&spec).expect("UnionPay specs are valid")
}

/// The bytes the merchant code tables hold for `cfg`: every code at the length of the longest
/// one its table can have (the highest merchant number, at the highest bank, with the longest
/// city), made by the same encoder, and the table's index entry for each.
pub(super) fn code_table_bytes_max(cfg: &Config) -> u64 {
    let p = &cfg.population;
    let has = |flow: Flow| runs(cfg, flow);
    let bank = u16::try_from(p.bank_shares_pct.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let city = CITIES.iter().max_by_key(|c| c.len()).expect("cities").to_string();
    let entry = size_of::<usize>();
    // A code with a UnionPay account is in riel; riel and dollars are both three digits.
    let khqr = |n: u32, upi: bool| merchant_khqr(n.saturating_sub(1), bank, 116, upi, city.clone());
    let tables = [
        (has(Flow::Inward), u64::from(p.inward_merchants), khqr(p.inward_merchants, true).len()),
        // A domestic merchant shows a riel code and a dollar code.
        (
            has(Flow::Domestic),
            2 * u64::from(p.domestic_merchants),
            khqr(p.domestic_merchants, false).len(),
        ),
        (
            has(Flow::Outward),
            u64::from(p.outward_merchants),
            unionpay_merchant(p.outward_merchants.saturating_sub(1))
                .len()
                .max(wechat_merchant(p.outward_merchants.saturating_sub(1)).len()),
        ),
    ];
    tables
        .iter()
        .filter(|&&(flows, _, _)| flows)
        .map(|&(_, count, len)| count * (len + entry) as u64)
        .sum()
}

/// 0: the WeChat Pay acquirer, 1: the UnionPay acquirer.
fn outward_acquirer(seed: u64, i: u32, wechat: u32) -> u16 {
    let mut rng = Prng::stream(seed, STREAM_CUSTOMERS | 2 << 40 | u64::from(i));
    u16::from(rng.below(1_000_000) as u32 >= wechat)
}

fn open_customers(books: &mut Books, cfg: &Config, bank_cum: &[u32], issuer_cum: &[u32]) {
    let (p, seed, wechat) = (&cfg.population, cfg.seed, cfg.wechat);
    let kh = |role| {
        move |i| {
            let b = customer_at(seed, role, i, bank_cum);
            (books::bank(b), b)
        }
    };
    let cn = |role| {
        move |i| {
            let b = customer_at(seed, role, i, issuer_cum);
            (books::issuer(b), b)
        }
    };
    books.open_customers(Role::InwardPayer, p.inward_payers, cn(Role::InwardPayer));
    books.open_customers(Role::InwardMerchant, p.inward_merchants, kh(Role::InwardMerchant));
    books.open_customers(Role::OutwardPayer, p.outward_payers, kh(Role::OutwardPayer));
    books.open_customers(Role::OutwardMerchant, p.outward_merchants, |i| {
        let a = outward_acquirer(seed, i, wechat);
        (books::CN_ACQUIRERS[a as usize], a)
    });
    books.open_customers(Role::RemittanceSender, p.remittance_senders, kh(Role::RemittanceSender));
    books.open_customers(
        Role::RemittanceRecipient,
        p.remittance_recipients,
        cn(Role::RemittanceRecipient),
    );
    books.open_customers(Role::DomesticPayer, p.domestic_payers, kh(Role::DomesticPayer));
    books.open_customers(Role::DomesticMerchant, p.domestic_merchants, kh(Role::DomesticMerchant));
}

fn rates(books: &mut Books, cfg: &Config) {
    let (cny, khr) = (cfg.usd_cny, cfg.usd_khr);
    let r = &mut books.rates;
    r.set_mid(Pair::new(Currency::Usd, Currency::Cny), Timestamp::EPOCH, cny).expect("positive");
    r.set_mid(Pair::new(Currency::Usd, Currency::Khr), Timestamp::EPOCH, khr).expect("positive");
    let banks = cfg.population.bank_shares_pct.len() as u16;
    for b in 0..banks {
        r.set_markup(books::bank(b), Flow::Outward, cfg.fx.outward_spread_bps).expect("validated");
        r.set_markup(books::bank(b), Flow::Remittance, cfg.fx.remittance_spread_bps)
            .expect("validated");
    }
}

/// How much the ledger should reserve: accounts, records held at once (the busiest retention
/// window's, and a batch of opening fundings), pending transfers.
pub(super) fn ledger_hints(cfg: &Config) -> [usize; 3] {
    // Records leave the ledger at the minute tick after they pass the horizon.
    let window_minutes = cfg.limits.ledger_retention_hours as usize * 60 + 2;
    let expected: Vec<(Flow, f64)> =
        cfg.flows.iter().map(|f| (f.flow, busiest_window(&f.per_minute, window_minutes))).collect();
    let transfers_hint: f64 = expected
        .iter()
        .map(|(flow, n)| n * if *flow == Flow::Domestic { 1.05 } else { 6.0 })
        .sum::<f64>()
        * 1.02;
    let accounts_hint = cfg.accounts_needed as usize;
    let pending_hint: f64 =
        expected.iter().filter(|(flow, _)| *flow != Flow::Domestic).map(|(_, n)| n * 2.2).sum();
    [
        accounts_hint,
        // The opening fundings are retired as they are made, a batch at a time.
        transfers_hint as usize + books::FUNDING_BATCH + 1024,
        pending_hint as usize + 1024,
    ]
}

/// The most expected arrivals in any `window` consecutive minutes (all of them when the run
/// is shorter).
pub(super) fn busiest_window(per_minute: &[f64], window: usize) -> f64 {
    let mut sum: f64 = per_minute.iter().take(window).sum();
    let mut busiest = sum;
    for (i, &entering) in per_minute.iter().enumerate().skip(window) {
        sum += entering - per_minute[i - window];
        busiest = busiest.max(sum);
    }
    busiest
}

/// Every node's instances, numbered in `cfg.nodes` order, and where each entry's first
/// instance is.
fn nodes(cfg: &Config) -> (Vec<Node>, Vec<u32>) {
    let mut nodes = Vec::new();
    let mut node_base = Vec::with_capacity(cfg.nodes.len());
    for (k, spec) in cfg.nodes.iter().enumerate() {
        node_base.push(nodes.len() as u32);
        let capped = spec
            .admission
            .and_then(|a| a.concurrency_max)
            .map(|cap| u64::from(cap) * senders(cfg, k));
        let sizing = Sizing {
            queue_max: capped.map_or(spec.queue_max, |c| {
                spec.queue_max.min(u32::try_from(c).unwrap_or(u32::MAX))
            }),
            service_ns_mean: spec.service.mean_ns(),
            timeout_ns_behind: timeout_behind(cfg, k),
        };
        for i in 0..spec.count {
            let name =
                if spec.count == 1 { spec.name.clone() } else { format!("{}[{i}]", spec.name) };
            let index = nodes.len() as u64;
            nodes.push(Node {
                name,
                station: Station::new(spec.servers[i as usize], spec.queue_max, cfg.start),
                service: spec.service.clone(),
                other_service: spec.other_service.clone(),
                drop_expired: spec.drop_expired,
                sizing,
                others_served: 0,
                domestic_first: spec.domestic_first,
                admission: spec.admission.map(crate::sim::admission::Admission::new),
                deadline: spec.deadline,
                on_deadline: spec.on_deadline,
                breaker: spec.breaker.map(crate::sim::breaker::Breaker::new),
                deadlines_missed: 0,
                windows: spec.windows.clone(),
                rng: Prng::stream(cfg.seed, STREAM_NODES | index),
                minutes: Vec::new(),
            });
        }
    }
    (nodes, node_base)
}

/// How many senders node `k` has: the instances of every node just before it on some route
/// (one for the payers' apps at an originator).
fn senders(cfg: &Config, k: usize) -> u64 {
    let mut before: Vec<Option<u16>> = cfg
        .flows
        .iter()
        .flat_map(|f| {
            let hops = &f.route.hops;
            (0..hops.len())
                .filter(move |&i| hops[i].node as usize == k)
                .map(move |i| i.checked_sub(1).map(|j| hops[j].node))
        })
        .collect();
    before.sort_unstable();
    before.dedup();
    before.iter().map(|b| b.map_or(1, |n| u64::from(cfg.nodes[n as usize].count))).sum()
}

/// The shortest wait behind node `k`: over every hop of every flow that runs on it, the
/// payer's app's timeout at the originator (hop 0), the originator's further on.
fn timeout_behind(cfg: &Config, k: usize) -> Option<u64> {
    cfg.flows
        .iter()
        .flat_map(|f| {
            f.route
                .hops
                .iter()
                .enumerate()
                .filter(move |(_, h)| h.node as usize == k)
                .map(move |(i, _)| if i == 0 { cfg.app_timeout } else { f.policy.timeout })
        })
        .map(|t| t.as_nanos())
        .min()
}

fn links(cfg: &Config) -> Vec<LinkModel> {
    cfg.links
        .iter()
        .enumerate()
        .map(|(i, l)| LinkModel {
            link: l.link.clone(),
            rng: Prng::stream(cfg.seed, STREAM_LINKS | i as u64),
        })
        .collect()
}

/// Each flow's surge state at the start: in a surge with the surges' share of the time, for a
/// first episode drawn from the flow's own stream.
fn surge_states(cfg: &Config, seed: u64) -> Vec<Option<Surge>> {
    cfg.flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.surges.map(|s| {
                let mut rng = Prng::stream(seed, STREAM_SURGES | i as u64);
                let high = (rng.below(1_000_000) as f64) < s.share * 1e6;
                let mean = if high { s.high_mean_ns } else { s.low_mean_ns };
                let until = cfg
                    .start
                    .checked_add(Span::from_nanos(rng.exponential_ns(mean)))
                    .expect("range");
                Surge { high, until, rng }
            })
        })
        .collect()
}

// The scenario's limits keep the event queue within its key: a run schedules at most the
// events it processes plus those still waiting at its end.
const _: () = assert!(EVENT_QUEUE_MAX as usize <= SLOTS_MAX);
const _: () = assert!(EVENTS_MAX + EVENT_QUEUE_MAX as u64 <= SEQUENCE_MAX);

pub(super) fn world(cfg: Config, sabotage: Sabotage) -> World {
    let (p, seed) = (&cfg.population, cfg.seed);
    let issuers = p.cn_issuer_shares_pct.len();
    let bank_cum = cumulative(p.bank_shares_pct.iter().copied());
    let issuer_cum = cumulative(p.cn_issuer_shares_pct.iter().copied());
    let hints = ledger_hints(&cfg);
    let mut books = Books::new(&cfg.liquidity.prefunds, issuers, hints, sabotage.unfunded_bank);
    books.fee_to_other_bank = sabotage.fee_to_other_bank;
    open_customers(&mut books, &cfg, &bank_cum, &issuer_cum);
    rates(&mut books, &cfg);
    let audit = Auditor::new(books.openings(), &books.ledger, cfg.fx.inward_mdr_bps);

    let (nodes, node_base) = nodes(&cfg);
    let links = links(&cfg);
    let stats = cfg
        .flows
        .iter()
        .map(|f| {
            FlowStats::new(f.flow, &f.route.names(&cfg.nodes), cfg.population.bank_shares_pct.len())
        })
        .collect();
    let minutes_total =
        (cfg.hard_end.saturating_since(cfg.start).as_nanos() / 60_000_000_000) as usize + 1;
    let minutes = cfg.flows.iter().map(|_| vec![MinuteStats::default(); minutes_total]).collect();
    let minute_latency = cfg.flows.iter().map(|_| LatencySample::default()).collect();
    let zipf_tables =
        [p.inward_merchants, p.outward_merchants, p.remittance_recipients, p.domestic_merchants]
            .iter()
            .map(|&n| zipf(n, p.merchant_zipf_s))
            .collect();

    let fx = fx_walk(&cfg);
    let kh_calendar =
        Calendar::new(Zone::PHNOM_PENH, cfg.kh_holidays.clone()).expect("validated holidays");
    let cutoffs = cutoff_instants(&cfg, &kh_calendar);
    let codes = codes(&cfg, &books);
    let arrival_rng = (0..cfg.flows.len())
        .map(|i| [0, 1].map(|g| Prng::stream(seed, STREAM_ARRIVALS | (i as u64) << 1 | g)))
        .collect();
    let surges = surge_states(&cfg, seed);
    let mut world = World {
        queue: EventQueue::new(cfg.start, cfg.limits.event_queue_max as usize),
        nodes,
        node_base,
        merchant_notify: cfg
            .links
            .iter()
            .position(|l| l.name == crate::scenario::topology::MERCHANT_NOTIFY)
            .expect("a standard link") as u16,
        links,
        slots: Vec::new(),
        free: Vec::new(),
        in_flight: 0,
        in_flight_max: cfg.limits.payments_in_flight_max,
        events_max: cfg.limits.events_max,
        retries_max: cfg.limits.retries_max,
        banks: super::liquidity::Banks::new(&cfg.liquidity.prefunds, |x| cfg.liquidity.cap(x)),
        books,
        audit,
        stats,
        minutes,
        minute_latency,
        in_flight_by_flow: vec![0; cfg.flows.len()],
        peak_seconds: PeakSeconds::default(),
        arrival_rng,
        surges,
        payment_seed: seed,
        next_seq: 0,
        next_intent: 0,
        zipf: zipf_tables,
        codes,
        fx,
        cutoffs,
        reversal_slot: cfg.start,
        exceptions_rng: Prng::stream(seed, STREAM_EXCEPTIONS),
        exceptions_injected: 0,
        eventful: BTreeSet::new(),
        closed: super::ClosedDays::default(),
        nettings: Vec::new(),
        scheme_settlements: Vec::new(),
        netting_refusals: Vec::new(),
        cn_calendar: Calendar::new(Zone::BEIJING, cfg.cn_holidays.clone())
            .expect("validated holidays"),
        kh_calendar,
        sabotage,
        events_count: 0,
        marks: Default::default(),
        stop: None::<Stop>,
        cfg,
    };
    world.first_events();
    world
}

fn fx_walk(cfg: &Config) -> FxWalk {
    let fx = &cfg.fx;
    let walk_steps_per_day = 1440.0 / (fx.walk_step.as_nanos() as f64 / 60e9);
    let first_date = cfg.start.date_at(Zone::BEIJING).pred();
    let last_date = cfg.hard_end.date_at(Zone::BEIJING).succ().succ();
    let mut publications = vec![cfg.start];
    publications.extend(
        scheme_publication_instants(first_date, last_date, &cfg.cn_holidays)
            .into_iter()
            .filter(|&t| t > cfg.start),
    );
    FxWalk {
        rng: Prng::stream(cfg.seed, STREAM_FX),
        step: fx.walk_step,
        band: [cfg.usd_cny, cfg.usd_khr]
            .map(|r| (r * (Decimal::ONE - fx.band), r * (Decimal::ONE + fx.band))),
        sigma_bps_per_step: fx.daily_sigma_pct.map(|pct| pct * 100.0 / walk_steps_per_day.sqrt()),
        shocks: fx.shocks.clone(),
        start: [cfg.usd_cny, cfg.usd_khr],
        scheme_margin_bps: fx.scheme_margin_bps,
        publications,
    }
}

/// Every netting cut-off instant from the run's first Phnom Penh day to the day after its end.
fn cutoff_instants(cfg: &Config, calendar: &Calendar) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut day = cfg.start.date_at(Zone::PHNOM_PENH);
    let last = cfg.hard_end.date_at(Zone::PHNOM_PENH).succ();
    while day <= last {
        if calendar.is_business_day(day) {
            for c in cfg.netting.cutoffs() {
                let midnight = Timestamp::at_local(day, 0, 0, Zone::PHNOM_PENH);
                let minutes = u64::from(c.hour) * 60 + u64::from(c.minute);
                let at = midnight.checked_add(Span::from_minutes(minutes)).expect("in range");
                if at > cfg.start {
                    out.push(at);
                }
            }
        }
        day = day.succ();
    }
    out
}

impl World {
    fn first_events(&mut self) {
        let start = self.cfg.start;
        for fi in 0..self.cfg.flows.len() {
            for group in [false, true] {
                if group && self.cfg.flows[fi].burst_share <= 0.0 {
                    continue;
                }
                // The first arrival is a draw like every other: a flow without traffic has none.
                if let Some(at) = self.next_arrival(start, fi, group) {
                    self.schedule(at, Event::Arrival { flow: fi as u8, group });
                }
            }
        }
        self.after(self.fx.step, Event::FxStep);
        for (i, at) in
            self.fx.shocks.iter().map(|x| x.at).collect::<Vec<_>>().into_iter().enumerate()
        {
            if at >= start {
                self.schedule(at, Event::FxShock(i as u8));
            }
        }
        for (i, &at) in self.fx.publications.clone().iter().enumerate() {
            self.schedule(at, Event::SchemePublish(i as u16));
        }
        for (i, &at) in self.cutoffs.clone().iter().enumerate() {
            if at <= self.cfg.hard_end {
                self.schedule(at, Event::Cutoff(i as u16));
            }
        }
        // UPI ⇄ NBC settles each Beijing trade date at 15:00 Beijing on the next Chinese
        // business day: during the run when that falls inside it, else at its end.
        let mut date = start.date_at(Zone::BEIJING);
        while date <= self.cfg.hard_end.date_at(Zone::BEIJING) {
            let value = self.cn_calendar.business_days_after(date, 1);
            let at = Timestamp::at_local(value, 15, 0, Zone::BEIJING);
            if at <= self.cfg.hard_end {
                self.schedule(at, Event::SchemeValue(date));
            }
            date = date.succ();
        }
        self.after(Span::from_minutes(1), Event::Minute);
        for node in 0..self.nodes.len() {
            for &w in &self.nodes[node].windows.clone() {
                let w = &self.cfg.windows[w];
                if w.crash && w.span.from >= start && w.span.from <= self.cfg.hard_end {
                    self.schedule(w.span.from, Event::Crash { node: node as u32 });
                }
            }
        }
    }
}
