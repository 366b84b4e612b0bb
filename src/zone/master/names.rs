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
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    let mut absolute = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' => {
                let (byte, used) = escape_at(bytes, i + 1)?;
                if used == 1 && byte >= 0x80 {
                    return Err(
                        "non-ASCII character; use punycode (xn--) or \\DDD escapes".to_string()
                    );
                }
                label.push(byte);
                i += 1 + used;
            }
            b'.' => {
                if label.is_empty() {
                    return Err("empty label".to_string());
                }
                labels.push(std::mem::take(&mut label));
                i += 1;
                absolute = i == bytes.len();
            }
            0x80.. => {
                return Err("non-ASCII character; use punycode (xn--) or \\DDD escapes".to_string());
            }
            0..=0x20 | 0x7f | b'"' => {
                return Err(format!("character {:?} must be escaped", b as char));
            }
            _ => {
                label.push(b);
                i += 1;
            }
        }
        if label.len() > 63 {
            return Err("label longer than 63 bytes".to_string());
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    let too_long = "name longer than 255 bytes";
    let mut name = Name::root();
    for label in labels {
        name = name.append_label(label).map_err(|_| too_long.to_string())?;
    }
    if absolute {
        return Ok(name);
    }
    name.set_fqdn(false);
    name.append_domain(origin)
        .map_err(|_| format!("{too_long} once the origin is added"))
}
