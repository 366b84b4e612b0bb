//! One rdata field in presentation form → its wire bytes: numbers, names, strings,
//! base64, hex, base32hex, type bitmaps, addresses, EUIs, times, DNSSEC mnemonics.
//!
//! Each function reads from a [`Fields`] cursor over the record's tokens, appends to
//! `out`, and names the field and the word at fault when the value is bad.

use super::Fail;
use super::lexer::Token;
use super::names::{parse_name, unescape};
use super::types;
use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXLOWER_PERMISSIVE};
use hickory_proto::rr::{Name, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The tokens of one record's data, read left to right.
pub(super) struct Fields<'t, 'a> {
    tokens: &'t [Token<'a>],
    next: usize,
    /// Line of the record, for a field that is missing.
    record_line: usize,
    pub(super) origin: &'t Name,
}

impl<'t, 'a> Fields<'t, 'a> {
    pub(super) fn new(tokens: &'t [Token<'a>], origin: &'t Name, record_line: usize) -> Self {
        Fields {
            tokens,
            next: 0,
            record_line,
            origin,
        }
    }

    /// The next word, which the field `what` must have.
    pub(super) fn word(&mut self, what: &str) -> Result<&'t Token<'a>, Fail> {
        let line = self.tokens.last().map_or(self.record_line, |t| t.line);
        let token = self
            .tokens
            .get(self.next)
            .ok_or_else(|| (line, format!("missing {what}")))?;
        self.next += 1;
        Ok(token)
    }

    /// The next word, left unread.
    pub(super) fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.next)
    }

    /// The next word, if there is one.
    pub(super) fn maybe(&mut self) -> Option<&'t Token<'a>> {
        let token = self.tokens.get(self.next)?;
        self.next += 1;
        Some(token)
    }

    /// Every word not read yet; the field `what` needs at least one unless `may_be_empty`.
    pub(super) fn rest(&mut self, what: &str, may_be_empty: bool) -> Result<&'t [Token<'a>], Fail> {
        let rest = &self.tokens[self.next.min(self.tokens.len())..];
        self.next = self.tokens.len();
        if rest.is_empty() && !may_be_empty {
            let line = self.tokens.last().map_or(self.record_line, |t| t.line);
            return Err((line, format!("missing {what}")));
        }
        Ok(rest)
    }

    pub(super) fn is_done(&self) -> bool {
        self.next >= self.tokens.len()
    }

    /// Fails if words are left over after the last field.
    pub(super) fn finish(&self) -> Result<(), Fail> {
        match self.tokens.get(self.next) {
            None => Ok(()),
            Some(t) => Err((
                t.line,
                format!("unexpected \"{}\" after the last field", t.text),
            )),
        }
    }
}

/// `(line, "<what> \"<word>\": <why>")`.
pub(super) fn bad(token: &Token, what: &str, why: impl std::fmt::Display) -> Fail {
    (token.line, format!("{what} \"{}\": {why}", token.text))
}

/// A bare word (not quoted), as written.
fn bare<'a>(token: &Token<'a>, what: &str) -> Result<&'a str, Fail> {
    if token.quoted {
        return Err(bad(token, what, "must not be quoted"));
    }
    Ok(token.text)
}

/// A decimal number no larger than `max`.
pub(super) fn number(token: &Token, what: &str, max: u64) -> Result<u64, Fail> {
    let text = bare(token, what)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(token, what, "is not a number"));
    }
    match text.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(bad(token, what, format!("is above {max}"))),
    }
}

pub(super) fn u8_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.push(number(t, what, u8::MAX.into())? as u8);
    Ok(())
}

pub(super) fn u16_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.extend_from_slice(&(number(t, what, u16::MAX.into())? as u16).to_be_bytes());
    Ok(())
}

pub(super) fn u32_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.extend_from_slice(&(number(t, what, u32::MAX.into())? as u32).to_be_bytes());
    Ok(())
}

/// A domain name, uncompressed, case kept (RFC 3597 §4).
pub(super) fn name_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let name = parse_name(t, f.origin).map_err(|m| bad(t, what, m))?;
    name_wire(&name, out);
    Ok(())
}

