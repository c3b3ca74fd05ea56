//! Business days, cut-offs, netting cycles and multilateral net settlement.
//!
//! Two clocks meet here. Bakong nets its participants' obligations per currency at cycle
//! cut-offs in the Phnom Penh day (12:00, 16:30 and end of day by default), on Cambodian
//! business days; a payment on a holiday or weekend settles in the next business day's first
//! cycle. UnionPay's business day is the Beijing natural day, which ends at 23:00 in Phnom Penh,
//! and its value dates skip Chinese weekends and holidays (the Spring Festival week among them).
//!
//! Net positions sum to zero in every currency: [`net_positions`] asserts it when it computes
//! them, and [`NetPositions::check`] lets a writer check it again before the figures leave.
//! [`settlement_commands`] turns positions into one linked ledger chain per currency through the
//! settlement agent's transit account, which therefore ends each cycle at zero.
//!
//! A member bank's liquidity through a cycle (what it may owe, owes and has reserved) is
//! [`liquidity::Liquidity`].
//!
//! UPI and NBC settle each UnionPay business day net in USD on the next Chinese business day
//! ([`scheme_settlement`]); fees such as the merchant discount are booked as their own entries
//! ([`Fee`]); `settlement.csv` is written by [`write_settlement_csv`], which checks the zero sum
//! again first.

pub mod liquidity;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use super::csv_text::CsvText;
use super::fx::{Pair, RateBook};
use super::ledger::{AccountId, Command, Transfer, TransferId};
use super::money::{Currency, Money};
use super::party::ParticipantId;
use super::time::{Date, Timestamp, Zone};

/// The most consecutive non-business days a calendar may have (a long holiday plus weekends).
pub const NON_BUSINESS_DAYS_MAX: usize = 31;
/// The most netting cycles in a day.
pub const CYCLES_PER_DAY_MAX: usize = 24;

/// Bad settlement configuration (from a scenario): what and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettlementConfigError {
    /// A cut-off outside the day: hours 0–24, minutes 0–59, and after 00:00.
    #[error("cut-off {hour:02}:{minute:02} is outside the day (00:01 to 24:00)")]
    CutoffOutsideDay {
        /// Hour given.
        hour: u8,
        /// Minute given.
        minute: u8,
    },
    /// Cut-offs must rise through the day.
    #[error("cut-off {hour:02}:{minute:02} is not after the one before it")]
    CutoffsNotIncreasing {
        /// Hour given.
        hour: u8,
        /// Minute given.
        minute: u8,
    },
    /// No cut-off, or more than [`CYCLES_PER_DAY_MAX`].
    #[error("a day needs 1 to {CYCLES_PER_DAY_MAX} netting cycles, not {0}")]
    CycleCount(usize),
    /// More than [`NON_BUSINESS_DAYS_MAX`] non-business days in a row.
    #[error("more than {NON_BUSINESS_DAYS_MAX} non-business days in a row from {0}")]
    TooManyHolidays(Date),
}

/// Business days in one jurisdiction: not a weekend, not a listed holiday.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    zone: Zone,
    holidays: BTreeSet<Date>,
}

impl Calendar {
    /// A calendar in `zone` with these holidays.
    ///
    /// # Errors
    /// [`SettlementConfigError::TooManyHolidays`] when holidays and weekends leave more than
    /// [`NON_BUSINESS_DAYS_MAX`] days in a row without a business day.
    pub fn new(
        zone: Zone,
        holidays: impl IntoIterator<Item = Date>,
    ) -> Result<Self, SettlementConfigError> {
        let calendar = Calendar { zone, holidays: holidays.into_iter().collect() };
        for &holiday in &calendar.holidays {
            let mut day = holiday;
            let mut run = 0;
            while !calendar.is_business_day(day) {
                run += 1;
                if run > NON_BUSINESS_DAYS_MAX {
                    return Err(SettlementConfigError::TooManyHolidays(holiday));
                }
                day = day.succ();
            }
        }
        Ok(calendar)
    }

    /// The time zone whose dates this calendar speaks of.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// Whether `date` is a business day.
    pub fn is_business_day(&self, date: Date) -> bool {
        !date.is_weekend() && !self.holidays.contains(&date)
    }

