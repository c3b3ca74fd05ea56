//! Settlement tests.
//!
//! Goal: business days, the Beijing day cut, cycle assignment and holiday roll follow the rules
//! in the module doc; bad schedules are refused with what is wrong; netting conserves every
//! currency; and applying the settlement chains to a real ledger moves each settlement account
//! by exactly its net position and leaves the transit account at zero.
//! Method: the 2026 Spring Festival calendar, tables of instants, a canary for the zero-sum
//! check, and a property test over random obligations.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::payments::ledger::{AccountKey, Ledger, Limits, Purpose};

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).expect("valid date")
}

fn china() -> Calendar {
    Calendar::new(Zone::BEIJING, (15..=23).map(|d| date(2026, 2, d))).expect("calendar")
}

fn cambodia() -> Calendar {
    // Khmer New Year 2026 falls on 14-16 April.
    Calendar::new(Zone::PHNOM_PENH, (14..=16).map(|d| date(2026, 4, d))).expect("calendar")
}

fn ict(y: i32, m: u8, d: u8, h: u8, min: u8) -> Timestamp {
    Timestamp::at_local(date(y, m, d), h, min, Zone::PHNOM_PENH)
}

#[test]
fn business_days_and_value_dates() {
    let cn = china();
    assert!(!cn.is_business_day(date(2026, 2, 16)), "holiday");
    assert!(!cn.is_business_day(date(2026, 2, 14)), "Saturday");
    assert!(cn.is_business_day(date(2026, 2, 13)));
    // T+1 from the Friday before the holiday is the Tuesday after it.
    assert_eq!(cn.business_days_after(date(2026, 2, 13), 1), date(2026, 2, 24));
    assert_eq!(cn.business_days_after(date(2026, 2, 12), 1), date(2026, 2, 13));
    assert_eq!(cn.business_days_after(date(2026, 2, 12), 2), date(2026, 2, 24));
    assert_eq!(cn.business_day_on_or_after(date(2026, 2, 17)), date(2026, 2, 24));
    let too_long = Calendar::new(
        Zone::BEIJING,
        (1..=28).map(|d| date(2026, 2, d)).chain((1..=10).map(|d| date(2026, 3, d))),
    );
    assert_eq!(too_long, Err(SettlementConfigError::TooManyHolidays(date(2026, 2, 1))));
}

#[test]
fn the_beijing_day_ends_at_23_00_in_phnom_penh() {
    assert_eq!(beijing_business_date(ict(2026, 2, 16, 22, 59)), date(2026, 2, 16));
    assert_eq!(beijing_business_date(ict(2026, 2, 16, 23, 0)), date(2026, 2, 17));
    assert_eq!(beijing_business_date(ict(2026, 2, 17, 0, 30)), date(2026, 2, 17));
}

/// Expects an obligation at `at` to settle in cycle `index` on `settles`.
fn check_cycle(schedule: &NettingSchedule, at: Timestamp, settles: Date, index: u8) {
    assert_eq!(schedule.cycle_of(at, &cambodia()), CycleId { date: settles, index }, "{at}");
}

#[test]
fn obligations_fall_into_cycles_and_holidays_roll() {
    let s = NettingSchedule::bakong_default();
    let monday = date(2026, 2, 16);
    check_cycle(&s, ict(2026, 2, 16, 0, 0), monday, 0);
    check_cycle(&s, ict(2026, 2, 16, 11, 59), monday, 0);
    check_cycle(&s, ict(2026, 2, 16, 12, 0), monday, 1);
    check_cycle(&s, ict(2026, 2, 16, 16, 29), monday, 1);
    check_cycle(&s, ict(2026, 2, 16, 16, 30), monday, 2);
    check_cycle(&s, ict(2026, 2, 16, 23, 59), monday, 2);
    check_cycle(&s, ict(2026, 2, 21, 10, 0), date(2026, 2, 23), 0); // Saturday → Monday.
    check_cycle(&s, ict(2026, 4, 14, 9, 0), date(2026, 4, 17), 0); // Khmer New Year → Friday.
    // Bakong's three cut-offs, as a scenario file sees them.
    let c = |hour, minute| Cutoff { hour, minute };
    assert_eq!(s.cutoffs(), [c(12, 0), c(16, 30), c(24, 0)]);
    let early = NettingSchedule::new(&[Cutoff { hour: 20, minute: 0 }]).expect("valid");
    assert_eq!(early.cutoffs(), [c(20, 0)]);
    check_cycle(&early, ict(2026, 2, 16, 21, 0), date(2026, 2, 17), 0);
    check_cycle(&early, ict(2026, 2, 20, 21, 0), date(2026, 2, 23), 0); // Friday night → Monday.
    assert_eq!(
        s.closes_at(CycleId { date: monday, index: 1 }, Zone::PHNOM_PENH),
        ict(2026, 2, 16, 16, 30)
    );
    assert_eq!(
        s.closes_at(CycleId { date: monday, index: 2 }, Zone::PHNOM_PENH),
        ict(2026, 2, 17, 0, 0)
    );
}

