//! The scenario format: one struct per table. Every table refuses unknown keys.
//!
//! Field documentation here is the format's reference; `scenarios/README.md` explains it and
//! `scenarios/reference.toml` sets every key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::value::Datetime;

pub use exact::Two;

/// `[step_minor, share_pct]`: a rounding step and its share.
pub type StepShare = Two<i64, f64>;

/// A whole scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, start, length and seed.
    pub meta: Meta,
    /// Bounds on the run.
    #[serde(default)]
    pub limits: Limits,
    /// Exchange rates, their movement, spreads and fees.
    pub fx: Fx,
    /// Non-business days.
    #[serde(default)]
    pub calendar: CalendarSpec,
    /// Netting cut-offs and reconciliation tolerance.
    #[serde(default)]
    pub settlement: SettlementSpec,
    /// Member banks' prefunding at NBC, and what happens when a bank runs short.
    #[serde(default)]
    pub liquidity: LiquiditySpec,
    /// Exceptions injected into the network's clearing file.
    #[serde(default)]
    pub exceptions: Exceptions,
    /// Participants, payers and merchants.
    pub population: Population,
    /// The processing nodes, by name: the standard six (see [`topology::NODES`]) and any the
    /// scenario adds.
    ///
    /// [`topology::NODES`]: super::topology::NODES
    pub nodes: BTreeMap<String, NodeSpec>,
    /// The links between nodes, by name: the standard five and any the scenario adds.
    pub links: BTreeMap<String, LinkSpec>,
    /// Each flow's route; a flow left out takes its default.
    #[serde(default)]
    pub routes: Routes,
    /// Timeouts, inquiries and reversals.
    pub timeouts: Timeouts,
    /// One knob for the whole offered load.
    #[serde(default)]
    pub load: Load,
    /// Traffic per flow; a flow left out carries none.
    #[serde(default)]
    pub flows: Flows,
    /// Windows in which nodes and links are slower, lossier or failing more.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    /// Service-level objectives checked in the report.
    #[serde(default)]
    pub slo: Vec<Slo>,
    /// How the report is made.
    #[serde(default)]
    pub report: ReportSpec,
}

/// `[load]`: scales every flow's arrival rate (bursts included), the usual knob of a capacity
/// sweep (`--set load.multiplier=2.5`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Arrivals per minute are the flows' own times this.
    #[serde(default = "defaults::one")]
    pub multiplier: f64,
}

impl Default for Load {
    fn default() -> Self {
        Load { multiplier: 1.0 }
    }
}

/// `[report]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Minutes cut from the start for steady-state figures; detected (MSER-5) when absent.
    #[serde(default)]
    pub warmup_minutes: Option<u32>,
}

/// `[meta]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The scenario's name; the default report folder is `reports/<name>/`.
    pub name: String,
    /// What the scenario demonstrates.
    #[serde(default)]
    pub description: String,
    /// When simulated time starts: an offset date-time; its offset is the report's time zone.
    pub start: Datetime,
    /// How long arrivals run, in hours.
    pub duration_hours: u32,
    /// The default seed (`sim run --seed` overrides it).
    pub seed: u64,
    /// How long after the last arrival in-flight payments may take to finish, in minutes.
    #[serde(default = "defaults::drain_minutes")]
    pub drain_minutes: u32,
}

/// `[limits]`: a run that reaches one stops and says which.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Events processed.
    #[serde(default = "defaults::events_max")]
    pub events_max: u64,
    /// Payments in flight at once.
    #[serde(default = "defaults::payments_in_flight_max")]
    pub payments_in_flight_max: u32,
    /// Events waiting in the queue at once.
    #[serde(default = "defaults::event_queue_max")]
    pub event_queue_max: u32,
    /// Retries a payer makes for one purchase.
    #[serde(default = "defaults::retries_max")]
    pub retries_max: u32,
    /// The most memory the run may need, in MiB, as estimated from the scenario before it
    /// starts; a run estimated above it is refused.
    #[serde(default = "defaults::memory_mb_max")]
    pub memory_mb_max: u32,
    /// How long the ledger keeps each record, in hours: its idempotency window. Older records
    /// are folded into their accounts' totals and dropped, so memory follows the window, not
    /// the run; it must cover a payment's whole life (validated).
    #[serde(default = "defaults::ledger_retention_hours")]
    pub ledger_retention_hours: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            events_max: defaults::events_max(),
            payments_in_flight_max: defaults::payments_in_flight_max(),
            event_queue_max: defaults::event_queue_max(),
            retries_max: defaults::retries_max(),
            memory_mb_max: defaults::memory_mb_max(),
            ledger_retention_hours: defaults::ledger_retention_hours(),
        }
    }
}

