//! Record data: the fields after the type, as written, → hickory's [`RData`].
//!
//! Domain names, TXT strings and RFC 3597 generic data (`\# <length> <hex>`) are parsed
//! here, the types of `types.rs`'s table there; A, AAAA, MX, SRV and SOA written plainly
//! are built directly, and otherwise they go to hickory's text parsers with escapes
//! already decoded. Every error names the line of the field at fault.

use super::lexer::Token;
use super::names::{parse_name, unescape};
use super::types;
use super::{Fail, MAX_TTL};
use hickory_proto::rr::rdata::{A, AAAA, ANAME, CNAME, MX, NS, NULL, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, Restrict,
};
use hickory_proto::serialize::txt::parse_ttl;
use std::fmt;

#[cfg(test)]
mod tests;

/// The mnemonic of a type, or `TYPEnnn` when neither the table nor hickory has one.
pub(super) fn type_name(record_type: RecordType) -> String {
    if let Some(name) = types::mnemonic(u16::from(record_type)) {
        return name.to_string();
    }
    match record_type {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        other => other.to_string(),
    }
}

/// The types most zones are made of, which hickory parses (none is in `types.rs`'s
/// table): known without searching the table, by their upper-case mnemonic or code.
const COMMON: [(&str, RecordType); 9] = [
    ("A", RecordType::A),
    ("AAAA", RecordType::AAAA),
    ("CNAME", RecordType::CNAME),
    ("MX", RecordType::MX),
    ("NS", RecordType::NS),
    ("PTR", RecordType::PTR),
    ("SOA", RecordType::SOA),
    ("SRV", RecordType::SRV),
    ("TXT", RecordType::TXT),
];

/// The code of a common type's upper-case mnemonic (see `COMMON`).
pub(super) fn common_type(upper: &str) -> Option<u16> {
    COMMON
        .iter()
        .find(|(name, _)| *name == upper)
        .map(|&(_, t)| u16::from(t))
}

/// Whether `types.rs`'s table reads this type (never one of `COMMON`).
fn in_table(record_type: RecordType) -> bool {
    !COMMON.iter().any(|&(_, t)| t == record_type) && types::knows(u16::from(record_type))
}

/// Exact field count of types whose fields are all single tokens.
fn field_count(record_type: RecordType) -> Option<usize> {
    use RecordType::*;
    match record_type {
        A | AAAA | CNAME | NS | PTR | ANAME | DNAME => Some(1),
        MX => Some(2),
        SRV => Some(4),
        SOA => Some(7),
        _ => None,
    }
}

/// Which rdata fields are domain names, for types hickory parses for us.
/// We parse those names ourselves (hickory's name parser lowercases, reads
/// `\DDD` as octal and knows no origin) and give hickory "." in their place.
fn name_fields(record_type: RecordType) -> &'static [usize] {
    match record_type {
        RecordType::MX => &[1],
        RecordType::SRV => &[3],
        RecordType::SOA => &[0, 1],
        _ => &[],
    }
}

