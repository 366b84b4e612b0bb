//! A secondary zone's copy in `state_dir/secondary/`: `<origin>zone`, a master file of the
//! pulled records (RFC 3597 generic form, so every type reads back exactly), and
//! `<origin>timers`, its serial, last refresh and expiry (seconds since the epoch).
//!
//! Both are written atomically (a temporary file, fsync, rename, fsync of the directory),
//! the zone before its timers, so a crash leaves the old copy or the new one. The snapshot
//! loads the zone file with the master-file reader like any zone (`snapshot.rs`); this
//! module reads it back only to apply IXFR differences to it.

use super::ixfr::ZoneCopy;
use hickory_proto::rr::Name;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `<origin>timers` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub serial: u32,
    pub refreshed: u64,
    pub expires: u64,
}

/// The directory of the copies.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("secondary")
}

/// The file name stem of a zone: its origin with a final dot, anything but letters,
/// digits, `-`, `_` and `.` written `%XX`.
fn stem(origin: &Name) -> String {
    let mut out = String::new();
    for label in origin.iter() {
        for &b in label {
            match b {
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(b as char),
                b'A'..=b'Z' => out.push(b.to_ascii_lowercase() as char),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out.push('.');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

pub fn zone_file(state_dir: &Path, origin: &Name) -> PathBuf {
    dir(state_dir).join(format!("{}zone", stem(origin)))
}

fn timers_file(state_dir: &Path, origin: &Name) -> PathBuf {
    dir(state_dir).join(format!("{}timers", stem(origin)))
}

/// The saved timers of a zone's copy; `None` when there is no copy (or it cannot be read).
pub fn saved(state_dir: &Path, origin: &Name) -> Option<Saved> {
    let text = std::fs::read_to_string(timers_file(state_dir, origin)).ok()?;
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let saved = Saved {
        serial: u32::try_from(value("serial")?).ok()?,
        refreshed: value("refreshed")?,
        expires: value("expires")?,
    };
    zone_file(state_dir, origin).is_file().then_some(saved)
}

/// Writes `contents` to `path` atomically.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Saves a new copy of the zone, then its timers.
pub fn save_copy(
    state_dir: &Path,
    origin: &Name,
    copy: &ZoneCopy,
    saved: Saved,
) -> std::io::Result<()> {
    write_atomic(
        &zone_file(state_dir, origin),
        master_text(origin, copy).as_bytes(),
    )?;
    save_timers(state_dir, origin, saved)
}

/// Saves the timers alone (a refresh that found the copy current).
pub fn save_timers(state_dir: &Path, origin: &Name, saved: Saved) -> std::io::Result<()> {
    let text = format!(
        "serial {}\nrefreshed {}\nexpires {}\n",
        saved.serial, saved.refreshed, saved.expires
    );
    write_atomic(&timers_file(state_dir, origin), text.as_bytes())
}

/// The copy as a master file: the SOA first, one record per line in generic form.
pub fn master_text(origin: &Name, copy: &ZoneCopy) -> String {
    let mut out = format!(
        "; Meridian's copy of the secondary zone {origin}, serial {}, as pulled from its primary.\n\
         ; Rewritten after every transfer; edits are lost.\n",
        copy.timers().serial
    );
    for r in std::iter::once(&copy.soa).chain(&copy.records) {
        line(&mut out, r);
    }
    out
}

fn line(out: &mut String, record: &[u8]) {
    use std::fmt::Write;
    let Some((owner, rtype, ttl, rdata)) = super::message::fields(record) else {
        return;
    };
    owner_text(out, owner);
    let _ = write!(out, " {ttl} IN TYPE{rtype} \\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        for b in rdata {
            let _ = write!(out, "{b:02x}");
        }
    }
    out.push('\n');
}

/// A wire name in presentation form, every octet but letters, digits, `-`, `_` and `*`
/// escaped as `\DDD`.
fn owner_text(out: &mut String, wire: &[u8]) {
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        for &b in &wire[pos + 1..pos + 1 + len as usize] {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*' {
                out.push(b as char);
            } else {
                out.push_str(&format!("\\{b:03}"));
            }
        }
        out.push('.');
        pos += 1 + len as usize;
    }
    if pos == 0 {
        out.push('.');
    }
}

/// Reads back a copy written by [`master_text`]; `None` when the file is not one.
pub fn load_copy(state_dir: &Path, origin: &Name) -> Option<ZoneCopy> {
    let text = std::fs::read_to_string(zone_file(state_dir, origin)).ok()?;
    let mut records = Vec::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.is_empty())
    {
        records.push(parse_line(l)?);
    }
    let mut records = records.into_iter();
    let soa = records.next()?;
    let copy = ZoneCopy {
        soa,
        records: records.collect(),
    };
    super::timers::SoaTimers::from_rdata(super::message::fields(&copy.soa)?.3)?;
    Some(copy)
}