    /// `date` if it is a business day, else the next one.
    pub fn business_day_on_or_after(&self, date: Date) -> Date {
        let mut day = date;
        for _ in 0..=NON_BUSINESS_DAYS_MAX {
            if self.is_business_day(day) {
                return day;
            }
            day = day.succ();
        }
        unreachable!("Calendar::new bounds runs of non-business days")
    }

    /// The `n`th business day after `date` (`n` = 1 is T+1).
    pub fn business_days_after(&self, date: Date, n: u32) -> Date {
        let mut day = date;
        for _ in 0..n {
            day = self.business_day_on_or_after(day.succ());
        }
        day
    }
}

/// The UnionPay business date of an instant: the Beijing natural day, which turns over at
/// 23:00 Phnom Penh time.
pub fn beijing_business_date(at: Timestamp) -> Date {
    at.date_at(Zone::BEIJING)
}

/// When a netting cycle closes: a wall-clock time in the settlement day, `24:00` being its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cutoff {
    /// Hour, 0–24 (24 only with minute 0).
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

impl Cutoff {
    fn minutes(self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }
}

/// A cycle: the settlement date and which of its cycles (0 = first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CycleId {
    /// The business date it settles on.
    pub date: Date,
    /// Its position in the day's cycles.
    pub index: u8,
}

/// Bakong's netting cycles: cut-offs in the settlement calendar's day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NettingSchedule {
    cutoffs: Vec<Cutoff>,
}

impl NettingSchedule {
    /// Cycles closing at these cut-offs, which must rise through the day (00:01 to 24:00).
    ///
    /// # Errors
    /// [`SettlementConfigError`] saying which cut-off is wrong.
    pub fn new(cutoffs: &[Cutoff]) -> Result<Self, SettlementConfigError> {
        if cutoffs.is_empty() || cutoffs.len() > CYCLES_PER_DAY_MAX {
            return Err(SettlementConfigError::CycleCount(cutoffs.len()));
        }
        let mut previous = 0;
        for &c in cutoffs {
            let valid = c.minute < 60
                && (c.hour < 24 || (c.hour == 24 && c.minute == 0))
                && c.minutes() > 0;
            if !valid {
                return Err(SettlementConfigError::CutoffOutsideDay {
                    hour: c.hour,
                    minute: c.minute,
                });
            }
            if c.minutes() <= previous {
                return Err(SettlementConfigError::CutoffsNotIncreasing {
                    hour: c.hour,
                    minute: c.minute,
                });
            }
            previous = c.minutes();
        }
        Ok(NettingSchedule { cutoffs: cutoffs.to_vec() })
    }

    /// Bakong's default: 12:00, 16:30 and end of day.
    pub fn bakong_default() -> Self {
        let cutoffs = [
            Cutoff { hour: 12, minute: 0 },
            Cutoff { hour: 16, minute: 30 },
            Cutoff { hour: 24, minute: 0 },
        ];
        NettingSchedule::new(&cutoffs).expect("valid default")
    }

    /// The cut-offs.
    pub fn cutoffs(&self) -> &[Cutoff] {
        &self.cutoffs
    }

    /// The cycle an obligation made at `at` settles in. An obligation exactly at a cut-off
    /// belongs to the next cycle. On a non-business day it settles in the next business day's
    /// first cycle; after the last cut-off, in the next business day's first cycle.
    pub fn cycle_of(&self, at: Timestamp, calendar: &Calendar) -> CycleId {
        let zone = calendar.zone();
        let date = at.date_at(zone);
        let midnight = Timestamp::at_local(date, 0, 0, zone);
        let minute_of_day = at.saturating_since(midnight).as_nanos() / 60_000_000_000;
        let index = self.cutoffs.iter().position(|c| u64::from(c.minutes()) > minute_of_day);
        match index {
            Some(i) if calendar.is_business_day(date) => CycleId { date, index: i as u8 },
            _ => CycleId { date: calendar.business_day_on_or_after(date.succ()), index: 0 },
        }
    }

    /// The instant a cycle closes.
    pub fn closes_at(&self, cycle: CycleId, zone: Zone) -> Timestamp {
        let cutoff = self.cutoffs[usize::from(cycle.index)];
        if cutoff.hour == 24 {
            Timestamp::at_local(cycle.date.succ(), 0, 0, zone)
        } else {
            Timestamp::at_local(cycle.date, cutoff.hour, cutoff.minute, zone)
        }
    }
}

