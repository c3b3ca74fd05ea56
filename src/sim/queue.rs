//! The event queue: events in (time, insertion sequence) order.
//!
//! Two events at the same instant come out in the order they were scheduled, so a run never
//! depends on how a heap breaks ties. The queue has a limit; scheduling past it is refused, and
//! the caller stops the run with that reason.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::payments::time::Timestamp;

struct Entry<E> {
    at: Timestamp,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.sequence).cmp(&(other.at, other.sequence))
    }
}

/// The queue is full: [`EventQueue::schedule`] refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the event queue holds its limit of {0} events")]
pub struct QueueFull(pub usize);

/// Pending events, earliest first, ties in scheduling order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    sequence: u64,
    now: Timestamp,
    limit: usize,
}

impl<E> EventQueue<E> {
    /// An empty queue at `start`, holding at most `limit` events.
    pub fn new(start: Timestamp, limit: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(limit.min(1 << 20)),
            sequence: 0,
            now: start,
            limit,
        }
    }

    /// The time of the last event taken (or the start).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events scheduled so far.
    pub fn scheduled_count(&self) -> u64 {
        self.sequence
    }

    /// Schedules `event` at `at`, which must not be before now.
    ///
    /// # Errors
    /// [`QueueFull`] at the limit.
    ///
    /// # Panics
    /// If `at` is in the past: an event can never be scheduled before the one being handled.
    pub fn schedule(&mut self, at: Timestamp, event: E) -> Result<(), QueueFull> {
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        if self.heap.len() >= self.limit {
            return Err(QueueFull(self.limit));
        }
        self.heap.push(Reverse(Entry { at, sequence: self.sequence, event }));
        self.sequence += 1;
        Ok(())
    }

    /// Takes the earliest event and advances now to its time.
    pub fn pop(&mut self) -> Option<(Timestamp, E)> {
        let Reverse(entry) = self.heap.pop()?;
        debug_assert!(entry.at >= self.now);
        self.now = entry.at;
        Some((entry.at, entry.event))
    }

    /// The time of the earliest event, without taking it.
    pub fn peek_time(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }
}

#[cfg(test)]
mod tests {
    //! Goal: (time, sequence) order, ties in scheduling order, limits and the past refused.

    use super::*;

    #[test]
    fn events_come_out_by_time_then_scheduling_order() {
        let mut q = EventQueue::new(Timestamp::EPOCH, 16);
        let t = Timestamp::from_nanos;
        for (at, name) in [(5, "e"), (1, "a"), (5, "f"), (3, "c"), (1, "b"), (5, "g"), (3, "d")] {
            q.schedule(t(at), name).expect("room");
        }
        assert_eq!(q.peek_time(), Some(t(1)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(q.now(), t(5));
        assert_eq!(q.scheduled_count(), 7);
    }

    #[test]
    fn the_limit_is_a_defined_outcome() {
        let mut q = EventQueue::new(Timestamp::EPOCH, 2);
        q.schedule(Timestamp::from_nanos(1), ()).expect("room");
        q.schedule(Timestamp::from_nanos(1), ()).expect("room");
        assert_eq!(q.schedule(Timestamp::from_nanos(2), ()), Err(QueueFull(2)));
        assert_eq!(q.len(), 2);
    }

    #[test]
    #[should_panic(expected = "event scheduled in the past")]
    fn the_past_is_refused() {
        let mut q = EventQueue::new(Timestamp::from_nanos(10), 4);
        let _ = q.schedule(Timestamp::from_nanos(9), ());
    }
}
