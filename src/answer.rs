//! Pre-encoded answers: response sections as wire bytes, built once at load time.
//!
//! Sits below both `zone` (writes answers with [`Writer`]) and `dns` (copies them out and
//! appends per-query addresses), so neither imports the other: wire format only, no zone rules.
//! An [`Answer`] is encoded against a model question name with relocatable pointers into the
//! question, so one serves every name with the same suffix (wildcards, NXDOMAIN, referrals).

use hickory_proto::rr::{Name, RecordType};

/// Offset of the question name in every DNS message.
pub const QNAME_OFFSET: usize = 12;
/// Compression pointers can address only the first 16 KiB; keep headroom for relocation.
const MAX_POINTER_TARGET: usize = 0x3FFF - 256;

/// Where a set of records ends, and the section counts up to that point: the places a
/// response may be cut when it does not fit, so that no RRset is ever split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetEnd {
    pub end: u16,
    pub counts: [u16; 3],
    /// Dropping this set forces TC: it belongs to the answer or authority section, or is
    /// glue that a referral needs (RFC 9471).
    pub required: bool,
}

/// Response sections as wire bytes, ready to follow a copied question: a view of an
/// answer's bytes, where they are kept (a zone build's arena, or an [`AnswerBuf`]).
///
/// The bytes: a head (body length, the three list lengths, the section counts, rcode, AA
/// bit and model length), the body, then the relocatable pointers, the pointers to the
/// question name and the cut points. A zone build keeps all its answers in one arena
/// ([`Interner`]), once each: answers that render the same for every query name they
/// serve share their bytes (a zone's NODATA, the same address at many names, a referral
/// at every name below its cut), and a name holds a 4-byte [`AnswerId`] per answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// Where the answer is served from (a name's slot for one type, a zone's NXDOMAIN):
    /// the rate-limiting identity, so that names whose answers share bytes keep their own.
    pub site: usize,
    data: &'a [u8],
}

impl PartialEq for Answer<'_> {
    fn eq(&self, other: &Answer<'_>) -> bool {
        self.data[..self.data_len()] == other.data[..other.data_len()]
    }
}

impl Eq for Answer<'_> {}

/// An answer as [`Writer::finish`] makes it, in its own buffer: what is interned into an
/// arena, and the few answers kept apart (a DNAME's, a chain to a load-balanced name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerBuf(Box<[u8]>);

impl AnswerBuf {
    /// The answer, its own bytes as its rate-limiting identity.
    pub fn answer(&self) -> Answer<'_> {
        Answer::at(&self.0, 0, self.0.as_ptr() as usize)
    }
}

/// An interned answer: where its bytes start in the arena of the build that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerId(u32);

/// Bytes before the body in an answer's data: body length, the three list lengths, the
/// section counts of the whole answer (read by every query, so at a fixed place), rcode,
/// flags and model length.
const HEAD: usize = 18;
/// Where the head's section counts, rcode, flags and model length are.
const COUNTS_AT: usize = 8;
const RCODE_AT: usize = 14;
const FLAGS_AT: usize = 15;
const MODEL_AT: usize = 16;
/// Flags: the AA bit; the last set (the whole body, not stored as a cut point: most
/// answers have that one set alone) is required.
const FLAG_AA: u8 = 1;
const FLAG_LAST_REQUIRED: u8 = 2;
/// Bytes per cut point in an answer's data: end, three counts, required.
const SET_LEN: usize = 9;
/// The model length interned answers are stored against.
const NORMAL_LEN: u16 = 255;

#[inline]
fn get16(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}

impl<'a> Answer<'a> {
    /// The answer whose bytes start at `id` in `arena` (one of the arena's own ids),
    /// served from `site`.
    #[inline]
    pub fn in_arena(arena: &'a [u8], id: AnswerId, site: usize) -> Answer<'a> {
        Answer::at(arena, id.0 as usize, site)
    }

    #[inline]
    fn at(bytes: &'a [u8], off: usize, site: usize) -> Answer<'a> {
        Answer {
            site,
            data: &bytes[off..],
        }
    }

    /// The head of the answer's bytes (one length check for all that is read from it).
    #[inline]
    fn head(&self) -> &'a [u8; HEAD] {
        self.data[..HEAD].try_into().expect("an answer has a head")
    }

    /// The response code.
    #[inline]
    pub fn rcode(&self) -> u8 {
        self.head()[RCODE_AT]
    }

    /// The AA bit.
    #[inline]
    pub fn authoritative(&self) -> bool {
        self.head()[FLAGS_AT] & FLAG_AA != 0
    }

    /// Wire length of the name the body was encoded against (255 for interned answers,
    /// whose relocatable pointers are stored as if against a name of 255 octets).
    #[inline]
    pub fn model_qname_len(&self) -> u16 {
        let h = self.head();
        u16::from_le_bytes([h[MODEL_AT], h[MODEL_AT + 1]])
    }

    /// Length of this answer's bytes.
    fn data_len(&self) -> usize {
        let (body, relocs, qptrs, sets) = self.lens();
        HEAD + body + 2 * (relocs + qptrs) + SET_LEN * sets
    }

    fn lens(&self) -> (usize, usize, usize, usize) {
        let d = self.data;
        (
            get16(d, 0) as usize,
            get16(d, 2) as usize,
            get16(d, 4) as usize,
            get16(d, 6) as usize,
        )
    }

    /// The answer's sections as wire bytes.
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        let d = self.data;
        let n = get16(d, 0) as usize;
        &d[HEAD..HEAD + n]
    }

