//! DNSSEC: zone keys, the signing core and the apex records that publish the keys.
//!
//! `key` reads and writes key files (BIND's `K<zone>+<alg>+<tag>.key`/`.private`) and holds
//! a zone's keys; `canon` gives RFC 4034 §6's canonical names, RDATA and order; `sign`
//! builds and verifies RRSIGs (`sign_rrset`, pure: the caller gives the times);
//! `apex` yields the DNSKEY, CDS and CDNSKEY RRsets and the DS for the parent;
//! `denial` gives the NSEC and response code of compact denial of existence (RFC 9824);
//! `cache` keeps the signatures of load-balanced answers, bounded, by distinct RRset;
//! `zone` is a zone as `serve` signs it (names, static signatures, re-signing); `load`
//! finds the zones with keys when a snapshot is built; `respond` is the signing pass
//! over a rendered response (RRSIGs, NSECs, DS, DNSKEY, size limit).
//! Nothing here opens sockets or reads the clock; only `key` and `load` touch files.

pub mod apex;
pub mod cache;
pub mod canon;
pub mod denial;
pub mod key;
pub mod load;
pub mod respond;
pub mod sign;
pub mod zone;

pub use apex::{ApexRecords, apex_records, ds_rdata};
pub use cache::{RrsetKey, SigCache};
pub use denial::{Denial, NameState, Nsec, deny};
pub use key::{Algorithm, KeyError, KeyTiming, ZoneKey, generate, load_zone_keys, write_key};
pub use load::{Signing, load_signing};
pub use sign::{SignatureTimes, Validity, sign_rrset, verify_rrsig};

/// What the pure signing core refuses. `Copy` and free of strings, so the query path can
/// carry it; each variant says which part of the input is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnssecError {
    /// A wire-format name that does not parse (uncompressed, labels ≤ 63, ≤ 255 octets).
    #[error("bad domain name: {0}")]
    BadName(&'static str),
    /// An RDATA whose embedded names do not parse (type, why).
    #[error("bad RDATA of type {0}: {1}")]
    BadRdata(u16, &'static str),
    /// An RRset with no record, or more than a message can carry.
    #[error("an RRset must hold 1 to 65535 records")]
    RrsetSize,
    /// The owner is not at or below the key's zone.
    #[error("the owner is outside the key's zone")]
    OutsideZone,
}
