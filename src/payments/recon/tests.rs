//! Reconciliation tests: the correctness oracle.
//!
//! Goal: reconciliation finds exactly the breaks injected into a day of traffic — no misses, no
//! false alarms — for each class alone and for random mixes; and after every break is resolved
//! through the ledger, the switch's receivable equals what the network's file claims and every
//! ledger invariant holds. Clearing files survive a write and read unchanged, and broken files
//! are refused with their line and field.
//! Method: a generator of consistent switch and network files for a day, an `Injection` per
//! payment that breaks it in one known way (the ground truth), and proptests over both.

use std::collections::BTreeSet;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::payments::clearing::{
    ClearingFileErrorKind, Party, read_clearing_file, write_clearing_file,
};
use crate::payments::ledger::{AccountKey, Ledger, Limits, Purpose};
use crate::payments::party::ParticipantId;
use crate::payments::time::{Date, Timestamp};

fn today() -> Date {
    Date::new(2026, 2, 16).expect("date")
}

fn tomorrow() -> Date {
    today().succ()
}

const MERCHANTS: u32 = 5;

fn record(party: Party, i: u64, amount_minor: i64) -> ClearingRecord {
    ClearingRecord {
        party,
        business_date: today(),
        kind: MessageKind::Purchase,
        rrn: Rrn::new(600_000_000_000 + i).expect("12 digits"),
        trace_number: (i % 1_000_000) as u32,
        original_rrn: None,
        payment_id: i,
        transfer_id: 10 * i,
        quote_id: i,
        qr_md5: format!("{:032x}", i),
        amount: Money::new(Currency::Khr, amount_minor),
        billed: Money::new(Currency::Cny, amount_minor / 6),
        fx_rate: Decimal::new(1_725_639_752, 12),
        fee: Money::new(Currency::Khr, amount_minor / 100),
        status: Status::Approved,
        at: Timestamp::from_nanos(1_771_200_000_000_000_000 + i * 1_000_000),
    }
}

/// How one payment is broken (the ground truth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injection {
    None,
    Declined,
    MissingAtNetwork,
    MissingAtSwitch,
    DuplicateOurs,
    DuplicateTheirs,
    RoundingMismatch,
    LargeMismatch,
    LatePresentment,
    TimeoutButApproved,
    ReversalWithoutOriginal,
    StatusMismatch,
    ReversedTogether,
    /// Declined at the switch, absent from the network's file: no break.
    DeclinedOursOnly,
    /// Timed out at the switch, absent from the network's file: no break.
    TimedOutOursOnly,
    /// Declined in the network's file, never seen by the switch: no break.
    DeclinedTheirsOnly,
    /// Declined at the switch, approved in the network's file: the network claims it.
    DeclinedButApproved,
    /// Timed out at the switch, declined in the network's file: no money moved, no break.
    TimedOutAndDeclined,
}

const INJECTIONS: [Injection; 18] = [
    Injection::None,
    Injection::Declined,
    Injection::MissingAtNetwork,
    Injection::MissingAtSwitch,
    Injection::DuplicateOurs,
    Injection::DuplicateTheirs,
    Injection::RoundingMismatch,
    Injection::LargeMismatch,
    Injection::LatePresentment,
    Injection::TimeoutButApproved,
    Injection::ReversalWithoutOriginal,
    Injection::StatusMismatch,
    Injection::ReversedTogether,
    Injection::DeclinedOursOnly,
    Injection::TimedOutOursOnly,
    Injection::DeclinedTheirsOnly,
    Injection::DeclinedButApproved,
    Injection::TimedOutAndDeclined,
];

/// A day: our file, the network's, the network's next-day file, and the breaks expected.
struct Day {
    ours: Vec<ClearingRecord>,
    theirs: Vec<ClearingRecord>,
    theirs_next: Vec<ClearingRecord>,
    expected: BTreeSet<(BreakClass, Rrn, Resolution)>,
    /// What the network's file for the day claims from the switch, added up by hand from the
    /// injections' meaning (never by the code under test).
    claimed: i64,
}

fn day(plan: &[(Injection, i64)]) -> Day {
    let mut d = Day {
        ours: Vec::new(),
        theirs: Vec::new(),
        theirs_next: Vec::new(),
        expected: BTreeSet::new(),
        claimed: 0,
    };
    for (i, &(injection, amount)) in plan.iter().enumerate() {
        inject(&mut d, i as u64, injection, amount);
    }
    d
}

