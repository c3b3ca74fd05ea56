//! The world's processing nodes: each is a [`Station`] (servers, a queue with answers served
//! before new requests) with its own service-time distributions (requests, and the other
//! messages), degraded windows and random stream. A message that finishes service there does
//! the hop's part of the payment (`payment.rs`). A node that drops dead work discards a request
//! whose originator has already timed out when it reaches a server, instead of serving it.

use super::transport::{Kind, Msg};
use super::{Decline, Event, Node, Stage, World};
use crate::payments::network::ResponseCode;
use crate::payments::time::{Span, Timestamp};
use crate::record::{NodeMinute, NodeStats};
use crate::sim::audit::Breach;
use crate::sim::station::{Arrival, Class, Waiting};

impl Node {
    /// Its figures at the end of the run.
    pub(super) fn into_stats(self) -> NodeStats {
        NodeStats {
            name: self.name,
            servers: self.station.servers(),
            sizing: self.sizing,
            occupancy: self.station.stats(),
            others_served_count: self.others_served,
            throttled: self.admission.as_ref().map_or_else(Default::default, |a| {
                let (rate_count, concurrency_count) = a.refused_counts();
                crate::record::Throttled { rate_count, concurrency_count }
            }),
            relay: {
                let (opened, refused) = self.breaker.as_ref().map_or((0, 0), |b| b.counts());
                crate::record::RelayCounts {
                    deadlines_missed_count: self.deadlines_missed,
                    breaker_opened_count: opened,
                    breaker_refused_count: refused,
                }
            },
            minutes: self.minutes,
        }
    }

    /// Its running totals now, as a minute snapshot (the longest queue since the last one).
    pub(super) fn snapshot(&mut self) -> NodeMinute {
        let s = self.station.stats();
        NodeMinute {
            queue_len_max: self.station.take_interval_queue_max(),
            busy_ns: s.busy_ns,
            in_system_ns: s.in_system_ns,
            served_count: s.served_count,
            discarded_count: s.discarded_count,
            sojourn_ns: s.sojourn_ns,
        }
    }
}

impl World {
    /// Brings a node's integrals up to `now`.
    pub(super) fn advance(&mut self, node: usize, now: Timestamp) {
        self.nodes[node].station.advance(now);
    }

    /// One service time at a node for a message of `kind`, slowed in its degraded windows.
    fn service_ns(&mut self, node: usize, now: Timestamp, kind: Kind) -> u64 {
        let window = self.node_window(node, now).map(|w| (w.median_permille, w.p99_permille));
        let n = &mut self.nodes[node];
        let base = if matches!(kind, Kind::Request { .. }) { &n.service } else { &n.other_service };
        match window {
            Some((median, p99)) => base.slowed(median, p99).sample_ns(&mut n.rng),
            None => base.sample_ns(&mut n.rng),
        }
    }

    /// Whether a request has outlived the wait of whoever sent it: at its originator, the
    /// payer's app; further on, the originator. A message of a finished payment is dead too.
    fn expired(&self, msg: Msg, now: Timestamp) -> bool {
        if !matches!(msg.kind, Kind::Request { .. }) {
            return false;
        }
        let Some(pay) = self.payment(msg.p) else { return true };
        let deadline = if msg.hop == 0 {
            pay.confirmed_at.checked_add(self.cfg.app_timeout)
        } else {
            pay.originated_at.checked_add(self.cfg.flows[pay.fi as usize].policy.timeout)
        };
        deadline.is_some_and(|d| now > d)
    }

    /// `first` has just taken a server at `node`: it starts service, or, at a node that drops
    /// dead work, leaves unserved and the next waiting message takes the server, and so on.
    fn take_server(&mut self, node: usize, now: Timestamp, first: Waiting<Msg>) {
        let mut next = Some(first);
        while let Some(Waiting { request: msg, arrived }) = next {
            if !(self.nodes[node].drop_expired && self.expired(msg, now)) {
                let ns = self.service_ns(node, now, msg.kind);
                let at = now.checked_add(Span::from_nanos(ns)).expect("in range");
                self.schedule(at, Event::Done { node: node as u32, msg, arrived });
                return;
            }
            next = self.nodes[node].station.discard(now, arrived);
            self.left_admission(node, msg);
            self.consume(msg.p);
        }
    }

    /// The queue class of a message at a node: answers first (0210, 0610, 0430: work the
    /// network already did, on its way home), then what asks for new work (requests, status
    /// inquiries, reversal advices), the node's priority first.
    fn class_of(&self, node: usize, msg: Msg) -> Class {
        if !msg.kind.forward() {
            return Class::Answer;
        }
        let Some(domestic_first) = self.nodes[node].domestic_first else { return Class::High };
        let fi = self.slot(msg.p).expect("a message keeps its payment's slot").fi;
        let domestic = self.cfg.flows[fi as usize].flow == crate::payments::party::Flow::Domestic;
        if domestic == domestic_first { Class::High } else { Class::Low }
    }

    /// Who sent a request to the node it is at: the node instance of the hop before (one per
    /// participant for a participants' node), or the payer's app at the originator.
    fn sender_of(&self, msg: Msg) -> u32 {
        if msg.hop == 0 {
            return u32::MAX;
        }
        let pay = self.slot(msg.p).expect("a message keeps its payment's slot");
        let hop = self.route(pay.fi).hops[msg.hop as usize - 1];
        self.node_of(hop, pay) as u32
    }