    /// Offsets in the body of compression pointers that target the question name after
    /// its first label, or the body: these move when the real query name is longer or
    /// shorter.
    pub fn relocs(&self) -> impl Iterator<Item = u16> + 'a {
        let (body, relocs, _, _) = self.lens();
        let at = HEAD + body;
        self.data[at..at + 2 * relocs]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    /// Offsets in the body of compression pointers to the question name itself.
    pub fn qname_ptrs(&self) -> impl Iterator<Item = u16> + 'a {
        let (body, relocs, qptrs, _) = self.lens();
        let at = HEAD + body + 2 * relocs;
        self.data[at..at + 2 * qptrs]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    /// Cut points, in order; the last one is the whole body.
    pub fn sets(&self) -> impl Iterator<Item = SetEnd> + 'a {
        let (body, relocs, qptrs, sets) = self.lens();
        let at = HEAD + body + 2 * (relocs + qptrs);
        let last = SetEnd {
            end: body as u16,
            counts: self.counts(),
            required: self.data[FLAGS_AT] & FLAG_LAST_REQUIRED != 0,
        };
        self.data[at..at + SET_LEN * sets]
            .chunks_exact(SET_LEN)
            .map(|c| SetEnd {
                end: get16(c, 0),
                counts: [get16(c, 2), get16(c, 4), get16(c, 6)],
                required: c[8] != 0,
            })
            .chain(std::iter::once(last))
    }

    /// Section counts of the full answer.
    #[inline]
    pub fn counts(&self) -> [u16; 3] {
        let h = self.head();
        let at = |i: usize| u16::from_le_bytes([h[COUNTS_AT + i], h[COUNTS_AT + i + 1]]);
        [at(0), at(2), at(4)]
    }

    /// The longest prefix of the body that fits in `room` bytes: (end, counts, truncated).
    #[inline]
    pub fn fit(&self, room: usize) -> (usize, [u16; 3], bool) {
        let len = get16(self.data, 0) as usize;
        if len <= room {
            return (len, self.counts(), false);
        }
        let mut best = (0usize, [0u16; 3]);
        let mut truncated = false;
        for set in self.sets() {
            if (set.end as usize) <= room {
                best = (set.end as usize, set.counts);
            } else if set.required {
                truncated = true;
            }
        }
        (best.0, best.1, truncated)
    }

    /// Appends `body[..end]` to `out`, moving relocatable pointers by `delta` bytes.
    pub fn write_body(&self, out: &mut Vec<u8>, end: usize, delta: isize) {
        let d = self.data;
        let body_len = get16(d, 0) as usize;
        let relocs = get16(d, 2) as usize;
        let start = out.len();
        out.extend_from_slice(&d[HEAD..HEAD + end]);
        if delta == 0 || relocs == 0 {
            return;
        }
        let list = &d[HEAD + body_len..HEAD + body_len + 2 * relocs];
        let moved = &mut out[start..];
        for i in 0..relocs {
            let r = u16::from_le_bytes([list[2 * i], list[2 * i + 1]]) as usize;
            if r + 2 > end {
                break;
            }
            let target = (u16::from_be_bytes([moved[r], moved[r + 1]]) & 0x3FFF) as isize;
            let p = ((target + delta) as u16 | 0xC000).to_be_bytes();
            moved[r] = p[0];
            moved[r + 1] = p[1];
        }
    }

    /// Appends `body[..end]` to `out` for a question name that is not the question's but
    /// stands at `name_at` in `out`, `name_len` octets long (the target of a CNAME made
    /// per query): every pointer is moved. `false`, with nothing written, when a pointer
    /// would no longer reach its target.
    pub fn write_body_at(
        &self,
        out: &mut Vec<u8>,
        end: usize,
        name_at: usize,
        name_len: usize,
    ) -> bool {
        let start = out.len();
        let model_len = self.model_qname_len() as usize;
        let model_body = QNAME_OFFSET + model_len + 4;
        let body = self.body();
        let target = |r: u16| {
            (u16::from_be_bytes([body[r as usize], body[r as usize + 1]]) & 0x3FFF) as usize
        };
        // A pointer into the question name must land inside the new name.
        let reaches = |r: u16| {
            let t = target(r);
            t >= model_body || t - QNAME_OFFSET + name_len >= model_len
        };
        if start + end > 0x3FFF
            || name_at + name_len > 0x3FFF
            || !self
                .relocs()
                .filter(|&r| r as usize + 2 <= end)
                .all(reaches)
        {
            return false;
        }
        out.extend_from_slice(&body[..end]);
        let set = |out: &mut Vec<u8>, r: u16, target: usize| {
            let p = start + r as usize;
            if p + 2 <= start + end {
                out[p..p + 2].copy_from_slice(&(0xC000 | target as u16).to_be_bytes());
            }
        };
        for r in self.relocs() {
            if r as usize + 2 > end {
                continue;
            }
            let t = target(r);
            let moved = if t >= model_body {
                start + (t - model_body)
            } else {
                name_at + (t - QNAME_OFFSET) + name_len - model_len
            };
            set(out, r, moved);
        }
        for r in self.qname_ptrs() {
            set(out, r, name_at);
        }
        true
    }
}

