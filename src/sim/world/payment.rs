//! A payment's life in the network, driving the protocol's state machines
//! (`payments::network`): the payer confirms, each hop of the route does its part (the
//! originator authorises and holds, UPI or the domestic switch may fail, the far side
//! credits), the answer settles the originator, its timers inquire and reverse, and the
//! payment reaches its one final state (and the payer may retry).

use super::arrivals::Carry;
use super::books;
use super::config;
use super::transport::{Kind, Msg};
use super::{Decline, Event, Outcome, PRef, Payment, Stage, World};
use super::{minute_of, second_of};
use rust_decimal::Decimal;

use crate::payments::clearing::{MessageKind, Status};
use crate::payments::fx::Pair;
use crate::payments::ledger::TransferId;
use crate::payments::money::Money;
use crate::payments::network::ResponseCode;
use crate::payments::network::far_side::{FarPhase, RequestStep, ReversalStep as FarReversal};
use crate::payments::network::originator::{
    Conclusion, InquiryStep, ReversalStep as ReversalTimerStep, Timer,
};
use crate::payments::network::terms::Terms;
use crate::payments::party::Flow;
use crate::payments::settlement::Fee;
use crate::payments::time::{Span, Timestamp, Zone};
use crate::record::{INTERVAL_MINUTES, PaymentCost};
use crate::sim::audit::Breach;

impl World {
    pub(super) fn on_confirm(&mut self, now: Timestamp, p: PRef) {
        let Some(pay) = self.payment(p) else { return };
        let fi = pay.fi as usize;
        let abandon = self.cfg.flows[fi].abandon;
        let refusal = self.scan(pay, now);
        let pay = self.payment_mut(p).expect("alive");
        if pay.rng.chance_ppm(abandon) {
            self.finalize(now, p, Outcome::Abandoned).expect("an abandoned payment has no effects");
            return;
        }
        pay.confirmed_at = now;
        pay.stage = Stage::InNetwork;
        let m = minute_of(now, self.cfg.start);
        let last = self.minutes[fi].len() - 1;
        self.minutes[fi][m.min(last)].offered += 1;
        let second = second_of(now, self.cfg.start);
        self.stats[fi].peak_seconds.offered.add(second);
        self.peak_seconds.offered.add(second);
        if let Some(decline) = refusal {
            self.finalize(now, p, Outcome::Declined(decline)).expect("nothing booked yet");
            return;
        }
        let dup_rate = self.cfg.flows[fi].duplicate_tap;
        let dup_tap = self.payment_mut(p).expect("alive").rng.chance_ppm(dup_rate);
        let delivery = self.send_from_app(now, p);
        let gives_up = now.checked_add(self.cfg.app_timeout).expect("in range");
        if let Some(at) = delivery.first()
            && dup_tap
        {
            let later = at.checked_add(Span::from_millis(300)).expect("in range");
            self.schedule_msg(later, Msg { p, hop: 0, kind: Kind::Request { dup: true } });
        }
        if delivery.first().is_none_or(|at| at > gives_up) {
            // The app never reached its bank, or reaches it only after its own timeout: it
            // gives up then (a request that arrives later finds its payment over).
            let code = ResponseCode::Declined(Decline::IssuerUnavailable);
            self.schedule(gives_up, Event::Response(p, code));
        }
    }

    pub(super) fn on_arrive(&mut self, now: Timestamp, msg: Msg) -> Result<(), Breach> {
        let pay = self.slot(msg.p).expect("a message keeps its payment's slot");
        let h = self.route(pay.fi).hops[msg.hop as usize];
        let node = self.node_of(h, pay);
        self.node_arrive(now, node, msg)
    }