#[test]
fn bad_schedules_say_what_is_wrong() {
    use SettlementConfigError as E;
    let c = |hour, minute| Cutoff { hour, minute };
    assert_eq!(NettingSchedule::new(&[]), Err(E::CycleCount(0)));
    assert_eq!(NettingSchedule::new(&[c(0, 0)]), Err(E::CutoffOutsideDay { hour: 0, minute: 0 }));
    assert_eq!(
        NettingSchedule::new(&[c(24, 30)]),
        Err(E::CutoffOutsideDay { hour: 24, minute: 30 })
    );
    assert_eq!(
        NettingSchedule::new(&[c(12, 60)]),
        Err(E::CutoffOutsideDay { hour: 12, minute: 60 })
    );
    assert_eq!(
        NettingSchedule::new(&[c(16, 30), c(12, 0)]),
        Err(E::CutoffsNotIncreasing { hour: 12, minute: 0 })
    );
    assert_eq!(
        NettingSchedule::new(&[c(12, 0), c(12, 0)]),
        Err(E::CutoffsNotIncreasing { hour: 12, minute: 0 })
    );
    assert!(E::CutoffOutsideDay { hour: 25, minute: 0 }.to_string().contains("25:00"));
}

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const C: ParticipantId = ParticipantId(3);

fn cycle() -> CycleId {
    CycleId { date: date(2026, 2, 16), index: 0 }
}

#[test]
fn netting_conserves_every_currency() {
    let khr = |m| Money::new(Currency::Khr, m);
    let usd = |m| Money::new(Currency::Usd, m);
    let obligations = [
        Obligation { payer: A, payee: B, amount: khr(50_000) },
        Obligation { payer: B, payee: C, amount: khr(20_000) },
        Obligation { payer: C, payee: A, amount: khr(5_000) },
        Obligation { payer: A, payee: C, amount: usd(1_025) },
    ];
    let net = net_positions(cycle(), &obligations).expect("nets");
    assert_eq!(net.position(A, Currency::Khr), khr(-45_000));
    assert_eq!(net.position(B, Currency::Khr), khr(30_000));
    assert_eq!(net.position(C, Currency::Khr), khr(15_000));
    assert_eq!(
        (net.position(A, Currency::Usd), net.position(C, Currency::Usd)),
        (usd(-1_025), usd(1_025))
    );
    assert_eq!(net.position(B, Currency::Usd), usd(0));
    assert_eq!(net.gross_settled(Currency::Khr), khr(45_000));
    assert_eq!(net.obligations_count(), 4);
    assert_eq!(net.check(), Ok(()));
    let bad = [Obligation { payer: A, payee: B, amount: khr(0) }];
    assert_eq!(net_positions(cycle(), &bad), Err(NettingError::AmountNotPositive { index: 0 }));
    let huge = [
        Obligation { payer: A, payee: B, amount: khr(i64::MAX) },
        Obligation { payer: C, payee: B, amount: khr(1) },
    ];
    assert_eq!(net_positions(cycle(), &huge), Err(NettingError::Overflow));
}

/// Canary: positions that do not sum to zero are caught by the check a writer runs.
#[test]
fn the_zero_sum_check_catches_imbalance() {
    let mut net = net_positions(
        cycle(),
        &[Obligation { payer: A, payee: B, amount: Money::new(Currency::Cny, 8_800) }],
    )
    .expect("nets");
    *net.positions.get_mut(&(B, Currency::Cny)).expect("position") += 1;
    assert_eq!(net.check(), Err(UnbalancedPositions { currency: Currency::Cny, sum: 1 }));
}

/// A ledger with settlement accounts for participants 1..=5 and a transit account, per currency.
struct Books {
    ledger: Ledger,
    settlement: BTreeMap<(ParticipantId, Currency), AccountId>,
    transit: BTreeMap<Currency, AccountId>,
}

impl SettlementAccounts for Books {
    fn settlement_account(
        &self,
        participant: ParticipantId,
        currency: Currency,
    ) -> Option<AccountId> {
        self.settlement.get(&(participant, currency)).copied()
    }

    fn transit_account(&self, currency: Currency) -> Option<AccountId> {
        self.transit.get(&currency).copied()
    }
}

