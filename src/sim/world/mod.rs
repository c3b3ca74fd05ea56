//! The payment world: payers, merchants, banks, the Bakong switch, UPI and the Chinese
//! acquirers, driven through the real payments core in virtual time.
//!
//! A payment is born when a payer scans a merchant's code (arrivals follow the scenario's
//! hourly curve as a non-homogeneous Poisson process with one-minute steps, plus tour-group
//! bursts), confirms after a think time, and then travels its flow's route of nodes (each with
//! servers, a bounded queue and a service time) over links (latency, loss, duplication,
//! outages, degraded windows). The originator holds the payer's funds in the ledger; the far
//! side credits the payee; the answer travels back, and the originator posts or voids the hold.
//! When no answer comes in time the originator inquires, then reverses with back-off. Every
//! final state is reported to the [auditor](crate::sim::audit).
//!
//! Each flow's route (hop 0 is the originator; the credit hop books the payee's side) comes
//! from the scenario, by default the network in [`crate::scenario::topology`].

mod arrivals;
mod books;
pub(crate) mod build;
mod clearing;
mod codes;
pub(crate) mod config;
pub mod footprint;
mod liquidity;
mod nodes;
mod payment;
mod periodic;
mod relay;
mod transport;

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::payments::clearing::ClearingRecord;
use crate::payments::network::far_side::FarSide;
use crate::payments::network::originator::{Originator, Timer};
use crate::payments::network::{ResponseCode, Terms};
use crate::payments::party::Flow;
use crate::payments::settlement::{Calendar, NetPositions, SettlementRefusal};
use crate::payments::time::{Date, Span, Timestamp};
use crate::scenario::Scenario;
use crate::sim::audit::{Auditor, Breach};
use crate::sim::network::{Delivery, Latency, Link};
use crate::sim::queue::{EventQueue, QueueFull};
use crate::sim::rng::Prng;
use crate::sim::station::Station;

pub use crate::payments::network::{Decline, Outcome};
use crate::record::flow::LatencySample;
use crate::record::{FlowStats, MinuteStats, NodeMinute, PeakSeconds};
pub use crate::record::{RunRecord, Stop};
use books::Books;
use config::Config;
use transport::Msg;

/// Deliberate faults for the auditor's canary tests: each breaks the core or the world in one
/// way, and a run with it must end in the matching [`Breach`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(hidden)]
pub struct Sabotage {
    /// Duplicate requests are booked again under fresh ids (no idempotency).
    pub rebook_duplicates: bool,
    /// Every approved payment is finalized twice.
    pub finalize_twice: bool,
    /// Every reversal of a credit is booked twice.
    pub reverse_twice: bool,
    /// The first netting cycle credits a settlement account out of thin air.
    pub unbalanced_entry: bool,
    /// Declined holds are left to expire instead of being voided... and are then posted.
    pub post_declined_holds: bool,
    /// The first member bank opens without prefunding at NBC, so its first net debit in a
    /// netting cycle is refused (a finding, not a breach).
    pub unfunded_bank: bool,
    /// A crashed originator forgets the reversals it owed (they are not in its journal).
    pub forget_reversals_on_restart: bool,
    /// Fees and spreads are booked to the next bank's fee income.
    pub fee_to_other_bank: bool,
    /// Conversions round toward the payee (one minor unit the wrong way).
    pub round_fx_up: bool,
    /// A relaying node drops its store-and-forward advice after the first failed attempt.
    pub drop_advice_on_retry: bool,
    /// Every netting cycle's settlement chains are applied twice.
    pub settle_cycles_twice: bool,
}

impl Sabotage {
    /// No sabotage.
    pub const NONE: Sabotage = Sabotage {
        rebook_duplicates: false,
        finalize_twice: false,
        reverse_twice: false,
        unbalanced_entry: false,
        post_declined_holds: false,
        unfunded_bank: false,
        forget_reversals_on_restart: false,
        fee_to_other_bank: false,
        round_fx_up: false,
        drop_advice_on_retry: false,
        settle_cycles_twice: false,
    };
}