/// Builds one arena of answers: each answer is stored against a model name of 255
/// octets, so two answers encoded for different names of a zone (a NODATA with the SOA,
/// an MX with the same exchange) become the same bytes, kept once.
#[derive(Default)]
pub struct Interner {
    bytes: Vec<u8>,
    /// Where each distinct answer starts in `bytes`, under the tag of its bytes' hash.
    seen: crate::slots::TagSlots,
}

impl Interner {
    /// An arena with room to tell `answers` distinct answers apart without growing.
    pub fn with_capacity(answers: usize) -> Interner {
        Interner {
            bytes: Vec::new(),
            seen: crate::slots::TagSlots::with_capacity(answers),
        }
    }

    /// `answer` in the arena, its bytes shared with an equal answer interned before.
    pub fn intern(&mut self, answer: &AnswerBuf) -> Result<AnswerId, EncodeError> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&answer.0);
        self.settle(start)
    }

    /// What `w` finishes as (see [`Writer::finish`]), in the arena like [`Interner::intern`]:
    /// written straight into the arena, without a buffer of its own.
    pub fn intern_writer(
        &mut self,
        w: Writer,
        rcode: u8,
        authoritative: bool,
    ) -> Result<AnswerId, EncodeError> {
        let start = self.bytes.len();
        if let Err(e) = w.finish_into(rcode, authoritative, &mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        self.settle(start)
    }

    /// The answer just appended at `start`: stored against the normal model length, and
    /// kept once (dropped again when an equal answer is in the arena already).
    fn settle(&mut self, start: usize) -> Result<AnswerId, EncodeError> {
        use std::hash::Hasher;
        let d = &mut self.bytes;
        let body_len = get16(d, start) as usize;
        let relocs = get16(d, start + 2) as usize;
        let model_len = get16(d, start + MODEL_AT) as isize;
        let shift = NORMAL_LEN as isize - model_len;
        if shift != 0 {
            let list = start + HEAD + body_len;
            for i in 0..relocs {
                let r = get16(d, list + 2 * i) as usize;
                if r + 2 > body_len {
                    continue;
                }
                let p = start + HEAD + r;
                let t = (u16::from_be_bytes([d[p], d[p + 1]]) & 0x3FFF) as isize + shift;
                d[p..p + 2].copy_from_slice(&(t as u16 | 0xC000).to_be_bytes());
            }
            let model = start + MODEL_AT;
            d[model..model + 2].copy_from_slice(&NORMAL_LEN.to_le_bytes());
        }
        let mut h = rustc_hash::FxHasher::default();
        h.write(&self.bytes[start..]);
        let tag = crate::slots::tag_of(h.finish());
        // Offsets stay below `u32::MAX`, which `TagSlots` does not take.
        if self.bytes.len() >= u32::MAX as usize {
            return Err(EncodeError::TooLarge);
        }
        let (bytes, len) = (&self.bytes, self.bytes.len() - start);
        // An answer ends before the next one starts, so an equal one before `start`
        // lies whole in `bytes[..start]`.
        let equal = |at: u32| bytes.get(at as usize..at as usize + len) == Some(&bytes[start..]);
        if let Some(at) = self.seen.find(tag, equal) {
            self.bytes.truncate(start);
            return Ok(AnswerId(at));
        }
        self.seen.insert(tag, start as u32);
        Ok(AnswerId(start as u32))
    }

    /// The finished arena, which the ids handed out index.
    pub fn finish(self) -> Box<[u8]> {
        drop(self.seen);
        self.bytes.into_boxed_slice()
    }
}
/// The owner name of a record being written.
#[derive(Clone, Copy)]
pub enum Owner<'a> {
    /// The query name itself (a pointer to the question).
    Qname,
    /// A name in uncompressed wire form, in the case it was written (`zone::wire`).
    Wire(&'a [u8]),
}

