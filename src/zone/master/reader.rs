//! Entries → records: directives ($ORIGIN, $TTL, $INCLUDE), and the owner, TTL and
//! class each record inherits when it does not state them (RFC 1035 §5.1).
//!
//! Collects every error with its file and line, up to `MAX_ERRORS`; an included file
//! is read with its own origin and owner, and loops and deep nesting are refused.
//! Only regular files are read (not `/dev/zero`, a FIFO or a directory), and a zone with
//! its includes may not exceed `MAX_ZONE_BYTES`, so one `$INCLUDE` cannot exhaust memory.

use super::generate;
use super::lexer::{Entry, Lexer, Token};
use super::names::{parse_name, unescape};
use super::rdata::parse_rdata;
use super::{Fail, MAX_TTL, SourceRecord};
use crate::zone::ZoneError;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// Stop collecting after this many errors (one more says that we stopped).
pub(super) const MAX_ERRORS: usize = 100;
/// How many `$INCLUDE`s may be nested inside each other.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Records all the `$GENERATE`s of one zone may make together, so that a small file
/// cannot exhaust memory.
const MAX_GENERATED_IN_ZONE: u64 = 1_000_000;
/// Bytes one zone may read, its own file and every included file together (1 GiB).
pub(super) const MAX_ZONE_BYTES: u64 = 1 << 30;

/// Reads `text` as the file `path`, starting at `origin` (an FQDN), handing each record
/// to `sink` as soon as it is read, in file order (those of an `$INCLUDE` where it
/// stands). On errors the records already handed over are to be thrown away.
pub(super) fn read(
    text: &str,
    path: &Path,
    origin: Name,
    sink: &mut dyn FnMut(SourceRecord),
) -> Result<(), Vec<ZoneError>> {
    let mut reader = Reader {
        sink,
        errors: Vec::new(),
        dollar_ttl: None,
        last_ttl: None,
        root: path,
        include_stack: Vec::new(),
        bytes_left: MAX_ZONE_BYTES.saturating_sub(text.len() as u64),
        generated: 0,
        gave_up: false,
    };
    reader.read_text(text, Arc::from(path), origin);
    if reader.errors.is_empty() {
        Ok(())
    } else {
        Err(reader.errors)
    }
}

/// Reads a regular file of at most `limit` bytes as UTF-8. On failure gives the line to
/// blame (0 when the file could not be read at all) and a message.
pub(super) fn read_source(path: &Path, limit: u64) -> Result<String, (usize, String)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| (0, format!("cannot read {}: {e}", path.display()));
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err((
            0,
            format!(
                "cannot read {}: not a regular file (a device, FIFO or directory)",
                path.display()
            ),
        ));
    }
    let too_big = || {
        (
            0,
            format!(
                "cannot read {}: the zone and its $INCLUDE files exceed {MAX_ZONE_BYTES} bytes",
                path.display()
            ),
        )
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    // One read of the length `stat` gave and a byte more: a regular file that gives back
    // exactly that length has ended (a read to the end would ask once more to be told so,
    // a system call per zone file). Anything else (it grew, it shrank, a short read) is
    // read on to the end. The file may grow after the check: never read more than the
    // limit allows.
    let len = meta.len() as usize;
    let mut bytes = vec![0; len + 1];
    let mut file = file.take(limit.saturating_add(1));
    let first = loop {
        match file.read(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.map_err(cannot)?,
        }
    };
    bytes.truncate(first);
    if first != len {
        file.read_to_end(&mut bytes).map_err(cannot)?;
    }
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..good].iter().filter(|&&b| b == b'\n').count();
        (
            line,
            "file is not valid UTF-8 (bad byte on this line)".to_string(),
        )
    })
}

/// The owner a record without one inherits: the last one written in this file.
enum Owner {
    /// No owner yet in this file.
    Unset,
    /// The last owner could not be parsed (already reported).
    Bad,
    /// The name, and the text it was read from while the origin stays the same (empty
    /// once it changes): an owner written again as before is not parsed again.
    Name(Name, String),
}

/// What belongs to one file: `$INCLUDE` starts a fresh one, and nothing in it
/// leaks back into the including file.
struct FileState {
    path: Arc<Path>,
    origin: Name,
    owner: Owner,
}

