//! The auditor: checks the books during and after a run, independently of how the world
//! booked them.
//!
//! * Conservation: every ledger invariant ([`Ledger::check_invariants`]) at every netting
//!   cycle and at the end: each currency sums to zero, no account past its limits, totals equal
//!   to the log.
//! * Exactly one final state per payment: a bit per payment, set once.
//! * No double debit: the auditor keeps its own expected balance of every customer wallet from
//!   the economic outcome of each payment (what the payer paid, what the payee got), and at the
//!   end every wallet's posted balance must equal it, with nothing left on hold. A wallet
//!   debited more than expected is a double debit.
//! * Every reversal matches an original: a reversal undoes a credit that was booked and not yet
//!   undone, for the same amount.
//!
//! A run that stops early (a limit, or the drain time up) is audited just as whole: every
//! payment still in flight is declared with what the books must show for it so far (its hold
//! on the payer's wallet, a credit already booked to the payee), and every wallet must agree.
//!
//! A breach stops the run; the caller prints the seed and the command that reproduces it.

use crate::payments::clearing::ClearingRecord;
use crate::payments::ledger::{Account, AccountId, AccountKey, InvariantBreach, Ledger, Purpose};
use crate::payments::money::{Currency, Money};
use crate::payments::network::Terms;
use crate::payments::party::{Flow, ParticipantId};

/// The accounts the auditor keeps its own expectation of, besides customer wallets: every
/// fee income account, and the member banks' settlement accounts at NBC (participants 10 to
/// 99; NBC's own and the scheme's move by settlement chains the ledger balances).
fn watched(key: AccountKey) -> bool {
    key.purpose == Purpose::FeeIncome
        || (key.purpose == Purpose::Settlement && (10..100).contains(&key.participant.0))
}

/// Posted balance, credits less debits.
fn balance(a: &Account) -> i64 {
    i64::try_from(i128::from(a.credits_posted) - i128::from(a.debits_posted))
        .expect("balances fit i64")
}
use crate::payments::time::Timestamp;
use crate::record::AuditCounts;

/// A broken invariant: always a bug in the core or the world.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// A ledger invariant.
    #[error("ledger invariant broken at {at}: {breach}")]
    Ledger {
        /// When it was found.
        at: Timestamp,
        /// Which.
        breach: InvariantBreach,
    },
    /// A payment reached a final state twice.
    #[error("payment {payment} reached a final state twice (second: {second})")]
    FinalTwice {
        /// The payment.
        payment: u64,
        /// The second outcome.
        second: String,
    },
    /// A payment never reached a final state.
    #[error("{count} payments never reached a final state (first: payment {first})")]
    NotFinal {
        /// How many.
        count: u64,
        /// The first.
        first: u64,
    },
    /// A wallet was debited more than its payments account for.
    #[error(
        "double debit: wallet {account:?} has balance {actual}, payments account for {expected}"
    )]
    DoubleDebit {
        /// The wallet.
        account: AccountId,
        /// Its posted balance.
        actual: i64,
        /// What the payments account for.
        expected: i64,
    },
    /// A wallet holds more than its payments account for, or holds money on hold at the end.
    #[error(
        "wallet {account:?} has balance {actual} (pending {pending}), payments account for {expected}"
    )]
    WalletMismatch {
        /// The wallet.
        account: AccountId,
        /// Its posted balance.
        actual: i64,
        /// Its pending debits and credits.
        pending: u64,
        /// What the payments account for.
        expected: i64,
    },
    /// A payment's price breaks the pricing rules: a conversion rounded toward the payee, or a
    /// merchant discount that is not the scenario's rate.
    #[error("payment {payment}: {why}")]
    Mispriced {
        /// The payment.
        payment: u64,
        /// What is wrong, with the figures.
        why: String,
    },
    /// A fee income or bank settlement account holds other than the payments and the netting
    /// cycles account for.
    #[error(
        "{purpose:?} account of participant {participant} in {currency} has balance {actual}, the payments and cycles account for {expected}"
    )]
    AccountMismatch {
        /// The account's purpose.
        purpose: Purpose,
        /// Its participant.
        participant: u16,
        /// Its currency.
        currency: Currency,
        /// Its posted balance.
        actual: i64,
        /// What the auditor expects.
        expected: i64,
    },
    /// After reconciliation, the switch's receivable differs from the network's claim.
    #[error(
        "business day {date}: after its breaks are resolved the switch's {currency} receivable is {ours}, the network's file claims {claimed}"
    )]
    Receivable {
        /// The business day.
        date: crate::payments::time::Date,
        /// The currency.
        currency: Currency,
        /// Our receivable after the breaks' changes, minor units.
        ours: i128,
        /// What their file claims, minor units.
        claimed: i128,
    },
    /// A reversal that undoes nothing, or a different amount.
    #[error("payment {payment}: reversal without a matching original credit ({why})")]
    ReversalUnmatched {
        /// The payment.
        payment: u64,
        /// What was wrong.
        why: &'static str,
    },
}