/// Section a record goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// Errors building an answer: both mean the zone holds more than one message can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("answer larger than 65535 bytes")]
    TooLarge,
    #[error("record data cannot be encoded: {0}")]
    Rdata(String),
}

/// Builds an [`Answer`] with name compression against a model question.
pub struct Writer {
    buf: Vec<u8>,
    body_start: usize,
    /// The lower-case wire forms of the names written so far that pointers may target,
    /// one after the other; `suffixes` says where each is and where it was written.
    keys: Vec<u8>,
    /// (start in `keys`, length, offset in the message), first written first.
    suffixes: Vec<(u32, u16, u16)>,
    relocs: Vec<u16>,
    qname_ptrs: Vec<u16>,
    sets: Vec<SetEnd>,
    counts: [u16; 3],
}

/// A finished writer's buffers, for the next one on this thread: a zone build writes
/// millions of answers, and allocating fresh buffers for each was a good part of it.
struct Spare {
    buf: Vec<u8>,
    keys: Vec<u8>,
    suffixes: Vec<(u32, u16, u16)>,
    relocs: Vec<u16>,
    qname_ptrs: Vec<u16>,
    sets: Vec<SetEnd>,
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<Spare>> = const { std::cell::RefCell::new(None) };
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut spare = Spare {
            buf: std::mem::take(&mut self.buf),
            keys: std::mem::take(&mut self.keys),
            suffixes: std::mem::take(&mut self.suffixes),
            relocs: std::mem::take(&mut self.relocs),
            qname_ptrs: std::mem::take(&mut self.qname_ptrs),
            sets: std::mem::take(&mut self.sets),
        };
        spare.buf.clear();
        spare.keys.clear();
        spare.suffixes.clear();
        spare.relocs.clear();
        spare.qname_ptrs.clear();
        spare.sets.clear();
        let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(spare));
    }
}

/// The lower-case wire form of `name` into `out`, and where each label starts in it.
fn lower_labels(name: &Name, out: &mut [u8; 256], starts: &mut [u8; 128]) -> (usize, usize) {
    wire_labels(name, out, None, starts)
}

/// [`lower_labels`], and the wire form as written (its case kept) into `cased`.
fn wire_labels(
    name: &Name,
    out: &mut [u8; 256],
    cased: Option<&mut [u8; 256]>,
    starts: &mut [u8; 128],
) -> (usize, usize) {
    // The labels are copied as they are, then lower-cased in one pass over the whole
    // form (length octets are below 64, which lower-casing leaves alone).
    match cased {
        Some(c) => {
            let (len, n) = copy_labels(name, c, starts);
            for (d, s) in out[..len].iter_mut().zip(&c[..len]) {
                *d = s.to_ascii_lowercase();
            }
            (len, n)
        }
        None => {
            let (len, n) = copy_labels(name, out, starts);
            out[..len].make_ascii_lowercase();
            (len, n)
        }
    }
}

/// The wire form of `name` as written into `to` (at most 255 octets, 128 labels), and
/// where each label starts in it: its length and the number of labels.
fn copy_labels(name: &Name, to: &mut [u8; 256], starts: &mut [u8; 128]) -> (usize, usize) {
    let mut len = 0;
    let mut n = 0;
    for label in name.iter() {
        if len + 1 + label.len() >= to.len() || n == starts.len() {
            break;
        }
        starts[n] = len as u8;
        n += 1;
        to[len] = label.len() as u8;
        to[len + 1..len + 1 + label.len()].copy_from_slice(label);
        len += 1 + label.len();
    }
    to[len] = 0;
    (len + 1, n)
}

/// A name's wire forms worked out once, for a name written into many answers (a zone's
/// SOA in every negative answer): [`Writer::name`] without walking the name again.
#[derive(Debug, Clone)]
pub struct WireName {
    lower: Box<[u8]>,
    cased: Box<[u8]>,
    starts: Box<[u8]>,
}

impl WireName {
    pub fn new(name: &Name) -> WireName {
        let mut lower = [0u8; 256];
        let mut cased = [0u8; 256];
        let mut starts = [0u8; 128];
        let (len, n) = wire_labels(name, &mut lower, Some(&mut cased), &mut starts);
        WireName {
            lower: lower[..len].into(),
            cased: cased[..len].into(),
            starts: starts[..n].into(),
        }
    }
}

