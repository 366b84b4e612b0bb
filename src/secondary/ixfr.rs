//! A transfer stream's records → what the primary sent (RFC 5936 §2.2, RFC 1995 §4), and
//! IXFR differences applied to a copy. Pure: records in, a new copy or an error out; the
//! copy it was given is never changed, so a bad transfer leaves the old one in place.
//!
//! AXFR: the SOA, every record, the SOA again. IXFR: the SOA alone (up to date); the SOA,
//! then per change the old SOA, the records removed, the new SOA, the records added, and
//! the SOA to end; or, when the primary has no differences, the AXFR form.

use super::message::fields;
use super::timers::{SoaTimers, serial_lt};

const TYPE_SOA: u16 = 6;

/// A zone's records as pulled: the SOA apart, every other record once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneCopy {
    pub soa: Vec<u8>,
    pub records: Vec<Vec<u8>>,
}

impl ZoneCopy {
    pub fn timers(&self) -> SoaTimers {
        soa_timers(&self.soa).expect("a copy's SOA was checked when it was made")
    }
}

/// One change of an IXFR: from one serial to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from_serial: u32,
    pub to_soa: Vec<u8>,
    pub removed: Vec<Vec<u8>>,
    pub added: Vec<Vec<u8>>,
}

/// What a transfer brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// IXFR: our serial is current.
    UpToDate,
    /// The whole zone (AXFR, or IXFR in AXFR form).
    Full(ZoneCopy),
    /// IXFR differences, oldest first.
    Incremental(Vec<Change>),
}

/// Why the records of a transfer make no zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Bad {
    #[error("the transfer does not begin with the zone's SOA")]
    NoLeadingSoa,
    #[error("a SOA record cannot be read")]
    BadSoa,
    #[error("the transfer ended before its closing SOA")]
    Unterminated,
    #[error("records after the closing SOA")]
    Trailing,
    #[error("the differences start at serial {got}, not at ours ({ours})")]
    WrongStart { got: u32, ours: u32 },
    #[error("the differences do not follow on from each other (serial {from} after {to})")]
    Broken { from: u32, to: u32 },
    #[error("the differences remove a record the zone does not have")]
    MissingRecord,
    #[error("differences for a zone we have no copy of")]
    NoCopy,
    #[error("serial {got} is not newer than ours ({ours})")]
    NotNewer { got: u32, ours: u32 },
}

fn soa_timers(soa: &[u8]) -> Option<SoaTimers> {
    let (_, rtype, _, rdata) = fields(soa)?;
    (rtype == TYPE_SOA).then_some(())?;
    SoaTimers::from_rdata(rdata)
}

fn owner_is(record: &[u8], origin: &[u8]) -> bool {
    fields(record).is_some_and(|(o, _, _, _)| o.eq_ignore_ascii_case(origin))
}

fn is_soa(record: &[u8]) -> bool {
    fields(record).is_some_and(|(_, t, _, _)| t == TYPE_SOA)
}

/// Where the stream is.
#[derive(Debug)]
enum Mode {
    Start,
    /// After the first SOA; the next record tells AXFR form from differences.
    AfterFirst,
    Full,
    Removing(Change),
    Adding(Change),
    Done,
}

/// Takes a transfer's records one at a time and knows when the stream is complete.
#[derive(Debug)]
pub struct Collector {
    /// The zone's origin in wire form (case ignored).
    origin: Vec<u8>,
    /// Our serial, for an IXFR (`None` for AXFR).
    ours: Option<u32>,
    first: Option<Vec<u8>>,
    serial: u32,
    mode: Mode,
    records: Vec<Vec<u8>>,
    changes: Vec<Change>,
}

