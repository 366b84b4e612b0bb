//! Diagnostics shared by `meridian.toml` and `zones/*.toml`: the [`ConfigError`] every
//! problem becomes (`FILE:LINE: KEY: reason`), the [`Checker`] that collects them, spans
//! turned into lines and dotted keys, TOML syntax errors worded once per line, unknown keys
//! pruned, and values of the wrong type refused one by one so the rest is still checked.
//! It knows no key of either file.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::known_keys;

/// One problem in a config file. Displays as `FILE:LINE: KEY: MESSAGE`; `LINE:` is left out
/// when unknown, and `KEY:` when the problem is not tied to a key (a syntax error, an
/// unreadable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// Dotted path as an operator would write it, e.g. `server.dns_listen[1]`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, "{line}:")?;
        }
        if !self.key.is_empty() {
            write!(f, " {}:", self.key)?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one load, in file order. Never empty when returned as an error.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// serde names Rust types in its messages ("expected i64"); an operator writes TOML.
/// A message this does not recognise is passed through as it is.
pub(crate) fn in_toml_words(message: &str) -> String {
    const WORDS: [(&str, &str); 4] = [
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a map", "expected a table"),
        ("expected a sequence", "expected an array"),
    ];
    let mut message = message.to_owned();
    for (rust, toml) in WORDS {
        message = message.replace(rust, toml);
    }
    message
}

/// Parses `text` as TOML. With syntax errors, reports them and returns the parser's
/// recovered tree as `Err`: a guess, good for finding a path but not for checking values.
///
/// Only the first error of a line is reported (the parser's later ones there are about its
/// own recovery). A duplicate key names the key and its first line; a table defined twice
/// is reported once, not again for each key inside it.
pub(crate) fn parse_toml<'t>(
    check: &mut Checker,
    text: &'t str,
) -> Result<Spanned<DeTable<'t>>, Spanned<DeTable<'t>>> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if syntax_errors.is_empty() {
        return Ok(root);
    }
    let index = LineIndex::new(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut lines_seen = std::collections::HashSet::new();
    // The header line of a table defined twice: duplicates below it, up to the next
    // header, are the same mistake.
    let mut duplicate_table: Option<usize> = None;
    for e in &syntax_errors {
        let Some(span) = e.span() else {
            check.error(None, "", e.message());
            continue;
        };
        let line = index.line(span.start);
        if !lines_seen.insert(line) {
            continue;
        }
        if e.message() != "duplicate key" {
            check.error(Some(span), "", e.message());
            continue;
        }
        let dup = duplicate(text, &lines, line, &span);
        if dup.header {
            duplicate_table = Some(line);
        } else if duplicate_table.is_some_and(|h| dup.table_line == Some(h)) {
            continue;
        }
        let message = match dup.first_line {
            Some(first) => format!("duplicate key (first defined on line {first})"),
            None => "duplicate key".to_owned(),
        };
        check.error(Some(span), dup.key, message);
    }
    Err(root)
}

/// What the text around a "duplicate key" error says about the key.
struct Duplicate {
    /// Dotted, as an operator would write it: `regions.eu-west`, `server.region`.
    key: String,
    /// The duplicate is a `[table]` header.
    header: bool,
    /// The line of the header the duplicate is under, if any.
    table_line: Option<usize>,
    /// Where the same key was first defined, when it can be found.
    first_line: Option<usize>,
}

/// Reads the key of the duplicate at `span` from the text: the table header it is under
/// (or is) plus the key written before the span on its line.
/// `lines` is `text` split into lines and `line` the 1-based line of `span`.
fn duplicate(text: &str, lines: &[&str], line: usize, span: &Range<usize>) -> Duplicate {
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = span.end.min(text.len());
    let before = text[start..end].trim_start();
    if let Some(header) = before.strip_prefix('[') {
        let key = dotted(header.trim_start_matches('['));
        let first_line = (1..line).find(|&n| header_key(lines[n - 1]).as_deref() == Some(&key));
        return Duplicate {
            key,
            header: true,
            table_line: Some(line),
            first_line,
        };
    }
    // The header this line is under, and the key as written on the line.
    let table_line = (1..line)
        .rev()
        .find(|&n| header_key(lines[n - 1]).is_some());
    let table = table_line.and_then(|n| header_key(lines[n - 1]));
    let own = match before.split_once('=') {
        // An inline table: `x = { a = 1, a = 2 }` → `x.a`.
        Some((outer, rest)) => {
            let inner = rest.rsplit([',', '{']).next().unwrap_or(rest);
            format!("{}.{}", dotted(outer), dotted(inner))
        }
        None => dotted(before),
    };
    let key = match &table {
        Some(table) => format!("{table}.{own}"),
        None => own.clone(),
    };
    let first_line = (table_line.unwrap_or(0) + 1..line).find(|&n| {
        lines[n - 1]
            .split_once('=')
            .is_some_and(|(k, _)| dotted(k) == own)
    });
    Duplicate {
        key,
        header: false,
        table_line,
        first_line,
    }
}

