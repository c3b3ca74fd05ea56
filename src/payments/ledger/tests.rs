//! Ledger tests.
//!
//! Goal: every rejection fires in its documented order; holds, posts, voids and expiries move
//! exactly the amounts they should; retries change nothing; linked chains are all or nothing;
//! `check_invariants` catches each kind of corruption; and under random sequences of all of
//! these the ledger agrees with an independent reference model after every step.
//! Method: a small chart of accounts, one `check` helper, canaries that corrupt the ledger on
//! purpose, and a proptest against `Model` (a plain map of balances and holds).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::payments::fx::{FxQuote, QuoteId, RateSource, RoundingRule};
use crate::payments::time::Span;

const KHR: Currency = Currency::Khr;
const USD: Currency = Currency::Usd;

/// Accounts: 0 external KHR, 1 wallet A KHR (floor 0), 2 wallet B KHR (floor 0, ceiling
/// 1 000 000), 3 wallet USD (floor 0), 4 fee income KHR, 5 external USD.
fn ledger() -> Ledger {
    let mut ledger = Ledger::default();
    let accounts = [
        (KHR, Purpose::External, 0, Limits::NONE),
        (KHR, Purpose::CustomerFunds, 1, Limits::NON_NEGATIVE),
        (KHR, Purpose::CustomerFunds, 2, Limits { floor: Some(0), ceiling: Some(1_000_000) }),
        (USD, Purpose::CustomerFunds, 3, Limits::NON_NEGATIVE),
        (KHR, Purpose::FeeIncome, 0, Limits::NONE),
        (USD, Purpose::External, 0, Limits::NONE),
    ];
    for (currency, purpose, holder, limits) in accounts {
        let key = AccountKey { participant: ParticipantId(1), currency, purpose, holder };
        ledger.open_account(key, limits).expect("opens");
    }
    ledger
}

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_nanos(1_771_200_000 * 1_000_000_000 + seconds * 1_000_000_000)
}

fn transfer(id: u64, debit: u32, credit: u32, amount: u64, currency: Currency) -> Command {
    Command::Transfer(Transfer {
        id: TransferId(id),
        debit: AccountId(debit),
        credit: AccountId(credit),
        amount,
        currency,
        pending_until: None,
        reference: 0,
    })
}

fn pending(id: u64, debit: u32, credit: u32, amount: u64, until: Timestamp) -> Command {
    match transfer(id, debit, credit, amount, KHR) {
        Command::Transfer(t) => Command::Transfer(Transfer { pending_until: Some(until), ..t }),
        _ => unreachable!(),
    }
}

fn post(id: u64, pending: u64, amount: Option<u64>) -> Command {
    Command::Post { id: TransferId(id), pending: TransferId(pending), amount }
}

fn void(id: u64, pending: u64) -> Command {
    Command::Void { id: TransferId(id), pending: TransferId(pending) }
}

/// Executes `command` at `now`, expects `expected`, and checks every invariant afterwards.
fn check(
    ledger: &mut Ledger,
    command: Command,
    now: Timestamp,
    expected: Result<(), TransferReject>,
) {
    assert_eq!(ledger.execute(command, now), expected, "{command:?}");
    assert_eq!(ledger.check_invariants(), Ok(()));
}

/// (balance, debits pending, credits pending) of an account.
fn state(ledger: &Ledger, id: u32) -> (i128, u64, u64) {
    let a = ledger.account(AccountId(id)).expect("account");
    (a.balance(), a.debits_pending, a.credits_pending)
}

#[test]
fn transfer_rejections_in_precedence_order() {
    use TransferReject as R;
    let mut l = ledger();
    let now = at(0);
    check(&mut l, transfer(1, 0, 1, 100, KHR), now, Ok(()));
    check(&mut l, transfer(2, 1, 1, 0, USD), now, Err(R::AccountsSame));
    check(&mut l, transfer(3, 99, 98, 0, USD), now, Err(R::DebitAccountNotFound));
    check(&mut l, transfer(4, 1, 98, 0, USD), now, Err(R::CreditAccountNotFound));
    check(&mut l, transfer(5, 1, 3, 0, USD), now, Err(R::AmountZero));
    check(&mut l, transfer(6, 1, 3, 10, KHR), now, Err(R::CurrencyMismatch));
    check(&mut l, transfer(7, 1, 2, 10, USD), now, Err(R::CurrencyMismatch));
    check(&mut l, pending(8, 1, 2, 10_000, now), now, Err(R::ExpiryNotInFuture));
    check(&mut l, transfer(9, 0, 2, u64::MAX, KHR), now, Err(R::Overflow));
    check(&mut l, transfer(10, 1, 2, 101, KHR), now, Err(R::InsufficientFunds));
    check(&mut l, transfer(11, 0, 2, 1_000_001, KHR), now, Err(R::LimitExceeded));
    check(&mut l, transfer(12, 0, 2, 1_000_000, KHR), now, Ok(()));
    // Both limits broken: the debit side is reported.
    check(&mut l, transfer(13, 1, 2, 1_000, KHR), now, Err(R::InsufficientFunds));
    assert_eq!(state(&l, 1), (100, 0, 0));
    assert_eq!(state(&l, 2), (1_000_000, 0, 0));
}