impl Writer {
    /// Starts a message whose question name (the zone node's name, or `*.<suffix>` for
    /// answers shared by every name under a suffix) has the lower-case wire form `key`
    /// (as [`name_key`] gives it): the question is never part of the answer's bytes, only
    /// where its suffixes stand, so its case does not matter.
    pub fn for_key(key: &[u8]) -> Writer {
        let spare = SPARE.try_with(|s| s.borrow_mut().take()).ok().flatten();
        let spare = spare.unwrap_or_else(|| Spare {
            buf: Vec::with_capacity(512),
            keys: Vec::new(),
            suffixes: Vec::new(),
            relocs: Vec::new(),
            qname_ptrs: Vec::new(),
            sets: Vec::new(),
        });
        let mut w = Writer {
            buf: spare.buf,
            body_start: 0,
            keys: spare.keys,
            suffixes: spare.suffixes,
            relocs: spare.relocs,
            qname_ptrs: spare.qname_ptrs,
            sets: spare.sets,
            counts: [0; 3],
        };
        w.buf.resize(QNAME_OFFSET, 0);
        // Each suffix of the model once (they differ in length), where it starts.
        let mut pos = 0;
        while pos < key.len() && key[pos] != 0 {
            w.remember(&key[pos..], QNAME_OFFSET + pos);
            pos += 1 + key[pos] as usize;
        }
        w.buf.extend_from_slice(&key[..pos.min(key.len())]);
        w.buf.push(0);
        w.buf.extend_from_slice(&[0, 0, 0, 0]); // qtype, qclass: copied from the query
        w.body_start = w.buf.len();
        w
    }

    fn model_qname_len(&self) -> usize {
        self.body_start - 4 - QNAME_OFFSET
    }

    /// Where the name whose lower-case wire form is `key` was written, if it was.
    fn find(&self, key: &[u8]) -> Option<u16> {
        self.suffixes.iter().find_map(|&(at, len, offset)| {
            let at = at as usize;
            (len as usize == key.len() && &self.keys[at..at + len as usize] == key)
                .then_some(offset)
        })
    }

    fn remember(&mut self, key: &[u8], offset: usize) {
        let at = self.keys.len() as u32;
        self.keys.extend_from_slice(key);
        self.suffixes.push((at, key.len() as u16, offset as u16));
    }

    /// Writes the name whose lower-case and written wire forms are `lower` and `cased`
    /// (labels starting at `starts`), compressed against what was written before.
    fn wire_name(&mut self, lower: &[u8], cased: &[u8], starts: &[u8]) {
        let base = self.buf.len();
        for &start in starts {
            let s = start as usize;
            let key = &lower[s..];
            if let Some(target) = self.find(key) {
                self.buf.extend_from_slice(&cased[..s]);
                self.pointer(target);
                return;
            }
            if base + s <= MAX_POINTER_TARGET {
                self.remember(key, base + s);
            }
        }
        self.buf.extend_from_slice(cased);
    }

    /// Writes one SOA record (as [`Writer::rrset`] with the one record `soa` would), its
    /// owner and names given as [`WireName`]s, then marks a cut point.
    pub fn soa_rrset(
        &mut self,
        section: Section,
        owner: &WireName,
        ttl: u32,
        names: [&WireName; 2],
        soa: &hickory_proto::rr::rdata::SOA,
        required: bool,
    ) -> Result<(), EncodeError> {
        self.wire_name(&owner.lower, &owner.cased, &owner.starts);
        let len_at = self.record_head(u16::from(RecordType::SOA), ttl);
        for n in names {
            self.wire_name(&n.lower, &n.cased, &n.starts);
        }
        self.soa_numbers(soa);
        self.record_end(section, len_at)?;
        self.mark(required)
    }

    /// The SOA's serial, refresh, retry, expire and minimum, as RFC 1035 §3.3.13 orders
    /// them.
    fn soa_numbers(&mut self, soa: &hickory_proto::rr::rdata::SOA) {
        for v in [
            soa.serial,
            soa.refresh as u32,
            soa.retry as u32,
            soa.expire as u32,
            soa.minimum,
        ] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Where the name whose lower-case wire form is `key` was written in the message so
    /// far, if it was (and is addressable).
    pub fn key_offset(&self, key: &[u8]) -> Option<u16> {
        self.find(key)
    }

    fn pointer(&mut self, target: u16) {
        let at = (self.buf.len() - self.body_start) as u16;
        if target as usize > QNAME_OFFSET {
            self.relocs.push(at);
        } else {
            self.qname_ptrs.push(at);
        }
        self.buf.extend_from_slice(&(0xC000 | target).to_be_bytes());
    }

    fn owner(&mut self, owner: Owner<'_>) {
        match owner {
            Owner::Qname => self.pointer(QNAME_OFFSET as u16),
            Owner::Wire(w) => {
                if self.wire_cased(w).is_none() {
                    self.buf.extend_from_slice(w); // never: zones write whole names
                }
            }
        }
    }

    /// Writes one RRset (all of `rdatas`, each in uncompressed wire form as
    /// `zone::wire` keeps it, one TTL) into `section`, then marks a cut point.
    pub fn rrset<'r>(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rtype: RecordType,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'r [u8]>,
        required: bool,
    ) -> Result<(), EncodeError> {
        for rdata in rdatas {
            self.record(section, owner, rtype, ttl, rdata)?;
        }
        self.mark(required)
    }