/// The oracle of reconciliation: after every break of a business day is resolved, the
/// switch's receivable from the network equals what the network's file claims, currency by
/// currency. It sums the two files itself (approved purchases less approved reversals and
/// refunds) rather than asking the reconciliation code that made the breaks.
///
/// # Errors
/// [`Breach::Receivable`] for the first currency that disagrees.
pub fn check_receivable(
    date: crate::payments::time::Date,
    ours: &[ClearingRecord],
    theirs: &[ClearingRecord],
    breaks: &[crate::payments::recon::Break],
) -> Result<(), Breach> {
    use crate::payments::clearing::{MessageKind, Status};
    let mut sums = [[0i128; 2]; Currency::ALL.len()];
    for (side, records) in [ours, theirs].into_iter().enumerate() {
        for r in records {
            let sign = match (r.status, r.kind) {
                (Status::Approved, MessageKind::Purchase) => 1,
                (Status::Approved, MessageKind::Reversal | MessageKind::Refund) => -1,
                _ => 0,
            };
            sums[r.amount.currency.index()][side] += sign * i128::from(r.amount.minor);
        }
    }
    for b in breaks {
        sums[b.receivable_change.currency.index()][0] += i128::from(b.receivable_change.minor);
    }
    for c in Currency::ALL {
        let [ours, claimed] = sums[c.index()];
        if ours != claimed {
            return Err(Breach::Receivable { date, currency: c, ours, claimed });
        }
    }
    Ok(())
}

/// A payment still in flight when the run stopped: what the books must show for it so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// The payment.
    pub payment: u64,
    /// Posted effects on customer wallets already booked (a credit to the payee, and for a
    /// domestic payment the debit of the payer).
    pub posted: Vec<(AccountId, i64)>,
    /// Debits held on customer wallets (the originator's hold).
    pub held: Vec<(AccountId, u64)>,
    /// Income already posted: the merchant discount of a booked credit, the spread of a
    /// payment whose payer has paid.
    pub income: Vec<(ParticipantId, Money)>,
}

/// What one payment earns its participants, by the auditor's own rules: the payer's bank keeps
/// the spread once the payer has paid, the payee's bank the merchant discount once it has
/// credited. The auditor prices these itself and never asks the books which account is whose.
#[derive(Clone, Copy, Debug)]
pub struct Earned<'a> {
    /// The payment's terms as booked.
    pub terms: &'a Terms,
    /// Whether the payer paid (an approval).
    pub paid: bool,
    /// Whether the payee was credited and stays so.
    pub credited: bool,
}

/// The auditor's state.
pub struct Auditor {
    final_bits: Vec<u64>,
    created_count: u64,
    final_count: u64,
    /// Payments declared in flight at the end (a run that stopped early).
    in_flight_count: u64,
    expected: Vec<i64>,
    /// Per payment with a credit booked: the amount credited and not yet reversed.
    credits: std::collections::BTreeMap<u64, i64>,
    /// Checks made, for the report.
    pub checks_count: u64,
    /// The merchant discount on inward payments, basis points.
    mdr_bps: u32,
    /// What every fee income and bank settlement account must hold, by its key: the opening
    /// balances, then what payments earned and what netting cycles and top-ups moved.
    accounts: std::collections::BTreeMap<AccountKey, i64>,
}

impl Auditor {
    /// An auditor expecting `openings` as the wallets' starting balances, and the fee income
    /// and settlement accounts of `ledger` (as opened) to move only as payments and cycles say;
    /// inward payments pay a merchant discount of `mdr_bps`.
    pub fn new(
        openings: impl IntoIterator<Item = (AccountId, i64)>,
        ledger: &Ledger,
        mdr_bps: u32,
    ) -> Auditor {
        let mut expected = vec![0; ledger.accounts().len()];
        for (a, v) in openings {
            expected[a.0 as usize] = v;
        }
        let accounts = ledger
            .accounts()
            .iter()
            .filter(|a| watched(a.key))
            .map(|a| (a.key, balance(a)))
            .collect();
        Auditor {
            final_bits: Vec::new(),
            created_count: 0,
            final_count: 0,
            in_flight_count: 0,
            expected,
            credits: Default::default(),
            checks_count: 0,
            mdr_bps,
            accounts,
        }
    }

