//! How messages travel: a request crosses one link to the next hop (once, twice or not at all);
//! an answer travels back hop by hop over the links, and the switch and UPI record it as it
//! passes them; inquiries and reversals cross the links to the far side and back.

use super::{Event, PRef, World};
use crate::payments::clearing::{MessageKind, Status};
use crate::payments::network::ResponseCode;
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
        let fi = pay.fi;
        let taps = self.route(fi).taps;
        let mut t = now.checked_add(extra).expect("in range");
        let (mut at_switch, mut at_upi) = (None, None);
        let mut mark = |hop: usize, t: Timestamp| {
            if let Some(taps) = taps {
                if hop == usize::from(taps.switch) {
                    at_switch = Some(t);
                }
                if hop == usize::from(taps.scheme) {
                    at_upi = Some(t);
                }
            }
        };
        let mut lost = false;
        mark(from_hop as usize, t);
        for h in (1..=from_hop as usize).rev() {
            let link = self.route(fi).hops[h].link;
            match self.send(link, t).first() {
                Some(at) => t = at,
                None => {
                    lost = true;
                    break;
                }
            }
            mark(h - 1, t);
        }
        // An answer from beyond both taps passed both (or was lost on the way: then each
        // party that did not see it records a time-out).
        if let Some(taps) = taps
            && from_hop >= taps.switch.max(taps.scheme)
        {
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
        let fi = self.payment(p)?.fi;
        let mut t = now;
        for h in 1..=self.route(fi).credit as usize {
            let link = self.route(fi).hops[h].link;
            t = self.send(link, t).first()?;
        }
        Some(t)
    }

    pub(super) fn back_from_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let fi = self.payment(p)?.fi;
        let mut t = now;
        for h in (1..=self.route(fi).credit as usize).rev() {
            let link = self.route(fi).hops[h].link;
            t = self.send(link, t).first()?;
        }
        Some(t)
    }
}
