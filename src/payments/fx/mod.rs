//! Foreign exchange: a rate book, quotes, and conversions with named rounding.
//!
//! Rates are exact decimals ([`Decimal`]), never floats. A [`RateBook`] holds, per currency pair,
//! the mid rate as it steps over time and the scheme's published rates (UPI publishes at 11:00
//! Beijing on business days; between publications, over weekends and holidays, the last one
//! stays in force). Rates the book derives (an inverse, or a cross through USD) are rounded to
//! [`RATE_DECIMALS`] decimals, half to even.
//!
//! A payment locks an [`FxQuote`]: the rate, the markup in basis points, and a validity window.
//! Converting with an expired quote is a rejection. A [`Conversion`] splits what the payer pays
//! into the amount exchanged at the quote's rate and the spread, so the ledger can book the
//! spread as its own entry; its [`RoundingRule`] says which way each amount was rounded. The
//! policy (the provider keeps every fraction) is written in `docs/fx-policy.md`.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::money::{Currency, Money};
use super::party::{Flow, ParticipantId};
use super::time::{Date, Span, Timestamp, Zone};

/// Decimals kept for rates the book derives (inverses and crosses): 12, so that even KHR→CNY
/// (about 0.0017) keeps ten significant digits.
pub const RATE_DECIMALS: u32 = 12;
/// The largest markup, in basis points (100 %).
pub const MARKUP_BPS_MAX: u32 = 10_000;
/// The most rate steps or publications kept per pair, so a long run cannot grow without bound.
pub const RATE_STEPS_PER_PAIR_MAX: usize = 1 << 20;

/// The price of one unit of `base`, in units of `quote` (USD/KHR 4025: one dollar is 4025 riel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    /// The currency priced.
    pub base: Currency,
    /// The currency it is priced in.
    pub quote: Currency,
}

impl Pair {
    /// `base/quote`.
    pub const fn new(base: Currency, quote: Currency) -> Self {
        Pair { base, quote }
    }
}

/// Which rate series a quote uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateSource {
    /// The market mid rate.
    Mid,
    /// The scheme's published rate (UPI).
    Scheme,
}

/// Bad rate input: these are errors in what the caller (a scenario) supplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// A rate must be positive.
    #[error("rate for {base}/{quote} must be positive")]
    NotPositive {
        /// The pair's base.
        base: Currency,
        /// The pair's quote.
        quote: Currency,
    },
    /// A pair of one currency with itself.
    #[error("{0}/{0} is not a currency pair")]
    SameCurrency(Currency),
    /// Steps for a pair must come in time order.
    #[error("rate for {base}/{quote} at {at} is earlier than the previous step")]
    OutOfOrder {
        /// The pair's base.
        base: Currency,
        /// The pair's quote.
        quote: Currency,
        /// The instant given.
        at: Timestamp,
    },
    /// A shock applied to a pair that has no mid rate yet.
    #[error("no mid rate for {base}/{quote} to move")]
    NoRate {
        /// The pair's base.
        base: Currency,
        /// The pair's quote.
        quote: Currency,
    },
    /// More than [`RATE_STEPS_PER_PAIR_MAX`] steps for one pair.
    #[error("more than {RATE_STEPS_PER_PAIR_MAX} rate steps for one pair")]
    TooManySteps,
    /// A markup above [`MARKUP_BPS_MAX`].
    #[error("markup of {0} bps is above 100 %")]
    MarkupTooLarge(u32),
}

/// Why an FX operation was refused. Checked in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FxReject {
    /// Converting a currency into itself.
    SameCurrency,
    /// The amount is not in the currency the quote expects on that side.
    CurrencyMismatch,
    /// The amount is zero or negative.
    AmountNotPositive,
    /// No rate is in force for the pair at that time.
    RateUnavailable,
    /// The quote's validity has ended.
    QuoteExpired,
    /// The result does not fit the amount or decimal range.
    AmountOverflow,
}

/// How each amount of a conversion is rounded to its minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundingRule {
    /// What the payer pays at the rate, when the payee's amount is fixed.
    pub payer_amount: RoundingStrategy,
    /// What the payee receives, when the payer's amount is fixed.
    pub payee_amount: RoundingStrategy,
    /// The spread.
    pub spread: RoundingStrategy,
}