    /// A message finished service at hop `msg.hop` on `node`: the hop's part of the payment.
    /// A message of a finished payment still travels on (its nodes cannot know), but changes
    /// nothing where it ends.
    pub(super) fn on_message(
        &mut self,
        now: Timestamp,
        node: usize,
        msg: Msg,
    ) -> Result<(), Breach> {
        let Msg { p, hop, kind } = msg;
        let credit = self.route(self.slot(p).expect("held").fi).credit;
        match kind {
            Kind::Request { dup } => return self.on_hop(now, node, p, hop, dup),
            Kind::Response(code) => {
                if self.relay_drops_answer(now, node, p, hop) {
                    return Ok(());
                }
                self.tap_pass(now, p, hop);
                if hop == 0 {
                    return self.on_answer(now, p, code);
                }
            }
            Kind::InquiryAnswer(code) if hop == 0 => return self.on_answer(now, p, code),
            Kind::ReversalAck { code, origin: 0 } if hop == 0 => {
                return self.on_reversal_ack(now, p, code);
            }
            Kind::ReversalAck { origin, .. } | Kind::StandInAck { origin, .. } if hop == origin => {
                return self.on_advice_ack(now, p, hop);
            }
            Kind::Inquiry if hop == credit => {
                self.on_inquiry_at_far(now, p, hop);
                return Ok(());
            }
            Kind::Reversal { origin } if hop == credit => {
                return self.on_reversal_at_far(now, p, hop, origin);
            }
            Kind::StandIn { origin } if hop == credit => {
                return self.on_stand_in_at_far(now, p, hop, origin);
            }
            Kind::InquiryAnswer(_)
            | Kind::ReversalAck { .. }
            | Kind::StandInAck { .. }
            | Kind::Inquiry
            | Kind::Reversal { .. }
            | Kind::StandIn { .. } => {}
        }
        self.send_msg(now, p, hop, kind);
        Ok(())
    }

    /// Draws a technical failure at a node: `rate` scaled by the node's degraded window.
    pub(super) fn draw(&mut self, p: PRef, rate: config::Ppm, node: usize, now: Timestamp) -> bool {
        let rate = self.node_window(node, now).map_or(rate, |w| w.scale(rate));
        self.payment_mut(p).expect("alive").rng.chance_ppm(rate)
    }

    /// A request finished service at `hop` on `node`: the hop's part of the payment.
    pub(super) fn on_hop(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
        dup: bool,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else {
            // Its payment has ended: a node on the way passes it on regardless, and the
            // originator and the far side, which know, drop it.
            let credit = self.route(self.slot(p).expect("held").fi).credit;
            if 0 < hop && hop < credit {
                self.send_msg(now, p, hop, Kind::Request { dup });
            }
            return Ok(());
        };
        let fi = pay.fi as usize;
        if dup || pay.hop > hop {
            self.absorb_duplicate(now, p, hop);
            return Ok(());
        }
        self.payment_mut(p).expect("alive").hop = hop;
        let r = self.cfg.flows[fi].failures;
        let route = &self.cfg.flows[fi].route;
        let (scheme, switch) = (route.scheme, route.switch);
        if hop == 0 {
            if let Err(decline) = self.originate(now, node, p) {
                self.respond(now, p, 0, ResponseCode::Declined(decline), Span::ZERO);
                return Ok(());
            }
        } else if hop == scheme && self.draw(p, r.switch_error, node, now) {
            let code = ResponseCode::Declined(Decline::SwitchError);
            self.respond(now, p, hop, code, Span::ZERO);
            return Ok(());
        }
        if Some(hop) == switch && !self.liquidity_admits(now, node, p, hop) {
            return Ok(());
        }
        self.past_checks(now, node, p, hop)
    }