/// What the network's file claims for one injected payment of `amount`, by the injection's
/// meaning: the ground truth the receivable must reach.
fn claimed_by_hand(injection: Injection, amount: i64) -> i64 {
    match injection {
        Injection::None
        | Injection::MissingAtSwitch
        | Injection::DuplicateOurs
        | Injection::TimeoutButApproved
        | Injection::DeclinedButApproved => amount,
        Injection::DuplicateTheirs => 2 * amount,
        Injection::RoundingMismatch => amount + 3,
        Injection::LargeMismatch => amount + 5_000,
        // An approved reversal in their file takes its amount back.
        Injection::ReversalWithoutOriginal => -amount,
        Injection::Declined
        | Injection::MissingAtNetwork
        | Injection::LatePresentment
        | Injection::StatusMismatch
        | Injection::ReversedTogether
        | Injection::DeclinedOursOnly
        | Injection::TimedOutOursOnly
        | Injection::DeclinedTheirsOnly
        | Injection::TimedOutAndDeclined => 0,
    }
}

/// Our record's status and theirs (`None`: no record) and the break expected, for the
/// injections that differ only in which side has the payment and with which status.
#[allow(clippy::type_complexity)]
fn statuses(
    injection: Injection,
) -> Option<(Option<Status>, Option<Status>, Option<(BreakClass, Resolution)>)> {
    use Status::{Approved, Declined, TimedOut};
    Some(match injection {
        Injection::None => (Some(Approved), Some(Approved), None),
        Injection::Declined => (Some(Declined), Some(Declined), None),
        Injection::DeclinedOursOnly => (Some(Declined), None, None),
        Injection::TimedOutOursOnly => (Some(TimedOut), None, None),
        Injection::DeclinedTheirsOnly => (None, Some(Declined), None),
        Injection::TimedOutAndDeclined => (Some(TimedOut), Some(Declined), None),
        Injection::MissingAtNetwork => {
            (Some(Approved), None, Some((BreakClass::MissingAtNetwork, Resolution::Reversal)))
        }
        Injection::MissingAtSwitch => {
            (None, Some(Approved), Some((BreakClass::MissingAtSwitch, Resolution::Refund)))
        }
        Injection::TimeoutButApproved => (
            Some(TimedOut),
            Some(Approved),
            Some((BreakClass::TimeoutButApproved, Resolution::Adjustment)),
        ),
        Injection::StatusMismatch => (
            Some(Approved),
            Some(Declined),
            Some((BreakClass::StatusMismatch, Resolution::ManualQueue)),
        ),
        Injection::DeclinedButApproved => (
            Some(Declined),
            Some(Approved),
            Some((BreakClass::StatusMismatch, Resolution::ManualQueue)),
        ),
        _ => return None,
    })
}

/// Adds payment `i` to the day, broken as `injection` says, and records the break expected.
fn inject(d: &mut Day, i: u64, injection: Injection, amount: i64) {
    let ours = record(Party::Switch, i, amount);
    let theirs = record(Party::Upi, i, amount);
    let rrn = ours.rrn;
    let mut expect = |class, resolution| {
        d.expected.insert((class, rrn, resolution));
    };
    d.claimed += claimed_by_hand(injection, amount);
    if let Some((ours_status, theirs_status, expected)) = statuses(injection) {
        if let Some(status) = ours_status {
            d.ours.push(ClearingRecord { status, ..ours });
        }
        if let Some(status) = theirs_status {
            d.theirs.push(ClearingRecord { status, ..theirs });
        }
        if let Some((class, resolution)) = expected {
            expect(class, resolution);
        }
        return;
    }
    match injection {
        Injection::DuplicateOurs => {
            d.ours.push(ours.clone());
            d.ours.push(ours);
            d.theirs.push(theirs);
            expect(BreakClass::Duplicate, Resolution::Reversal);
        }
        Injection::DuplicateTheirs => {
            d.ours.push(ours);
            d.theirs.push(theirs.clone());
            d.theirs.push(theirs);
            expect(BreakClass::Duplicate, Resolution::Refund);
        }
        Injection::RoundingMismatch | Injection::LargeMismatch => {
            let off = if injection == Injection::RoundingMismatch { 3 } else { 5_000 };
            d.ours.push(ours);
            d.theirs
                .push(ClearingRecord { amount: Money::new(Currency::Khr, amount + off), ..theirs });
            let resolution =
                if off <= 10 { Resolution::Adjustment } else { Resolution::ManualQueue };
            expect(BreakClass::AmountMismatch, resolution);
        }
        Injection::LatePresentment => {
            d.ours.push(ours);
            d.theirs_next.push(ClearingRecord { business_date: tomorrow(), ..theirs });
            expect(BreakClass::LatePresentment, Resolution::Adjustment);
        }
        Injection::ReversalWithoutOriginal => {
            // The network reverses a purchase that nobody has.
            let orphan = Rrn::new(700_000_000_000 + i).expect("12 digits");
            d.theirs.push(ClearingRecord {
                kind: MessageKind::Reversal,
                original_rrn: Some(orphan),
                ..theirs
            });
            expect(BreakClass::ReversalWithoutOriginal, Resolution::ManualQueue);
        }
        Injection::ReversedTogether => {
            // A purchase and its reversal (under an RRN of its own), in both files: no break.
            let reversal = |r: &ClearingRecord| ClearingRecord {
                kind: MessageKind::Reversal,
                rrn: Rrn::new(800_000_000_000 + i).expect("12 digits"),
                original_rrn: Some(r.rrn),
                ..r.clone()
            };
            let (ours_reversal, theirs_reversal) = (reversal(&ours), reversal(&theirs));
            d.ours.extend([ours, ours_reversal]);
            d.theirs.extend([theirs, theirs_reversal]);
        }
        _ => unreachable!("{injection:?} is a status case"),
    }
}

