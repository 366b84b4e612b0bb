//! The name index of a [`super::Zones`]: lower-case wire names → node numbers.
//!
//! Every name once, in one buffer, in node order (node `i`'s entry ends where node
//! `i + 1`'s starts), and an open-addressing table of (hash, node) slots, at most three
//! quarters full. A name's entry is its zone's number (LEB128, one octet for the first 128
//! zones) and the name's labels before that zone's origin: every name of a zone ends with
//! the origin, kept once in `suffixes`. The hash is of the whole name. About the name's
//! wire length less its origin's plus 15 to 26 bytes per name, in four allocations, where
//! a hash map of boxed keys costs an allocation per name.

use rustc_hash::FxHasher;
use std::hash::Hasher;

/// An empty slot (node numbers stay below it).
const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
pub(super) struct NameIndex {
    keys: Vec<u8>,
    /// Where each node's entry starts in `keys`, and one more entry: the end.
    starts: Vec<u32>,
    /// The origins the names end with, by the number their entries start with.
    suffixes: Vec<Box<[u8]>>,
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
            suffixes: Vec::new(),
            slots: vec![EMPTY; 16],
        }
    }
}

impl NameIndex {
    /// Node `node`'s name: the labels before its origin, and the origin.
    #[inline]
    fn key(&self, node: u32) -> (&[u8], &[u8]) {
        let i = node as usize;
        let entry = &self.keys[self.starts[i] as usize..self.starts[i + 1] as usize];
        let (mut suffix, mut pos, mut shift) = (0usize, 0, 0);
        loop {
            let b = entry[pos];
            pos += 1;
            suffix |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&entry[pos..], &self.suffixes[suffix])
    }

    /// `key` is node `node`'s name.
    #[inline]
    fn is(&self, node: u32, key: &[u8]) -> bool {
        let (head, suffix) = self.key(node);
        key.len() == head.len() + suffix.len()
            && key[head.len()..] == *suffix
            && key[..head.len()] == *head
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
            if s >> 32 == tag && self.is(s as u32, key) {
                return Some(s as u32);
            }
            i = (i + 1) & mask;
        }
    }

    /// The number the next pushed name gets.
    pub(super) fn len(&self) -> u32 {
        (self.starts.len() - 1) as u32
    }

    /// Adds `key` (not indexed yet), a name of the zone of origin `origin` (lower-case
    /// wire form), as the next node. A zone's names come one after the other.
    pub(super) fn push(&mut self, key: &[u8], origin: &[u8]) -> u32 {
        let node = self.len();
        let origin = if key.ends_with(origin) { origin } else { &[] };
        if self.suffixes.last().is_none_or(|last| **last != *origin) {
            self.suffixes.push(origin.into());
        }
        let mut suffix = self.suffixes.len() - 1;
        loop {
            let b = (suffix & 0x7f) as u8;
            suffix >>= 7;
            if suffix == 0 {
                self.keys.push(b);
                break;
            }
            self.keys.push(b | 0x80);
        }
        self.keys
            .extend_from_slice(&key[..key.len() - origin.len()]);
        self.starts.push(self.keys.len() as u32);
        if 4 * (node as usize + 1) > 3 * self.slots.len() {
            let mut bigger = vec![EMPTY; self.slots.len() * 2];
            let mut whole = Vec::new();
            for n in 0..node {
                let (head, suffix) = self.key(n);
                whole.clear();
                whole.extend_from_slice(head);
                whole.extend_from_slice(suffix);
                place(&mut bigger, hash(&whole), n);
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
        self.suffixes.shrink_to_fit();
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
            assert_eq!(index.push(k, b"\x07example\x00"), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(i as u32));
        }
        assert_eq!(index.get(b"\x07example\x00"), None);
        assert_eq!(index.get(b""), None);
        // The same labels under another origin are another name.
        assert_eq!(index.get(b"\x02n1\x07exampla\x00"), None);
        assert_eq!(index.get(b"\x02n1\x08example2\x00"), None);
    }

    #[test]
    fn names_of_many_zones_keep_their_own_origins() {
        let mut index = NameIndex::default();
        let name = |i: u32, zone: u32| {
            let mut k = vec![1, b'a' + (i % 26) as u8];
            let z = format!("z{zone}");
            k.push(z.len() as u8);
            k.extend_from_slice(z.as_bytes());
            k.push(0);
            k
        };
        // 300 zones (numbers past one octet) of 26 names each, a zone's names in a row,
        // and the root zone's one name that does not end with its origin as given.
        for zone in 0..300 {
            let origin = &name(0, zone)[2..];
            for i in 0..26 {
                index.push(&name(i, zone), origin);
            }
        }
        let odd = index.push(b"\x03odd\x00", b"\x04else\x00");
        for zone in 0..300 {
            for i in 0..26 {
                assert_eq!(index.get(&name(i, zone)), Some(zone * 26 + i));
            }
        }
        assert_eq!(index.get(b"\x03odd\x00"), Some(odd));
        assert_eq!(index.get(b"\x01a\x04z300\x00"), None);
        // One origin per zone, however many names it has.
        assert_eq!(index.suffixes.len(), 301);
    }
}
