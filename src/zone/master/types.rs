//! The record types whose text Meridian encodes itself, as a table: each type's
//! mnemonic, number and fields. Their data is kept as wire bytes
//! (`RData::Unknown { code, rdata: NULL }`), so it is answered exactly as written.
//!
//! hickory parses none of these (or not as BIND and NSD read them: base64 and hex split
//! by spaces, SVCB keys it does not know, CAA values it rewrites). Names in their data
//! are stored uncompressed and with their case; the answer writer compresses the few
//! that RFC 3597 §4 allows. RFC 3597 generic data (`\# len hex`) for these types is
//! checked against the same table (`check_wire`) and kept as given.

use super::Fail;
use super::fields::{self as f, Fields};
use super::lexer::Token;
use super::{loc, svcb};
use hickory_proto::rr::Name;

#[cfg(test)]
mod tests;

/// How one field is written and encoded.
#[derive(Clone, Copy, Debug)]
enum Kind {
    U8,
    U16,
    U32,
    /// A domain name (uncompressed on the wire).
    Name,
    /// A `<character-string>`.
    Str,
    /// An optional last `<character-string>`.
    OptStr,
    /// One or more `<character-string>`s to the end.
    Strs,
    /// One string to the end of the data, no length byte.
    Raw,
    /// CAA's tag.
    Tag,
    /// Base64 to the end; may be absent with `Base64Opt`.
    Base64,
    Base64Opt,
    /// Hex to the end.
    Hex,
    /// Length byte and hex, `-` for none.
    Salt,
    /// Length byte and base32hex.
    Base32,
    /// Type bitmap to the end.
    Bitmap,
    /// A record type number.
    Type,
    /// DNSSEC algorithm.
    Alg,
    CertType,
    /// Signature time.
    Time,
    Ipv4,
    Eui48,
    Eui64,
    /// Four groups of four hex digits (ILNP).
    Ilnp64,
    /// A decimal number as a `<character-string>`.
    Decimal,
    /// An NSAP address (`0x…`).
    Nsap,
    /// Base64, or `-` for none, to the end (DOA's data).
    Base64OrDash,
    /// NXT's bitmap of types 1 to 127 (RFC 2535 §5.2), to the end.
    OldBitmap,
    /// An ATM address: `+` and E.164 digits, or hex (AESA).
    Atma,
}

use Kind::*;

/// How a type's data is read.
#[derive(Clone, Copy)]
enum Body {
    Fields(&'static [(&'static str, Kind)]),
    Loc,
    Apl,
    Svcb,
    Ipseckey,
    Amtrelay,
    Hip,
    Wks,
    A6,
}

struct TypeDef {
    code: u16,
    name: &'static str,
    body: Body,
}

