//! FX tests.
//!
//! Goal: rates are found as of the right instant (direct, inverse, cross; scheme rates roll over
//! weekends and holidays), quotes expire, every conversion rounds in the documented direction,
//! and converting then converting back loses at most one minor unit per rounding.
//! Method: the 2026 Lunar New Year rates from the domain notes (USD/KHR 4025, USD/CNY 6.9457),
//! tables of cases, and property tests over random amounts and markups.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::payments::time::Date;

const USD_KHR: Pair = Pair::new(Currency::Usd, Currency::Khr);
const USD_CNY: Pair = Pair::new(Currency::Usd, Currency::Cny);
const BANK: ParticipantId = ParticipantId(7);

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn date(y: i32, m: u8, day: u8) -> Date {
    Date::new(y, m, day).expect("valid date")
}

fn t0() -> Timestamp {
    Timestamp::at_local(date(2026, 2, 16), 0, 0, Zone::PHNOM_PENH)
}

fn book() -> RateBook {
    let mut book = RateBook::new();
    book.set_mid(USD_KHR, t0(), d("4025")).expect("rate");
    book.set_mid(USD_CNY, t0(), d("6.9457")).expect("rate");
    book.set_markup(BANK, Flow::Outward, 80).expect("markup");
    book.set_markup(BANK, Flow::Remittance, 50).expect("markup");
    book
}

fn request(from: Currency, to: Currency, flow: Flow) -> QuoteRequest {
    QuoteRequest {
        from,
        to,
        source: RateSource::Mid,
        participant: BANK,
        flow,
        rounding: RoundingRule::TOWARD_PROVIDER,
        now: t0(),
        ttl: Span::from_secs(30),
    }
}

#[test]
fn rates_direct_inverse_and_cross() {
    let book = book();
    assert_eq!(book.mid(USD_KHR, t0()), Some(d("4025")));
    assert_eq!(book.mid(Pair::new(Currency::Khr, Currency::Usd), t0()), Some(d("0.000248447205")));
    // CNY/KHR through USD: 4025 / 6.9457 = 579.49522726291...
    assert_eq!(
        book.mid(Pair::new(Currency::Cny, Currency::Khr), t0()),
        Some(d("579.495227262911"))
    );
    assert_eq!(
        book.mid(USD_KHR, Timestamp::from_nanos(t0().as_nanos() - 1)),
        None,
        "before the first step"
    );
    assert_eq!(book.mid(Pair::new(Currency::Khr, Currency::Khr), t0()), Some(Decimal::ONE));
}

#[test]
fn a_step_is_in_force_from_its_own_instant() {
    let mut book = book();
    let t1 = t0().checked_add(Span::from_minutes(1)).expect("in range");
    book.set_mid(USD_KHR, t1, d("4030")).expect("a later step");
    let just_before = Timestamp::from_nanos(t1.as_nanos() - 1);
    assert_eq!(book.mid(USD_KHR, just_before), Some(d("4025")));
    assert_eq!(book.mid(USD_KHR, t1), Some(d("4030")), "in force at its instant");
    // A second step at the same instant replaces the first from then on.
    book.set_mid(USD_KHR, t1, d("4031")).expect("the same instant is in order");
    assert_eq!(book.mid(USD_KHR, t1), Some(d("4031")));
    assert_eq!(book.mid(USD_KHR, just_before), Some(d("4025")));
}

#[test]
fn rate_input_errors() {
    let mut book = book();
    assert_eq!(
        book.set_mid(USD_KHR, t0(), d("0")),
        Err(RateError::NotPositive { base: Currency::Usd, quote: Currency::Khr })
    );
    assert_eq!(
        book.set_mid(Pair::new(Currency::Usd, Currency::Usd), t0(), d("1")),
        Err(RateError::SameCurrency(Currency::Usd))
    );
    let earlier = Timestamp::from_nanos(t0().as_nanos() - 1);
    assert!(matches!(book.set_mid(USD_KHR, earlier, d("4000")), Err(RateError::OutOfOrder { .. })));
    assert_eq!(book.set_markup(BANK, Flow::Inward, 10_001), Err(RateError::MarkupTooLarge(10_001)));
    assert_eq!(book.set_markup(BANK, Flow::Inward, 10_000), Ok(()), "the limit itself is allowed");
    assert_eq!(book.markup(BANK, Flow::Inward), 10_000);
    let no_rate =
        book.shock_mid(Pair::new(Currency::Cny, Currency::Khr), t0(), 10, d("1"), d("1000"));
    assert!(matches!(no_rate, Err(RateError::NoRate { .. })));
}

