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
use crate::payments::ledger::{AccountId, InvariantBreach, Ledger, Purpose};
use crate::payments::money::Currency;
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
}

impl Auditor {
    /// An auditor expecting `openings` as the wallets' starting balances.
    pub fn new(openings: &[(AccountId, i64)], accounts_count: usize) -> Auditor {
        let mut expected = vec![0; accounts_count];
        for &(a, v) in openings {
            expected[a.0 as usize] = v;
        }
        Auditor {
            final_bits: Vec::new(),
            created_count: 0,
            final_count: 0,
            in_flight_count: 0,
            expected,
            credits: Default::default(),
            checks_count: 0,
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
