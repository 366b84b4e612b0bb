//! Responses, decoded by hand: header bits, section counts and the OPT record as they are
//! on the wire, each response also cross-checked with hickory-proto's parser.

use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// As on the wire, case kept, with the trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// NS, CNAME, PTR.
    Name(String),
    Mx(u16, String),
    Soa(Soa),
    Txt(Vec<Vec<u8>>),
    Other(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// As on the wire, case kept, with the trailing dot.
    pub name: String,
    pub rtype: RecordType,
    pub class: u16,
    pub ttl: u32,
    pub data: Rdata,
}

impl Record {
    /// `"www.example.com. 3600 A 192.0.2.10"`, names lower-cased.
    pub fn text(&self) -> String {
        let class = if self.class == 1 {
            String::new()
        } else {
            format!("CLASS{} ", self.class)
        };
        let data = match &self.data {
            Rdata::A(a) => a.to_string(),
            Rdata::Aaaa(a) => a.to_string(),
            Rdata::Name(n) => n.to_ascii_lowercase(),
            Rdata::Mx(p, n) => format!("{p} {}", n.to_ascii_lowercase()),
            Rdata::Soa(s) => format!(
                "{} {} {} {} {} {} {}",
                s.mname.to_ascii_lowercase(),
                s.rname.to_ascii_lowercase(),
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum
            ),
            Rdata::Txt(strings) => strings
                .iter()
                .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                .collect::<Vec<_>>()
                .join(" "),
            Rdata::Other(b) => format!("\\# {} {b:02x?}", b.len()),
        };
        format!(
            "{} {} {class}{} {data}",
            self.name.to_ascii_lowercase(),
            self.ttl,
            self.rtype
        )
    }

    pub fn is(&self, name: &str, rtype: RecordType) -> bool {
        self.rtype == rtype && self.name.eq_ignore_ascii_case(name)
    }
}

/// The OPT pseudo-record of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub payload: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Opt {
    pub fn option(&self, code: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }
}

/// A response as it was on the wire.
#[derive(Clone, Debug)]
pub struct Response {
    pub bytes: Vec<u8>,
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    /// The 4 header bits; see [`Response::rcode`] for the full code.
    pub header_rcode: u8,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT as written in the header.
    pub counts: [u16; 4],
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// The additional section without the OPT record.
    pub additional: Vec<Record>,
    pub opt: Option<Opt>,
}

impl Response {
    /// Decodes a whole response; the section counts must match the records present and
    /// no bytes may follow the last one. hickory-proto must accept it too.
    pub fn parse(bytes: &[u8]) -> Result<Response, String> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        let mut questions = Vec::new();
        for _ in 0..counts[0] {
            questions.push(Question {
                name: r.name()?,
                qtype: r.u16()?,
                qclass: r.u16()?,
            });
        }
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        let mut opt = None;
        for (i, section) in sections.iter_mut().enumerate() {
            for _ in 0..counts[i + 1] {
                match r.record()? {
                    Parsed::Record(rec) => section.push(rec),
                    Parsed::Opt(o) if i == 2 && opt.is_none() => opt = Some(o),
                    Parsed::Opt(_) => return Err("misplaced or second OPT record".into()),
                }
            }
        }
        if r.pos != bytes.len() {
            return Err(format!(
                "{} bytes after the last record",
                bytes.len() - r.pos
            ));
        }
        if let Err(e) = Message::from_vec(bytes) {
            return Err(format!(
                "hickory-proto rejects the response: {e}; bytes {bytes:02x?}"
            ));
        }
        let [answers, authority, additional] = sections;
        Ok(Response {
            bytes: bytes.to_vec(),
            id,
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0f) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            header_rcode: (flags & 0x000f) as u8,
            counts,
            questions,
            answers,
            authority,
            additional,
            opt,
        })
    }

    /// The full 12-bit rcode: header bits plus the OPT's extended bits.
    pub fn rcode(&self) -> u16 {
        let high = self.opt.as_ref().map_or(0, |o| o.ext_rcode as u16);
        high << 4 | self.header_rcode as u16
    }

    pub fn answer_texts(&self) -> Vec<String> {
        self.answers.iter().map(Record::text).collect()
    }

    pub fn authority_texts(&self) -> Vec<String> {
        self.authority.iter().map(Record::text).collect()
    }

    pub fn additional_texts(&self) -> Vec<String> {
        self.additional.iter().map(Record::text).collect()
    }

    /// Checks what every response must copy from its query: ID, QR set, opcode, RD, and
    /// the question exactly as sent (case included).
    pub fn assert_echoes(&self, q: &Query) {
        assert_eq!(self.id, q.id, "ID\n{self}");
        assert!(self.qr, "QR must be set\n{self}");
        assert_eq!(self.opcode, q.opcode, "opcode\n{self}");
        assert_eq!(self.rd, q.rd, "RD must be copied\n{self}");
        let expected = Question {
            name: wire_name(&q.name),
            qtype: q.qtype,
            qclass: q.qclass,
        };
        assert_eq!(self.questions, vec![expected], "question\n{self}");
    }

    /// An authoritative answer: NOERROR, AA, query echoed.
    pub fn assert_answer(&self, q: &Query) {
        self.assert_echoes(q);
        assert_eq!(self.rcode(), rcode::NOERROR, "rcode\n{self}");
        assert!(self.aa, "AA must be set\n{self}");
        assert!(!self.tc, "TC\n{self}");
    }
}

