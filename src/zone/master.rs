//! Reader for RFC 1035 master (zone) files. It turns zone text into records that
//! remember the file and line they were written on, and reports every problem it
//! finds with file and line. It only reads: it must not judge zone-level rules
//! (SOA present, names inside the zone, CNAME conflicts), which a later stage
//! checks, and it must never panic, whatever the input.

use hickory_proto::rr::rdata::{ANAME, CNAME, HTTPS, NS, NULL, PTR, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, Restrict};
use hickory_proto::serialize::txt::parse_ttl;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// Stop collecting after this many errors (one more says that we stopped).
const MAX_ERRORS: usize = 100;
/// How many `$INCLUDE`s may be nested inside each other.
const MAX_INCLUDE_DEPTH: usize = 16;
/// RFC 2181 §8: a TTL is an unsigned number between 0 and 2^31 - 1.
const MAX_TTL: u32 = i32::MAX as u32;

/// One resource record as read from a master file, with where it was written.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub name: Name,
    pub ttl: u32,
    pub rdata: RData,
    pub file: Arc<Path>,
    pub line: usize,
}

/// A problem in a master file, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterFileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for MasterFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for MasterFileError {}

/// Reads the master file at `path`; `origin` (an FQDN) is the initial `$ORIGIN`.
pub fn parse_file(path: &Path, origin: &Name) -> Result<Vec<SourceRecord>, Vec<MasterFileError>> {
    let text = read_source(path).map_err(|(line, message)| {
        vec![MasterFileError {
            file: path.to_path_buf(),
            line,
            message,
        }]
    })?;
    parse_str(&text, path, origin)
}

/// Reads master-file `text`. `path` names it in errors and records, and relative
/// `$INCLUDE` files are looked up in its directory.
pub fn parse_str(
    text: &str,
    path: &Path,
    origin: &Name,
) -> Result<Vec<SourceRecord>, Vec<MasterFileError>> {
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    let mut reader = Reader::default();
    reader
        .include_stack
        .push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
    reader.read_text(text, Arc::from(path), origin);
    if reader.errors.is_empty() {
        Ok(reader.records)
    } else {
        Err(reader.errors)
    }
}

/// Reads a file as UTF-8. On failure gives the line to blame (0 when the file
/// could not be read at all) and a message.
fn read_source(path: &Path) -> Result<String, (usize, String)> {
    let bytes =
        std::fs::read(path).map_err(|e| (0, format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..good].iter().filter(|&&b| b == b'\n').count();
        (
            line,
            "file is not valid UTF-8 (bad byte on this line)".to_string(),
        )
    })
}

// ---------------------------------------------------------------------------
// Tokenizer: text → entries (one record or directive each, parentheses joined).

/// One word of an entry, exactly as written (quotes and escapes kept).
#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    line: usize,
    /// Written as `"..."`; `text` includes the quotes.
    quoted: bool,
}

impl Token<'_> {
    /// The characters between the quotes of a quoted token, or the whole text.
    fn content(&self) -> &str {
        if self.quoted {
            let inner = self.text.strip_prefix('"').unwrap_or(self.text);
            inner.strip_suffix('"').unwrap_or(inner)
        } else {
            self.text
        }
    }
}

