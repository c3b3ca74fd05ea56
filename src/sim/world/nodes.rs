//! The world's processing nodes: each is a [`Station`] (servers, a queue with answers served
//! before new requests) with its own service-time distributions (requests, and the other
//! messages), degraded windows and random stream. A message that finishes service there does
//! the hop's part of the payment (`payment.rs`). A node that drops dead work discards a request
//! whose originator has already timed out when it reaches a server, instead of serving it.

use super::transport::{Kind, Msg};
use super::{Decline, Event, Node, World};
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
            self.consume(msg.p);
        }
    }

    /// The queue class of a message: answers first, new requests after.
    fn class_of(msg: Msg) -> Class {
        match msg.kind {
            Kind::Request { .. } => Class::High,
            _ => Class::Answer,
        }
    }

    /// A message reaches a node: served at once, queued, or (a new request, the queue of new
    /// requests being full) refused: the node answers "overloaded", unless it is a duplicate.
    pub(super) fn node_arrive(
        &mut self,
        now: Timestamp,
        node: usize,
        msg: Msg,
    ) -> Result<(), Breach> {
        let n = &self.nodes[node];
        let service =
            if matches!(msg.kind, Kind::Request { .. }) { &n.service } else { &n.other_service };
        if service.is_zero() {
            // It takes no time here, so it takes no server: it passes through.
            return self.served(now, node, msg, now);
        }
        match self.nodes[node].station.arrive(now, msg, Self::class_of(msg)) {
            Arrival::Started => self.take_server(node, now, Waiting { request: msg, arrived: now }),
            Arrival::Queued => {}
            Arrival::Refused(msg) => {
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
