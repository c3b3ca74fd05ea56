//! The event queue: events in (time, insertion sequence) order.
//!
//! Two events at the same instant come out in the order they were scheduled, so a run never
//! depends on how a heap breaks ties. The queue has a limit; scheduling past it is refused, and
//! the caller stops the run with that reason.

use crate::payments::time::Timestamp;

/// A waiting event and its key: (time, sequence) packed into one integer, time in the high
/// half, so that one comparison orders two entries.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    fn at(&self) -> Timestamp {
        Timestamp::from_nanos((self.key >> 64) as u64)
    }
}

/// How many children a heap node has. Four halves the depth of a binary heap, and the four
/// keys a step compares sit in one or two cache lines: popping from a heap of a few hundred
/// thousand events costs fewer cache misses.
const ARITY: usize = 4;

/// The queue is full: [`EventQueue::schedule`] refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the event queue holds its limit of {0} events")]
pub struct QueueFull(pub usize);

/// Pending events, earliest first, ties in scheduling order.
pub struct EventQueue<E> {
    /// A 4-ary min-heap on `key`.
    heap: Vec<Entry<E>>,
    sequence: u64,
    now: Timestamp,
    limit: usize,
}

impl<E> EventQueue<E> {
    /// An empty queue at `start`, holding at most `limit` events.
    pub fn new(start: Timestamp, limit: usize) -> Self {
        EventQueue { heap: Vec::with_capacity(limit.min(1 << 20)), sequence: 0, now: start, limit }
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
        let key = (u128::from(at.as_nanos()) << 64) | u128::from(self.sequence);
        self.heap.push(Entry { key, event });
        self.sift_up(self.heap.len() - 1);
        self.sequence += 1;
        Ok(())
    }

    /// Takes the earliest event and advances now to its time.
    pub fn pop(&mut self) -> Option<(Timestamp, E)> {
        let last = self.heap.pop()?;
        let entry = if self.heap.is_empty() {
            last
        } else {
            let root = std::mem::replace(&mut self.heap[0], last);
            self.sift_down(0);
            root
        };
        let at = entry.at();
        debug_assert!(at >= self.now);
        self.now = at;
        Some((at, entry.event))
    }

    /// Moves the entry at `i` up until its parent's key is smaller.
    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].key <= self.heap[i].key {
                break;
            }
            self.heap.swap(parent, i);
            i = parent;
        }
    }

    /// Moves the entry at `i` down until no child's key is smaller.
    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        loop {
            let first = i * ARITY + 1;
            if first >= len {
                break;
            }
            let mut least = first;
            for child in first + 1..(first + ARITY).min(len) {
                if self.heap[child].key < self.heap[least].key {
                    least = child;
                }
            }
            if self.heap[least].key >= self.heap[i].key {
                break;
            }
            self.heap.swap(least, i);
            i = least;
        }
    }

    /// The time of the earliest event, without taking it.
    pub fn peek_time(&self) -> Option<Timestamp> {
        self.heap.first().map(Entry::at)
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

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(256))]

        /// Any interleaving of schedules (at now plus a small delay, so ties are common) and
        /// pops gives the events in the order a sorted map of (time, sequence) gives them.
        #[test]
        fn the_heap_pops_what_a_sorted_map_pops(
            ops in proptest::collection::vec(proptest::option::of(0u64..5), 1..400),
        ) {
            let mut q = EventQueue::new(Timestamp::EPOCH, 1_000);
            let mut reference = std::collections::BTreeMap::new();
            let mut sequence = 0u64;
            for op in ops {
                match op {
                    Some(delay) => {
                        let at = q.now().as_nanos() + delay;
                        q.schedule(Timestamp::from_nanos(at), sequence).expect("room");
                        reference.insert((at, sequence), sequence);
                        sequence += 1;
                    }
                    None => {
                        let want = reference.pop_first().map(|((at, _), e)| (Timestamp::from_nanos(at), e));
                        proptest::prop_assert_eq!(q.pop(), want);
                    }
                }
                proptest::prop_assert_eq!(q.len(), reference.len());
                proptest::prop_assert_eq!(q.peek_time(), reference.keys().next().map(|&(at, _)| Timestamp::from_nanos(at)));
            }
        }
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
