//! The hash table of the load's two big look-ups (a name's number by its key, an
//! answer's place in the arena by its bytes): open addressing over `u64` slots, each
//! a 32-bit tag (the high half of the hash) and a 32-bit value, probed linearly.
//!
//! The keys stay with the caller, who compares the candidates a tag matches. One
//! probe touches one cache line, where a `HashMap<u64, u32>` touches its control bytes
//! and then its bucket; on a big zone each look-up misses the cache, so that is most of
//! its cost. A slot also tells where it belongs, so growing the table reads no key.

/// An empty slot.
const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
pub struct TagSlots {
    slots: Vec<u64>,
    used: usize,
}

/// The tag of a 64-bit hash.
#[inline]
pub fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The first slot of `tag` in a table of `len` slots: the tag scaled to `len` (any
/// number of slots will do: no mask). Values of one first slot differ in the tag's
/// low bits.
#[inline(always)]
fn first_slot(tag: u32, len: usize) -> usize {
    ((tag as u64 * len as u64) >> 32) as usize
}

/// Slots for `values` values, about 70 % full: a miss probes about 5 slots, where a
/// table kept half full would cost 8 bytes more per value.
fn slots_for(values: usize) -> usize {
    (values + values * 3 / 7 + 1).max(16)
}

impl Default for TagSlots {
    fn default() -> TagSlots {
        TagSlots::with_capacity(0)
    }
}

impl TagSlots {
    /// A table with room for `values` values before it grows.
    pub fn with_capacity(values: usize) -> TagSlots {
        TagSlots {
            slots: vec![EMPTY; slots_for(values)],
            used: 0,
        }
    }

    /// The first value stored under `tag`, in probe order, that `matches` accepts: the
    /// caller compares its own key (a value of another key may share the tag). Written as
    /// a loop, not an iterator: the query path's look-up is this, and the iterator's state
    /// cost it a few instructions a query.
    #[inline(always)]
    pub fn find(&self, tag: u32, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        let len = self.slots.len();
        let mut i = first_slot(tag, len);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if (s >> 32) as u32 == tag && matches(s as u32) {
                return Some(s as u32);
            }
            i += 1;
            if i == len {
                i = 0;
            }
        }
    }

    /// Adds `value` under `tag` (the caller has checked that its key is not in yet);
    /// grows the table first when it would be more than 3/4 full. `value` is below
    /// `u32::MAX`: under the tag `u32::MAX` it would read as an empty slot.
    pub fn insert(&mut self, tag: u32, value: u32) {
        debug_assert_ne!(value, u32::MAX);
        if 4 * (self.used + 1) > 3 * self.slots.len() {
            let mut bigger = vec![EMPTY; self.slots.len() * 2];
            for &s in self.slots.iter().filter(|&&s| s != EMPTY) {
                place(&mut bigger, s);
            }
            self.slots = bigger;
        }
        place(&mut self.slots, (tag as u64) << 32 | value as u64);
        self.used += 1;
    }

    /// How many slots there are.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

fn place(slots: &mut [u64], slot: u64) {
    let mut i = first_slot((slot >> 32) as u32, slots.len());
    while slots[i] != EMPTY {
        i += 1;
        if i == slots.len() {
            i = 0;
        }
    }
    slots[i] = slot;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_under_their_tag_through_growth_and_wrap_around() {
        // Tags crowded at the top of the range wrap around to the first slots.
        for mut t in [TagSlots::default(), TagSlots::with_capacity(1000)] {
            let tags: Vec<u32> = (0..1000u32)
                .map(|i| {
                    if i % 3 == 0 {
                        u32::MAX - i
                    } else {
                        i.wrapping_mul(0x9E37_79B9)
                    }
                })
                .collect();
            for (v, &tag) in tags.iter().enumerate() {
                t.insert(tag, v as u32);
            }
            assert!(4 * 1000 <= 3 * t.capacity(), "{}", t.capacity());
            for (v, &tag) in tags.iter().enumerate() {
                assert_eq!(t.find(tag, |c| c == v as u32), Some(v as u32), "value {v}");
            }
            // A tag never inserted offers no value, whatever the caller accepts.
            assert_eq!(t.find(0x1234_5677, |_| true), None);
        }
        assert_eq!(TagSlots::with_capacity(1000).capacity(), 1429);
    }

    #[test]
    fn values_sharing_a_tag_are_all_candidates() {
        let mut t = TagSlots::with_capacity(4);
        for v in 0..20 {
            t.insert(7, v);
        }
        let mut offered = Vec::new();
        assert_eq!(
            t.find(7, |v| {
                offered.push(v);
                false
            }),
            None
        );
        offered.sort_unstable();
        assert_eq!(offered, (0..20).collect::<Vec<_>>());
    }
}
