//! The name index of a [`super::Zones`]: lower-case wire names → node numbers.
//!
//! Every name once, in one buffer, in node order (node `i`'s key ends where node `i + 1`'s
//! starts), and a table of (tag, node) slots ([`TagSlots`]), sized for the names the build
//! will push so that it is about 70 % full. About the name's wire length plus 15 bytes per
//! name, in three allocations, where a hash map of boxed keys costs an allocation per name.

use crate::slots::{TagSlots, tag_of};
use rustc_hash::FxHasher;
use std::hash::Hasher;

#[derive(Debug)]
pub(super) struct NameIndex {
    keys: Vec<u8>,
    /// Where each node's key starts in `keys`, and one more entry: the end.
    starts: Vec<u32>,
    /// Each node under its key's tag (a miss, which every NXDOMAIN asks first, probes
    /// about 5 slots).
    slots: TagSlots,
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
}

impl Default for NameIndex {
    fn default() -> NameIndex {
        NameIndex::with_capacity(0, 0)
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
            slots: TagSlots::with_capacity(names),
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
    #[inline(always)]
    pub(super) fn get(&self, key: &[u8]) -> Option<u32> {
        self.slots
            .find(tag_of(hash(key)), |node| self.key(node) == key)
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
        self.slots.insert(tag_of(hash(key)), node);
        node
    }

    /// Gives back the spare capacity of the growing buffers.
    pub(super) fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.starts.shrink_to_fit();
    }
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
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(index.get(k), Some(i as u32));
            }
            assert_eq!(index.get(b"\x07example\x00"), None);
            assert_eq!(index.get(b"\x04n1000\x07example\x00"), None);
            assert_eq!(index.get(b""), None);
        }
        assert_eq!(NameIndex::with_capacity(1000, bytes).slots.capacity(), 1429);
    }
}
