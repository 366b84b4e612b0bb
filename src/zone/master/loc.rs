//! The two types with a presentation form of their own: LOC (RFC 1876 §3) and APL
//! (RFC 3123 §5).

use super::Fail;
use super::fields::{Fields, bad};
use super::lexer::Token;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A decimal number with at most `places` digits after the point, scaled by
/// 10^`places`; `what` names the field in errors. A trailing `m` is allowed if `metres`.
fn scaled(token: &Token, what: &str, places: u32, metres: bool) -> Result<i64, Fail> {
    let mut text = token.text;
    if metres {
        text = text.strip_suffix(['m', 'M']).unwrap_or(text);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if token.quoted
        || int.is_empty()
        || int.len() > 12
        || !all_digits(int)
        || !all_digits(frac)
        || frac.len() > places as usize
        || (digits.contains('.') && frac.is_empty())
    {
        let unit = if metres { " (metres)" } else { "" };
        return Err(bad(
            token,
            what,
            format!("is not a number{unit} with at most {places} decimals"),
        ));
    }
    let mut value: i64 = int.parse().unwrap_or(0);
    for i in 0..places as usize {
        let digit = frac.as_bytes().get(i).map_or(0, |d| i64::from(d - b'0'));
        value = value * 10 + digit;
    }
    Ok(if negative { -value } else { value })
}

/// Degrees, then optional minutes and seconds, then the hemisphere letter: thousandths
/// of an arc second from the equator or prime meridian, offset by 2^31.
fn angle(
    fields: &mut Fields,
    what: &str,
    max_degrees: i64,
    hemispheres: [char; 2],
) -> Result<u32, Fail> {
    let mut parts: Vec<&Token> = Vec::new();
    let hemisphere = loop {
        let t = fields.word(&format!("{what} hemisphere"))?;
        let upper = t.text.to_ascii_uppercase();
        if let Some(i) = hemispheres.iter().position(|h| upper == h.to_string()) {
            break (t, i);
        }
        if parts.len() == 3 {
            return Err(bad(
                t,
                what,
                format!("expected {} or {}", hemispheres[0], hemispheres[1]),
            ));
        }
        parts.push(t);
    };
    let Some(first) = parts.first() else {
        return Err(bad(hemisphere.0, what, "degrees missing"));
    };
    let degrees = scaled(first, &format!("{what} degrees"), 0, false)?;
    let minutes = match parts.get(1) {
        Some(t) => scaled(t, &format!("{what} minutes"), 0, false)?,
        None => 0,
    };
    let thousandths = match parts.get(2) {
        Some(t) => scaled(t, &format!("{what} seconds"), 3, false)?,
        None => 0,
    };
    if degrees < 0 || degrees > max_degrees || !(0..60).contains(&minutes) {
        return Err(bad(first, what, "degrees or minutes out of range"));
    }
    if !(0..60_000).contains(&thousandths) {
        return Err(bad(parts[2], what, "seconds out of range"));
    }
    let total = (degrees * 3600 + minutes * 60) * 1000 + thousandths;
    if total > max_degrees * 3_600_000 {
        return Err(bad(first, what, format!("beyond {max_degrees} degrees")));
    }
    let signed = if hemisphere.1 == 0 { total } else { -total };
    Ok((signed + (1i64 << 31)) as u32)
}

/// RFC 1876 §2's size and precision: centimetres as mantissa × 10^exponent in one
/// byte, rounded down as RFC 1876's own code and BIND do.
fn precision(token: &Token, what: &str) -> Result<u8, Fail> {
    let cm = scaled(token, what, 2, true)?;
    if !(0..=9_000_000_000).contains(&cm) {
        return Err(bad(token, what, "must be 0 to 90000000.00 metres"));
    }
    let mut exponent = 0;
    while exponent < 9 && cm >= 10i64.pow(exponent + 1) {
        exponent += 1;
    }
    let mantissa = (cm / 10i64.pow(exponent)).min(9);
    Ok(((mantissa as u8) << 4) | exponent as u8)
}

/// `d1 [m1 [s1]] {N|S} d2 [m2 [s2]] {E|W} alt[m] [siz[m] [hp[m] [vp[m]]]]`.
pub(super) fn loc(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    let latitude = angle(fields, "latitude", 90, ['N', 'S'])?;
    let longitude = angle(fields, "longitude", 180, ['E', 'W'])?;
    let t = fields.word("altitude")?;
    let altitude = scaled(t, "altitude", 2, true)? + 10_000_000;
    let altitude = u32::try_from(altitude)
        .map_err(|_| bad(t, "altitude", "must be -100000.00 to 42849672.95 metres"))?;
    // Defaults (RFC 1876 §3): size 1 m, horizontal precision 10 km, vertical 10 m.
    let mut sizes = [0x12, 0x16, 0x13];
    for (i, what) in ["size", "horizontal precision", "vertical precision"]
        .iter()
        .enumerate()
    {
        match fields.maybe() {
            Some(t) => sizes[i] = precision(t, what)?,
            None => break,
        }
    }
    out.push(0); // version
    out.extend_from_slice(&sizes);
    out.extend_from_slice(&latitude.to_be_bytes());
    out.extend_from_slice(&longitude.to_be_bytes());
    out.extend_from_slice(&altitude.to_be_bytes());
    Ok(())
}

/// APL items `[!]afi:address/prefix` (RFC 3123 §5); none at all is allowed.
pub(super) fn apl(fields: &mut Fields, out: &mut Vec<u8>) -> Result<(), Fail> {
    const WHAT: &str = "address prefix item";
    for t in fields.rest(WHAT, true)? {
        if t.quoted {
            return Err(bad(t, WHAT, "must not be quoted"));
        }
        let (negated, item) = match t.text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, t.text),
        };
        let shape = "is not [!]afi:address/prefix";
        let (family, rest) = item.split_once(':').ok_or_else(|| bad(t, WHAT, shape))?;
        let (address, prefix) = rest.split_once('/').ok_or_else(|| bad(t, WHAT, shape))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|_| prefix.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(t, WHAT, "bad prefix length"))?;
        let (family, mut bytes, max) = match family {
            "1" => {
                let a = Ipv4Addr::from_str(address)
                    .map_err(|_| bad(t, WHAT, "is not an IPv4 address"))?;
                (1u16, a.octets().to_vec(), 32)
            }
            "2" => {
                let a = Ipv6Addr::from_str(address)
                    .map_err(|_| bad(t, WHAT, "is not an IPv6 address"))?;
                (2u16, a.octets().to_vec(), 128)
            }
            _ => return Err(bad(t, WHAT, "address family must be 1 (IPv4) or 2 (IPv6)")),
        };
        if prefix > max {
            return Err(bad(t, WHAT, format!("prefix length above {max}")));
        }
        // RFC 3123 §4: trailing zero bytes of the address are not sent.
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        out.extend_from_slice(&family.to_be_bytes());
        out.push(prefix);
        out.push(u8::from(negated) << 7 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    Ok(())
}