#[test]
fn holds_post_in_part_void_and_expire() {
    use TransferReject as R;
    let mut l = ledger();
    check(&mut l, transfer(1, 0, 1, 100, KHR), at(0), Ok(()));
    check(&mut l, pending(2, 1, 2, 60, at(10)), at(1), Ok(()));
    assert_eq!(state(&l, 1), (100, 60, 0));
    check(&mut l, pending(3, 1, 2, 50, at(10)), at(1), Err(R::InsufficientFunds));
    check(&mut l, post(4, 2, Some(61)), at(2), Err(R::AmountExceedsPending));
    check(&mut l, post(5, 2, Some(0)), at(2), Err(R::AmountZero));
    check(&mut l, post(6, 2, Some(30)), at(2), Ok(()));
    assert_eq!(
        (state(&l, 1), state(&l, 2)),
        ((70, 0, 0), (30, 0, 0)),
        "the rest of the hold is released"
    );
    check(&mut l, post(7, 2, None), at(3), Err(R::PendingAlreadyPosted));
    check(&mut l, void(8, 2), at(3), Err(R::PendingAlreadyPosted));
    check(&mut l, pending(9, 1, 2, 20, at(20)), at(3), Ok(()));
    check(&mut l, void(10, 9), at(4), Ok(()));
    check(&mut l, post(11, 9, None), at(4), Err(R::PendingAlreadyVoided));
    check(&mut l, post(12, 1, None), at(4), Err(R::PendingNotFound)); // A posted transfer.
    check(&mut l, post(13, 3, None), at(4), Err(R::PendingNotFound)); // A refused pending.
    check(&mut l, post(14, 999, None), at(4), Err(R::PendingNotFound));
    // Expiry: at its time a hold can no longer be posted, and its amount comes back.
    check(&mut l, pending(15, 1, 2, 40, at(30)), at(5), Ok(()));
    check(&mut l, pending(16, 1, 2, 30, at(31)), at(5), Ok(()));
    assert_eq!(state(&l, 1), (70, 70, 0));
    check(&mut l, post(17, 15, None), at(30), Err(R::PendingExpired));
    assert_eq!(state(&l, 1), (70, 30, 0));
    assert_eq!(l.expire(at(30)), 0, "15 already expired; 16 not yet");
    assert_eq!(l.expire(at(31)), 1);
    assert_eq!(state(&l, 1), (70, 0, 0));
    assert_eq!(l.record(TransferId(16)).map(|r| r.state), Some(PendingState::Expired));
    check(&mut l, void(18, 16), at(32), Err(R::PendingExpired));
}

#[test]
fn retries_return_the_first_outcome_and_change_nothing() {
    use TransferReject as R;
    let mut l = ledger();
    check(&mut l, transfer(1, 0, 1, 100, KHR), at(0), Ok(()));
    check(&mut l, transfer(1, 0, 1, 100, KHR), at(1), Ok(()));
    assert_eq!(state(&l, 1), (100, 0, 0), "applied once");
    check(&mut l, transfer(2, 1, 2, 500, KHR), at(1), Err(R::InsufficientFunds));
    check(&mut l, transfer(3, 0, 1, 1_000, KHR), at(2), Ok(()));
    check(&mut l, transfer(2, 1, 2, 500, KHR), at(3), Err(R::InsufficientFunds));
    assert_eq!(state(&l, 2), (0, 0, 0), "a retried rejection stays rejected");
    check(&mut l, transfer(1, 0, 1, 101, KHR), at(4), Err(R::IdReusedWithDifferentFields));
    check(&mut l, post(1, 1, None), at(4), Err(R::IdReusedWithDifferentFields));
    assert_eq!(l.records_count(), 3, "retries and reused ids add no records");
}

fn conversion() -> Conversion {
    Conversion {
        quote: QuoteId(1),
        exchanged: Money::new(USD, 10_000),
        spread: Money::new(USD, 80),
        received: Money::new(KHR, 402_500),
    }
}