/// Progress, reported to the caller now and then.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Simulated time reached.
    pub now: Timestamp,
    /// Fraction of the simulated span done.
    pub done_fraction: f64,
    /// Events processed.
    pub events_count: u64,
    /// Payments created.
    pub payments_count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PRef {
    slot: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Arrival {
        flow: u8,
        group: bool,
    },
    Confirm(PRef),
    /// A message reaches the node of its hop.
    Arrive(Msg),
    /// A message finishes service at a node.
    Done {
        node: u32,
        msg: Msg,
        arrived: Timestamp,
    },
    /// The originator's own answer (a decline at hop 0, or the payer's app giving up on an
    /// unreachable originator) concludes the payment there.
    Response(PRef, ResponseCode),
    /// One of the originator's timers.
    Originator(PRef, Timer),
    /// A relaying node's deadline for the answer to the request it forwarded.
    HopDeadline {
        p: PRef,
        hop: u8,
    },
    /// A relaying node's advice timer: send attempt `attempt`, or give up.
    Advice {
        p: PRef,
        hop: u8,
        attempt: u32,
    },
    FxStep,
    FxShock(u8),
    SchemePublish(u16),
    /// UPI and NBC settle this Beijing trade date (its value time).
    SchemeValue(crate::payments::time::Date),
    Cutoff(u16),
    Minute,
    /// A node crashes (a crash window of its begins).
    Crash {
        node: u32,
    },
}

/// Where a payment is, as the world sees it: the payer still deciding, then in the network
/// (the originator's and far side's own phases say more), then final, and its slot released
/// once no message of it is left in the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Thinking,
    InNetwork,
    Final,
    Released,
}

/// Which merchant code the payer scans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Static,
    Dynamic,
    Expired,
    Malformed,
}

/// One payment: its terms, the originator's and far side's state machines, and what the
/// simulator needs to move it (its stream, where it is on its route).
#[derive(Clone, Debug)]
struct Payment {
    generation: u32,
    seq: u64,
    fi: u8,
    intent: u64,
    attempt: u8,
    rng: Prng,
    /// The payer's and payee's customer numbers.
    payer: u32,
    payee: u32,
    /// The payer's and payee's participants, as node indexes of their kind.
    payer_at: u16,
    payee_at: u16,
    code: Code,
    terms: Terms,
    originator: Originator,
    far: FarSide,
    confirmed_at: Timestamp,
    /// When the originator placed its hold (its expiry counts from here).
    held_at: Timestamp,
    /// When the originator sent the request on (its timeout counts from here).
    originated_at: Timestamp,
    hop: u8,
    stage: Stage,
    /// Its messages in the network (links and nodes).
    in_network: u32,
    /// Its answer on the way past the clearing taps.
    tap: transport::TapWatch,
    /// The nodes on its way that keep deadlines of their own.
    relays: crate::payments::network::relay::Relays,
    /// The outcome its payer has learnt, while a node's advice keeps it from being final.
    pending: Option<Outcome>,
    /// What it reserved of its bank's liquidity at the switch, until it is booked.
    reserved: Option<liquidity::Reservation>,
}

impl Payment {
    fn flow(&self) -> Flow {
        self.terms.flow
    }

    /// The member bank it goes through: the payer's, or inward the merchant's.
    fn bank(&self) -> usize {
        if self.flow() == Flow::Inward { self.payee_at as usize } else { self.payer_at as usize }
    }
}

/// A processing node: a station with its service times, degraded windows and stream.
struct Node {
    name: String,
    station: Station<transport::Msg>,
    /// Service time of a new request.
    service: Latency,
    /// Service time of any other message (answers, inquiries, advices).
    other_service: Latency,
    /// Discard a request whose originator has already timed out instead of serving it.
    drop_expired: bool,
    /// What it is sized for, and the shortest wait behind it.
    sizing: crate::record::Sizing,
    /// Messages other than new requests served so far.
    others_served: u64,
    /// Serves domestic requests first (`Some(true)`), cross-border first, or all alike.
    domestic_first: Option<bool>,
    /// Its limits on each sender's new requests, and their state.
    admission: Option<crate::sim::admission::Admission>,
    /// How long it waits for the answer to a request it forwards, and what it does then.
    deadline: Option<Span>,
    on_deadline: crate::payments::network::relay::OnDeadline,
    /// Its circuit breaker per next hop.
    breaker: Option<crate::sim::breaker::Breaker>,
    /// Requests it forwarded whose answer missed its deadline.
    deadlines_missed: u64,
    windows: Vec<usize>,
    rng: Prng,
    /// At the end of each simulated minute.
    minutes: Vec<NodeMinute>,
}