pub(super) fn parse_rdata(
    record_type: RecordType,
    tokens: &[Token],
    origin: &Name,
    record_line: usize,
) -> Result<RData, Fail> {
    let bad = |line: usize, detail: String| {
        let kind = type_name(record_type);
        let data = excerpt(tokens);
        (line, format!("bad {kind} record data \"{data}\": {detail}"))
    };

    if tokens.first().is_some_and(|t| !t.quoted && t.text == "\\#") {
        return parse_generic(record_type, tokens).map_err(|(line, detail)| bad(line, detail));
    }
    let code = u16::from(record_type);
    if in_table(record_type) {
        let wire = types::encode(code, tokens, origin, record_line)
            .map_err(|(line, detail)| bad(line, detail))?;
        return Ok(wire_rdata(record_type, wire));
    }
    if let RecordType::Unknown(_) = record_type {
        return Err(bad(
            record_line,
            "Meridian has no text format for this type; \
             write it as RFC 3597 generic data: \\# <length> <hex>"
                .to_string(),
        ));
    }
    if let Some(want) = field_count(record_type)
        && tokens.len() != want
    {
        let line = tokens.get(want).map_or(record_line, |t| t.line);
        let plural = if want == 1 { "" } else { "s" };
        return Err(bad(
            line,
            format!("expected {want} field{plural}, found {}", tokens.len()),
        ));
    }
    let name_at = |i: usize| {
        parse_name(&tokens[i], origin).map_err(|m| {
            bad(
                tokens[i].line,
                format!("bad name \"{}\": {m}", tokens[i].text),
            )
        })
    };

    if let Some(rdata) = direct(record_type, tokens) {
        // A name field is parsed as on the general path below, with its error.
        let mut rdata = rdata;
        match &mut rdata {
            RData::MX(mx) => mx.exchange = name_at(1)?,
            RData::SRV(srv) => srv.target = name_at(3)?,
            _ => {}
        }
        return Ok(rdata);
    }

    match record_type {
        RecordType::CNAME => return Ok(RData::CNAME(CNAME(name_at(0)?))),
        RecordType::NS => return Ok(RData::NS(NS(name_at(0)?))),
        RecordType::PTR => return Ok(RData::PTR(PTR(name_at(0)?))),
        RecordType::ANAME => return Ok(RData::ANAME(ANAME(name_at(0)?))),
        // hickory has no DNAME variant; this is what it makes of DNAME off the wire.
        RecordType::DNAME => {
            return Ok(RData::Unknown {
                code: RecordType::DNAME,
                rdata: NULL::with(name_wire(&name_at(0)?)),
            });
        }
        RecordType::TXT => {
            return parse_txt(tokens, record_line).map_err(|(line, detail)| bad(line, detail));
        }
        _ => {}
    }

    let positions = name_fields(record_type);
    let mut names = Vec::new();
    for &i in positions.iter().filter(|&&i| i < tokens.len()) {
        names.push(name_at(i)?);
    }
    if record_type == RecordType::SOA {
        check_soa_numbers(tokens).map_err(|(line, detail)| bad(line, detail))?;
        // Five plain numbers, as nearly every zone writes them: what hickory would read.
        if let [
            Some(serial),
            Some(refresh),
            Some(retry),
            Some(expire),
            Some(minimum),
        ] = std::array::from_fn(|i| {
            tokens
                .get(2 + i)
                .filter(|t| !t.quoted)
                .and_then(|t| plain_u32(t.text))
        }) {
            let [mname, rname] = <[Name; 2]>::try_from(names).expect("the SOA's two names");
            // Refresh, retry and expire are at most MAX_TTL (checked above): they fit.
            let [refresh, retry, expire] = [refresh, retry, expire].map(|n| n as i32);
            return Ok(RData::SOA(SOA::new(
                mname, rname, serial, refresh, retry, expire, minimum,
            )));
        }
    }

    // Hand the rest to hickory. Its lexer gives quoted and bare words alike to
    // the rdata parsers, but mis-decodes \DDD in quotes and keeps escapes in
    // bare words; so any word with an escape (or a start its lexer would take
    // for its own syntax) is decoded here and re-quoted so it reads back exactly.
    let mut text = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        if positions.contains(&i) {
            text.push('.');
        } else if !token.quoted && token.text == "@" {
            text.push_str(&origin.to_ascii());
        } else if token.quoted || token.text.contains('\\') || token.text.starts_with(['@', '$']) {
            let bytes = unescape(token.content()).map_err(|m| bad(token.line, m))?;
            let content = String::from_utf8(bytes).map_err(|_| {
                bad(
                    token.line,
                    format!("{} holds bytes that are not UTF-8", token.text),
                )
            })?;
            text.push('"');
            for ch in content.chars() {
                if ch == '"' || ch == '\\' {
                    text.push('\\');
                }
                text.push(ch);
            }
            text.push('"');
        } else {
            text.push_str(token.text);
        }
    }
    let mut rdata =
        RData::try_from_str(record_type, &text).map_err(|e| bad(record_line, e.to_string()))?;
    reads_back(&rdata).map_err(|detail| bad(record_line, detail))?;

    let mut names = names.into_iter();
    match &mut rdata {
        RData::MX(mx) => set_name(&mut mx.exchange, names.next()),
        RData::SRV(srv) => set_name(&mut srv.target, names.next()),
        RData::SOA(soa) => {
            set_name(&mut soa.mname, names.next());
            set_name(&mut soa.rname, names.next());
        }
        _ => {}
    }
    Ok(rdata)
}

