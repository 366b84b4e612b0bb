//! Domain names and RFC 1035 escapes as written in master files.
//!
//! `@` is the origin, names without a final dot are relative to it, `\X` and `\DDD`
//! (decimal) are decoded, and case is kept (hickory's own parser lowercases and reads
//! `\DDD` as octal).

use super::lexer::Token;
use hickory_proto::rr::Name;

#[cfg(test)]
mod tests;

/// Decodes RFC 1035 escapes: `\X` is X, `\DDD` is the byte with decimal value DDD.
pub(super) fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let (byte, used) = escape_at(bytes, i + 1)?;
            out.push(byte);
            i += 1 + used;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Reads the escape whose body starts at `at` (just after the backslash):
/// returns the byte and how many input bytes the body used.
fn escape_at(bytes: &[u8], at: usize) -> Result<(u8, usize), String> {
    match bytes.get(at) {
        None => Err("ends with a lone backslash".to_string()),
        Some(b) if b.is_ascii_digit() => {
            let digits = bytes
                .get(at..at + 3)
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .ok_or_else(|| "a \\DDD escape needs exactly three digits".to_string())?;
            let value = digits
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            let byte =
                u8::try_from(value).map_err(|_| format!("escape \\{value:03} is above 255"))?;
            Ok((byte, 3))
        }
        Some(&b) => Ok((b, 1)),
    }
}

/// Parses a domain name as written in a master file: `@` is the origin, names
/// without a final dot are relative to it, `\X` and `\DDD` (decimal) escapes
/// are decoded, and case is kept.
pub(super) fn parse_name(token: &Token, origin: &Name) -> Result<Name, String> {
    if token.quoted {
        return Err("a domain name cannot be a quoted string".to_string());
    }
    let text = token.text;
    if text == "@" {
        return Ok(origin.clone());
    }
    if text == "." {
        return Ok(Name::root());
    }
    let bytes = text.as_bytes();
    // The labels in wire form (length, bytes), made on the stack. Past `WIRE` bytes the
    // name is too long whatever follows; the text is still read for its other errors.
    const WIRE: usize = 320;
    let mut wire = [0u8; WIRE];
    // Index of the length byte of the label being read, its length, and where the
    // labels read so far end.
    let mut label_at = 0;
    let mut label_len = 0;
    let mut end = 0;
    let mut fits = true;
    let mut absolute = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let byte = match b {
            b'\\' => {
                let (byte, used) = escape_at(bytes, i + 1)?;
                if used == 1 && byte >= 0x80 {
                    return Err(
                        "non-ASCII character; use punycode (xn--) or \\DDD escapes".to_string()
                    );
                }
                i += 1 + used;
                byte
            }
            b'.' => {
                if label_len == 0 {
                    return Err("empty label".to_string());
                }
                if fits {
                    wire[label_at] = label_len as u8;
                    end = label_at + 1 + label_len;
                    label_at = end;
                }
                label_len = 0;
                i += 1;
                absolute = i == bytes.len();
                continue;
            }
            0x80.. => {
                return Err("non-ASCII character; use punycode (xn--) or \\DDD escapes".to_string());
            }
            0..=0x20 | 0x7f | b'"' => {
                return Err(format!("character {:?} must be escaped", b as char));
            }
            _ => {
                i += 1;
                b
            }
        };
        label_len += 1;
        if label_len > 63 {
            return Err("label longer than 63 bytes".to_string());
        }
        match wire.get_mut(label_at + label_len) {
            Some(slot) if fits => *slot = byte,
            _ => fits = false,
        }
    }
    if label_len > 0 && fits {
        wire[label_at] = label_len as u8;
        end = label_at + 1 + label_len;
    }
    let too_long = "name longer than 255 bytes";
    // With the root's zero byte, the wire form is at most 255 bytes.
    if !fits || end + 1 > 255 {
        return Err(too_long.to_string());
    }
    let mut name = Name::root();
    let mut at = 0;
    while at < end {
        let len = usize::from(wire[at]);
        name = name
            .append_label(&wire[at + 1..at + 1 + len])
            .map_err(|_| too_long.to_string())?;
        at += 1 + len;
    }
    if absolute {
        return Ok(name);
    }
    name.set_fqdn(false);
    name.append_domain(origin)
        .map_err(|_| format!("{too_long} once the origin is added"))
}
