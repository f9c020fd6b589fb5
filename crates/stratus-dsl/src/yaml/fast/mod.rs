//! A fast, hand-written YAML event producer for the subset of YAML that blueprints use.
//!
//! [`parse`] drives a [`Sink`] (in production the tree builder of `yaml/mod.rs`) with exactly
//! the events and marks (index, line, column) that yaml-rust2 0.10's `Parser::load(_, false)`
//! would produce, so the tree semantics (merge keys, anchors, duplicate keys, scalar
//! resolution, error codes) stay in one place. It works on bytes, allocates a scalar's text
//! only when the scalar is quoted with escapes, folded or multi-line, and is several times
//! faster than yaml-rust2's char-by-char scanner.
//!
//! Covered: a single document with an optional leading `---` and trailing `...`; comments;
//! block mappings and block sequences (compact `- key: value` entries, sequences indented or
//! not under a key, empty values); flow mappings and sequences (nested, spanning lines);
//! plain scalars (multi-line ones folded as yaml-rust2 folds them); single- and double-quoted
//! scalars with escapes and line folding; literal and folded block scalars with chomping and
//! indentation indicators; anchors, aliases, and `!tag`/`!!tag` tags on values; CRLF line
//! breaks; non-ASCII text in comments.
//!
//! Everything else is declined ([`Decline`]) before any result is used: the caller drops the
//! sink and loads the text with yaml-rust2, which reports the same result or error as before.
//! Declined are any syntax error, and constructs where yaml-rust2's behaviour has quirks not
//! worth replicating: tabs outside comments, quoted and block scalars and plain-scalar
//! interiors; `?` complex keys and non-scalar or anchored/tagged keys; `key: value` pairs
//! inside flow sequences; directives and several documents; anchors, tags and block scalars
//! at the root; keys longer than 1000 bytes; non-ASCII text outside comments; NUL bytes and
//! lone CRs; nesting deeper than [`MAX_DEPTH`].

use std::borrow::Cow;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, Tag};
use yaml_rust2::scanner::TScalarStyle;

mod block;
mod block_scalar;
mod flow;
mod scan;

/// Collections nested deeper than this are declined (yaml-rust2 itself recurses per level).
pub(crate) const MAX_DEPTH: usize = 100;

/// A position as yaml-rust2 reports it: index in chars, 1-based line, 0-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub index: usize,
    pub line: usize,
    pub col: usize,
}

/// yaml-rust2's [`Event`] with a scalar's text borrowed from the input when possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev<'a> {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias(usize),
    Scalar(Cow<'a, str>, TScalarStyle, usize, Option<Tag>),
    SequenceStart(usize, Option<Tag>),
    SequenceEnd,
    MappingStart(usize, Option<Tag>),
    MappingEnd,
}

impl Ev<'_> {
    pub fn into_event(self) -> Event {
        match self {
            Ev::StreamStart => Event::StreamStart,
            Ev::StreamEnd => Event::StreamEnd,
            Ev::DocumentStart => Event::DocumentStart,
            Ev::DocumentEnd => Event::DocumentEnd,
            Ev::Alias(id) => Event::Alias(id),
            Ev::Scalar(text, style, anchor, tag) => {
                Event::Scalar(text.into_owned(), style, anchor, tag)
            }
            Ev::SequenceStart(anchor, tag) => Event::SequenceStart(anchor, tag),
            Ev::SequenceEnd => Event::SequenceEnd,
            Ev::MappingStart(anchor, tag) => Event::MappingStart(anchor, tag),
            Ev::MappingEnd => Event::MappingEnd,
        }
    }

    pub fn from_event(event: Event) -> Ev<'static> {
        match event {
            Event::Nothing | Event::StreamStart => Ev::StreamStart,
            Event::StreamEnd => Ev::StreamEnd,
            Event::DocumentStart => Ev::DocumentStart,
            Event::DocumentEnd => Ev::DocumentEnd,
            Event::Alias(id) => Ev::Alias(id),
            Event::Scalar(text, style, anchor, tag) => {
                Ev::Scalar(Cow::Owned(text), style, anchor, tag)
            }
            Event::SequenceStart(anchor, tag) => Ev::SequenceStart(anchor, tag),
            Event::SequenceEnd => Ev::SequenceEnd,
            Event::MappingStart(anchor, tag) => Ev::MappingStart(anchor, tag),
            Event::MappingEnd => Ev::MappingEnd,
        }
    }
}