/// `[fx]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fx {
    /// USD/CNY mid at the start, a decimal string (`"6.9457"`).
    pub usd_cny: String,
    /// USD/KHR mid at the start, a decimal string.
    pub usd_khr: String,
    /// Minutes between steps of the mid rates' random walk.
    #[serde(default = "defaults::walk_step_minutes")]
    pub walk_step_minutes: u32,
    /// Daily volatility of USD/CNY, in percent.
    #[serde(default)]
    pub usd_cny_daily_sigma_pct: f64,
    /// Daily volatility of USD/KHR, in percent.
    #[serde(default)]
    pub usd_khr_daily_sigma_pct: f64,
    /// The walk stays within this many percent of the starting mid.
    #[serde(default = "defaults::band_pct")]
    pub band_pct: f64,
    /// UPI's published rate against the mid, in the cardholder's disfavour, basis points.
    pub scheme_margin_bps: u32,
    /// A Bakong member bank's FX spread on outward payments, basis points.
    pub outward_spread_bps: u32,
    /// A Bakong member bank's FX spread on remittances, basis points.
    pub remittance_spread_bps: u32,
    /// The merchant discount on inward payments, basis points, booked as the acquirer's fee.
    pub inward_mdr_bps: u32,
    /// How long a quote stays valid, in seconds.
    #[serde(default = "defaults::quote_ttl_seconds")]
    pub quote_ttl_seconds: u32,
    /// Sudden moves of a mid rate.
    #[serde(default)]
    pub shocks: Vec<FxShock>,
}

/// `[[fx.shocks]]`: a mid rate jumps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxShock {
    /// When.
    pub at: Datetime,
    /// `"USD/CNY"` or `"USD/KHR"`.
    pub pair: String,
    /// The move, basis points (negative: the base currency weakens).
    pub move_bps: i32,
}

/// `[calendar]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// Chinese non-business days besides weekends: inclusive date ranges.
    #[serde(default)]
    pub cn_holidays: Vec<DateRange>,
    /// Cambodian non-business days besides weekends.
    #[serde(default)]
    pub kh_holidays: Vec<DateRange>,
}

/// An inclusive range of local dates.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day.
    pub from: Datetime,
    /// Last day.
    pub to: Datetime,
}

/// `[settlement]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementSpec {
    /// Bakong netting cut-offs, `"HH:MM"` in Phnom Penh time, rising, the last up to `"24:00"`.
    #[serde(default = "defaults::bakong_cutoffs")]
    pub bakong_cutoffs: Vec<String>,
    /// The largest amount difference reconciliation treats as FX rounding, in minor units.
    #[serde(default = "defaults::rounding_tolerance_minor")]
    pub recon_rounding_tolerance_minor: i64,
}

impl Default for SettlementSpec {
    fn default() -> Self {
        SettlementSpec {
            bakong_cutoffs: defaults::bakong_cutoffs(),
            recon_rounding_tolerance_minor: defaults::rounding_tolerance_minor(),
        }
    }
}

/// `[liquidity]`: each Bakong member bank's prefunded settlement balance at NBC, how much of it
/// the bank may owe in a netting cycle, and what becomes of a payment that would take it past
/// that. Without the table every bank has 100 trillion riel and ten billion dollars, which no
/// scenario's traffic comes near.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiquiditySpec {
    /// KHR prefunding, a decimal string in riel: each bank's, or with `by_share` all banks'.
    #[serde(default = "defaults::prefund_khr")]
    pub prefund_khr: String,
    /// USD prefunding, a decimal string in dollars.
    #[serde(default = "defaults::prefund_usd")]
    pub prefund_usd: String,
    /// The prefunding above is the banks' total, shared by `bank_shares_pct`.
    #[serde(default)]
    pub by_share: bool,
    /// Banks whose prefunding differs: `{ bank, prefund_khr, prefund_usd }` (either amount may
    /// be left out).
    #[serde(default)]
    pub banks: Vec<BankLiquiditySpec>,
    /// A bank may owe at most this share of its balance at the start of a cycle, percent.
    #[serde(default = "defaults::hundred")]
    pub debit_cap_pct: f64,
    /// A payment that would take its bank past the cap: `"decline"` (as
    /// `insufficient_liquidity`) or `"hold"` (it waits at the switch for the next cycle).
    #[serde(default = "defaults::on_short")]
    pub on_short: String,
    /// After each netting cycle settles, every bank restores its balance to its prefunding
    /// (its treasury moves funds in from outside Bakong).
    #[serde(default = "defaults::yes")]
    pub top_up: bool,
}

