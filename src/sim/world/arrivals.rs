//! Arrivals and new payments: each flow's non-homogeneous Poisson process (a smooth daily curve
//! in one-minute steps, modulated by surges when the flow has them) and tour-group bursts, who pays whom how much, the payer's think time, and the payment's
//! terms before the originator quotes them.

use rand_distr::Distribution;
use rust_decimal::Decimal;

use super::books::{self, Role};
use super::build::STREAM_PAYMENTS;
use super::minute_of;
use super::{Code, Event, PRef, Payment, Stage, World};
use crate::payments::money::{Currency, Money};
use crate::payments::network::Terms;
use crate::payments::network::far_side::FarSide;
use crate::payments::network::originator::Originator;
use crate::payments::party::Flow;
use crate::payments::time::{Span, Timestamp};
use crate::sim::rng::Prng;

/// What a retry carries over from the attempt before it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Carry {
    pub(super) intent: u64,
    pub(super) attempt: u8,
    pub(super) payer: u32,
    pub(super) payee: u32,
    pub(super) amount: Money,
    pub(super) fixed_payee: bool,
}

fn uniform_ns(rng: &mut Prng, range: [u64; 2]) -> u64 {
    range[0] + rng.below(range[1] - range[0] + 1)
}

impl World {
    pub(super) fn on_arrival(&mut self, now: Timestamp, fi: usize, group: bool) {
        if group {
            let f = &self.cfg.flows[fi];
            let (size, spread) = (f.burst_size, f.burst_spread_ns);
            let rng = &mut self.arrival_rng[fi][1];
            let k = size[0] + rng.below(u64::from(size[1] - size[0] + 1)) as u32;
            let spread_ns = uniform_ns(rng, spread);
            let payee = self.draw_payee(fi, &mut self.arrival_rng[fi][1].clone());
            let _ = self.arrival_rng[fi][1].next_u64();
            for _ in 0..k {
                let offset = Span::from_nanos(self.arrival_rng[fi][1].below(spread_ns.max(1)));
                let at = now.checked_add(offset).expect("in range");
                self.new_payment(at, fi, None, Some(payee));
            }
        } else {
            self.new_payment(now, fi, None, None);
        }
        if let Some(next) = self.next_arrival(now, fi, group) {
            self.schedule(next, Event::Arrival { flow: fi as u8, group });
        }
    }

    /// The next arrival of a flow's (single or group) non-homogeneous Poisson process: rates
    /// are constant within a minute, and memorylessness lets a draw that crosses a minute's end
    /// restart there.
    pub(super) fn next_arrival(
        &mut self,
        now: Timestamp,
        fi: usize,
        group: bool,
    ) -> Option<Timestamp> {
        let f = &self.cfg.flows[fi];
        let factor = if group {
            let mean_size = f64::from(f.burst_size[0] + f.burst_size[1]) / 2.0;
            f.burst_share / mean_size
        } else {
            1.0 - f.burst_share
        };
        let rng = &mut self.arrival_rng[fi][usize::from(group)];
        // Surges modulate the single arrivals (groups are bursts of their own).
        let mut surge = if group { None } else { self.surges[fi].as_mut() };
        let mut t = now;
        loop {
            let m = minute_of(t, self.cfg.start);
            let mut rate = *f.per_minute.get(m)? * factor;
            let mut boundary = self.cfg.start.checked_add(Span::from_minutes(m as u64 + 1))?;
            if let (Some(s), Some(c)) = (surge.as_deref_mut(), f.surges) {
                while s.until <= t {
                    s.high = !s.high;
                    let mean = if s.high { c.high_mean_ns } else { c.low_mean_ns };
                    let length = Span::from_nanos(s.rng.exponential_ns(mean).max(1));
                    s.until = s.until.checked_add(length)?;
                }
                rate *= if s.high { c.high_x } else { c.low_x };
                boundary = boundary.min(s.until);
            }
            if rate > 0.0 {
                let dt = rng.exponential_ns(60e9 / rate);
                let at = t.checked_add(Span::from_nanos(dt))?;
                if at < boundary {
                    return Some(at);
                }
            }
            t = boundary;
        }
    }

