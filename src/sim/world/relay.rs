//! The world's side of the nodes that keep a deadline of their own ([`Relays`]): the deadline
//! set when such a node forwards a request, the node's own answer when it passes, the
//! store-and-forward advice it then sends downstream, and its circuit breaker toward the next
//! hop ([`Breaker`](crate::sim::breaker::Breaker)).
//!
//! A deadline or an advice timer keeps its payment's slot (as a message in the network does),
//! and a payment is not final while one of its nodes' advices is open.
//!
//! [`Relays`]: crate::payments::network::relay::Relays

use super::transport::Kind;
use super::{Decline, Event, PRef, World};
use crate::payments::network::ResponseCode;
use crate::payments::network::far_side::StandInStep;
use crate::payments::network::relay::{AdviceStep, AnswerStep, DeadlineStep};
use crate::payments::time::{Span, Timestamp};
use crate::sim::audit::Breach;

impl World {
    /// A timer of the payment's that keeps its slot until it fires.
    fn hold_at(&mut self, at: Timestamp, event: Event, p: PRef) {
        self.slot_mut(p).expect("alive").in_network += 1;
        self.schedule(at, event);
    }

    /// The node at `hop` is about to forward the request: its breaker toward the next hop may
    /// decline it at once; otherwise, with a deadline of its own (on the way to the hop that
    /// books the payee's side), it starts waiting.
    ///
    /// # Errors
    /// The decline when the breaker is open.
    pub(super) fn relay_forward(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
    ) -> Result<(), Decline> {
        let credit = self.route(self.payment(p).expect("alive").fi).credit;
        let Some(deadline) = self.nodes[node].deadline else { return Ok(()) };
        if hop == 0 || hop >= credit {
            return Ok(());
        }
        let next = self.next_node(p, hop);
        if let Some(b) = &mut self.nodes[node].breaker
            && !b.allow(next, now)
        {
            return Err(Decline::CircuitOpen);
        }
        self.payment_mut(p).expect("alive").relays.on_forward(hop);
        let at = now.checked_add(deadline).expect("in range");
        self.hold_at(at, Event::HopDeadline { p, hop }, p);
        Ok(())
    }

    /// The node instance at the hop after `hop`.
    fn next_node(&self, p: PRef, hop: u8) -> u32 {
        let pay = self.slot(p).expect("held");
        let h = self.route(pay.fi).hops[hop as usize + 1];
        self.node_of(h, pay) as u32
    }

    /// The answer to the request reached `hop` on `node`: dropped when the node has already
    /// answered upstream itself; a relaying node's breaker counts it as a success.
    pub(super) fn relay_drops_answer(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
    ) -> bool {
        let pay = self.slot_mut(p).expect("held");
        let step = pay.relays.on_answer(hop);
        if step == AnswerStep::Pass && hop > 0 && self.nodes[node].breaker.is_some() {
            let next = self.next_node(p, hop);
            self.nodes[node].breaker.as_mut().expect("checked").record(next, now, true);
        }
        step == AnswerStep::Drop
    }

    /// `hop`'s deadline passed: if it still waits, its node answers upstream itself (declines,
    /// or stands in) and starts its advice downstream.
    pub(super) fn on_hop_deadline(&mut self, now: Timestamp, p: PRef, hop: u8) {
        self.consume(p);
        let Some(pay) = self.payment(p) else { return };
        let node = self.node_of(self.route(pay.fi).hops[hop as usize], pay);
        let action = self.nodes[node].on_deadline;
        let step = self.payment_mut(p).expect("alive").relays.on_deadline(hop, action);
        let code = match step {
            DeadlineStep::Stale => return,
            DeadlineStep::Decline => ResponseCode::Declined(Decline::HopTimeout),
            DeadlineStep::StandIn => ResponseCode::Approved,
        };
        let next = self.next_node(p, hop);
        self.nodes[node].deadlines_missed += 1;
        if let Some(b) = &mut self.nodes[node].breaker {
            b.record(next, now, false);
        }
        let seq = self.slot(p).expect("alive").seq;
        self.eventful.insert(seq);
        self.respond(now, p, hop, code, Span::ZERO);
        self.hold_at(now, Event::Advice { p, hop, attempt: 0 }, p);
    }

    /// `hop`'s advice timer fired: send the advice (again), or, a reversal advice having
    /// expired, close the payment if it waited only for that.
    pub(super) fn on_advice_timer(
        &mut self,
        now: Timestamp,
        p: PRef,
        hop: u8,
        attempt: u32,
    ) -> Result<(), Breach> {
        self.consume(p);
        if self.sabotage.drop_advice_on_retry && attempt > 0 {
            return Ok(());
        }
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let fi = pay.fi as usize;
        let policy = &self.cfg.flows[fi].policy;
        let pay = super::payment::alive_mut(&mut self.slots, p);
        let step = pay.relays.on_advice_timer(hop, attempt, policy);
        let stood_in = pay.relays.stood_in(hop);
        match step {
            AdviceStep::Stale => Ok(()),
            AdviceStep::Expired => self.close_pending(p),
            AdviceStep::Send { next, after } => {
                let kind = if stood_in {
                    Kind::StandIn { origin: hop }
                } else {
                    Kind::Reversal { origin: hop }
                };
                self.send_msg(now, p, hop, kind);
                let at = now.checked_add(after).expect("in range");
                self.hold_at(at, Event::Advice { p, hop, attempt: next }, p);
                Ok(())
            }
        }
    }

    /// The acknowledgement of `hop`'s advice reached it: the advice is done, and the payment
    /// closes if it waited only for that.
    pub(super) fn on_advice_ack(
        &mut self,
        _now: Timestamp,
        p: PRef,
        hop: u8,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        if pay.relays.on_advice_ack(hop) {
            return self.close_pending(p);
        }
        Ok(())
    }

    /// A stand-in advice reaches the far side at `hop`: it credits the payee if it has not,
    /// and acknowledges to `origin`.
    pub(super) fn on_stand_in_at_far(
        &mut self,
        now: Timestamp,
        p: PRef,
        hop: u8,
        origin: u8,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let code = match pay.far.on_stand_in() {
            StandInStep::Acknowledge(code) => code,
            StandInStep::Credit => match self.credit(now, p) {
                Ok(()) => ResponseCode::Approved,
                Err(d) => ResponseCode::Declined(d),
            },
        };
        self.send_msg(now, p, hop, Kind::StandInAck { code, origin });
        Ok(())
    }
}