/// A flow's surge state: in a surge or not, until when.
struct Surge {
    high: bool,
    until: Timestamp,
    rng: Prng,
}

/// A link and its own random stream.
struct LinkModel {
    link: Link,
    rng: Prng,
}

/// The mid rates' random walk, shocks, and UPI's publications.
struct FxWalk {
    rng: Prng,
    step: Span,
    /// Per pair (USD/CNY, USD/KHR): the walk's floor and ceiling.
    band: [(Decimal, Decimal); 2],
    sigma_bps_per_step: [f64; 2],
    shocks: Vec<config::Shock>,
    start: [Decimal; 2],
    scheme_margin_bps: u32,
    publications: Vec<Timestamp>,
}

/// Codes merchants show, built once by the QR core.
struct Codes {
    inward_static: codes::CodeTable,
    outward: codes::CodeTable,
    /// Merchant `i`'s KHR code at `2 i`, its USD code at `2 i + 1`.
    domestic: codes::CodeTable,
}

/// Where a run hands each business date's clearing records once the date is closed
/// (reconciled, and no record of it can still come): `sim run` writes them to their files then,
/// so a long run holds only the dates still open.
pub trait ClearingSink {
    /// Both parties' records of `date`, each in the order written.
    fn day(&mut self, date: Date, switch: &[ClearingRecord], upi: &[ClearingRecord]);
}

/// A sink that drops the records: for studies, which read only the headline figures.
pub struct DiscardClearing;

impl ClearingSink for DiscardClearing {
    fn day(&mut self, _: Date, _: &[ClearingRecord], _: &[ClearingRecord]) {}
}

/// What the business dates closed so far left behind.
#[derive(Default)]
struct ClosedDays {
    /// The last business date whose clearing records were reconciled and handed on.
    through: Option<Date>,
    /// Breaks found in the closed dates, and how many no event explains.
    breaks: Vec<crate::payments::recon::Break>,
    breaks_unexplained_count: u64,
    /// The closed dates' records the run keeps (none when a sink took them), and the counts.
    clearing: crate::record::Clearing,
}

/// The world: build it from a scenario, run it, take its record.
pub struct World {
    cfg: Config,
    queue: EventQueue<Event>,
    nodes: Vec<Node>,
    /// Per entry of `cfg.nodes`: the index of its first instance in `nodes`.
    node_base: Vec<u32>,
    links: Vec<LinkModel>,
    /// The link over which a payee hears of its credit.
    merchant_notify: u16,
    slots: Vec<Payment>,
    free: Vec<u32>,
    in_flight: u32,
    in_flight_max: u32,
    events_max: u64,
    retries_max: u32,
    books: Books,
    /// The member banks' liquidity at NBC.
    banks: liquidity::Banks,
    audit: Auditor,
    stats: Vec<FlowStats>,
    minutes: Vec<Vec<MinuteStats>>,
    /// Each flow's answered latencies this minute, for the minute's quantiles.
    minute_latency: Vec<LatencySample>,
    in_flight_by_flow: Vec<u32>,
    /// The busiest seconds of all flows together (each flow's are in its `FlowStats`).
    peak_seconds: PeakSeconds,
    arrival_rng: Vec<[Prng; 2]>,
    /// Per flow with surges: whether its single arrivals are in a surge, until when, and the
    /// stream that draws the surges.
    surges: Vec<Option<Surge>>,
    payment_seed: u64,
    next_seq: u64,
    next_intent: u64,
    /// Per flow (inward, outward, remittance, domestic): the payees' popularity.
    zipf: Vec<Option<rand_distr::Zipf<f64>>>,
    codes: Codes,
    fx: FxWalk,
    cutoffs: Vec<Timestamp>,
    reversal_slot: Timestamp,
    exceptions_rng: Prng,
    exceptions_injected: u64,
    eventful: BTreeSet<u64>,
    closed: ClosedDays,
    nettings: Vec<NetPositions>,
    /// UPI ⇄ NBC settlements booked so far.
    scheme_settlements: Vec<crate::payments::settlement::SchemeSettlement>,
    netting_refusals: Vec<SettlementRefusal>,
    kh_calendar: Calendar,
    cn_calendar: Calendar,
    sabotage: Sabotage,
    events_count: u64,
    stop: Option<Stop>,
    /// The states reached that a fault campaign looks for.
    marks: crate::record::Marks,
}