fn parse_line(l: &str) -> Option<Vec<u8>> {
    let mut f = l.split_whitespace();
    let owner = owner_wire(f.next()?)?;
    let ttl: u32 = f.next()?.parse().ok()?;
    (f.next()? == "IN").then_some(())?;
    let rtype: u16 = f.next()?.strip_prefix("TYPE")?.parse().ok()?;
    (f.next()? == "\\#").then_some(())?;
    let len: usize = f.next()?.parse().ok()?;
    let hex = f.next().unwrap_or("");
    if hex.len() != 2 * len || f.next().is_some() {
        return None;
    }
    let rdata: Option<Vec<u8>> = (0..len)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let rdata = rdata?;
    let mut out = owner;
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    Some(out)
}

/// A name written by [`owner_text`] back to wire form.
fn owner_wire(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if text == "." {
        return Some(vec![0]);
    }
    let bytes = text.as_bytes();
    let mut label = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let d = text.get(i + 1..i + 4)?.parse::<u8>().ok()?;
                label.push(d);
                i += 4;
            }
            b'.' => {
                out.push(
                    u8::try_from(label.len())
                        .ok()
                        .filter(|&l| l > 0 && l < 64)?,
                );
                out.append(&mut label);
                i += 1;
            }
            b => {
                label.push(b);
                i += 1;
            }
        }
    }
    label.is_empty().then_some(())?;
    out.push(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::push_record;

    fn copy() -> ZoneCopy {
        let origin = Name::from_ascii("example.com.").unwrap();
        let mut soa = Vec::new();
        let mut rdata = b"\x02ns\x07example\x03com\x00\x00".to_vec();
        for v in [9u32, 60, 10, 300, 5] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        push_record(&mut soa, &origin, 6, 3600, &rdata);
        let mut odd = Vec::new();
        // A label with a dot, a space and a backslash in it; an empty RDATA.
        odd.extend_from_slice(
            b"\x05a.b \\\x07example\x03com\x00\x00\x0a\x00\x01\x00\x00\x00\x3c\x00\x00",
        );
        let mut www = Vec::new();
        push_record(
            &mut www,
            &Name::from_ascii("*.WWW.example.com.").unwrap(),
            1,
            60,
            &[192, 0, 2, 1],
        );
        ZoneCopy {
            soa,
            records: vec![odd, www],
        }
    }

    #[test]
    fn a_copy_reads_back_exactly_and_through_the_master_reader() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::from_ascii("example.com.").unwrap();
        assert_eq!(saved(dir.path(), &origin), None);
        let saved_timers = Saved {
            serial: 9,
            refreshed: 1000,
            expires: 1300,
        };
        save_copy(dir.path(), &origin, &copy(), saved_timers).unwrap();
        assert_eq!(saved(dir.path(), &origin), Some(saved_timers));
        assert_eq!(load_copy(dir.path(), &origin), Some(copy()));
        let path = zone_file(dir.path(), &origin);
        assert!(path.ends_with("secondary/example.com.zone"), "{path:?}");
        let records = crate::zone::master::parse_file(&path, &origin).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].name.to_ascii(), "*.WWW.example.com.");
        assert_eq!(records[2].rdata.to_string(), "192.0.2.1");
        assert_eq!(records[1].name.num_labels(), 3);
        // A timers-only save keeps the zone.
        let later = Saved {
            refreshed: 1060,
            expires: 1360,
            ..saved_timers
        };
        save_timers(dir.path(), &origin, later).unwrap();
        assert_eq!(saved(dir.path(), &origin), Some(later));
        assert_eq!(load_copy(dir.path(), &origin), Some(copy()));
        assert!(!dir.path().join("secondary/example.com.tmp").exists());
    }

    #[test]
    fn odd_origins_make_safe_file_names() {
        let n = Name::from_labels([b"Ex/am.ple".as_slice(), b"com"]).unwrap();
        assert_eq!(stem(&n), "ex%2Fam%2Eple.com.");
        assert_eq!(stem(&Name::root()), ".");
    }
}
