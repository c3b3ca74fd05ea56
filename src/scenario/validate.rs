//! Impossible values: each check names its key path. Also the conversions from the file's
//! types (TOML date-times, offsets, cut-offs, decimal strings) that the world builder uses.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use toml::value::{Datetime, Offset};

use super::locate::Step;
use super::topology::{self, RouteNames};
use super::{
    DelaySpec, FlowSpec, Invalid, LinkSpec, MmcScenario, NodeSpec, RouteSpec, Scenario, Two,
};
use crate::payments::money::{AMOUNT_MINOR_MAX, Currency, Money};
use crate::payments::party::Flow;
use crate::payments::settlement::{Calendar, Cutoff, NettingSchedule};
use crate::payments::time::{Date, Span, Timestamp, Zone};
use crate::record::SloMetric;

/// Longest run: 31 days of arrivals.
pub const DURATION_HOURS_MAX: u32 = 31 * 24;
/// Most servers a node may have.
pub const SERVERS_MAX: u32 = 1 << 20;
/// Most requests a node's queue may hold.
pub const QUEUE_MAX: u32 = 1 << 24;
/// Most payers, merchants or senders of one kind.
pub const POPULATION_MAX: u32 = 10_000_000;
/// Most participants of one kind (banks, issuers).
pub const PARTICIPANTS_MAX: usize = 64;
/// Most payments a flow may have in one day.
pub const DAILY_PAYMENTS_MAX: f64 = 1e9;
/// The earliest instant a scenario may name. A dynamic KHQR writes its times as 13-digit epoch
/// milliseconds, which begin on 2001-09-09; 2002-01-01T00:00Z leaves room for codes that
/// expired before the run began.
pub const INSTANT_MIN: Timestamp = Timestamp::from_nanos(1_009_843_200_000_000_000);
/// The latest instant a scenario may name: 2286-01-01T00:00Z. 13-digit milliseconds end on
/// 2286-11-20, and a run (31 days), its drain and the settlement days after it fit before.
pub const INSTANT_MAX: Timestamp = Timestamp::from_nanos(9_972_028_800_000_000_000);
/// Longest scenario name (it names the report folder).
pub const NAME_CHARS_MAX: usize = 64;
/// Most accounts the world's ledger opens: wallets, merchants and participants together.
pub const LEDGER_ACCOUNTS_MAX: usize = 1 << 25;
/// Smallest and largest mid rate (units of the quote currency per US dollar).
pub const RATE_MIN: Decimal = Decimal::from_parts(1, 0, 0, false, 4);
/// See [`RATE_MIN`].
pub const RATE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The smallest memory limit a scenario may set, MiB: what a run holds however small it is.
pub const MEMORY_MB_MIN: u32 = 64;
/// Longest ledger retention horizon: a year.
pub const LEDGER_RETENTION_HOURS_MAX: u32 = 366 * 24;
/// The largest memory limit a scenario may set, MiB (1 TiB).
pub const MEMORY_MB_MAX: u32 = 1 << 20;

/// The most events a run may wait on at once: what the event queue's key can name a slot for
/// (`sim::queue::SLOTS_MAX`).
pub const EVENT_QUEUE_MAX: u32 = 1 << 24;

/// The most events a run may process. With at most [`EVENT_QUEUE_MAX`] waiting, it never
/// schedules more than the event queue's key can number (`sim::queue::SEQUENCE_MAX`).
pub const EVENTS_MAX: u64 = 1 << 39;
/// Most rate shocks a scenario may list.
pub const SHOCKS_MAX: usize = 64;
/// The largest clock skew between the switch and UPI, milliseconds: an hour.
pub const CLOCK_SKEW_MS_MAX: u64 = 3_600_000;
/// Most degraded windows a scenario may list.
pub const WINDOWS_MAX: usize = 256;
/// The most a surge may multiply a flow's rate.
pub const SURGE_X_MAX: f64 = 100.0;
/// The shortest deadline a node may keep, seconds.
pub const DEADLINE_S_MIN: f64 = 0.001;
/// The highest admission rate one sender may be given, new requests per second.
pub const ADMISSION_RATE_PER_S_MAX: f64 = 1e7;
/// Longest wait before one reversal retry, seconds.
pub const REVERSAL_BACKOFF_S_MAX: u32 = 86_400;
/// The longest a reversal advice may be resent before it expires: two days, in minutes.
pub const REVERSAL_EXPIRY_MINUTES_MAX: u32 = 2 * 24 * 60;

type Check = Result<(), Invalid>;

fn at(path: &[&str], message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.iter().map(|k| Step::Key((*k).to_string())).collect(),
        message: message.into(),
    }
}

fn at_index(path: &[&str], index: usize, message: impl Into<String>) -> Invalid {
    let mut invalid = at(path, message);
    invalid.path.push(Step::Index(index));
    invalid
}

/// The instant of an offset date-time, if it has a date, a time and an offset and lies between
/// [`INSTANT_MIN`] and [`INSTANT_MAX`].
pub fn instant(value: &Datetime) -> Option<Timestamp> {
    let (date, time, offset) = (value.date?, value.time?, value.offset?);
    let minutes = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => minutes,
    };
    let day = Date::new(i32::from(date.year), date.month, date.day)?;
    let zone = Zone { offset_minutes: minutes };
    let midnight = Timestamp::try_at_local(day, time.hour, time.minute, zone)?;
    let seconds = u64::from(time.second.unwrap_or(0).min(59)) * 1_000_000_000;
    let at = midnight
        .checked_add(Span::from_nanos(seconds + u64::from(time.nanosecond.unwrap_or(0))))?;
    (INSTANT_MIN..=INSTANT_MAX).contains(&at).then_some(at)
}

/// What an instant must be, for messages.
const INSTANT_RULE: &str =
    "must be an offset date-time from 2002-01-01 to 2286-01-01, like 2026-02-16T00:00:00+07:00";

/// The UTC offset of an offset date-time.
pub fn zone_of(value: &Datetime) -> Option<Zone> {
    match value.offset? {
        Offset::Z => Some(Zone::UTC),
        Offset::Custom { minutes } => Some(Zone { offset_minutes: minutes }),
    }
}

/// A local date (`2026-02-15`).
pub fn date(value: &Datetime) -> Option<Date> {
    if value.time.is_some() {
        return None;
    }
    let d = value.date?;
    Date::new(i32::from(d.year), d.month, d.day)
}

/// A UTC offset written `+07:00`.
pub fn offset(text: &str) -> Option<Zone> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i16, i16) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m))
        .then(|| Zone { offset_minutes: sign * (h * 60 + m) })
}

/// A cut-off written `HH:MM` (`24:00` is the end of the day).
pub fn cutoff(text: &str) -> Option<Cutoff> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Some(Cutoff { hour: h.parse().ok()?, minute: m.parse().ok()? })
}

/// A decimal mid rate between [`RATE_MIN`] and [`RATE_MAX`].
pub fn rate(text: &str) -> Option<Decimal> {
    let r: Decimal = text.parse().ok()?;
    (RATE_MIN..=RATE_MAX).contains(&r).then_some(r)
}

/// A currency code this model carries.
pub fn currency(text: &str) -> Option<Currency> {
    Currency::from_alpha(text)
}

/// Checks an M/M/c scenario: a stable node (λ < cμ) and bounded work.
pub(super) fn check_mmc(s: &MmcScenario) -> Check {
    check_name(&s.meta.name)?;
    let m = &s.mmc;
    if m.servers == 0 || m.servers > 4096 {
        return Err(at(&["mmc", "servers"], "must be 1 to 4096"));
    }
    if !(m.arrival_per_second.is_finite() && m.arrival_per_second > 0.0) {
        return Err(at(&["mmc", "arrival_per_second"], "must be positive"));
    }
    if !(m.service_mean_ms.is_finite() && m.service_mean_ms > 0.0) {
        return Err(at(&["mmc", "service_mean_ms"], "must be positive"));
    }
    let rho = m.arrival_per_second * m.service_mean_ms / 1000.0 / f64::from(m.servers);
    if rho >= 1.0 {
        return Err(at(
            &["mmc", "arrival_per_second"],
            format!("load ρ = {rho:.3} ≥ 1: the queue never settles"),
        ));
    }
    if m.customers == 0 || m.customers > 100_000_000 {
        return Err(at(&["mmc", "customers"], "must be 1 to 100 000 000"));
    }
    if !(2..=1000).contains(&m.replications) {
        return Err(at(
            &["mmc", "replications"],
            "must be 2 to 1000 (a confidence interval needs two)",
        ));
    }
    Ok(())
}

