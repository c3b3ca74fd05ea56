//! The world's processing nodes: each is a [`Station`] (servers, a bounded FIFO queue) with its
//! own service-time distribution, degraded windows and random stream. A request that finishes
//! service there becomes the hop's part of the payment (`payment.rs`).

use super::{Decline, Event, Node, PRef, World};
use crate::payments::network::ResponseCode;
use crate::payments::time::{Span, Timestamp};
use crate::record::{NodeMinute, NodeStats};
use crate::sim::audit::Breach;
use crate::sim::station::Arrival;

/// What a node's queue holds: the payment, the hop of its route, and whether it is a duplicate.
pub(super) type Request = (PRef, u8, bool);

impl Node {
    /// Its figures at the end of the run.
    pub(super) fn into_stats(self) -> NodeStats {
        NodeStats {
            name: self.name,
            servers: self.station.servers(),
            occupancy: self.station.stats(),
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
            sojourn_ns: s.sojourn_ns,
        }
    }
}

impl World {
    /// Brings a node's integrals up to `now`.
    pub(super) fn advance(&mut self, node: usize, now: Timestamp) {
        self.nodes[node].station.advance(now);
    }

    /// One service time at a node, slowed in its degraded windows.
    fn service_ns(&mut self, node: usize, now: Timestamp) -> u64 {
        let slowed = self
            .node_window(node, now)
            .map(|w| self.nodes[node].service.slowed(w.median_permille, w.p99_permille));
        let n = &mut self.nodes[node];
        slowed.as_ref().unwrap_or(&n.service).sample_ns(&mut n.rng)
    }

    fn start_service(
        &mut self,
        node: usize,
        now: Timestamp,
        (p, hop, dup): Request,
        arrived: Timestamp,
    ) {
        let ns = self.service_ns(node, now);
        let at = now.checked_add(Span::from_nanos(ns)).expect("in range");
        self.schedule(at, Event::Done { node: node as u32, p, hop, dup, arrived });
    }

    /// A request reaches a node: served at once, queued, or refused (the queue is full: the
    /// node answers "overloaded", unless the request is a duplicate).
    pub(super) fn node_arrive(&mut self, now: Timestamp, node: usize, p: PRef, hop: u8, dup: bool) {
        match self.nodes[node].station.arrive(now, (p, hop, dup)) {
            Arrival::Started => self.start_service(node, now, (p, hop, dup), now),
            Arrival::Queued => {}
            Arrival::Refused(_) if dup => {}
            Arrival::Refused(_) => {
                let code = ResponseCode::Declined(Decline::NodeOverloaded);
                self.respond(now, p, hop, code, Span::ZERO);
            }
        }
    }

    /// A request finishes service: the next waiting one takes the server, and the hop does its
    /// part of the payment.
    pub(super) fn on_done(
        &mut self,
        now: Timestamp,
        node: usize,
        (p, hop, dup): Request,
        arrived: Timestamp,
    ) -> Result<(), Breach> {
        if let Some(next) = self.nodes[node].station.finish(now, arrived) {
            self.start_service(node, now, next.request, next.arrived);
        }
        let sojourn = now.saturating_since(arrived).as_nanos();
        if let Some(pay) = self.payment(p) {
            let fi = pay.fi as usize;
            self.stats[fi].hops[hop as usize].latency_us.saturating_record((sojourn / 1000).max(1));
        }
        self.on_hop(now, node, p, hop, dup)
    }
}