const fn t(code: u16, name: &'static str, fields: &'static [(&'static str, Kind)]) -> TypeDef {
    TypeDef {
        code,
        name,
        body: Body::Fields(fields),
    }
}

const DS_FIELDS: &[(&str, Kind)] = &[
    ("key tag", U16),
    ("algorithm", Alg),
    ("digest type", U8),
    ("digest", Hex),
];
const DNSKEY_FIELDS: &[(&str, Kind)] = &[
    ("flags", U16),
    ("protocol", U8),
    ("algorithm", Alg),
    ("public key", Base64Opt),
];
const RRSIG_FIELDS: &[(&str, Kind)] = &[
    ("type covered", Type),
    ("algorithm", Alg),
    ("labels", U8),
    ("original TTL", U32),
    ("signature expiration", Time),
    ("signature inception", Time),
    ("key tag", U16),
    ("signer's name", Name),
    ("signature", Base64),
];
const TLSA_FIELDS: &[(&str, Kind)] = &[
    ("certificate usage", U8),
    ("selector", U8),
    ("matching type", U8),
    ("certificate association data", Hex),
];
const TEXT_FIELDS: &[(&str, Kind)] = &[("text", Strs)];

/// Every type in the table, by number.
const TYPES: &[TypeDef] = &[
    t(3, "MD", &[("mail destination", Name)]),
    t(4, "MF", &[("mail forwarder", Name)]),
    t(7, "MB", &[("mailbox host", Name)]),
    t(8, "MG", &[("mail group member", Name)]),
    t(9, "MR", &[("new mailbox", Name)]),
    TypeDef {
        code: 11,
        name: "WKS",
        body: Body::Wks,
    },
    t(13, "HINFO", &[("CPU", Str), ("OS", Str)]),
    t(
        14,
        "MINFO",
        &[("responsible mailbox", Name), ("error mailbox", Name)],
    ),
    t(17, "RP", &[("mailbox", Name), ("TXT name", Name)]),
    t(18, "AFSDB", &[("subtype", U16), ("hostname", Name)]),
    t(19, "X25", &[("PSDN address", Str)]),
    t(20, "ISDN", &[("ISDN address", Str), ("subaddress", OptStr)]),
    t(
        21,
        "RT",
        &[("preference", U16), ("intermediate host", Name)],
    ),
    t(22, "NSAP", &[("NSAP address", Nsap)]),
    t(23, "NSAP-PTR", &[("name", Name)]),
    t(24, "SIG", RRSIG_FIELDS),
    t(25, "KEY", DNSKEY_FIELDS),
    t(
        26,
        "PX",
        &[("preference", U16), ("MAP822", Name), ("MAPX400", Name)],
    ),
    t(
        27,
        "GPOS",
        &[
            ("longitude", Decimal),
            ("latitude", Decimal),
            ("altitude", Decimal),
        ],
    ),
    TypeDef {
        code: 29,
        name: "LOC",
        body: Body::Loc,
    },
    t(
        30,
        "NXT",
        &[("next domain name", Name), ("type bitmap", OldBitmap)],
    ),
    t(31, "EID", &[("endpoint identifier", Hex)]),
    t(32, "NIMLOC", &[("nimrod locator", Hex)]),
    t(34, "ATMA", &[("ATM address", Atma)]),
    t(
        35,
        "NAPTR",
        &[
            ("order", U16),
            ("preference", U16),
            ("flags", Str),
            ("services", Str),
            ("regexp", Str),
            ("replacement", Name),
        ],
    ),
    t(36, "KX", &[("preference", U16), ("exchanger", Name)]),
    t(
        37,
        "CERT",
        &[
            ("certificate type", CertType),
            ("key tag", U16),
            ("algorithm", Alg),
            ("certificate", Base64),
        ],
    ),
    TypeDef {
        code: 38,
        name: "A6",
        body: Body::A6,
    },
    t(
        40,
        "SINK",
        &[
            ("meaning", U8),
            ("coding", U8),
            ("subcoding", U8),
            ("data", Base64Opt),
        ],
    ),
    TypeDef {
        code: 42,
        name: "APL",
        body: Body::Apl,
    },
    t(43, "DS", DS_FIELDS),
    t(
        44,
        "SSHFP",
        &[
            ("algorithm", U8),
            ("fingerprint type", U8),
            ("fingerprint", Hex),
        ],
    ),
    TypeDef {
        code: 45,
        name: "IPSECKEY",
        body: Body::Ipseckey,
    },
    t(46, "RRSIG", RRSIG_FIELDS),
    t(
        47,
        "NSEC",
        &[("next domain name", Name), ("type bitmap", Bitmap)],
    ),
    t(48, "DNSKEY", DNSKEY_FIELDS),
    t(49, "DHCID", &[("DHCID data", Base64)]),
    t(
        50,
        "NSEC3",
        &[
            ("hash algorithm", U8),
            ("flags", U8),
            ("iterations", U16),
            ("salt", Salt),
            ("next hashed owner name", Base32),
            ("type bitmap", Bitmap),
        ],
    ),
    t(
        51,
        "NSEC3PARAM",
        &[
            ("hash algorithm", U8),
            ("flags", U8),
            ("iterations", U16),
            ("salt", Salt),
        ],
    ),
    t(52, "TLSA", TLSA_FIELDS),
    TypeDef {
        code: 55,
        name: "HIP",
        body: Body::Hip,
    },
    t(56, "NINFO", TEXT_FIELDS),
    t(57, "RKEY", DNSKEY_FIELDS),
    t(
        58,
        "TALINK",
        &[("previous name", Name), ("next name", Name)],
    ),
    t(53, "SMIMEA", TLSA_FIELDS),
    t(59, "CDS", DS_FIELDS),
    t(60, "CDNSKEY", DNSKEY_FIELDS),
    t(61, "OPENPGPKEY", &[("public key", Base64)]),
    t(
        62,
        "CSYNC",
        &[("SOA serial", U32), ("flags", U16), ("type bitmap", Bitmap)],
    ),
    t(
        63,
        "ZONEMD",
        &[
            ("serial", U32),
            ("scheme", U8),
            ("hash algorithm", U8),
            ("digest", Hex),
        ],
    ),
    TypeDef {
        code: 64,
        name: "SVCB",
        body: Body::Svcb,
    },
    TypeDef {
        code: 65,
        name: "HTTPS",
        body: Body::Svcb,
    },
    t(99, "SPF", TEXT_FIELDS),
    t(104, "NID", &[("preference", U16), ("node ID", Ilnp64)]),
    t(105, "L32", &[("preference", U16), ("locator", Ipv4)]),
    t(106, "L64", &[("preference", U16), ("locator", Ilnp64)]),
    t(107, "LP", &[("preference", U16), ("FQDN", Name)]),
    t(108, "EUI48", &[("address", Eui48)]),
    t(109, "EUI64", &[("address", Eui64)]),
    t(
        256,
        "URI",
        &[("priority", U16), ("weight", U16), ("target", Raw)],
    ),
    t(257, "CAA", &[("flags", U8), ("tag", Tag), ("value", Raw)]),
    t(258, "AVC", TEXT_FIELDS),
    t(
        259,
        "DOA",
        &[
            ("enterprise", U32),
            ("type", U32),
            ("location", U8),
            ("media type", Str),
            ("data", Base64OrDash),
        ],
    ),
    TypeDef {
        code: 260,
        name: "AMTRELAY",
        body: Body::Amtrelay,
    },
    t(261, "RESINFO", TEXT_FIELDS),
    t(262, "WALLET", TEXT_FIELDS),
    t(32768, "TA", DS_FIELDS),
    t(32769, "DLV", DS_FIELDS),
];

fn def(code: u16) -> Option<&'static TypeDef> {
    TYPES.iter().find(|d| d.code == code)
}

/// The number of a type mnemonic the table knows (upper case).
pub(super) fn code_of(mnemonic: &str) -> Option<u16> {
    TYPES.iter().find(|d| d.name == mnemonic).map(|d| d.code)
}

/// The mnemonic of a type the table knows.
pub(super) fn mnemonic(code: u16) -> Option<&'static str> {
    def(code).map(|d| d.name)
}