#[test]
fn a_bounded_walk_stays_in_its_band() {
    let mut book = book();
    let (floor, ceiling) = (d("6.8068"), d("7.0846")); // ±2 % of 6.9457
    let mut at = t0();
    let mut path = Vec::new();
    for shock in [150, 150, -30, -500, -500, -500, 20] {
        at = at.checked_add(Span::from_minutes(1)).expect("in range");
        let rate = book.shock_mid(USD_CNY, at, shock, floor, ceiling).expect("step");
        assert!(rate >= floor && rate <= ceiling, "{rate}");
        path.push(rate);
    }
    // 6.9457 × 1.015 = 7.0498855; × 1.015 again would pass the ceiling; 7.0846 × 0.997; ...
    let expected = ["7.0498855", "7.0846", "7.0633462", "6.8068", "6.8068", "6.8068", "6.8204136"];
    assert_eq!(path, expected.map(d).to_vec());
    assert_eq!(book.mid(USD_CNY, t0()), Some(d("6.9457")), "history is kept");
}

#[test]
fn scheme_rates_roll_over_weekends_and_holidays() {
    // Friday 13 Feb 2026, then the Spring Festival holiday 15-23 Feb (16-20 and 23 are weekdays).
    let holidays: Vec<Date> = (15..=23).map(|day| date(2026, 2, day)).collect();
    let instants = scheme_publication_instants(date(2026, 2, 12), date(2026, 2, 25), &holidays);
    let days: Vec<Date> = instants.iter().map(|t| t.date_at(Zone::BEIJING)).collect();
    assert_eq!(
        days,
        vec![date(2026, 2, 12), date(2026, 2, 13), date(2026, 2, 24), date(2026, 2, 25)]
    );
    let mut book = RateBook::new();
    for (i, &at) in instants.iter().enumerate() {
        book.publish_scheme(USD_CNY, at, d("6.9") + Decimal::new(i as i64, 2)).expect("publish");
    }
    let beijing = |day, h, m| Timestamp::at_local(date(2026, 2, day), h, m, Zone::BEIJING);
    assert_eq!(
        book.scheme_rate(USD_CNY, beijing(13, 10, 59)),
        Some(d("6.90")),
        "Thursday's until 11:00"
    );
    assert_eq!(book.scheme_rate(USD_CNY, beijing(13, 11, 0)), Some(d("6.91")));
    assert_eq!(
        book.scheme_rate(USD_CNY, beijing(17, 12, 0)),
        Some(d("6.91")),
        "Friday's over the holiday"
    );
    assert_eq!(book.scheme_rate(USD_CNY, beijing(24, 10, 59)), Some(d("6.91")));
    assert_eq!(book.scheme_rate(USD_CNY, beijing(24, 11, 0)), Some(d("6.92")));
    assert_eq!(
        book.mid(USD_CNY, beijing(24, 11, 0)),
        None,
        "mid and scheme rates are separate series"
    );
}

#[test]
fn outward_payment_fixes_the_merchant_amount() {
    // A Bakong KHR wallet pays a WeChat Pay merchant CNY 88.00, markup 80 bps.
    let mut book = book();
    let quote = book.quote(request(Currency::Khr, Currency::Cny, Flow::Outward)).expect("quote");
    assert_eq!((quote.markup_bps, quote.rate), (80, d("0.001725639752")));
    let conversion =
        quote.convert_for_payee(Money::new(Currency::Cny, 8800), t0()).expect("converts");
    // 88.00 / 0.001725639752 = 50995.5799...: the payer's side rounds up to 50996 riel.
    assert_eq!(conversion.exchanged, Money::new(Currency::Khr, 50_996));
    // 0.8 % of 50996 = 407.968, rounded up.
    assert_eq!(conversion.spread, Money::new(Currency::Khr, 408));
    assert_eq!(conversion.paid(), Money::new(Currency::Khr, 51_404));
    assert_eq!(conversion.received, Money::new(Currency::Cny, 8800));
}

#[test]
fn remittance_fixes_the_sender_amount() {
    // USD 200.00 sent to a KHR account, markup 50 bps.
    let mut book = book();
    let quote = book.quote(request(Currency::Usd, Currency::Khr, Flow::Remittance)).expect("quote");
    let conversion =
        quote.convert_from_payer(Money::new(Currency::Usd, 20_000), t0()).expect("converts");
    assert_eq!(conversion.spread, Money::new(Currency::Usd, 100));
    assert_eq!(conversion.exchanged, Money::new(Currency::Usd, 19_900));
    assert_eq!(conversion.received, Money::new(Currency::Khr, 800_975));
    // Half-up instead: 19 900 cents at 4025 is exact, so only the spread could differ; it does not.
    let half_up = FxQuote { rounding: RoundingRule::HALF_UP, ..quote };
    assert_eq!(half_up.convert_from_payer(Money::new(Currency::Usd, 20_000), t0()), Ok(conversion));
}