impl RoundingRule {
    /// The provider keeps every fraction: the payer's amount and the spread round up, the
    /// payee's amount rounds down. Our default; see docs/fx-policy.md.
    pub const TOWARD_PROVIDER: RoundingRule = RoundingRule {
        payer_amount: RoundingStrategy::AwayFromZero,
        payee_amount: RoundingStrategy::ToZero,
        spread: RoundingStrategy::AwayFromZero,
    };

    /// Every amount rounds half away from zero (half-up), as a scheme may do at posting.
    pub const HALF_UP: RoundingRule = RoundingRule {
        payer_amount: RoundingStrategy::MidpointAwayFromZero,
        payee_amount: RoundingStrategy::MidpointAwayFromZero,
        spread: RoundingStrategy::MidpointAwayFromZero,
    };
}

/// A quote's identifier, unique within a rate book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuoteId(pub u64);

/// A locked rate: convert `from` into `to` at `rate` (`to` units per one `from` unit), with a
/// markup, until `valid_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FxQuote {
    /// Its identifier.
    pub id: QuoteId,
    /// The currency the payer pays.
    pub from: Currency,
    /// The currency the payee receives.
    pub to: Currency,
    /// `to` units per one `from` unit, before the markup.
    pub rate: Decimal,
    /// The provider's markup on the amount exchanged, in basis points.
    pub markup_bps: u32,
    /// The rate series it came from.
    pub source: RateSource,
    /// How the conversion's amounts are rounded.
    pub rounding: RoundingRule,
    /// When it was given.
    pub created_at: Timestamp,
    /// The last instant at which it may be used.
    pub valid_until: Timestamp,
}

/// The amounts of one conversion: the payer pays `exchanged + spread` in `from`; the payee
/// receives `received` in `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The quote used.
    pub quote: QuoteId,
    /// The part of the payer's amount exchanged at the quote's rate.
    pub exchanged: Money,
    /// The provider's spread, in the payer's currency (booked as its own entry).
    pub spread: Money,
    /// What the payee receives.
    pub received: Money,
}

impl Conversion {
    /// What the payer pays in all.
    pub fn paid(&self) -> Money {
        self.exchanged.checked_add(self.spread).expect("checked when the conversion was made")
    }
}

/// A request for a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteRequest {
    /// The currency the payer pays.
    pub from: Currency,
    /// The currency the payee receives.
    pub to: Currency,
    /// Mid or scheme rate.
    pub source: RateSource,
    /// The participant whose markup applies.
    pub participant: ParticipantId,
    /// The flow whose markup applies.
    pub flow: Flow,
    /// How to round.
    pub rounding: RoundingRule,
    /// When.
    pub now: Timestamp,
    /// How long the quote stays valid.
    pub ttl: Span,
}

/// Mid rates and scheme rates over time, and markups per participant and flow.
#[derive(Clone, Debug, Default)]
pub struct RateBook {
    mids: BTreeMap<Pair, Vec<(Timestamp, Decimal)>>,
    scheme: BTreeMap<Pair, Vec<(Timestamp, Decimal)>>,
    markups: BTreeMap<(ParticipantId, Flow), u32>,
    quotes_issued_count: u64,
}

fn push_step(
    table: &mut BTreeMap<Pair, Vec<(Timestamp, Decimal)>>,
    pair: Pair,
    at: Timestamp,
    rate: Decimal,
) -> Result<(), RateError> {
    if pair.base == pair.quote {
        return Err(RateError::SameCurrency(pair.base));
    }
    if rate <= Decimal::ZERO {
        return Err(RateError::NotPositive { base: pair.base, quote: pair.quote });
    }
    let steps = table.entry(pair).or_default();
    if steps.last().is_some_and(|&(last, _)| at < last) {
        return Err(RateError::OutOfOrder { base: pair.base, quote: pair.quote, at });
    }
    if steps.len() == RATE_STEPS_PER_PAIR_MAX {
        return Err(RateError::TooManySteps);
    }
    steps.push((at, rate));
    Ok(())
}

/// The rate in force at `at` in one series: the last step at or before `at`.
fn step_at(steps: &[(Timestamp, Decimal)], at: Timestamp) -> Option<Decimal> {
    let after = steps.partition_point(|&(t, _)| t <= at);
    after.checked_sub(1).map(|i| steps[i].1)
}

