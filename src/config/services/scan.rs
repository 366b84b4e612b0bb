//! The TOML that services files are written in, read straight from the text into
//! [`RawService`]s, without building a parsed tree: `[services.NAME]`,
//! `[services.NAME.check]` and `[[services.NAME.route]]` headers, comments, and the keys
//! of a service with their usual values (integers, strings, booleans, arrays of them,
//! inline tables, arrays of inline tables, over several lines or one).
//!
//! Anything else, or anything wrong (an unknown key, a value of another type, a duplicate,
//! a syntax error), gives `None`, and the file is read by the full TOML parser as before,
//! so every message stays exactly what that path says. So this never has to explain a
//! problem, only to be sure that what it accepts means what the full parser reads.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;

use super::super::raw::{RawCheck, RawEndpoint, RawRoute, RawService, RawStatus};

/// One `[services.NAME]` as read: the name as written, where it is written, its table.
pub(super) struct ScannedService {
    /// The key after decoding quotes and escapes.
    pub(super) name: String,
    /// Of the key in `[services.NAME]`, as the full parser gives it.
    pub(super) span: Range<usize>,
    pub(super) raw: RawService,
}

/// Every service of `text` in file order, or `None` when the file holds anything but the
/// common subset this reads (then the full parser reads it).
pub(super) fn services(text: &str) -> Option<Vec<ScannedService>> {
    let mut scanner = Scanner {
        b: text.as_bytes(),
        text,
        i: 0,
    };
    scanner.file()
}

/// What the key/value lines below the last header go into.
#[derive(Clone, Copy)]
enum Open {
    /// Before the first header: nothing may be written there.
    Nothing,
    /// `[services.NAME]`: the last service.
    Service,
    /// `[services.NAME.check]`: the last service's check.
    Check,
    /// `[[services.NAME.route]]`: the last route of the last service.
    Route,
}

/// The string kinds of keys and values this reads.
type Text = Spanned<String>;

struct Scanner<'t> {
    b: &'t [u8],
    text: &'t str,
    i: usize,
}