#[test]
fn linked_chains_are_all_or_nothing() {
    use TransferReject as R;
    let mut l = ledger();
    let position_usd = l.open_account(key(USD, Purpose::FxPosition), Limits::NONE).expect("opens");
    let position_khr = l.open_account(key(KHR, Purpose::FxPosition), Limits::NONE).expect("opens");
    let fee_usd = l.open_account(key(USD, Purpose::FeeIncome), Limits::NONE).expect("opens");
    check(&mut l, transfer(1, 5, 3, 50_000, USD), at(0), Ok(()));
    let accounts = ConversionAccounts {
        payer: AccountId(3),
        position_from: position_usd,
        fee_income: fee_usd,
        position_to: position_khr,
        payee: AccountId(1),
    };
    let chain = conversion_commands(&conversion(), accounts, TransferId(100), 7);
    assert_eq!(chain.len(), 3);
    assert_eq!(l.execute_linked(&chain, at(1)), Ok(()));
    assert_eq!(l.check_invariants(), Ok(()));
    assert_eq!(state(&l, 3), (50_000 - 10_080, 0, 0));
    assert_eq!(l.account(fee_usd).map(Account::balance), Some(80), "the spread is its own entry");
    assert_eq!(l.account(position_khr).map(Account::balance), Some(-402_500));
    assert_eq!(l.account(position_usd).map(Account::balance), Some(10_000));
    // The same chain again: its first outcome, nothing applied twice.
    assert_eq!(l.execute_linked(&chain, at(2)), Ok(()));
    assert_eq!(state(&l, 3), (39_920, 0, 0));
    // A chain whose last leg breaks wallet B's ceiling: nothing moves, every member recorded.
    let too_big = Conversion { received: Money::new(KHR, 2_000_000), ..conversion() };
    let failing = conversion_commands(
        &too_big,
        ConversionAccounts { payee: AccountId(2), ..accounts },
        TransferId(200),
        8,
    );
    assert_eq!(l.execute_linked(&failing, at(3)), Err((2, R::LimitExceeded)));
    assert_eq!(l.check_invariants(), Ok(()));
    assert_eq!((state(&l, 3), state(&l, 2)), ((39_920, 0, 0), (0, 0, 0)));
    assert_eq!(l.record(TransferId(200)).map(|r| r.outcome), Some(Err(R::LinkedEventFailed)));
    assert_eq!(l.record(TransferId(202)).map(|r| r.outcome), Some(Err(R::LimitExceeded)));
    assert_eq!(
        l.execute_linked(&failing, at(4)),
        Err((2, R::LimitExceeded)),
        "a retry gets the same answer"
    );
    let mixed = [failing[0], transfer(300, 0, 1, 1, KHR)];
    assert_eq!(l.execute_linked(&mixed, at(5)), Err((0, R::IdReusedWithDifferentFields)));
    assert_eq!(l.record(TransferId(300)), None, "a refused chain records nothing new");
}

#[test]
fn a_failed_chain_undoes_holds_posts_and_voids() {
    let mut l = ledger();
    check(&mut l, transfer(1, 0, 1, 1_000, KHR), at(0), Ok(()));
    check(&mut l, pending(2, 1, 2, 100, at(50)), at(0), Ok(()));
    check(&mut l, pending(3, 1, 2, 100, at(50)), at(0), Ok(()));
    let before = (state(&l, 1), state(&l, 2));
    let chain = [
        post(10, 2, Some(40)),
        void(11, 3),
        pending(12, 1, 2, 300, at(60)),
        transfer(13, 1, 2, 5_000, KHR), // Insufficient funds: the whole chain unwinds.
    ];
    assert_eq!(l.execute_linked(&chain, at(1)), Err((3, TransferReject::InsufficientFunds)));
    assert_eq!((state(&l, 1), state(&l, 2)), before);
    assert_eq!(l.check_invariants(), Ok(()));
    assert_eq!(l.record(TransferId(2)).map(|r| r.state), Some(PendingState::Held));
    assert_eq!(l.record(TransferId(3)).map(|r| r.state), Some(PendingState::Held));
    assert_eq!(l.expire(at(60)), 2, "the unwound hold 12 does not expire; 2 and 3 do");
}

fn key(currency: Currency, purpose: Purpose) -> AccountKey {
    AccountKey { participant: ParticipantId(2), currency, purpose, holder: 0 }
}

#[test]
fn accounts_are_unique_and_bounded() {
    let mut l = Ledger::new(LedgerLimits { accounts_max: 2, transfers_max: 2 });
    let k = key(KHR, Purpose::Settlement);
    let id = l.open_account(k, Limits::NON_NEGATIVE).expect("opens");
    assert_eq!(l.account_id(&k), Some(id));
    assert_eq!(l.open_account(k, Limits::NONE), Err(OpenAccountError::Duplicate(k)));
    let bad = Limits { floor: Some(10), ceiling: Some(5) };
    assert_eq!(
        l.open_account(key(USD, Purpose::Settlement), bad),
        Err(OpenAccountError::FloorAboveCeiling)
    );
    l.open_account(key(USD, Purpose::Settlement), Limits::NONE).expect("opens");
    assert_eq!(
        l.open_account(key(KHR, Purpose::Suspense), Limits::NONE),
        Err(OpenAccountError::Full(2))
    );
    l.execute(transfer(1, 0, 1, 1, KHR), at(0)).expect_err("currency mismatch, recorded");
    l.execute(transfer(2, 0, 1, 1, KHR), at(0)).expect_err("recorded");
    assert_eq!(l.execute(transfer(3, 0, 1, 1, KHR), at(0)), Err(TransferReject::LedgerFull));
}