/// Whether the table reads this type.
pub(super) fn knows(code: u16) -> bool {
    def(code).is_some()
}

/// The wire form of a type the table knows, from its text. Errors give the line and
/// the field at fault.
pub(super) fn encode(
    code: u16,
    tokens: &[Token],
    origin: &Name,
    record_line: usize,
) -> Result<Vec<u8>, Fail> {
    let Some(def) = def(code) else {
        return Err((record_line, "no text format for this type".to_string()));
    };
    let mut fields = Fields::new(tokens, origin, record_line);
    let mut out = Vec::new();
    match def.body {
        Body::Fields(list) => {
            for &(what, kind) in list {
                field(&mut fields, what, kind, &mut out)?;
            }
        }
        Body::Loc => loc::loc(&mut fields, &mut out)?,
        Body::Apl => loc::apl(&mut fields, &mut out)?,
        Body::Svcb => svcb::svcb(&mut fields, &mut out)?,
        Body::Ipseckey => ipseckey(&mut fields, &mut out)?,
        Body::Amtrelay => amtrelay(&mut fields, &mut out)?,
        Body::Hip => hip(&mut fields, &mut out)?,
        Body::Wks => f::wks(&mut fields, &mut out)?,
        Body::A6 => f::a6(&mut fields, &mut out)?,
    }
    fields.finish()?;
    digest_length(code, &out).map_err(|why| (record_line, why))?;
    if out.len() > usize::from(u16::MAX) {
        return Err((record_line, "longer than 65535 bytes".to_string()));
    }
    Ok(out)
}