fn books() -> Books {
    let mut ledger = Ledger::default();
    let mut settlement = BTreeMap::new();
    let mut transit = BTreeMap::new();
    let agent = ParticipantId(0);
    for currency in Currency::ALL {
        let key = |participant, purpose| AccountKey { participant, currency, purpose, holder: 0 };
        let external =
            ledger.open_account(key(agent, Purpose::External), Limits::NONE).expect("opens");
        transit.insert(
            currency,
            ledger
                .open_account(key(agent, Purpose::Suspense), Limits::NON_NEGATIVE)
                .expect("opens"),
        );
        for p in 1..=5 {
            let id = ledger
                .open_account(key(ParticipantId(p), Purpose::Settlement), Limits::NON_NEGATIVE)
                .expect("opens");
            // Prefund every participant generously.
            let prefund_id = TransferId(1_000_000 + u64::from(id.0));
            let prefund =
                Transfer::posted(prefund_id, external, id, Money::new(currency, 1_000_000_000), 0);
            let prefund = Command::Transfer(prefund);
            ledger.execute(prefund, Timestamp::EPOCH).expect("prefunds");
            settlement.insert((ParticipantId(p), currency), id);
        }
    }
    Books { ledger, settlement, transit }
}

#[test]
fn missing_accounts_are_named() {
    let mut b = books();
    let net = net_positions(
        cycle(),
        &[Obligation { payer: A, payee: ParticipantId(9), amount: Money::new(Currency::Usd, 1) }],
    )
    .expect("nets");
    let result = settlement_commands(&net, &b, TransferId(1), 0);
    assert_eq!(result, Err(MissingAccount::Settlement(ParticipantId(9), Currency::Usd)));
    b.transit.remove(&Currency::Usd);
    assert_eq!(
        settlement_commands(&net, &b, TransferId(1), 0),
        Err(MissingAccount::Transit(Currency::Usd))
    );
}

#[test]
fn upi_settles_net_in_usd_on_the_next_chinese_business_day() {
    use crate::payments::fx::{Pair, RateBook, scheme_publication_instants};
    let cn = china();
    let mut rates = RateBook::new();
    let holidays: Vec<Date> = (15..=23).map(|d| date(2026, 2, d)).collect();
    for (n, at) in scheme_publication_instants(date(2026, 2, 12), date(2026, 2, 25), &holidays)
        .into_iter()
        .enumerate()
    {
        // KHR→USD and CNY→USD move a little each publication.
        let khr = Decimal::new(248_447, 9) + Decimal::new(n as i64, 9);
        let cny = Decimal::new(14_397, 5) + Decimal::new(n as i64, 5);
        rates.publish_scheme(Pair::new(Currency::Khr, Currency::Usd), at, khr).expect("rate");
        rates.publish_scheme(Pair::new(Currency::Cny, Currency::Usd), at, cny).expect("rate");
    }
    // Monday 16 Feb (Lunar New Year's Eve, a Chinese holiday): inward KHR 40 250 000 owed to
    // NBC, outward CNY 1 000.00 owed to UPI. Value date: Tuesday 24 Feb, at that day's rate.
    let to_nbc = [Money::new(Currency::Khr, 40_000_000), Money::new(Currency::Khr, 250_000)];
    let to_upi = [Money::new(Currency::Cny, 100_000)];
    let s = scheme_settlement(date(2026, 2, 16), &to_nbc, &to_upi, &cn, &rates).expect("settles");
    assert_eq!(s.value_date, date(2026, 2, 24));
    assert_eq!(s.value_at, Timestamp::at_local(date(2026, 2, 24), 15, 0, Zone::BEIJING));
    // 24 Feb is the third publication (n = 2): KHR→USD 0.000248449, CNY→USD 0.14399.
    assert_eq!(
        s.legs,
        vec![
            (Currency::Khr, 40_250_000, 0, Decimal::new(248_449, 9)),
            (Currency::Cny, 0, 100_000, Decimal::new(14_399, 5)),
        ]
    );
    // 40 250 000 × 0.000248449 = 10 000.07225; − 1 000.00 × 0.14399 = 143.99 → 9 856.08225.
    assert_eq!(s.net_usd, Money::new(Currency::Usd, 985_608));
    let cmd = scheme_settlement_command(&s, AccountId(1), AccountId(2), TransferId(9), 0);
    assert!(
        matches!(cmd, Some(Command::Transfer(t)) if t.debit == AccountId(1) && t.amount == 985_608)
    );
    let usd_only = scheme_settlement(
        date(2026, 2, 16),
        &[Money::new(Currency::Usd, 1)],
        &[],
        &cn,
        &RateBook::new(),
    );
    assert_eq!(usd_only.map(|s| s.net_usd), Ok(Money::new(Currency::Usd, 1)), "USD needs no rate");
    let no_rate = scheme_settlement(date(2026, 2, 16), &to_nbc, &[], &cn, &RateBook::new());
    assert_eq!(no_rate, Err(SchemeSettlementError::RateUnavailable(Currency::Khr)));
}