/// Canaries: corrupt the ledger on purpose and require `check_invariants` to say so.
#[test]
fn invariant_checks_catch_corruption() {
    let healthy = {
        let mut l = ledger();
        check(&mut l, transfer(1, 0, 1, 500, KHR), at(0), Ok(()));
        check(&mut l, pending(2, 1, 2, 200, at(10)), at(0), Ok(()));
        l
    };
    let mut l = healthy.clone();
    l.accounts[1].credits_posted += 1;
    assert!(matches!(
        l.check_invariants(),
        Err(InvariantBreach::PostedUnbalanced { currency: Currency::Khr, .. })
    ));
    let mut l = healthy.clone();
    l.accounts[2].credits_pending -= 1;
    assert!(matches!(l.check_invariants(), Err(InvariantBreach::PendingUnbalanced { .. })));
    let mut l = healthy.clone();
    l.accounts[1].debits_posted += 50; // Balanced by a matching credit elsewhere...
    l.accounts[4].credits_posted += 50; // ...but no transfer says so.
    assert_eq!(l.check_invariants(), Err(InvariantBreach::LogDisagrees(AccountId(1))));
    // A hold's pending totals moved to other accounts of its currency: the totals still
    // balance, but the held transfer in the log says otherwise, at the first account it names
    // or the first that gained.
    let mut l = healthy.clone();
    l.accounts[1].debits_pending -= 200;
    l.accounts[0].debits_pending += 200;
    assert_eq!(l.check_invariants(), Err(InvariantBreach::LogDisagrees(AccountId(0))));
    let mut l = healthy.clone();
    l.accounts[2].credits_pending -= 200;
    l.accounts[4].credits_pending += 200;
    assert_eq!(l.check_invariants(), Err(InvariantBreach::LogDisagrees(AccountId(2))));
    let mut l = healthy.clone();
    l.accounts[1].debits_posted += 400;
    l.accounts[0].credits_posted += 400;
    assert_eq!(l.check_invariants(), Err(InvariantBreach::FloorBroken(AccountId(1))));
    let mut l = healthy;
    l.accounts[2].credits_posted += 2_000_000;
    l.accounts[0].debits_posted += 2_000_000;
    assert_eq!(l.check_invariants(), Err(InvariantBreach::CeilingBroken(AccountId(2))));
}

#[test]
fn conversion_commands_skip_a_zero_spread() {
    let c = Conversion { spread: Money::new(USD, 0), ..conversion() };
    let accounts = ConversionAccounts {
        payer: AccountId(3),
        position_from: AccountId(5),
        fee_income: AccountId(4),
        position_to: AccountId(0),
        payee: AccountId(1),
    };
    let ids: Vec<u64> =
        conversion_commands(&c, accounts, TransferId(10), 1).iter().map(|c| c.id().0).collect();
    assert_eq!(ids, vec![10, 12]);
    let _unused: Option<FxQuote> = None;
    let _ = (RateSource::Mid, RoundingRule::TOWARD_PROVIDER, Span::from_secs(1));
}

/// Inserts `ids` in order (position = order) and checks every lookup, present and absent.
fn check_index(ids: &[u64]) {
    let mut index = super::index::IdIndex::with_capacity(4);
    let mut expected = BTreeMap::new();
    for (position, &id) in ids.iter().enumerate() {
        if expected.contains_key(&id) {
            continue;
        }
        index.insert(id, position as u32);
        expected.insert(id, position as u32);
    }
    for (&id, &position) in &expected {
        assert_eq!(index.get(id), Some(position), "id {id}");
        if !expected.contains_key(&(id ^ 1)) {
            assert_eq!(index.get(id ^ 1), None, "absent id {}", id ^ 1);
        }
    }
}

#[test]
fn the_id_index_holds_every_pattern() {
    let dense: Vec<u64> = (1..50_000).collect();
    check_index(&dense);
    // Below the first id, far above it, then dense ids that grow the window over them.
    let mut mixed = vec![1_000, 5, u64::MAX, 1 << 40, 1_000_000];
    mixed.extend(1_001..200_000);
    check_index(&mixed);
    // Strided and shifted patterns, and a pseudo-random scatter.
    check_index(&(0..20_000).map(|i| i << 32).collect::<Vec<_>>());
    check_index(&(0..20_000).map(|i| 7 + i * 4096).collect::<Vec<_>>());
    let mut state = 1u64;
    let scatter: Vec<u64> = (0..20_000)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        })
        .collect();
    check_index(&scatter);
}

// ---- The reference model ----------------------------------------------------------------------

/// The same ledger, written as plainly as possible: balances in a map, holds in a map.
#[derive(Clone, Debug, Default)]
struct Model {
    /// Account → (currency, limits, balance, pending debits, pending credits).
    accounts: BTreeMap<u32, (Currency, Limits, i128, i128, i128)>,
    /// Id → (command, first outcome).
    seen: BTreeMap<u64, (Command, Result<(), TransferReject>)>,
    /// Pending id → (debit, credit, amount, until, held?).
    holds: BTreeMap<u64, (u32, u32, u64, Timestamp, bool)>,
    /// Released pending id → what a later post or void of it gets.
    finals: BTreeMap<u64, TransferReject>,
}

impl Model {
    fn new(ledger: &Ledger) -> Self {
        let mut model = Model::default();
        for (i, a) in ledger.accounts().iter().enumerate() {
            model.accounts.insert(i as u32, (a.key.currency, a.limits(), 0, 0, 0));
        }
        model
    }

