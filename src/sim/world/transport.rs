//! How messages travel. Every message of a payment (the request, its answer, status inquiries,
//! reversal advices and their answers) crosses its flow's route hop by hop: over a link
//! (latency, loss, duplication, outages), then into the node at the next hop, where it queues
//! and takes service like any other work (answers before new requests, see
//! [`Class`](crate::sim::station::Class)). Forward messages go from the originator (hop 0)
//! toward the payee's side; answers come back.
//!
//! A payment's slot stays allocated while any of its messages is in the network, so that a
//! message still travelling after its payment ended (a late answer, a request the originator
//! gave up on) keeps loading the nodes it crosses, and the clearing taps record an answer as it
//! passes them; such a message changes no payment.

use super::{Event, PRef, World};
use crate::payments::clearing::{MessageKind, Status};
use crate::payments::network::ResponseCode;
use crate::payments::time::{Span, Timestamp};
use crate::sim::network::Delivery;

/// A message of one payment at one hop of its route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Msg {
    pub(super) p: PRef,
    /// The hop it is at (or travelling to).
    pub(super) hop: u8,
    pub(super) kind: Kind,
}

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The 0200, forward; `dup` when it is a copy the network made (or the payer's second tap).
    Request { dup: bool },
    /// The 0210, back toward the originator.
    Response(ResponseCode),
    /// A 0600 status inquiry, forward to the hop that books the payee's side.
    Inquiry,
    /// Its 0610, back.
    InquiryAnswer(ResponseCode),
    /// A 0420 reversal advice from hop `origin` (0: the originator; else a node that gave up
    /// at its deadline), forward to the hop that books the payee's side.
    Reversal { origin: u8 },
    /// Its 0430, back to `origin`.
    ReversalAck { code: ResponseCode, origin: u8 },
    /// A stand-in advice (0120) from hop `origin`, a node that approved on the far side's
    /// behalf, forward to the hop that books the payee's side.
    StandIn { origin: u8 },
    /// Its acknowledgement (0130), back to `origin`.
    StandInAck { code: ResponseCode, origin: u8 },
}

impl Kind {
    /// Whether it travels away from the originator.
    pub(super) fn forward(self) -> bool {
        matches!(
            self,
            Kind::Request { .. } | Kind::Inquiry | Kind::Reversal { .. } | Kind::StandIn { .. }
        )
    }
}

/// Where the answer to a payment's request is on its way past the clearing taps: the status
/// it carries and when it passed each tap (the switch's file is kept at the Bakong gateway,
/// UPI's at UPI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct TapWatch {
    status: Option<Status>,
    switch: Option<Timestamp>,
    scheme: Option<Timestamp>,
}

impl World {
    /// Sends `kind` from hop `from` to the next hop in its direction, leaving at `at`: it
    /// arrives at the node there once, twice (a request's copy is marked `dup`; other copies
    /// change nothing and are not modelled), or not at all.
    pub(super) fn send_msg(&mut self, at: Timestamp, p: PRef, from: u8, kind: Kind) {
        let Some(pay) = self.slot(p) else { return };
        let route = self.route(pay.fi);
        let (to, link) = if kind.forward() {
            (from + 1, route.hops[from as usize + 1].link)
        } else {
            (from - 1, route.hops[from as usize].link)
        };
        let delivery = self.send(link, at);
        self.deliver(p, to, kind, delivery, at);
    }

    /// The payer's app sends the request to its originator (hop 0).
    pub(super) fn send_from_app(&mut self, now: Timestamp, p: PRef) -> Delivery {
        let fi = self.slot(p).expect("alive").fi;
        let link = self.route(fi).hops[0].link;
        let delivery = self.send(link, now);
        self.deliver(p, 0, Kind::Request { dup: false }, delivery, now);
        delivery
    }

    /// A message reaches hop `to` as the link delivered it.
    fn deliver(&mut self, p: PRef, to: u8, kind: Kind, delivery: Delivery, sent: Timestamp) {
        let arrivals = match delivery {
            Delivery::Lost => {
                if matches!(kind, Kind::Response(_)) {
                    self.tap_lost(sent, p);
                }
                return;
            }
            Delivery::Delivered(at) => [Some((at, kind)), None],
            Delivery::Duplicated(at, again) => match kind {
                Kind::Request { .. } => {
                    [Some((at, kind)), Some((again, Kind::Request { dup: true }))]
                }
                _ => [Some((at, kind)), None],
            },
        };
        for (at, kind) in arrivals.into_iter().flatten() {
            self.schedule_msg(at, Msg { p, hop: to, kind });
        }
    }

    /// A message of a payment arrives at the node of its hop at `at`.
    pub(super) fn schedule_msg(&mut self, at: Timestamp, msg: Msg) {
        self.slot_mut(msg.p).expect("alive").in_network += 1;
        self.schedule(at, Event::Arrive(msg));
    }

    /// One of a payment's messages has left the network (answered, absorbed, refused, dropped):
    /// once the payment is final and none is left, its slot is free.
    pub(super) fn consume(&mut self, p: PRef) {
        let pay = self.slot_mut(p).expect("a message keeps its payment's slot");
        pay.in_network -= 1;
        self.release_if_done(p);
    }

    /// The answer to a request leaves hop `from` (after `extra`, for a late answer) on its way
    /// back to the originator; the switch and UPI record it as it passes them, when it comes
    /// from beyond both.
    pub(super) fn respond(
        &mut self,
        now: Timestamp,
        p: PRef,
        from: u8,
        code: ResponseCode,
        extra: Span,
    ) {
        let Some(pay) = self.slot(p) else { return };
        let at = now.checked_add(extra).expect("in range");
        if let Some(taps) = self.route(pay.fi).taps
            && from >= taps.switch.max(taps.scheme)
        {
            let status =
                if code == ResponseCode::Approved { Status::Approved } else { Status::Declined };
            self.slot_mut(p).expect("alive").tap =
                TapWatch { status: Some(status), ..Default::default() };
            self.tap_pass(at, p, from);
        }
        if from == 0 {
            self.schedule(at, Event::Response(p, code));
        } else {
            self.send_msg(at, p, from, Kind::Response(code));
        }
    }

    /// The answer to a request passed hop `hop` at `at`: a tap there records it; once it has
    /// passed both, the two files have their records.
    pub(super) fn tap_pass(&mut self, at: Timestamp, p: PRef, hop: u8) {
        let Some(pay) = self.slot(p) else { return };
        let Some(taps) = self.route(pay.fi).taps else { return };
        let watch = &mut self.slot_mut(p).expect("alive").tap;
        if watch.status.is_none() {
            return;
        }
        if hop == taps.switch {
            watch.switch = Some(at);
        }
        if hop == taps.scheme {
            watch.scheme = Some(at);
        }
        if let TapWatch { status: Some(status), switch: Some(s), scheme: Some(u) } = *watch {
            *watch = TapWatch::default();
            self.record(p, MessageKind::Purchase, (s, status), (u, status));
        }
    }

    /// The answer was lost at `at` on its way: each tap it had not passed records a time-out.
    fn tap_lost(&mut self, at: Timestamp, p: PRef) {
        let Some(pay) = self.slot_mut(p) else { return };
        let watch = std::mem::take(&mut pay.tap);
        let Some(status) = watch.status else { return };
        let seen = |t: Option<Timestamp>| t.map_or((at, Status::TimedOut), |t| (t, status));
        self.record(p, MessageKind::Purchase, seen(watch.switch), seen(watch.scheme));
    }
}