    /// A forward message leaves a node with admission control: its sender has one fewer there.
    fn left_admission(&mut self, node: usize, msg: Msg) {
        if msg.kind.forward() && self.nodes[node].admission.is_some() {
            let sender = self.sender_of(msg);
            self.nodes[node].admission.as_mut().expect("checked").left(sender);
        }
    }

    /// A node crashes: everything it held in memory is lost (its books and journal are not).
    pub(super) fn on_crash(&mut self, now: Timestamp, node: usize) {
        let mut open_holds = 0;
        for pay in &self.slots {
            if pay.stage != Stage::InNetwork || pay.originator.hold().is_none() {
                continue;
            }
            let route = &self.cfg.flows[pay.fi as usize].route;
            if route.hops.iter().any(|&h| self.node_of(h, pay) == node) {
                open_holds += 1;
            }
        }
        self.marks.crash_open_hold_count += open_holds;
        for lost in self.nodes[node].station.drain(now) {
            self.left_admission(node, lost.request);
            self.lost_in_crash(now, lost.request);
        }
    }

    /// A message a crash lost leaves the network. A payer's request that never reached its
    /// originator's books leaves nobody waiting but the payer's app, which gives up after
    /// its timeout, as when the request is lost on the way.
    fn lost_in_crash(&mut self, now: Timestamp, msg: Msg) {
        self.marks.crash_lost_count += 1;
        if msg.hop == 0
            && msg.kind == (Kind::Request { dup: false })
            && let Some(pay) = self.payment(msg.p)
        {
            let at = pay.confirmed_at.checked_add(self.cfg.app_timeout).expect("in range");
            let code = ResponseCode::Declined(Decline::IssuerUnavailable);
            self.schedule(at.max(now), Event::Response(msg.p, code));
        }
        self.consume(msg.p);
    }

    /// A message reaches a node: served at once, queued, or (a new request, the queue of new
    /// requests being full) refused: the node answers "overloaded", unless it is a duplicate.
    pub(super) fn node_arrive(
        &mut self,
        now: Timestamp,
        node: usize,
        msg: Msg,
    ) -> Result<(), Breach> {
        if self.node_down(node, now).is_some() {
            self.lost_in_crash(now, msg);
            return Ok(());
        }
        let request = matches!(msg.kind, Kind::Request { .. });
        if msg.kind.forward() && self.nodes[node].admission.is_some() {
            let sender = self.sender_of(msg);
            let admitted =
                self.nodes[node].admission.as_mut().expect("checked").admit(sender, now).is_ok();
            if !admitted {
                if msg.kind == (Kind::Request { dup: false }) && self.payment(msg.p).is_some() {
                    let code = ResponseCode::Declined(Decline::Throttled);
                    self.respond(now, msg.p, msg.hop, code, Span::ZERO);
                }
                self.consume(msg.p);
                return Ok(());
            }
        }
        let n = &self.nodes[node];
        let service = if request { &n.service } else { &n.other_service };
        if service.is_zero() {
            // It takes no time here, so it takes no server: it passes through.
            self.left_admission(node, msg);
            return self.served(now, node, msg, now);
        }
        let class = self.class_of(node, msg);
        match self.nodes[node].station.arrive(now, msg, class) {
            Arrival::Started => self.take_server(node, now, Waiting { request: msg, arrived: now }),
            Arrival::Queued => {}
            Arrival::Refused(msg) => {
                self.left_admission(node, msg);
                if msg.kind == (Kind::Request { dup: false }) && self.payment(msg.p).is_some() {
                    let code = ResponseCode::Declined(Decline::NodeOverloaded);
                    self.respond(now, msg.p, msg.hop, code, Span::ZERO);
                }
                self.consume(msg.p);
            }
        }
        Ok(())
    }

    /// A message finishes service: the next waiting one takes the server, and the hop does its
    /// part of the payment.
    pub(super) fn on_done(
        &mut self,
        now: Timestamp,
        node: usize,
        msg: Msg,
        arrived: Timestamp,
    ) -> Result<(), Breach> {
        if let Some(next) = self.nodes[node].station.finish(now, arrived) {
            self.take_server(node, now, next);
        }
        self.left_admission(node, msg);
        if self.crashed_between(node, arrived, now) {
            // It was in service when the node crashed.
            self.lost_in_crash(now, msg);
            return Ok(());
        }
        self.served(now, node, msg, arrived)
    }

    /// A message has been served at a node (it arrived at `arrived`): the hop does its part.
    fn served(
        &mut self,
        now: Timestamp,
        node: usize,
        msg: Msg,
        arrived: Timestamp,
    ) -> Result<(), Breach> {
        if !matches!(msg.kind, Kind::Request { .. }) {
            self.nodes[node].others_served += 1;
        } else if let Some(pay) = self.payment(msg.p) {
            let sojourn = now.saturating_since(arrived).as_nanos();
            let fi = pay.fi as usize;
            let hop = msg.hop as usize;
            self.stats[fi].hops[hop].latency_us.saturating_record((sojourn / 1000).max(1));
        }
        let result = self.on_message(now, node, msg);
        self.consume(msg.p);
        result
    }
}