/// The rate of `pair` at `at` in a table: stored directly, as the inverse of a stored pair, or
/// as a cross through USD.
fn rate_in(
    table: &BTreeMap<Pair, Vec<(Timestamp, Decimal)>>,
    pair: Pair,
    at: Timestamp,
) -> Option<Decimal> {
    if pair.base == pair.quote {
        return Some(Decimal::ONE);
    }
    let direct = |p: Pair| table.get(&p).and_then(|steps| step_at(steps, at));
    if let Some(rate) = direct(pair) {
        return Some(rate);
    }
    if let Some(inverse) = direct(Pair::new(pair.quote, pair.base)) {
        return Decimal::ONE.checked_div(inverse).map(round_rate);
    }
    // Units of `c` per US dollar.
    let per_usd = |c: Currency| -> Option<Decimal> {
        if c == Currency::Usd {
            return Some(Decimal::ONE);
        }
        direct(Pair::new(Currency::Usd, c)).or_else(|| {
            direct(Pair::new(c, Currency::Usd)).and_then(|r| Decimal::ONE.checked_div(r))
        })
    };
    per_usd(pair.quote)?.checked_div(per_usd(pair.base)?).map(round_rate)
}

fn round_rate(rate: Decimal) -> Decimal {
    rate.round_dp_with_strategy(RATE_DECIMALS, RoundingStrategy::MidpointNearestEven)
}

impl RateBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the mid rate of `pair` from `at` on. Steps for a pair must come in time order.
    ///
    /// # Errors
    /// [`RateError`] for a non-positive rate, a same-currency pair, or a step out of order.
    pub fn set_mid(&mut self, pair: Pair, at: Timestamp, rate: Decimal) -> Result<(), RateError> {
        push_step(&mut self.mids, pair, at, rate)
    }

    /// Moves the mid rate of a stored `pair` by `shock_bps` basis points at `at`, clamped to
    /// `[floor, ceiling]`: one step of a bounded random walk whose draws the caller supplies.
    /// Returns the new rate.
    ///
    /// # Errors
    /// [`RateError`] as for [`RateBook::set_mid`], or [`RateError::NoRate`].
    pub fn shock_mid(
        &mut self,
        pair: Pair,
        at: Timestamp,
        shock_bps: i32,
        floor: Decimal,
        ceiling: Decimal,
    ) -> Result<Decimal, RateError> {
        let current = self.mids.get(&pair).and_then(|s| s.last()).map(|&(_, r)| r);
        let current = current.ok_or(RateError::NoRate { base: pair.base, quote: pair.quote })?;
        let factor = Decimal::ONE + Decimal::new(i64::from(shock_bps), 4);
        let moved = round_rate(current * factor).clamp(floor, ceiling);
        self.set_mid(pair, at, moved)?;
        Ok(moved)
    }

    /// Records a scheme rate for `pair`, in force from `effective_at` until the next one.
    ///
    /// # Errors
    /// [`RateError`] as for [`RateBook::set_mid`].
    pub fn publish_scheme(
        &mut self,
        pair: Pair,
        effective_at: Timestamp,
        rate: Decimal,
    ) -> Result<(), RateError> {
        push_step(&mut self.scheme, pair, effective_at, rate)
    }

    /// Sets a participant's markup for a flow.
    ///
    /// # Errors
    /// [`RateError::MarkupTooLarge`] above 100 %.
    pub fn set_markup(
        &mut self,
        participant: ParticipantId,
        flow: Flow,
        bps: u32,
    ) -> Result<(), RateError> {
        if bps > MARKUP_BPS_MAX {
            return Err(RateError::MarkupTooLarge(bps));
        }
        self.markups.insert((participant, flow), bps);
        Ok(())
    }

    /// A participant's markup for a flow (0 when none is set).
    pub fn markup(&self, participant: ParticipantId, flow: Flow) -> u32 {
        self.markups.get(&(participant, flow)).copied().unwrap_or(0)
    }

    /// The mid rate of `pair` at `at` (`quote` units per `base` unit).
    pub fn mid(&self, pair: Pair, at: Timestamp) -> Option<Decimal> {
        rate_in(&self.mids, pair, at)
    }

    /// The scheme rate of `pair` in force at `at`.
    pub fn scheme_rate(&self, pair: Pair, at: Timestamp) -> Option<Decimal> {
        rate_in(&self.scheme, pair, at)
    }

    /// Gives a quote: the rate in force now, the participant's markup for the flow, valid for `ttl`.
    ///
    /// # Errors
    /// [`FxReject::SameCurrency`], [`FxReject::RateUnavailable`], or [`FxReject::AmountOverflow`]
    /// when `now + ttl` is out of range.
    pub fn quote(&mut self, request: QuoteRequest) -> Result<FxQuote, FxReject> {
        if request.from == request.to {
            return Err(FxReject::SameCurrency);
        }
        let pair = Pair::new(request.from, request.to);
        let rate = match request.source {
            RateSource::Mid => self.mid(pair, request.now),
            RateSource::Scheme => self.scheme_rate(pair, request.now),
        };
        let rate = rate.ok_or(FxReject::RateUnavailable)?;
        let valid_until = request.now.checked_add(request.ttl).ok_or(FxReject::AmountOverflow)?;
        self.quotes_issued_count += 1;
        Ok(FxQuote {
            id: QuoteId(self.quotes_issued_count),
            from: request.from,
            to: request.to,
            rate,
            markup_bps: self.markup(request.participant, request.flow),
            source: request.source,
            rounding: request.rounding,
            created_at: request.now,
            valid_until,
        })
    }

    /// How many quotes this book has given.
    pub fn quotes_issued_count(&self) -> u64 {
        self.quotes_issued_count
    }
}

