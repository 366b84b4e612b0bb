//! One generated query (`Probe`), sent over UDP or TCP, and its response normalised for
//! comparison (`Normal`): the header bits, the question as sent back, each section as a
//! sorted list of records, and the OPT record apart.
//!
//! Normalising drops only what carries no meaning: the order of records within a section
//! (RFC 2181 §5: an RRset has no order) and the case of domain names (RFC 4343).

use crate::util::{Edns, Query, REPLY_TIMEOUT, TcpClient, UdpClient};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use std::fmt;
use std::net::SocketAddr;

/// One generated query.
#[derive(Clone, Debug)]
pub struct Probe {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub rd: bool,
    pub ad: bool,
    pub cd: bool,
    pub edns: Option<ProbeEdns>,
    pub tcp: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct ProbeEdns {
    pub payload: u16,
    pub dnssec_ok: bool,
    pub version: u8,
}

impl Probe {
    fn to_wire(&self, id: u16) -> Vec<u8> {
        let mut q = Query::new(&self.name, RecordType::from(self.qtype))
            .id(id)
            .rd(self.rd)
            .qclass(self.qclass);
        if let Some(e) = self.edns {
            q = q.edns(
                Edns::new(e.payload)
                    .dnssec_ok(e.dnssec_ok)
                    .version(e.version),
            );
        }
        let mut wire = q.to_wire();
        // AD and CD: the header bits Query has no setter for.
        wire[3] |= (u8::from(self.ad) << 5) | (u8::from(self.cd) << 4);
        wire
    }

    /// Sends the query to `server` (over `udp`, or a fresh TCP connection) and reads the
    /// response with ID `id`.
    pub fn ask(&self, server: SocketAddr, udp: &UdpClient, id: u16) -> Normal {
        let wire = self.to_wire(id);
        if self.tcp {
            let Ok(mut tcp) = TcpClient::connect(server) else {
                return Normal::Silent;
            };
            if tcp.send(&wire).is_err() {
                return Normal::Silent;
            }
            return Normal::of(tcp.recv().ok());
        }
        udp.send(&wire);
        let (reply, _) = udp.recv_id(id, REPLY_TIMEOUT);
        Normal::of(reply)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.qclass {
            1 => "IN".to_string(),
            3 => "CH".to_string(),
            255 => "ANY".to_string(),
            c => format!("CLASS{c}"),
        };
        write!(f, "{} {class} {}", self.name, type_name(self.qtype))?;
        for (on, flag) in [(self.rd, "rd"), (self.ad, "ad"), (self.cd, "cd")] {
            if on {
                write!(f, " +{flag}")?;
            }
        }
        match self.edns {
            None => write!(f, " noedns")?,
            Some(e) => {
                write!(f, " edns={}", e.payload)?;
                if e.dnssec_ok {
                    write!(f, " +do")?;
                }
                if e.version != 0 {
                    write!(f, " ednsversion={}", e.version)?;
                }
            }
        }
        write!(f, " {}", if self.tcp { "tcp" } else { "udp" })
    }
}

/// `A`, `TXT`, ..., or `TYPE65280` where hickory has no name.
pub fn type_name(code: u16) -> String {
    match RecordType::from(code) {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        known => known.to_string(),
    }
}

/// A response, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Normal {
    /// No response within [`REPLY_TIMEOUT`] (or the TCP connection failed).
    Silent,
    /// Not a DNS message hickory-proto can read.
    Unreadable(String),
    Answer(Box<Answer>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// With the OPT record's extended bits.
    pub rcode: u16,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub ad: bool,
    pub cd: bool,
    /// As sent back, case kept.
    pub question: Vec<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// Without the OPT record.
    pub additional: Vec<Rr>,
    pub edns: Option<EdnsView>,
}

/// The OPT record of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnsView {
    pub version: u8,
    pub dnssec_ok: bool,
    pub payload: u16,
    /// `code:hexdata`, sorted.
    pub options: Vec<String>,
}

/// One record: owner and domain names in the data lower-cased, data as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    pub owner: String,
    pub rtype: u16,
    pub ttl: u32,
    pub class: String,
    pub data: String,
}