impl Default for LiquiditySpec {
    fn default() -> Self {
        LiquiditySpec {
            prefund_khr: defaults::prefund_khr(),
            prefund_usd: defaults::prefund_usd(),
            by_share: false,
            banks: Vec::new(),
            debit_cap_pct: 100.0,
            on_short: defaults::on_short(),
            top_up: true,
        }
    }
}

/// One bank's own prefunding in `[liquidity]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankLiquiditySpec {
    /// The bank's index in `bank_shares_pct`, from 0.
    pub bank: u32,
    /// Its KHR prefunding, riel.
    #[serde(default)]
    pub prefund_khr: Option<String>,
    /// Its USD prefunding, dollars.
    #[serde(default)]
    pub prefund_usd: Option<String>,
}

/// `[exceptions]`: per 10 000 cross-border payments, injected into UPI's clearing file so that
/// reconciliation has known breaks to find.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exceptions {
    /// Records left out of UPI's file.
    #[serde(default)]
    pub missing_at_network: f64,
    /// Records in UPI's file that the switch never saw.
    #[serde(default)]
    pub missing_at_switch: f64,
    /// Records UPI's file holds twice.
    #[serde(default)]
    pub duplicate: f64,
    /// Records whose amount differs by a rounding step (one to five minor units).
    #[serde(default)]
    pub amount_mismatch: f64,
    /// Records UPI's file marks declined though approved.
    #[serde(default)]
    pub status_mismatch: f64,
    /// Records UPI presents a business day late (in the next day's file).
    #[serde(default)]
    pub late_presentment: f64,
    /// UPI's clock against the switch's, milliseconds (negative: behind), as it dates its
    /// records: a record near the 23:00 Phnom Penh (midnight Beijing) cut lands on another
    /// business day than the switch's. At most an hour either way.
    #[serde(default)]
    pub scheme_clock_skew_ms: i64,
}

/// `[population]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Bakong member banks: one share of customers and merchants (percent) each; 1 to 64.
    pub bank_shares_pct: Vec<f64>,
    /// Chinese issuers of UnionPay wallets: a share each; 1 to 64.
    pub cn_issuer_shares_pct: Vec<f64>,
    /// Distinct UnionPay wallets paying Cambodian merchants.
    #[serde(default)]
    pub inward_payers: u32,
    /// Cambodian merchants accepting UnionPay (KHQR with tag 15).
    #[serde(default)]
    pub inward_merchants: u32,
    /// Bakong wallets paying in China.
    #[serde(default)]
    pub outward_payers: u32,
    /// Chinese merchants (WeChat Pay and UnionPay codes).
    #[serde(default)]
    pub outward_merchants: u32,
    /// Remittance senders in Cambodia.
    #[serde(default)]
    pub remittance_senders: u32,
    /// Remittance recipients in China.
    #[serde(default)]
    pub remittance_recipients: u32,
    /// Domestic Bakong payers.
    #[serde(default)]
    pub domestic_payers: u32,
    /// Domestic Bakong merchants.
    #[serde(default)]
    pub domestic_merchants: u32,
    /// Zipf exponent of merchant popularity.
    #[serde(default = "defaults::zipf_s")]
    pub merchant_zipf_s: f64,
}