fn field(fields: &mut Fields, what: &str, kind: Kind, out: &mut Vec<u8>) -> Result<(), Fail> {
    match kind {
        U8 => f::u8_field(fields, what, out),
        U16 => f::u16_field(fields, what, out),
        U32 => f::u32_field(fields, what, out),
        Name => f::name_field(fields, what, out),
        Str => f::string_field(fields, what, out),
        OptStr if fields.is_done() => Ok(()),
        OptStr => f::string_field(fields, what, out),
        Strs => f::strings_field(fields, what, out),
        Raw => f::raw_field(fields, what, out),
        Tag => f::caa_tag(fields, what, out),
        Base64 => f::base64_field(fields, what, false, out),
        Base64Opt => f::base64_field(fields, what, true, out),
        Hex => f::hex_field(fields, what, out),
        Salt => f::salt_field(fields, what, out),
        Base32 => f::base32_field(fields, what, out),
        Bitmap => f::bitmap_field(fields, what, out),
        Type => f::type_field(fields, what, out),
        Alg => f::algorithm_field(fields, what, out),
        CertType => f::cert_type_field(fields, what, out),
        Time => f::time_field(fields, what, out),
        Ipv4 => f::ipv4_field(fields, what, out),
        Eui48 => f::grouped_hex_field(fields, what, 6, 2, '-', out),
        Eui64 => f::grouped_hex_field(fields, what, 8, 2, '-', out),
        Ilnp64 => f::grouped_hex_field(fields, what, 4, 4, ':', out),
        Decimal => f::decimal_string_field(fields, what, out),
        Nsap => f::nsap_field(fields, what, out),
        Base64OrDash if fields.peek().is_some_and(|t| t.text == "-" && !t.quoted) => {
            fields.maybe();
            Ok(())
        }
        Base64OrDash => f::base64_field(fields, what, false, out),
        OldBitmap => f::old_bitmap_field(fields, what, out),
        Atma => f::atma_field(fields, what, out),
    }
}

/// IPSECKEY (RFC 4025 §3): precedence, gateway type, algorithm, the gateway (`.`, an
/// IPv4 or IPv6 address, or a name, as the type says) and an optional public key.
fn ipseckey(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    f::u8_field(fields, "precedence", out)?;
    let type_token = fields.word("gateway type")?;
    let gateway_type = f::number(type_token, "gateway type", 3)? as u8;
    out.push(gateway_type);
    f::u8_field(fields, "algorithm", out)?;
    match gateway_type {
        0 => {
            let t = fields.word("gateway")?;
            if t.text != "." {
                return Err(f::bad(t, "gateway", "must be \".\" for gateway type 0"));
            }
        }
        1 => f::ipv4_field(fields, "gateway", out)?,
        2 => f::ipv6_field(fields, "gateway", out)?,
        _ => f::name_field(fields, "gateway", out)?,
    }
    f::base64_field(fields, "public key", true, out)
}

/// AMTRELAY (RFC 8777 §4.3): precedence, discovery-optional bit, type and relay (`.`,
/// an IPv4 or IPv6 address, or a name, as the type says).
fn amtrelay(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    f::u8_field(fields, "precedence", out)?;
    let d = fields.word("discovery optional")?;
    let d_bit = f::number(d, "discovery optional", 1)? as u8;
    let type_token = fields.word("relay type")?;
    let relay_type = f::number(type_token, "relay type", 3)? as u8;
    out.push(d_bit << 7 | relay_type);
    match relay_type {
        0 => {
            let t = fields.word("relay")?;
            if t.text != "." {
                return Err(f::bad(t, "relay", "must be \".\" for relay type 0"));
            }
            Ok(())
        }
        1 => f::ipv4_field(fields, "relay", out),
        2 => f::ipv6_field(fields, "relay", out),
        _ => f::name_field(fields, "relay", out),
    }
}

