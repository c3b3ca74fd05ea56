//! How messages travel: a request crosses one link to the next hop (once, twice or not at all);
//! an answer travels back hop by hop over the links, and the switch and UPI record it as it
//! passes them; inquiries and reversals cross the links to the far side and back.

use super::{Event, NodeKind, PRef, World, credit_hop, route};
use crate::payments::clearing::{MessageKind, Status};
use crate::payments::network::ResponseCode;
use crate::payments::party::Flow;
use crate::payments::time::{Span, Timestamp};
use crate::sim::network::Delivery;

impl World {
    /// A request reaches hop `hop` as the link delivered it: once, twice (the second a
    /// duplicate the core must absorb), or not at all.
    pub(super) fn deliver(&mut self, p: PRef, hop: u8, delivery: Delivery) {
        match delivery {
            Delivery::Lost => {}
            Delivery::Delivered(at) => self.schedule(at, Event::Arrive { p, hop, dup: false }),
            Delivery::Duplicated(at, again) => {
                self.schedule(at, Event::Arrive { p, hop, dup: false });
                self.schedule(again, Event::Arrive { p, hop, dup: true });
            }
        }
    }

    /// The answer travels back from `from_hop` to the originator; the switch and UPI record it
    /// as it passes them.
    pub(super) fn respond(
        &mut self,
        now: Timestamp,
        p: PRef,
        from_hop: u8,
        code: ResponseCode,
        extra: Span,
    ) {
        let Some(pay) = self.payment(p) else { return };
        let flow = pay.flow();
        let hops = route(flow);
        let mut t = now.checked_add(extra).expect("in range");
        let (mut at_switch, mut at_upi) = (None, None);
        let mut lost = false;
        let mark = |kind: NodeKind,
                    t: Timestamp,
                    s: &mut Option<Timestamp>,
                    u: &mut Option<Timestamp>| match kind {
            NodeKind::Gateway => *s = Some(t),
            NodeKind::Upi => *u = Some(t),
            _ => {}
        };
        mark(hops[from_hop as usize].node, t, &mut at_switch, &mut at_upi);
        for h in (1..=from_hop as usize).rev() {
            match self.send(hops[h].link, t).first() {
                Some(at) => t = at,
                None => {
                    lost = true;
                    break;
                }
            }
            mark(hops[h - 1].node, t, &mut at_switch, &mut at_upi);
        }
        let both = matches!(flow, Flow::Inward | Flow::Outward | Flow::Remittance)
            && from_hop >= if flow == Flow::Inward { 2 } else { 3 };
        if both {
            let status =
                if code == ResponseCode::Approved { Status::Approved } else { Status::Declined };
            let loss_time = t;
            self.record(
                p,
                MessageKind::Purchase,
                at_switch.map_or((loss_time, Status::TimedOut), |x| (x, status)),
                at_upi.map_or((loss_time, Status::TimedOut), |x| (x, status)),
            );
        }
        if !lost {
            self.schedule(t, Event::Response(p, code));
        }
    }

    /// Sends a message from the originator to the credit hop: when it arrives, if it does.
    pub(super) fn toward_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow();
        let mut t = now;
        for h in 1..=credit_hop(flow) as usize {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }

    pub(super) fn back_from_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow();
        let mut t = now;
        for h in (1..=credit_hop(flow) as usize).rev() {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }
}