/// Receives events in document order.
pub trait Sink {
    fn event(&mut self, event: Ev<'_>, mark: Mark);
}

/// The fast path does not handle this text; the reason is for statistics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline(pub &'static str);

pub(crate) type Res<T> = Result<T, Decline>;

pub(crate) fn decline<T>(why: &'static str) -> Res<T> {
    Err(Decline(why))
}

/// Runs the fast path over `text`, feeding `sink`. On `Err` the sink holds a partial
/// document and must be discarded.
pub fn parse<S: Sink>(text: &str, sink: &mut S) -> Res<()> {
    let src = text.as_bytes();
    if src.contains(&0) {
        // yaml-rust2 ends the stream at a NUL.
        return decline("NUL byte");
    }
    if src.contains(&b'\r') {
        let lone = src
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && src.get(i + 1) != Some(&b'\n'));
        if lone {
            return decline("CR without LF");
        }
    }
    let mut parser = Parser {
        text,
        src,
        pos: 0,
        line: 1,
        line_start: 0,
        adjust: 0,
        line_adjust: 0,
        ascii: text.is_ascii(),
        anchors: HashMap::new(),
        next_anchor: 1,
        depth: 0,
        pending_doc_start: false,
        flow_nonblock: false,
        sink,
    };
    parser.document()
}

/// An anchor and a tag before a node.
#[derive(Debug, Default)]
pub(crate) struct Props {
    pub anchor: usize,
    pub tag: Option<Tag>,
}

impl Props {
    pub fn is_some(&self) -> bool {
        self.anchor != 0 || self.tag.is_some()
    }
}

pub(crate) struct Parser<'a, 's, S: Sink> {
    pub text: &'a str,
    pub src: &'a [u8],
    /// Byte offset of the cursor.
    pub pos: usize,
    /// 1-based line of the cursor.
    pub line: usize,
    /// Byte offset of the cursor's line.
    pub line_start: usize,
    /// UTF-8 continuation bytes before the cursor (only comments may hold any), so the char
    /// index is `pos - adjust`.
    pub adjust: usize,
    /// `adjust` at the start of the cursor's line.
    pub line_adjust: usize,
    pub ascii: bool,
    /// Anchor name to the id of its latest definition, as yaml-rust2's parser keeps them.
    pub anchors: HashMap<&'a str, usize>,
    pub next_anchor: usize,
    pub depth: usize,
    /// An implicit document starts at the first node event's mark.
    pub pending_doc_start: bool,
    /// Inside a flow collection: whether yaml-rust2's scanner has a one-column non-block
    /// indentation level pushed (it does at the collection start, and a plain scalar pops it).
    pub flow_nonblock: bool,
    pub sink: &'s mut S,
}

/// The style of a scalar quoted with `quote` (`"` or `'`).
pub(crate) fn quote_style(quote: u8) -> TScalarStyle {
    if quote == b'"' {
        TScalarStyle::DoubleQuoted
    } else {
        TScalarStyle::SingleQuoted
    }
}

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn is_breakz(b: u8) -> bool {
    b == b'\n' || b == b'\r' || b == 0
}

pub(crate) fn is_blankz(b: u8) -> bool {
    is_blank(b) || is_breakz(b)
}