struct Reader<'s> {
    /// Where each record goes once read (a zone is not kept as a list of records).
    sink: &'s mut dyn FnMut(SourceRecord),
    errors: Vec<ZoneError>,
    /// The `$TTL` default, once set.
    dollar_ttl: Option<u32>,
    /// TTL of the last record that stated one (RFC 1035 default).
    last_ttl: Option<u32>,
    /// The zone's own file.
    root: &'s Path,
    /// Canonical paths of the files being read, outermost first, from the first
    /// `$INCLUDE` on: a zone without one (most) does not pay for making them.
    include_stack: Vec<PathBuf>,
    /// What the zone may still read of included files (see `MAX_ZONE_BYTES`).
    bytes_left: u64,
    /// Records `$GENERATE` made so far in this zone (see `MAX_GENERATED_IN_ZONE`).
    generated: u64,
    gave_up: bool,
}

impl Reader<'_> {
    fn error(&mut self, file: &Path, line: usize, message: String) {
        if self.gave_up {
            return;
        }
        let message = if self.errors.len() >= MAX_ERRORS {
            self.gave_up = true;
            format!("too many errors (more than {MAX_ERRORS}); giving up")
        } else {
            message
        };
        self.errors.push(ZoneError::at(file, line, message));
    }

    fn read_text(&mut self, text: &str, path: Arc<Path>, origin: Name) {
        let mut st = FileState {
            path,
            origin,
            owner: Owner::Unset,
        };
        let mut lexer = Lexer::new(text);
        while !self.gave_up {
            let Some(entry) = lexer.next_entry() else {
                break;
            };
            let is_directive = !entry.indented
                && entry
                    .tokens
                    .first()
                    .is_some_and(|t| !t.quoted && t.text.starts_with('$'));
            let result = if !entry.problems.is_empty() {
                if !entry.indented && !is_directive {
                    // The owner of this broken record is unknown; records that
                    // inherit it should not each complain about that.
                    st.owner = Owner::Bad;
                }
                for (line, message) in entry.problems {
                    self.error(&st.path, line, message);
                }
                Ok(())
            } else if is_directive {
                self.directive(&mut st, &entry)
            } else {
                self.record(&mut st, &entry)
            };
            if let Err((line, message)) = result {
                self.error(&st.path, line, message);
            }
            lexer.recycle(entry.tokens);
        }
    }

    fn directive(&mut self, st: &mut FileState, entry: &Entry) -> Result<(), Fail> {
        let name = entry.tokens[0].text;
        let args = &entry.tokens[1..];
        let upper = name.to_ascii_uppercase();
        let want_one = |args: &[Token]| match args.len() {
            1 => Ok(()),
            0 => Err((entry.line, format!("{name} needs a value"))),
            _ => Err((args[1].line, format!("{name} takes one value"))),
        };
        match upper.as_str() {
            "$ORIGIN" => {
                want_one(args)?;
                st.origin = parse_name(&args[0], &st.origin).map_err(|m| {
                    (
                        args[0].line,
                        format!("bad $ORIGIN \"{}\": {m}", args[0].text),
                    )
                })?;
                // The same text may now be another name.
                if let Owner::Name(_, text) = &mut st.owner {
                    text.clear();
                }
                Ok(())
            }
            "$TTL" => {
                want_one(args)?;
                self.dollar_ttl = Some(parse_ttl_token(&args[0])?);
                Ok(())
            }
            "$INCLUDE" => self.include(st, entry),
            "$GENERATE" => self.generate(st, entry),
            _ => Err((
                entry.line,
                format!(
                    "unsupported directive {name} (only $ORIGIN, $TTL, $INCLUDE and $GENERATE)"
                ),
            )),
        }
    }

    fn include(&mut self, st: &FileState, entry: &Entry) -> Result<(), Fail> {
        let args = &entry.tokens[1..];
        if args.is_empty() || args.len() > 2 {
            return Err((
                entry.line,
                "$INCLUDE takes a file name and optionally an origin".to_string(),
            ));
        }
        let file = unescape(args[0].content())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                (
                    args[0].line,
                    format!("bad $INCLUDE file name {}", args[0].text),
                )
            })?;
        let origin = match args.get(1) {
            Some(t) => parse_name(t, &st.origin)
                .map_err(|m| (t.line, format!("bad $INCLUDE origin \"{}\": {m}", t.text)))?,
            None => st.origin.clone(),
        };
        let target = st.path.parent().unwrap_or(Path::new("")).join(file);
        if self.include_stack.is_empty() {
            let root = self.root;
            self.include_stack
                .push(std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()));
        }
        if self.include_stack.len() > MAX_INCLUDE_DEPTH {
            return Err((
                entry.line,
                format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep"),
            ));
        }
        let canonical = std::fs::canonicalize(&target).map_err(|e| {
            (
                entry.line,
                format!("cannot read included file {}: {e}", target.display()),
            )
        })?;
        if self.include_stack.contains(&canonical) {
            return Err((
                entry.line,
                format!("$INCLUDE loop: {} is already being read", target.display()),
            ));
        }
        let text = match read_source(&target, self.bytes_left) {
            Ok(text) => {
                self.bytes_left -= text.len() as u64;
                text
            }
            Err((0, message)) => return Err((entry.line, message)),
            Err((line, message)) => {
                self.error(&target, line, message);
                return Ok(());
            }
        };
        self.include_stack.push(canonical);
        self.read_text(&text, Arc::from(target.as_path()), origin);
        self.include_stack.pop();
        Ok(())
    }

    /// `$GENERATE`: each generated line is read as a record written on this line. The
    /// owner a later indented line reuses is the one before the directive.
    fn generate(&mut self, st: &mut FileState, entry: &Entry) -> Result<(), Fail> {
        let lines = generate::expand(&entry.tokens[1..], entry.line)?;
        self.generated += lines.len() as u64;
        if self.generated > MAX_GENERATED_IN_ZONE {
            return Err((
                entry.line,
                format!("$GENERATE makes more than {MAX_GENERATED_IN_ZONE} records in this zone"),
            ));
        }
        let owner = std::mem::replace(&mut st.owner, Owner::Unset);
        for text in &lines {
            let Some(generated) = Lexer::at_line(text, entry.line).next_entry() else {
                continue;
            };
            let result = match generated.problems.first() {
                Some(problem) => Err(problem.clone()),
                None => self.record(st, &generated),
            };
            if let Err((line, message)) = result {
                st.owner = owner;
                return Err((line, format!("{message} (generated: {text})")));
            }
            if self.gave_up {
                break;
            }
        }
        st.owner = owner;
        Ok(())
    }

    fn record(&mut self, st: &mut FileState, entry: &Entry) -> Result<(), Fail> {
        let tokens = &entry.tokens;
        let mut next = 0;
        // None: the owner is broken and was reported; check the rest, emit nothing.
        let owner = if entry.indented {
            match &st.owner {
                Owner::Name(name, _) => Some(name.clone()),
                Owner::Bad => None,
                Owner::Unset => {
                    return Err((
                        entry.line,
                        "line starts with a space but there is no previous owner name to reuse"
                            .to_string(),
                    ));
                }
            }
        } else {
            next = 1;
            let written = tokens[0].text;
            match &st.owner {
                Owner::Name(name, text) if !tokens[0].quoted && text == written => {
                    Some(name.clone())
                }
                _ => match parse_name(&tokens[0], &st.origin) {
                    Ok(name) => {
                        match &mut st.owner {
                            Owner::Name(last, text) => {
                                last.clone_from(&name);
                                text.clear();
                                text.push_str(written);
                            }
                            other => *other = Owner::Name(name.clone(), written.to_string()),
                        }
                        Some(name)
                    }
                    Err(m) => {
                        st.owner = Owner::Bad;
                        return Err((
                            tokens[0].line,
                            format!("bad owner name \"{}\": {m}", tokens[0].text),
                        ));
                    }
                },
            }
        };

        // [TTL] [class] type, TTL and class in either order.
        let mut ttl = None;
        let mut class_seen = false;
        let record_type = loop {
            let Some(token) = tokens.get(next) else {
                let line = tokens.last().map_or(entry.line, |t| t.line);
                return Err((line, "missing record type".to_string()));
            };
            next += 1;
            if !token.quoted
                && token
                    .text
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_digit())
            {
                if ttl.is_some() {
                    return Err((token.line, format!("second TTL \"{}\"", token.text)));
                }
                let value = parse_ttl_token(token)?;
                ttl = Some(value);
                self.last_ttl = Some(value);
                continue;
            }
            // ANY is both a class and a type; after a class it is the type.
            let any_type = class_seen && token.text.eq_ignore_ascii_case("ANY");
            if !token.quoted && is_class(token.text) && !any_type {
                if class_seen {
                    return Err((token.line, format!("second class \"{}\"", token.text)));
                }
                class_seen = true;
                if !token.text.eq_ignore_ascii_case("IN")
                    && !token.text.eq_ignore_ascii_case("CLASS1")
                {
                    return Err((
                        token.line,
                        format!("class {} is not supported (only IN)", token.text),
                    ));
                }
                continue;
            }
            break parse_type(token)?;
        };

        let rdata = parse_rdata(record_type, &tokens[next..], &st.origin, entry.line)?;
        let ttl = match ttl.or(self.dollar_ttl).or(self.last_ttl) {
            Some(ttl) => ttl,
            None => match &rdata {
                RData::SOA(soa) if soa.minimum <= MAX_TTL => {
                    self.last_ttl = Some(soa.minimum);
                    soa.minimum
                }
                RData::SOA(soa) => {
                    return Err((
                        entry.line,
                        format!(
                            "no TTL and no $TTL, and the SOA minimum {} is above {MAX_TTL}",
                            soa.minimum
                        ),
                    ));
                }
                _ => {
                    return Err((
                        entry.line,
                        "no TTL and no $TTL: give this record a TTL or put $TTL before it"
                            .to_string(),
                    ));
                }
            },
        };
        if let Some(name) = owner {
            (self.sink)(SourceRecord {
                name,
                ttl,
                rdata,
                file: st.path.clone(),
                line: entry.line,
            });
        }
        Ok(())
    }
}