impl FxQuote {
    fn usable(&self, amount: Money, expected: Currency, now: Timestamp) -> Result<(), FxReject> {
        if amount.currency != expected {
            return Err(FxReject::CurrencyMismatch);
        }
        if amount.minor <= 0 {
            return Err(FxReject::AmountNotPositive);
        }
        if now > self.valid_until {
            return Err(FxReject::QuoteExpired);
        }
        Ok(())
    }

    fn spread_on(&self, exchanged: Money) -> Result<Money, FxReject> {
        let fraction = Decimal::new(i64::from(self.markup_bps), 4);
        let spread =
            exchanged.to_decimal().checked_mul(fraction).ok_or(FxReject::AmountOverflow)?;
        Money::from_decimal(spread, exchanged.currency, self.rounding.spread)
            .map_err(|_| FxReject::AmountOverflow)
    }

    /// Converts so that the payee receives exactly `received` (a merchant's CNY price): the payer
    /// pays `received / rate` rounded by `rounding.payer_amount`, plus the markup on that.
    ///
    /// # Errors
    /// [`FxReject`] in its order.
    pub fn convert_for_payee(
        &self,
        received: Money,
        now: Timestamp,
    ) -> Result<Conversion, FxReject> {
        self.usable(received, self.to, now)?;
        let exact = received.to_decimal().checked_div(self.rate).ok_or(FxReject::AmountOverflow)?;
        let exchanged = Money::from_decimal(exact, self.from, self.rounding.payer_amount)
            .map_err(|_| FxReject::AmountOverflow)?;
        let spread = self.spread_on(exchanged)?;
        exchanged.checked_add(spread).map_err(|_| FxReject::AmountOverflow)?;
        Ok(Conversion { quote: self.id, exchanged, spread, received })
    }

    /// Converts a fixed payer amount `paid` (a remittance): the markup comes off first, and the
    /// rest is exchanged at the rate, the payee's amount rounded by `rounding.payee_amount`.
    ///
    /// # Errors
    /// [`FxReject`] in its order.
    pub fn convert_from_payer(&self, paid: Money, now: Timestamp) -> Result<Conversion, FxReject> {
        self.usable(paid, self.from, now)?;
        let spread = self.spread_on(paid)?;
        let exchanged = paid.checked_sub(spread).map_err(|_| FxReject::AmountOverflow)?;
        let exact =
            exchanged.to_decimal().checked_mul(self.rate).ok_or(FxReject::AmountOverflow)?;
        let received = Money::from_decimal(exact, self.to, self.rounding.payee_amount)
            .map_err(|_| FxReject::AmountOverflow)?;
        Ok(Conversion { quote: self.id, exchanged, spread, received })
    }
}

/// The instants at which UPI's rates take effect between `first` and `last` (inclusive): 11:00
/// Beijing on each business day, skipping weekends and `holidays`. Between two of them the
/// earlier rate stays in force, which is how a Friday rate serves Saturday and Sunday.
pub fn scheme_publication_instants(first: Date, last: Date, holidays: &[Date]) -> Vec<Timestamp> {
    let mut instants = Vec::new();
    let mut day = first;
    while day <= last {
        if !day.is_weekend() && !holidays.contains(&day) {
            instants.push(Timestamp::at_local(day, 11, 0, Zone::BEIJING));
        }
        day = day.succ();
    }
    instants
}