/// The switch's books: a receivable and suspense per currency, and a few merchants.
struct Books {
    ledger: Ledger,
    receivable: AccountId,
    suspense: AccountId,
    merchants: Vec<AccountId>,
}

impl ReconBooks for Books {
    fn receivable(&self, currency: Currency) -> Option<AccountId> {
        (currency == Currency::Khr).then_some(self.receivable)
    }

    fn suspense(&self, currency: Currency) -> Option<AccountId> {
        (currency == Currency::Khr).then_some(self.suspense)
    }

    fn payee(&self, record: &ClearingRecord) -> Option<AccountId> {
        self.merchants.get((record.payment_id % u64::from(MERCHANTS)) as usize).copied()
    }
}

/// Opens the books and books our file as the switch did during the day.
fn books_for(ours: &[ClearingRecord]) -> Books {
    let mut ledger = Ledger::default();
    let key = |purpose, holder| AccountKey {
        participant: ParticipantId(0),
        currency: Currency::Khr,
        purpose,
        holder,
    };
    let receivable = ledger.open_account(key(Purpose::Settlement, 0), Limits::NONE).expect("opens");
    let suspense = ledger.open_account(key(Purpose::Suspense, 0), Limits::NONE).expect("opens");
    let merchants = (1..=MERCHANTS)
        .map(|m| {
            ledger
                .open_account(key(Purpose::CustomerFunds, m), Limits::NON_NEGATIVE)
                .expect("opens")
        })
        .collect();
    let mut books = Books { ledger, receivable, suspense, merchants };
    for (n, r) in ours.iter().enumerate() {
        // What the switch booked: approved purchases owed by the network, approved reversals
        // taken back.
        let change = match (r.status, r.kind) {
            (Status::Approved, MessageKind::Purchase) => r.amount.minor,
            (Status::Approved, MessageKind::Reversal | MessageKind::Refund) => -r.amount.minor,
            _ => 0,
        };
        if change == 0 {
            continue;
        }
        let payee = books.payee(r).expect("merchant");
        let change = Money::new(Currency::Khr, change);
        let t = Transfer::posted_signed(
            TransferId(n as u64 + 1),
            receivable,
            payee,
            change,
            r.payment_id,
        )
        .expect("non-zero");
        books.ledger.execute(Command::Transfer(t), r.at).expect("books our day");
    }
    books
}

