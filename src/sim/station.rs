//! A station: `servers` in parallel in front of a queue. The one queueing type of the
//! simulator: every node of the payment world is a station, and so is the M/M/c model whose
//! Erlang-C check therefore validates the code the world runs.
//!
//! The queue has three classes, served in strict priority and each first in, first out:
//! answers (responses to requests, inquiries and advices: work already done elsewhere, on its
//! way home, which a switch finishes before it takes new work), then what asks for new work
//! (requests, status inquiries, reversal advices) of high priority, then of low priority.
//! `queue_max` bounds the new work waiting; answers are never refused.
//! A request that took a server may be discarded unserved (dead work: its originator has
//! already given up), and the next one takes the server.
//!
//! The station decides who is served when and keeps the integrals that give utilisation and
//! Little's law (∫ busy servers dt, ∫ requests present dt, Σ time in the station, Σ time
//! waiting); the caller draws service times and schedules departures, so the station knows
//! nothing of events or randomness.

use std::collections::VecDeque;

use crate::payments::time::Timestamp;
use crate::record::node::Occupancy;

/// The classes of work, in the order they are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Answers on their way home: never refused, served first.
    Answer = 0,
    /// New work of the higher priority.
    High = 1,
    /// New work of the lower priority.
    Low = 2,
}

/// How many classes there are.
const CLASSES: usize = 3;

/// What became of an arriving request.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival<T> {
    /// A server was free: it starts service now (the caller draws the service time).
    Started,
    /// It waits in the queue.
    Queued,
    /// The queue was full: it is refused and handed back.
    Refused(T),
}

/// A request waiting for a server, with when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting<T> {
    /// The request.
    pub request: T,
    /// When it arrived.
    pub arrived: Timestamp,
}

/// `servers` in parallel and a queue per class; at most `queue_max` new requests wait.
#[derive(Clone, Debug)]
pub struct Station<T> {
    servers: u32,
    queue_max: u32,
    busy: u32,
    queues: [VecDeque<Waiting<T>>; CLASSES],
    last_change: Timestamp,
    /// Longest queue since [`Station::take_interval_queue_max`] was last called.
    interval_queue_max: u32,
    stats: Occupancy,
}

impl<T> Station<T> {
    /// An empty station at `start`.
    ///
    /// # Panics
    /// If it has no server.
    pub fn new(servers: u32, queue_max: u32, start: Timestamp) -> Station<T> {
        assert!(servers > 0, "a station has at least one server");
        Station {
            servers,
            queue_max,
            busy: 0,
            queues: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            last_change: start,
            interval_queue_max: 0,
            stats: Occupancy::default(),
        }
    }

    /// Its servers.
    pub fn servers(&self) -> u32 {
        self.servers
    }

    /// The most new requests that wait.
    pub fn queue_max(&self) -> u32 {
        self.queue_max
    }

    /// What it has measured, up to the last change.
    pub fn stats(&self) -> Occupancy {
        self.stats
    }

    /// Everything waiting now, every class.
    pub fn queue_len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// New requests waiting now.
    fn requests_waiting(&self) -> usize {
        self.queues[Class::High as usize].len() + self.queues[Class::Low as usize].len()
    }

    /// Brings the integrals up to `now`.
    pub fn advance(&mut self, now: Timestamp) {
        let dt = u128::from(now.saturating_since(self.last_change).as_nanos());
        self.stats.busy_ns += dt * u128::from(self.busy);
        self.stats.in_system_ns += dt * (u128::from(self.busy) + self.queue_len() as u128);
        self.last_change = now;
    }

    /// `request` of `class` arrives at `now`.
    pub fn arrive(&mut self, now: Timestamp, request: T, class: Class) -> Arrival<T> {
        self.advance(now);
        if self.busy < self.servers {
            self.busy += 1;
            Arrival::Started
        } else if class == Class::Answer || self.requests_waiting() < self.queue_max as usize {
            self.queues[class as usize].push_back(Waiting { request, arrived: now });
            let len = self.queue_len();
            self.stats.queue_len_max = self.stats.queue_len_max.max(len as u64);
            self.interval_queue_max = self.interval_queue_max.max(len as u32);
            Arrival::Queued
        } else {
            self.stats.refused_count += 1;
            Arrival::Refused(request)
        }
    }

    /// The next request to take a freed server: the head of the first non-empty class.
    fn next(&mut self, now: Timestamp) -> Option<Waiting<T>> {
        match self.queues.iter_mut().find_map(VecDeque::pop_front) {
            Some(next) => {
                self.stats.wait_ns += u128::from(now.saturating_since(next.arrived).as_nanos());
                Some(next)
            }
            None => {
                assert!(self.busy > 0, "a server is freed only when one is busy");
                self.busy -= 1;
                None
            }
        }
    }

    /// A request that arrived at `arrived` finishes service at `now`. Returns the request that
    /// takes its server next, if one waits (the caller draws its service time).
    pub fn finish(&mut self, now: Timestamp, arrived: Timestamp) -> Option<Waiting<T>> {
        self.advance(now);
        self.stats.served_count += 1;
        self.stats.sojourn_ns += u128::from(now.saturating_since(arrived).as_nanos());
        self.next(now)
    }