/// Checks every value; the first problem, in the order of the format's tables.
pub(super) fn check(s: &Scenario) -> Check {
    check_meta(s)?;
    check_fx(s)?;
    check_calendar(s)?;
    check_settlement(s)?;
    check_population(s)?;
    check_liquidity(s)?;
    check_standard(s)?;
    for (name, node) in nodes(s) {
        check_node(name, node)?;
        if let (Some(each), Some(p)) = (&node.servers_each, topology::Participants::of_node(name))
            && each.len() != participants_count(s, p)
        {
            return Err(at(
                &["nodes", name, "servers_each"],
                format!("needs one number per participant: {}", participants_count(s, p)),
            ));
        }
    }
    for (name, link) in links(s) {
        check_link(name, link)?;
    }
    check_routes(s)?;
    check_timeouts(s)?;
    check_deadlines(s)?;
    check_load(s)?;
    for (name, flow) in flows(s) {
        check_flow(name, flow, s)?;
        check_amounts(name, flow, s)?;
    }
    check_windows(s)?;
    check_slos(s)?;
    if let Some(w) = s.report.warmup_minutes
        && w >= s.meta.duration_hours * 60
    {
        return Err(at(&["report", "warmup_minutes"], "must be shorter than the run"));
    }
    Ok(())
}

/// The nodes by name: the standard ones in [`topology::NODES`] order, then those the scenario
/// adds, by name. Standard nodes the file lacks are left out (validation refuses that).
pub fn nodes(s: &Scenario) -> Vec<(&str, &NodeSpec)> {
    ordered(&s.nodes, &topology::NODES)
}

/// The links by name: the standard ones in [`topology::LINKS`] order, then added ones by name.
pub fn links(s: &Scenario) -> Vec<(&str, &LinkSpec)> {
    ordered(&s.links, &topology::LINKS)
}

fn ordered<'a, T>(map: &'a BTreeMap<String, T>, standard: &[&str]) -> Vec<(&'a str, &'a T)> {
    let known = standard.iter().filter_map(|&n| map.get_key_value(n));
    let added = map.iter().filter(|(n, _)| !standard.contains(&n.as_str()));
    known.chain(added).map(|(n, v)| (n.as_str(), v)).collect()
}

/// Each flow's route, resolved: the scenario's `[routes.FLOW]` or the default.
pub fn route(s: &Scenario, flow: Flow) -> RouteNames {
    let spec = match flow {
        Flow::Inward => &s.routes.inward,
        Flow::Outward => &s.routes.outward,
        Flow::Remittance => &s.routes.remittance,
        Flow::Domestic => &s.routes.domestic,
    };
    spec.as_ref().map_or_else(
        || topology::default_route(flow),
        |r| RouteNames {
            nodes: r.nodes.clone(),
            links: r.links.clone(),
            scheme: r.scheme.clone(),
            credit: r.credit.clone(),
        },
    )
}

/// The flows present, by name, in the format's order.
pub fn flows(s: &Scenario) -> Vec<(&'static str, &FlowSpec)> {
    let f = &s.flows;
    [
        ("inward", &f.inward),
        ("outward", &f.outward),
        ("remittance", &f.remittance),
        ("domestic", &f.domestic),
    ]
    .into_iter()
    .filter_map(|(name, flow)| flow.as_ref().map(|f| (name, f)))
    .collect()
}

/// A name is one safe path segment: it names the report folder `reports/<name>/`.
fn check_name(name: &str) -> Check {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > NAME_CHARS_MAX || !plain {
        return Err(at(
            &["meta", "name"],
            format!(
                "{name:?} must be 1 to {NAME_CHARS_MAX} letters, digits, '-' or '_' \
                 (it names the report folder reports/<name>/)"
            ),
        ));
    }
    Ok(())
}

fn check_meta(s: &Scenario) -> Check {
    let m = &s.meta;
    check_name(&m.name)?;
    if instant(&m.start).is_none() {
        return Err(at(&["meta", "start"], INSTANT_RULE));
    }
    if m.duration_hours == 0 || m.duration_hours > DURATION_HOURS_MAX {
        return Err(at(&["meta", "duration_hours"], format!("must be 1 to {DURATION_HOURS_MAX}")));
    }
    if m.drain_minutes > 24 * 60 {
        return Err(at(&["meta", "drain_minutes"], "must be at most 1440 (one day)"));
    }
    let l = &s.limits;
    for (key, zero) in [
        ("events_max", l.events_max == 0),
        ("payments_in_flight_max", l.payments_in_flight_max == 0),
        ("event_queue_max", l.event_queue_max == 0),
    ] {
        if zero {
            return Err(at(&["limits", key], "must be positive"));
        }
    }
    if l.events_max > EVENTS_MAX {
        return Err(at(&["limits", "events_max"], format!("must be at most {EVENTS_MAX}")));
    }
    if l.event_queue_max > EVENT_QUEUE_MAX {
        return Err(at(
            &["limits", "event_queue_max"],
            format!("must be at most {EVENT_QUEUE_MAX}"),
        ));
    }
    if l.retries_max > 10 {
        return Err(at(&["limits", "retries_max"], "must be at most 10"));
    }
    if !(MEMORY_MB_MIN..=MEMORY_MB_MAX).contains(&l.memory_mb_max) {
        return Err(at(
            &["limits", "memory_mb_max"],
            format!("must be {MEMORY_MB_MIN} to {MEMORY_MB_MAX} (MiB)"),
        ));
    }
    // A payment's commands can be replayed until its hold is gone and its reversal's
    // store-and-forward has expired; the window covers that with an hour to spare.
    let t = &s.timeouts;
    let life_minutes = u64::from(t.hold_minutes) + u64::from(t.reversal_expiry_minutes) + 60;
    let retention_minutes = u64::from(l.ledger_retention_hours) * 60;
    if retention_minutes < life_minutes || l.ledger_retention_hours > LEDGER_RETENTION_HOURS_MAX {
        return Err(at(
            &["limits", "ledger_retention_hours"],
            format!(
                "{} h must be at most {LEDGER_RETENTION_HOURS_MAX} and cover a payment's life: \
                 hold_minutes + reversal_expiry_minutes + 60 = {life_minutes} minutes",
                l.ledger_retention_hours
            ),
        ));
    }
    Ok(())
}

fn pct(path: &[&str], value: f64) -> Check {
    if !(0.0..=100.0).contains(&value) || value.is_nan() {
        return Err(at(path, format!("{value} is not a percentage between 0 and 100")));
    }
    Ok(())
}

fn check_fx(s: &Scenario) -> Check {
    let fx = &s.fx;
    for (key, text) in [("usd_cny", &fx.usd_cny), ("usd_khr", &fx.usd_khr)] {
        if rate(text).is_none() {
            return Err(at(
                &["fx", key],
                format!("{text:?} is not a decimal rate from {RATE_MIN} to {RATE_MAX}"),
            ));
        }
    }
    if fx.walk_step_minutes == 0 || fx.walk_step_minutes > 24 * 60 {
        return Err(at(&["fx", "walk_step_minutes"], "must be 1 to 1440"));
    }
    pct(&["fx", "usd_cny_daily_sigma_pct"], fx.usd_cny_daily_sigma_pct)?;
    pct(&["fx", "usd_khr_daily_sigma_pct"], fx.usd_khr_daily_sigma_pct)?;
    if !(0.0..=50.0).contains(&fx.band_pct) {
        return Err(at(&["fx", "band_pct"], "must be 0 to 50"));
    }
    for (key, bps) in [
        ("scheme_margin_bps", fx.scheme_margin_bps),
        ("outward_spread_bps", fx.outward_spread_bps),
        ("remittance_spread_bps", fx.remittance_spread_bps),
        ("inward_mdr_bps", fx.inward_mdr_bps),
    ] {
        if bps > 5000 {
            return Err(at(&["fx", key], format!("{bps} basis points is above 50 %")));
        }
    }
    if fx.quote_ttl_seconds == 0 {
        return Err(at(&["fx", "quote_ttl_seconds"], "must be positive"));
    }
    if fx.shocks.len() > SHOCKS_MAX {
        return Err(at(&["fx", "shocks"], format!("at most {SHOCKS_MAX} shocks")));
    }
    for (i, shock) in fx.shocks.iter().enumerate() {
        let path = |k: &str| Invalid {
            path: vec![
                Step::Key("fx".into()),
                Step::Key("shocks".into()),
                Step::Index(i),
                Step::Key(k.into()),
            ],
            message: String::new(),
        };
        if instant(&shock.at).is_none() {
            return Err(Invalid { message: INSTANT_RULE.into(), ..path("at") });
        }
        if shock.pair != "USD/CNY" && shock.pair != "USD/KHR" {
            return Err(Invalid {
                message: format!("{:?} is not USD/CNY or USD/KHR", shock.pair),
                ..path("pair")
            });
        }
        if shock.move_bps.unsigned_abs() > 5000 {
            return Err(Invalid {
                message: "a move above 50 % is not a rate shock".into(),
                ..path("move_bps")
            });
        }
    }
    Ok(())
}