#[test]
fn conversion_rejections_in_order() {
    let mut book = book();
    assert_eq!(
        book.quote(request(Currency::Usd, Currency::Usd, Flow::Outward)),
        Err(FxReject::SameCurrency)
    );
    let quote = book.quote(request(Currency::Khr, Currency::Cny, Flow::Outward)).expect("quote");
    let cny = |m| Money::new(Currency::Cny, m);
    assert_eq!(
        quote.convert_for_payee(Money::new(Currency::Usd, 1), t0()),
        Err(FxReject::CurrencyMismatch)
    );
    assert_eq!(quote.convert_for_payee(cny(0), t0()), Err(FxReject::AmountNotPositive));
    let last = quote.valid_until;
    assert!(quote.convert_for_payee(cny(100), last).is_ok(), "usable up to valid_until");
    let late = Timestamp::from_nanos(last.as_nanos() + 1);
    assert_eq!(quote.convert_for_payee(cny(100), late), Err(FxReject::QuoteExpired));
    // Precedence: a wrong currency is reported before expiry.
    assert_eq!(
        quote.convert_for_payee(Money::new(Currency::Usd, 1), late),
        Err(FxReject::CurrencyMismatch)
    );
    let mut empty = RateBook::new();
    let mut scheme = request(Currency::Cny, Currency::Khr, Flow::Inward);
    scheme.source = RateSource::Scheme;
    assert_eq!(empty.quote(scheme), Err(FxReject::RateUnavailable));
    assert_eq!(book.quotes_issued_count(), 1, "a refused quote is not issued");
    book.quote(request(Currency::Usd, Currency::Cny, Flow::Outward)).expect("a second quote");
    assert_eq!(book.quotes_issued_count(), 2);
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::ALL.to_vec())
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(512))]

    #[test]
    fn reconversion_loses_at_most_one_minor_unit_per_rounding(
        from in currency(), to in currency(), minor in 1i64..1_000_000_000,
    ) {
        prop_assume!(from != to);
        let mut book = book();
        let there = book.quote(request(from, to, Flow::Domestic)).expect("quote");
        let back = book.quote(request(to, from, Flow::Domestic)).expect("quote");
        prop_assert_eq!(there.markup_bps, 0);
        let start = Money::new(from, minor);
        // Every amount in range converts: an error here is a bug, not a case to skip.
        let first = there.convert_from_payer(start, t0()).expect("converts");
        prop_assume!(first.received.minor > 0);
        let second = back.convert_from_payer(first.received, t0()).expect("back");
        // Each rounding down loses under one minor unit of its currency: one unit of `to` is
        // worth `back.rate` units of `from`, and the last rounding loses under one more.
        // Derived rates carry 10 decimals, so allow their relative error too.
        let lost = Decimal::from(minor - second.received.minor);
        let unit_to_in_from = back.rate * Decimal::new(1, to.exponent()) * Decimal::from(10_i64.pow(from.exponent()));
        let rate_error = Decimal::from(minor) * d("0.0000001");
        // Derived rates are rounded to 12 decimals, so a round trip can gain that error back.
        prop_assert!(lost >= -rate_error.ceil(), "gains: {} -> {}", minor, second.received.minor);
        prop_assert!(lost <= unit_to_in_from.ceil() + Decimal::ONE + rate_error.ceil(), "lost {} of {}", lost, start);
    }

    #[test]
    fn conversions_balance_and_round_toward_the_provider(
        minor in 1i64..10_000_000_000, markup in 0u32..=500, fix_payee in any::<bool>(),
    ) {
        let mut book = book();
        book.set_markup(BANK, Flow::Outward, markup).expect("markup");
        let quote = book.quote(request(Currency::Khr, Currency::Cny, Flow::Outward)).expect("quote");
        let conversion = if fix_payee {
            quote.convert_for_payee(Money::new(Currency::Cny, minor), t0())
        } else {
            quote.convert_from_payer(Money::new(Currency::Khr, minor), t0())
        };
        let c = conversion.expect("every amount in range converts");
        prop_assert!(c.spread.minor >= 0 && c.exchanged.minor >= 0);
        prop_assert_eq!(c.paid().minor, c.exchanged.minor + c.spread.minor);
        // The payee never gets more than the exchanged amount is worth at the rate.
        let worth = c.exchanged.to_decimal() * quote.rate;
        prop_assert!(c.received.to_decimal() <= worth, "{:?}", c);
        // And the spread is at least the markup's share.
        let share = c.exchanged.to_decimal() * Decimal::new(i64::from(markup), 4);
        if fix_payee {
            prop_assert!(c.spread.to_decimal() >= share);
        }
    }
}