/// The oracle: exactly the injected breaks; after resolution, the switch agrees with the network.
fn check_day(plan: &[(Injection, i64)]) {
    let d = day(plan);
    let breaks = reconcile(&d.ours, &d.theirs, &d.theirs_next, ReconConfig::default());
    let found: BTreeSet<(BreakClass, Rrn, Resolution)> =
        breaks.iter().map(|b| (b.class, b.rrn, b.resolution)).collect();
    assert_eq!(found, d.expected, "breaks found vs injected");
    assert_eq!(found.len(), breaks.len(), "one break per injection");
    let mut books = books_for(&d.ours);
    for (n, b) in breaks.iter().enumerate() {
        if let Some(command) =
            resolution_command(b, &books, TransferId(1_000_000 + n as u64), 0).expect("accounts")
        {
            check_resolution_accounts(b, &command, &books);
            books.ledger.execute(command, Timestamp::EPOCH).expect("resolution posts");
        }
    }
    books.ledger.check_invariants().expect("ledger invariants");
    let receivable = books.ledger.account(books.receivable).expect("account");
    let owed_by_network = -receivable.balance(); // A debit balance: what the network owes.
    assert_eq!(owed_by_network, i128::from(d.claimed), "the receivable against the hand count");
    assert_eq!(owed_by_network, network_claim(&d.theirs)[Currency::Khr.index()]);
    // Both files survive a round trip through CSV.
    for file in [&d.ours, &d.theirs] {
        assert_eq!(read_clearing_file(&write_clearing_file(file)).as_ref(), Ok(file));
    }
    let summary = ReconSummary::new(&breaks);
    assert_eq!(summary.breaks_count(), breaks.len() as u64);
}

/// Where each resolution posts, by the policy (docs/chart-of-accounts.md): money the switch
/// moved and must move back goes between the receivable and the payee (a purchase the network
/// never saw, a timeout it approved, our own duplicate); everything else waits in suspense.
fn check_resolution_accounts(b: &Break, command: &Command, books: &Books) {
    let Command::Transfer(t) = command else { panic!("{:?}: a resolution is a transfer", b.class) };
    let payee_side = matches!(
        (b.class, b.resolution),
        (BreakClass::MissingAtNetwork, _)
            | (BreakClass::TimeoutButApproved, _)
            | (BreakClass::Duplicate, Resolution::Reversal)
    );
    let record = b.ours.as_ref().or(b.theirs.as_ref()).expect("a break has a record");
    let counterpart =
        if payee_side { books.payee(record).expect("merchant") } else { books.suspense };
    let accounts = [t.debit, t.credit];
    assert!(accounts.contains(&books.receivable), "{:?}: {t:?} misses the receivable", b.class);
    assert!(accounts.contains(&counterpart), "{:?}: {t:?} posts to the wrong account", b.class);
    // The receivable is debited exactly when it grows.
    let grows = b.receivable_change.minor > 0;
    assert_eq!(t.debit == books.receivable, grows, "{:?}: {t:?}", b.class);
    assert_eq!(i128::from(t.amount), i128::from(b.receivable_change.minor).abs());
}

#[test]
fn each_break_class_alone_is_found_and_resolved() {
    for injection in INJECTIONS {
        let plan = [(Injection::None, 40_000), (injection, 52_000), (Injection::None, 8_000)];
        check_day(&plan);
    }
}

#[test]
fn every_break_class_together_is_found_and_resolved() {
    let plan: Vec<(Injection, i64)> = INJECTIONS
        .iter()
        .cycle()
        .take(180)
        .enumerate()
        .map(|(i, &inj)| (inj, 1_000 + 97 * i as i64))
        .collect();
    check_day(&plan);
    let breaks = {
        let d = day(&plan);
        reconcile(&d.ours, &d.theirs, &d.theirs_next, ReconConfig::default())
    };
    let csv = write_breaks(&breaks);
    assert_eq!(csv.lines().count(), breaks.len() + 1);
    assert!(csv.starts_with("class,rrn,kind,side,payment_id"));
    let summary = ReconSummary::new(&breaks).to_string();
    assert!(summary.contains("late_presentment,10,"), "{summary}");
}

#[test]
fn file_order_does_not_change_the_result() {
    let plan: Vec<(Injection, i64)> =
        INJECTIONS.iter().cycle().take(60).map(|&inj| (inj, 7_000)).collect();
    let d = day(&plan);
    let forward = reconcile(&d.ours, &d.theirs, &d.theirs_next, ReconConfig::default());
    let (mut ours, mut theirs) = (d.ours.clone(), d.theirs.clone());
    ours.reverse();
    theirs.rotate_left(17);
    let shuffled = reconcile(&ours, &theirs, &d.theirs_next, ReconConfig::default());
    let keys =
        |bs: &[Break]| bs.iter().map(|b| (b.class, b.rrn, b.receivable_change)).collect::<Vec<_>>();
    assert_eq!(keys(&forward), keys(&shuffled));
}