    /// Writes a single record (its data in uncompressed wire form) without marking a
    /// cut point.
    pub fn record(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rtype: RecordType,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), EncodeError> {
        self.owner(owner);
        let rtype = u16::from(rtype);
        let len_at = self.record_head(rtype, ttl);
        self.rdata(rtype, rdata);
        self.record_end(section, len_at)
    }

    /// Type, class IN, TTL and room for the RDATA length, after the owner: where the
    /// length goes, for [`Writer::record_end`].
    fn record_head(&mut self, rtype: u16, ttl: u32) -> usize {
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes()); // class IN
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        len_at
    }

    /// Ends a record whose RDATA was written after its [`Writer::record_head`]: its
    /// length, and one record more in `section`.
    fn record_end(&mut self, section: Section, len_at: usize) -> Result<(), EncodeError> {
        let rdlen = self.buf.len() - len_at - 2;
        if rdlen > u16::MAX as usize {
            return Err(EncodeError::TooLarge);
        }
        self.buf[len_at..len_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        self.counts[section as usize] += 1;
        Ok(())
    }

    /// Marks the end of a set of records: a response may be cut here.
    pub fn mark(&mut self, required: bool) -> Result<(), EncodeError> {
        let end = self.buf.len() - self.body_start;
        if end > u16::MAX as usize {
            return Err(EncodeError::TooLarge);
        }
        self.sets.push(SetEnd {
            end: end as u16,
            counts: self.counts,
            required,
        });
        Ok(())
    }

    /// Writes record data given in uncompressed wire form: the names of the RFC 1035
    /// types compressed, which RFC 3597 §4 allows for them only, the rest as it is.
    fn rdata(&mut self, rtype: u16, rdata: &[u8]) {
        let (skip, names, rest) = match rtype {
            // NS, MD, MF, CNAME, MB, MG, MR, PTR
            2..=5 | 7..=9 | 12 => (0, 1, 0),
            // SOA: two names, then five numbers; MINFO
            6 => (0, 2, 20),
            14 => (0, 2, 0),
            // MX
            15 => (2, 1, 0),
            _ => return self.buf.extend_from_slice(rdata),
        };
        // Only data that is what the type says (ours always is) is compressed.
        let mut end = skip;
        for _ in 0..names {
            match rdata.get(end..).and_then(wire_name_len) {
                Some(len) => end += len,
                None => return self.buf.extend_from_slice(rdata),
            }
        }
        if rdata.len() != end + rest {
            return self.buf.extend_from_slice(rdata);
        }
        self.buf.extend_from_slice(&rdata[..skip]);
        let mut pos = skip;
        while pos < end {
            pos += self.wire_cased(&rdata[pos..]).expect("measured above");
        }
        self.buf.extend_from_slice(&rdata[end..]);
    }

    /// Writes the uncompressed wire name `wire` starts with (its case kept), compressed
    /// against what was written before; its length, or `None` (nothing written) when
    /// `wire` does not start with a whole name.
    fn wire_cased(&mut self, wire: &[u8]) -> Option<usize> {
        let len = wire_name_len(wire)?;
        let mut lower = [0u8; 256];
        let mut starts = [0u8; 128];
        let mut n = 0;
        let mut pos = 0;
        while wire[pos] != 0 {
            starts[n] = pos as u8;
            n += 1;
            pos += 1 + wire[pos] as usize;
        }
        for (d, s) in lower[..len].iter_mut().zip(&wire[..len]) {
            *d = s.to_ascii_lowercase();
        }
        self.wire_name(&lower[..len], &wire[..len], &starts[..n]);
        Some(len)
    }

    /// Finishes the answer with the given rcode and AA bit.
    pub fn finish(self, rcode: u8, authoritative: bool) -> Result<AnswerBuf, EncodeError> {
        let mut data = Vec::new();
        self.finish_into(rcode, authoritative, &mut data)?;
        Ok(AnswerBuf(data.into()))
    }

    /// [`Writer::finish`], appending the answer's bytes to `data`.
    fn finish_into(
        mut self,
        rcode: u8,
        authoritative: bool,
        data: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if self.sets.last().map(|s| s.counts) != Some(self.counts) {
            self.mark(true)?;
        }
        // The last set ends the body (a set adds records): kept as a flag, not a cut point.
        let last = self.sets.pop().expect("marked above");
        debug_assert_eq!(last.end as usize, self.buf.len() - self.body_start);
        let flags = if authoritative { FLAG_AA } else { 0 }
            | if last.required { FLAG_LAST_REQUIRED } else { 0 };
        let body = &self.buf[self.body_start..];
        data.reserve(
            HEAD + body.len()
                + 2 * (self.relocs.len() + self.qname_ptrs.len())
                + SET_LEN * self.sets.len(),
        );
        for n in [
            body.len(),
            self.relocs.len(),
            self.qname_ptrs.len(),
            self.sets.len(),
        ] {
            data.extend_from_slice(&(n as u16).to_le_bytes());
        }
        for c in self.counts {
            data.extend_from_slice(&c.to_le_bytes());
        }
        data.push(rcode);
        data.push(flags);
        data.extend_from_slice(&(self.model_qname_len() as u16).to_le_bytes());
        data.extend_from_slice(body);
        for r in self.relocs.iter().chain(&self.qname_ptrs) {
            data.extend_from_slice(&r.to_le_bytes());
        }
        for s in &self.sets {
            for v in [s.end, s.counts[0], s.counts[1], s.counts[2]] {
                data.extend_from_slice(&v.to_le_bytes());
            }
            data.push(s.required as u8);
        }
        Ok(())
    }
}