    /// A payee by popularity: rank k (from 1) with weight 1/k^s, as a merchant index from 0.
    pub(super) fn draw_payee(&self, fi: usize, rng: &mut Prng) -> u32 {
        let table = match self.cfg.flows[fi].flow {
            Flow::Inward => 0,
            Flow::Outward => 1,
            Flow::Remittance => 2,
            Flow::Domestic => 3,
        };
        let zipf = self.zipf[table].as_ref().expect("a flow with traffic has payees");
        let rank: f64 = zipf.sample(rng);
        (rank as u32).saturating_sub(1)
    }

    pub(super) fn population(&self, flow: Flow) -> (Role, Role) {
        match flow {
            Flow::Inward => (Role::InwardPayer, Role::InwardMerchant),
            Flow::Outward => (Role::OutwardPayer, Role::OutwardMerchant),
            Flow::Remittance => (Role::RemittanceSender, Role::RemittanceRecipient),
            Flow::Domestic => (Role::DomesticPayer, Role::DomesticMerchant),
        }
    }

    /// Creates a payment whose payer confirms after a think time (or, for a retry, after the
    /// retry delay).
    pub(super) fn new_payment(
        &mut self,
        now: Timestamp,
        fi: usize,
        carry: Option<Carry>,
        payee: Option<u32>,
    ) {
        if self.in_flight >= self.in_flight_max {
            self.stop = Some(super::Stop::Limit("payments_in_flight_max"));
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut rng = Prng::stream(self.payment_seed, STREAM_PAYMENTS | seq);
        let f = &self.cfg.flows[fi];
        let flow = f.flow;
        let (payer_role, payee_role) = self.population(flow);
        let carry = carry.unwrap_or_else(|| self.draw_purchase(fi, payee, &mut rng));
        let f = &self.cfg.flows[fi];
        let payer = self.books.customer(payer_role, carry.payer);
        let payee = self.books.customer(payee_role, carry.payee);
        let payer_currency = match flow {
            Flow::Inward => Currency::Cny,
            Flow::Outward => Currency::Khr,
            Flow::Remittance if carry.fixed_payee => {
                if rng.below(2) == 0 {
                    Currency::Khr
                } else {
                    Currency::Usd
                }
            }
            Flow::Remittance | Flow::Domestic => carry.amount.currency,
        };
        let payee_currency = match flow {
            Flow::Inward => Currency::Khr,
            Flow::Outward | Flow::Remittance => Currency::Cny,
            Flow::Domestic => carry.amount.currency,
        };
        let r = f.failures;
        let code = draw_code(f, &mut rng);
        let empty = rng.chance_ppm(r.insufficient_balance);
        let payer_wallet = if empty {
            match flow {
                Flow::Inward => self.books.issuer_empty[payer.at as usize],
                _ => self.books.bank_empty[payer.at as usize][payer_currency.index()],
            }
        } else {
            payer.wallet(payer_currency)
        };
        let think = if carry.attempt > 0 {
            Span::from_nanos(uniform_ns(&mut rng, f.retry_after_ns))
        } else if code == Code::Dynamic {
            Span::from_nanos(f.think_dynamic.sample_ns(&mut rng))
        } else {
            Span::from_nanos(f.think.sample_ns(&mut rng))
        };
        let payee_wallet = payee.wallet(payee_currency);
        let parties =
            Parties { payer_at: payer.at, payee_at: payee.at, payer_wallet, payee_wallet };
        let terms = payment_terms(flow, seq, parties, &carry, payer_currency, payee_currency);
        let payment = Payment {
            generation: 0,
            seq,
            fi: fi as u8,
            intent: carry.intent,
            attempt: carry.attempt,
            rng,
            payer: carry.payer,
            payee: carry.payee,
            payer_at: payer.at,
            payee_at: payee.at,
            code,
            terms,
            originator: Originator::default(),
            far: FarSide::default(),
            confirmed_at: now,
            held_at: now,
            originated_at: now,
            hop: 0,
            stage: Stage::Thinking,
            in_network: 0,
            tap: Default::default(),
            relays: Default::default(),
            pending: None,
            reserved: None,
        };
        let p = self.allocate(payment);
        let stats = &mut self.stats[fi];
        stats.payments_count += 1;
        let bank = if flow == Flow::Inward { payee.at } else { payer.at };
        stats.banks[bank as usize].payments_count += 1;
        stats.retries_count += u64::from(carry.attempt > 0);
        self.audit.created();
        let at = now.checked_add(think).expect("in range");
        self.schedule(at, Event::Confirm(p));
    }

    /// A new purchase: who pays whom, how much.
    pub(super) fn draw_purchase(&mut self, fi: usize, payee: Option<u32>, rng: &mut Prng) -> Carry {
        let flow = self.cfg.flows[fi].flow;
        let (payer_role, _) = self.population(flow);
        let payers = self.books.customers(payer_role).len() as u64;
        let payer = rng.below(payers) as u32;
        let payee = payee.unwrap_or_else(|| self.draw_payee(fi, rng));
        let f = &self.cfg.flows[fi];
        let fixed_payee = flow == Flow::Remittance && rng.chance_ppm(f.auspicious);
        let amount = if fixed_payee {
            f.auspicious_cny[rng.below(f.auspicious_cny.len() as u64) as usize]
        } else {
            f.amounts_for(rng).sample(rng)
        };
        self.next_intent += 1;
        Carry { intent: self.next_intent, attempt: 0, payer, payee, amount, fixed_payee }
    }

    pub(super) fn allocate(&mut self, mut payment: Payment) -> PRef {
        self.in_flight += 1;
        self.in_flight_by_flow[payment.fi as usize] += 1;
        if let Some(slot) = self.free.pop() {
            let generation = self.slots[slot as usize].generation.wrapping_add(1);
            payment.generation = generation;
            self.slots[slot as usize] = payment;
            PRef { slot, generation }
        } else {
            let slot = self.slots.len() as u32;
            self.slots.push(payment);
            PRef { slot, generation: 0 }
        }
    }
}

/// Where a payment's two customers are.
#[derive(Clone, Copy, Debug)]
struct Parties {
    payer_at: u16,
    payee_at: u16,
    payer_wallet: crate::payments::ledger::AccountId,
    payee_wallet: crate::payments::ledger::AccountId,
}

/// A new payment's terms, before the originator quotes any conversion.
fn payment_terms(
    flow: Flow,
    seq: u64,
    parties: Parties,
    carry: &Carry,
    payer_currency: Currency,
    payee_currency: Currency,
) -> Terms {
    let Parties { payer_at, payee_at, payer_wallet, payee_wallet } = parties;
    let (payer_participant, payee_participant) = match flow {
        Flow::Inward => (books::issuer(payer_at), books::bank(payee_at)),
        Flow::Outward => (books::bank(payer_at), books::CN_ACQUIRERS[payee_at as usize]),
        Flow::Remittance => (books::bank(payer_at), books::issuer(payee_at)),
        Flow::Domestic => (books::bank(payer_at), books::bank(payee_at)),
    };
    Terms {
        flow,
        reference: seq,
        payer_wallet,
        payee_wallet,
        payer_participant,
        payee_participant,
        amount: carry.amount,
        payer_currency,
        payee_amount_fixed: flow != Flow::Remittance || carry.fixed_payee,
        conversion: None,
        rate: Decimal::ONE,
        fee: Money::zero(payee_currency),
    }
}

/// Which code the payer's app will scan.
fn draw_code(f: &super::config::FlowConfig, rng: &mut Prng) -> Code {
    let r = f.failures;
    if rng.chance_ppm(r.malformed_qr) {
        Code::Malformed
    } else if rng.chance_ppm(r.expired_qr) {
        Code::Expired
    } else if rng.chance_ppm(f.dynamic) {
        Code::Dynamic
    } else {
        Code::Static
    }
}