    /// A payment reaches its final state: its price is checked against the rules, and what
    /// it earned is expected on its participants' fee income.
    ///
    /// # Errors
    /// [`Breach::Mispriced`].
    pub fn earned(&mut self, payment: u64, e: Earned<'_>) -> Result<(), Breach> {
        self.checks_count += 1;
        let t = e.terms;
        if let Some(c) = t.conversion {
            // Rounding goes toward the provider: the payee never gets more than the exchanged
            // amount is worth at the locked rate, and never a whole unit less (of the payee's
            // currency when the payer's amount is fixed, of the payer's when the payee's is).
            let worth = c.exchanged.to_decimal() * t.rate;
            let received = c.received.to_decimal();
            let unit = |m: Money| rust_decimal::Decimal::new(1, m.currency.exponent());
            let slack =
                if t.payee_amount_fixed { unit(c.exchanged) * t.rate } else { unit(c.received) };
            if received > worth || worth - received >= slack {
                return Err(Breach::Mispriced {
                    payment,
                    why: format!(
                        "{} exchanged at {} is worth {worth}, yet the payee receives {}",
                        c.exchanged, t.rate, c.received
                    ),
                });
            }
        }
        if t.flow == Flow::Inward && e.credited {
            // The discount, half away from zero, in integers.
            let amount = i128::from(t.amount.minor);
            let fee = (amount * i128::from(self.mdr_bps) * 2 + 10_000) / 20_000;
            if i128::from(t.fee.minor) != fee || t.fee.currency != t.amount.currency {
                return Err(Breach::Mispriced {
                    payment,
                    why: format!(
                        "merchant discount {} on {}, the rule gives {fee}",
                        t.fee, t.amount
                    ),
                });
            }
        }
        if e.paid && t.spread().minor != 0 {
            self.income(t.payer_participant, t.spread());
        }
        if e.credited && t.fee.minor != 0 {
            self.income(t.payee_participant, t.fee);
        }
        Ok(())
    }

    fn income(&mut self, participant: ParticipantId, amount: Money) {
        let key = AccountKey {
            participant,
            currency: amount.currency,
            purpose: Purpose::FeeIncome,
            holder: 0,
        };
        *self.accounts.entry(key).or_insert(0) += amount.minor;
    }

    /// A netting cycle moved `amount` (signed: credited when positive) on `participant`'s
    /// settlement account, or a top-up did.
    pub fn settled(&mut self, participant: ParticipantId, amount: Money) {
        let key = AccountKey {
            participant,
            currency: amount.currency,
            purpose: Purpose::Settlement,
            holder: 0,
        };
        if watched(key) {
            *self.accounts.entry(key).or_insert(0) += amount.minor;
        }
    }

    /// A payment was created.
    pub fn created(&mut self) {
        self.created_count += 1;
    }

    /// A payment reached a final state; `effects` are its economic effects on customer wallets.
    ///
    /// # Errors
    /// [`Breach::FinalTwice`].
    pub fn finalized(
        &mut self,
        payment: u64,
        outcome: impl FnOnce() -> String,
        effects: &[(AccountId, i64)],
    ) -> Result<(), Breach> {
        let (word, bit) = ((payment / 64) as usize, payment % 64);
        if self.final_bits.len() <= word {
            self.final_bits.resize(word + 1, 0);
        }
        if self.final_bits[word] & (1 << bit) != 0 {
            return Err(Breach::FinalTwice { payment, second: outcome() });
        }
        self.final_bits[word] |= 1 << bit;
        self.final_count += 1;
        // A final payment is never reversed again.
        self.credits.remove(&payment);
        for &(account, delta) in effects {
            self.expected[account.0 as usize] += delta;
        }
        Ok(())
    }

    /// A credit of `amount` was booked for `payment`.
    pub fn credited(&mut self, payment: u64, amount: i64) {
        self.credits.insert(payment, amount);
    }

    /// A reversal of `amount` is about to be booked for `payment`.
    ///
    /// # Errors
    /// [`Breach::ReversalUnmatched`].
    pub fn reversing(&mut self, payment: u64, amount: i64) -> Result<(), Breach> {
        self.checks_count += 1;
        match self.credits.remove(&payment) {
            None => Err(Breach::ReversalUnmatched { payment, why: "no credit to undo" }),
            Some(credited) if credited != amount => {
                Err(Breach::ReversalUnmatched { payment, why: "amount differs from the credit" })
            }
            Some(_) => Ok(()),
        }
    }

    /// Every ledger invariant, now.
    ///
    /// # Errors
    /// [`Breach::Ledger`].
    pub fn check_ledger(&mut self, ledger: &Ledger, at: Timestamp) -> Result<(), Breach> {
        self.checks_count += 1;
        ledger.check_invariants().map_err(|breach| Breach::Ledger { at, breach })
    }

    fn is_final(&self, payment: u64) -> bool {
        let w = (payment / 64) as usize;
        self.final_bits.get(w).is_some_and(|bits| bits & (1 << (payment % 64)) != 0)
    }