impl Collector {
    pub fn new(origin: &[u8], ixfr_from: Option<u32>) -> Collector {
        Collector {
            origin: origin.to_vec(),
            ours: ixfr_from,
            first: None,
            serial: 0,
            mode: Mode::Start,
            records: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub fn done(&self) -> bool {
        matches!(self.mode, Mode::Done)
    }

    /// The first message ended with the SOA alone: an IXFR's "up to date" (RFC 1995 §2).
    pub fn only_soa(&self) -> bool {
        matches!(self.mode, Mode::AfterFirst)
    }

    pub fn push(&mut self, record: Vec<u8>) -> Result<(), Bad> {
        let soa = is_soa(&record) && owner_is(&record, &self.origin);
        let serial = || soa_timers(&record).map(|t| t.serial).ok_or(Bad::BadSoa);
        match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::Start => {
                if !soa {
                    return Err(Bad::NoLeadingSoa);
                }
                self.serial = serial()?;
                self.first = Some(record);
                self.mode = Mode::AfterFirst;
            }
            Mode::AfterFirst if soa && self.ours.is_some() => {
                let from_serial = serial()?;
                self.mode = Mode::Removing(Change {
                    from_serial,
                    to_soa: Vec::new(),
                    removed: Vec::new(),
                    added: Vec::new(),
                });
            }
            // An AXFR of a zone with the SOA alone.
            Mode::AfterFirst | Mode::Full if soa => self.mode = Mode::Done,
            Mode::AfterFirst | Mode::Full => {
                self.records.push(record);
                self.mode = Mode::Full;
            }
            Mode::Removing(mut c) => {
                if soa {
                    serial()?;
                    c.to_soa = record;
                    self.mode = Mode::Adding(c);
                } else {
                    c.removed.push(record);
                    self.mode = Mode::Removing(c);
                }
            }
            Mode::Adding(mut c) => {
                if soa {
                    let s = serial()?;
                    self.changes.push(c);
                    self.mode = if s == self.serial {
                        Mode::Done
                    } else {
                        Mode::Removing(Change {
                            from_serial: s,
                            to_soa: Vec::new(),
                            removed: Vec::new(),
                            added: Vec::new(),
                        })
                    };
                } else {
                    c.added.push(record);
                    self.mode = Mode::Adding(c);
                }
            }
            Mode::Done => return Err(Bad::Trailing),
        }
        Ok(())
    }

    /// What the complete stream brought; `up_to_date` when the stream ended after the
    /// first SOA (an IXFR answer with our serial or older).
    pub fn finish(self) -> Result<Pulled, Bad> {
        match self.mode {
            Mode::AfterFirst if self.ours.is_some_and(|o| !serial_lt(o, self.serial)) => {
                Ok(Pulled::UpToDate)
            }
            Mode::Done if !self.changes.is_empty() => Ok(Pulled::Incremental(self.changes)),
            Mode::Done => {
                let mut records = self.records;
                records.sort_unstable();
                records.dedup();
                Ok(Pulled::Full(ZoneCopy {
                    soa: self.first.expect("a done stream began with the SOA"),
                    records,
                }))
            }
            _ => Err(Bad::Unterminated),
        }
    }
}

/// A record as compared for removal: owner without case, type, class and RDATA, not
/// the TTL (as BIND, Knot and NSD match the records an IXFR removes).
fn same(a: &[u8], b: &[u8]) -> bool {
    match (fields(a), fields(b)) {
        (Some((oa, ta, _, da)), Some((ob, tb, _, db))) => {
            let class = |r: &[u8], o: &[u8]| [r[o.len() + 2], r[o.len() + 3]];
            oa.eq_ignore_ascii_case(ob) && ta == tb && class(a, oa) == class(b, ob) && da == db
        }
        _ => a == b,
    }
}

/// `copy` with `changes` applied, oldest first; the copy itself is left as it was.
pub fn apply(copy: &ZoneCopy, changes: &[Change]) -> Result<ZoneCopy, Bad> {
    let mut serial = copy.timers().serial;
    if let Some(c) = changes.first()
        && c.from_serial != serial
    {
        return Err(Bad::WrongStart {
            got: c.from_serial,
            ours: serial,
        });
    }
    let mut records = copy.records.clone();
    let mut soa = copy.soa.clone();
    for c in changes {
        if c.from_serial != serial {
            return Err(Bad::Broken {
                from: c.from_serial,
                to: serial,
            });
        }
        for r in &c.removed {
            let at = records
                .iter()
                .position(|x| same(x, r))
                .ok_or(Bad::MissingRecord)?;
            records.swap_remove(at);
        }
        for r in &c.added {
            if let Some(at) = records.iter().position(|x| same(x, r)) {
                records[at] = r.clone();
            } else {
                records.push(r.clone());
            }
        }
        soa = c.to_soa.clone();
        serial = soa_timers(&soa).ok_or(Bad::BadSoa)?.serial;
    }
    records.sort_unstable();
    Ok(ZoneCopy { soa, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::push_record;
    use hickory_proto::rr::Name;

    const ORIGIN: &[u8] = b"\x07example\x03com\x00";

    fn soa(serial: u32) -> Vec<u8> {
        let mut rdata =
            b"\x02ns\x07example\x03com\x00\x0ahostmaster\x07example\x03com\x00".to_vec();
        for v in [serial, 60, 10, 300, 5] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        record("example.com.", 6, &rdata)
    }

    fn record(owner: &str, rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_record(
            &mut out,
            &Name::from_ascii(owner).unwrap(),
            rtype,
            3600,
            rdata,
        );
        out
    }

    fn a(owner: &str, last: u8) -> Vec<u8> {
        record(owner, 1, &[192, 0, 2, last])
    }

    fn collect(ixfr_from: Option<u32>, records: &[Vec<u8>]) -> Result<Pulled, Bad> {
        let mut c = Collector::new(ORIGIN, ixfr_from);
        for r in records {
            c.push(r.clone())?;
        }
        c.finish()
    }

    fn copy(serial: u32, records: &[Vec<u8>]) -> ZoneCopy {
        let mut records = records.to_vec();
        records.sort();
        ZoneCopy {
            soa: soa(serial),
            records,
        }
    }

    #[test]
    fn an_axfr_ends_at_the_second_soa() {
        let www = a("www.example.com.", 1);
        let mail = a("mail.example.com.", 2);
        let got = collect(None, &[soa(5), www.clone(), mail.clone(), soa(5)]);
        assert_eq!(got, Ok(Pulled::Full(copy(5, &[www.clone(), mail]))));
        assert_eq!(
            collect(None, &[www.clone(), soa(5)]),
            Err(Bad::NoLeadingSoa)
        );
        assert_eq!(
            collect(None, &[soa(5), www.clone()]),
            Err(Bad::Unterminated)
        );
        assert_eq!(
            collect(None, &[soa(5), www.clone(), soa(5), www]),
            Err(Bad::Trailing)
        );
        // The SOA of another name does not end it, and is no leading SOA.
        let other = {
            let mut r = soa(5);
            r.splice(0..0, b"\x03sub".iter().copied());
            r
        };
        assert_eq!(collect(None, &[other, soa(5)]), Err(Bad::NoLeadingSoa));
    }

    #[test]
    fn an_ixfr_is_up_to_date_differences_or_the_whole_zone() {
        // The SOA alone, at our serial or older: up to date.
        assert_eq!(collect(Some(5), &[soa(5)]), Ok(Pulled::UpToDate));
        assert_eq!(collect(Some(6), &[soa(5)]), Ok(Pulled::UpToDate));
        // The SOA alone with a newer serial cannot be used.
        assert_eq!(collect(Some(4), &[soa(5)]), Err(Bad::Unterminated));
        // Two changes: 5 → 6 removes www, adds new; 6 → 7 adds more.
        let www = a("www.example.com.", 1);
        let new = a("new.example.com.", 3);
        let more = a("more.example.com.", 4);
        let stream = [
            soa(7),
            soa(5),
            www.clone(),
            soa(6),
            new.clone(),
            soa(6),
            soa(7),
            more.clone(),
            soa(7),
        ];
        let Ok(Pulled::Incremental(changes)) = collect(Some(5), &stream) else {
            panic!("{:?}", collect(Some(5), &stream))
        };
        assert_eq!(changes.len(), 2);
        assert_eq!((changes[0].from_serial, changes[1].from_serial), (5, 6));
        assert_eq!(changes[0].removed, std::slice::from_ref(&www));
        assert_eq!(changes[1].added, std::slice::from_ref(&more));
        // In AXFR form.
        let full = collect(Some(5), &[soa(7), new.clone(), soa(7)]);
        assert_eq!(full, Ok(Pulled::Full(copy(7, std::slice::from_ref(&new)))));
        // Cut short inside the differences.
        assert_eq!(collect(Some(5), &stream[..6]), Err(Bad::Unterminated));
    }

    #[test]
    fn differences_apply_in_order_and_bad_ones_leave_the_copy() {
        let www = a("www.example.com.", 1);
        let mail = a("mail.example.com.", 2);
        let new = a("new.example.com.", 3);
        let old = copy(5, &[www.clone(), mail.clone()]);
        let change = |from: u32, to: u32, removed: &[Vec<u8>], added: &[Vec<u8>]| Change {
            from_serial: from,
            to_soa: soa(to),
            removed: removed.to_vec(),
            added: added.to_vec(),
        };
        // The removal matches without case and TTL.
        let mut www_upper = record("WWW.Example.COM.", 1, &[192, 0, 2, 1]);
        www_upper[21..25].copy_from_slice(&60u32.to_be_bytes());
        let changes = [
            change(5, 6, &[www_upper], std::slice::from_ref(&new)),
            change(6, 7, &[], &[]),
        ];
        assert_eq!(
            apply(&old, &changes),
            Ok(copy(7, &[mail.clone(), new.clone()]))
        );
        assert_eq!(
            apply(&old, &[change(4, 6, &[], &[])]),
            Err(Bad::WrongStart { got: 4, ours: 5 })
        );
        assert_eq!(
            apply(&old, &[change(5, 6, &[], &[]), change(7, 8, &[], &[])]),
            Err(Bad::Broken { from: 7, to: 6 })
        );
        assert_eq!(
            apply(&old, &[change(5, 6, std::slice::from_ref(&new), &[])]),
            Err(Bad::MissingRecord)
        );
        // A record added twice is there once.
        let twice = apply(&old, &[change(5, 6, &[], std::slice::from_ref(&www))]).unwrap();
        assert_eq!(twice.records.len(), 2);
        assert_eq!(old, copy(5, &[www, mail]), "the old copy is unchanged");
    }
}