    /// The request that has just taken a server at `now` (it arrived at `arrived`) leaves
    /// unserved: it is dead work. Returns the request that takes the server instead, if one
    /// waits. Its time in the station counts in the sojourn sum, as a departure, so that
    /// Little's law holds over served and discarded requests together.
    pub fn discard(&mut self, now: Timestamp, arrived: Timestamp) -> Option<Waiting<T>> {
        self.advance(now);
        self.stats.discarded_count += 1;
        self.stats.sojourn_ns += u128::from(now.saturating_since(arrived).as_nanos());
        self.next(now)
    }

    /// The station crashes at `now`: everything waiting is lost and handed back (the caller
    /// drops it). Each leaves as discarded work, so Little's law still holds. Requests in
    /// service are the caller's to drop when they finish.
    pub fn drain(&mut self, now: Timestamp) -> Vec<Waiting<T>> {
        self.advance(now);
        let lost: Vec<Waiting<T>> = self.queues.iter_mut().flat_map(|q| q.drain(..)).collect();
        for w in &lost {
            self.stats.discarded_count += 1;
            self.stats.sojourn_ns += u128::from(now.saturating_since(w.arrived).as_nanos());
        }
        lost
    }

    /// The longest queue since the last call, restarting from the queue's length now.
    pub fn take_interval_queue_max(&mut self) -> u32 {
        let len = self.queue_len() as u32;
        std::mem::replace(&mut self.interval_queue_max, len)
    }

    /// Whether nothing is in service or waiting.
    pub fn is_idle(&self) -> bool {
        self.busy == 0 && self.queue_len() == 0
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the station serves in arrival order, refuses past its queue, and keeps exact
    //! integrals. Method: a hand-timed sequence on a two-server station with a queue of one.

    use super::*;

    fn at(s: u64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn serves_in_order_refuses_when_full_and_integrates_exactly() {
        let mut st = Station::new(2, 1, at(0));
        assert_eq!(st.arrive(at(0), 'a', Class::High), Arrival::Started);
        assert_eq!(st.arrive(at(1), 'b', Class::High), Arrival::Started);
        assert_eq!(st.arrive(at(2), 'c', Class::High), Arrival::Queued);
        assert_eq!(st.arrive(at(2), 'd', Class::Low), Arrival::Refused('d'));
        // a leaves at 4: c takes its server, having waited 2 s.
        assert_eq!(st.finish(at(4), at(0)), Some(Waiting { request: 'c', arrived: at(2) }));
        assert_eq!(st.finish(at(5), at(1)), None);
        assert_eq!(st.finish(at(7), at(2)), None);
        assert!(st.is_idle());
        let s = st.stats();
        assert_eq!((s.served_count, s.refused_count, s.queue_len_max), (3, 1, 1));
        // Busy: 0–1 one, 1–5 two, 5–7 one: 1 + 8 + 2 = 11 server-seconds.
        assert_eq!(s.busy_ns, 11 * 1_000_000_000);
        // Present: busy plus c waiting 2–4: 11 + 2 = 13 = Σ sojourn (4 + 4 + 5): Little's law.
        assert_eq!(s.in_system_ns, 13 * 1_000_000_000);
        assert_eq!(s.sojourn_ns, s.in_system_ns);
        assert_eq!(s.wait_ns, 2 * 1_000_000_000);
        assert_eq!(st.take_interval_queue_max(), 1);
        assert_eq!(st.take_interval_queue_max(), 0);
    }

    #[test]
    fn answers_go_first_and_are_never_refused_and_dead_work_leaves_unserved() {
        let mut st = Station::new(1, 1, at(0));
        assert_eq!(st.arrive(at(0), 'a', Class::Low), Arrival::Started);
        assert_eq!(st.arrive(at(1), 'l', Class::Low), Arrival::Queued);
        assert_eq!(st.arrive(at(1), 'h', Class::High), Arrival::Refused('h'), "one new request");
        for answer in ['x', 'y'] {
            assert_eq!(st.arrive(at(2), answer, Class::Answer), Arrival::Queued);
        }
        assert_eq!(st.queue_len(), 3);
        // The answers first, in order, then the waiting request, which is dead work.
        assert_eq!(st.finish(at(3), at(0)).map(|w| w.request), Some('x'));
        assert_eq!(st.finish(at(4), at(2)).map(|w| w.request), Some('y'));
        assert_eq!(st.finish(at(5), at(2)).map(|w| w.request), Some('l'));
        assert_eq!(st.discard(at(5), at(1)), None);
        assert!(st.is_idle());
        let s = st.stats();
        assert_eq!((s.served_count, s.discarded_count, s.refused_count), (3, 1, 1));
        // Present: a 0–3, x 2–4, y 2–5, l 1–5: 3 + 2 + 3 + 4 = 12 = Σ sojourn.
        assert_eq!(s.in_system_ns, 12 * 1_000_000_000);
        assert_eq!(s.sojourn_ns, s.in_system_ns);
    }
}