pub(crate) fn is_flow(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// The number of spaces at `p` in `src` (eight at a time: indentation is a good part of a
/// blueprint).
#[inline]
pub(crate) fn spaces_at(src: &[u8], p: usize) -> usize {
    let mut q = p;
    while let Some(word) = src.get(q..q + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let diff = u64::from_le_bytes(word) ^ 0x2020_2020_2020_2020;
        if diff != 0 {
            return q - p + (diff.trailing_zeros() / 8) as usize;
        }
        q += 8;
    }
    while src.get(q) == Some(&b' ') {
        q += 1;
    }
    q - p
}

impl<'a, S: Sink> Parser<'a, '_, S> {
    /// The byte at `p`, or 0 past the end (yaml-rust2's end-of-input character).
    #[inline]
    pub fn at(&self, p: usize) -> u8 {
        self.src.get(p).copied().unwrap_or(0)
    }

    #[inline]
    pub fn cur(&self) -> u8 {
        self.at(self.pos)
    }

    #[inline]
    pub fn next(&self) -> u8 {
        self.at(self.pos + 1)
    }

    #[inline]
    pub fn eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    #[inline]
    pub fn col(&self) -> usize {
        self.pos - self.line_start - (self.adjust - self.line_adjust)
    }

    #[inline]
    pub fn mark(&self) -> Mark {
        Mark {
            index: self.pos - self.adjust,
            line: self.line,
            col: self.col(),
        }
    }

    /// yaml-rust2's stream end position: the end of input, on a new line unless at column 0.
    pub fn stream_end_mark(&self) -> Mark {
        let mut mark = self.mark();
        if mark.col != 0 {
            mark.line += 1;
            mark.col = 0;
        }
        mark
    }

    /// Where yaml-rust2 ends a block collection at column `indent` that the cursor (the next
    /// token) closes: at the cursor, except at the end of input for collections that do not
    /// start right of the last line's end, which end at the stream end.
    pub fn end_mark(&self, indent: usize) -> Mark {
        if self.eof() && indent <= self.col() {
            self.stream_end_mark()
        } else {
            self.mark()
        }
    }

    #[inline]
    pub fn emit(&mut self, event: Ev<'_>, mark: Mark) {
        if self.pending_doc_start {
            self.pending_doc_start = false;
            self.sink.event(Ev::DocumentStart, mark);
        }
        self.sink.event(event, mark);
    }

    pub fn emit_empty(&mut self, props: Props, mark: Mark) {
        self.emit(
            Ev::Scalar(
                Cow::Borrowed(""),
                TScalarStyle::Plain,
                props.anchor,
                props.tag,
            ),
            mark,
        );
    }

    pub fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return decline("nesting too deep");
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Consumes a line break (the cursor is on `\n` or on the `\r` of `\r\n`).
    #[inline]
    pub fn eat_break(&mut self) {
        self.pos += if self.cur() == b'\r' { 2 } else { 1 };
        self.line += 1;
        self.line_start = self.pos;
        self.line_adjust = self.adjust;
    }

    /// Skips a comment up to (not including) the line break.
    pub fn skip_comment(&mut self) {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        if !self.ascii {
            self.adjust += rest[..len].iter().filter(|&&b| b & 0xC0 == 0x80).count();
        }
        self.pos += len;
    }

    /// Skips spaces on the current line; returns how many.
    #[inline]
    pub fn skip_spaces(&mut self) -> Res<usize> {
        let n = spaces_at(self.src, self.pos);
        self.pos += n;
        if self.cur() == b'\t' {
            return decline("tab");
        }
        Ok(n)
    }

    /// After a token that must end its line: an optional comment (separated by a space, as
    /// yaml-rust2 requires after a token), then a line break or the end of input.
    pub fn end_line(&mut self, spaced: bool) -> Res<()> {
        if self.cur() == b'#' {
            if !spaced {
                return decline("comment not separated from a token");
            }
            self.skip_comment();
        }
        if !is_breakz(self.cur()) {
            return decline("unexpected content after a node");
        }
        Ok(())
    }

    /// Skips spaces, comments and line breaks up to the next token (yaml-rust2's
    /// `skip_to_next_token`).
    pub fn skip_ws_lines(&mut self) -> Res<()> {
        loop {
            match self.cur() {
                b' ' => self.pos += spaces_at(self.src, self.pos),
                b'\n' | b'\r' => self.eat_break(),
                b'#' => {
                    if self.pos > self.line_start && !is_blank(self.at(self.pos - 1)) {
                        return decline("comment not separated from a token");
                    }
                    self.skip_comment();
                }
                b'\t' => return decline("tab"),
                _ => return Ok(()),
            }
        }
    }

    /// `---` or `...` at the start of a line, followed by a blank or the end of the line.
    pub fn doc_indicator(&self) -> Option<u8> {
        if self.pos != self.line_start {
            return None;
        }
        let c = self.cur();
        if (c == b'-' || c == b'.')
            && self.at(self.pos + 1) == c
            && self.at(self.pos + 2) == c
            && is_blankz(self.at(self.pos + 3))
        {
            Some(c)
        } else {
            None
        }
    }

    fn document(&mut self) -> Res<()> {
        self.sink.event(
            Ev::StreamStart,
            Mark {
                index: 0,
                line: 1,
                col: 0,
            },
        );
        self.skip_ws_lines()?;
        if self.eof() {
            let mark = self.stream_end_mark();
            self.sink.event(Ev::StreamEnd, mark);
            return Ok(());
        }
        if self.doc_indicator() == Some(b'-') {
            let mark = self.mark();
            self.sink.event(Ev::DocumentStart, mark);
            self.pos += 3;
            let spaced = self.skip_spaces()? > 0;
            self.end_line(spaced)?;
            self.skip_ws_lines()?;
            if self.eof() {
                let mark = self.stream_end_mark();
                self.emit_empty(Props::default(), mark);
                self.sink.event(Ev::DocumentEnd, mark);
                return Ok(());
            }
        } else {
            self.pending_doc_start = true;
        }
        if self.doc_indicator().is_some() || (self.col() == 0 && self.cur() == b'%') {
            return decline("directive or document marker");
        }
        self.block_node(-1, false, block::Parent::Root, Props::default())?;
        if self.eof() {
            let mark = self.stream_end_mark();
            self.sink.event(Ev::DocumentEnd, mark);
            return Ok(());
        }
        if self.doc_indicator() != Some(b'.') {
            return decline("content after the document");
        }
        let mark = self.mark();
        self.pos += 3;
        let spaced = self.skip_spaces()? > 0;
        self.end_line(spaced)?;
        self.skip_ws_lines()?;
        if !self.eof() {
            return decline("content after the document end marker");
        }
        self.sink.event(Ev::DocumentEnd, mark);
        Ok(())
    }
}
