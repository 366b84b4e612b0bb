//! BIND's `$GENERATE range owner [ttl] [class] type data`: one record per number of
//! the range, with `$` in the owner and the data replaced by the number.
//!
//! `${offset[,width[,base]]}` adds an offset, pads to a width and writes the number in
//! base `d`, `o`, `x`, `X`, or as reversed nibbles `n`/`N` (for ip6.arpa), as BIND does;
//! `\$` is a `$` and `$$` too. The generated lines are read as records by the reader.

use super::Fail;
use super::lexer::Token;

#[cfg(test)]
mod tests;

/// The most records one `$GENERATE` may make.
pub(super) const MAX_GENERATED: u64 = 100_000;

/// The record lines (owner, then the rest as written) of a `$GENERATE` whose arguments
/// are `args`, at `line`.
pub(super) fn expand(args: &[Token], line: usize) -> Result<Vec<String>, Fail> {
    if args.len() < 4 {
        return Err((
            line,
            "$GENERATE takes a range, an owner, [TTL] [class], a type and data".to_string(),
        ));
    }
    let range = &args[0];
    let bad_range = || {
        (
            range.line,
            format!(
                "bad $GENERATE range \"{}\" (start-stop or start-stop/step)",
                range.text
            ),
        )
    };
    let (bounds, step) = match range.text.split_once('/') {
        Some((bounds, step)) => (bounds, parse_u32(step).ok_or_else(bad_range)?),
        None => (range.text, 1),
    };
    let (start, stop) = bounds.split_once('-').ok_or_else(bad_range)?;
    let (start, stop) = (
        parse_u32(start).ok_or_else(bad_range)?,
        parse_u32(stop).ok_or_else(bad_range)?,
    );
    if range.quoted || start > stop || step == 0 {
        return Err(bad_range());
    }
    let count = u64::from(stop - start) / u64::from(step) + 1;
    if count > MAX_GENERATED {
        return Err((
            range.line,
            format!(
                "$GENERATE range \"{}\" makes more than {MAX_GENERATED} records",
                range.text
            ),
        ));
    }
    let mut lines = Vec::with_capacity(count as usize);
    let mut i = u64::from(start);
    while i <= u64::from(stop) {
        let words: Result<Vec<String>, Fail> =
            args[1..].iter().map(|t| substitute(t, i as i64)).collect();
        lines.push(words?.join(" "));
        i += u64::from(step);
    }
    Ok(lines)
}

fn parse_u32(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One word with every `$` replaced by `value` (as its modifier says).
fn substitute(token: &Token, value: i64) -> Result<String, Fail> {
    let text = token.text;
    let bad = |why: &str| (token.line, format!("$GENERATE \"{text}\": {why}"));
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            // An escape is kept for the record's own reader: `\$` is then a `$`.
            '\\' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            '$' if chars.peek().is_some_and(|&(_, c)| c == '$') => {
                chars.next();
                out.push_str("\\$");
            }
            '$' if chars.peek().is_some_and(|&(_, c)| c == '{') => {
                let rest = &text[i + 2..];
                let end = rest.find('}').ok_or_else(|| bad("${ without }"))?;
                let spec = &rest[..end];
                out.push_str(&modified(spec, value).map_err(|why| bad(&why))?);
                // Skip past the closing brace.
                for _ in 0..spec.chars().count() + 2 {
                    chars.next();
                }
            }
            '$' => out.push_str(&value.to_string()),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// `offset[,width[,base]]` applied to `value`.
fn modified(spec: &str, value: i64) -> Result<String, String> {
    let mut parts = spec.split(',');
    let offset: i64 = match parts.next().map(str::trim) {
        Some("") | None => 0,
        Some(o) => o.parse().map_err(|_| format!("bad offset \"{o}\""))?,
    };
    let width: usize = match parts.next().map(str::trim) {
        Some("") | None => 0,
        Some(w) => w
            .parse()
            .ok()
            .filter(|&w| w <= 255)
            .ok_or_else(|| format!("bad width \"{w}\""))?,
    };
    let base = parts.next().map(str::trim).unwrap_or("d");
    if parts.next().is_some() {
        return Err("a modifier is ${offset,width,base}".to_string());
    }
    let n = value
        .checked_add(offset)
        .ok_or_else(|| format!("bad offset {offset}"))?;
    if n < 0 {
        return Err(format!("the offset makes the number {n}, below 0"));
    }
    Ok(match base {
        "d" => format!("{n:0width$}"),
        "o" => format!("{n:0width$o}"),
        "x" => format!("{n:0width$x}"),
        "X" => format!("{n:0width$X}"),
        "n" | "N" => nibbles(n as u64, width, base == "N"),
        _ => return Err(format!("bad base \"{base}\" (d, o, x, X, n or N)")),
    })
}

/// The hex digits of `n`, lowest first, separated by dots, until `n` is used up and at
/// least `width` characters (digits and dots) are written: BIND's nibble format.
fn nibbles(mut n: u64, mut width: usize, upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    loop {
        out.push(digits[(n & 0xf) as usize] as char);
        n >>= 4;
        width = width.saturating_sub(1);
        if n == 0 && width == 0 {
            break;
        }
        out.push('.');
        width = width.saturating_sub(1);
        if n == 0 && width == 0 {
            break;
        }
    }
    out
}