#[test]
fn clearing_files_refuse_damage_with_line_and_field() {
    let d = day(&[(Injection::None, 5_000), (Injection::None, 6_000)]);
    let text = write_clearing_file(&d.ours);
    let kind =
        |text: &str| read_clearing_file(text).map(|_| ()).map_err(|e| (e.line, e.field, e.kind));
    // Cut short: the trailer is gone.
    let cut = &text[..text.len() - 20];
    assert_eq!(kind(cut).map_err(|e| e.2), Err(ClearingFileErrorKind::Truncated));
    assert_eq!(
        kind(&text[..text.len() - 1]).map_err(|e| e.2),
        Err(ClearingFileErrorKind::Truncated)
    );
    let miscounted = text.replace("#end,records=2", "#end,records=3");
    assert_eq!(
        kind(&miscounted),
        Err((4, None, ClearingFileErrorKind::CountMismatch { declared: 3, found: 2 }))
    );
    // Amounts: not a number, negative, at the i64 extremes, above the largest payment.
    for bad in ["5x00", "-5000", "9223372036854775807", "-9223372036854775808", "1000000000000"] {
        let bad_amount = text.replacen(",KHR,5000,", &format!(",KHR,{bad},"), 1);
        assert_eq!(
            kind(&bad_amount),
            Err((2, Some("amount_minor"), ClearingFileErrorKind::Amount(bad.into()))),
            "{bad}"
        );
    }
    let bad_fee = text.replacen(",KHR,50,approved", ",KHR,-1,approved", 1);
    assert!(matches!(
        kind(&bad_fee),
        Err((2, Some("fee_minor"), ClearingFileErrorKind::Amount(_)))
    ));
    // Lines ended CRLF read as the same records.
    assert_eq!(read_clearing_file(&text.replace('\n', "\r\n")), read_clearing_file(&text));
    let bad_rrn = text.replacen("600000000001", "60000000001", 1);
    assert!(matches!(kind(&bad_rrn), Err((3, Some("rrn"), _))));
    let bad_header = text.replacen("party,", "parti,", 1);
    assert_eq!(kind(&bad_header), Err((1, None, ClearingFileErrorKind::Header)));
    let short_row = text.replacen(",approved,", ",", 1);
    assert!(matches!(kind(&short_row), Err((2, None, ClearingFileErrorKind::Csv(_)))));
    assert_eq!(read_clearing_file(&write_clearing_file(&[] as &[ClearingRecord])), Ok(vec![]));
}

#[test]
fn a_currency_mismatch_is_its_own_class_and_never_a_rounding_adjustment() {
    let ours = record(Party::Switch, 1, 40_000);
    // One minor unit apart, well inside the rounding tolerance, but in another currency.
    let theirs = ClearingRecord {
        amount: Money::new(Currency::Usd, 40_001),
        ..record(Party::Upi, 1, 40_000)
    };
    let breaks = reconcile(&[ours], &[theirs], &[], ReconConfig::default());
    let found: Vec<(BreakClass, Side, Resolution, Money)> =
        breaks.iter().map(|b| (b.class, b.side, b.resolution, b.receivable_change)).collect();
    assert_eq!(
        found,
        [
            (
                BreakClass::CurrencyMismatch,
                Side::Ours,
                Resolution::ManualQueue,
                Money::new(Currency::Khr, -40_000)
            ),
            (
                BreakClass::CurrencyMismatch,
                Side::Theirs,
                Resolution::ManualQueue,
                Money::new(Currency::Usd, 40_001)
            ),
        ]
    );
    let summary = ReconSummary::new(&breaks);
    assert!(summary.to_string().contains("currency_mismatch,2,40000,40001,0"), "{summary}");
}

fn injection() -> impl Strategy<Value = Injection> {
    prop_oneof![6 => Just(Injection::None), 4 => prop::sample::select(INJECTIONS.to_vec())]
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(128))]

    #[test]
    fn random_days_reconcile_exactly(plan in prop::collection::vec((injection(), 1i64..5_000_000), 0..150)) {
        check_day(&plan);
    }
}

#[test]
fn resolution_names_in_files_are_fixed() {
    // The breaks file is read by people and by other tools: the names are a format.
    let all =
        [Resolution::Reversal, Resolution::Refund, Resolution::Adjustment, Resolution::ManualQueue];
    assert_eq!(all.map(Resolution::name), ["reversal", "refund", "adjustment", "manual_queue"]);
}