/// The minute index of `at` in a run starting at `start`.
fn minute_of(at: Timestamp, start: Timestamp) -> usize {
    (at.saturating_since(start).as_nanos() / Span::from_minutes(1).as_nanos()) as usize
}

/// The second of `at` in a run starting at `start`.
fn second_of(at: Timestamp, start: Timestamp) -> u64 {
    at.saturating_since(start).as_nanos() / Span::from_secs(1).as_nanos()
}

/// How often a run reports its progress: every 2²⁰ events.
const PROGRESS_EVERY_EVENTS: u64 = 1 << 20;

/// A scenario whose run would need more memory than its `[limits] memory_mb_max` allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the run would need about {}, more than [limits] memory_mb_max = {limit_mb} MiB; the \
     biggest parts: {parts}. Shorten the run, lower the traffic or the population, or raise \
     the limit",
    footprint::megabytes(*estimate_bytes)
)]
pub struct TooBig {
    /// The estimate, bytes.
    pub estimate_bytes: u64,
    /// The limit, MiB.
    pub limit_mb: u32,
    /// The biggest parts and what drives them.
    pub parts: String,
}

/// A flow's expected payments on one of its local days (by `hours_offset`), from the resolved
/// arrival curve: what a scenario asks for, before any draw.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedDay {
    /// The flow.
    pub flow: Flow,
    /// The local date.
    pub date: crate::payments::time::Date,
    /// Minutes of that day inside the run.
    pub minutes: usize,
    /// Payments expected in them (first attempts: retries come on top).
    pub payments: f64,
}

/// Every flow's expected payments per local day of the run.
pub fn expected_days(scenario: &Scenario) -> Vec<ExpectedDay> {
    let cfg = Config::new(scenario, 0);
    let mut out: Vec<ExpectedDay> = Vec::new();
    for (f, spec) in cfg.flows.iter().zip(config::flow_zones(scenario)) {
        for (m, &x) in f.per_minute.iter().enumerate() {
            let at = cfg.start.checked_add(Span::from_minutes(m as u64)).expect("in range");
            let date = at.date_at(spec);
            match out.last_mut() {
                Some(d) if d.flow == f.flow && d.date == date => {
                    d.minutes += 1;
                    d.payments += x;
                }
                _ => out.push(ExpectedDay { flow: f.flow, date, minutes: 1, payments: x }),
            }
        }
    }
    out
}

/// The memory a run of `scenario` is estimated to need, checked against its limit.
///
/// # Errors
/// [`TooBig`] when the estimate is above `[limits] memory_mb_max`.
pub fn check_memory(scenario: &Scenario) -> Result<footprint::Footprint, TooBig> {
    check_config(&Config::new(scenario, 0))
}

fn check_config(cfg: &Config) -> Result<footprint::Footprint, TooBig> {
    let estimate = footprint::footprint(cfg);
    let limit_mb = cfg.limits.memory_mb_max;
    if estimate.total_bytes() > u64::from(limit_mb) << 20 {
        return Err(TooBig {
            estimate_bytes: estimate.total_bytes(),
            limit_mb,
            parts: estimate.biggest(3),
        });
    }
    Ok(estimate)
}