    fn transfer(&mut self, t: &Transfer, now: Timestamp) -> Result<(), TransferReject> {
        use TransferReject as R;
        if t.debit == t.credit {
            return Err(R::AccountsSame);
        }
        let d = *self.accounts.get(&t.debit.0).ok_or(R::DebitAccountNotFound)?;
        let c = *self.accounts.get(&t.credit.0).ok_or(R::CreditAccountNotFound)?;
        let amount = i128::from(t.amount);
        if amount == 0 {
            return Err(R::AmountZero);
        }
        if d.0 != t.currency || c.0 != t.currency {
            return Err(R::CurrencyMismatch);
        }
        if t.pending_until.is_some_and(|u| u <= now) {
            return Err(R::ExpiryNotInFuture);
        }
        if d.1.floor.is_some_and(|f| d.2 - d.3 - amount < i128::from(f)) {
            return Err(R::InsufficientFunds);
        }
        if c.1.ceiling.is_some_and(|ceiling| c.2 + c.4 + amount > i128::from(ceiling)) {
            return Err(R::LimitExceeded);
        }
        let (debit, credit) = (t.debit.0, t.credit.0);
        if let Some(until) = t.pending_until {
            self.accounts.get_mut(&debit).expect("exists").3 += amount;
            self.accounts.get_mut(&credit).expect("exists").4 += amount;
            self.holds.insert(t.id.0, (debit, credit, t.amount, until, true));
        } else {
            self.accounts.get_mut(&debit).expect("exists").2 -= amount;
            self.accounts.get_mut(&credit).expect("exists").2 += amount;
        }
        Ok(())
    }

    fn release(&mut self, id: u64) {
        let hold = self.holds.get_mut(&id).expect("hold");
        assert!(hold.4);
        hold.4 = false;
        let (debit, credit, amount) = (hold.0, hold.1, i128::from(hold.2));
        self.accounts.get_mut(&debit).expect("exists").3 -= amount;
        self.accounts.get_mut(&credit).expect("exists").4 -= amount;
    }

    fn settle_hold(
        &mut self,
        pending: u64,
        post: Option<Option<u64>>,
        now: Timestamp,
    ) -> Result<(), TransferReject> {
        use TransferReject as R;
        let &(debit, credit, held, until, is_held) =
            self.holds.get(&pending).ok_or(R::PendingNotFound)?;
        if !is_held {
            return Err(self.final_state_reject(pending));
        }
        if until <= now {
            self.release(pending);
            self.finals.insert(pending, R::PendingExpired);
            return Err(R::PendingExpired);
        }
        match post {
            Some(amount) => {
                let amount = amount.unwrap_or(held);
                if amount == 0 {
                    return Err(R::AmountZero);
                }
                if amount > held {
                    return Err(R::AmountExceedsPending);
                }
                self.release(pending);
                self.accounts.get_mut(&debit).expect("exists").2 -= i128::from(amount);
                self.accounts.get_mut(&credit).expect("exists").2 += i128::from(amount);
                self.finals.insert(pending, R::PendingAlreadyPosted);
            }
            None => {
                self.release(pending);
                self.finals.insert(pending, R::PendingAlreadyVoided);
            }
        }
        Ok(())
    }

    fn final_state_reject(&self, pending: u64) -> TransferReject {
        self.finals.get(&pending).copied().expect("a released hold has a final state")
    }

    fn apply(&mut self, command: &Command, now: Timestamp) -> Result<(), TransferReject> {
        match command {
            Command::Transfer(t) => self.transfer(t, now),
            Command::Post { pending, amount, .. } => {
                self.settle_hold(pending.0, Some(*amount), now)
            }
            Command::Void { pending, .. } => self.settle_hold(pending.0, None, now),
        }
    }

    fn execute(&mut self, command: Command, now: Timestamp) -> Result<(), TransferReject> {
        if let Some((previous, outcome)) = self.seen.get(&command.id().0) {
            return if *previous == command {
                *outcome
            } else {
                Err(TransferReject::IdReusedWithDifferentFields)
            };
        }
        let outcome = self.apply(&command, now);
        self.seen.insert(command.id().0, (command, outcome));
        outcome
    }

    fn execute_linked(
        &mut self,
        commands: &[Command],
        now: Timestamp,
    ) -> Result<(), (usize, TransferReject)> {
        let mut scratch = self.clone();
        for (i, command) in commands.iter().enumerate() {
            if let Err(reject) = scratch.apply(command, now) {
                // Nothing of the chain stands, except that the failing command may have found
                // its hold expired, and expiry does not depend on the chain.
                if let (
                    TransferReject::PendingExpired,
                    Command::Post { pending, .. } | Command::Void { pending, .. },
                ) = (reject, command)
                    && self.holds.get(&pending.0).is_some_and(|h| h.4)
                {
                    self.release(pending.0);
                    self.finals.insert(pending.0, TransferReject::PendingExpired);
                }
                for (j, command) in commands.iter().enumerate() {
                    let outcome =
                        Err(if j == i { reject } else { TransferReject::LinkedEventFailed });
                    self.seen.insert(command.id().0, (*command, outcome));
                }
                return Err((i, reject));
            }
            scratch.seen.insert(command.id().0, (*command, Ok(())));
        }
        *self = scratch;
        Ok(())
    }