#[test]
fn fees_are_their_own_entries() {
    let discount = Fee { bps: 100 }; // The 1.0 % inward merchant discount.
    assert_eq!(discount.on(Money::new(Currency::Khr, 52_050)), Ok(Money::new(Currency::Khr, 521)));
    assert_eq!(discount.on(Money::new(Currency::Khr, 49)), Ok(Money::new(Currency::Khr, 0)));
    let cmd = discount
        .command(Money::new(Currency::Usd, 1_025), AccountId(3), AccountId(4), TransferId(1), 0)
        .expect("fee");
    assert!(
        matches!(cmd, Some(Command::Transfer(t)) if t.amount == 10 && t.credit == AccountId(4))
    );
    assert_eq!(
        discount.command(
            Money::new(Currency::Khr, 40),
            AccountId(3),
            AccountId(4),
            TransferId(1),
            0
        ),
        Ok(None)
    );
}

#[test]
fn settlement_csv_is_checked_before_it_is_written() {
    let usd = |m| Money::new(Currency::Usd, m);
    let net = net_positions(cycle(), &[Obligation { payer: A, payee: C, amount: usd(1_025) }])
        .expect("nets");
    let csv = write_settlement_csv(std::slice::from_ref(&net), &[]).expect("balanced");
    assert_eq!(
        csv,
        "date,cycle,participant,currency,net_minor,status\n2026-02-16,0,1,USD,-1025,settled\n2026-02-16,0,3,USD,1025,settled\n"
    );
    // A refused chain says so on each of its rows.
    let refusal = SettlementRefusal {
        cycle: cycle(),
        currency: Currency::Usd,
        command_index: 0,
        reject: crate::payments::ledger::TransferReject::InsufficientFunds,
    };
    let csv = write_settlement_csv(std::slice::from_ref(&net), &[refusal]).expect("balanced");
    assert!(csv.ends_with(",-1025,refused:insufficient_funds\n2026-02-16,0,3,USD,1025,refused:insufficient_funds\n"), "{csv}");
    assert_eq!(
        refusal.to_string(),
        "2026-02-16 cycle 0 USD: command 0 refused: insufficient_funds"
    );
    // A refusal in another currency, or of another cycle, leaves these rows settled.
    let elsewhere = [
        SettlementRefusal { currency: Currency::Khr, ..refusal },
        SettlementRefusal { cycle: CycleId { index: 1, ..cycle() }, ..refusal },
    ];
    let csv = write_settlement_csv(std::slice::from_ref(&net), &elsewhere).expect("balanced");
    assert!(!csv.contains("refused"), "{csv}");
    let mut broken = net.clone();
    *broken.positions.get_mut(&(C, Currency::Usd)).expect("position") -= 1;
    assert_eq!(
        write_settlement_csv(&[net, broken], &[]),
        Err(UnbalancedPositions { currency: Currency::Usd, sum: -1 })
    );
}

fn obligation() -> impl Strategy<Value = Obligation> {
    (1u16..=5, 1u16..=5, prop::sample::select(Currency::ALL.to_vec()), 1i64..10_000_000).prop_map(
        |(payer, payee, currency, minor)| Obligation {
            payer: ParticipantId(payer),
            payee: ParticipantId(payee),
            amount: Money::new(currency, minor),
        },
    )
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(128))]

    #[test]
    fn settling_moves_each_account_by_its_position(obligations in prop::collection::vec(obligation(), 0..60)) {
        let net = net_positions(cycle(), &obligations).expect("nets");
        prop_assert_eq!(net.check(), Ok(()));
        let mut b = books();
        let before: BTreeMap<_, _> = b.settlement.iter().map(|(k, id)| (*k, b.ledger.account(*id).expect("account").balance())).collect();
        let chains = settlement_commands(&net, &b, TransferId(1), 42).expect("accounts exist");
        for (_, chain) in &chains {
            prop_assert_eq!(b.ledger.execute_linked(chain, Timestamp::EPOCH), Ok(()));
        }
        prop_assert_eq!(b.ledger.check_invariants(), Ok(()));
        for (&(participant, currency), id) in &b.settlement {
            let moved = b.ledger.account(*id).expect("account").balance() - before[&(participant, currency)];
            prop_assert_eq!(moved, i128::from(net.position(participant, currency).minor));
        }
        for id in b.transit.values() {
            prop_assert_eq!(b.ledger.account(*id).expect("account").balance(), 0);
        }
    }
}
