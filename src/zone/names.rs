//! A checked zone's names: in key order for the build, which numbers them in that order,
//! and found by key for the lookups resolving chains, glue and wildcards. The keys sit in
//! one buffer with a hash index ([`NameIndex`]) where a tree of boxed keys cost an
//! allocation per name and a dozen key comparisons per lookup.

use super::check::NameData;
use super::index::NameIndex;

/// A zone's names in key order, each with its data.
#[derive(Default)]
pub(super) struct Names {
    /// Name `i`'s key is `index`'s key of node `i`.
    index: NameIndex,
    data: Vec<NameData>,
}

impl Names {
    /// The names of `entries`, which come in key order, each key once.
    pub(super) fn from_sorted<'k>(
        entries: impl ExactSizeIterator<Item = (&'k [u8], NameData)>,
        key_bytes: usize,
    ) -> Names {
        let mut index = NameIndex::with_capacity(entries.len(), key_bytes);
        let mut data = Vec::with_capacity(entries.len());
        for (key, node) in entries {
            debug_assert!(index.len() == 0 || index.key(index.len() - 1) < key);
            index.push(key);
            data.push(node);
        }
        Names { index, data }
    }

    pub(super) fn len(&self) -> usize {
        self.data.len()
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&NameData> {
        self.index.get(key).map(|i| &self.data[i as usize])
    }

    /// The name's key as the table holds it, and its data.
    pub(super) fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &NameData)> {
        let i = self.index.get(key)?;
        Some((self.index.key(i), &self.data[i as usize]))
    }

    /// Every name and its data, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &NameData)> {
        self.data
            .iter()
            .enumerate()
            .map(|(i, n)| (self.index.key(i as u32), n))
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.data.len() as u32).map(|i| self.index.key(i))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &NameData> {
        self.data.iter()
    }

    /// The bytes of all keys.
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