pub(super) fn name_wire(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// The bytes of a word, escapes decoded.
pub(super) fn bytes_of(token: &Token, what: &str) -> Result<Vec<u8>, Fail> {
    unescape(token.content()).map_err(|m| bad(token, what, m))
}

/// One `<character-string>`: a length byte and at most 255 bytes.
pub(super) fn string_of(token: &Token, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let bytes = bytes_of(token, what)?;
    if bytes.len() > 255 {
        return Err(bad(
            token,
            what,
            format!("{} bytes is longer than 255", bytes.len()),
        ));
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
    Ok(())
}

pub(super) fn string_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    string_of(t, what, out)
}

/// One or more `<character-string>`s to the end.
pub(super) fn strings_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    for t in f.rest(what, false)? {
        string_of(t, what, out)?;
    }
    Ok(())
}

/// A string to the end of the data, without a length byte (URI's target, CAA's value).
pub(super) fn raw_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.extend_from_slice(&bytes_of(t, what)?);
    Ok(())
}

/// CAA's tag (RFC 8659 §4.1): a length byte and 1 to 15 ASCII letters and digits.
pub(super) fn caa_tag(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad(t, what, "must be 1 to 15 letters and digits"));
    }
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The words to the end joined (base64 and hex may be split by spaces, RFC 4034 §2.2).
fn joined(tokens: &[Token], what: &str) -> Result<String, Fail> {
    let mut text = String::new();
    for t in tokens {
        text.push_str(bare(t, what)?);
    }
    Ok(text)
}

/// Base64 in one or more words to the end (none at all if `may_be_empty`).
pub(super) fn base64_field(
    f: &mut Fields,
    what: &str,
    may_be_empty: bool,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    let tokens = f.rest(what, may_be_empty)?;
    let Some(first) = tokens.first() else {
        return Ok(());
    };
    let text = joined(tokens, what)?;
    let bytes = BASE64.decode(text.as_bytes()).map_err(|e| {
        // Name the word the error is in.
        let mut start = 0;
        let token = tokens
            .iter()
            .find(|t| {
                start += t.text.len();
                e.position < start
            })
            .unwrap_or(first);
        bad(token, what, format!("is not base64 ({e})"))
    })?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Hex in one or more words to the end.
pub(super) fn hex_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let tokens = f.rest(what, false)?;
    for t in tokens {
        if !bare(t, what)?.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(t, what, "is not hex"));
        }
    }
    let text = joined(tokens, what)?;
    out.extend_from_slice(&hex(&tokens[0], what, &text)?);
    Ok(())
}

pub(super) fn hex(token: &Token, what: &str, text: &str) -> Result<Vec<u8>, Fail> {
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(token, what, "is not hex"));
    }
    if !text.len().is_multiple_of(2) {
        return Err(bad(token, what, "has an odd number of hex digits"));
    }
    HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .map_err(|e| bad(token, what, e))
}

/// A length byte and hex, `-` for none (NSEC3's salt, RFC 5155 §3.3).
pub(super) fn salt_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    let bytes = if text == "-" {
        Vec::new()
    } else {
        hex(t, what, text)?
    };
    if bytes.len() > 255 {
        return Err(bad(t, what, "is longer than 255 bytes"));
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// A length byte and base32hex without padding (NSEC3's next hashed owner, RFC 5155 §3.3).
pub(super) fn base32_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?.to_ascii_uppercase();
    let bytes = BASE32HEX_NOPAD
        .decode(text.as_bytes())
        .map_err(|e| bad(t, what, format!("is not base32hex ({e})")))?;
    if bytes.is_empty() || bytes.len() > 255 {
        return Err(bad(t, what, "must be 1 to 255 bytes"));
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// A record type: its mnemonic or `TYPEnnn`.
pub(super) fn type_code(token: &Token, what: &str) -> Result<u16, Fail> {
    let text = bare(token, what)?;
    let upper = text.to_ascii_uppercase();
    if let Some(number) = upper.strip_prefix("TYPE")
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return number
            .parse::<u16>()
            .map_err(|_| bad(token, what, "is above 65535"));
    }
    if let Some(code) = types::code_of(&upper) {
        return Ok(code);
    }
    match RecordType::from_str(&upper) {
        Ok(RecordType::ANY) | Err(_) => Err(bad(token, what, "is not a record type")),
        Ok(t) => Ok(u16::from(t)),
    }
}

pub(super) fn type_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.extend_from_slice(&type_code(t, what)?.to_be_bytes());
    Ok(())
}

/// The type bitmap of the type names to the end (RFC 4034 §4.1.2).
pub(super) fn bitmap_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let mut codes = Vec::new();
    for t in f.rest(what, true)? {
        codes.push(type_code(t, what)?);
    }
    bitmap(&mut codes, out);
    Ok(())
}