fn check_calendar(s: &Scenario) -> Check {
    for (key, ranges, zone) in [
        ("cn_holidays", &s.calendar.cn_holidays, Zone::BEIJING),
        ("kh_holidays", &s.calendar.kh_holidays, Zone::PHNOM_PENH),
    ] {
        for (i, r) in ranges.iter().enumerate() {
            let (Some(from), Some(to)) = (date(&r.from), date(&r.to)) else {
                return Err(at_index(
                    &["calendar", key],
                    i,
                    "from and to must be local dates, like 2026-02-15",
                ));
            };
            if to < from || to.days_since_epoch() - from.days_since_epoch() > 30 {
                return Err(at_index(
                    &["calendar", key],
                    i,
                    "to must be on or after from, at most 31 days",
                ));
            }
        }
        // The settlement core's own calendar decides what it can roll over.
        if let Err(e) = Calendar::new(zone, holiday_dates(ranges)) {
            return Err(at(
                &["calendar", key],
                format!("{e}: settlement could never roll over them"),
            ));
        }
    }
    Ok(())
}

/// Every date of some inclusive ranges (checked ones: local dates, at most 31 days each), in
/// order, without repeats.
pub fn holiday_dates(ranges: &[super::DateRange]) -> Vec<Date> {
    let mut out = Vec::new();
    for r in ranges {
        let (Some(mut d), Some(to)) = (date(&r.from), date(&r.to)) else { continue };
        while d <= to && out.len() < 366 * 8 {
            out.push(d);
            d = d.succ();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The most a bank's prefunding may be, in minor units (a quadrillion: 10¹⁵).
pub const PREFUND_MINOR_MAX: i64 = 1_000_000_000_000_000;

fn prefund_amount(path: &[&str], text: &str, currency: Currency) -> Result<i64, Invalid> {
    match crate::payments::money::Money::parse(text, currency) {
        Ok(m) if (0..=PREFUND_MINOR_MAX).contains(&m.minor) => Ok(m.minor),
        _ => Err(at(
            path,
            format!("{text:?} is not an amount of {currency} from 0 to 10^15 minor units"),
        )),
    }
}

fn check_liquidity(s: &Scenario) -> Check {
    let l = &s.liquidity;
    prefund_amount(&["liquidity", "prefund_khr"], &l.prefund_khr, Currency::Khr)?;
    prefund_amount(&["liquidity", "prefund_usd"], &l.prefund_usd, Currency::Usd)?;
    if !(l.debit_cap_pct.is_finite() && l.debit_cap_pct > 0.0 && l.debit_cap_pct <= 1000.0) {
        return Err(at(&["liquidity", "debit_cap_pct"], "must be above 0 and at most 1000"));
    }
    if !matches!(l.on_short.as_str(), "decline" | "hold") {
        return Err(at(
            &["liquidity", "on_short"],
            format!("{:?} is not \"decline\" or \"hold\"", l.on_short),
        ));
    }
    let banks = s.population.bank_shares_pct.len();
    for (i, b) in l.banks.iter().enumerate() {
        let here = |key: &'static str| ["liquidity", "banks", key];
        if b.bank as usize >= banks {
            return Err(at_index(
                &["liquidity", "banks"],
                i,
                format!("bank {} is not one of the {banks} in bank_shares_pct", b.bank),
            ));
        }
        if l.banks[..i].iter().any(|x| x.bank == b.bank) {
            return Err(at_index(&["liquidity", "banks"], i, format!("bank {} twice", b.bank)));
        }
        if let Some(t) = &b.prefund_khr {
            prefund_amount(&here("prefund_khr"), t, Currency::Khr)?;
        }
        if let Some(t) = &b.prefund_usd {
            prefund_amount(&here("prefund_usd"), t, Currency::Usd)?;
        }
    }
    Ok(())
}

/// Each member bank's prefunding (KHR, USD), minor units, as `[liquidity]` says.
pub fn prefunds(s: &Scenario) -> Vec<[i64; 2]> {
    let l = &s.liquidity;
    let parse = |t: &str, c| prefund_amount(&[], t, c).expect("validated");
    let all = [parse(&l.prefund_khr, Currency::Khr), parse(&l.prefund_usd, Currency::Usd)];
    let shares = &s.population.bank_shares_pct;
    let total: f64 = shares.iter().sum();
    let mut out: Vec<[i64; 2]> = shares
        .iter()
        .map(|x| if l.by_share { all.map(|a| (a as f64 * x / total).round() as i64) } else { all })
        .collect();
    for b in &l.banks {
        let own = &mut out[b.bank as usize];
        if let Some(t) = &b.prefund_khr {
            own[0] = parse(t, Currency::Khr);
        }
        if let Some(t) = &b.prefund_usd {
            own[1] = parse(t, Currency::Usd);
        }
    }
    out
}

fn check_settlement(s: &Scenario) -> Check {
    let mut cutoffs = Vec::new();
    for (i, text) in s.settlement.bakong_cutoffs.iter().enumerate() {
        let Some(c) = cutoff(text) else {
            return Err(at_index(
                &["settlement", "bakong_cutoffs"],
                i,
                format!("{text:?} is not HH:MM"),
            ));
        };
        cutoffs.push(c);
    }
    if let Err(e) = NettingSchedule::new(&cutoffs) {
        return Err(at(
            &["settlement", "bakong_cutoffs"],
            format!("{e} (cut-offs rise through the day, 00:01 to 24:00)"),
        ));
    }
    if s.settlement.recon_rounding_tolerance_minor < 0 {
        return Err(at(&["settlement", "recon_rounding_tolerance_minor"], "must not be negative"));
    }
    let e = &s.exceptions;
    for (key, v) in [
        ("missing_at_network", e.missing_at_network),
        ("missing_at_switch", e.missing_at_switch),
        ("duplicate", e.duplicate),
        ("amount_mismatch", e.amount_mismatch),
        ("status_mismatch", e.status_mismatch),
        ("late_presentment", e.late_presentment),
    ] {
        if !(0.0..=1000.0).contains(&v) {
            return Err(at(&["exceptions", key], format!("{v} per 10 000 is outside 0 to 1000")));
        }
    }
    if e.scheme_clock_skew_ms.unsigned_abs() > CLOCK_SKEW_MS_MAX {
        return Err(at(
            &["exceptions", "scheme_clock_skew_ms"],
            format!("at most {CLOCK_SKEW_MS_MAX} ms either way"),
        ));
    }
    Ok(())
}

fn shares(path: &[&str], values: &[f64], count_max: usize) -> Check {
    if values.is_empty() || values.len() > count_max {
        return Err(at(path, format!("needs 1 to {count_max} shares, has {}", values.len())));
    }
    for (i, &v) in values.iter().enumerate() {
        if !(0.0..=100.0).contains(&v) {
            return Err(at_index(path, i, format!("{v} is not a percentage between 0 and 100")));
        }
    }
    let sum: f64 = values.iter().sum();
    if (sum - 100.0).abs() > 1e-6 {
        return Err(at(path, format!("shares sum to {sum} %, not 100 %")));
    }
    Ok(())
}

fn check_population(s: &Scenario) -> Check {
    let p = &s.population;
    shares(&["population", "bank_shares_pct"], &p.bank_shares_pct, PARTICIPANTS_MAX)?;
    shares(&["population", "cn_issuer_shares_pct"], &p.cn_issuer_shares_pct, PARTICIPANTS_MAX)?;
    let counts = [
        ("inward_payers", p.inward_payers, s.flows.inward.is_some()),
        ("inward_merchants", p.inward_merchants, s.flows.inward.is_some()),
        ("outward_payers", p.outward_payers, s.flows.outward.is_some()),
        ("outward_merchants", p.outward_merchants, s.flows.outward.is_some()),
        ("remittance_senders", p.remittance_senders, s.flows.remittance.is_some()),
        ("remittance_recipients", p.remittance_recipients, s.flows.remittance.is_some()),
        ("domestic_payers", p.domestic_payers, s.flows.domestic.is_some()),
        ("domestic_merchants", p.domestic_merchants, s.flows.domestic.is_some()),
    ];
    let accounts = accounts_needed(s);
    if accounts > LEDGER_ACCOUNTS_MAX as u64 {
        let biggest = counts.iter().max_by_key(|c| c.1).map_or("", |c| c.0);
        return Err(at(
            &["population", biggest],
            format!(
                "the populations need {accounts} ledger accounts, more than the ledger's \
                 {LEDGER_ACCOUNTS_MAX}"
            ),
        ));
    }
    for (key, n, needed) in counts {
        if n > POPULATION_MAX {
            return Err(at(
                &["population", key],
                format!("{n} is above the limit {POPULATION_MAX}"),
            ));
        }
        if needed && n == 0 {
            return Err(at(&["population", key], "must be positive: its flow has traffic"));
        }
    }
    if !(0.0..=5.0).contains(&p.merchant_zipf_s) {
        return Err(at(&["population", "merchant_zipf_s"], "must be 0 to 5"));
    }
    Ok(())
}

/// The ledger accounts a world opens for its customers and participants: one wallet per
/// currency a customer's role uses, and each participant's own accounts.
pub fn accounts_needed(s: &Scenario) -> u64 {
    let p = &s.population;
    let customers = [
        (p.inward_payers, 1),
        (p.inward_merchants, 1),
        (p.outward_payers, 1),
        (p.outward_merchants, 1),
        (p.remittance_senders, 2),
        (p.remittance_recipients, 1),
        (p.domestic_payers, 2),
        (p.domestic_merchants, 2),
    ];
    let participants = (p.bank_shares_pct.len() + p.cn_issuer_shares_pct.len()) as u64;
    customers.iter().map(|&(n, currencies)| u64::from(n) * currencies).sum::<u64>()
        + participants * 12
        + 64
}

fn median_p99(path: &[&str], pair: [f64; 2], what: &str) -> Check {
    let [median, p99] = pair;
    if !(median.is_finite() && median > 0.0) {
        return Err(at(path, format!("the {what} median {median} ms must be positive")));
    }
    if !(p99.is_finite() && p99 >= median) {
        return Err(at(path, format!("p99 {p99} ms is below the median {median} ms")));
    }
    if p99 > 3_600_000.0 {
        return Err(at(path, format!("p99 {p99} ms is above one hour")));
    }
    Ok(())
}

/// Longest delay a distribution may give, milliseconds (one hour).
pub const DELAY_MS_MAX: f64 = 3_600_000.0;
/// Most points an empirical distribution may have.
pub const EMPIRICAL_POINTS_MAX: usize = 1000;

/// A cumulative share in percent as the engine's basis points.
pub fn share_bps(pct: f64) -> u32 {
    (pct * 100.0).round() as u32
}

/// A delay given either as `[median, p99]` (`pair_key`) or as a distribution (`dist_key`):
/// exactly one, and possible.
fn check_delay(
    path: [&str; 2],
    (pair_key, pair): (&str, Option<[f64; 2]>),
    (dist_key, dist): (&str, Option<&DelaySpec>),
    what: &str,
) -> Check {
    let [table, name] = path;
    let dist = match (pair, dist) {
        (Some(pair), None) => return median_p99(&[table, name, pair_key], pair, what),
        (None, Some(dist)) => dist,
        _ => {
            return Err(at(&path, format!("needs exactly one of {pair_key} and {dist_key}")));
        }
    };
    let here = |key: &'static str| [table, name, dist_key, key];
    let ms_ok = |v: f64, zero_ok: bool| {
        v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0)) && v <= DELAY_MS_MAX
    };
    match dist {
        DelaySpec::LogNormal { median_ms, p99_ms } => {
            median_p99(&[table, name, dist_key], [*median_ms, *p99_ms], what)
        }
        DelaySpec::Exponential { mean_ms } if !ms_ok(*mean_ms, false) => {
            Err(at(&here("mean_ms"), format!("{mean_ms} ms must be above 0 and at most one hour")))
        }
        DelaySpec::Constant { ms } if !ms_ok(*ms, true) => {
            Err(at(&here("ms"), format!("{ms} ms must be 0 to one hour")))
        }
        DelaySpec::Exponential { .. } | DelaySpec::Constant { .. } => Ok(()),
        DelaySpec::Empirical { points } => {
            let key = here("points");
            if points.is_empty() || points.len() > EMPIRICAL_POINTS_MAX {
                return Err(at(&key, format!("needs 1 to {EMPIRICAL_POINTS_MAX} points")));
            }
            let (mut share_before, mut delay_before) = (0, 0.0);
            for (i, &Two(share, delay)) in points.iter().enumerate() {
                if !ms_ok(delay, true) {
                    return Err(at_index(&key, i, format!("{delay} ms must be 0 to one hour")));
                }
                let bps = share_bps(share);
                let rises = share.is_finite()
                    && (1..=10_000).contains(&bps)
                    && bps > share_before
                    && (i == 0 || delay >= delay_before);
                if !rises {
                    return Err(at_index(
                        &key,
                        i,
                        "points are [cumulative_pct, ms]: the shares rise (by 0.01 or more) to \
                         100 and the delays do not fall",
                    ));
                }
                (share_before, delay_before) = (bps, delay);
            }
            if share_before != 10_000 {
                return Err(at(&key, "the last point's cumulative share must be 100"));
            }
            Ok(())
        }
    }
}

fn check_node(name: &str, node: &NodeSpec) -> Check {
    check_node_name(&["nodes", name], name)?;
    if node.servers == 0 || node.servers > SERVERS_MAX {
        return Err(at(&["nodes", name, "servers"], format!("must be 1 to {SERVERS_MAX}")));
    }
    if node.queue_max > QUEUE_MAX {
        return Err(at(&["nodes", name, "queue_max"], format!("must be at most {QUEUE_MAX}")));
    }
    check_delay(
        ["nodes", name],
        ("service_ms", node.service_ms),
        ("service", node.service.as_ref()),
        "service",
    )?;
    if node.other_service_ms.is_some() || node.other_service.is_some() {
        check_delay(
            ["nodes", name],
            ("other_service_ms", node.other_service_ms),
            ("other_service", node.other_service.as_ref()),
            "other_service",
        )?;
    }
    if let Some(p) = &node.priority
        && priority(p).is_none()
    {
        return Err(at(
            &["nodes", name, "priority"],
            format!("{p:?} is not \"domestic\" or \"cross_border\""),
        ));
    }
    check_node_sizes(name, node)?;
    check_node_control(name, node)
}

/// How many instances a participants' node has.
pub fn participants_count(s: &Scenario, p: topology::Participants) -> usize {
    match p {
        topology::Participants::KhBanks => s.population.bank_shares_pct.len(),
        topology::Participants::CnIssuers => s.population.cn_issuer_shares_pct.len(),
        topology::Participants::CnAcquirers => topology::CN_ACQUIRERS_COUNT as usize,
    }
}

/// Servers of each instance of a node: `servers` for a single node; at a participants' node,
/// `servers` each, `servers_each`, or `servers` shared by population shares (at least one each).
pub fn servers_of(s: &Scenario, name: &str, node: &NodeSpec) -> Vec<u32> {
    let Some(p) = topology::Participants::of_node(name) else { return vec![node.servers] };
    if let Some(each) = &node.servers_each {
        return each.clone();
    }
    let count = participants_count(s, p);
    if !node.servers_by_share {
        return vec![node.servers; count];
    }
    let shares: Vec<f64> = match p {
        topology::Participants::KhBanks => s.population.bank_shares_pct.clone(),
        topology::Participants::CnIssuers => s.population.cn_issuer_shares_pct.clone(),
        topology::Participants::CnAcquirers => vec![1.0; count],
    };
    let total: f64 = shares.iter().sum();
    shares.iter().map(|x| ((f64::from(node.servers) * x / total).round() as u32).max(1)).collect()
}

/// Per-participant servers: only at participants' nodes, one way at a time.
fn check_node_sizes(name: &str, node: &NodeSpec) -> Check {
    let participants = topology::Participants::of_node(name);
    if (node.servers_by_share || node.servers_each.is_some()) && participants.is_none() {
        let key = if node.servers_by_share { "servers_by_share" } else { "servers_each" };
        return Err(at(
            &["nodes", name, key],
            "is for a participants' node (kh_bank, cn_issuer, cn_acquirer): one instance each",
        ));
    }
    if node.servers_by_share && node.servers_each.is_some() {
        return Err(at(&["nodes", name, "servers_each"], "give it or servers_by_share, not both"));
    }
    if let Some(each) = &node.servers_each
        && let Some(i) = each.iter().position(|&n| n == 0 || n > SERVERS_MAX)
    {
        return Err(at_index(
            &["nodes", name, "servers_each"],
            i,
            format!("must be 1 to {SERVERS_MAX}"),
        ));
    }
    Ok(())
}

/// A node's deadline, breaker and admission control.
fn check_node_control(name: &str, node: &NodeSpec) -> Check {
    if let Some(d) = node.deadline_s
        && !(d.is_finite() && (DEADLINE_S_MIN..=3600.0).contains(&d))
    {
        return Err(at(
            &["nodes", name, "deadline_s"],
            format!("{d} must be {DEADLINE_S_MIN} to 3600 seconds"),
        ));
    }
    if let Some(o) = &node.on_deadline {
        if node.deadline_s.is_none() {
            return Err(at(&["nodes", name, "on_deadline"], "needs deadline_s"));
        }
        if on_deadline(o).is_none() {
            return Err(at(
                &["nodes", name, "on_deadline"],
                format!("{o:?} is not \"decline\" or \"stand_in\""),
            ));
        }
    }
    if let Some(b) = &node.breaker {
        let here = |key: &'static str| ["nodes", name, "breaker", key];
        if node.deadline_s.is_none() {
            return Err(at(
                &["nodes", name, "breaker"],
                "counts missed deadlines: needs deadline_s",
            ));
        }
        if !(b.failure_pct.is_finite() && b.failure_pct > 0.0 && b.failure_pct <= 100.0) {
            return Err(at(&here("failure_pct"), "must be above 0 and at most 100"));
        }
        if !(1..=3600).contains(&b.window_s) {
            return Err(at(&here("window_s"), "must be 1 to 3600"));
        }
        if b.requests_min == 0 {
            return Err(at(&here("requests_min"), "must be positive"));
        }
        if !(1..=86_400).contains(&b.open_s) {
            return Err(at(&here("open_s"), "must be 1 to 86400"));
        }
    }
    if let Some(a) = &node.admission {
        let here = |key: &'static str| ["nodes", name, "admission", key];
        if a.rate_per_s.is_none() && a.concurrency_max.is_none() {
            return Err(at(
                &["nodes", name, "admission"],
                "needs rate_per_s or concurrency_max (or both)",
            ));
        }
        if let Some(r) = a.rate_per_s
            && !(r.is_finite() && r > 0.0 && r <= ADMISSION_RATE_PER_S_MAX)
        {
            return Err(at(
                &here("rate_per_s"),
                format!("{r} must be above 0 and at most {ADMISSION_RATE_PER_S_MAX}"),
            ));
        }
        if a.burst.is_some() && a.rate_per_s.is_none() {
            return Err(at(&here("burst"), "is the size of the rate's bucket: give rate_per_s"));
        }
        if a.burst == Some(0) || a.burst.is_some_and(|b| b > QUEUE_MAX) {
            return Err(at(&here("burst"), format!("must be 1 to {QUEUE_MAX}")));
        }
        if a.concurrency_max == Some(0) {
            return Err(at(&here("concurrency_max"), "must be positive"));
        }
    }
    Ok(())
}

/// What a node does at its deadline.
pub fn on_deadline(text: &str) -> Option<crate::payments::network::relay::OnDeadline> {
    use crate::payments::network::relay::OnDeadline;
    match text {
        "decline" => Some(OnDeadline::Decline),
        "stand_in" => Some(OnDeadline::StandIn),
        _ => None,
    }
}

/// Which flows a node serves first: `Some(true)` domestic, `Some(false)` cross-border.
pub fn priority(text: &str) -> Option<bool> {
    match text {
        "domestic" => Some(true),
        "cross_border" => Some(false),
        _ => None,
    }
}

/// Most nodes, and most links, a scenario may add to the standard ones.
pub const ADDED_MAX: usize = 64;

fn check_standard(s: &Scenario) -> Check {
    for (table, names, present) in [
        ("nodes", topology::NODES.as_slice(), s.nodes.keys().collect::<Vec<_>>()),
        ("links", topology::LINKS.as_slice(), s.links.keys().collect()),
    ] {
        if let Some(missing) = names.iter().find(|n| !present.iter().any(|p| p == *n)) {
            return Err(at(
                &[table],
                format!("needs [{table}.{missing}] (every standard one: {})", names.join(", ")),
            ));
        }
        if present.len() - names.len() > ADDED_MAX {
            return Err(at(&[table], format!("at most {ADDED_MAX} {table} beyond the standard")));
        }
    }
    Ok(())
}

fn check_routes(s: &Scenario) -> Check {
    let given = [&s.routes.inward, &s.routes.outward, &s.routes.remittance, &s.routes.domestic];
    for (flow, spec) in Flow::ALL.into_iter().zip(given) {
        if let Some(spec) = spec {
            check_route(s, flow, spec)?;
        }
    }
    let routes: Vec<RouteNames> = Flow::ALL.iter().map(|&f| route(s, f)).collect();
    for (table, names) in [
        ("nodes", nodes(s).iter().map(|n| n.0).collect::<Vec<_>>()),
        ("links", links(s).iter().map(|l| l.0).collect()),
    ] {
        let standard = if table == "nodes" { &topology::NODES[..] } else { &topology::LINKS[..] };
        for name in names.into_iter().filter(|n| !standard.contains(n)) {
            let used = routes.iter().any(|r| {
                let on = if table == "nodes" { &r.nodes } else { &r.links };
                on.iter().any(|x| x == name)
            });
            if !used {
                return Err(at(&[table, name], "is on no flow's route (see [routes])"));
            }
        }
    }
    Ok(())
}

fn check_route(s: &Scenario, flow: Flow, r: &RouteSpec) -> Check {
    let path = |key: &'static str| ["routes", flow.name(), key];
    let hops = r.nodes.len();
    if !(2..=topology::ROUTE_HOPS_MAX).contains(&hops) {
        let max = topology::ROUTE_HOPS_MAX;
        return Err(at(&path("nodes"), format!("a route has 2 to {max} nodes")));
    }
    if r.links.len() != hops {
        return Err(at(&path("links"), format!("needs one link per node: {hops}")));
    }
    for (i, n) in r.nodes.iter().enumerate() {
        if !s.nodes.contains_key(n) {
            return Err(at_index(&path("nodes"), i, format!("{n:?} is not in [nodes]")));
        }
    }
    for (i, l) in r.links.iter().enumerate() {
        if !s.links.contains_key(l) {
            return Err(at_index(&path("links"), i, format!("{l:?} is not in [links]")));
        }
    }
    let [payer, payee] = topology::ends(flow).map(topology::Participants::node);
    if r.nodes[0] != payer || r.nodes[hops - 1] != payee {
        return Err(at(
            &path("nodes"),
            format!("a {} route starts at {payer} and ends at {payee}", flow.name()),
        ));
    }
    if let Some(i) = (1..hops - 1).find(|&i| topology::Participants::of_node(&r.nodes[i]).is_some())
    {
        return Err(at_index(
            &path("nodes"),
            i,
            "only the first and last nodes may be participants' (banks', issuers', acquirers')",
        ));
    }
    if flow != Flow::Domestic {
        for tap in [topology::UPI, topology::BAKONG_GATEWAY] {
            if r.nodes.iter().filter(|n| *n == tap).count() != 1 {
                return Err(at(
                    &path("nodes"),
                    format!(
                        "a cross-border route passes {tap} exactly once (its clearing file is \
                         reconciled and settled)"
                    ),
                ));
            }
        }
    }
    let hop_of = |name: &str| r.nodes.iter().skip(1).position(|n| n == name).map(|i| i + 1);
    let Some(scheme) = hop_of(&r.scheme) else {
        return Err(at(&path("scheme"), format!("{:?} is not a node after the first", r.scheme)));
    };
    let Some(credit) = hop_of(&r.credit) else {
        return Err(at(&path("credit"), format!("{:?} is not a node after the first", r.credit)));
    };
    if scheme > credit {
        return Err(at(&path("scheme"), "the scheme's node comes no later than the credit's"));
    }
    Ok(())
}

/// Node and link names are identifiers: they name columns, plots and windows' targets.
fn check_node_name(path: &[&str], name: &str) -> Check {
    let ok = !name.is_empty()
        && name.len() <= NAME_CHARS_MAX
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(at(
            path,
            format!("names are 1 to {NAME_CHARS_MAX} lower-case letters, digits and underscores"),
        ))
    }
}