    /// The rest of a request's hop once the hop's own checks passed (or a payment held for
    /// liquidity is let through): the far side's credit at the credit hop, then on to the
    /// next hop, or the answer from the last.
    pub(super) fn past_checks(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
    ) -> Result<(), Breach> {
        let fi = self.payment(p).expect("alive").fi as usize;
        let route = &self.cfg.flows[fi].route;
        let (credit, last) = (route.credit, route.hops.len() - 1);
        let mut extra = Span::ZERO;
        if hop == credit {
            if let Err(decline) = self.far_side_request(now, node, p) {
                self.respond(now, p, hop, ResponseCode::Declined(decline), Span::ZERO);
                return Ok(());
            }
            extra = self.late_answer(now, node, p);
        }
        if (hop as usize) < last {
            if hop == 0 {
                self.payment_mut(p).expect("alive").originated_at = now;
            }
            if let Err(decline) = self.relay_forward(now, node, p, hop) {
                self.respond(now, p, hop, ResponseCode::Declined(decline), Span::ZERO);
                return Ok(());
            }
            self.send_msg(now, p, hop, Kind::Request { dup: false });
        } else {
            self.respond(now, p, hop, ResponseCode::Approved, extra);
        }
        Ok(())
    }

    /// A duplicate request: the core absorbs it, booking the hold or the credit again under the
    /// same ids (the ledger's idempotency returns the first outcome).
    pub(super) fn absorb_duplicate(&mut self, now: Timestamp, p: PRef, hop: u8) {
        let pay = self.payment(p).expect("alive").clone();
        self.stats[pay.fi as usize].duplicates_absorbed_count += 1;
        if hop == 0
            && let Some(hold) = pay.originator.on_duplicate()
        {
            let until = pay.held_at.checked_add(self.cfg.hold).expect("in range");
            let commands = pay.terms.hold_commands(&self.books, hold, until);
            let _ = self.books.ledger.execute_linked(&commands, now);
            self.marks.duplicate_absorbed_count += 1;
        }
        if hop == self.route(pay.fi).credit
            && let Some(credit) = pay.far.on_duplicate()
        {
            let id = if self.sabotage.rebook_duplicates {
                TransferId(self.books.ids(2))
            } else {
                credit
            };
            let commands = pay.terms.credit_commands(&self.books, id);
            let _ = self.books.ledger.execute_linked(&commands, now);
            self.marks.duplicate_absorbed_count += 1;
        }
    }

    /// The originator's own decision: PIN, limit and risk declines drawn from the payment's
    /// stream in that order, then the host's availability (scaled by a degraded window).
    pub(super) fn originator_decision(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
    ) -> Option<Decline> {
        let r = self.cfg.flows[self.payment(p).expect("alive").fi as usize].failures;
        r.originator_decline(|d, rate| match d {
            Decline::IssuerUnavailable => self.draw(p, rate, node, now),
            _ => self.payment_mut(p).expect("alive").rng.chance_ppm(rate),
        })
    }

    /// The originator authorises: its decision, then for a cross-border payment the FX quote
    /// and the hold on the payer's funds; then it waits, with its timeout set.
    pub(super) fn originate(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
    ) -> Result<(), Decline> {
        let decision = self.originator_decision(now, node, p);
        let fi = self.payment(p).expect("alive").fi as usize;
        self.payment_mut(p).expect("alive").originator.on_request(decision)?;
        let (timer, after) = if self.payment(p).expect("alive").flow() == Flow::Domestic {
            let policy = &self.cfg.flows[fi].policy;
            alive_mut(&mut self.slots, p).originator.on_authorised(policy)
        } else {
            self.quote(now, p);
            let first = TransferId(self.books.ids(2));
            let until = now.checked_add(self.cfg.hold).expect("in range");
            let pay = alive_mut(&mut self.slots, p);
            // The hold lives from when it is placed (a duplicate request reuses the instant).
            pay.held_at = now;
            let commands = pay.terms.hold_commands(&self.books, first, until);
            let result = self.books.ledger.execute_linked(&commands, now).map_err(|(_, r)| r);
            let policy = &self.cfg.flows[fi].policy;
            alive_mut(&mut self.slots, p).originator.on_hold(result, first, policy)?
        };
        self.after(after, Event::Originator(p, timer));
        Ok(())
    }