/// One logical line: a record or a directive.
#[derive(Debug)]
struct Entry<'a> {
    /// Line of the first token.
    line: usize,
    /// The line began with a space or tab: the owner is not given.
    indented: bool,
    tokens: Vec<Token<'a>>,
    /// Syntax problems found while tokenizing (line, message).
    problems: Vec<(usize, String)>,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Lexer {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips a backslash and the byte it escapes (never a newline).
    fn skip_escape(&mut self) {
        self.pos += 1;
        if self.byte().is_some_and(|b| b != b'\n') {
            self.pos += 1;
        }
    }

    /// From just after an opening quote, skips past the closing quote.
    /// Returns false, stopping at the newline or end of text, if there is none.
    fn skip_quoted(&mut self) -> bool {
        loop {
            match self.byte() {
                None | Some(b'\n') => return false,
                Some(b'"') => {
                    self.pos += 1;
                    return true;
                }
                Some(b'\\') => self.skip_escape(),
                Some(_) => self.pos += 1,
            }
        }
    }

    fn next_entry(&mut self) -> Option<Entry<'a>> {
        while self.pos < self.text.len() {
            let mut entry = Entry {
                line: self.line,
                indented: matches!(self.byte(), Some(b' ' | b'\t')),
                tokens: Vec::new(),
                problems: Vec::new(),
            };
            // Line of the '(' that is still open.
            let mut open: Option<usize> = None;
            loop {
                let Some(b) = self.byte() else {
                    if let Some(line) = open {
                        entry
                            .problems
                            .push((line, "'(' is never closed by ')'".to_string()));
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if open.is_none() {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        while self.byte().is_some_and(|b| b != b'\n') {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        if open.is_some() {
                            entry
                                .problems
                                .push((self.line, "parentheses cannot be nested".to_string()));
                        } else {
                            open = Some(self.line);
                        }
                        self.pos += 1;
                    }
                    b')' => {
                        if open.is_none() {
                            entry
                                .problems
                                .push((self.line, "')' without an open '('".to_string()));
                        }
                        open = None;
                        self.pos += 1;
                    }
                    b'"' => {
                        let start = self.pos;
                        self.pos += 1;
                        if !self.skip_quoted() {
                            entry.problems.push((
                                self.line,
                                "quoted string is not closed before the end of the line"
                                    .to_string(),
                            ));
                        }
                        self.push_token(&mut entry, start, true);
                    }
                    _ => {
                        let start = self.pos;
                        loop {
                            match self.byte() {
                                None | Some(b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')') => {
                                    break;
                                }
                                Some(b'\\') => self.skip_escape(),
                                Some(b'"') => {
                                    self.pos += 1;
                                    if !self.skip_quoted() {
                                        entry.problems.push((
                                            self.line,
                                            "quoted string is not closed before the end of the line"
                                                .to_string(),
                                        ));
                                    }
                                }
                                Some(_) => self.pos += 1,
                            }
                        }
                        self.push_token(&mut entry, start, false);
                    }
                }
            }
            if let Some(first) = entry.tokens.first() {
                entry.line = first.line;
            }
            if !entry.tokens.is_empty() || !entry.problems.is_empty() {
                return Some(entry);
            }
        }
        None
    }

    fn push_token(&self, entry: &mut Entry<'a>, start: usize, quoted: bool) {
        // Tokens start and end next to ASCII delimiters, so `get` always succeeds;
        // it is used anyway so that a mistake here cannot panic.
        if let Some(text) = self.text.get(start..self.pos) {
            entry.tokens.push(Token {
                text,
                line: self.line,
                quoted,
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Reader: entries → records, following directives and includes.

/// (line, message) of a problem in the file being read.
type Fail = (usize, String);

enum Owner {
    /// No owner yet in this file.
    Unset,
    /// The last owner could not be parsed (already reported).
    Bad,
    Name(Name),
}

/// What belongs to one file: `$INCLUDE` starts a fresh one, and nothing in it
/// leaks back into the including file.
struct FileState {
    path: Arc<Path>,
    origin: Name,
    owner: Owner,
}

#[derive(Default)]
struct Reader {
    records: Vec<SourceRecord>,
    errors: Vec<MasterFileError>,
    /// The `$TTL` default, once set.
    dollar_ttl: Option<u32>,
    /// TTL of the last record that stated one (RFC 1035 default).
    last_ttl: Option<u32>,
    /// Canonical paths of the files being read, outermost first.
    include_stack: Vec<PathBuf>,
    gave_up: bool,
}

impl Reader {
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
        self.errors.push(MasterFileError {
            file: file.to_path_buf(),
            line,
            message,
        });
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
                Ok(())
            }
            "$TTL" => {
                want_one(args)?;
                self.dollar_ttl = Some(parse_ttl_token(&args[0])?);
                Ok(())
            }
            "$INCLUDE" => self.include(st, entry),
            _ => Err((
                entry.line,
                format!("unsupported directive {name} (only $ORIGIN, $TTL and $INCLUDE)"),
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
        let text = match read_source(&target) {
            Ok(text) => text,
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

    fn record(&mut self, st: &mut FileState, entry: &Entry) -> Result<(), Fail> {
        let tokens = &entry.tokens;
        let mut next = 0;
        // None: the owner is broken and was reported; check the rest, emit nothing.
        let owner = if entry.indented {
            match &st.owner {
                Owner::Name(name) => Some(name.clone()),
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
            match parse_name(&tokens[0], &st.origin) {
                Ok(name) => {
                    st.owner = Owner::Name(name.clone());
                    Some(name)
                }
                Err(m) => {
                    st.owner = Owner::Bad;
                    return Err((
                        tokens[0].line,
                        format!("bad owner name \"{}\": {m}", tokens[0].text),
                    ));
                }
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
                let upper = token.text.to_ascii_uppercase();
                if upper != "IN" && upper != "CLASS1" {
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
            self.records.push(SourceRecord {
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
    let upper = text.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "IN" | "CH" | "CHAOS" | "HS" | "HESIOD" | "CS" | "NONE" | "ANY"
    ) || upper
        .strip_prefix("CLASS")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_type(token: &Token) -> Result<RecordType, Fail> {
    let upper = token.text.to_ascii_uppercase();
    let unknown = || {
        (
            token.line,
            format!(
                "unknown record type \"{}\" (a type hickory does not know can be \
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
        _ => RecordType::from_str(&upper).map_err(|_| unknown())?,
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

/// The mnemonic of a type, or `TYPEnnn` when hickory has none.
fn type_name(record_type: RecordType) -> String {
    match record_type {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// RDATA

/// Exact field count of types whose fields are all single tokens.
fn field_count(record_type: RecordType) -> Option<usize> {
    use RecordType::*;
    match record_type {
        A | AAAA | CNAME | NS | PTR | ANAME | DNAME => Some(1),
        MX | HINFO => Some(2),
        SRV => Some(4),
        NAPTR => Some(6),
        SOA => Some(7),
        _ => None,
    }
}

/// Which rdata fields are domain names, for types hickory parses for us.
/// We parse those names ourselves (hickory's name parser lowercases, reads
/// `\DDD` as octal and knows no origin) and give hickory "." in their place.
fn name_fields(record_type: RecordType) -> &'static [usize] {
    match record_type {
        RecordType::MX | RecordType::SVCB | RecordType::HTTPS => &[1],
        RecordType::SRV => &[3],
        RecordType::SOA => &[0, 1],
        RecordType::NAPTR => &[5],
        _ => &[],
    }
}

fn parse_rdata(
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
    if let RecordType::Unknown(_) = record_type {
        return Err(bad(
            record_line,
            "hickory has no text format for this type; \
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

    let mut names = names.into_iter();
    match &mut rdata {
        RData::MX(mx) => set_name(&mut mx.exchange, names.next()),
        RData::SRV(srv) => set_name(&mut srv.target, names.next()),
        RData::NAPTR(naptr) => set_name(&mut naptr.replacement, names.next()),
        RData::SVCB(svcb) | RData::HTTPS(HTTPS(svcb)) => {
            set_name(&mut svcb.target_name, names.next())
        }
        RData::SOA(soa) => {
            set_name(&mut soa.mname, names.next());
            set_name(&mut soa.rname, names.next());
        }
        _ => {}
    }
    Ok(rdata)
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

/// Uncompressed wire form of a name.
fn name_wire(name: &Name) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
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

// ---------------------------------------------------------------------------
// Names and escapes

/// Decodes RFC 1035 escapes: `\X` is X, `\DDD` is the byte with decimal value DDD.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
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
fn parse_name(token: &Token, origin: &Name) -> Result<Name, String> {
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