pub(super) fn bitmap(codes: &mut Vec<u16>, out: &mut Vec<u8>) {
    codes.sort_unstable();
    codes.dedup();
    let mut i = 0;
    while i < codes.len() {
        let window = codes[i] >> 8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < codes.len() && codes[i] >> 8 == window {
            let low = (codes[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window as u8);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
}

/// DNSSEC algorithm numbers and their mnemonics (RFC 4034 A.1 and the IANA registry).
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// A DNSSEC algorithm: a number or its mnemonic.
pub(super) fn algorithm_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    out.push(mnemonic_or_number(t, what, ALGORITHMS, u8::MAX.into())? as u8);
    Ok(())
}

/// CERT's certificate types (RFC 4398 §2.1).
const CERT_TYPES: &[(&str, u8)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

pub(super) fn cert_type_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let value = mnemonic_or_number(t, what, CERT_TYPES, u16::MAX.into())? as u16;
    out.extend_from_slice(&value.to_be_bytes());
    Ok(())
}

fn mnemonic_or_number(
    token: &Token,
    what: &str,
    table: &[(&str, u8)],
    max: u64,
) -> Result<u64, Fail> {
    let text = bare(token, what)?;
    if let Some(&(_, v)) = table.iter().find(|(m, _)| m.eq_ignore_ascii_case(text)) {
        return Ok(v.into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return number(token, what, max);
    }
    Err(bad(token, what, "is neither a number nor a known mnemonic"))
}

/// A signature time (RFC 4034 §3.2): `YYYYMMDDHHmmSS` in UTC, or seconds since 1970.
pub(super) fn time_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return Err(bad(t, what, "is not YYYYMMDDHHmmSS or a number"));
    }
    let seconds = if text.len() == 14 {
        let part = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap_or(-1);
        let (year, month, day) = (part(0, 4), part(4, 6), part(6, 8));
        let (hour, minute, second) = (part(8, 10), part(10, 12), part(12, 14));
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => 0,
        };
        if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59
        {
            return Err(bad(t, what, "is not a valid YYYYMMDDHHmmSS time"));
        }
        let days = days_from_civil(year, month, day);
        // RFC 4034 §3.1.5: the value is the time modulo 2^32 (serial number arithmetic).
        ((days * 86400 + hour * 3600 + minute * 60 + second) as u64 & 0xffff_ffff) as u32
    } else if text.len() <= 10 {
        number(t, what, u32::MAX.into())? as u32
    } else {
        return Err(bad(t, what, "is not YYYYMMDDHHmmSS or a number"));
    };
    out.extend_from_slice(&seconds.to_be_bytes());
    Ok(())
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn ipv4_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let addr =
        Ipv4Addr::from_str(bare(t, what)?).map_err(|_| bad(t, what, "is not an IPv4 address"))?;
    out.extend_from_slice(&addr.octets());
    Ok(())
}

pub(super) fn ipv6_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let addr =
        Ipv6Addr::from_str(bare(t, what)?).map_err(|_| bad(t, what, "is not an IPv6 address"))?;
    out.extend_from_slice(&addr.octets());
    Ok(())
}

/// Groups of hex digits of one size between separators: EUI-48/64 (`xx-xx-…`, RFC
/// 7043 §3.2, §4.2) and ILNP's 64-bit locators and node IDs (`xxxx:xxxx:xxxx:xxxx`,
/// RFC 6742 §2.1.2).
pub(super) fn grouped_hex_field(
    f: &mut Fields,
    what: &str,
    groups: usize,
    digits: usize,
    separator: char,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    let parts: Vec<&str> = text.split(separator).collect();
    if parts.len() != groups
        || parts
            .iter()
            .any(|p| p.len() != digits || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        let shape = vec!["x".repeat(digits); groups].join(&separator.to_string());
        return Err(bad(
            t,
            what,
            format!("is not of the form {shape} (hex digits)"),
        ));
    }
    out.extend_from_slice(&hex(t, what, &parts.concat())?);
    Ok(())
}

/// A decimal number, kept as a `<character-string>` (GPOS, RFC 1712 §3).
pub(super) fn decimal_string_field(
    f: &mut Fields,
    what: &str,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    let t = f.word(what)?;
    let bytes = bytes_of(t, what)?;
    let text = std::str::from_utf8(&bytes).unwrap_or("");
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || text.ends_with('.') {
        return Err(bad(t, what, "is not a decimal number"));
    }
    string_of(t, what, out)
}