    fn expire(&mut self, now: Timestamp) {
        let due: Vec<u64> =
            self.holds.iter().filter(|(_, h)| h.4 && h.3 <= now).map(|(id, _)| *id).collect();
        for id in due {
            self.release(id);
            self.finals.insert(id, TransferReject::PendingExpired);
        }
    }
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(256))]

    #[test]
    fn the_ledger_agrees_with_the_reference_model(ops in prop::collection::vec(op(), 1..150)) {
        let mut ledger = ledger();
        let mut model = Model::new(&ledger);
        let mut now = at(0);
        let mut executed: Vec<Command> = Vec::new();
        for op in ops {
            match op {
                Op::One(spec) => {
                    let command = spec.at(now);
                    let got = ledger.execute(command, now);
                    let want = model.execute(command, now);
                    prop_assert_eq!(got, want, "{:?}", command);
                    executed.push(command);
                }
                Op::Retry(index) => {
                    let Some(&command) = executed.get(index.index(executed.len().max(1))) else { continue };
                    prop_assert_eq!(ledger.execute(command, now), model.execute(command, now), "retry {:?}", command);
                }
                Op::Linked(specs) => {
                    let commands: Vec<Command> = specs.iter().map(|s| s.at(now)).collect();
                    let ids: Vec<u64> = commands.iter().map(|c| c.id().0).collect();
                    let fresh = ids.iter().all(|id| ledger.record(TransferId(*id)).is_none())
                        && ids.iter().collect::<std::collections::BTreeSet<_>>().len() == ids.len();
                    if !fresh {
                        continue;
                    }
                    let got = ledger.execute_linked(&commands, now);
                    let want = model.execute_linked(&commands, now);
                    prop_assert_eq!(got, want, "{:?}", commands);
                }
                Op::Advance(seconds) => now = now.checked_add(Span::from_secs(seconds)).expect("in range"),
                Op::Expire => {
                    ledger.expire(now);
                    model.expire(now);
                }
            }
            prop_assert_eq!(ledger.check_invariants(), Ok(()));
            for (id, &(_, _, balance, debits_pending, credits_pending)) in &model.accounts {
                let a = ledger.account(AccountId(*id)).expect("account");
                prop_assert_eq!(
                    (a.balance(), i128::from(a.debits_pending), i128::from(a.credits_pending)),
                    (balance, debits_pending, credits_pending),
                    "account {}", id
                );
            }
        }
    }
}

/// A command whose hold expires `ttl` seconds after the moment it is executed.
#[derive(Clone, Copy, Debug)]
enum Spec {
    Transfer { id: u64, debit: u32, credit: u32, amount: u64, currency: Currency, ttl: Option<u64> },
    Post { id: u64, pending: u64, amount: Option<u64> },
    Void { id: u64, pending: u64 },
}

impl Spec {
    fn at(self, now: Timestamp) -> Command {
        match self {
            Spec::Transfer { id, debit, credit, amount, currency, ttl } => {
                let Command::Transfer(t) = transfer(id, debit, credit, amount, currency) else {
                    unreachable!("a transfer")
                };
                let pending_until =
                    ttl.map(|s| now.checked_add(Span::from_secs(s)).expect("in range"));
                Command::Transfer(Transfer { pending_until, ..t })
            }
            Spec::Post { id, pending, amount } => post(id, pending, amount),
            Spec::Void { id, pending } => void(id, pending),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    One(Spec),
    Retry(prop::sample::Index),
    Linked(Vec<Spec>),
    Advance(u64),
    Expire,
}

/// Amounts that land on limits: small values around typical balances, and the wallet B ceiling.
fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => prop::sample::select(vec![0, 1, 2, 3, 5, 10, 20, 50, 99, 100, 101, 200, 999_999, 1_000_000]),
        1 => 0u64..1_500_000,
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let id = 1u64..40;
    // Account 0 (external) is a likely debit so that wallets get funded; 6 is no account.
    let debit = prop_oneof![3 => Just(0u32), 4 => 1u32..4, 1 => 4u32..7];
    let credit = prop_oneof![5 => 1u32..4, 1 => 0u32..7];
    let transfer = (
        id.clone(),
        debit,
        credit,
        amount(),
        prop::bool::weighted(0.85),
        prop::option::weighted(0.5, 0u64..6),
    )
        .prop_map(|(id, debit, credit, amount, khr, ttl)| {
            let currency = if khr { KHR } else { USD };
            Spec::Transfer { id, debit, credit, amount, currency, ttl }
        });
    prop_oneof![
        6 => transfer,
        3 => (id.clone(), id.clone(), prop::option::of(amount())).prop_map(|(id, pending, amount)| Spec::Post { id, pending, amount }),
        1 => (id.clone(), id).prop_map(|(id, pending)| Spec::Void { id, pending }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => spec().prop_map(Op::One),
        2 => any::<prop::sample::Index>().prop_map(Op::Retry),
        2 => prop::collection::vec(spec(), 2..4).prop_map(Op::Linked),
        3 => (0u64..3).prop_map(Op::Advance),
        1 => Just(Op::Expire),
    ]
}

// ---- Retention --------------------------------------------------------------------------------

#[test]
fn the_id_index_forgets_removed_ids_and_stays_small() {
    // Dense ids arriving while the oldest leave: the window moves on.
    let mut index = super::index::IdIndex::with_capacity(4);
    for id in 0..1_000_000u64 {
        index.insert(id, id as u32);
        if id >= 1_000 {
            index.remove(id - 1_000);
        }
    }
    assert_eq!(index.get(998_999), None);
    assert_eq!(index.get(999_000), Some(999_000));
    assert_eq!(index.get(999_999), Some(999_999));
    assert!(index.memory_bytes() < 2_000_000, "{} bytes", index.memory_bytes());
    // Scattered ids (the hash table): remove every other one, the rest are still found.
    let mut index = super::index::IdIndex::with_capacity(4);
    let mut state = 7u64;
    let scatter: Vec<u64> = (0..20_000)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            state | 1 << 63
        })
        .collect();
    for (position, &id) in scatter.iter().enumerate() {
        index.insert(id, position as u32);
    }
    for &id in scatter.iter().step_by(2) {
        index.remove(id);
    }
    for (position, &id) in scatter.iter().enumerate() {
        let want = (position % 2 == 1).then_some(position as u32);
        assert_eq!(index.get(id), want, "id {id}");
    }
    index.remove(12_345); // absent: nothing happens
}