/// The length of the uncompressed wire name `wire` starts with, if it starts with one
/// (labels of at most 63 octets, at most 255 octets in all, no pointer).
pub fn wire_name_len(wire: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let l = *wire.get(pos)? as usize;
        if l > 63 {
            return None;
        }
        pos += 1 + l;
        if pos > 255 {
            return None;
        }
        if l == 0 {
            return Some(pos);
        }
    }
}

/// Appends one A or AAAA record whose owner is the name at message offset `owner` (the
/// load-balanced path, which encodes per query).
pub fn address_record(out: &mut Vec<u8>, owner: u16, ttl: u32, addr: std::net::IpAddr) {
    out.extend_from_slice(&(0xC000 | owner).to_be_bytes());
    match addr {
        std::net::IpAddr::V4(a) => {
            out.extend_from_slice(&[0, 1, 0, 1]);
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&[0, 4]);
            out.extend_from_slice(&a.octets());
        }
        std::net::IpAddr::V6(a) => {
            out.extend_from_slice(&[0, 28, 0, 1]);
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&[0, 16]);
            out.extend_from_slice(&a.octets());
        }
    }
}

/// Lower-case wire form of a name given as labels (the key of every name table).
pub fn lower_wire(labels: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1);
    for l in labels {
        v.push(l.len() as u8);
        v.extend(l.iter().map(u8::to_ascii_lowercase));
    }
    v.push(0);
    v
}

/// Lower-case wire form of a name, written into `buf` (no allocation).
pub fn name_key_in<'b>(name: &Name, buf: &'b mut [u8; 256]) -> &'b [u8] {
    let mut starts = [0u8; 128];
    let (len, _) = lower_labels(name, buf, &mut starts);
    &buf[..len]
}

/// Lower-case wire form of a name.
pub fn name_key(name: &Name) -> Box<[u8]> {
    let mut buf = [0; 256];
    Box::from(name_key_in(name, &mut buf))
}