/// A node: `servers` in parallel, a queue in which answers go before new work and at most
/// `queue_max` requests, inquiries and advices wait, and its service times: a new request's, `service_ms`
/// (log-normal) or `service` (any distribution), exactly one of them; and every other
/// message's (answers, status inquiries, reversal advices and their answers),
/// `other_service_ms` or `other_service`, the request's when neither is given.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Messages served at once (at a participants' node, by each participant's instance,
    /// unless `servers_by_share` or `servers_each` says otherwise).
    pub servers: u32,
    /// A participants' node: `servers` is the total, shared among the participants by their
    /// shares of the population (each at least one).
    #[serde(default)]
    pub servers_by_share: bool,
    /// A participants' node: each participant's servers, one number per participant in order
    /// (`servers` is then unused).
    #[serde(default)]
    pub servers_each: Option<Vec<u32>>,
    /// Requests, inquiries and advices waiting at most; one more is refused (a request as
    /// overload; an inquiry or advice is sent again by its sender). Answers are never refused.
    pub queue_max: u32,
    /// A new request's service time `[median, p99]` in milliseconds, log-normal.
    #[serde(default, deserialize_with = "exact::option_array")]
    pub service_ms: Option<[f64; 2]>,
    /// A new request's service time, any distribution.
    #[serde(default)]
    pub service: Option<DelaySpec>,
    /// Any other message's service time `[median, p99]` ms, log-normal.
    #[serde(default, deserialize_with = "exact::option_array")]
    pub other_service_ms: Option<[f64; 2]>,
    /// Any other message's service time, any distribution.
    #[serde(default)]
    pub other_service: Option<DelaySpec>,
    /// Discard, instead of serving, a request whose originator has already timed out (its age
    /// past the originator's timeout; at the originator, past the payer's app's).
    #[serde(default)]
    pub drop_expired: bool,
    /// Which new requests are served first: `"domestic"` or `"cross_border"`; absent, all
    /// alike.
    #[serde(default)]
    pub priority: Option<String>,
    /// Admission control: limits on each sender's new work (requests, inquiries, advices; a
    /// sender is the node it comes from, one instance of a participant's node each).
    #[serde(default)]
    pub admission: Option<AdmissionSpec>,
    /// How long the node waits for the answer to a request it forwarded toward the hop that
    /// books the payee's side, seconds; absent, as long as its originator does.
    #[serde(default)]
    pub deadline_s: Option<f64>,
    /// What it does when that deadline passes: `"decline"` (the default: decline upstream,
    /// reverse downstream) or `"stand_in"` (approve upstream on the far side's behalf, advise
    /// downstream).
    #[serde(default)]
    pub on_deadline: Option<String>,
    /// A circuit breaker per next hop on the outcomes of the deadline (needs `deadline_s`).
    #[serde(default)]
    pub breaker: Option<BreakerSpec>,
}

/// `breaker`: when at least `failure_pct` of the requests a node forwarded to one next hop in
/// the last `window_s` seconds (at least `requests_min` of them) missed its deadline, the
/// node declines requests for that hop at once (`circuit_open`) for `open_s` seconds, then
/// lets one through and closes if it is answered in time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// The share of failures that opens it, percent.
    pub failure_pct: f64,
    /// The window, seconds.
    pub window_s: u32,
    /// Outcomes the window must hold before it may open.
    pub requests_min: u32,
    /// How long it stays open before a probe, seconds.
    pub open_s: u32,
}

/// `admission`: each sender's new requests into a node, by rate and by number at once; one
/// over either is declined at once as `throttled`. At least one of the limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionSpec {
    /// New requests per second one sender may bring on average (a token bucket).
    #[serde(default)]
    pub rate_per_s: Option<f64>,
    /// How many above the rate one sender may bring at once (the bucket's size); one
    /// second's worth when absent.
    #[serde(default)]
    pub burst: Option<u32>,
    /// One sender's new requests in the node at once (waiting or in service) at most.
    #[serde(default)]
    pub concurrency_max: Option<u32>,
}

/// A distribution of delays in milliseconds: `{ dist = "exponential", mean_ms = 5 }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum DelaySpec {
    /// Log-normal, given by its median and 99th percentile.
    LogNormal {
        /// Median.
        median_ms: f64,
        /// 99th percentile, at least the median.
        p99_ms: f64,
    },
    /// Exponential (memoryless), given by its mean.
    Exponential {
        /// Mean.
        mean_ms: f64,
    },
    /// Always the same.
    Constant {
        /// The delay.
        ms: f64,
    },
    /// Piecewise linear between points `[cumulative_pct, ms]`, the shares rising to 100 and
    /// the delays not falling (a measured distribution).
    Empirical {
        /// The points.
        points: Vec<PctMs>,
    },
}

