//! A map from transfer ids to log positions: open addressing with linear probing.
//!
//! Written here rather than taken from a crate because it needs exactly two operations, a fixed
//! hash (so its behaviour is a pure function of the ids inserted), and no way to iterate: nothing
//! can depend on its order.

/// Transfer id → position in the transfer log.
#[derive(Clone, Debug)]
pub(super) struct IdIndex {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
    mask: usize,
}

const EMPTY: u32 = u32::MAX;

/// splitmix64's finaliser: a fixed, well-mixing hash of a 64-bit id.
fn hash(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl IdIndex {
    /// An index with room for `capacity` ids before it grows.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let slots = (capacity.max(8) * 2).next_power_of_two();
        IdIndex { keys: vec![0; slots], values: vec![EMPTY; slots], len: 0, mask: slots - 1 }
    }

    fn slot(&self, key: u64) -> usize {
        (hash(key) as usize) & self.mask
    }

    /// The position stored for `key`.
    pub(super) fn get(&self, key: u64) -> Option<u32> {
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
    pub(super) fn insert(&mut self, key: u64, value: u32) {
        assert!(value != EMPTY, "log positions stay below u32::MAX");
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

    fn grow(&mut self) {
        let old_keys = std::mem::take(&mut self.keys);
        let old_values = std::mem::take(&mut self.values);
        let slots = old_values.len() * 2;
        self.keys = vec![0; slots];
        self.values = vec![EMPTY; slots];
        self.mask = slots - 1;
        self.len = 0;
        for (key, value) in old_keys.into_iter().zip(old_values) {
            if value != EMPTY {
                self.insert(key, value);
            }
        }
    }

    /// Bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.values.capacity() * 4
    }
}