    /// The originator's FX quote at UPI's rate, locked into the payment's terms.
    pub(super) fn quote(&mut self, now: Timestamp, p: PRef) {
        let terms = self.payment(p).expect("alive").terms;
        let request = terms.quote_request(now, self.cfg.quote_ttl).expect("a cross-border flow");
        let quote =
            self.books.rates.quote(request).expect("UPI publishes every pair from the start");
        let mut converted =
            terms.converted(&quote, now).expect("amounts are positive and in range");
        if self.sabotage.round_fx_up
            && let Some(c) = converted.conversion.as_mut()
        {
            if converted.payee_amount_fixed {
                c.exchanged = Money::new(c.exchanged.currency, c.exchanged.minor - 1);
            } else {
                c.received = Money::new(c.received.currency, c.received.minor + 1);
            }
        }
        self.payment_mut(p).expect("alive").terms = converted;
    }

    /// The far side's decision: the payee's account invalid, then a technical error (not
    /// domestic), each drawn only when the one before did not decline.
    pub(super) fn far_side_decision(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
    ) -> Option<Decline> {
        let pay = self.payment(p).expect("alive");
        let (flow, r) = (pay.flow(), self.cfg.flows[pay.fi as usize].failures);
        r.far_side_decline(flow, |_, rate| self.draw(p, rate, node, now))
    }

    /// The request at the far side: declined there, or the payee credited.
    pub(super) fn far_side_request(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
    ) -> Result<(), Decline> {
        let mut far = self.payment(p).expect("alive").far;
        let step = far.on_request_with(|| self.far_side_decision(now, node, p));
        self.payment_mut(p).expect("alive").far = far;
        match step {
            RequestStep::Decline(d) => Err(d),
            RequestStep::Credit => self.credit(now, p),
            RequestStep::AlreadyCredited => Ok(()),
        }
    }

    /// A late approval: the far side answers after the originator's timeout (drawn after the
    /// credit, with a degraded window's rate when there is one).
    pub(super) fn late_answer(&mut self, now: Timestamp, node: usize, p: PRef) -> Span {
        let fi = self.payment(p).expect("alive").fi as usize;
        let r = self.cfg.flows[fi].failures;
        let late_rate =
            self.node_window(node, now).and_then(|w| w.late_approval).unwrap_or(r.late_approval);
        let timeout = self.cfg.flows[fi].policy.timeout;
        let pay = self.payment_mut(p).expect("alive");
        if pay.rng.chance_ppm(late_rate) {
            Span::from_nanos(timeout.as_nanos() + 1_000_000_000 + pay.rng.below(9_000_000_000))
        } else {
            Span::ZERO
        }
    }

    /// The far side books the payee's credit (and, inward, the merchant discount).
    pub(super) fn credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Decline> {
        let first = TransferId(self.books.ids(2));
        let mdr = Fee { bps: self.cfg.fx.inward_mdr_bps };
        let pay = alive_mut(&mut self.slots, p);
        pay.terms = pay.terms.with_merchant_discount(mdr).expect("in range");
        let commands = pay.terms.credit_commands(&self.books, first);
        let result = self.books.ledger.execute_linked(&commands, now).map_err(|(_, r)| r);
        let pay = self.payment_mut(p).expect("alive");
        pay.far.on_credit(result, first)?;
        let (seq, received) = (pay.seq, pay.terms.received().minor);
        self.obligations(now, p, false);
        self.audit.credited(seq, received);
        self.notify_payee(now, p);
        Ok(())
    }

    /// The payee (the merchant, or the remittance's recipient) hears of its credit over the
    /// `merchant_notify` link: the far side's leg of the payment, measured from the payer's
    /// confirm.
    fn notify_payee(&mut self, now: Timestamp, p: PRef) {
        let link = self.merchant_notify;
        let delivery = self.send(link, now);
        let pay = self.payment(p).expect("alive");
        let (fi, confirmed_at) = (pay.fi as usize, pay.confirmed_at);
        let stats = &mut self.stats[fi];
        match delivery.first() {
            Some(at) => {
                let us = (at.saturating_since(confirmed_at).as_nanos() / 1000).max(1);
                stats.latency_merchant_notified.saturating_record(us);
            }
            None => stats.merchant_notifications_lost_count += 1,
        }
    }

