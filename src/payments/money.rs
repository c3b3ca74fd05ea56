//! Currencies and amounts in integer minor units.
//!
//! An amount never touches floating point: [`Money`] is a currency and a signed count of minor
//! units, and every arithmetic operation is checked (overflow is an error value, never a wrap).
//! Conversions from exact decimals name their rounding strategy at the call.
//!
//! Minor units as this system keeps them: USD cents and CNY fen (2 decimals), and whole riel for
//! KHR (0 decimals). ISO 4217 gives KHR 2 decimals, but sen are not in circulation, KHQR refuses
//! fractional riel, and banks post whole riel; a riel amount with a fraction is a bug here.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// A currency this network moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    /// Cambodian riel, ISO 4217 116.
    Khr,
    /// US dollar, ISO 4217 840.
    Usd,
    /// Chinese yuan renminbi, ISO 4217 156.
    Cny,
}

impl Currency {
    /// Every currency, in a fixed order (for per-currency loops that must be deterministic).
    pub const ALL: [Currency; 3] = [Currency::Khr, Currency::Usd, Currency::Cny];

    /// The ISO 4217 numeric code.
    pub fn numeric(self) -> u16 {
        match self {
            Currency::Khr => 116,
            Currency::Usd => 840,
            Currency::Cny => 156,
        }
    }

    /// The ISO 4217 alpha code.
    pub fn alpha(self) -> &'static str {
        match self {
            Currency::Khr => "KHR",
            Currency::Usd => "USD",
            Currency::Cny => "CNY",
        }
    }

    /// Decimal places of the minor unit as kept here: KHR 0, USD 2, CNY 2.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Khr => 0,
            Currency::Usd | Currency::Cny => 2,
        }
    }

    /// The currency with this ISO 4217 numeric code.
    pub fn from_numeric(code: u16) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.numeric() == code)
    }

    /// The currency with this ISO 4217 alpha code (any case).
    pub fn from_alpha(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.alpha().eq_ignore_ascii_case(code))
    }

    /// Its position in [`Currency::ALL`], for per-currency arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha())
    }
}

/// The largest amount one payment or clearing record may carry, in minor units: 10¹² − 1
/// (999 999 999 999 riel, or 9 999 999 999.99 dollars or yuan), which still fits the 13
/// characters of a KHQR amount. Sums of millions of such amounts stay far inside `i64`.
pub const AMOUNT_MINOR_MAX: i64 = 999_999_999_999;

/// An amount: a currency and a signed number of its minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    /// The currency.
    pub currency: Currency,
    /// Minor units (cents, fen, riel).
    pub minor: i64,
}

/// Why arithmetic on money failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two amounts are in different currencies.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit 64-bit minor units.
    #[error("amount overflow")]
    Overflow,
}

/// Why a decimal amount could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("amount {text:?} at character {offset}: {kind}")]
pub struct AmountParseError {
    /// The text given.
    pub text: String,
    /// Character offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub kind: AmountParseErrorKind,
}

/// What was wrong with a decimal amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountParseErrorKind {
    /// Empty text.
    #[error("empty")]
    Empty,
    /// A character that is not a digit, a leading `-`, or one `.`.
    #[error("not a decimal number")]
    NotDecimal,
    /// More decimals than the currency's minor unit has.
    #[error("more decimals than the currency's minor unit")]
    TooManyDecimals,
    /// Does not fit 64-bit minor units.
    #[error("too large")]
    Overflow,
}

impl Money {
    /// `minor` units of `currency`.
    pub const fn new(currency: Currency, minor: i64) -> Self {
        Money { currency, minor }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Money { currency, minor: 0 }
    }

    /// The sum, or an error for a currency mismatch or overflow.
    ///
    /// # Errors
    /// [`MoneyError`].
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The difference, or an error for a currency mismatch or overflow.
    ///
    /// # Errors
    /// [`MoneyError`].
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// The exact decimal value in major units (e.g. `10.25` for 1025 US cents).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// A decimal value in major units rounded to the minor unit with `rounding`.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when it does not fit 64-bit minor units.
    pub fn from_decimal(
        value: Decimal,
        currency: Currency,
        rounding: RoundingStrategy,
    ) -> Result<Money, MoneyError> {
        let scaled = value
            .round_dp_with_strategy(currency.exponent(), rounding)
            .checked_mul(Decimal::from(10_i64.pow(currency.exponent())))
            .ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(scaled).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { currency, minor })
    }

    /// Reads a decimal amount in major units (`10.25`, `50000`, `-3.5`), refusing more decimals
    /// than the currency has: an amount is never silently rounded.
    ///
    /// # Errors
    /// [`AmountParseError`] with the offset of the problem.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, AmountParseError> {
        let error = |offset, kind| AmountParseError { text: text.to_owned(), offset, kind };
        if text.is_empty() {
            return Err(error(0, AmountParseErrorKind::Empty));
        }
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let sign_len = text.len() - unsigned.len();
        if let Some(bad) = unsigned.char_indices().find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        {
            return Err(error(sign_len + bad.0, AmountParseErrorKind::NotDecimal));
        }
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if whole.is_empty()
            || fraction.contains('.')
            || (unsigned.contains('.') && fraction.is_empty())
        {
            return Err(error(sign_len, AmountParseErrorKind::NotDecimal));
        }
        let exponent = currency.exponent() as usize;
        if fraction.len() > exponent {
            return Err(error(
                sign_len + whole.len() + 1 + exponent,
                AmountParseErrorKind::TooManyDecimals,
            ));
        }
        let mut minor: i64 = 0;
        for digit in whole
            .bytes()
            .chain(fraction.bytes())
            .chain(std::iter::repeat_n(b'0', exponent - fraction.len()))
        {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(|| error(0, AmountParseErrorKind::Overflow))?;
        }
        Ok(Money { currency, minor: if sign_len == 1 { -minor } else { minor } })
    }
}

impl fmt::Display for Money {
    /// `10.25 USD`, `50000 KHR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_alpha(s)
            .ok_or_else(|| format!("unknown currency {s:?}: expected KHR, USD or CNY"))
    }
}