/// Renders a whole response for `qname` around an answer, as the responder does (tests).
#[cfg(test)]
pub(crate) fn render_for_test(ans: Answer<'_>, qname: &Name, qtype: u16) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    let mut q = Vec::new();
    for label in qname.iter() {
        q.push(label.len() as u8);
        q.extend_from_slice(label);
    }
    q.push(0);
    out.extend_from_slice(&q);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    let c = ans.counts();
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..8].copy_from_slice(&c[0].to_be_bytes());
    out[8..10].copy_from_slice(&c[1].to_be_bytes());
    out[10..12].copy_from_slice(&c[2].to_be_bytes());
    out[2] = 0x80 | if ans.authoritative() { 0x04 } else { 0 };
    out[3] = ans.rcode();
    ans.write_body(
        &mut out,
        ans.body().len(),
        q.len() as isize - ans.model_qname_len() as isize,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::{A, CNAME};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn wire(rdata: &RData) -> Vec<u8> {
        let mut out = Vec::new();
        crate::zone::wire::push_rdata(&mut out, rdata).unwrap();
        out
    }

    /// The answer at `*.wild.example.com.`: a CNAME to `t.wild.example.com.` and its A.
    fn wildcard_cname_answer() -> AnswerBuf {
        let mut w = Writer::for_key(&name_key(&n("*.wild.example.com.")));
        let target = wire(&RData::CNAME(CNAME(n("t.wild.example.com."))));
        w.rrset(
            Section::Answer,
            Owner::Qname,
            RecordType::CNAME,
            60,
            [&target[..]],
            true,
        )
        .unwrap();
        let a = wire(&RData::A(A::new(192, 0, 2, 1)));
        w.rrset(
            Section::Answer,
            Owner::Wire(&{
                let mut owner = Vec::new();
                crate::zone::push_name(&mut owner, &n("t.wild.example.com."));
                owner
            }),
            RecordType::A,
            60,
            [&a[..]],
            true,
        )
        .unwrap();
        w.finish(0, true).unwrap()
    }

    #[test]
    fn an_answer_moved_onto_a_name_after_the_question_decodes() {
        // The wildcard answer, placed after a CNAME to `x.y.wild.example.com.`.
        let t = n("t.wild.example.com.");
        let ans = wildcard_cname_answer();
        let ans = ans.answer();
        let wire = |s: &str| {
            let mut b = Vec::new();
            for l in n(s).iter() {
                b.push(l.len() as u8);
                b.extend_from_slice(l);
            }
            b.push(0);
            b
        };
        let mut out = vec![0, 1, 0x84, 0, 0, 1, 0, 3, 0, 0, 0, 0];
        out.extend_from_slice(&wire("q.example.org."));
        out.extend_from_slice(&[0, 1, 0, 1]);
        out.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let new_name = wire("x.y.wild.example.com.");
        out.extend_from_slice(&(new_name.len() as u16).to_be_bytes());
        let name_at = out.len();
        out.extend_from_slice(&new_name);
        assert!(ans.write_body_at(&mut out, ans.body().len(), name_at, new_name.len()));
        let m = hickory_proto::op::Message::from_vec(&out).unwrap();
        let names: Vec<String> = m.answers.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(
            names,
            [
                "q.example.org.",
                "x.y.wild.example.com.",
                "t.wild.example.com."
            ]
        );
        let RData::CNAME(c) = &m.answers[1].data else {
            panic!("{:?}", m.answers[1])
        };
        assert_eq!(c.0, t);
    }

    #[test]
    fn relocated_answer_decodes_for_longer_and_shorter_names() {
        let ans = wildcard_cname_answer();
        let ans = ans.answer();
        for q in [
            "abc.def.wild.example.com.",
            "x.wild.example.com.",
            "wild.example.com.",
        ] {
            let msg =
                hickory_proto::op::Message::from_vec(&render_for_test(ans, &n(q), 1)).unwrap();
            assert_eq!(msg.answers.len(), 2, "{q}");
            assert_eq!(msg.answers[0].name, n(q));
            assert_eq!(msg.answers[1].name, n("t.wild.example.com."), "{q}");
        }
    }

    #[test]
    fn rfc_1035_mailbox_names_are_compressed_and_newer_types_names_are_not() {
        // MINFO (type 14) and RP (type 17) with the same two names, kept as wire bytes
        // as the zone reader keeps them. RFC 3597 §4: MINFO's may be compressed, RP's not.
        let q = n("mi.example.com.");
        let names = b"\x02rm\x07example\x03com\x00\x02em\x07example\x03com\x00".to_vec();
        for (code, want) in [
            // "rm" + pointer to "example.com" in the question (offset 12 + 3), "em" + it.
            (14u16, b"\x02rm\xc0\x0f\x02em\xc0\x0f".to_vec()),
            (17, names.clone()),
        ] {
            let mut w = Writer::for_key(&name_key(&q));
            let rtype = RecordType::from(code);
            w.rrset(Section::Answer, Owner::Qname, rtype, 60, [&names[..]], true)
                .unwrap();
            let out = render_for_test(w.finish(0, true).unwrap().answer(), &q, code);
            let mut rdlength = (want.len() as u16).to_be_bytes().to_vec();
            rdlength.extend_from_slice(&want);
            assert!(out.ends_with(&rdlength), "type {code}: {out:02x?}");
        }
    }

    #[test]
    fn fit_never_splits_a_set() {
        let mut w = Writer::for_key(&name_key(&n("www.example.com.")));
        let rd: Vec<[u8; 4]> = (0..10).map(|i| [192, 0, 2, i]).collect();
        let rd = rd.iter().map(|a| &a[..]);
        w.rrset(Section::Answer, Owner::Qname, RecordType::A, 60, rd, true)
            .unwrap();
        let ans = w.finish(0, true).unwrap();
        let ans = ans.answer();
        let (end, counts, tc) = ans.fit(ans.body().len() - 1);
        assert_eq!((end, counts, tc), (0, [0, 0, 0], true));
        assert_eq!(
            ans.fit(ans.body().len()),
            (ans.body().len(), [10, 0, 0], false)
        );
    }
}