/// HIP (RFC 8005 §3): PK algorithm, HIT in hex, public key in base64, then any number
/// of rendezvous servers; on the wire the lengths come first.
fn hip(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    let mut algorithm = Vec::new();
    f::u8_field(fields, "PK algorithm", &mut algorithm)?;
    let hit_token = fields.word("HIT")?;
    let hit = f::hex(hit_token, "HIT", hit_token.text)?;
    if hit.is_empty() || hit.len() > 255 {
        return Err(f::bad(hit_token, "HIT", "must be 1 to 255 bytes"));
    }
    let key_token = fields.word("public key")?;
    let key = data_encoding::BASE64
        .decode(key_token.text.as_bytes())
        .map_err(|e| f::bad(key_token, "public key", format!("is not base64 ({e})")))?;
    let key_length = u16::try_from(key.len())
        .map_err(|_| f::bad(key_token, "public key", "longer than 65535 bytes"))?;
    out.push(hit.len() as u8);
    out.extend_from_slice(&algorithm);
    out.extend_from_slice(&key_length.to_be_bytes());
    out.extend_from_slice(&hit);
    out.extend_from_slice(&key);
    while !fields.is_done() {
        f::name_field(fields, "rendezvous server", out)?;
    }
    Ok(())
}

/// The digest of DS, CDS, TA and DLV has the length its digest type gives (RFC 4034
/// §5.1.4, RFC 4509 §2.2, RFC 6605 §2), as BIND requires: validators cannot read one
/// that has not, and the delegation would fail to validate.
fn digest_length(code: u16, wire: &[u8]) -> Result<(), String> {
    if !matches!(code, 43 | 59 | 32768 | 32769) || wire.len() < 4 {
        return Ok(());
    }
    let (want, name) = match wire[3] {
        1 => (20, "SHA-1"),
        2 => (32, "SHA-256"),
        4 => (48, "SHA-384"),
        _ => return Ok(()),
    };
    let got = wire.len() - 4;
    if got != want {
        return Err(format!(
            "digest of {got} bytes, but digest type {} ({name}) has {want}",
            wire[3]
        ));
    }
    Ok(())
}

/// Checks RFC 3597 generic data against the type's layout: what a text record of the
/// type could not hold is refused, as BIND and NSD refuse it.
pub(super) fn check_wire(code: u16, wire: &[u8]) -> Result<(), String> {
    let Some(def) = def(code) else {
        return Ok(());
    };
    let mut r = WireReader { wire, at: 0 };
    match def.body {
        Body::Fields(list) => {
            for &(what, kind) in list {
                r.field(kind).map_err(|why| format!("{what}: {why}"))?;
            }
        }
        Body::Loc => {
            if wire.first() != Some(&0) || wire.len() != 16 {
                return Err("LOC data is 16 bytes, of version 0".to_string());
            }
            r.at = 16;
        }
        Body::Apl => {
            while r.at < wire.len() {
                r.take(3)?;
                let length = usize::from(r.take(1)?[0] & 0x7f);
                r.take(length)?;
            }
        }
        Body::Svcb => {
            r.take(2)?;
            r.name()?;
            let mut last: Option<u16> = None;
            while r.at < wire.len() {
                let key = u16::from_be_bytes(r.take(2)?.try_into().unwrap_or_default());
                if last.is_some_and(|l| key <= l) {
                    return Err("SvcParam keys are not in increasing order".to_string());
                }
                last = Some(key);
                let length = u16::from_be_bytes(r.take(2)?.try_into().unwrap_or_default());
                r.take(usize::from(length))?;
            }
        }
        Body::Amtrelay => {
            let head = r.take(2)?;
            match head[1] & 0x7f {
                0 => {}
                1 => drop(r.take(4)?),
                2 => drop(r.take(16)?),
                3 => r.name()?,
                _ => return Err("relay type above 3".to_string()),
            }
        }
        Body::Hip => {
            let head = r.take(4)?;
            let key_length = u16::from_be_bytes([head[2], head[3]]);
            r.take(usize::from(head[0]) + usize::from(key_length))?;
            while r.at < wire.len() {
                r.name()?;
            }
        }
        Body::Wks => {
            r.take(5)?;
            r.rest();
        }
        Body::A6 => {
            let prefix = r.take(1)?[0];
            if prefix > 128 {
                return Err("prefix length above 128".to_string());
            }
            r.take(usize::from(128 - prefix).div_ceil(8))?;
            if prefix > 0 {
                r.name()?;
            }
        }
        Body::Ipseckey => {
            let head = r.take(3)?;
            match head[1] {
                0 => {}
                1 => drop(r.take(4)?),
                2 => drop(r.take(16)?),
                3 => r.name()?,
                _ => return Err("gateway type above 3".to_string()),
            }
            r.at = wire.len();
        }
    }
    if r.at != wire.len() {
        return Err("bytes left over after the last field".to_string());
    }
    digest_length(code, wire)
}

