//! A map from transfer ids to log positions.
//!
//! Callers issue ids that are mostly dense and increasing, so most ids live in a direct-mapped
//! window (`position = window[id − base]`): recent ids share cache lines, and no hashing or
//! probing is needed. An id far outside the window (a sparse or random id, or one below the
//! first) goes to an open-addressing hash table instead, so no id pattern degrades the index.
//!
//! Written here rather than taken from a crate because it needs exactly two operations, a fixed
//! hash (so its behaviour is a pure function of the ids inserted), and no way to iterate: nothing
//! can depend on its order.

/// How far the window may outgrow the ids it holds: it spans at most this many slots per id
/// stored (plus `WINDOW_SLACK`), so a stray large id cannot make it allocate without bound.
const WINDOW_SLOTS_PER_ID_MAX: usize = 8;
/// Slots the window may always span, whatever it holds.
const WINDOW_SLACK: usize = 1 << 16;

/// Transfer id → position in the transfer log.
#[derive(Clone, Debug)]
pub(super) struct IdIndex {
    /// The first id inserted; the window starts there.
    base: Option<u64>,
    /// Positions of ids `base..base + window.len()`, `EMPTY` where absent.
    window: Vec<u32>,
    /// Every window slot before this one is `EMPTY` (ids removed from the front).
    head: usize,
    /// Ids outside the window.
    sparse: HashIndex,
    len: usize,
}

impl IdIndex {
    /// An index with room for `capacity` dense ids before it grows.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let window = Vec::with_capacity(capacity);
        IdIndex { base: None, window, head: 0, sparse: HashIndex::with_capacity(64), len: 0 }
    }

    /// The window slot of `key`, if it falls inside the window's current reach.
    fn slot(&self, key: u64) -> Option<usize> {
        let offset = key.checked_sub(self.base?)?;
        usize::try_from(offset).ok().filter(|&i| i < self.window.len())
    }

    /// The position stored for `key`.
    pub(super) fn get(&self, key: u64) -> Option<u32> {
        match self.slot(key).map(|i| self.window[i]) {
            Some(position) if position != EMPTY => Some(position),
            // An id stored in the table before the window grew over it is still there.
            _ => self.sparse.get(key),
        }
    }

    /// Stores `value` for a `key` that is not present.
    pub(super) fn insert(&mut self, key: u64, value: u32) {
        assert!(value != EMPTY, "log positions stay below u32::MAX");
        let base = *self.base.get_or_insert(key);
        let reach = (self.len + 1) * WINDOW_SLOTS_PER_ID_MAX + WINDOW_SLACK;
        match key.checked_sub(base).and_then(|o| usize::try_from(o).ok()).filter(|&i| i < reach) {
            Some(i) if self.sparse.get(key).is_none() => {
                if i >= self.window.len() {
                    let grown = (i + 1).max(self.window.len() * 2).min(reach);
                    self.window.resize(grown, EMPTY);
                }
                assert!(self.window[i] == EMPTY, "id inserted twice");
                self.window[i] = value;
                self.head = self.head.min(i);
            }
            _ => {
                assert!(
                    self.slot(key).is_none_or(|i| self.window[i] == EMPTY),
                    "id inserted twice"
                );
                self.sparse.insert(key, value);
            }
        }
        self.len += 1;
    }

    /// Removes `key`, if present. Removing ids from the front of the window moves the window
    /// on, so an index whose oldest ids are removed as new ones arrive stays the size of what it
    /// holds.
    pub(super) fn remove(&mut self, key: u64) {
        match self.slot(key) {
            Some(i) if self.window[i] != EMPTY => {
                self.window[i] = EMPTY;
                while self.head < self.window.len() && self.window[self.head] == EMPTY {
                    self.head += 1;
                }
                if self.head >= WINDOW_SLACK && self.head * 2 >= self.window.len() {
                    self.window.drain(..self.head);
                    self.base = self.base.map(|b| b + self.head as u64);
                    self.head = 0;
                }
            }
            _ if self.sparse.remove(key) => {}
            _ => return,
        }
        self.len -= 1;
    }

    /// Reserves and touches room for `additional` more dense ids.
    pub(super) fn reserve(&mut self, additional: usize) {
        let used = self.window.len();
        self.window.resize(used + additional, EMPTY);
        self.window.truncate(used);
    }

    /// Bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        self.window.capacity() * 4 + self.sparse.memory_bytes()
    }
}