/// `[cumulative_pct, ms]`: a point of an empirical distribution.
pub type PctMs = Two<f64, f64>;

/// `[[routes]]`: a flow's route, when not the default (see [`topology`]).
///
/// [`topology`]: super::topology
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Chinese visitors pay KHQR.
    pub inward: Option<RouteSpec>,
    /// Bakong users pay in China.
    pub outward: Option<RouteSpec>,
    /// Remittances.
    pub remittance: Option<RouteSpec>,
    /// Inside Cambodia.
    pub domestic: Option<RouteSpec>,
}

/// A route: hop `i` crosses `links[i]` to reach `nodes[i]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// The nodes in order: first the payer's institution, last the payee's.
    pub nodes: Vec<String>,
    /// The link crossed to reach each node (the first is the payer's app link).
    pub links: Vec<String>,
    /// The node where the scheme's technical error (`switch_error`) may strike.
    pub scheme: String,
    /// The node that books the payee's side.
    pub credit: String,
}

/// A link: log-normal latency, loss, duplication, outages.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way latency `[median, p99]` in milliseconds, log-normal.
    #[serde(default, deserialize_with = "exact::option_array")]
    pub latency_ms: Option<[f64; 2]>,
    /// One-way latency, any distribution (exactly one of this and `latency_ms`).
    #[serde(default)]
    pub latency: Option<DelaySpec>,
    /// Chance a message is lost, percent.
    #[serde(default)]
    pub loss_pct: f64,
    /// Chance a message arrives twice, percent.
    #[serde(default)]
    pub duplicate_pct: f64,
    /// Windows in which every message is lost.
    #[serde(default)]
    pub outages: Vec<Span>,
}

/// `[from, to)`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// Start.
    pub from: Datetime,
    /// End (excluded).
    pub to: Datetime,
}

/// `[timeouts]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// The payer's app stops waiting, seconds.
    pub app_s: u32,
    /// A Chinese issuer's wait for UPI (inward originator), seconds.
    pub issuer_to_upi_s: u32,
    /// A Bakong bank's wait for the network (outward and remittance originator), seconds.
    pub bank_to_bakong_s: u32,
    /// A Bakong bank's wait for a domestic payment, seconds.
    pub domestic_s: u32,
    /// Seconds between status inquiries after a timeout.
    pub inquiry_every_s: u32,
    /// Seconds of inquiries before the originator reverses.
    pub inquiry_window_s: u32,
    /// The wait after each reversal advice, seconds, growing; the last step repeats (the cap)
    /// until the advice expires.
    pub reversal_backoff_s: Vec<u32>,
    /// How long a reversal advice is resent before it expires and the payment goes to manual
    /// handling, minutes (store-and-forward: hours, not seconds).
    #[serde(default = "defaults::reversal_expiry_minutes")]
    pub reversal_expiry_minutes: u32,
    /// Chance one reversal attempt is refused by the far side, percent.
    #[serde(default)]
    pub reversal_attempt_fail_pct: f64,
    /// Reversals sent per second at most (the drain rate).
    #[serde(default = "defaults::reversals_per_second_max")]
    pub reversals_per_second_max: u32,
    /// How long a ledger hold lives before it expires, minutes.
    pub hold_minutes: u32,
}

/// `[flows]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flows {
    /// Phase 1: UnionPay wallets at Cambodian merchants.
    pub inward: Option<FlowSpec>,
    /// Phase 2: Bakong wallets at Chinese merchants.
    pub outward: Option<FlowSpec>,
    /// Cambodia to China remittances.
    pub remittance: Option<FlowSpec>,
    /// Domestic Bakong background.
    pub domestic: Option<FlowSpec>,
}