struct WireReader<'w> {
    wire: &'w [u8],
    at: usize,
}

impl<'w> WireReader<'w> {
    fn take(&mut self, n: usize) -> Result<&'w [u8], String> {
        let end = self.at + n;
        let bytes = self
            .wire
            .get(self.at..end)
            .ok_or_else(|| "data ends too soon".to_string())?;
        self.at = end;
        Ok(bytes)
    }

    fn rest(&mut self) -> &'w [u8] {
        let bytes = &self.wire[self.at.min(self.wire.len())..];
        self.at = self.wire.len();
        bytes
    }

    /// An uncompressed name (generic data cannot hold compression pointers).
    fn name(&mut self) -> Result<(), String> {
        let start = self.at;
        loop {
            let length = usize::from(self.take(1)?[0]);
            if length == 0 {
                break;
            }
            if length > 63 {
                return Err("a name with a compression pointer or bad label".to_string());
            }
            self.take(length)?;
        }
        if self.at - start > 255 {
            return Err("a name longer than 255 bytes".to_string());
        }
        Ok(())
    }

    fn string(&mut self) -> Result<(), String> {
        let length = usize::from(self.take(1)?[0]);
        self.take(length).map(drop)
    }

    fn field(&mut self, kind: Kind) -> Result<(), String> {
        match kind {
            U8 | Alg => self.take(1).map(drop),
            U16 | Type | CertType => self.take(2).map(drop),
            U32 | Time | Ipv4 => self.take(4).map(drop),
            Eui48 => self.take(6).map(drop),
            Eui64 | Ilnp64 => self.take(8).map(drop),
            Name => self.name(),
            Str | Decimal | Salt | Base32 => self.string(),
            OptStr => {
                if self.at < self.wire.len() {
                    self.string()?;
                }
                Ok(())
            }
            Strs => {
                if self.at >= self.wire.len() {
                    return Err("no string".to_string());
                }
                while self.at < self.wire.len() {
                    self.string()?;
                }
                Ok(())
            }
            Tag => {
                let length = usize::from(self.take(1)?[0]);
                let tag = self.take(length)?;
                if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err("must be 1 to 15 letters and digits".to_string());
                }
                Ok(())
            }
            Raw | Base64Opt | Base64OrDash | OldBitmap => {
                self.rest();
                Ok(())
            }
            Atma => {
                if self.take(1)?[0] > 1 {
                    return Err("ATM address format above 1".to_string());
                }
                self.rest();
                Ok(())
            }
            Base64 | Hex | Nsap => {
                if self.rest().is_empty() {
                    return Err("empty".to_string());
                }
                Ok(())
            }
            Bitmap => {
                let mut last: Option<u8> = None;
                while self.at < self.wire.len() {
                    let head = self.take(2)?;
                    if last.is_some_and(|l| head[0] <= l) || head[1] == 0 || head[1] > 32 {
                        return Err("bad type bitmap window".to_string());
                    }
                    last = Some(head[0]);
                    self.take(usize::from(head[1]))?;
                }
                Ok(())
            }
        }
    }
}
