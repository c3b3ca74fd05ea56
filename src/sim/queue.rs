//! The event queue: events in (time, insertion sequence) order.
//!
//! Two events at the same instant come out in the order they were scheduled, so a run never
//! depends on how a heap breaks ties. The queue has a limit; scheduling past it is refused, and
//! the caller stops the run with that reason.

use crate::payments::time::Timestamp;

/// Bits of a key that name the slot its event waits in.
const SLOT_BITS: u32 = 24;

/// The most events a queue can hold, whatever limit it is given: a slot number fits in
/// [`SLOT_BITS`] bits of the key.
pub const SLOTS_MAX: usize = 1 << SLOT_BITS;

/// The most events a queue can schedule in its life: a sequence number fits in the 40 bits
/// of the key between the time and the slot.
pub const SEQUENCE_MAX: u64 = (1 << (64 - SLOT_BITS)) - 1;

const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;

/// The time a key is due: its high half.
fn time_of(key: u128) -> Timestamp {
    Timestamp::from_nanos((key >> 64) as u64)
}

/// How many children a heap node has. Four halves the depth of a binary heap, and the four
/// 16-byte keys a step compares sit in one or two cache lines.
const ARITY: usize = 4;

/// The queue refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueFull {
    /// It holds its limit of events.
    #[error("the event queue holds its limit of {0} events")]
    Events(usize),
    /// It has scheduled [`SEQUENCE_MAX`] events, and a sequence number would not fit its key.
    #[error("the event queue has scheduled its lifetime limit of {SEQUENCE_MAX} events")]
    Sequence,
}

/// Pending events, earliest first, ties in scheduling order.
///
/// The heap holds keys only: (time, sequence, slot) packed into one `u128`, time in the high
/// half, so that one comparison orders two entries (sequence numbers are unique, so the slot
/// never decides). The events wait in slots beside it, and a sift moves 16 bytes a level
/// whatever the size of an event.
pub struct EventQueue<E> {
    /// A 4-ary min-heap of keys.
    heap: Vec<u128>,
    /// The waiting events, by slot; `None` in a free slot.
    slots: Vec<Option<E>>,
    /// Free slots, the last freed first.
    free: Vec<u32>,
    sequence: u64,
    now: Timestamp,
    /// The limit asked for, at most [`SLOTS_MAX`].
    limit: usize,
}

impl<E> EventQueue<E> {
    /// An empty queue at `start`, holding at most `limit` events (and never more than
    /// [`SLOTS_MAX`]).
    pub fn new(start: Timestamp, limit: usize) -> Self {
        let limit = limit.min(SLOTS_MAX);
        let reserve = limit.min(1 << 16);
        EventQueue {
            heap: Vec::with_capacity(reserve),
            slots: Vec::with_capacity(reserve),
            free: Vec::with_capacity(reserve),
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
    /// [`QueueFull`] at the limit, or when the sequence numbers are spent.
    ///
    /// # Panics
    /// If `at` is in the past: an event can never be scheduled before the one being handled.
    pub fn schedule(&mut self, at: Timestamp, event: E) -> Result<(), QueueFull> {
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        if self.heap.len() >= self.limit {
            return Err(QueueFull::Events(self.limit));
        }
        if self.sequence > SEQUENCE_MAX {
            return Err(QueueFull::Sequence);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                let place = &mut self.slots[slot as usize];
                assert!(place.is_none(), "a free slot holds no event");
                *place = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("slots within SLOTS_MAX");
                self.slots.push(Some(event));
                slot
            }
        };
        let key = (u128::from(at.as_nanos()) << 64)
            | (u128::from(self.sequence) << SLOT_BITS)
            | u128::from(slot);
        self.heap.push(key);
        self.sift_up(self.heap.len() - 1);
        self.sequence += 1;
        Ok(())
    }

    /// Takes the earliest event and advances now to its time.
    pub fn pop(&mut self) -> Option<(Timestamp, E)> {
        let last = self.heap.pop()?;
        let root = if self.heap.is_empty() {
            last
        } else {
            let root = self.heap[0];
            self.sift_down_from_root(last);
            root
        };
        let at = time_of(root);
        debug_assert!(at >= self.now);
        self.now = at;
        let slot = (root & SLOT_MASK) as u32;
        let event = self.slots[slot as usize].take().expect("a waiting key's slot holds its event");
        self.free.push(slot);
        Some((at, event))
    }

    /// Moves the key at `i` up until its parent's key is smaller.
    fn sift_up(&mut self, mut i: usize) {
        let key = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent] <= key {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = key;
    }

    /// Fills the root's place with `key`: moves the hole down until no child is smaller than
    /// `key`, then puts `key` in it. A full set of four children is compared without branches
    /// (the least of four by two pairs), since which child is least is a coin toss.
    fn sift_down_from_root(&mut self, key: u128) {
        let heap = &mut self.heap;
        let len = heap.len();
        let mut i = 0;
        loop {
            let first = i * ARITY + 1;
            let least = if first + ARITY <= len {
                let c = &heap[first..first + ARITY];
                let a = usize::from(c[1] < c[0]);
                let b = 2 + usize::from(c[3] < c[2]);
                first + if c[b] < c[a] { b } else { a }
            } else if first < len {
                (first + 1..len).fold(
                    first,
                    |least, child| if heap[child] < heap[least] { child } else { least },
                )
            } else {
                break;
            };
            if heap[least] >= key {
                break;
            }
            heap[i] = heap[least];
            i = least;
        }
        heap[i] = key;
    }

    /// The time of the earliest event, without taking it.
    pub fn peek_time(&self) -> Option<Timestamp> {
        self.heap.first().map(|&key| time_of(key))
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
            ops in proptest::collection::vec(proptest::option::of(0u64..5), 1..600),
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
        assert_eq!(q.schedule(Timestamp::from_nanos(2), ()), Err(QueueFull::Events(2)));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn the_sequence_numbers_have_a_limit_too() {
        let mut q = EventQueue::new(Timestamp::EPOCH, 4);
        q.sequence = SEQUENCE_MAX;
        q.schedule(Timestamp::from_nanos(1), "last").expect("the last number");
        assert_eq!(q.schedule(Timestamp::from_nanos(1), "one more"), Err(QueueFull::Sequence));
        assert_eq!(q.pop(), Some((Timestamp::from_nanos(1), "last")));
    }

    #[test]
    fn no_limit_exceeds_what_a_key_can_name() {
        let q: EventQueue<()> = EventQueue::new(Timestamp::EPOCH, usize::MAX);
        assert_eq!(q.limit, SLOTS_MAX);
    }

    /// Slots are reused, and a key's slot never decides its order: the latest time with the
    /// highest slot in use still comes out by (time, sequence).
    #[test]
    fn slots_are_reused_and_never_decide_the_order() {
        let mut q = EventQueue::new(Timestamp::EPOCH, 8);
        let last = Timestamp::from_nanos(u64::MAX);
        for i in 0..8 {
            q.schedule(last, i).expect("room");
        }
        for i in 0..8 {
            assert_eq!(q.pop(), Some((last, i)));
        }
        assert!(q.is_empty());
        q.schedule(last, 8).expect("a freed slot");
        assert_eq!(q.slots.len(), 8, "no new slot while one is free");
    }

    #[test]
    #[should_panic(expected = "event scheduled in the past")]
    fn the_past_is_refused() {
        let mut q = EventQueue::new(Timestamp::from_nanos(10), 4);
        let _ = q.schedule(Timestamp::from_nanos(9), ());
    }
}
