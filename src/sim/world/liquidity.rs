//! Member banks' liquidity at NBC during the run: the Bakong switch reserves, for each payment
//! that will make a member bank owe, the amount under the bank's cap for the cycle (its
//! balance at the cycle's start, times `debit_cap_pct`); a payment that does not fit is
//! declined (`insufficient_liquidity`) or held at the switch until the next cut-off. The
//! reservation becomes the bank's net debit when the far side books the payment (a credit to a
//! bank lowers its net debit), and is given back when the payment ends without a booking. At
//! each cut-off the cycle settles, each bank may top its balance back up to its prefunding, the
//! caps are set from the new balances, and held payments are let through in order while they
//! fit.
//!
//! The net debit tracked here must equal the cycle's net position that settlement computes
//! from the obligations, bank by bank and currency by currency: an assertion checks it at every
//! cut-off.

use std::collections::VecDeque;

use super::books::{self, bank_index};
use super::{Decline, PRef, World};
use crate::payments::money::{Currency, Money};
use crate::payments::network::ResponseCode;
use crate::payments::settlement::NetPositions;
use crate::payments::settlement::liquidity::Liquidity;
use crate::payments::time::{Span, Timestamp};
use crate::record::{BankLiquidity, LiquidityPoint};
use crate::sim::audit::Breach;

/// What a payment reserved of its bank's liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reservation {
    bank: u16,
    /// 0: KHR, 1: USD.
    k: u8,
    amount: i64,
}

/// A payment held at the switch for lack of its bank's liquidity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    p: PRef,
    hop: u8,
    node: usize,
}

/// The member banks' liquidity and what it did.
pub(super) struct Banks {
    pub(super) liquidity: Vec<[Liquidity; 2]>,
    held: Vec<[VecDeque<Held>; 2]>,
    minutes: Vec<[Vec<LiquidityPoint>; 2]>,
    short_count: Vec<[u64; 2]>,
    held_count: Vec<[u64; 2]>,
    topped_up_minor: Vec<[i64; 2]>,
}

impl Banks {
    /// Every bank's liquidity at the start: capped by its prefunding.
    pub(super) fn new(prefunds: &[[i64; 2]], cap: impl Fn(i64) -> i64) -> Banks {
        let n = prefunds.len();
        Banks {
            liquidity: prefunds.iter().map(|p| p.map(|x| Liquidity::new(cap(x)))).collect(),
            held: (0..n).map(|_| [VecDeque::new(), VecDeque::new()]).collect(),
            minutes: (0..n).map(|_| [Vec::new(), Vec::new()]).collect(),
            short_count: vec![[0; 2]; n],
            held_count: vec![[0; 2]; n],
            topped_up_minor: vec![[0; 2]; n],
        }
    }
}

/// KHR or USD as an index into a bank's two currencies.
fn currency_index(c: Currency) -> Option<usize> {
    match c {
        Currency::Khr => Some(0),
        Currency::Usd => Some(1),
        Currency::Cny => None,
    }
}

impl World {
    /// What a payment will make a member bank owe when it is booked: the bank, the currency
    /// and the amount; `None` when no member bank will owe (inward: NBC pays).
    fn liquidity_need(&self, p: PRef) -> Option<Reservation> {
        let pay = self.payment(p)?;
        let o = pay.terms.obligations(books::NBC, false).netting;
        let bank = bank_index(o.payer).filter(|&b| b < self.banks.liquidity.len())?;
        let k = currency_index(o.amount.currency)?;
        (o.amount.minor > 0).then_some(Reservation {
            bank: bank as u16,
            k: k as u8,
            amount: o.amount.minor,
        })
    }

    /// The switch checks the payer's bank's liquidity: reserved, or declined, or held. Whether
    /// the request goes on now.
    pub(super) fn liquidity_admits(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
    ) -> bool {
        let Some(need) = self.liquidity_need(p) else { return true };
        let (b, k) = (need.bank as usize, need.k as usize);
        if self.banks.liquidity[b][k].reserve(need.amount).is_ok() {
            self.payment_mut(p).expect("alive").reserved = Some(need);
            return true;
        }
        if self.cfg.liquidity.hold {
            self.banks.held_count[b][k] += 1;
            self.banks.held[b][k].push_back(Held { p, hop, node });
            // The held request keeps its payment's slot, as a message in the network does.
            self.slot_mut(p).expect("alive").in_network += 1;
        } else {
            self.banks.short_count[b][k] += 1;
            let code = ResponseCode::Declined(Decline::InsufficientLiquidity);
            self.respond(now, p, hop, code, Span::ZERO);
        }
        false
    }