/// One flow's traffic, payer behaviour, amounts and failures.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// Payments on a day of multiplier 1.
    pub daily_payments: f64,
    /// The UTC offset of the hours below, `"+07:00"`.
    pub hours_offset: String,
    /// Share of a day's payments in each local hour, percent; 24 values summing to 100.
    pub hourly_shares_pct: Vec<f64>,
    /// Multiplier on `daily_payments` per simulated day (local to `hours_offset`); the last
    /// repeats.
    #[serde(default = "defaults::day_multipliers")]
    pub day_multipliers: Vec<f64>,
    /// Time from scan to confirm, `[median, p99]` ms, for static codes (payer keys the amount).
    #[serde(deserialize_with = "exact::array")]
    pub think_ms: [f64; 2],
    /// Time from scan to confirm for dynamic codes.
    #[serde(default, deserialize_with = "exact::option_array")]
    pub think_dynamic_ms: Option<[f64; 2]>,
    /// Share of merchant codes that are dynamic (amount and expiry inside), percent.
    #[serde(default)]
    pub dynamic_qr_pct: f64,
    /// Payers who scan and then walk away, percent.
    #[serde(default)]
    pub abandon_pct: f64,
    /// After a failure, payers who try again, percent.
    #[serde(default)]
    pub retry_pct: f64,
    /// How long before they do, `[min, max]` seconds, uniform.
    #[serde(default = "defaults::retry_after_s", deserialize_with = "exact::array")]
    pub retry_after_s: [f64; 2],
    /// Payers whose tap is sent twice, percent.
    #[serde(default)]
    pub duplicate_tap_pct: f64,
    /// Tour groups paying one merchant in a burst.
    #[serde(default)]
    pub bursts: Option<Bursts>,
    /// Short surges of the flow's rate (a two-state Markov-modulated Poisson process).
    #[serde(default)]
    pub surges: Option<Surges>,
    /// Outward: share of merchants showing WeChat Pay codes (the rest UnionPay), percent.
    #[serde(default)]
    pub wechat_share_pct: f64,
    /// Remittance: share of sends that fix the CNY received at an auspicious amount, percent.
    #[serde(default)]
    pub auspicious_pct: f64,
    /// Remittance: the auspicious CNY amounts.
    #[serde(default)]
    pub auspicious_cny: Vec<u32>,
    /// Amounts, per currency.
    pub amounts: Vec<AmountSpec>,
    /// Failure and decline rates per attempt, percent.
    #[serde(default)]
    pub failures_pct: Failures,
}

/// `bursts`: tour groups.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bursts {
    /// Share of the flow's payments that come in groups, percent.
    pub share_pct: f64,
    /// Group size `[min, max]`, uniform.
    #[serde(deserialize_with = "exact::array")]
    pub size: [u32; 2],
    /// Minutes over which a group pays, `[min, max]`, uniform.
    #[serde(deserialize_with = "exact::array")]
    pub spread_minutes: [f64; 2],
}

/// `surges`: for `share_pct` of the time, in episodes of `mean_s` seconds on average
/// (exponential), the flow's rate is `x` times its curve; the rest of the time it is lower by
/// just enough that the day's volume is unchanged. A two-state Markov-modulated Poisson process:
/// the busiest second of an hour lands at two or three times the hour's mean, as payment
/// networks see, where a plain Poisson process stays within a third of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surges {
    /// How many times the curve's rate a surge runs at (above 1).
    pub x: f64,
    /// Share of the time in surges, percent (below 100 / x).
    pub share_pct: f64,
    /// Mean length of a surge, seconds.
    pub mean_s: f64,
}

/// One currency's amounts: a mixture of log-normal components, rounded and clamped.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountSpec {
    /// `"KHR"`, `"USD"` or `"CNY"`.
    pub currency: String,
    /// Share of the flow's payments in this currency, percent.
    #[serde(default = "defaults::hundred")]
    pub share_pct: f64,
    /// Smallest amount, a decimal string in major units.
    pub min: String,
    /// Largest amount.
    pub max: String,
    /// `[[step_minor, share_pct], ...]`: amounts are rounded to a multiple of the step.
    #[serde(default)]
    pub round_to: Vec<StepShare>,
    /// The mixture's components.
    pub components: Vec<Component>,
}

/// A log-normal component of an amount mixture.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Merchant category or label.
    pub name: String,
    /// Share, percent.
    pub share_pct: f64,
    /// Median, major units.
    pub median: f64,
    /// σ of the log.
    pub sigma: f64,
}