#[test]
fn retirement_keeps_balances_holds_and_the_window() {
    let mut l = ledger();
    check(&mut l, transfer(1, 0, 1, 1_000, KHR), at(0), Ok(()));
    check(&mut l, transfer(2, 1, 2, 300, KHR), at(10), Ok(()));
    check(&mut l, transfer(3, 1, 2, 5_000, KHR), at(10), Err(TransferReject::InsufficientFunds));
    check(&mut l, pending(4, 1, 2, 100, at(10_000)), at(20), Ok(()));
    check(&mut l, pending(5, 1, 2, 50, at(10_000)), at(20), Ok(()));
    check(&mut l, post(6, 5, None), at(30), Ok(()));
    check(&mut l, transfer(7, 1, 2, 1, KHR), at(100), Ok(()));
    let before = (state(&l, 1), state(&l, 2));

    // Everything before 50 s goes: ids 1, 2, 3, 5, 6 are retired, the held 4 is parked.
    assert_eq!(l.retire(at(50)), 5);
    assert_eq!(l.check_invariants(), Ok(()));
    assert_eq!((state(&l, 1), state(&l, 2)), before, "retirement moves no money");
    assert_eq!((l.records_count(), l.written_count(), l.retired_count()), (2, 7, 5));
    // Inside the window: a replay gets its first outcome.
    check(&mut l, transfer(7, 1, 2, 1, KHR), at(110), Ok(()));
    // Behind it: refused, nothing applied, nothing recorded.
    check(&mut l, transfer(2, 1, 2, 300, KHR), at(110), Err(TransferReject::IdRetired));
    check(&mut l, transfer(3, 1, 2, 5, KHR), at(110), Err(TransferReject::IdRetired));
    check(&mut l, post(8, 5, None), at(110), Err(TransferReject::PendingRetired));
    let chain = [transfer(9, 0, 1, 5, KHR), transfer(6, 0, 1, 5, KHR)];
    assert_eq!(l.execute_linked(&chain, at(110)), Err((1, TransferReject::IdRetired)));
    assert_eq!(l.records_count(), 3, "post 8 is a new command, recorded; the retired ids are not");
    // The parked hold is still a hold: posted in part, then retired once final.
    check(&mut l, post(10, 4, Some(40)), at(120), Ok(()));
    assert_eq!(state(&l, 1), (1_000 - 300 - 50 - 1 - 40, 0, 0));
    check(&mut l, post(11, 4, None), at(130), Err(TransferReject::PendingAlreadyPosted));
    assert_eq!(l.retire(at(125)), 4, "the final hold, 7, and the posts 8 and 10");
    assert_eq!(l.check_invariants(), Ok(()));
    assert_eq!(l.retire(at(125)), 0, "nothing twice");
    check(&mut l, post(12, 4, None), at(140), Err(TransferReject::PendingRetired));
    // A new id above everything retired is new.
    check(&mut l, transfer(20, 1, 2, 9, KHR), at(150), Ok(()));
}