/// `[a.b]` or `[[a.b]]` → `a.b`; `None` for other lines.
fn header_key(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix('[')?;
    let rest = rest.trim_start_matches('[');
    let inner = rest.split(']').next()?;
    Some(dotted(inner))
}

/// A dotted key with the spaces around its dots removed.
fn dotted(key: &str) -> String {
    key.split('.').map(str::trim).collect::<Vec<_>>().join(".")
}

/// Deserializes `root` as `T`. A value of the wrong type is reported (with its key),
/// removed and recorded with [`Checker::refuse`], and the rest is deserialized again, so
/// one bad value hides no other problem. `None` when an error cannot be placed.
pub(crate) fn deserialize_refusing<T: DeserializeOwned>(
    check: &mut Checker,
    mut root: Spanned<DeTable<'_>>,
) -> Option<T> {
    loop {
        let attempt = T::deserialize(toml::de::Deserializer::from(root.clone()));
        let e = match attempt {
            Ok(value) => return Some(value),
            Err(e) => e,
        };
        let message = in_toml_words(e.message());
        let Some(span) = e.span() else {
            check.error(None, "", message);
            return None;
        };
        let key = key_at(root.get_ref(), &span, "").unwrap_or_default();
        check.error(Some(span.clone()), key, message);
        let removed = remove_at(root.get_mut(), &span, "")?;
        check.refuse(removed);
    }
}

/// Removes the table entry (at any depth) whose key or value is, or holds, `span`;
/// returns its dotted key. An entry is removed whole when the span is inside an array.
fn remove_at(table: &mut DeTable, span: &Range<usize>, prefix: &str) -> Option<String> {
    let mut hit = None;
    for (key, value) in table.iter_mut() {
        let path = format!("{prefix}{}", key.get_ref());
        if key.span() == *span || value.span() == *span {
            hit = Some((key.get_ref().to_string(), path));
            break;
        }
        // A `[table]`'s span is its header only, so look inside every table.
        if let DeValue::Table(inner) = value.get_mut()
            && let Some(found) = remove_at(inner, span, &format!("{path}."))
        {
            return Some(found);
        }
        if covers(&key.span(), span) || covers(&value.span(), span) {
            hit = Some((key.get_ref().to_string(), path));
            break;
        }
    }
    let (name, path) = hit?;
    table.remove(name.as_str());
    Some(path)
}

pub(crate) fn prune_table<'de, T: Deserialize<'de>>(
    check: &mut Checker,
    table: &mut DeTable,
    prefix: &str,
) {
    prune_keys(check, table, prefix, known_keys::<T>());
}

/// Reports and removes the keys of `table` that are not in `known`.
pub(crate) fn prune_keys(check: &mut Checker, table: &mut DeTable, prefix: &str, known: &[&str]) {
    let mut unknown = Vec::new();
    for key in table.keys() {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            let message = format!("unknown key (known: {})", known.join(", "));
            check.error(Some(key.span()), format!("{prefix}{name}"), message);
            unknown.push(name.to_owned());
        }
    }
    for name in &unknown {
        table.remove(name.as_str());
    }
}

/// The dotted key whose key or value covers `span`, searching nested tables and arrays.
pub(crate) fn key_at(table: &DeTable, span: &Range<usize>, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = format!("{prefix}{}", key.get_ref());
        // Exactly this value (e.g. a whole `[[regions]]` array) rather than a part of it.
        if key.span() == *span || value.span() == *span {
            return Some(path);
        }
        if let Some(found) = key_in_value(value, span, &path) {
            return Some(found);
        }
        if covers(&key.span(), span) || covers(&value.span(), span) {
            return Some(path);
        }
    }
    None
}