/// The common A, AAAA, MX and SRV built straight from their fields (the field count
/// already checked), with their names left at the root for the caller to fill in. Only
/// plain fields that hickory's text parser reads the same way are taken: anything else
/// (a quoted or escaped field, a number with a sign, bad data) gives `None` and goes the
/// general way, which accepts it or reports it with hickory's own message.
fn direct(record_type: RecordType, tokens: &[Token]) -> Option<RData> {
    let plain = |i: usize| tokens.get(i).filter(|t| !t.quoted).map(|t| t.text);
    let number = |i: usize| plain(i).and_then(plain_u16);
    match record_type {
        RecordType::A => plain(0)?.parse().ok().map(|a| RData::A(A(a))),
        RecordType::AAAA => plain(0)?.parse().ok().map(|a| RData::AAAA(AAAA(a))),
        RecordType::MX => Some(RData::MX(MX::new(number(0)?, Name::root()))),
        RecordType::SRV => Some(RData::SRV(SRV::new(
            number(0)?,
            number(1)?,
            number(2)?,
            Name::root(),
        ))),
        _ => None,
    }
}

/// A number of ASCII digits only, at most 65535 (what `u16::from_str` reads, less the sign).
fn plain_u16(text: &str) -> Option<u16> {
    plain_u32(text).and_then(|v| u16::try_from(v).ok())
}

/// A number of ASCII digits only, at most 2^32 - 1.
fn plain_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = text
        .bytes()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(value).ok()
}

/// hickory's text parsers accept some data that its own wire decoder, like other DNS
/// clients, refuses (a CAA tag with a quote in it: RFC 8659 §4.1 allows letters and
/// digits only). Such a record would be served and never understood: refuse it here.
fn reads_back(rdata: &RData) -> Result<(), String> {
    let mut wire = Vec::new();
    rdata
        .emit(&mut BinEncoder::new(&mut wire))
        .map_err(|e| format!("cannot be encoded: {e}"))?;
    let length = u16::try_from(wire.len()).map_err(|_| "longer than 65535 bytes".to_string())?;
    RData::read(
        &mut BinDecoder::new(&wire),
        rdata.record_type(),
        Restrict::new(length),
    )
    .map(drop)
    .map_err(|e| format!("DNS clients could not read it back ({e})"))
}

fn set_name(field: &mut Name, name: Option<Name>) {
    if let Some(name) = name {
        *field = name;
    }
}

/// The SOA's five numbers, checked here so an error names the line of the bad one.
fn check_soa_numbers(tokens: &[Token]) -> Result<(), Fail> {
    let fields = ["serial", "refresh", "retry", "expire", "minimum"];
    for (field, token) in fields.iter().zip(tokens.iter().skip(2)) {
        let value = (!token.quoted)
            .then(|| parse_ttl(token.text).ok())
            .flatten()
            .ok_or_else(|| {
                (
                    token.line,
                    format!("{field} \"{}\" is not a number", token.text),
                )
            })?;
        if matches!(*field, "refresh" | "retry" | "expire") && value > MAX_TTL {
            return Err((token.line, format!("{field} {value} is above {MAX_TTL}")));
        }
    }
    Ok(())
}