    /// Netting obligations and UPI ⇄ NBC amounts of a credit (or, `undo`, of its reversal).
    pub(super) fn obligations(&mut self, now: Timestamp, p: PRef, undo: bool) {
        let terms = self.payment(p).expect("alive").terms;
        let cycle = self.cfg.netting.cycle_of(now, &self.kh_calendar);
        let o = terms.obligations(books::NBC, undo);
        self.liquidity_book(p, &o.netting);
        self.books.oblige(cycle, o.netting.payer, o.netting.payee, o.netting.amount);
        if let Some(s) = o.scheme {
            self.books.scheme(now.date_at(Zone::BEIJING), s.amount, s.to_nbc);
        }
    }

    /// An answer (the 0210, or a 0610 with the original's outcome) reaches the originator.
    pub(super) fn on_answer(
        &mut self,
        now: Timestamp,
        p: PRef,
        code: ResponseCode,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        let Some(conclusion) = pay.originator.on_answer(code) else { return Ok(()) };
        self.conclude(now, p, conclusion)
    }

    /// The originator has its answer: post or void the hold, tell the payer.
    pub(super) fn conclude(
        &mut self,
        now: Timestamp,
        p: PRef,
        c: Conclusion,
    ) -> Result<(), Breach> {
        if let Some(hold) = c.hold {
            let post = c.post || self.sabotage.post_declined_holds;
            self.settle_hold(now, p, hold, post);
        }
        let pay = self.payment(p).expect("alive");
        let (fi, confirmed_at, bank) = (pay.fi as usize, pay.confirmed_at, pay.bank());
        let app = self.send(self.route(fi as u8).hops[0].link, now).first().unwrap_or(now);
        let latency_us = (app.saturating_since(confirmed_at).as_nanos() / 1000).max(1);
        let stats = &mut self.stats[fi];
        if Span::from_nanos(latency_us * 1000) > self.cfg.app_timeout {
            stats.payer_timeouts_count += 1;
        }
        stats.latency_answered.saturating_record(latency_us);
        if c.outcome.is_approved() {
            stats.latency_approved.saturating_record(latency_us);
            stats.banks[bank].latency_approved.saturating_record(latency_us);
            let interval = (minute_of(now, self.cfg.start) as u64 / INTERVAL_MINUTES) as usize;
            stats.record_interval(interval, latency_us);
        }
        self.minute_latency[fi].record(latency_us);
        self.finalize(now, p, c.outcome)
    }

