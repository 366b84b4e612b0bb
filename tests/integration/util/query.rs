//! Queries, encoded by hand (so tests can also send broken ones): header bits, EDNS, ECS.

use super::*;

static NEXT_ID: AtomicU16 = AtomicU16::new(0x1000);

/// A query, encoded by hand by [`Query::to_wire`].
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub rd: bool,
    pub edns: Option<Edns>,
}

impl Query {
    /// An IN query with a fresh ID, RD clear, no EDNS.
    pub fn new(name: &str, qtype: RecordType) -> Self {
        Query {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            qtype: qtype.into(),
            qclass: 1,
            opcode: 0,
            rd: false,
            edns: None,
        }
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }

    pub fn rd(mut self, rd: bool) -> Self {
        self.rd = rd;
        self
    }

    pub fn qclass(mut self, qclass: u16) -> Self {
        self.qclass = qclass;
        self
    }

    pub fn opcode(mut self, opcode: u8) -> Self {
        self.opcode = opcode;
        self
    }

    pub fn edns(mut self, edns: Edns) -> Self {
        self.edns = Some(edns);
        self
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&self.id.to_be_bytes());
        b.push((self.opcode & 0x0f) << 3 | u8::from(self.rd));
        b.push(0);
        let arcount = u16::from(self.edns.is_some());
        for count in [1, 0, 0, arcount] {
            b.extend_from_slice(&count.to_be_bytes());
        }
        b.extend_from_slice(&encode_name(&self.name));
        b.extend_from_slice(&self.qtype.to_be_bytes());
        b.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(edns) = &self.edns {
            b.extend_from_slice(&edns.to_wire());
        }
        b
    }
}

/// The OPT pseudo-record of a query.
#[derive(Clone, Debug)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// CO, "Compact Answers OK" (RFC 9824), the flag after DO.
    pub compact_ok: bool,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Edns {
    pub fn new(payload: u16) -> Self {
        Edns {
            payload,
            version: 0,
            dnssec_ok: false,
            compact_ok: false,
            options: Vec::new(),
        }
    }

    pub fn version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }

    pub fn dnssec_ok(mut self, on: bool) -> Self {
        self.dnssec_ok = on;
        self
    }

    pub fn compact_ok(mut self, on: bool) -> Self {
        self.compact_ok = on;
        self
    }

    pub fn option(mut self, code: u16, data: Vec<u8>) -> Self {
        self.options.push((code, data));
        self
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut rdata = Vec::new();
        for (code, data) in &self.options {
            rdata.extend_from_slice(&code.to_be_bytes());
            rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
            rdata.extend_from_slice(data);
        }
        let mut b = vec![0]; // root owner
        b.extend_from_slice(&41u16.to_be_bytes());
        b.extend_from_slice(&self.payload.to_be_bytes());
        b.push(0); // extended rcode
        b.push(self.version);
        let flags =
            if self.dnssec_ok { 0x8000u16 } else { 0 } | if self.compact_ok { 0x4000 } else { 0 };
        b.extend_from_slice(&flags.to_be_bytes());
        b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        b.extend_from_slice(&rdata);
        b
    }
}

/// The EDNS option code of Client Subnet (RFC 7871).
pub const ECS: u16 = 8;
/// The EDNS option code of NSID (RFC 5001).
pub const NSID: u16 = 3;
/// The EDNS option code of Extended DNS Errors (RFC 8914).
pub const EDE: u16 = 15;

/// The raw data of an ECS option, exactly as given (so tests can break it).
pub fn ecs_option(family: u16, source: u8, scope: u8, address: &[u8]) -> Vec<u8> {
    let mut b = family.to_be_bytes().to_vec();
    b.push(source);
    b.push(scope);
    b.extend_from_slice(address);
    b
}

/// `"www.Example.com."` → wire labels, case kept.
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        assert!(label.len() < 64, "label too long: {label}");
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.push(0);
    b
}

/// A 12-byte header with the given fields, for hand-built malformed queries.
pub fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b
}
