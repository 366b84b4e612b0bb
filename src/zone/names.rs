//! A checked zone's names: in key order for the build, which numbers them in that order,
//! and found by key for the lookups resolving chains, glue and wildcards. The keys sit in
//! one buffer with a hash index ([`NameIndex`]), the one the zone was read into, and the
//! key order is a sorted list of the names' numbers there: where a tree of boxed keys cost
//! an allocation per name and a dozen key comparisons per lookup.

use super::check::NameData;
use super::index::NameIndex;
use rustc_hash::FxHashSet;

/// A zone's names in key order, each with its data.
#[derive(Default)]
pub(super) struct Names {
    /// Every name's key → its number, the index of its data in `data`.
    index: NameIndex,
    /// Every name's wire form as written (its case kept), where `index` has its key.
    cased: Vec<u8>,
    data: Vec<NameData>,
    /// The names' numbers in key order, each once, those of `gone` left out.
    order: Vec<u32>,
    /// Names that are not the zone's after all, which no lookup finds (rare: check.rs).
    gone: FxHashSet<u32>,
}

impl Names {
    /// The names of `index` (whose data is `data` and wire forms as written `cased`, by
    /// number) in the key order `order`, but for those of `gone`.
    pub(super) fn new(
        index: NameIndex,
        cased: Vec<u8>,
        data: Vec<NameData>,
        order: Vec<u32>,
        gone: FxHashSet<u32>,
    ) -> Names {
        debug_assert_eq!(index.len() as usize, data.len());
        debug_assert_eq!(index.key_bytes(), cased.len());
        debug_assert!(order.windows(2).all(|w| index.key(w[0]) < index.key(w[1])));
        Names {
            index,
            cased,
            data,
            order,
            gone,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    fn number(&self, key: &[u8]) -> Option<u32> {
        let i = self.index.get(key)?;
        (self.gone.is_empty() || !self.gone.contains(&i)).then_some(i)
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&NameData> {
        self.number(key).map(|i| &self.data[i as usize])
    }

    /// The wire form of a name with records (or load-balanced) as written.
    pub(super) fn written(&self, key: &[u8]) -> Option<&[u8]> {
        let i = self.number(key)?;
        self.data[i as usize]
            .written
            .then(|| &self.cased[self.index.span(i)])
    }

    /// Every name written in the zone (no empty non-terminal), as written, and its data,
    /// in key order.
    pub(super) fn iter_written(&self) -> impl Iterator<Item = (&[u8], &[u8], &NameData)> {
        self.order
            .iter()
            .map(|&i| (i, &self.data[i as usize]))
            .filter(|(_, n)| n.written)
            .map(|(i, n)| (self.index.key(i), &self.cased[self.index.span(i)], n))
    }

    /// The name's key as the table holds it, and its data.
    pub(super) fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &NameData)> {
        let i = self.number(key)?;
        Some((self.index.key(i), &self.data[i as usize]))
    }

    /// Every name and its data, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &NameData)> {
        self.order
            .iter()
            .map(|&i| (self.index.key(i), &self.data[i as usize]))
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.order.iter().map(|&i| self.index.key(i))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &NameData> {
        self.order.iter().map(|&i| &self.data[i as usize])
    }

    /// The bytes of all keys (at most).
    pub(super) fn key_bytes(&self) -> usize {
        self.index.key_bytes()
    }
}

impl std::ops::Index<&[u8]> for Names {
    type Output = NameData;

    fn index(&self, key: &[u8]) -> &NameData {
        self.get(key).expect("a name of the zone")
    }
}