/// An NSAP address (RFC 1706 §5): `0x` and hex digits, dots allowed between them.
pub(super) fn nsap_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) else {
        return Err(bad(t, what, "must start with 0x"));
    };
    let digits: String = digits.chars().filter(|&c| c != '.').collect();
    if digits.is_empty() {
        return Err(bad(t, what, "has no hex digits"));
    }
    out.extend_from_slice(&hex(t, what, &digits)?);
    Ok(())
}

/// Service names WKS may use besides port numbers (the common ones of /etc/services,
/// whose contents vary by system; BIND and NSD look names up there).
const SERVICES: &[(&str, u16)] = &[
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("domain", 53),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
];

/// WKS (RFC 1035 §3.4.2): address, protocol (`tcp`, `udp` or a number) and the services
/// offered (port numbers or names), as a bitmap of ports.
pub(super) fn wks(f: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    ipv4_field(f, "address", out)?;
    let t = f.word("protocol")?;
    let protocol = match bare(t, "protocol")?.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        _ => number(t, "protocol", u8::MAX.into())? as u8,
    };
    out.push(protocol);
    let mut bitmap = Vec::new();
    for t in f.rest("services", true)? {
        let text = bare(t, "service")?.to_ascii_lowercase();
        let port = match SERVICES.iter().find(|(name, _)| *name == text) {
            Some(&(_, port)) => port,
            None if text.bytes().all(|b| b.is_ascii_digit()) => {
                number(t, "service", u16::MAX.into())? as u16
            }
            None => return Err(bad(t, "service", "is not a port number or a known service")),
        };
        let byte = usize::from(port / 8);
        if bitmap.len() <= byte {
            bitmap.resize(byte + 1, 0);
        }
        bitmap[byte] |= 0x80 >> (port % 8);
    }
    out.extend_from_slice(&bitmap);
    Ok(())
}

/// A6 (RFC 2874 §3.1): prefix length, the address suffix (absent for 128) and the
/// prefix name (absent for 0). The suffix is sent in its (128 − length) / 8 octets,
/// rounded up, with the bits of the prefix cleared.
pub(super) fn a6(f: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word("prefix length")?;
    let prefix = number(t, "prefix length", 128)? as u8;
    out.push(prefix);
    if prefix < 128 {
        let mut address = Vec::new();
        ipv6_field(f, "address suffix", &mut address)?;
        let octets = usize::from(128 - prefix).div_ceil(8);
        let mut suffix = address[16 - octets..].to_vec();
        if !prefix.is_multiple_of(8) {
            suffix[0] &= 0xff >> (prefix % 8);
        }
        out.extend_from_slice(&suffix);
    }
    if prefix > 0 {
        name_field(f, "prefix name", out)?;
    }
    Ok(())
}

/// NXT's type bitmap (RFC 2535 §5.2): bit n for type n, types 1 to 127 only, without
/// trailing zero bytes.
pub(super) fn old_bitmap_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let mut bits = Vec::new();
    for t in f.rest(what, true)? {
        let code = type_code(t, what)?;
        if code == 0 || code > 127 {
            return Err(bad(t, what, "NXT can list only types 1 to 127"));
        }
        let byte = usize::from(code / 8);
        if bits.len() <= byte {
            bits.resize(byte + 1, 0);
        }
        bits[byte] |= 0x80 >> (code % 8);
    }
    out.extend_from_slice(&bits);
    Ok(())
}

/// An ATM address (ATM Forum af-saa-0069.000, as BIND reads it): `+` and E.164 digits
/// is format 1, hex digits (an AESA) format 0; dots may separate digits.
pub(super) fn atma_field(f: &mut Fields, what: &str, out: &mut Vec<u8>) -> Result<(), Fail> {
    let t = f.word(what)?;
    let text = bare(t, what)?;
    if let Some(digits) = text.strip_prefix('+') {
        let digits: String = digits.chars().filter(|&c| c != '.').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(t, what, "an E.164 address is + and digits"));
        }
        out.push(1);
        out.extend_from_slice(digits.as_bytes());
    } else {
        let digits: String = text.chars().filter(|&c| c != '.').collect();
        if digits.is_empty() {
            return Err(bad(t, what, "is not + and digits or hex"));
        }
        out.push(0);
        out.extend_from_slice(&hex(t, what, &digits)?);
    }
    Ok(())
}
