//! The name index of a [`super::Zones`]: lower-case wire names → node numbers.
//!
//! Every name once, in one buffer, in node order (node `i`'s key ends where node `i + 1`'s
//! starts), and an open-addressing table of (hash, node) slots, sized for the names the
//! build will push so that it is about 70 % full (any number of slots: a slot is found by
//! multiplying, not masking, the hash). About the name's wire length plus 15 bytes per
//! name, in three allocations, where a hash map of boxed keys costs an allocation per name.

use rustc_hash::FxHasher;
use std::hash::Hasher;

/// An empty slot (node numbers stay below it).
const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
pub(super) struct NameIndex {
    keys: Vec<u8>,
    /// Where each node's key starts in `keys`, and one more entry: the end.
    starts: Vec<u32>,
    /// Hash (high 32 bits) and node (low 32 bits); `EMPTY` where free. About 70 % full
    /// (at most 3/4 once more names are pushed than were reserved for): a lookup that
    /// misses (every NXDOMAIN asks for a missing name first) probes about 5 slots, where
    /// a table kept at most half full would cost 8 bytes more per name.
    slots: Vec<u64>,
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
}

/// The first slot of a name in a table of `len` slots: its tag (the hash's high 32 bits,
/// kept in the slot) scaled to `len`. So a slot tells where it belongs, and growing the
/// table reads no key; names that start at one slot still differ in the tag's low bits.
#[inline]
fn first_slot(tag: u64, len: usize) -> usize {
    ((tag * len as u64) >> 32) as usize
}

/// Slots for `names` names, about 70 % full.
fn slots_for(names: usize) -> usize {
    (names + names * 3 / 7 + 1).max(16)
}

impl Default for NameIndex {
    fn default() -> NameIndex {
        NameIndex {
            keys: Vec::new(),
            starts: vec![0],
            slots: vec![EMPTY; 16],
        }
    }
}

impl NameIndex {
    /// An empty index with room for `names` names of `key_bytes` bytes in all.
    pub(super) fn with_capacity(names: usize, key_bytes: usize) -> NameIndex {
        let mut starts = Vec::with_capacity(names + 1);
        starts.push(0);
        NameIndex {
            keys: Vec::with_capacity(key_bytes),
            starts,
            slots: vec![EMPTY; slots_for(names)],
        }
    }

    /// Where node `node`'s key lies in the buffer of keys.
    pub(super) fn span(&self, node: u32) -> std::ops::Range<usize> {
        let i = node as usize;
        self.starts[i] as usize..self.starts[i + 1] as usize
    }

    pub(super) fn key(&self, node: u32) -> &[u8] {
        &self.keys[self.span(node)]
    }

    /// The node of `key`, if it has one.
    #[inline]
    pub(super) fn get(&self, key: &[u8]) -> Option<u32> {
        let tag = hash(key) >> 32;
        let len = self.slots.len();
        let mut i = first_slot(tag, len);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag && self.key(s as u32) == key {
                return Some(s as u32);
            }
            i += 1;
            if i == len {
                i = 0;
            }
        }
    }

    /// The bytes of all keys pushed.
    pub(super) fn key_bytes(&self) -> usize {
        self.keys.len()
    }

    /// The number the next pushed name gets.
    pub(super) fn len(&self) -> u32 {
        (self.starts.len() - 1) as u32
    }

    /// Adds `key` (not indexed yet) as the next node.
    pub(super) fn push(&mut self, key: &[u8]) -> u32 {
        let node = self.len();
        self.keys.extend_from_slice(key);
        self.starts.push(self.keys.len() as u32);
        if 4 * (node as usize + 1) > 3 * self.slots.len() {
            let mut bigger = vec![EMPTY; self.slots.len() * 2];
            for &s in self.slots.iter().filter(|&&s| s != EMPTY) {
                place(&mut bigger, s >> 32, s as u32);
            }
            self.slots = bigger;
        }
        place(&mut self.slots, hash(key) >> 32, node);
        node
    }

    /// Gives back the spare capacity of the growing buffers.
    pub(super) fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.starts.shrink_to_fit();
    }
}

fn place(slots: &mut [u64], tag: u64, node: u32) {
    let mut i = first_slot(tag, slots.len());
    while slots[i] != EMPTY {
        i += 1;
        if i == slots.len() {
            i = 0;
        }
    }
    slots[i] = tag << 32 | node as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pushed_name_is_found_and_no_other() {
        let keys: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| {
                let label = format!("n{i}");
                let mut k = vec![label.len() as u8];
                k.extend_from_slice(label.as_bytes());
                k.extend_from_slice(b"\x07example\x00");
                k
            })
            .collect();
        let bytes = keys.iter().map(|k| k.len()).sum();
        // Grown from empty, reserved for exactly these (1,429 slots: not a power of two),
        // and reserved for too few (grown past the reservation).
        for mut index in [
            NameIndex::default(),
            NameIndex::with_capacity(keys.len(), bytes),
            NameIndex::with_capacity(10, 0),
        ] {
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(index.push(k), i as u32);
            }
            assert!(
                4 * keys.len() <= 3 * index.slots.len(),
                "{}",
                index.slots.len()
            );
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(index.get(k), Some(i as u32));
            }
            assert_eq!(index.get(b"\x07example\x00"), None);
            assert_eq!(index.get(b"\x04n1000\x07example\x00"), None);
            assert_eq!(index.get(b""), None);
        }
        assert_eq!(NameIndex::with_capacity(1000, bytes).slots.len(), 1429);
    }
}