impl<'t> Scanner<'t> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at(&self, s: &[u8]) -> bool {
        self.b[self.i..].starts_with(s)
    }

    /// Spaces and tabs.
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// A comment from `#` to the end of the line (not the newline). TOML refuses control
    /// characters other than tab in comments.
    fn comment(&mut self) -> Option<()> {
        if self.peek() != Some(b'#') {
            return Some(());
        }
        while let Some(c) = self.peek() {
            match c {
                b'\n' | b'\r' => break,
                b'\t' => {}
                0..=0x1f | 0x7f => return None,
                _ => {}
            }
            self.i += 1;
        }
        Some(())
    }

    /// The end of a line: a newline, or the end of the text. Not a lone `\r`.
    fn newline(&mut self) -> Option<()> {
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.i += 1;
                Some(())
            }
            Some(b'\r') if self.b.get(self.i + 1) == Some(&b'\n') => {
                self.i += 2;
                Some(())
            }
            _ => None,
        }
    }

    /// Blanks, a comment, and the end of the line.
    fn line_end(&mut self) -> Option<()> {
        self.blanks();
        self.comment()?;
        self.newline()
    }

    /// Blanks, comments and newlines, as allowed between the items of an array.
    fn gaps(&mut self) -> Option<()> {
        loop {
            self.blanks();
            self.comment()?;
            match self.peek() {
                Some(b'\n' | b'\r') => self.newline()?,
                _ => return Some(()),
            }
        }
    }

    fn file(&mut self) -> Option<Vec<ScannedService>> {
        // As many as there are headers that may open one (a services file is mostly
        // services), so the list is not copied as it grows.
        let headers = memchr::memmem::find_iter(self.b, b"[services.").count();
        let mut services: Vec<ScannedService> = Vec::with_capacity(headers);
        let mut names = rustc_hash::FxHashSet::default();
        let mut open = Open::Nothing;
        // The last service's routes so far are `[[services.NAME.route]]` tables (which
        // more may follow), not an inline `route = [...]` (which no table may extend).
        let mut header_routes = false;
        loop {
            self.blanks();
            match self.peek() {
                None => return Some(services),
                Some(b'\n' | b'\r' | b'#') => self.line_end()?,
                Some(b'[') if self.at(b"[[") => {
                    let start = self.i;
                    self.i += 2;
                    let path = self.key_path()?;
                    if !self.at(b"]]") {
                        return None;
                    }
                    self.i += 2;
                    let end = self.i;
                    self.line_end()?;
                    // Only the routes of the service just opened: an array of tables of
                    // another service, or one given `route = [...]` too, is for the full
                    // parser.
                    let service = services.last_mut()?;
                    match path.as_slice() {
                        [s, name, r]
                            if s.get_ref() == "services"
                                && r.get_ref() == "route"
                                && *name.get_ref() == service.name =>
                        {
                            let routes = match &mut service.raw.route {
                                None => service.raw.route.insert(Vec::new()),
                                Some(routes) if header_routes => routes,
                                Some(_) => return None,
                            };
                            routes.push(Spanned::new(start..end, RawRoute::default()));
                            open = Open::Route;
                            header_routes = true;
                        }
                        _ => return None,
                    }
                }
                Some(b'[') => {
                    let start = self.i;
                    self.i += 1;
                    let path = self.key_path()?;
                    if self.peek() != Some(b']') {
                        return None;
                    }
                    self.i += 1;
                    let header = start..self.i;
                    self.line_end()?;
                    match path.as_slice() {
                        [s, name] if s.get_ref() == "services" => {
                            if !names.insert(name.get_ref().clone()) {
                                return None;
                            }
                            services.push(ScannedService {
                                name: name.get_ref().to_string(),
                                span: name.span(),
                                raw: RawService::default(),
                            });
                            open = Open::Service;
                            header_routes = false;
                        }
                        [s, name, c] if s.get_ref() == "services" && c.get_ref() == "check" => {
                            let service = services.last_mut()?;
                            if *name.get_ref() != service.name || service.raw.check.is_some() {
                                return None;
                            }
                            // As the full parser does: the header is the table's span.
                            service.raw.check = Some(Spanned::new(header, RawCheck::default()));
                            open = Open::Check;
                        }
                        _ => return None,
                    }
                }
                Some(_) => {
                    let service = services.last_mut()?;
                    let raw = &mut service.raw;
                    match open {
                        Open::Nothing => return None,
                        Open::Service => self.service_key(raw)?,
                        Open::Check => {
                            let check = raw.check.as_mut()?;
                            self.check_key(check.get_mut())?;
                        }
                        Open::Route => {
                            let route = raw.route.as_mut()?.last_mut()?;
                            self.route_key(route.get_mut())?;
                        }
                    }
                    self.line_end()?;
                }
            }
        }
    }

    /// `a.b."c"` in a header, with blanks around the dots; stops before `]`.
    fn key_path(&mut self) -> Option<Vec<Spanned<Cow<'t, str>>>> {
        let mut path = Vec::new();
        loop {
            self.blanks();
            path.push(self.key()?);
            self.blanks();
            if self.peek() != Some(b'.') {
                return Some(path);
            }
            self.i += 1;
        }
    }

    /// A bare or quoted key: borrowed from the text unless quoted (most keys are bare,
    /// and a key is only compared, never kept, except a service's name).
    fn key(&mut self) -> Option<Spanned<Cow<'t, str>>> {
        let start = self.i;
        match self.peek()? {
            b'"' | b'\'' => self.text_of_string(),
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                {
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
                let key = &self.text[start..self.i];
                Some(Spanned::new(start..self.i, Cow::Borrowed(key)))
            }
        }
    }

    /// `KEY =` of a key/value line: a single key (a dotted one is for the full parser).
    fn key_eq(&mut self) -> Option<Cow<'t, str>> {
        let key = self.key()?;
        self.blanks();
        if self.peek() != Some(b'=') {
            return None;
        }
        self.i += 1;
        self.blanks();
        Some(key.into_inner())
    }

    /// A basic string without multi-line quotes, with the escapes TOML 1.0 has, or a
    /// literal string.
    fn string(&mut self) -> Option<Text> {
        let text = self.text_of_string()?;
        let span = text.span();
        Some(Spanned::new(span, text.into_inner().into_owned()))
    }

    /// [`Scanner::string`], borrowed from the text when it holds no escape.
    fn text_of_string(&mut self) -> Option<Spanned<Cow<'t, str>>> {
        let start = self.i;
        let quote = self.peek()?;
        if self.at(b"\"\"\"") || self.at(b"'''") {
            return None;
        }
        self.i += 1;
        // Most strings hold no escape and no control character: one search to the quote,
        // one copy. Anything else is read byte by byte below.
        let body = &self.b[self.i..];
        let stop = body
            .iter()
            .position(|&c| c == quote || c == b'\\' || (c < 0x20 && c != b'\t') || c == 0x7f)?;
        if body[stop] == quote {
            let out = &self.text[self.i..self.i + stop];
            self.i += stop + 1;
            return Some(Spanned::new(start..self.i, Cow::Borrowed(out)));
        }
        let mut out = String::new();
        let mut run = self.i;
        loop {
            let c = self.peek()?;
            match c {
                _ if c == quote => {
                    out.push_str(&self.text[run..self.i]);
                    self.i += 1;
                    return Some(Spanned::new(start..self.i, Cow::Owned(out)));
                }
                b'\\' if quote == b'"' => {
                    out.push_str(&self.text[run..self.i]);
                    let escaped = match self.b.get(self.i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'b' => '\u{8}',
                        b't' => '\t',
                        b'n' => '\n',
                        b'f' => '\u{c}',
                        b'r' => '\r',
                        _ => return None,
                    };
                    out.push(escaped);
                    self.i += 2;
                    run = self.i;
                }
                b'\t' => self.i += 1,
                0..=0x1f | 0x7f => return None,
                _ => self.i += 1,
            }
        }
    }

    /// A decimal integer as TOML writes it (`+`/`-`, `_` between digits, no leading zero).
    fn int(&mut self) -> Option<Spanned<i64>> {
        let start = self.i;
        let negative = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                true
            }
            Some(b'+') => {
                self.i += 1;
                false
            }
            _ => false,
        };
        let first = self.i;
        // Counted towards the negative end, which holds every i64.
        let mut n: i64 = 0;
        let mut last_digit = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {
                    n = n.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
                    last_digit = true;
                }
                b'_' if last_digit => last_digit = false,
                _ => break,
            }
            self.i += 1;
        }
        if !last_digit {
            return None;
        }
        let leading_zero = self.b[first] == b'0' && self.i > first + 1;
        // A leading zero, or what makes it a float, a date or a time.
        let more = self.peek().is_some_and(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'-' | b'+' | b'_')
        });
        if leading_zero || more {
            return None;
        }
        let n = if negative { n } else { n.checked_neg()? };
        Some(Spanned::new(start..self.i, n))
    }

    fn boolean(&mut self) -> Option<Spanned<bool>> {
        let start = self.i;
        let value = if self.at(b"true") {
            self.i += 4;
            true
        } else if self.at(b"false") {
            self.i += 5;
            false
        } else {
            return None;
        };
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return None;
        }
        Some(Spanned::new(start..self.i, value))
    }

    /// `[ITEM, ...]` over any number of lines, with comments and a trailing comma.
    fn array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Spanned<Vec<T>>> {
        let start = self.i;
        if self.peek() != Some(b'[') {
            return None;
        }
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.gaps()?;
            if self.peek() == Some(b']') {
                self.i += 1;
                return Some(Spanned::new(start..self.i, items));
            }
            items.push(item(self)?);
            self.gaps()?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {}
                _ => return None,
            }
        }
    }

    fn strings(&mut self) -> Option<Spanned<Vec<Text>>> {
        self.array(|s| s.string_value())
    }

    /// A string value, as a `String`, or as an inline `CompactString` where the field is
    /// one (no allocation for the short strings most values are).
    fn string_value<S: From<Cow<'t, str>>>(&mut self) -> Option<Spanned<S>> {
        match self.peek()? {
            b'"' | b'\'' => {
                let text = self.text_of_string()?;
                let span = text.span();
                Some(Spanned::new(span, S::from(text.into_inner())))
            }
            _ => None,
        }
    }

    /// `{ KEY = VALUE, ... }` on one line (TOML 1.0: no newline, no trailing comma), each
    /// key/value read by `pair`.
    fn inline<T: Default>(
        &mut self,
        mut pair: impl FnMut(&mut Self, &mut T) -> Option<()>,
    ) -> Option<Spanned<T>> {
        let start = self.i;
        if self.peek() != Some(b'{') {
            return None;
        }
        self.i += 1;
        let mut value = T::default();
        self.blanks();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(Spanned::new(start..self.i, value));
        }
        loop {
            self.blanks();
            pair(self, &mut value)?;
            self.blanks();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(Spanned::new(start..self.i, value));
                }
                _ => return None,
            }
        }
    }

    /// One `KEY = VALUE` of a service's table.
    fn service_key(&mut self, raw: &mut RawService) -> Option<()> {
        let key = self.key_eq()?;
        match key.as_ref() {
            "ttl" => set(&mut raw.ttl, self.int()?),
            "max_answers" => set(&mut raw.max_answers, self.int()?),
            "policy" => set(&mut raw.policy, self.string_value()?),
            "order" => set(&mut raw.order, self.strings()?),
            "unknown_location" => set(&mut raw.unknown_location, self.strings()?),
            "check" => set(&mut raw.check, self.inline(Self::check_key)?),
            "endpoints" => {
                let list = self.array(|s| s.inline(Self::endpoint_key))?;
                set(&mut raw.endpoints, list)
            }
            "route" => {
                let list = self.array(|s| s.inline(Self::route_key))?;
                set(&mut raw.route, list.into_inner())
            }
            _ => None,
        }
    }

    fn endpoint_key(&mut self, raw: &mut RawEndpoint) -> Option<()> {
        let key = self.key_eq()?;
        match key.as_ref() {
            "region" => set(&mut raw.region, self.string_value()?),
            "address" => set(&mut raw.address, self.string_value()?),
            "capacity" => set(&mut raw.capacity, self.int()?),
            _ => None,
        }
    }

    fn route_key(&mut self, raw: &mut RawRoute) -> Option<()> {
        let key = self.key_eq()?;
        let list = self.strings()?;
        match key.as_ref() {
            "countries" => set(&mut raw.countries, list),
            "continents" => set(&mut raw.continents, list),
            "networks" => set(&mut raw.networks, list),
            "regions" => set(&mut raw.regions, list),
            _ => None,
        }
    }

    fn check_key(&mut self, raw: &mut RawCheck) -> Option<()> {
        let key = self.key_eq()?;
        match key.as_ref() {
            "kind" => set(&mut raw.kind, self.string_value()?),
            "port" => set(&mut raw.port, self.int()?),
            "path" => set(&mut raw.path, self.string_value()?),
            "host" => set(&mut raw.host, self.string_value()?),
            "insecure" => set(&mut raw.insecure, self.boolean()?),
            "expect" => set(&mut raw.expect, self.array(Self::status)?),
            "body" => set(&mut raw.body, self.string_value()?),
            "interval" => set(&mut raw.interval, self.string_value()?),
            "timeout" => set(&mut raw.timeout, self.string_value()?),
            "recheck" => set(&mut raw.recheck, self.string_value()?),
            "rise" => set(&mut raw.rise, self.int()?),
            "fall" => set(&mut raw.fall, self.int()?),
            _ => None,
        }
    }

    /// An item of `expect`: `200` or `"200-299"`.
    fn status(&mut self) -> Option<Spanned<RawStatus>> {
        match self.peek()? {
            b'"' | b'\'' => {
                let text = self.string()?;
                let span = text.span();
                Some(Spanned::new(span, RawStatus::Range(text.into_inner())))
            }
            _ => {
                let code = self.int()?;
                let span = code.span();
                Some(Spanned::new(span, RawStatus::Code(code.into_inner())))
            }
        }
    }
}

/// Sets a field once: a second value for the same key is a duplicate (for the full
/// parser to report).
fn set<T>(field: &mut Option<T>, value: T) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value);
    Some(())
}