/// One participant owing another an amount, to be netted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obligation {
    /// Who pays.
    pub payer: ParticipantId,
    /// Who is paid.
    pub payee: ParticipantId,
    /// How much; positive.
    pub amount: Money,
}

/// Why netting failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NettingError {
    /// A position left the i64 range.
    #[error("a net position overflows")]
    Overflow,
    /// An obligation with a zero or negative amount.
    #[error("obligation {index} has a non-positive amount")]
    AmountNotPositive {
        /// Its position in the input.
        index: usize,
    },
}

/// Net positions of one cycle: per participant and currency, positive = receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetPositions {
    /// The cycle.
    pub cycle: CycleId,
    positions: BTreeMap<(ParticipantId, Currency), i64>,
    obligations_count: usize,
}

/// A currency whose positions do not sum to zero: always a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{currency} net positions sum to {sum}, not zero")]
pub struct UnbalancedPositions {
    /// The currency.
    pub currency: Currency,
    /// What they sum to.
    pub sum: i128,
}

/// Nets the obligations of one cycle into positions.
///
/// # Errors
/// [`NettingError`] for a non-positive amount or an overflow.
///
/// # Panics
/// If the positions do not sum to zero per currency (a bug in netting itself).
pub fn net_positions<'o>(
    cycle: CycleId,
    obligations: impl IntoIterator<Item = &'o Obligation>,
) -> Result<NetPositions, NettingError> {
    let mut positions: BTreeMap<(ParticipantId, Currency), i64> = BTreeMap::new();
    let mut count = 0;
    for (index, o) in obligations.into_iter().enumerate() {
        if o.amount.minor <= 0 {
            return Err(NettingError::AmountNotPositive { index });
        }
        let currency = o.amount.currency;
        let payer = positions.entry((o.payer, currency)).or_insert(0);
        *payer = payer.checked_sub(o.amount.minor).ok_or(NettingError::Overflow)?;
        let payee = positions.entry((o.payee, currency)).or_insert(0);
        *payee = payee.checked_add(o.amount.minor).ok_or(NettingError::Overflow)?;
        count += 1;
    }
    let net = NetPositions { cycle, positions, obligations_count: count };
    if let Err(breach) = net.check() {
        panic!("netting broke conservation: {breach}");
    }
    Ok(net)
}

impl NetPositions {
    /// Checks that positions sum to zero in every currency (again, e.g. before writing them).
    ///
    /// # Errors
    /// [`UnbalancedPositions`] naming the currency.
    pub fn check(&self) -> Result<(), UnbalancedPositions> {
        let mut sums = [0i128; Currency::ALL.len()];
        for (&(_, currency), &position) in &self.positions {
            sums[currency.index()] += i128::from(position);
        }
        match Currency::ALL.into_iter().find(|c| sums[c.index()] != 0) {
            Some(currency) => Err(UnbalancedPositions { currency, sum: sums[currency.index()] }),
            None => Ok(()),
        }
    }

    /// Every position, ordered by participant then currency (zero positions included).
    pub fn iter(&self) -> impl Iterator<Item = (ParticipantId, Money)> + '_ {
        self.positions.iter().map(|(&(p, c), &minor)| (p, Money::new(c, minor)))
    }

    /// One participant's position in one currency (zero when it had no obligation).
    pub fn position(&self, participant: ParticipantId, currency: Currency) -> Money {
        Money::new(currency, self.positions.get(&(participant, currency)).copied().unwrap_or(0))
    }

    /// How many obligations were netted.
    pub fn obligations_count(&self) -> usize {
        self.obligations_count
    }

    /// The total paid in by net payers in a currency (equal to the total paid out).
    pub fn gross_settled(&self, currency: Currency) -> Money {
        let paid: i64 = self
            .iter()
            .filter(|(_, m)| m.currency == currency && m.minor < 0)
            .map(|(_, m)| -m.minor)
            .sum();
        Money::new(currency, paid)
    }
}

/// The ledger accounts settlement moves money between.
pub trait SettlementAccounts {
    /// A participant's settlement account in a currency.
    fn settlement_account(
        &self,
        participant: ParticipantId,
        currency: Currency,
    ) -> Option<AccountId>;
    /// The settlement agent's transit account in a currency.
    fn transit_account(&self, currency: Currency) -> Option<AccountId>;
}

/// A participant or currency without a settlement account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MissingAccount {
    /// A participant has no settlement account in the currency.
    #[error("participant {0} has no {1} settlement account")]
    Settlement(ParticipantId, Currency),
    /// The settlement agent has no transit account in the currency.
    #[error("no {0} transit account")]
    Transit(Currency),
}