impl World {
    /// Builds the world of `scenario` for `seed`, once its memory estimate is within its limit.
    ///
    /// # Errors
    /// [`TooBig`]: nothing was allocated.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<World, TooBig> {
        Self::with_sabotage(scenario, seed, Sabotage::default())
    }

    /// As [`World::new`], with deliberate faults for canary tests.
    ///
    /// # Errors
    /// As [`World::new`].
    #[doc(hidden)]
    pub fn with_sabotage(
        scenario: &Scenario,
        seed: u64,
        sabotage: Sabotage,
    ) -> Result<World, TooBig> {
        let cfg = Config::new(scenario, seed);
        check_config(&cfg)?;
        Ok(build::world(cfg, sabotage))
    }

    fn schedule(&mut self, at: Timestamp, event: Event) {
        if self.stop.is_some() {
            return;
        }
        match self.queue.schedule(at, event) {
            Ok(()) => {}
            Err(QueueFull::Events(_)) => self.stop = Some(Stop::Limit("event_queue_max")),
            Err(QueueFull::Sequence) => self.stop = Some(Stop::Limit("events_max")),
        }
    }

    fn after(&mut self, span: Span, event: Event) {
        let at = self.queue.now().checked_add(span).expect("within the run");
        self.schedule(at, event);
    }

    /// Runs to the end, calling `progress` about every million events; the record keeps every
    /// clearing record.
    ///
    /// # Errors
    /// A [`Breach`] of an invariant: the run stops at once.
    pub fn run(self, progress: &mut dyn FnMut(Progress)) -> Result<RunRecord, Breach> {
        self.run_streaming(progress, None)
    }

    /// Runs to the end as [`World::run`] does, handing each business date's clearing records to
    /// `sink` as the date closes instead of keeping them (when a sink is given).
    ///
    /// # Errors
    /// A [`Breach`] of an invariant: the run stops at once.
    pub fn run_streaming(
        mut self,
        progress: &mut dyn FnMut(Progress),
        mut sink: Option<&mut (dyn ClearingSink + '_)>,
    ) -> Result<RunRecord, Breach> {
        let span_ns = self.cfg.hard_end.saturating_since(self.cfg.start).as_nanos().max(1);
        while let Some((now, event)) = self.queue.pop() {
            if now > self.cfg.hard_end {
                break;
            }
            self.events_count += 1;
            if self.events_count >= self.events_max {
                self.stop = Some(Stop::Limit("events_max"));
                break;
            }
            if self.events_count.is_multiple_of(PROGRESS_EVERY_EVENTS) {
                progress(Progress {
                    now,
                    done_fraction: now.saturating_since(self.cfg.start).as_nanos() as f64
                        / span_ns as f64,
                    events_count: self.events_count,
                    payments_count: self.next_seq,
                });
            }
            if matches!(event, Event::Minute) {
                self.on_minute(now, sink.as_deref_mut())?;
            } else {
                self.dispatch(now, event)?;
            }
            if self.stop.is_some() {
                break;
            }
        }
        self.finish(sink)
    }

    fn dispatch(&mut self, now: Timestamp, event: Event) -> Result<(), Breach> {
        match event {
            Event::Arrival { flow, group } => self.on_arrival(now, flow as usize, group),
            Event::Confirm(p) => self.on_confirm(now, p),
            Event::Arrive(msg) => self.on_arrive(now, msg)?,
            Event::Done { node, msg, arrived } => self.on_done(now, node as usize, msg, arrived)?,
            Event::Response(p, code) => self.on_answer(now, p, code)?,
            // A node's timers are kept in its journal: one that falls while the node is down
            // fires at its restart.
            Event::Originator(p, _) | Event::HopDeadline { p, .. } | Event::Advice { p, .. }
                if self.defer_while_down(now, p, event) => {}
            Event::Originator(p, timer) => self.on_originator_timer(now, p, timer)?,
            Event::HopDeadline { p, hop } => self.on_hop_deadline(now, p, hop),
            Event::Advice { p, hop, attempt } => self.on_advice_timer(now, p, hop, attempt)?,
            Event::FxStep => self.on_fx_step(now),
            Event::FxShock(i) => self.on_fx_shock(now, i as usize),
            Event::SchemePublish(i) => self.on_scheme_publish(now, i as usize),
            Event::SchemeValue(date) => self.on_scheme_value(now, date),
            Event::Cutoff(i) => self.on_cutoff(now, i as usize)?,
            Event::Minute => unreachable!("the run loop ticks the minute"),
            Event::Crash { node } => self.on_crash(now, node as usize),
        }
        Ok(())
    }

    /// The payment, if it is alive (a message or timer for a finished payment is stale).
    fn payment(&self, p: PRef) -> Option<&Payment> {
        self.slot(p).filter(|x| matches!(x.stage, Stage::Thinking | Stage::InNetwork))
    }

    fn payment_mut(&mut self, p: PRef) -> Option<&mut Payment> {
        self.slot_mut(p).filter(|x| matches!(x.stage, Stage::Thinking | Stage::InNetwork))
    }

    /// The payment's slot while it is allocated, final or not: what its messages still in the
    /// network need (their route, the clearing taps).
    fn slot(&self, p: PRef) -> Option<&Payment> {
        self.slots
            .get(p.slot as usize)
            .filter(|x| x.generation == p.generation && x.stage != Stage::Released)
    }

    fn slot_mut(&mut self, p: PRef) -> Option<&mut Payment> {
        self.slots
            .get_mut(p.slot as usize)
            .filter(|x| x.generation == p.generation && x.stage != Stage::Released)
    }

    /// Frees a final payment's slot once none of its messages is left in the network.
    fn release_if_done(&mut self, p: PRef) {
        if let Some(pay) = self.slot_mut(p)
            && pay.stage == Stage::Final
            && pay.in_network == 0
        {
            pay.stage = Stage::Released;
            self.free.push(p.slot);
        }
    }

    /// The route of a payment's flow.
    fn route(&self, fi: u8) -> &config::Route {
        &self.cfg.flows[fi as usize].route
    }

    /// The node a hop of a payment's route runs on.
    fn node_of(&self, hop: config::Hop, payment: &Payment) -> usize {
        let base = self.node_base[hop.node as usize] as usize;
        match hop.place {
            config::Place::Only => base,
            config::Place::Payer => base + payment.payer_at as usize,
            config::Place::Payee => base + payment.payee_at as usize,
        }
    }

    /// Sends a message over a link (loss, latency, duplication, outages, degraded windows).
    fn send(&mut self, link: u16, now: Timestamp) -> Delivery {
        let l = &mut self.links[link as usize];
        l.link.send(now, &mut l.rng)
    }

    /// The first of a node's degraded windows that holds `now`.
    fn node_window(&self, node: usize, now: Timestamp) -> Option<&config::Window> {
        self.nodes[node]
            .windows
            .iter()
            .map(|&w| &self.cfg.windows[w])
            .find(|w| !w.crash && w.span.contains(now))
    }

    /// When the node restarts, if it is down (crashed) at `now`.
    fn node_down(&self, node: usize, now: Timestamp) -> Option<Timestamp> {
        if !self.cfg.any_crash {
            return None;
        }
        self.nodes[node]
            .windows
            .iter()
            .map(|&w| &self.cfg.windows[w])
            .filter(|w| w.crash && w.span.contains(now))
            .map(|w| w.span.until)
            .max()
    }

    /// Whether the node crashed after `after` and at or before `upto`: work it held in memory
    /// then is lost.
    fn crashed_between(&self, node: usize, after: Timestamp, upto: Timestamp) -> bool {
        if !self.cfg.any_crash {
            return false;
        }
        self.nodes[node]
            .windows
            .iter()
            .map(|&w| &self.cfg.windows[w])
            .any(|w| w.crash && w.span.from > after && w.span.from <= upto)
    }

    /// A payment's timer held by a node that is down at `now` waits for its restart: `true`
    /// when it was put off.
    fn defer_while_down(&mut self, now: Timestamp, p: PRef, event: Event) -> bool {
        // Timers fire on the hot path: without crash windows there is nothing to look up.
        if !self.cfg.any_crash {
            return false;
        }
        let hop = match event {
            Event::Originator(..) => 0,
            Event::HopDeadline { hop, .. } | Event::Advice { hop, .. } => hop,
            _ => return false,
        };
        let Some(pay) = self.slot(p) else { return false };
        let node = self.node_of(self.route(pay.fi).hops[hop as usize], pay);
        if self.sabotage.forget_reversals_on_restart
            && matches!(event, Event::Originator(_, Timer::Reversal { .. }))
            && self.crashed_between(node, pay.held_at, now)
        {
            return true;
        }
        match self.node_down(node, now) {
            Some(until) => {
                self.schedule(until, event);
                true
            }
            None => false,
        }
    }
}