    /// The end-of-run checks: every payment final or declared `in_flight` (a run that stopped
    /// early), and every wallet as the payments say, holds included.
    ///
    /// # Errors
    /// The first [`Breach`] found.
    pub fn finish(
        &mut self,
        ledger: &Ledger,
        at: Timestamp,
        in_flight: &[InFlight],
    ) -> Result<(), Breach> {
        self.check_ledger(ledger, at)?;
        let mut live: Vec<u64> = in_flight.iter().map(|p| p.payment).collect();
        live.sort_unstable();
        self.in_flight_count = live.len() as u64;
        if let Some(&p) = live.iter().find(|&&p| self.is_final(p)) {
            return Err(Breach::FinalTwice { payment: p, second: "still in flight".into() });
        }
        if self.final_count + live.len() as u64 != self.created_count {
            let first = (0..self.created_count)
                .find(|&p| !self.is_final(p) && live.binary_search(&p).is_err())
                .unwrap_or(0);
            let count = self.created_count.saturating_sub(self.final_count + live.len() as u64);
            return Err(Breach::NotFinal { count, first });
        }
        let mut expected = self.expected.clone();
        let mut held = vec![0u64; expected.len()];
        for p in in_flight {
            for &(account, delta) in &p.posted {
                expected[account.0 as usize] += delta;
            }
            for &(account, amount) in &p.held {
                held[account.0 as usize] += amount;
            }
        }
        for (i, a) in ledger.accounts().iter().enumerate() {
            if a.key.purpose != Purpose::CustomerFunds {
                continue;
            }
            self.checks_count += 1;
            let actual = i64::try_from(i128::from(a.credits_posted) - i128::from(a.debits_posted))
                .expect("wallet balances fit i64");
            let (expected, held) = (expected[i], held[i]);
            let pending = a.debits_pending + a.credits_pending;
            if actual < expected {
                return Err(Breach::DoubleDebit { account: AccountId(i as u32), actual, expected });
            }
            if actual != expected || a.debits_pending != held || a.credits_pending != 0 {
                return Err(Breach::WalletMismatch {
                    account: AccountId(i as u32),
                    actual,
                    pending,
                    expected,
                });
            }
        }
        let mut accounts = self.accounts.clone();
        for p in in_flight {
            for &(participant, amount) in &p.income {
                let key = AccountKey {
                    participant,
                    currency: amount.currency,
                    purpose: Purpose::FeeIncome,
                    holder: 0,
                };
                *accounts.entry(key).or_insert(0) += amount.minor;
            }
        }
        for a in ledger.accounts().iter().filter(|a| watched(a.key)) {
            self.checks_count += 1;
            let expected = accounts.remove(&a.key).unwrap_or(0);
            // A run that stopped early may hold a spread on its way to fee income.
            let pending = in_flight.is_empty() && (a.debits_pending != 0 || a.credits_pending != 0);
            if balance(a) != expected || pending {
                return Err(Breach::AccountMismatch {
                    purpose: a.key.purpose,
                    participant: a.key.participant.0,
                    currency: a.key.currency,
                    actual: balance(a),
                    expected,
                });
            }
        }
        if let Some((key, &expected)) = accounts.iter().find(|(_, v)| **v != 0) {
            // Earned by a participant that has no such account.
            return Err(Breach::AccountMismatch {
                purpose: key.purpose,
                participant: key.participant.0,
                currency: key.currency,
                actual: 0,
                expected,
            });
        }
        Ok(())
    }