    /// Posts or voids the hold whose first id is `hold`.
    pub(super) fn settle_hold(&mut self, now: Timestamp, p: PRef, hold: TransferId, post: bool) {
        let first = TransferId(self.books.ids(2));
        let pay = self.payment(p).expect("alive");
        let commands = pay.terms.settle_hold_commands(hold, first, post);
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("hold settlement refused at {i}: {reject:?} for payment {seq}");
        }
    }

    /// One of the originator's timers fired.
    pub(super) fn on_originator_timer(
        &mut self,
        now: Timestamp,
        p: PRef,
        timer: Timer,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let fi = pay.fi as usize;
        match timer {
            Timer::Timeout { epoch } => {
                let pay = self.payment_mut(p).expect("alive");
                if let Some(first) = pay.originator.on_timeout(epoch) {
                    let seq = pay.seq;
                    if matches!(pay.far.phase(), FarPhase::Credited { .. }) {
                        self.marks.timeout_after_credit_count += 1;
                    }
                    self.eventful.insert(seq);
                    self.after(Span::ZERO, Event::Originator(p, first));
                }
            }
            Timer::Inquiry { n } => {
                let policy = &self.cfg.flows[fi].policy;
                let step = alive_mut(&mut self.slots, p).originator.on_inquiry_timer(n, policy);
                match step {
                    InquiryStep::Stale => {}
                    InquiryStep::Reverse { void } => self.start_reversal(now, p, void),
                    InquiryStep::Send { next, after } => {
                        self.send_msg(now, p, 0, Kind::Inquiry);
                        self.after(after, Event::Originator(p, next));
                    }
                }
            }
            Timer::Reversal { attempt } => {
                let policy = &self.cfg.flows[fi].policy;
                let step =
                    alive_mut(&mut self.slots, p).originator.on_reversal_timer(attempt, policy);
                match step {
                    ReversalTimerStep::Stale => {}
                    ReversalTimerStep::Manual => return self.finalize(now, p, Outcome::Manual),
                    ReversalTimerStep::Send { next, after } => {
                        self.send_msg(now, p, 0, Kind::Reversal { origin: 0 });
                        self.after(after, Event::Originator(p, next));
                    }
                }
            }
        }
        Ok(())
    }

    /// A 0600 reaches the far side at hop `hop`: it answers with what it did.
    pub(super) fn on_inquiry_at_far(&mut self, now: Timestamp, p: PRef, hop: u8) {
        let Some(pay) = self.payment(p) else { return };
        let code = pay.far.on_inquiry();
        self.send_msg(now, p, hop, Kind::InquiryAnswer(code));
    }

    /// Inquiries are over: void the hold, and send the first reversal advice at the next free
    /// slot of the reversal drain rate.
    pub(super) fn start_reversal(&mut self, now: Timestamp, p: PRef, void: Option<TransferId>) {
        if let Some(hold) = void {
            self.settle_hold(now, p, hold, false);
        }
        let at = now.max(self.reversal_slot);
        self.reversal_slot = at.checked_add(self.cfg.reversal_gap).expect("in range");
        let first = self.payment(p).expect("alive").originator.first_reversal();
        self.schedule(at, Event::Originator(p, first));
    }

    /// A 0420 reaches the far side: refused (a technical failure drawn from the payment's
    /// stream), or it reverses a credit it booked and acknowledges.
    pub(super) fn on_reversal_at_far(
        &mut self,
        now: Timestamp,
        p: PRef,
        hop: u8,
        origin: u8,
    ) -> Result<(), Breach> {
        let refuse = self.cfg.reversal_fail;
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        let refused = pay.rng.chance_ppm(refuse);
        let code = match pay.far.on_reversal(refused) {
            FarReversal::Ignore => return Ok(()),
            FarReversal::Acknowledge(code) => code,
            FarReversal::ReverseCredit { .. } => {
                self.reverse_credit(now, p)?;
                if self.sabotage.reverse_twice {
                    self.reverse_credit(now, p)?;
                }
                self.payment_mut(p).expect("alive").far.on_credit_reversed()
            }
        };
        self.send_msg(now, p, hop, Kind::ReversalAck { code, origin });
        Ok(())
    }

    /// Books the reversal of the payee's credit, its obligations and its clearing records.
    pub(super) fn reverse_credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        let pay = self.payment(p).expect("alive");
        self.audit.reversing(pay.seq, pay.terms.received().minor)?;
        self.marks.credit_reversed_count += 1;
        let first = TransferId(self.books.ids(2));
        let pay = self.payment(p).expect("alive");
        let commands = pay.terms.credit_reversal_commands(&self.books, first);
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("reversal refused at {i}: {reject:?} for payment {seq}");
        }
        self.obligations(now, p, true);
        if self.payment(p).expect("alive").flow() != Flow::Domestic {
            self.record(p, MessageKind::Reversal, (now, Status::Approved), (now, Status::Approved));
        }
        Ok(())
    }

    /// The 0430 reaches the originator.
    pub(super) fn on_reversal_ack(
        &mut self,
        now: Timestamp,
        p: PRef,
        code: ResponseCode,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        match pay.originator.on_reversal_ack(code) {
            Some(outcome) => self.finalize(now, p, outcome),
            None => Ok(()),
        }
    }

    /// The payment's outcome as its payer learns it (the per-minute series count it, and the
    /// payer may retry), and, unless a node on the way still has an advice open, its one
    /// final state. A payment whose advice is open (a node that gave up at its deadline is
    /// reversing or advising downstream) stays in flight with its outcome pending, and is
    /// closed when the last advice is acknowledged or expires ([`World::close_pending`]).
    pub(super) fn finalize(
        &mut self,
        now: Timestamp,
        p: PRef,
        outcome: Outcome,
    ) -> Result<(), Breach> {
        let (fi, advising, bank) = {
            let pay = self.payment(p).expect("alive");
            (pay.fi as usize, pay.relays.advising(), pay.bank())
        };
        self.count_minute(now, fi, outcome);
        if outcome != Outcome::Abandoned {
            let b = &mut self.stats[fi].banks[bank];
            b.answered_count += 1;
            b.approved_count += u64::from(outcome.is_approved());
        }
        let retry = self.retry_of(now, p, outcome);
        if advising {
            self.payment_mut(p).expect("alive").pending = Some(outcome);
        } else {
            self.close(p, outcome)?;
        }
        if let Some(carry) = retry {
            self.new_payment(now, fi, Some(carry), None);
        }
        Ok(())
    }

    /// The per-minute series and the peak seconds count an outcome the payer has learnt.
    fn count_minute(&mut self, now: Timestamp, fi: usize, outcome: Outcome) {
        let stats = &mut self.stats[fi];
        let m = minute_of(now, self.cfg.start).min(self.minutes[fi].len() - 1);
        let minute = &mut self.minutes[fi][m];
        if outcome != Outcome::Abandoned {
            minute.completed += 1;
            let second = second_of(now, self.cfg.start);
            stats.peak_seconds.completed.add(second);
            self.peak_seconds.completed.add(second);
        }
        match outcome {
            Outcome::Approved | Outcome::ApprovedLate => minute.approved += 1,
            Outcome::Declined(d) => {
                minute.declined += 1;
                let class =
                    Decline::ALL.iter().position(|&x| x == d).expect("every class is listed");
                minute.declined_by_class[class] += 1;
            }
            Outcome::Reversed | Outcome::Manual => minute.timed_out += 1,
            Outcome::Abandoned => {}
        }
    }

    /// The last advice of a payment whose outcome was pending closed: its final state is that
    /// outcome, unless the far side's books say otherwise (a reversal advice that expired with
    /// the payee still credited: manual handling).
    pub(super) fn close_pending(&mut self, p: PRef) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        if pay.relays.advising() {
            return Ok(());
        }
        let Some(pending) = pay.pending else { return Ok(()) };
        let credited = matches!(pay.far.phase(), FarPhase::Credited { .. });
        let outcome = if !pending.is_approved() && credited { Outcome::Manual } else { pending };
        self.close(p, outcome)
    }

    /// The payment's one final state: the auditor hears its economic effects, the outcome is
    /// counted, and its slot is freed once its messages have left the network.
    fn close(&mut self, p: PRef, outcome: Outcome) -> Result<(), Breach> {
        self.liquidity_release(p);
        let pay = self.payment(p).expect("alive");
        let t = &pay.terms;
        let paid = t.exchanged().checked_add(t.spread()).expect("in range").minor;
        let payee_gets = t.received().minor - t.fee.minor;
        let domestic = t.flow == Flow::Domestic;
        let mut effects = [(t.payer_wallet, 0), (t.payee_wallet, 0)];
        let credited = matches!(pay.far.phase(), FarPhase::Credited { .. });
        if outcome.is_approved() || (outcome == Outcome::Manual && credited) {
            let debit = if domestic { t.amount.minor } else { paid };
            if outcome.is_approved() || domestic {
                effects[0].1 = -debit;
            }
            effects[1].1 = payee_gets;
        }
        let (seq, fi) = (pay.seq, pay.fi as usize);
        let terms = pay.terms;
        let earned =
            crate::sim::audit::Earned { terms: &terms, paid: outcome.is_approved(), credited };
        self.audit.earned(seq, earned)?;
        let pay = self.payment(p).expect("alive");
        let now = self.queue.now();
        let confirmed_at = pay.confirmed_at;
        if !confirmed_at.same_date_at(now, Zone::BEIJING) {
            self.marks.across_day_cut_count += 1;
        }
        match outcome {
            Outcome::ApprovedLate => self.marks.late_approval_count += 1,
            Outcome::Declined(Decline::InsufficientLiquidity) => {
                self.marks.liquidity_decline_count += 1;
            }
            _ => {}
        }
        self.audit.finalized(seq, || outcome.name(), &effects)?;
        if self.sabotage.finalize_twice && outcome.is_approved() {
            self.audit.finalized(seq, || outcome.name(), &[])?;
        }
        if outcome.is_approved() {
            let cost = self.cost_of(&terms, confirmed_at);
            self.stats[fi].add_cost(cost);
        }
        *self.stats[fi].outcomes.entry(outcome).or_insert(0) += 1;
        self.payment_mut(p).expect("alive").stage = Stage::Final;
        self.release_if_done(p);
        self.in_flight -= 1;
        self.in_flight_by_flow[fi] -= 1;
        Ok(())
    }

    /// An approved payment's amounts, and what the payee's amount was worth at the mid rate in
    /// force when the payer confirmed (the same currency: itself).
    fn cost_of(&self, t: &Terms, confirmed_at: Timestamp) -> PaymentCost {
        let received = t.received();
        let (paid, spread) = match t.conversion {
            Some(c) => (c.paid(), c.spread),
            None => (t.amount, Money::zero(t.amount.currency)),
        };
        // Only a conversion needs the mid rate (and decimal arithmetic): a domestic payment's
        // price at mid is its amount, which the report derives.
        let converted_at_mid_minor = (paid.currency != received.currency).then(|| {
            let pair = Pair::new(paid.currency, received.currency);
            let mid = self.books.rates.mid(pair, confirmed_at).expect("every pair has a mid rate");
            let scale = Decimal::from(10i64.pow(paid.currency.exponent()));
            received.to_decimal() / mid * scale
        });
        PaymentCost { paid, received, converted_at_mid_minor, spread, fee: t.fee }
    }

    /// Whether the payer tries again after this outcome, and with what.
    pub(super) fn retry_of(&mut self, now: Timestamp, p: PRef, outcome: Outcome) -> Option<Carry> {
        let retryable = match outcome {
            Outcome::Declined(d) => !matches!(d, Decline::MalformedQr | Decline::MerchantInvalid),
            Outcome::Reversed | Outcome::Manual => true,
            _ => false,
        };
        let retries_max = self.retries_max;
        let end = self.cfg.end;
        let pay = self.payment(p).expect("alive");
        if !retryable || u32::from(pay.attempt) >= retries_max || now >= end {
            return None;
        }
        let rate = self.cfg.flows[pay.fi as usize].retry;
        let pay = self.payment_mut(p).expect("alive");
        if !pay.rng.chance_ppm(rate) {
            return None;
        }
        Some(Carry {
            intent: pay.intent,
            attempt: pay.attempt + 1,
            payer: pay.payer,
            payee: pay.payee,
            amount: pay.terms.amount,
            fixed_payee: pay.flow() == Flow::Remittance && pay.terms.payee_amount_fixed,
        })
    }
}

/// The live payment `p` among `slots`, for borrowing it beside the world's configuration.
///
/// # Panics
/// If the payment is not alive: callers have just checked it is.
pub(super) fn alive_mut(slots: &mut [Payment], p: PRef) -> &mut Payment {
    slots
        .get_mut(p.slot as usize)
        .filter(|x| {
            x.generation == p.generation && matches!(x.stage, Stage::Thinking | Stage::InNetwork)
        })
        .expect("alive")
}