#[test]
fn a_parked_hold_expires_and_the_broken_log_is_still_caught() {
    let mut l = ledger();
    check(&mut l, transfer(1, 0, 1, 1_000, KHR), at(0), Ok(()));
    check(&mut l, pending(2, 1, 2, 100, at(60)), at(1), Ok(()));
    assert_eq!(l.retire(at(30)), 1);
    assert_eq!(state(&l, 1).1, 100, "still held");
    assert_eq!(l.expire(at(60)), 1);
    assert_eq!(state(&l, 1), (1_000, 0, 0));
    assert_eq!(l.retire(at(30)), 1, "the expired hold leaves the park");
    assert_eq!(l.check_invariants(), Ok(()));
    // The carried-forward totals stand for the retired records: corrupting an account is
    // still seen.
    l.sabotage_unbalanced_credit(AccountId(1), 1);
    assert!(l.check_invariants().is_err());
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(256))]

    /// A ledger that retires everything older than a horizon agrees with one that keeps
    /// everything on every command the window covers, and refuses only ids it was allowed to
    /// forget; balances and holds stay equal throughout.
    #[test]
    fn retention_forgets_only_what_is_behind_the_horizon(
        steps in prop::collection::vec((op(), prop::option::weighted(0.2, 0u64..4)), 1..150),
    ) {
        let mut kept = ledger();
        let mut retiring = ledger();
        let mut now = at(0);
        let mut horizon = at(0);
        let mut executed: Vec<Command> = Vec::new();
        let behind = |kept: &Ledger, id: TransferId, horizon: Timestamp| {
            kept.record(id).is_none_or(|r| r.at < horizon)
        };
        for (op, retire) in steps {
            let commands: Vec<Command> = match op {
                Op::One(spec) => vec![spec.at(now)],
                Op::Retry(index) => executed.get(index.index(executed.len().max(1))).copied().into_iter().collect(),
                Op::Linked(specs) => specs.iter().map(|s| s.at(now)).collect(),
                Op::Advance(seconds) => {
                    now = now.checked_add(Span::from_secs(seconds)).expect("in range");
                    Vec::new()
                }
                Op::Expire => {
                    prop_assert_eq!(kept.expire(now), retiring.expire(now));
                    Vec::new()
                }
            };
            let ids: Vec<u64> = commands.iter().map(|c| c.id().0).collect();
            let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len() == ids.len();
            if commands.len() == 1 {
                let command = commands[0];
                let got = retiring.execute(command, now);
                match got {
                    Err(TransferReject::IdRetired) => prop_assert!(behind(&kept, command.id(), horizon)),
                    Err(TransferReject::PendingRetired) => {
                        let (Command::Post { pending, .. } | Command::Void { pending, .. }) = command else {
                            panic!("only a post or void names a pending transfer")
                        };
                        prop_assert!(behind(&kept, pending, horizon));
                        // The full ledger refuses it too, by another name.
                        let full = kept.execute(command, now);
                        prop_assert!(matches!(full, Err(TransferReject::PendingAlreadyPosted | TransferReject::PendingAlreadyVoided | TransferReject::PendingExpired | TransferReject::PendingNotFound)), "{:?}", full);
                    }
                    _ => prop_assert_eq!(got, kept.execute(command, now), "{:?}", command),
                }
                executed.push(command);
            } else if commands.len() > 1 && distinct {
                let got = retiring.execute_linked(&commands, now);
                match got {
                    Err((i, TransferReject::IdRetired)) => prop_assert!(behind(&kept, commands[i].id(), horizon)),
                    Err((i, TransferReject::PendingRetired)) => {
                        let full = kept.execute_linked(&commands, now);
                        prop_assert!(matches!(full, Err((j, TransferReject::PendingAlreadyPosted | TransferReject::PendingAlreadyVoided | TransferReject::PendingExpired | TransferReject::PendingNotFound)) if j == i), "{:?}", full);
                    }
                    _ => prop_assert_eq!(got, kept.execute_linked(&commands, now), "{:?}", commands),
                }
            }
            if let Some(seconds) = retire {
                horizon = horizon.max(Timestamp::from_nanos(now.as_nanos().saturating_sub(seconds * 1_000_000_000)));
                retiring.retire(horizon);
            }
            prop_assert_eq!(retiring.check_invariants(), Ok(()));
            for id in 0..6 {
                prop_assert_eq!(state(&retiring, id), state(&kept, id), "account {}", id);
            }
        }
    }
}

fn account_key() -> impl Strategy<Value = AccountKey> {
    let currency = prop::sample::select(Currency::ALL.to_vec());
    let purpose = prop::sample::select(vec![
        Purpose::Settlement,
        Purpose::CustomerFunds,
        Purpose::FxPosition,
        Purpose::FeeIncome,
        Purpose::Suspense,
        Purpose::External,
    ]);
    (any::<u16>(), currency, purpose, any::<u32>()).prop_map(|(p, currency, purpose, holder)| {
        AccountKey { participant: ParticipantId(p), currency, purpose, holder }
    })
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(1024))]

    /// The key map's packed integer orders keys as the key's own order does, and tells apart
    /// exactly the keys that differ.
    #[test]
    fn a_packed_key_keeps_the_keys_order(a in account_key(), b in account_key()) {
        prop_assert_eq!(a.packed().cmp(&b.packed()), a.cmp(&b));
    }
}

#[test]
fn an_account_key_opens_once() {
    let mut l = Ledger::default();
    let key = AccountKey {
        participant: ParticipantId(7),
        currency: USD,
        purpose: Purpose::CustomerFunds,
        holder: 42,
    };
    let id = l.open_account(key, Limits::NONE).expect("a new key opens");
    assert_eq!(l.open_account(key, Limits::NONE), Err(OpenAccountError::Duplicate(key)));
    assert_eq!(l.account_id(&key), Some(id));
    assert_eq!(l.account_id(&AccountKey { holder: 43, ..key }), None);
    assert_eq!(l.accounts().len(), 1);
}