fn check_link(name: &str, link: &LinkSpec) -> Check {
    check_node_name(&["links", name], name)?;
    check_delay(
        ["links", name],
        ("latency_ms", link.latency_ms),
        ("latency", link.latency.as_ref()),
        "latency",
    )?;
    pct(&["links", name, "loss_pct"], link.loss_pct)?;
    pct(&["links", name, "duplicate_pct"], link.duplicate_pct)?;
    for (i, o) in link.outages.iter().enumerate() {
        match (instant(&o.from), instant(&o.to)) {
            (Some(from), Some(to)) if from < to => {}
            _ => {
                return Err(at_index(
                    &["links", name, "outages"],
                    i,
                    format!("from and to {INSTANT_RULE}, from before to"),
                ));
            }
        }
    }
    Ok(())
}

/// A node's deadline must pass before the timeout of every originator whose requests it
/// relays: a switch gives up (and answers) before the party waiting on it does.
fn check_deadlines(s: &Scenario) -> Check {
    let t = &s.timeouts;
    for flow in Flow::ALL {
        let originator_s = match flow {
            Flow::Inward => t.issuer_to_upi_s,
            Flow::Outward | Flow::Remittance => t.bank_to_bakong_s,
            Flow::Domestic => t.domestic_s,
        };
        let r = route(s, flow);
        let credit = r.nodes.iter().skip(1).position(|n| *n == r.credit).map_or(0, |i| i + 1);
        for name in r.nodes.iter().take(credit).skip(1) {
            if let Some(d) = s.nodes.get(name).and_then(|n| n.deadline_s)
                && d >= f64::from(originator_s)
            {
                return Err(at(
                    &["nodes", name, "deadline_s"],
                    format!(
                        "{d} s must be shorter than the {} originator's timeout ({originator_s} s): \
                         the node relays its requests",
                        flow.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_timeouts(s: &Scenario) -> Check {
    let t = &s.timeouts;
    for (key, v) in [
        ("app_s", t.app_s),
        ("issuer_to_upi_s", t.issuer_to_upi_s),
        ("bank_to_bakong_s", t.bank_to_bakong_s),
        ("domestic_s", t.domestic_s),
        ("inquiry_every_s", t.inquiry_every_s),
        ("hold_minutes", t.hold_minutes),
    ] {
        if v == 0 || v > 3600 {
            return Err(at(&["timeouts", key], format!("{v} must be 1 to 3600")));
        }
    }
    if t.inquiry_window_s > 3600 {
        return Err(at(&["timeouts", "inquiry_window_s"], "must be at most 3600"));
    }
    if t.reversal_backoff_s.is_empty() || t.reversal_backoff_s.len() > 16 {
        return Err(at(&["timeouts", "reversal_backoff_s"], "needs 1 to 16 back-off steps"));
    }
    if let Some(i) = t.reversal_backoff_s.iter().position(|&b| b == 0 || b > REVERSAL_BACKOFF_S_MAX)
    {
        return Err(at_index(
            &["timeouts", "reversal_backoff_s"],
            i,
            format!("a back-off step must be 1 to {REVERSAL_BACKOFF_S_MAX} s"),
        ));
    }
    pct(&["timeouts", "reversal_attempt_fail_pct"], t.reversal_attempt_fail_pct)?;
    if t.reversals_per_second_max == 0 {
        return Err(at(&["timeouts", "reversals_per_second_max"], "must be positive"));
    }
    let expiry_s = u64::from(t.reversal_expiry_minutes) * 60;
    if t.reversal_expiry_minutes == 0 || t.reversal_expiry_minutes > REVERSAL_EXPIRY_MINUTES_MAX {
        return Err(at(
            &["timeouts", "reversal_expiry_minutes"],
            format!("must be 1 to {REVERSAL_EXPIRY_MINUTES_MAX} (two days)"),
        ));
    }
    if let Some(i) = t.reversal_backoff_s.iter().position(|&b| u64::from(b) > expiry_s) {
        return Err(at_index(
            &["timeouts", "reversal_backoff_s"],
            i,
            format!(
                "a back-off step longer than reversal_expiry_minutes ({expiry_s} s) would never \
                 send its advice"
            ),
        ));
    }
    // The hold is voided when the reversal starts, so it lives through the timeout and the
    // inquiries only.
    let longest = u64::from(t.issuer_to_upi_s.max(t.bank_to_bakong_s).max(t.domestic_s));
    let recovery = u64::from(t.inquiry_window_s);
    if u64::from(t.hold_minutes) * 60 <= longest + recovery {
        return Err(at(
            &["timeouts", "hold_minutes"],
            format!("a hold must outlive the timeout and the inquiries ({} s)", longest + recovery),
        ));
    }
    Ok(())
}

/// A flow's surges: possible, and leaving the calm between them a rate of its own.
fn check_surges(name: &str, f: &FlowSpec) -> Check {
    let Some(g) = &f.surges else { return Ok(()) };
    let here = |key: &'static str| ["flows", name, "surges", key];
    if !(g.x.is_finite() && g.x > 1.0 && g.x <= SURGE_X_MAX) {
        return Err(at(&here("x"), format!("{} must be above 1 and at most {SURGE_X_MAX}", g.x)));
    }
    if !(g.share_pct.is_finite() && g.share_pct > 0.0 && g.share_pct * g.x < 100.0) {
        return Err(at(
            &here("share_pct"),
            format!(
                "{} must be above 0 and below 100 / x = {:.3} (the rest of the time runs at \
                 what is left of the rate)",
                g.share_pct,
                100.0 / g.x
            ),
        ));
    }
    if !(g.mean_s.is_finite() && (0.1..=3600.0).contains(&g.mean_s)) {
        return Err(at(&here("mean_s"), format!("{} must be 0.1 to 3600 seconds", g.mean_s)));
    }
    Ok(())
}

fn check_flow(name: &str, f: &FlowSpec, s: &Scenario) -> Check {
    let p = |k: &'static str| ["flows", name, k];
    check_surges(name, f)?;
    if !(f.daily_payments.is_finite() && (0.0..=DAILY_PAYMENTS_MAX).contains(&f.daily_payments)) {
        return Err(at(&p("daily_payments"), format!("must be 0 to {DAILY_PAYMENTS_MAX}")));
    }
    if offset(&f.hours_offset).is_none() {
        return Err(at(
            &p("hours_offset"),
            format!("{:?} is not an offset like \"+07:00\"", f.hours_offset),
        ));
    }
    if f.hourly_shares_pct.len() != 24 {
        return Err(at(
            &p("hourly_shares_pct"),
            format!("needs 24 hourly shares, has {}", f.hourly_shares_pct.len()),
        ));
    }
    shares(&p("hourly_shares_pct"), &f.hourly_shares_pct, 24)?;
    if f.day_multipliers.is_empty() || f.day_multipliers.len() > 62 {
        return Err(at(&p("day_multipliers"), "needs 1 to 62 multipliers"));
    }
    for (i, &m) in f.day_multipliers.iter().enumerate() {
        if !(0.0..=100.0).contains(&m) {
            return Err(at_index(
                &p("day_multipliers"),
                i,
                format!("{m} is not a multiplier between 0 and 100"),
            ));
        }
    }
    median_p99(&p("think_ms"), f.think_ms, "think time")?;
    if let Some(d) = f.think_dynamic_ms {
        median_p99(&p("think_dynamic_ms"), d, "think time")?;
    }
    for (key, v) in [
        ("dynamic_qr_pct", f.dynamic_qr_pct),
        ("abandon_pct", f.abandon_pct),
        ("retry_pct", f.retry_pct),
        ("duplicate_tap_pct", f.duplicate_tap_pct),
        ("wechat_share_pct", f.wechat_share_pct),
        ("auspicious_pct", f.auspicious_pct),
    ] {
        pct(&p(key), v)?;
    }
    let [lo, hi] = f.retry_after_s;
    if !(lo >= 0.0 && hi >= lo && hi <= 86_400.0) {
        return Err(at(&p("retry_after_s"), "must be [min, max] seconds, 0 ≤ min ≤ max ≤ 86400"));
    }
    if f.auspicious_pct > 0.0 && f.auspicious_cny.iter().all(|&a| a == 0) {
        return Err(at(
            &p("auspicious_cny"),
            "needs at least one positive amount when auspicious_pct > 0",
        ));
    }
    if f.auspicious_cny.len() > 64 {
        return Err(at(&p("auspicious_cny"), "at most 64 amounts"));
    }
    for (i, &yuan) in f.auspicious_cny.iter().enumerate().filter(|(_, a)| **a > 0) {
        let fen = i64::from(yuan) * 100;
        let fits = fen <= AMOUNT_MINOR_MAX
            && [Currency::Khr, Currency::Usd].iter().all(|&to| {
                let (smallest, largest) = conversion_envelope(fen, Currency::Cny, to, s);
                smallest >= Decimal::ONE && largest <= Decimal::from(AMOUNT_MINOR_MAX)
            });
        if !fits {
            return Err(at_index(
                &p("auspicious_cny"),
                i,
                format!("{yuan} CNY cannot be paid from KHR and USD at the run's rates"),
            ));
        }
    }
    if let Some(b) = &f.bursts {
        pct(&["flows", name, "bursts", "share_pct"], b.share_pct)?;
        if b.size[0] < 2 || b.size[1] < b.size[0] || b.size[1] > 1000 {
            return Err(at(
                &["flows", name, "bursts", "size"],
                "must be [min, max] with 2 ≤ min ≤ max ≤ 1000",
            ));
        }
        let [lo, hi] = b.spread_minutes;
        if !(lo > 0.0 && hi >= lo && hi <= 120.0) {
            return Err(at(
                &["flows", name, "bursts", "spread_minutes"],
                "must be [min, max] minutes, 0 < min ≤ max ≤ 120",
            ));
        }
    }
    check_failures(name, f)
}

/// The currencies a flow's amounts may be in: the payee's (a merchant's price) or, for a
/// remittance, the sender's.
pub fn amount_currencies(flow: &str) -> &'static [Currency] {
    match flow {
        "inward" => &[Currency::Khr],
        "outward" => &[Currency::Cny],
        _ => &[Currency::Khr, Currency::Usd],
    }
}

/// The currencies an amount of a flow is converted into (none for domestic).
fn converted_into(flow: &str, from: Currency) -> &'static [Currency] {
    match (flow, from) {
        ("inward", _) | ("remittance", _) => &[Currency::Cny],
        ("outward", _) => &[Currency::Khr],
        _ => &[],
    }
}

/// What `minor` units of `from` may become in `to` at any rate the run can see: the mids at
/// the start, moved to either edge of the band, with the scheme margin and a member bank's
/// spread (each at most 50 %) on either side. Returns (smallest, largest) in minor units.
fn conversion_envelope(
    minor: i64,
    from: Currency,
    to: Currency,
    s: &Scenario,
) -> (Decimal, Decimal) {
    let usd_per = |c: Currency| match c {
        Currency::Usd => Some(Decimal::ONE),
        Currency::Cny => rate(&s.fx.usd_cny),
        Currency::Khr => rate(&s.fx.usd_khr),
    };
    let (Some(from_rate), Some(to_rate)) = (usd_per(from), usd_per(to)) else {
        return (Decimal::ZERO, Decimal::MAX);
    };
    let band = Decimal::from_f64_retain(s.fx.band_pct / 100.0).unwrap_or_default();
    let (low, high) = (Decimal::ONE - band, Decimal::ONE + band);
    let major = Decimal::new(minor, from.exponent());
    let scale = Decimal::from(10_i64.pow(to.exponent()));
    let middle = major * to_rate / from_rate * scale;
    let four = Decimal::from(4);
    let smallest = middle * low / high / four;
    let largest = middle.checked_mul(high / low * four).unwrap_or(Decimal::MAX);
    (smallest, largest)
}

/// The most payments a flow can create, retries included: its daily figure on its busiest day,
/// on every day the run touches, each tried up to `retries_max` more times, plus bursts.
pub fn payments_bound(f: &FlowSpec, s: &Scenario) -> f64 {
    let days = f64::from(s.meta.duration_hours.div_ceil(24) + 1);
    busiest_daily(f, s) * days * f64::from(1 + s.limits.retries_max)
}

/// A flow's payments on its busiest day, with the load multiplier.
pub fn busiest_daily(f: &FlowSpec, s: &Scenario) -> f64 {
    let busiest = f.day_multipliers.iter().copied().fold(0.0, f64::max);
    f.daily_payments * busiest * s.load.multiplier
}

/// Largest `[load] multiplier`.
pub const LOAD_MULTIPLIER_MAX: f64 = 1000.0;

fn check_load(s: &Scenario) -> Check {
    let m = s.load.multiplier;
    if !(m.is_finite() && m > 0.0 && m <= LOAD_MULTIPLIER_MAX) {
        return Err(at(
            &["load", "multiplier"],
            format!("{m} must be above 0 and at most {LOAD_MULTIPLIER_MAX}"),
        ));
    }
    for (name, f) in flows(s) {
        let daily = busiest_daily(f, s);
        if daily > DAILY_PAYMENTS_MAX {
            return Err(at(
                &["load", "multiplier"],
                format!(
                    "makes {name} {daily:.0} payments on its busiest day, above \
                     {DAILY_PAYMENTS_MAX}"
                ),
            ));
        }
    }
    Ok(())
}

/// An amount range's bounds: the largest payment, what it converts to at the run's rates, and
/// what the flow's payments could add up to.
fn check_amount_range(
    flow: &str,
    f: &FlowSpec,
    s: &Scenario,
    (c, min_minor, max_minor): (Currency, i64, i64),
    here: &dyn Fn(&str, String) -> Invalid,
) -> Check {
    let (min, max) = (Money::new(c, min_minor), Money::new(c, max_minor));
    if max.minor > AMOUNT_MINOR_MAX {
        return Err(here(
            "max",
            format!(
                "{} is above the largest payment, {}",
                max.to_decimal(),
                Money::new(c, AMOUNT_MINOR_MAX).to_decimal()
            ),
        ));
    }
    for &to in converted_into(flow, c) {
        let (smallest, _) = conversion_envelope(min.minor, c, to, s);
        if smallest < Decimal::ONE {
            return Err(here(
                "min",
                format!(
                    "{} {c} can convert to less than one minor unit of {to} at the run's \
                         rates (fx.usd_cny {}, fx.usd_khr {}): raise min or check the rates",
                    min.to_decimal(),
                    s.fx.usd_cny,
                    s.fx.usd_khr
                ),
            ));
        }
        let (_, largest) = conversion_envelope(max.minor, c, to, s);
        if largest > Decimal::from(AMOUNT_MINOR_MAX) {
            return Err(here(
                "max",
                format!(
                    "{} {c} can convert to more than the largest payment in {to} at the \
                         run's rates (fx.usd_cny {}, fx.usd_khr {}): lower max or check the rates",
                    max.to_decimal(),
                    s.fx.usd_cny,
                    s.fx.usd_khr
                ),
            ));
        }
    }
    // Every ledger total is 64-bit: even if every payment were of the largest amount, the
    // totals must fit.
    let total = payments_bound(f, s) * max.minor as f64;
    if total > (i64::MAX / 4) as f64 {
        return Err(here(
            "max",
            format!(
                "up to {:.0} payments of up to {} could overflow the ledger's 64-bit totals",
                payments_bound(f, s),
                max.to_decimal()
            ),
        ));
    }
    Ok(())
}

fn check_amounts(flow: &str, f: &FlowSpec, s: &Scenario) -> Check {
    let amounts = &f.amounts;
    let path = ["flows", flow, "amounts"];
    let currency_shares: Vec<f64> = amounts.iter().map(|a| a.share_pct).collect();
    shares(&path, &currency_shares, 3)?;
    for (i, a) in amounts.iter().enumerate() {
        let here = |k: &str, message: String| Invalid {
            path: vec![
                Step::Key("flows".into()),
                Step::Key(flow.into()),
                Step::Key("amounts".into()),
                Step::Index(i),
                Step::Key(k.into()),
            ],
            message,
        };
        let allowed = amount_currencies(flow);
        let Some(c) = currency(&a.currency).filter(|c| allowed.contains(c)) else {
            let names: Vec<&str> = allowed.iter().map(|c| c.alpha()).collect();
            return Err(here(
                "currency",
                format!("{:?}: {flow} amounts are in {}", a.currency, names.join(" or ")),
            ));
        };
        let (min, max) = (Money::parse(&a.min, c), Money::parse(&a.max, c));
        let (Ok(min), Ok(max)) = (min, max) else {
            return Err(here(
                "min",
                format!(
                    "min and max must be {} amounts with at most {} decimals",
                    c.alpha(),
                    c.exponent()
                ),
            ));
        };
        if min.minor <= 0 || max.minor < min.minor {
            return Err(here("max", format!("need 0 < min ≤ max, have {} and {}", a.min, a.max)));
        }
        check_amount_range(flow, f, s, (c, min.minor, max.minor), &|k, m| here(k, m))?;
        if !a.round_to.is_empty() {
            let steps: Vec<f64> = a.round_to.iter().map(|r| r.1).collect();
            if let Err(e) = shares(&[], &steps, 16) {
                return Err(here("round_to", e.message));
            }
            if let Some(Two(step, _)) = a.round_to.iter().find(|r| r.0 <= 0 || r.0 > max.minor) {
                return Err(here(
                    "round_to",
                    format!("step {step} must be positive and at most max"),
                ));
            }
        }
        let comp: Vec<f64> = a.components.iter().map(|c| c.share_pct).collect();
        if let Err(e) = shares(&[], &comp, 16) {
            return Err(here("components", e.message));
        }
        if let Some(bad) = a
            .components
            .iter()
            .find(|c| !(c.median > 0.0 && c.median.is_finite() && (0.0..=4.0).contains(&c.sigma)))
        {
            return Err(here(
                "components",
                format!("component {:?}: median must be positive and sigma 0 to 4", bad.name),
            ));
        }
    }
    Ok(())
}

fn check_failures(flow: &str, f: &FlowSpec) -> Check {
    let r = &f.failures_pct;
    let all = [
        ("insufficient_balance", r.insufficient_balance),
        ("pin_failure", r.pin_failure),
        ("limit_exceeded", r.limit_exceeded),
        ("risk_decline", r.risk_decline),
        ("issuer_unavailable", r.issuer_unavailable),
        ("switch_error", r.switch_error),
        ("acquirer_error", r.acquirer_error),
        ("merchant_invalid", r.merchant_invalid),
        ("expired_qr", r.expired_qr),
        ("malformed_qr", r.malformed_qr),
        ("late_approval", r.late_approval),
    ];
    for (key, v) in all {
        pct(&["flows", flow, "failures_pct", key], v)?;
    }
    let originator: f64 =
        all[..5].iter().map(|(_, v)| v).sum::<f64>() + r.expired_qr + r.malformed_qr;
    if originator > 100.0 {
        return Err(at(
            &["flows", flow, "failures_pct"],
            format!("payer-side classes sum to {originator} %, above 100 %"),
        ));
    }
    Ok(())
}

fn check_windows(s: &Scenario) -> Check {
    let names: Vec<&str> =
        nodes(s).iter().map(|n| n.0).chain(links(s).iter().map(|l| l.0)).collect();
    if s.windows.len() > WINDOWS_MAX {
        return Err(at(&["windows"], format!("at most {WINDOWS_MAX} windows")));
    }
    for (i, w) in s.windows.iter().enumerate() {
        let here = |k: &str, message: String| Invalid {
            path: vec![Step::Key("windows".into()), Step::Index(i), Step::Key(k.into())],
            message,
        };
        match (instant(&w.from), instant(&w.to)) {
            (Some(from), Some(to)) if from < to => {}
            _ => {
                return Err(here("to", format!("from and to {INSTANT_RULE}, from before to")));
            }
        }
        if let Some(t) = w.targets.iter().find(|t| !names.contains(&t.as_str())) {
            return Err(here(
                "targets",
                format!("{t:?} is not a node or link; known: {}", names.join(", ")),
            ));
        }
        if !(w.latency_median_x > 0.0 && w.latency_median_x <= 100.0) {
            return Err(here("latency_median_x", "must be above 0 and at most 100".into()));
        }
        if !(w.latency_p99_x >= w.latency_median_x && w.latency_p99_x <= 100.0) {
            return Err(here(
                "latency_p99_x",
                "must be at least latency_median_x and at most 100".into(),
            ));
        }
        if !(0.0..=1000.0).contains(&w.error_x) {
            return Err(here("error_x", "must be 0 to 1000".into()));
        }
        if w.crash
            && let Some(t) = w.targets.iter().find(|t| !nodes(s).iter().any(|n| n.0 == t.as_str()))
        {
            return Err(here("targets", format!("{t:?} is a link; a crash window targets nodes")));
        }
        for (key, v) in [
            ("loss_pct", w.loss_pct),
            ("late_approval_pct", w.late_approval_pct),
            ("duplicate_pct", w.duplicate_pct),
        ] {
            if let Some(v) = v
                && !(0.0..=100.0).contains(&v)
            {
                return Err(here(key, format!("{v} is not a percentage between 0 and 100")));
            }
        }
    }
    Ok(())
}

fn check_slos(s: &Scenario) -> Check {
    let present: Vec<&str> = flows(s).iter().map(|f| f.0).collect();
    for (i, slo) in s.slo.iter().enumerate() {
        let here = |k: &str, message: String| Invalid {
            path: vec![Step::Key("slo".into()), Step::Index(i), Step::Key(k.into())],
            message,
        };
        let Some(metric) = SloMetric::from_name(&slo.metric) else {
            let names: Vec<&str> = SloMetric::ALL.iter().map(|m| m.name()).collect();
            return Err(here(
                "metric",
                format!("{:?} is not one of {}", slo.metric, names.join(", ")),
            ));
        };
        let per_flow = metric.per_flow();
        match (&slo.flow, per_flow) {
            (None, true) => return Err(here("metric", "this metric needs a flow".into())),
            (Some(f), true) if !present.contains(&f.as_str()) => {
                return Err(here(
                    "flow",
                    format!("{f:?} is not a flow with traffic in this scenario"),
                ));
            }
            _ => {}
        }
        if slo.max.is_none() == slo.min.is_none() {
            return Err(here("name", "needs exactly one of max and min".into()));
        }
        for (key, bound) in [("max", slo.max), ("min", slo.min)] {
            if let Some(v) = bound
                && !v.is_finite()
            {
                return Err(here(key, format!("{v} is not a finite threshold")));
            }
        }
    }
    Ok(())
}