/// Failure and decline classes, percent per attempt. Classes that do not apply to a flow stay 0.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failures {
    /// The payer pays from a wallet without the funds; the ledger refuses the hold.
    #[serde(default)]
    pub insufficient_balance: f64,
    /// Wrong PIN or failed CDCVM.
    #[serde(default)]
    pub pin_failure: f64,
    /// A per-transaction or daily limit.
    #[serde(default)]
    pub limit_exceeded: f64,
    /// Risk or fraud rules.
    #[serde(default)]
    pub risk_decline: f64,
    /// The originating host answers with a technical error.
    #[serde(default)]
    pub issuer_unavailable: f64,
    /// UPI (or the Bakong switch, for domestic) answers with a technical error.
    #[serde(default)]
    pub switch_error: f64,
    /// The far side (acquirer, recipient bank) answers with a technical error.
    #[serde(default)]
    pub acquirer_error: f64,
    /// The merchant or recipient account is invalid or closed to the flow.
    #[serde(default)]
    pub merchant_invalid: f64,
    /// The payer scans a dynamic code that has expired.
    #[serde(default)]
    pub expired_qr: f64,
    /// The payer scans a damaged or unsupported code.
    #[serde(default)]
    pub malformed_qr: f64,
    /// The far side approves but answers after the originator's timeout.
    #[serde(default)]
    pub late_approval: f64,
}

/// `[[windows]]`: a time window in which named nodes and links are degraded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Its name in reports.
    pub name: String,
    /// Start.
    pub from: Datetime,
    /// End (excluded).
    pub to: Datetime,
    /// Node names (`upi`, …) and link names (`wan`, …) affected.
    pub targets: Vec<String>,
    /// Multiplier on median latency and service time.
    #[serde(default = "defaults::one")]
    pub latency_median_x: f64,
    /// Multiplier on p99 latency and service time (at least the median's).
    #[serde(default = "defaults::one")]
    pub latency_p99_x: f64,
    /// Multiplier on technical failure rates at the nodes and loss on the links.
    #[serde(default = "defaults::one")]
    pub error_x: f64,
    /// Loss on the links, percent, replacing theirs.
    #[serde(default)]
    pub loss_pct: Option<f64>,
    /// Late-approval rate at the nodes, percent, replacing the flows'.
    #[serde(default)]
    pub late_approval_pct: Option<f64>,
    /// Duplication on the links, percent, replacing theirs.
    #[serde(default)]
    pub duplicate_pct: Option<f64>,
    /// The targeted nodes (nodes only) crash at `from` and restart at `to`: what they held in
    /// memory (messages queued or in service) is lost, messages that reach them meanwhile are
    /// lost, and their timers (kept in their journal, like their books) fire at the restart.
    #[serde(default)]
    pub crash: bool,
}

/// `[[slo]]`: a threshold checked in the report.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Its name.
    pub name: String,
    /// `latency_ms_p50`, `latency_ms_p99`, `latency_ms_p999`, `approval_pct`,
    /// `merchant_notified_ms_p99`, or `unexplained_breaks`.
    pub metric: String,
    /// The flow, for per-flow metrics.
    #[serde(default)]
    pub flow: Option<String>,
    /// The metric must be at most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// The metric must be at least this.
    #[serde(default)]
    pub min: Option<f64>,
}

/// A single-node M/M/c model instead of the payment network: the engine's check against
/// Erlang-C (`scenarios/mmc-validation.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmcScenario {
    /// Name, description and seed.
    pub meta: MmcMeta,
    /// The node and the experiment.
    pub mmc: MmcSpec,
}

/// `[meta]` of an M/M/c scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmcMeta {
    /// The scenario's name.
    pub name: String,
    /// What it demonstrates.
    #[serde(default)]
    pub description: String,
    /// The first replication's seed; replication `i` uses `seed + i`.
    pub seed: u64,
}

/// `[mmc]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmcSpec {
    /// Servers (c).
    pub servers: u32,
    /// Arrivals per second (λ).
    pub arrival_per_second: f64,
    /// Mean service time in milliseconds (1/μ).
    pub service_mean_ms: f64,
    /// Customers per replication.
    pub customers: u64,
    /// Independent replications (seeds) for the confidence interval.
    pub replications: u32,
}

