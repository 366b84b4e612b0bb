//! The name index of a [`super::Zones`]: lower-case wire names → node numbers.
//!
//! Every name once, in one buffer, in node order (node `i`'s key ends where node `i + 1`'s
//! starts), and an open-addressing table of (hash, node) slots, at most three quarters
//! full. About the name's wire length plus 14 to 25 bytes per name, in three allocations,
//! where a hash map of boxed keys costs an allocation per name.

use rustc_hash::FxHasher;
use std::hash::Hasher;

/// An empty slot (node numbers stay below it).
const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
pub(super) struct NameIndex {
    keys: Vec<u8>,
    /// Where each node's key starts in `keys`, and one more entry: the end.
    starts: Vec<u32>,
    /// Hash (high 32 bits) and node (low 32 bits); `EMPTY` where free. Between 3/8 and
    /// 3/4 full: a lookup that misses (every NXDOMAIN asks for a missing name first)
    /// probes about 2 to 8 slots, where a table kept at most half full would cost 8 bytes
    /// more per name.
    slots: Vec<u64>,
}

fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.finish()
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
    fn key(&self, node: u32) -> &[u8] {
        let i = node as usize;
        &self.keys[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The node of `key`, if it has one.
    #[inline]
    pub(super) fn get(&self, key: &[u8]) -> Option<u32> {
        let h = hash(key);
        let tag = h >> 32;
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag && self.key(s as u32) == key {
                return Some(s as u32);
            }
            i = (i + 1) & mask;
        }
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
            for n in 0..node {
                place(&mut bigger, hash(self.key(n)), n);
            }
            self.slots = bigger;
        }
        place(&mut self.slots, hash(key), node);
        node
    }

    /// Gives back the spare capacity of the growing buffers.
    pub(super) fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.starts.shrink_to_fit();
    }
}

fn place(slots: &mut [u64], h: u64, node: u32) {
    let mask = slots.len() - 1;
    let mut i = h as usize & mask;
    while slots[i] != EMPTY {
        i = (i + 1) & mask;
    }
    slots[i] = (h >> 32) << 32 | node as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pushed_name_is_found_and_no_other() {
        let mut index = NameIndex::default();
        let keys: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| {
                let label = format!("n{i}");
                let mut k = vec![label.len() as u8];
                k.extend_from_slice(label.as_bytes());
                k.extend_from_slice(b"\x07example\x00");
                k
            })
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.push(k), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(i as u32));
        }
        assert_eq!(index.get(b"\x07example\x00"), None);
        assert_eq!(index.get(b""), None);
    }
}
