//! A checked zone's names: numbered in the order they were read, which the build goes
//! through (their data then lies in memory in the order it is visited), found by key for
//! the lookups resolving chains, glue and wildcards, and in key order for what lists a
//! zone's records (transfers, signing). The keys sit in one buffer with a hash index
//! ([`NameIndex`]), the one the zone was read into, and the key order is a sorted list of
//! the names' numbers there, sorted when first asked for: where a tree of boxed keys cost
//! an allocation per name and a dozen key comparisons per lookup.

use super::check::NameData;
use super::index::NameIndex;
use rustc_hash::FxHashSet;
use std::sync::OnceLock;

/// A zone's names, each with its data.
#[derive(Default)]
pub(super) struct Names {
    /// Every name's key → its number, the index of its data in `data`.
    index: NameIndex,
    /// Every name's wire form as written (its case kept), where `index` has its key.
    cased: Vec<u8>,
    data: Vec<NameData>,
    /// The names' numbers in key order, each once, those of `gone` left out: sorted
    /// when first needed (a zone that is neither transferred nor signed never is).
    order: OnceLock<Vec<u32>>,
    /// Names that are not the zone's after all, which no lookup finds (rare: check.rs).
    gone: FxHashSet<u32>,
}

impl Names {
    /// The names of `index` (whose data is `data` and wire forms as written `cased`, by
    /// number) but for those of `gone`.
    pub(super) fn new(
        index: NameIndex,
        cased: Vec<u8>,
        data: Vec<NameData>,
        gone: FxHashSet<u32>,
    ) -> Names {
        debug_assert_eq!(index.len() as usize, data.len());
        debug_assert_eq!(index.key_bytes(), cased.len());
        Names {
            index,
            cased,
            data,
            order: OnceLock::new(),
            gone,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.data.len() - self.gone.len()
    }

    /// The names' numbers in key order (sorted at the first call).
    fn order(&self) -> &[u32] {
        self.order.get_or_init(|| {
            // One sort of the numbers, each by its key's first eight bytes, read once, and
            // by the whole key only when those are equal, which spares most comparisons a
            // look at the keys.
            let index = &self.index;
            let mut order: Vec<(u64, u32)> = (0..index.len())
                .filter(|i| !self.gone.contains(i))
                .map(|i| (key_prefix(index.key(i)), i))
                .collect();
            order.sort_unstable_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| index.key(a.1).cmp(index.key(b.1)))
            });
            order.into_iter().map(|(_, i)| i).collect()
        })
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
        self.order()
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

    /// Every name and its data, in the order they were read (by number).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &NameData)> {
        (0..self.index.len())
            .filter(|i| self.gone.is_empty() || !self.gone.contains(i))
            .map(|i| (self.index.key(i), &self.data[i as usize]))
    }

    /// Every name's key, in the order they were read.
    pub(super) fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.iter().map(|(k, _)| k)
    }

    /// Every name's data, in the order they were read.
    pub(super) fn values(&self) -> impl Iterator<Item = &NameData> {
        self.iter().map(|(_, n)| n)
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

/// The first eight bytes of `key` as a number (zeros after a shorter key): two keys whose
/// prefixes differ are in the order of their prefixes.
fn key_prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
