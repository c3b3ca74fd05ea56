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
    let early = NettingSchedule::new(&[Cutoff { hour: 20, minute: 0 }]).expect("valid");
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
            let prefund = Command::Transfer(Transfer {
                id: TransferId(1_000_000 + u64::from(id.0)),
                debit: external,
                credit: id,
                amount: 1_000_000_000,
                currency,
                pending_until: None,
                reference: 0,
            });
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