/// The ledger commands that settle `positions`: per currency, one linked chain in which every
/// net payer's settlement account pays the transit account and the transit account pays every
/// net receiver, so the transit account ends at zero. Ids count up from `first_id`; each chain
/// is returned with its currency, in currency order.
///
/// # Errors
/// [`MissingAccount`] for a participant or currency without an account.
pub fn settlement_commands(
    positions: &NetPositions,
    accounts: &impl SettlementAccounts,
    first_id: TransferId,
    reference: u64,
) -> Result<Vec<(Currency, Vec<Command>)>, MissingAccount> {
    positions.check().expect("positions were checked when netted");
    let mut next_id = first_id.0;
    let mut chains = Vec::new();
    for currency in Currency::ALL {
        let transit = accounts.transit_account(currency).ok_or(MissingAccount::Transit(currency));
        let mut chain = Vec::new();
        for (participant, money) in
            positions.iter().filter(|(_, m)| m.currency == currency && m.minor != 0)
        {
            let transit = transit?;
            let own = accounts
                .settlement_account(participant, currency)
                .ok_or(MissingAccount::Settlement(participant, currency))?;
            // A receiver (positive) is paid by the transit account; a payer pays into it.
            let t = Transfer::posted_signed(TransferId(next_id), transit, own, money, reference);
            chain.push(Command::Transfer(t.expect("zero positions are skipped")));
            next_id += 1;
        }
        if !chain.is_empty() {
            // Payers first, so that the transit account never goes below zero mid-chain.
            chain.sort_by_key(|c| match c {
                Command::Transfer(t) => (t.credit != transit.expect("checked"), t.id),
                _ => unreachable!("only transfers"),
            });
            chains.push((currency, chain));
        }
    }
    Ok(chains)
}

/// The UPI ⇄ NBC settlement of one UnionPay business day: net, in USD, on the next Chinese
/// business day at 15:00 Beijing, at the UPI rate in force then (published at 11:00 that day,
/// or the last one before it over weekends and holidays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeSettlement {
    /// The UnionPay business day settled.
    pub trade_date: Date,
    /// The value date: T+1 Chinese business day.
    pub value_date: Date,
    /// 15:00 Beijing on the value date.
    pub value_at: Timestamp,
    /// Per currency: (what UPI owes NBC, what NBC owes UPI, the rate to USD used).
    pub legs: Vec<(Currency, i64, i64, Decimal)>,
    /// The net in USD: positive when UPI pays NBC.
    pub net_usd: Money,
}

/// Why a scheme settlement could not be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemeSettlementError {
    /// No UPI rate to USD is in force for a currency at the value time.
    #[error("no UPI rate from {0} to USD at the value time")]
    RateUnavailable(Currency),
    /// An amount overflowed.
    #[error("settlement amount overflow")]
    Overflow,
}

/// Computes the UPI ⇄ NBC settlement of `trade_date` from what each side owes, per currency,
/// converting each currency's net to USD at the UPI rate and rounding half away from zero (the
/// rounding a scheme applies at posting; see docs/fx-policy.md).
///
/// # Errors
/// [`SchemeSettlementError`].
pub fn scheme_settlement(
    trade_date: Date,
    owed_to_nbc: &[Money],
    owed_to_upi: &[Money],
    china: &Calendar,
    rates: &RateBook,
) -> Result<SchemeSettlement, SchemeSettlementError> {
    let value_date = china.business_days_after(trade_date, 1);
    let value_at = Timestamp::at_local(value_date, 15, 0, Zone::BEIJING);
    let mut legs = Vec::new();
    let mut net = Decimal::ZERO;
    for currency in Currency::ALL {
        let sum = |side: &[Money]| -> Result<i64, SchemeSettlementError> {
            side.iter().filter(|m| m.currency == currency).try_fold(0i64, |acc, m| {
                acc.checked_add(m.minor).ok_or(SchemeSettlementError::Overflow)
            })
        };
        let (to_nbc, to_upi) = (sum(owed_to_nbc)?, sum(owed_to_upi)?);
        if to_nbc == 0 && to_upi == 0 {
            continue;
        }
        let rate = rates
            .scheme_rate(Pair::new(currency, Currency::Usd), value_at)
            .ok_or(SchemeSettlementError::RateUnavailable(currency))?;
        let leg_net = Money::new(
            currency,
            to_nbc.checked_sub(to_upi).ok_or(SchemeSettlementError::Overflow)?,
        );
        net = leg_net
            .to_decimal()
            .checked_mul(rate)
            .and_then(|usd| net.checked_add(usd))
            .ok_or(SchemeSettlementError::Overflow)?;
        legs.push((currency, to_nbc, to_upi, rate));
    }
    let net_usd = Money::from_decimal(net, Currency::Usd, RoundingStrategy::MidpointAwayFromZero)
        .map_err(|_| SchemeSettlementError::Overflow)?;
    Ok(SchemeSettlement { trade_date, value_date, value_at, legs, net_usd })
}