pub(crate) fn key_in_value(
    value: &Spanned<DeValue>,
    span: &Range<usize>,
    path: &str,
) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => key_at(table, span, &format!("{path}.")),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]");
            key_in_value(item, span, &path).or_else(|| covers(&item.span(), span).then_some(path))
        }),
        _ => None,
    }
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// Collects errors while a file is checked. Each check records its problem and returns a
/// stand-in value, so later checks still run; [`Checker::refuse`] remembers the keys whose
/// written value was replaced, so a later "missing" or "unknown" check stays quiet about
/// them (the operator has already been told).
pub(crate) struct Checker<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) errors: Vec<ConfigError>,
    lines: LineIndex,
    /// Dotted keys whose written value was refused (wrong type, invalid) and replaced.
    refused: Vec<String>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Checker<'a> {
        Checker {
            file,
            text,
            errors: Vec::new(),
            lines: LineIndex::new(text),
            refused: Vec::new(),
        }
    }

    /// 1-based line of byte `offset` of the file.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = span.map(|span| self.lines.line(span.start));
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    /// Records that the value written at `key` was refused (its error is already reported).
    pub(crate) fn refuse(&mut self, key: impl Into<String>) {
        self.refused.push(key.into());
    }

    /// True when `key`, or a table holding it, was refused.
    pub(crate) fn refused(&self, key: &str) -> bool {
        self.refused.iter().any(|r| {
            key == r
                || key
                    .strip_prefix(r.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    pub(crate) fn refused_keys(&self) -> &[String] {
        &self.refused
    }

    /// The errors in line order (stable: errors on one line keep the order they were found in).
    pub(crate) fn finish(self) -> ConfigErrors {
        ConfigErrors(sorted(self.errors))
    }

    /// An integer in `range`, or `default` when absent (or out of range, after an error).
    pub(crate) fn int(
        &mut self,
        raw: Option<Spanned<i64>>,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        let Some(value) = raw else { return default };
        let v = *value.get_ref();
        if v < *range.start() {
            self.error(
                Some(value.span()),
                key,
                format!("{v} is below the minimum {}", range.start()),
            );
            default
        } else if v > *range.end() {
            self.error(
                Some(value.span()),
                key,
                format!("{v} is above the maximum {}", range.end()),
            );
            default
        } else {
            v
        }
    }

    /// A duration greater than 0 written like `"500ms"`, `"10s"` or `"2m"`; `None` after an error.
    pub(crate) fn parse_duration(&mut self, text: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(text.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(
                    Some(text.span()),
                    key,
                    format!("{:?} must be greater than 0", text.get_ref()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                let message = format!(
                    r#"{:?} is not a duration like "500ms", "10s" or "2m" ({e})"#,
                    text.get_ref()
                );
                self.error(Some(text.span()), key, message);
                None
            }
        }
    }
}

/// `errors` in line order; errors without a line last, each group in the order found.
pub(crate) fn sorted(mut errors: Vec<ConfigError>) -> Vec<ConfigError> {
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    errors
}

/// Where each line of a text starts, so that turning a span into its line costs a binary
/// search rather than a count from the top (a services file of 100,000 names has as many
/// spans to place).
pub(crate) struct LineIndex {
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let newlines = memchr::memchr_iter(b'\n', text.as_bytes());
        let starts = std::iter::once(0).chain(newlines.map(|i| i + 1)).collect();
        LineIndex { starts }
    }

    /// 1-based line of byte `offset` (past the end: the last line).
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    /// The line of every offset, counted the slow way: 1 + the newlines before it.
    fn counted(text: &str, offset: usize) -> usize {
        1 + text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    #[test]
    fn line_index_agrees_with_counting_newlines() {
        for text in [
            "",
            "a",
            "\n",
            "a\nb",
            "a\nb\n",
            "\n\n\nx\n\ny",
            "[s]\nttl = 3\n\n",
        ] {
            let index = LineIndex::new(text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    index.line(offset),
                    counted(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    #[test]
    fn line_index_places_a_span_on_its_line() {
        let text = "[services.www]\nttl = 30\n[services.api]\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line(text.find("ttl").unwrap()), 2);
        assert_eq!(index.line(text.find("api").unwrap()), 3);
        assert_eq!(index.line(0), 1);
    }
}