    /// Payments created and finalized so far.
    pub fn counts(&self) -> AuditCounts {
        AuditCounts {
            payments_created_count: self.created_count,
            payments_final_count: self.final_count,
            payments_in_flight_count: self.in_flight_count,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Goal: every check of the auditor fires on the fault it names, and on nothing else.
    //! Method: a tiny ledger (two wallets, a fee income and a bank's settlement account, and
    //! the outside world) driven by hand, one scripted history per case through one `check`
    //! helper; the reconciliation oracle on hand-written files.

    use super::*;
    use crate::payments::clearing::{MessageKind, Party, Rrn, Status};
    use crate::payments::fx::{Conversion, QuoteId};
    use crate::payments::ledger::{Command, Limits, Transfer, TransferId};
    use crate::payments::time::Date;
    use rust_decimal::Decimal;

    const KHR: Currency = Currency::Khr;
    /// Accounts: 0 outside, 1 payer wallet, 2 payee wallet, 3 bank 10's fee income, 4 bank
    /// 10's settlement account.
    const OUTSIDE: u32 = 0;
    const PAYER: u32 = 1;
    const PAYEE: u32 = 2;
    const FEES: u32 = 3;
    const SETTLEMENT: u32 = 4;
    const BANK: ParticipantId = ParticipantId(10);

    fn at() -> Timestamp {
        Timestamp::from_nanos(1_771_200_000_000_000_000)
    }

    fn ledger() -> Ledger {
        let mut l = Ledger::default();
        for (purpose, holder) in [
            (Purpose::External, 0),
            (Purpose::CustomerFunds, 1),
            (Purpose::CustomerFunds, 2),
            (Purpose::FeeIncome, 0),
            (Purpose::Settlement, 0),
        ] {
            let participant =
                if purpose == Purpose::CustomerFunds { ParticipantId(1) } else { BANK };
            let key = AccountKey { participant, currency: KHR, purpose, holder };
            l.open_account(key, Limits::NONE).expect("opens");
        }
        l
    }

    fn transfer(l: &mut Ledger, id: u64, debit: u32, credit: u32, minor: i64) {
        let t = Transfer::posted(
            TransferId(id),
            AccountId(debit),
            AccountId(credit),
            Money::new(KHR, minor),
            0,
        );
        l.execute(Command::Transfer(t), at()).expect("applies");
    }

    /// Holds `minor` riel from `debit` to `credit`, pending.
    fn hold(l: &mut Ledger, debit: u32, credit: u32, minor: i64) {
        let hold = Transfer {
            pending_until: Some(Timestamp::from_nanos(at().as_nanos() + 1)),
            ..Transfer::posted(
                TransferId(50),
                AccountId(debit),
                AccountId(credit),
                Money::new(KHR, minor),
                0,
            )
        };
        l.execute(Command::Transfer(hold), at()).expect("holds");
    }

    /// A domestic payment of `minor` riel from the payer to the payee.
    fn terms(minor: i64) -> Terms {
        Terms {
            flow: Flow::Domestic,
            reference: 1,
            payer_wallet: AccountId(PAYER),
            payee_wallet: AccountId(PAYEE),
            payer_participant: BANK,
            payee_participant: BANK,
            amount: Money::new(KHR, minor),
            payer_currency: KHR,
            payee_amount_fixed: true,
            conversion: None,
            rate: Decimal::ONE,
            fee: Money::zero(KHR),
        }
    }

    /// A history: what happens to the ledger and the auditor, then the end-of-run check.
    type Script = fn(&mut Ledger, &mut Auditor) -> Result<(), Breach>;

    /// Runs `script` from wallets of 1,000 riel (payer) and 0 (payee), the settlement account
    /// prefunded with 5,000, and checks the first breach against `expect` (a fragment of its
    /// text), or that there is none.
    fn check(name: &str, script: Script, expect: Option<&str>) {
        let mut l = ledger();
        transfer(&mut l, 1, OUTSIDE, PAYER, 1_000);
        transfer(&mut l, 2, OUTSIDE, SETTLEMENT, 5_000);
        let openings = [(AccountId(PAYER), 1_000), (AccountId(PAYEE), 0)];
        let mut a = Auditor::new(openings, &l, 100);
        let result = script(&mut l, &mut a);
        match (result, expect) {
            (Ok(()), None) => {}
            (Err(b), Some(fragment)) => {
                assert!(!fragment.is_empty(), "{name}: an empty fragment matches anything");
                assert!(b.to_string().contains(fragment), "{name}: {b}");
            }
            (r, e) => panic!("{name}: expected {e:?}, got {r:?}"),
        }
    }

    fn pay(l: &mut Ledger, a: &mut Auditor, payment: u64, minor: i64) -> Result<(), Breach> {
        transfer(l, 100 + payment, PAYER, PAYEE, minor);
        a.created();
        let effects = [(AccountId(PAYER), -minor), (AccountId(PAYEE), minor)];
        a.earned(payment, Earned { terms: &terms(minor), paid: true, credited: true })?;
        a.finalized(payment, || "approved".into(), &effects)
    }

    #[test]
    fn each_payment_check_fires_on_its_fault() {
        check(
            "a clean history",
            |l, a| {
                pay(l, a, 0, 300)?;
                a.finish(l, at(), &[])
            },
            None,
        );
        check(
            "final twice, payment 0",
            |l, a| {
                pay(l, a, 0, 300)?;
                a.finalized(0, || "again".into(), &[])
            },
            Some("payment 0 reached a final state twice (second: again)"),
        );
        check(
            "two hundred payments final once each (no two share a bit)",
            |_, a| {
                for p in 0..200 {
                    a.created();
                    a.finalized(p, || "approved".into(), &[])?;
                }
                // One bit a payment: 200 payments fill four words, not more.
                assert_eq!(a.final_bits.len(), 4);
                Ok(())
            },
            None,
        );
        check(
            "final twice, payment 65 (not a multiple of 64)",
            |_, a| {
                for p in [63, 64, 65] {
                    a.created();
                    a.finalized(p, || "approved".into(), &[])?;
                }
                a.finalized(65, || "again".into(), &[])
            },
            Some("payment 65 reached a final state twice"),
        );
    }

    #[test]
    fn every_payment_final_or_in_flight_at_the_end() {
        check(
            "never final",
            |l, a| {
                pay(l, a, 0, 300)?;
                a.created();
                a.created();
                a.finish(l, at(), &[])
            },
            Some("2 payments never reached a final state (first: payment 1)"),
        );
        check(
            "payment 1 in flight, 65 final: their bits apart",
            |l, a| {
                for p in 0..66 {
                    a.created();
                    if p != 1 {
                        a.finalized(p, || "approved".into(), &[])?;
                    }
                }
                a.finish(l, at(), &[InFlight { payment: 1, ..InFlight::default() }])
            },
            None,
        );
        check(
            "declared in flight yet final, payment 70",
            |l, a| {
                for p in 0..71 {
                    a.created();
                    a.finalized(p, || "approved".into(), &[])?;
                }
                a.finish(l, at(), &[InFlight { payment: 70, ..InFlight::default() }])
            },
            Some("payment 70 reached a final state twice (second: still in flight)"),
        );
        check(
            "one final, one in flight, one lost",
            |l, a| {
                for _ in 0..3 {
                    a.created();
                }
                a.finalized(0, || "approved".into(), &[])?;
                a.finish(l, at(), &[InFlight { payment: 1, ..InFlight::default() }])
            },
            Some("1 payments never reached a final state (first: payment 2)"),
        );
        check(
            "declared in flight yet final",
            |l, a| {
                pay(l, a, 0, 300)?;
                a.finish(l, at(), &[InFlight { payment: 0, ..InFlight::default() }])
            },
            Some("payment 0 reached a final state twice (second: still in flight)"),
        );
    }

    #[test]
    fn reversals_and_the_ledger_checks_fire_on_their_faults() {
        check(
            "a reversal of another amount",
            |_, a| {
                a.credited(7, 300);
                a.reversing(7, 299)
            },
            Some("amount differs from the credit"),
        );
        check("a reversal of nothing", |_, a| a.reversing(7, 300), Some("no credit to undo"));
        check(
            "a reversal of the credited amount, once",
            |_, a| {
                a.credited(7, 300);
                a.reversing(7, 300)?;
                a.reversing(7, 300)
            },
            Some("payment 7: reversal without a matching original credit (no credit to undo)"),
        );
        check(
            "a ledger out of balance",
            |l, a| {
                l.sabotage_unbalanced_credit(AccountId(PAYEE), 1);
                a.check_ledger(l, at())
            },
            Some("ledger invariant broken"),
        );
        check(
            "a reversal after the payment was final",
            |l, a| {
                a.credited(0, 300);
                pay(l, a, 0, 300)?;
                a.reversing(0, 300)
            },
            Some("no credit to undo"),
        );
    }

    #[test]
    fn every_wallet_is_as_its_payments_say() {
        check(
            "debited twice",
            |l, a| {
                pay(l, a, 0, 300)?;
                transfer(l, 999, PAYER, OUTSIDE, 300);
                a.finish(l, at(), &[])
            },
            Some("double debit"),
        );
        check(
            "credited twice",
            |l, a| {
                pay(l, a, 0, 300)?;
                transfer(l, 999, OUTSIDE, PAYEE, 300);
                a.finish(l, at(), &[])
            },
            Some("has balance 600 (pending 0), payments account for 300"),
        );
        check(
            "a hold left at the end",
            |l, a| {
                hold(l, PAYER, OUTSIDE, 10);
                a.finish(l, at(), &[])
            },
            Some("(pending 10)"),
        );
        check(
            "a pending credit left at the end",
            |l, a| {
                hold(l, OUTSIDE, PAYEE, 10);
                a.finish(l, at(), &[])
            },
            Some("has balance 0 (pending 10)"),
        );
        check(
            "a payment in flight has posted its debit and credit",
            |l, a| {
                transfer(l, 100, PAYER, PAYEE, 300);
                a.created();
                let posted = InFlight {
                    payment: 0,
                    posted: vec![(AccountId(PAYER), -300), (AccountId(PAYEE), 300)],
                    ..InFlight::default()
                };
                a.finish(l, at(), &[posted])
            },
            None,
        );
        check(
            "a hold declared in flight",
            |l, a| {
                hold(l, PAYER, OUTSIDE, 10);
                a.created();
                let held = InFlight {
                    payment: 0,
                    held: vec![(AccountId(PAYER), 10)],
                    ..InFlight::default()
                };
                a.finish(l, at(), &[held])
            },
            None,
        );
    }

    #[test]
    fn settlement_accounts_move_only_by_cycles_and_top_ups() {
        check(
            "a settlement account moved by no cycle",
            |l, a| {
                transfer(l, 999, SETTLEMENT, OUTSIDE, 1);
                a.finish(l, at(), &[])
            },
            Some(
                "Settlement account of participant 10 in KHR has balance 4999, the payments and cycles account for 5000",
            ),
        );
        check(
            "a settlement account moved by a cycle",
            |l, a| {
                transfer(l, 999, SETTLEMENT, OUTSIDE, 700);
                a.settled(BANK, Money::new(KHR, -700));
                a.finish(l, at(), &[])
            },
            None,
        );
        check(
            "a cycle applied twice",
            |l, a| {
                transfer(l, 998, SETTLEMENT, OUTSIDE, 700);
                transfer(l, 999, SETTLEMENT, OUTSIDE, 700);
                a.settled(BANK, Money::new(KHR, -700));
                a.finish(l, at(), &[])
            },
            Some("has balance 3600, the payments and cycles account for 4300"),
        );
    }

    /// An inward payment of 40,000 riel, its discount at 100 bps booked as `fee`.
    fn inward(fee: i64) -> Terms {
        Terms {
            flow: Flow::Inward,
            fee: Money::new(KHR, fee),
            payee_participant: BANK,
            ..terms(40_000)
        }
    }

    #[test]
    fn prices_and_income_follow_the_rules_not_the_booking() {
        check(
            "the discount at the scenario's rate, earned by the payee's bank",
            |l, a| {
                transfer(l, 10, OUTSIDE, FEES, 400);
                a.earned(1, Earned { terms: &inward(400), paid: true, credited: true })?;
                a.finish(l, at(), &[])
            },
            None,
        );
        check(
            "a discount off the rate",
            |_, a| a.earned(1, Earned { terms: &inward(401), paid: true, credited: true }),
            Some("merchant discount 401 KHR on 40000 KHR, the rule gives 400"),
        );
        check(
            "a discount half a riel: half away from zero",
            |_, a| {
                let t = Terms { amount: Money::new(KHR, 50), ..inward(1) };
                a.earned(1, Earned { terms: &t, paid: true, credited: true })
            },
            None,
        );
        check(
            "a discount booked to another account",
            |l, a| {
                a.earned(1, Earned { terms: &inward(400), paid: true, credited: true })?;
                a.finish(l, at(), &[])
            },
            Some(
                "FeeIncome account of participant 10 in KHR has balance 0, the payments and cycles account for 400",
            ),
        );
        check(
            "a reversed payment earns nothing",
            |l, a| {
                a.earned(1, Earned { terms: &inward(400), paid: false, credited: false })?;
                a.finish(l, at(), &[])
            },
            None,
        );
        let converted = |exchanged: i64, received: i64, payee_fixed: bool| Terms {
            flow: Flow::Outward,
            payer_currency: Currency::Usd,
            payee_amount_fixed: payee_fixed,
            rate: Decimal::new(69_457, 4), // CNY per USD
            conversion: Some(Conversion {
                quote: QuoteId(1),
                exchanged: Money::new(Currency::Usd, exchanged),
                spread: Money::zero(Currency::Usd),
                received: Money::new(Currency::Cny, received),
            }),
            ..terms(received)
        };
        // $10.00 is worth 69.457 CNY: the payer's amount fixed, the payee gets 69.45.
        for (name, exchanged, received, payee_fixed, expect) in [
            ("exact: $100.00 is 694.57 CNY", 10_000, 69_457, false, None),
            ("toward zero", 1_000, 6_945, false, None),
            ("rounded up", 1_000, 6_946, false, Some("is worth 69.457")),
            ("a whole fen short", 1_000, 6_944, false, Some("yet the payee receives 69.44 CNY")),
            // The payee's 69.45 fixed: the payer pays $10.00 (9.999 rounded up), not $9.99.
            ("the payer's amount rounded up", 1_000, 6_945, true, None),
            ("the payer's amount rounded down", 999, 6_945, true, Some("is worth 69.387")),
            ("a whole cent over", 1_001, 6_945, true, Some("10.01 USD exchanged")),
        ] {
            let t = converted(exchanged, received, payee_fixed);
            let l = ledger();
            let mut a = Auditor::new([], &l, 100);
            let result = a.earned(1, Earned { terms: &t, paid: true, credited: true });
            match (result, expect) {
                (Ok(()), None) => {}
                (Err(b), Some(f)) => assert!(b.to_string().contains(f), "{name}: {b}"),
                (r, e) => panic!("{name}: expected {e:?}, got {r:?}"),
            }
        }
    }

    /// An outward payment of 10,000 riel at 0.0017 CNY a riel (17.00 CNY exactly), with a
    /// spread of 200 riel earned by the payer's bank.
    fn with_spread() -> Terms {
        Terms {
            flow: Flow::Outward,
            payee_amount_fixed: false,
            rate: Decimal::new(17, 4),
            conversion: Some(Conversion {
                quote: QuoteId(1),
                exchanged: Money::new(KHR, 10_000),
                spread: Money::new(KHR, 200),
                received: Money::new(Currency::Cny, 1_700),
            }),
            ..terms(10_000)
        }
    }

    #[test]
    fn income_in_flight_pending_or_without_an_account_is_seen() {
        check(
            "a spread of a payment in flight, already on fee income",
            |l, a| {
                transfer(l, 10, OUTSIDE, FEES, 200);
                a.created();
                let p = InFlight {
                    payment: 0,
                    income: vec![(BANK, Money::new(KHR, 200))],
                    ..InFlight::default()
                };
                a.finish(l, at(), &[p])
            },
            None,
        );
        check(
            "a pending credit on fee income when nothing is in flight",
            |l, a| {
                hold(l, OUTSIDE, FEES, 10);
                a.finish(l, at(), &[])
            },
            Some("FeeIncome account of participant 10 in KHR has balance 0, the payments and"),
        );
        check(
            "a discount earned by a bank with no fee income account",
            |l, a| {
                let t = Terms { payee_participant: ParticipantId(11), ..inward(400) };
                a.earned(1, Earned { terms: &t, paid: true, credited: true })?;
                a.finish(l, at(), &[])
            },
            Some(
                "FeeIncome account of participant 11 in KHR has balance 0, the payments and cycles account for 400",
            ),
        );
    }

    #[test]
    fn the_spread_is_income_of_the_payer_bank_once_paid() {
        check(
            "a paid spread on the payer's bank's fee income",
            |l, a| {
                transfer(l, 10, OUTSIDE, FEES, 200);
                a.earned(1, Earned { terms: &with_spread(), paid: true, credited: true })?;
                a.finish(l, at(), &[])
            },
            None,
        );
        check(
            "a paid spread never booked",
            |l, a| {
                a.earned(1, Earned { terms: &with_spread(), paid: true, credited: true })?;
                a.finish(l, at(), &[])
            },
            Some("the payments and cycles account for 200"),
        );
        check(
            "an unpaid payment earns no spread",
            |l, a| {
                a.earned(1, Earned { terms: &with_spread(), paid: false, credited: false })?;
                a.finish(l, at(), &[])
            },
            None,
        );
        check(
            "every check counted",
            |l, a| {
                a.earned(1, Earned { terms: &with_spread(), paid: false, credited: false })?;
                a.earned(2, Earned { terms: &with_spread(), paid: false, credited: false })?;
                assert_eq!(a.checks_count, 2);
                a.check_ledger(l, at())?;
                assert_eq!(a.checks_count, 3);
                a.credited(7, 300);
                a.reversing(7, 300)?;
                assert_eq!(a.checks_count, 4);
                // The ledger, two wallets, the fee income and the settlement account.
                a.finish(l, at(), &[])?;
                assert_eq!(a.checks_count, 9);
                a.created();
                a.created();
                a.finalized(0, || "approved".into(), &[])?;
                let counts = a.counts();
                assert_eq!(
                    (counts.payments_created_count, counts.payments_final_count),
                    (2, 1),
                    "{counts:?}"
                );
                Ok(())
            },
            None,
        );
    }

    fn record(rrn: u64, kind: MessageKind, status: Status, minor: i64) -> ClearingRecord {
        ClearingRecord {
            party: Party::Switch,
            business_date: Date::new(2026, 2, 16).expect("a date"),
            kind,
            rrn: Rrn::new(rrn).expect("an RRN"),
            trace_number: 0,
            original_rrn: (kind != MessageKind::Purchase).then(|| Rrn::new(rrn - 1).expect("rrn")),
            payment_id: rrn,
            transfer_id: 0,
            quote_id: 0,
            qr_md5: String::new(),
            amount: Money::new(KHR, minor),
            billed: Money::new(KHR, minor),
            fx_rate: Decimal::ONE,
            fee: Money::zero(KHR),
            status,
            at: at(),
        }
    }

    #[test]
    fn the_receivable_oracle_sums_the_files_itself() {
        use crate::payments::recon::{Break, BreakClass, Resolution, Side};
        use MessageKind::{Purchase, Reversal};
        use Status::{Approved, Declined, TimedOut};
        let date = Date::new(2026, 2, 16).expect("a date");
        // Ours: a purchase of 500 and its reversal (two records), a declined purchase, one
        // that timed out. Theirs: the same, except the timed-out one approved.
        let ours = [
            record(10, Purchase, Approved, 500),
            record(11, Reversal, Approved, 500),
            record(20, Purchase, Declined, 70),
            record(30, Purchase, TimedOut, 90),
        ];
        let mut theirs = ours.to_vec();
        theirs[3].status = Approved;
        let adjust = Break {
            class: BreakClass::TimeoutButApproved,
            rrn: Rrn::new(30).expect("rrn"),
            kind: Purchase,
            side: Side::Ours,
            ours: Some(ours[3].clone()),
            theirs: Some(theirs[3].clone()),
            receivable_change: Money::new(KHR, 90),
            resolution: Resolution::Adjustment,
        };
        assert_eq!(check_receivable(date, &ours, &theirs, std::slice::from_ref(&adjust)), Ok(()));
        // Without the break's change, or with its sign wrong, the oracle disagrees.
        let err = check_receivable(date, &ours, &theirs, &[]).expect_err("90 short");
        assert!(
            err.to_string().contains("KHR receivable is 0, the network's file claims 90"),
            "{err}"
        );
        let wrong = Break { receivable_change: Money::new(KHR, -90), ..adjust };
        assert!(check_receivable(date, &ours, &theirs, &[wrong]).is_err());
        // A reversal counts against the claim: theirs without it claims 500 more.
        let err = check_receivable(date, &ours, &theirs[..1], &[]).expect_err("reversal");
        assert!(err.to_string().contains("is 0, the network's file claims 500"), "{err}");
    }
}