/// Fixed-size arrays that refuse extra items: serde's own arrays read the first `N` items and
/// ignore the rest, so `[median, p95, p99]` would silently take p95 as the p99.
mod exact {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};

    /// Reads exactly `N` items, then refuses one more.
    fn exactly<'de, A: SeqAccess<'de>, T: Deserialize<'de>, const N: usize>(
        mut seq: A,
        expected: &dyn de::Expected,
    ) -> Result<[T; N], A::Error> {
        let mut items = Vec::with_capacity(N);
        for i in 0..N {
            match seq.next_element::<T>()? {
                Some(item) => items.push(item),
                None => return Err(de::Error::invalid_length(i, expected)),
            }
        }
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(N + 1, expected));
        }
        Ok(items.try_into().unwrap_or_else(|_| unreachable!("exactly N items were read")))
    }

    struct ArrayVisitor<T, const N: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for ArrayVisitor<T, N> {
        type Value = [T; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array of exactly {N} items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<[T; N], A::Error> {
            exactly(seq, &self)
        }
    }

    /// `[T; N]`, exactly.
    pub(super) fn array<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        d.deserialize_seq(ArrayVisitor::<T, N>(PhantomData))
    }

    struct Exactly<T, const N: usize>([T; N]);

    impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Exactly<T, N> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            array(d).map(Exactly)
        }
    }

    /// `Option<[T; N]>`, exactly.
    pub(super) fn option_array<'de, D, T, const N: usize>(d: D) -> Result<Option<[T; N]>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<Exactly<T, N>>::deserialize(d).map(|o| o.map(|e| e.0))
    }

    /// Exactly two items of an array, of these types: `[step_minor, share_pct]`,
    /// `[cumulative_pct, ms]`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Two<A, B>(pub A, pub B);

    struct TwoVisitor<A, B>(PhantomData<(A, B)>);

    impl<'de, A: Deserialize<'de>, B: Deserialize<'de>> Visitor<'de> for TwoVisitor<A, B> {
        type Value = Two<A, B>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of exactly 2 items")
        }

        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Two<A, B>, S::Error> {
            let a = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
            let b = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
            if seq.next_element::<IgnoredAny>()?.is_some() {
                return Err(de::Error::invalid_length(3, &self));
            }
            Ok(Two(a, b))
        }
    }

    impl<'de, A: Deserialize<'de>, B: Deserialize<'de>> Deserialize<'de> for Two<A, B> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_seq(TwoVisitor(PhantomData))
        }
    }
}

mod defaults {
    pub(super) fn drain_minutes() -> u32 {
        30
    }
    pub(super) fn events_max() -> u64 {
        2_000_000_000
    }
    pub(super) fn payments_in_flight_max() -> u32 {
        1_000_000
    }
    pub(super) fn event_queue_max() -> u32 {
        8_000_000
    }
    pub(super) fn retries_max() -> u32 {
        2
    }
    pub(super) fn memory_mb_max() -> u32 {
        8192
    }
    pub(super) fn ledger_retention_hours() -> u32 {
        12
    }
    pub(super) fn walk_step_minutes() -> u32 {
        60
    }
    pub(super) fn band_pct() -> f64 {
        2.0
    }
    pub(super) fn quote_ttl_seconds() -> u32 {
        120
    }
    pub(super) fn bakong_cutoffs() -> Vec<String> {
        vec!["12:00".into(), "16:30".into(), "24:00".into()]
    }
    pub(super) fn rounding_tolerance_minor() -> i64 {
        10
    }
    pub(super) fn zipf_s() -> f64 {
        1.0
    }
    pub(super) fn reversal_expiry_minutes() -> u32 {
        360
    }
    pub(super) fn reversals_per_second_max() -> u32 {
        1000
    }
    pub(super) fn day_multipliers() -> Vec<f64> {
        vec![1.0]
    }
    pub(super) fn retry_after_s() -> [f64; 2] {
        [10.0, 120.0]
    }
    pub(super) fn prefund_khr() -> String {
        "100000000000000".into()
    }
    pub(super) fn prefund_usd() -> String {
        "10000000000".into()
    }
    pub(super) fn on_short() -> String {
        "decline".into()
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn hundred() -> f64 {
        100.0
    }
    pub(super) fn one() -> f64 {
        1.0
    }
}