/// TXT is built here rather than by hickory, whose lexer mis-decodes `\DDD` and
/// cannot carry bytes that are not UTF-8.
fn parse_txt(tokens: &[Token], record_line: usize) -> Result<RData, Fail> {
    if tokens.is_empty() {
        return Err((record_line, "TXT needs at least one string".to_string()));
    }
    let mut strings = Vec::with_capacity(tokens.len());
    for token in tokens {
        let bytes = unescape(token.content()).map_err(|m| (token.line, m))?;
        if bytes.len() > 255 {
            return Err((
                token.line,
                format!("a string of {} bytes is longer than 255", bytes.len()),
            ));
        }
        strings.push(bytes);
    }
    Ok(RData::TXT(TXT::from_bytes(
        strings.iter().map(Vec::as_slice).collect(),
    )))
}

/// RFC 3597 generic data: `\# <length> <hex>...`.
fn parse_generic(record_type: RecordType, tokens: &[Token]) -> Result<RData, Fail> {
    let Some(length_token) = tokens.get(1) else {
        return Err((
            tokens[0].line,
            "\\# must be followed by the data length".to_string(),
        ));
    };
    let length = length_token
        .text
        .parse::<u16>()
        .ok()
        .filter(|_| !length_token.quoted)
        .ok_or_else(|| {
            (
                length_token.line,
                format!("bad generic data length \"{}\"", length_token.text),
            )
        })?;
    let mut hex = Vec::new();
    for token in &tokens[2..] {
        if token.quoted || !token.text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((token.line, format!("\"{}\" is not hex", token.text)));
        }
        hex.extend_from_slice(token.text.as_bytes());
    }
    let last_line = tokens.last().map_or(0, |t| t.line);
    if hex.len() % 2 != 0 {
        return Err((last_line, "odd number of hex digits".to_string()));
    }
    let bytes: Vec<u8> = hex
        .chunks(2)
        .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1]))
        .collect();
    if bytes.len() != usize::from(length) {
        return Err((
            last_line,
            format!(
                "length {length} does not match the {} bytes of hex data",
                bytes.len()
            ),
        ));
    }
    let undecodable = |e: &dyn fmt::Display| {
        (
            last_line,
            format!("data is not valid {}: {e}", type_name(record_type)),
        )
    };
    if types::knows(u16::from(record_type)) {
        // Kept as written: names in these types are uncompressed in generic data too.
        types::check_wire(u16::from(record_type), &bytes).map_err(|e| undecodable(&e))?;
        return Ok(wire_rdata(record_type, bytes));
    }
    if record_type == RecordType::DNAME {
        // Decode the target and store it uncompressed, as for text DNAME.
        let mut decoder = BinDecoder::new(&bytes);
        let name = Name::read(&mut decoder).map_err(|e| undecodable(&e))?;
        if !decoder.is_empty() {
            return Err(undecodable(&"bytes left over after the name"));
        }
        return Ok(RData::Unknown {
            code: RecordType::DNAME,
            rdata: NULL::with(name_wire(&name)),
        });
    }
    RData::read(
        &mut BinDecoder::new(&bytes),
        record_type,
        Restrict::new(length),
    )
    .map_err(|e| undecodable(&e))
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// Data kept as its wire bytes (`NULL::with` refuses none at all).
fn wire_rdata(code: RecordType, bytes: Vec<u8>) -> RData {
    let rdata = if bytes.is_empty() {
        NULL::new()
    } else {
        NULL::with(bytes)
    };
    RData::Unknown { code, rdata }
}

/// Uncompressed wire form of a name.
fn name_wire(name: &Name) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    super::fields::name_wire(name, &mut wire);
    wire
}

/// The rdata as written, shortened for messages.
fn excerpt(tokens: &[Token]) -> String {
    const MAX: usize = 60;
    let joined = tokens.iter().map(|t| t.text).collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= MAX {
        joined
    } else {
        let mut short: String = joined.chars().take(MAX - 3).collect();
        short.push_str("...");
        short
    }
}