/// The ledger command that settles a scheme settlement between UPI's and NBC's USD settlement
/// accounts (none when the net is zero).
pub fn scheme_settlement_command(
    s: &SchemeSettlement,
    upi_usd: AccountId,
    nbc_usd: AccountId,
    id: TransferId,
    reference: u64,
) -> Option<Command> {
    Transfer::posted_signed(id, upi_usd, nbc_usd, s.net_usd, reference).map(Command::Transfer)
}

/// A fee in basis points of an amount: a merchant discount, a scheme fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fee {
    /// Basis points of the amount.
    pub bps: u32,
}

impl Fee {
    /// The fee on `amount`, rounded half away from zero to the minor unit.
    ///
    /// # Errors
    /// [`crate::payments::money::MoneyError::Overflow`].
    pub fn on(self, amount: Money) -> Result<Money, super::money::MoneyError> {
        let fee = amount.to_decimal() * Decimal::new(i64::from(self.bps), 4);
        Money::from_decimal(fee, amount.currency, RoundingStrategy::MidpointAwayFromZero)
    }

    /// The command that books the fee on `amount` as its own entry: `payer` → `fee_income`
    /// (none when the fee rounds to zero).
    ///
    /// # Errors
    /// As [`Fee::on`].
    pub fn command(
        self,
        amount: Money,
        payer: AccountId,
        fee_income: AccountId,
        id: TransferId,
        reference: u64,
    ) -> Result<Option<Command>, super::money::MoneyError> {
        let fee = self.on(amount)?;
        Ok((fee.minor > 0)
            .then(|| Command::Transfer(Transfer::posted(id, payer, fee_income, fee, reference))))
    }
}

/// A cycle's settlement chain in one currency that the ledger refused (a member bank short of
/// prefunding, say): nothing of it was applied, and its positions stay owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlementRefusal {
    /// The cycle.
    pub cycle: CycleId,
    /// The chain's currency.
    pub currency: Currency,
    /// Which command of the chain failed first.
    pub command_index: usize,
    /// Why.
    pub reject: super::ledger::TransferReject,
}

impl fmt::Display for SettlementRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cycle {} {}: command {} refused: {}",
            self.cycle.date,
            self.cycle.index,
            self.currency,
            self.command_index,
            self.reject.name()
        )
    }
}

/// The columns of `settlement.csv`.
pub const SETTLEMENT_COLUMNS: [&str; 6] =
    ["date", "cycle", "participant", "currency", "net_minor", "status"];

/// Writes `settlement.csv`: every position of every batch with whether its chain settled or
/// was refused (`refused:<reason>`), checking again that each batch sums to zero per currency
/// before a single row leaves.
///
/// # Errors
/// [`UnbalancedPositions`] for the first batch that does not balance; nothing is written then.
pub fn write_settlement_csv(
    batches: &[NetPositions],
    refused: &[SettlementRefusal],
) -> Result<String, UnbalancedPositions> {
    for batch in batches {
        batch.check()?;
    }
    let mut w = CsvText::new(SETTLEMENT_COLUMNS);
    for batch in batches {
        for (participant, money) in batch.iter() {
            let refusal =
                refused.iter().find(|r| r.cycle == batch.cycle && r.currency == money.currency);
            let row = [
                batch.cycle.date.to_string(),
                batch.cycle.index.to_string(),
                participant.0.to_string(),
                money.currency.alpha().to_owned(),
                money.minor.to_string(),
                refusal
                    .map_or_else(|| "settled".into(), |r| format!("refused:{}", r.reject.name())),
            ];
            w.row(&row);
        }
    }
    Ok(w.finish())
}
