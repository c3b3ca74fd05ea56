//! Unit tests for the small core types: money and time.
//!
//! Goal: amounts parse, round and add exactly as documented, and never silently lose a unit;
//! dates and fixed-offset zones convert both ways. Method: tables through one `check_*` helper
//! per area, plus a property test of the date conversion round trip.

use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

use super::money::{AmountParseErrorKind, Currency, Money, MoneyError};
use super::time::{Date, Timestamp, Weekday, Zone};

/// Parses `text` in `currency` and expects `Ok(minor)`, or the error kind at its byte offset.
fn check_parse(
    text: &str,
    currency: Currency,
    expected: Result<i64, (AmountParseErrorKind, usize)>,
) {
    let got = Money::parse(text, currency).map(|m| m.minor).map_err(|e| (e.kind, e.offset));
    assert_eq!(got, expected, "{text:?} in {currency}");
}

#[test]
fn amounts_parse_without_rounding() {
    use AmountParseErrorKind as E;
    check_parse("10.25", Currency::Usd, Ok(1025));
    check_parse("10.2", Currency::Usd, Ok(1020));
    check_parse("10", Currency::Cny, Ok(1000));
    check_parse("-3.5", Currency::Usd, Ok(-350));
    check_parse("50000", Currency::Khr, Ok(50_000));
    // The offset points at the first decimal too many.
    check_parse("50000.5", Currency::Khr, Err((E::TooManyDecimals, 6)));
    check_parse("1.234", Currency::Usd, Err((E::TooManyDecimals, 4)));
    check_parse("-12.345", Currency::Usd, Err((E::TooManyDecimals, 6)));
    check_parse("", Currency::Usd, Err((E::Empty, 0)));
    check_parse("1e3", Currency::Usd, Err((E::NotDecimal, 1)));
    check_parse("-1x", Currency::Usd, Err((E::NotDecimal, 2)));
    check_parse("12a", Currency::Usd, Err((E::NotDecimal, 2)));
    check_parse("1.", Currency::Usd, Err((E::NotDecimal, 0)));
    check_parse("-.5", Currency::Usd, Err((E::NotDecimal, 1)));
    check_parse("1.2.3", Currency::Usd, Err((E::NotDecimal, 0)));
    check_parse("92233720368547758.08", Currency::Usd, Err((E::Overflow, 0)));
    check_parse("92233720368547758.07", Currency::Usd, Ok(i64::MAX));
    check_parse("-92233720368547758.07", Currency::Usd, Ok(-i64::MAX));
}

#[test]
fn arithmetic_is_checked() {
    let usd = |m| Money::new(Currency::Usd, m);
    assert_eq!(usd(150).checked_add(usd(25)), Ok(usd(175)));
    assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
    assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
    assert_eq!(
        usd(1).checked_add(Money::new(Currency::Khr, 1)),
        Err(MoneyError::CurrencyMismatch { left: Currency::Usd, right: Currency::Khr })
    );
    assert_eq!(usd(1025).to_string(), "10.25 USD");
    assert_eq!(Money::new(Currency::Khr, 50_000).to_string(), "50000 KHR");
}

#[test]
fn decimals_round_as_told() {
    let d = |s: &str| s.parse::<Decimal>().expect("decimal");
    let round = |v: &str, c, r| Money::from_decimal(d(v), c, r).map(|m| m.minor);
    assert_eq!(round("4025.5", Currency::Khr, RoundingStrategy::ToZero), Ok(4025));
    assert_eq!(round("4025.5", Currency::Khr, RoundingStrategy::AwayFromZero), Ok(4026));
    assert_eq!(round("4025.5", Currency::Khr, RoundingStrategy::MidpointNearestEven), Ok(4026));
    assert_eq!(round("4024.5", Currency::Khr, RoundingStrategy::MidpointNearestEven), Ok(4024));
    assert_eq!(round("0.125", Currency::Usd, RoundingStrategy::MidpointAwayFromZero), Ok(13));
    assert_eq!(round("-0.125", Currency::Usd, RoundingStrategy::ToZero), Ok(-12));
    assert_eq!(
        round("100000000000000000000000", Currency::Usd, RoundingStrategy::ToZero),
        Err(MoneyError::Overflow)
    );
}

#[test]
fn currencies_round_trip_their_codes() {
    for c in Currency::ALL {
        assert_eq!(Currency::from_numeric(c.numeric()), Some(c));
        assert_eq!(Currency::from_alpha(&c.alpha().to_lowercase()), Some(c));
    }
    assert_eq!(Currency::from_numeric(978), None);
    assert_eq!(
        (Currency::Khr.exponent(), Currency::Usd.exponent(), Currency::Cny.exponent()),
        (0, 2, 2)
    );
}

const NS_PER_DAY_U64: u64 = 86_400 * 1_000_000_000;

#[test]
fn dates_and_zones() {
    let d = |y, m, day| Date::new(y, m, day).expect("valid date");
    assert_eq!(Date::new(2026, 2, 29), None);
    assert_eq!(Date::new(2024, 2, 29).map(Date::weekday), Some(Weekday::Thursday));
    assert_eq!(d(2026, 2, 16).weekday(), Weekday::Monday); // Lunar New Year's Eve 2026.
    assert!(d(2026, 2, 21).is_weekend());
    // 23:00 in Phnom Penh is midnight in Beijing: the Chinese business day turns over.
    let cut = Timestamp::at_local(d(2026, 2, 16), 23, 0, Zone::PHNOM_PENH);
    assert_eq!(cut, Timestamp::at_local(d(2026, 2, 17), 0, 0, Zone::BEIJING));
    assert_eq!(cut.date_at(Zone::BEIJING), d(2026, 2, 17));
    assert_eq!(cut.date_at(Zone::PHNOM_PENH), d(2026, 2, 16));
    assert_eq!(cut.to_string(), "2026-02-16T16:00:00.000Z");
    assert_eq!(Timestamp::from_millis(1_735_689_600_000).to_string(), "2025-01-01T00:00:00.000Z");
}

proptest! {
    /// Two instants share a local date exactly when their dates are equal.
    #[test]
    fn same_date_is_equal_dates(a in 0u64..1 << 62, b in 0u64..1 << 62, near in 0u64..2 * NS_PER_DAY_U64) {
        for (x, y) in [(a, b), (a, a.saturating_add(near))] {
            let (x, y) = (Timestamp::from_nanos(x), Timestamp::from_nanos(y));
            for zone in [Zone::UTC, Zone::BEIJING, Zone::PHNOM_PENH] {
                prop_assert_eq!(x.same_date_at(y, zone), x.date_at(zone) == y.date_at(zone));
            }
        }
    }

    #[test]
    fn days_round_trip(days in -1_000_000i64..1_000_000) {
        let date = Date::from_days_since_epoch(days);
        prop_assert_eq!(date.days_since_epoch(), days);
        prop_assert_eq!(Date::new(date.year, date.month, date.day), Some(date));
        prop_assert_eq!(date.succ().days_since_epoch(), days + 1);
    }
}