fn parse_ttl_token(token: &Token) -> Result<u32, Fail> {
    let value = (!token.quoted)
        .then(|| parse_ttl(token.text).ok())
        .flatten()
        .ok_or_else(|| (token.line, format!("bad TTL \"{}\"", token.text)))?;
    if value > MAX_TTL {
        return Err((
            token.line,
            format!("TTL {value} is above the maximum {MAX_TTL}"),
        ));
    }
    Ok(value)
}

fn is_class(text: &str) -> bool {
    const CLASSES: [&str; 8] = ["IN", "CH", "CHAOS", "HS", "HESIOD", "CS", "NONE", "ANY"];
    CLASSES.iter().any(|c| text.eq_ignore_ascii_case(c))
        || text
            .as_bytes()
            .split_at_checked(5)
            .is_some_and(|(class, n)| {
                class.eq_ignore_ascii_case(b"CLASS")
                    && !n.is_empty()
                    && n.iter().all(u8::is_ascii_digit)
            })
}

/// Calls `f` with `text` in upper case, made on the stack when it is short (a type
/// mnemonic is read at every record).
fn with_upper<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 16];
    if let Some(short) = buf.get_mut(..text.len()) {
        short.copy_from_slice(text.as_bytes());
        short.make_ascii_uppercase();
        // Upper-casing ASCII bytes leaves UTF-8 valid.
        if let Ok(upper) = std::str::from_utf8(short) {
            return f(upper);
        }
    }
    f(&text.to_ascii_uppercase())
}

fn parse_type(token: &Token) -> Result<RecordType, Fail> {
    with_upper(token.text, |upper| parse_type_upper(token, upper))
}

/// [`parse_type`] of `token`, whose text is `upper` in upper case.
fn parse_type_upper(token: &Token, upper: &str) -> Result<RecordType, Fail> {
    let unknown = || {
        (
            token.line,
            format!(
                "unknown record type \"{}\" (a type Meridian does not know can be \
                 written as TYPEnnn \\# <length> <hex>)",
                token.text
            ),
        )
    };
    let record_type = match upper.strip_prefix("TYPE") {
        Some(number) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
            RecordType::from(number.parse::<u16>().map_err(|_| unknown())?)
        }
        _ if token.quoted || upper == "*" => return Err(unknown()),
        _ => match super::rdata::common_type(upper).or_else(|| super::types::code_of(upper)) {
            Some(code) => RecordType::from(code),
            None => RecordType::from_str(upper).map_err(|_| unknown())?,
        },
    };
    let code = u16::from(record_type);
    if code == 0 || code == 41 || (128..=255).contains(&code) {
        return Err((
            token.line,
            format!(
                "{} is a query or meta type and cannot appear in zone data",
                token.text
            ),
        ));
    }
    Ok(record_type)
}
