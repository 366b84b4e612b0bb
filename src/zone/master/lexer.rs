//! Tokenizer for master files: text → entries, one record or directive each.
//!
//! Joins parenthesised lines, drops comments, keeps quotes and escapes as written (the
//! reader and rdata parser decode them), and notes syntax problems with their line
//! instead of failing, so the reader can report them all.

#[cfg(test)]
mod tests;

/// One word of an entry, exactly as written (quotes and escapes kept).
#[derive(Debug)]
pub(super) struct Token<'a> {
    pub(super) text: &'a str,
    pub(super) line: usize,
    /// Written as `"..."`; `text` includes the quotes.
    pub(super) quoted: bool,
}

impl Token<'_> {
    /// The characters between the quotes of a quoted token, or the whole text.
    pub(super) fn content(&self) -> &str {
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
pub(super) struct Entry<'a> {
    /// Line of the first token.
    pub(super) line: usize,
    /// The line began with a space or tab: the owner is not given.
    pub(super) indented: bool,
    pub(super) tokens: Vec<Token<'a>>,
    /// Syntax problems found while tokenizing (line, message).
    pub(super) problems: Vec<(usize, String)>,
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    /// The token vector of an entry handed back by [`Lexer::recycle`], for the next one.
    spare: Vec<Token<'a>>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Lexer {
            text,
            pos: 0,
            line: 1,
            spare: Vec::new(),
        }
    }

    /// A lexer whose first line is numbered `line` (for generated text).
    pub(super) fn at_line(text: &'a str, line: usize) -> Self {
        Lexer {
            text,
            pos: 0,
            line,
            spare: Vec::new(),
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

    pub(super) fn next_entry(&mut self) -> Option<Entry<'a>> {
        while self.pos < self.text.len() {
            let mut entry = Entry {
                line: self.line,
                indented: matches!(self.byte(), Some(b' ' | b'\t')),
                tokens: self.fresh_tokens(),
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
            // A blank or comment line: its (empty) vector serves the next entry.
            self.spare = entry.tokens;
        }
        None
    }

    /// Gives back the tokens of an entry that is done with, so that the next entry
    /// reuses their vector instead of allocating one.
    pub(super) fn recycle(&mut self, mut tokens: Vec<Token<'a>>) {
        tokens.clear();
        if tokens.capacity() > self.spare.capacity() {
            self.spare = tokens;
        }
    }

    fn fresh_tokens(&mut self) -> Vec<Token<'a>> {
        let tokens = std::mem::take(&mut self.spare);
        if tokens.capacity() > 0 {
            return tokens;
        }
        // Room for a record of a few fields (owner, TTL, class, type, data) without
        // growing the vector: two allocations per record cost more than one.
        Vec::with_capacity(8)
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