    /// The netting obligation `o` of payment `p` is booked (a credit, or with `undo` its
    /// reversal): the bank that owes has a larger net debit, spending the payment's
    /// reservation; the bank that is owed a smaller one.
    pub(super) fn liquidity_book(&mut self, p: PRef, o: &crate::payments::settlement::Obligation) {
        let Some(k) = currency_index(o.amount.currency) else { return };
        let banks = self.banks.liquidity.len();
        let reserved = self.payment_mut(p).and_then(|pay| pay.reserved.take());
        if let Some(b) = bank_index(o.payer).filter(|&b| b < banks) {
            let spent = match reserved {
                Some(r) if r.bank as usize == b && r.k as usize == k => r.amount,
                _ => 0,
            };
            self.banks.liquidity[b][k].book(o.amount.minor, spent.min(o.amount.minor));
            if spent > o.amount.minor {
                self.banks.liquidity[b][k].release(spent - o.amount.minor);
            }
        } else if let Some(r) = reserved {
            self.banks.liquidity[r.bank as usize][r.k as usize].release(r.amount);
        }
        if let Some(b) = bank_index(o.payee).filter(|&b| b < banks) {
            self.banks.liquidity[b][k].book(-o.amount.minor, 0);
        }
    }

    /// A payment ends without its reservation booked: it is given back.
    pub(super) fn liquidity_release(&mut self, p: PRef) {
        if let Some(r) = self.payment_mut(p).and_then(|pay| pay.reserved.take()) {
            self.banks.liquidity[r.bank as usize][r.k as usize].release(r.amount);
        }
    }

    /// A cut-off settled `positions`: each bank's tracked net debit must be its net position;
    /// the bank tops up, its cap is set from its new balance, and held payments are let
    /// through in order while they fit.
    pub(super) fn liquidity_new_cycle(
        &mut self,
        now: Timestamp,
        positions: &NetPositions,
    ) -> Result<(), Breach> {
        for b in 0..self.banks.liquidity.len() {
            for (k, currency) in [Currency::Khr, Currency::Usd].into_iter().enumerate() {
                let owed = -positions.position(books::bank(b as u16), currency).minor;
                assert_eq!(
                    self.banks.liquidity[b][k].position(),
                    owed,
                    "bank {b} {currency}: the switch's net debit differs from the cycle's net position"
                );
                if self.cfg.liquidity.top_up {
                    let target = self.cfg.liquidity.prefunds[b][k];
                    let topped = self.books.top_up(b, k, target, now);
                    self.banks.topped_up_minor[b][k] += topped;
                    self.audit.settled(books::bank(b as u16), Money::new(currency, topped));
                }
                let cap = self.cfg.liquidity.cap(self.books.bank_balance(b, k));
                self.banks.liquidity[b][k].new_cycle(cap);
                self.release_held(now, b, k)?;
            }
        }
        Ok(())
    }

    /// Held payments of bank `b` in currency `k` go on, first held first, while they fit.
    fn release_held(&mut self, now: Timestamp, b: usize, k: usize) -> Result<(), Breach> {
        while let Some(&h) = self.banks.held[b][k].front() {
            let Some(need) = self.liquidity_need(h.p) else {
                // Its payment ended while it waited (its payer's app or originator gave up).
                self.banks.held[b][k].pop_front();
                self.consume(h.p);
                continue;
            };
            if self.banks.liquidity[b][k].reserve(need.amount).is_err() {
                break;
            }
            self.banks.held[b][k].pop_front();
            self.payment_mut(h.p).expect("alive").reserved = Some(need);
            let result = self.past_checks(now, h.node, h.p, h.hop);
            self.consume(h.p);
            result?;
        }
        Ok(())
    }

    /// Each bank's liquidity at the end of a simulated minute.
    pub(super) fn liquidity_minute(&mut self) {
        for (b, l) in self.banks.liquidity.iter().enumerate() {
            for (k, l) in l.iter().enumerate() {
                let point = LiquidityPoint {
                    cap_minor: l.cap(),
                    position_minor: l.position(),
                    reserved_minor: l.reserved(),
                };
                self.banks.minutes[b][k].push(point);
            }
        }
    }

    /// The banks' liquidity for the record.
    pub(super) fn liquidity_record(&mut self) -> Vec<BankLiquidity> {
        let banks = std::mem::replace(&mut self.banks, Banks::new(&[], |x| x));
        banks
            .minutes
            .into_iter()
            .enumerate()
            .map(|(b, minutes)| BankLiquidity {
                bank: b,
                prefund_minor: self.cfg.liquidity.prefunds[b],
                minutes,
                short_count: banks.short_count[b],
                held_count: banks.held_count[b],
                still_held_count: banks.held[b].each_ref().map(|q| q.len() as u64),
                topped_up_minor: banks.topped_up_minor[b],
            })
            .collect()
    }
}