/// Open addressing with linear probing, for ids outside the window.
#[derive(Clone, Debug)]
struct HashIndex {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
    mask: usize,
}

const EMPTY: u32 = u32::MAX;

/// splitmix64's finaliser: every id pattern (dense, strided, shifted) spreads evenly, so linear
/// probing never meets long clusters. (A locality-keeping fold of the high bits into the low
/// ones was tried: dense ids then form one long run once they span more than the table, and
/// probes become quadratic.)
fn hash(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl HashIndex {
    /// A table with room for `capacity` ids before it grows.
    fn with_capacity(capacity: usize) -> Self {
        let slots = (capacity.max(8) * 2).next_power_of_two();
        HashIndex {
            keys: vec![u64::MAX; slots],
            values: vec![EMPTY; slots],
            len: 0,
            mask: slots - 1,
        }
    }

    fn slot(&self, key: u64) -> usize {
        (hash(key) as usize) & self.mask
    }

    /// The position stored for `key`.
    fn get(&self, key: u64) -> Option<u32> {
        let mut slot = self.slot(key);
        loop {
            let value = self.values[slot];
            if value == EMPTY {
                return None;
            }
            if self.keys[slot] == key {
                return Some(value);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Stores `value` for a `key` that is not present.
    fn insert(&mut self, key: u64, value: u32) {
        if (self.len + 1) * 2 > self.values.len() {
            self.grow();
        }
        let mut slot = self.slot(key);
        while self.values[slot] != EMPTY {
            assert!(self.keys[slot] != key, "id inserted twice");
            slot = (slot + 1) & self.mask;
        }
        self.keys[slot] = key;
        self.values[slot] = value;
        self.len += 1;
    }

    /// Removes `key`; whether it was present. Backward-shift deletion: the entries after it in
    /// its probe run move back, so no tombstones are left to lengthen later probes.
    fn remove(&mut self, key: u64) -> bool {
        let mut slot = self.slot(key);
        loop {
            if self.values[slot] == EMPTY {
                return false;
            }
            if self.keys[slot] == key {
                break;
            }
            slot = (slot + 1) & self.mask;
        }
        let mut hole = slot;
        let mut next = (hole + 1) & self.mask;
        while self.values[next] != EMPTY {
            let home = self.slot(self.keys[next]);
            // The entry at `next` may move into the hole if its home is not in (hole, next].
            let distance_to_next = next.wrapping_sub(home) & self.mask;
            let distance_to_hole = hole.wrapping_sub(home) & self.mask;
            if distance_to_hole < distance_to_next {
                self.keys[hole] = self.keys[next];
                self.values[hole] = self.values[next];
                hole = next;
            }
            next = (next + 1) & self.mask;
        }
        self.keys[hole] = u64::MAX;
        self.values[hole] = EMPTY;
        self.len -= 1;
        true
    }

    fn grow(&mut self) {
        let old_keys = std::mem::take(&mut self.keys);
        let old_values = std::mem::take(&mut self.values);
        let slots = old_values.len() * 2;
        self.keys = vec![u64::MAX; slots];
        self.values = vec![EMPTY; slots];
        self.mask = slots - 1;
        self.len = 0;
        for (key, value) in old_keys.into_iter().zip(old_values) {
            if value != EMPTY {
                self.insert(key, value);
            }
        }
    }

    fn memory_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.values.capacity() * 4
    }
}