/// The name as [`Response::parse`] prints it: with one trailing dot.
pub fn wire_name(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// `texts` sorted, for comparing RRsets whose order is free.
pub fn sorted<S: AsRef<str>>(texts: &[S]) -> Vec<String> {
    let mut v: Vec<String> = texts.iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<&str> = [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        writeln!(
            f,
            ";; id {} opcode {} rcode {} flags [{}] counts {:?}, {} bytes",
            self.id,
            self.opcode,
            self.rcode(),
            flags.join(" "),
            self.counts,
            self.bytes.len()
        )?;
        if let Some(o) = &self.opt {
            writeln!(
                f,
                ";; OPT payload {} version {} ext_rcode {} do {} options {:02x?}",
                o.payload, o.version, o.ext_rcode, o.dnssec_ok, o.options
            )?;
        }
        for q in &self.questions {
            writeln!(
                f,
                ";; QUESTION {} {} class {}",
                q.name,
                RecordType::from(q.qtype),
                q.qclass
            )?;
        }
        for (title, records) in [
            ("ANSWER", &self.answers),
            ("AUTHORITY", &self.authority),
            ("ADDITIONAL", &self.additional),
        ] {
            for rec in records {
                writeln!(f, ";; {title} {}", rec.text())?;
            }
        }
        Ok(())
    }
}

enum Parsed {
    Record(Record),
    Opt(Opt),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(format!("message ends at {} inside a field", self.buf.len()));
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name at the cursor.
    fn name(&mut self) -> Result<String, String> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<Parsed, String> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()? as usize;
        let start = self.pos;
        let end = start + len;
        if end > self.buf.len() {
            return Err(format!("RDATA of {name} runs past the end"));
        }
        if rtype == 41 {
            if name != "." {
                return Err(format!("OPT owner {name} is not the root"));
            }
            let mut options = Vec::new();
            while self.pos < end {
                let code = self.u16()?;
                let olen = self.u16()? as usize;
                if self.pos + olen > end {
                    return Err("EDNS option runs past the OPT RDATA".into());
                }
                options.push((code, self.take(olen)?.to_vec()));
            }
            return Ok(Parsed::Opt(Opt {
                payload: class,
                ext_rcode: (ttl >> 24) as u8,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
                options,
            }));
        }
        let rtype = RecordType::from(rtype);
        let data = match rtype {
            RecordType::A if len == 4 => {
                let b = self.take(4)?;
                Rdata::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            RecordType::AAAA if len == 16 => {
                let b: [u8; 16] = self.take(16)?.try_into().unwrap();
                Rdata::Aaaa(Ipv6Addr::from(b))
            }
            RecordType::NS | RecordType::CNAME | RecordType::PTR => Rdata::Name(self.name()?),
            RecordType::MX => {
                let pref = self.u16()?;
                Rdata::Mx(pref, self.name()?)
            }
            RecordType::SOA => Rdata::Soa(Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            }),
            RecordType::TXT => {
                let mut strings = Vec::new();
                while self.pos < end {
                    let n = self.u8()? as usize;
                    strings.push(self.take(n)?.to_vec());
                }
                Rdata::Txt(strings)
            }
            _ => Rdata::Other(self.take(len)?.to_vec()),
        };
        if self.pos != end {
            return Err(format!(
                "RDATA of {name} {rtype}: length {len} but {} bytes decoded",
                self.pos - start
            ));
        }
        Ok(Parsed::Record(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        }))
    }
}

/// Reads a name at `pos`, following compression pointers (backwards only, bounded).
/// Returns the name (case kept, trailing dot) and where the name ends at `pos`.
pub fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    // Octets on the wire (labels and their lengths), not the text's (which may escape).
    let mut wire_len = 1;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or("name runs past the end")? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = end.unwrap_or(pos + 1);
                if name.is_empty() {
                    name.push('.');
                }
                if wire_len > 255 {
                    return Err(format!("name longer than 255 bytes: {name}"));
                }
                return Ok((name, end));
            }
            0x00 => {
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or("label runs past the end")?;
                name.push_str(&String::from_utf8_lossy(label));
                name.push('.');
                wire_len += 1 + len;
                pos += 1 + len;
            }
            0xc0 => {
                let lo = *buf.get(pos + 1).ok_or("pointer runs past the end")? as usize;
                let target = (len & 0x3f) << 8 | lo;
                if target >= pos {
                    return Err(format!("compression pointer at {pos} points forward"));
                }
                jumps += 1;
                if jumps > 64 {
                    return Err("compression loop".into());
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(format!("label type {len:#x} at {pos}")),
        }
    }
}