impl Rr {
    fn of(r: &Record) -> Rr {
        let rtype = r.record_type();
        let data = match &r.data {
            // hickory has no DNAME type: its data is the target's wire form.
            RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
                let mut decoder = BinDecoder::new(&rdata.anything);
                Name::read(&mut decoder)
                    .map(|n| n.to_ascii())
                    .unwrap_or_else(|_| format!("\\# {}", hex(&rdata.anything)))
            }
            other => other.to_string(),
        };
        // Types whose data is domain names and numbers only: lower-casing changes the
        // names alone.
        use RecordType::*;
        let data = if matches!(rtype, NS | CNAME | PTR | DNAME | MX | SRV | SOA) {
            data.to_ascii_lowercase()
        } else {
            data
        };
        Rr {
            owner: r.name.to_ascii().to_ascii_lowercase(),
            rtype: u16::from(rtype),
            ttl: r.ttl,
            class: r.dns_class.to_string(),
            data,
        }
    }

    pub fn is(&self, rtype: RecordType) -> bool {
        self.rtype == u16::from(rtype)
    }
}

impl fmt::Display for Rr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Rr {
            owner,
            rtype,
            ttl,
            class,
            data,
        } = self;
        write!(f, "{owner} {ttl} {class} {} {data}", type_name(*rtype))
    }
}

fn section(records: &[Record]) -> Vec<Rr> {
    let mut rrs: Vec<Rr> = records.iter().map(Rr::of).collect();
    rrs.sort();
    rrs
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Normal {
    pub fn of(bytes: Option<Vec<u8>>) -> Normal {
        let Some(bytes) = bytes else {
            return Normal::Silent;
        };
        let m = match Message::from_vec(&bytes) {
            Ok(m) => m,
            Err(e) => return Normal::Unreadable(format!("{e}; bytes {bytes:02x?}")),
        };
        let h = &m.metadata;
        let edns = m.edns.as_ref().map(|e| {
            let mut options: Vec<String> = e
                .options()
                .options
                .iter()
                .map(|(code, option)| {
                    let data = Vec::<u8>::try_from(option).unwrap_or_default();
                    format!("{}:{}", u16::from(*code), hex(&data))
                })
                .collect();
            options.sort();
            EdnsView {
                version: e.version(),
                dnssec_ok: e.flags().dnssec_ok,
                payload: e.max_payload(),
                options,
            }
        });
        let question = m
            .queries
            .iter()
            .map(|q| {
                let qtype = type_name(u16::from(q.query_type()));
                format!("{} {} {qtype}", q.name(), q.query_class())
            })
            .collect();
        Normal::Answer(Box::new(Answer {
            rcode: u16::from(h.response_code),
            aa: h.authoritative,
            tc: h.truncation,
            rd: h.recursion_desired,
            ra: h.recursion_available,
            ad: h.authentic_data,
            cd: h.checking_disabled,
            question,
            answer: section(&m.answers),
            authority: section(&m.authorities),
            additional: section(&m.additionals),
            edns,
        }))
    }
}

impl fmt::Display for Normal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Normal::Silent => write!(f, "    (no response)"),
            Normal::Unreadable(e) => write!(f, "    (unreadable: {e})"),
            Normal::Answer(a) => a.fmt(f),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<&str> = [
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
            (self.ad, "ad"),
            (self.cd, "cd"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        write!(f, "    rcode {} flags [{}]", self.rcode, flags.join(" "))?;
        match &self.edns {
            None => write!(f, " noedns")?,
            Some(e) => write!(
                f,
                " edns version {} payload {} do {} options {:?}",
                e.version, e.payload, e.dnssec_ok, e.options
            )?,
        }
        for q in &self.question {
            write!(f, "\n    question {q}")?;
        }
        for (title, records) in [
            ("answer", &self.answer),
            ("authority", &self.authority),
            ("additional", &self.additional),
        ] {
            for r in records {
                write!(f, "\n    {title} {r}")?;
            }
        }
        Ok(())
    }
}
