//! Block structure: nodes, block mappings, block sequences (indented or not under a key).
//!
//! Marks follow yaml-rust2's tokens: a block mapping starts at its first key's `:` (where
//! the scanner inserts `BlockMappingStart`), a block sequence at its first `-`, a sequence
//! not indented under a key at its first entry's content (the `BlockEntry` token, placed
//! after the `-` and its spaces or comment), and a collection ends (and an empty value sits)
//! at the next token, or at the stream end (see [`Parser::end_mark`]).

use std::borrow::Cow;

use yaml_rust2::scanner::TScalarStyle;

use super::scan::PlainEnd;
use super::{decline, is_blankz, is_breakz, quote_style, Ev, Mark, Parser, Props, Res, Sink};

/// What a block node is the content of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    Root,
    /// The value of a block mapping entry.
    Map,
    /// An entry of a block sequence.
    Seq,
    /// An entry of a sequence at its parent mapping's column.
    Indentless,
}

/// A block sequence entry's `-` and what follows it on its line.
struct Entry {
    /// yaml-rust2's `BlockEntry` token mark: after the `-`, its spaces and comment.
    mark: Mark,
    /// Nothing but a comment follows the `-` on its line.
    eol: bool,
}

/// Keys whose `:` is further than this from their start are declined (yaml-rust2 stops
/// considering a simple key 1024 characters on).
const MAX_KEY: usize = 1000;

impl<'a, S: Sink> Parser<'a, '_, S> {
    /// A node in block context at the cursor (a non-blank character). `b` is the column of
    /// the innermost block collection (-1 at the root), `same_line` whether the node follows
    /// `key:` or `-` (or properties) on their line. Returns with the cursor at the next token.
    pub(crate) fn block_node(
        &mut self,
        b: isize,
        same_line: bool,
        parent: Parent,
        props: Props,
    ) -> Res<()> {
        self.enter()?;
        // A key or `-` may start a collection here (not after `key:` or properties on the
        // same line).
        let compact = !(same_line && (parent == Parent::Map || props.is_some()));
        let c = self.cur();
        match c {
            b'-' if is_blankz(self.next()) => {
                if !compact {
                    return decline("sequence entry after a key or properties on its line");
                }
                let col = self.col();
                self.block_seq(col, props)?;
            }
            b'[' | b'{' => {
                self.flow_nonblock = b >= 0;
                self.flow_collection(b, props)?;
                let spaced = self.skip_spaces()? > 0;
                if self.cur() == b':' {
                    return decline("flow collection as a key");
                }
                self.end_line(spaced)?;
                self.skip_ws_lines()?;
            }
            b'"' | b'\'' => {
                let mark = self.mark();
                let style = quote_style(c);
                let start = self.pos;
                let text = self.quoted(c == b'\'', b + 1)?;
                let multiline = self.line != mark.line;
                let spaced = self.skip_spaces()? > 0;
                if self.cur() == b':' && is_blankz(self.next()) {
                    if multiline || !compact || self.pos - start > MAX_KEY {
                        return decline("quoted key in this context");
                    }
                    self.block_map(text, style, mark, props)?;
                } else {
                    self.end_line(spaced)?;
                    self.emit(Ev::Scalar(text, style, props.anchor, props.tag), mark);
                    self.skip_ws_lines()?;
                }
            }
            b'*' => {
                if props.is_some() {
                    return decline("alias with properties");
                }
                let mark = self.mark();
                let id = self.alias()?;
                let spaced = self.skip_spaces()? > 0;
                if self.cur() == b':' {
                    return decline("alias as a key");
                }
                self.end_line(spaced)?;
                self.emit(Ev::Alias(id), mark);
                self.skip_ws_lines()?;
            }
            b'&' | b'!' => {
                if parent == Parent::Root || props.is_some() {
                    return decline("properties at the root or repeated");
                }
                let props = self.props()?;
                if self.cur() == b'#' || is_breakz(self.cur()) {
                    if !same_line {
                        return decline("properties alone on their line");
                    }
                    self.end_line(true)?;
                    self.skip_ws_lines()?;
                    if self.next_line_value(b, parent, props)?.is_some() {
                        return decline("properties on an empty sequence entry");
                    }
                } else {
                    self.block_node(b, true, parent, props)?;
                }
            }
            b'|' | b'>' => {
                if parent == Parent::Root {
                    return decline("block scalar at the root");
                }
                let style = if c == b'|' {
                    TScalarStyle::Literal
                } else {
                    TScalarStyle::Folded
                };
                let (text, mark) = self.block_scalar(b, c == b'|')?;
                self.emit(Ev::Scalar(text, style, props.anchor, props.tag), mark);
                self.skip_ws_lines()?;
            }
            b'?' | b':' if is_blankz(self.next()) => return decline("complex key or empty key"),
            b'%' | b'@' | b'`' | b',' | b']' | b'}' | b'#' => {
                return decline("unexpected character")
            }
            0x80.. => return decline("non-ASCII scalar"),
            _ => {
                let mark = self.mark();
                let start = self.pos;
                let plain = self.plain(false, (b + 1) as usize)?;
                match plain.end {
                    PlainEnd::Colon => {
                        if !compact || self.pos - start > MAX_KEY {
                            return decline("plain key in this context");
                        }
                        self.block_map(plain.text, TScalarStyle::Plain, mark, props)?;
                    }
                    PlainEnd::Other => {
                        self.emit(
                            Ev::Scalar(plain.text, TScalarStyle::Plain, props.anchor, props.tag),
                            mark,
                        );
                        self.skip_ws_lines()?;
                    }
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// A block mapping whose first key (at `key_mark`) has been scanned; the cursor is on its
    /// `:`.
    fn block_map(
        &mut self,
        mut key: Cow<'a, str>,
        mut style: TScalarStyle,
        mut key_mark: Mark,
        props: Props,
    ) -> Res<()> {
        let c = key_mark.col;
        let mark = self.mark();
        self.emit(Ev::MappingStart(props.anchor, props.tag), mark);
        loop {
            self.emit(Ev::Scalar(key, style, 0, None), key_mark);
            self.pos += 1; // the `:`
            let spaced = self.skip_spaces()? > 0;
            if self.cur() == b'#' || is_breakz(self.cur()) {
                self.end_line(spaced)?;
                self.skip_ws_lines()?;
                if self
                    .next_line_value(c as isize, Parent::Map, Props::default())?
                    .is_some()
                {
                    return decline("unreachable: an entry in a mapping");
                }
            } else {
                self.block_node(c as isize, true, Parent::Map, Props::default())?;
            }
            if self.eof() {
                let mark = self.end_mark(c);
                self.emit(Ev::MappingEnd, mark);
                return Ok(());
            }
            let col = self.col();
            if col < c || self.doc_indicator().is_some() {
                let mark = self.mark();
                self.emit(Ev::MappingEnd, mark);
                return Ok(());
            }
            if col > c {
                return decline("line indented more than its mapping's keys");
            }
            key_mark = self.mark();
            (key, style) = self.block_key()?;
        }
    }

    /// A key of a block mapping at the cursor: a single-line plain or quoted scalar followed
    /// by `:`. Leaves the cursor on the `:`.
    fn block_key(&mut self) -> Res<(Cow<'a, str>, TScalarStyle)> {
        let start = self.pos;
        let c = self.cur();
        let key = match c {
            b'"' | b'\'' => {
                let line = self.line;
                let text = self.quoted(c == b'\'', 0)?;
                if self.line != line {
                    return decline("multi-line quoted key");
                }
                self.skip_spaces()?;
                if !(self.cur() == b':' && is_blankz(self.next())) {
                    return decline("quoted scalar where a key was expected");
                }
                let style = quote_style(c);
                (text, style)
            }
            b'-' | b'?' | b':' if is_blankz(self.next()) => return decline("not a simple key"),
            b'[' | b'{' | b'*' | b'&' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b',' | b']'
            | b'}' | b'#' => return decline("not a simple key"),
            0x80.. => return decline("non-ASCII key"),
            _ => {
                let plain = self.plain(false, usize::MAX)?;
                if plain.end != PlainEnd::Colon {
                    return decline("plain scalar where a key was expected");
                }
                (plain.text, TScalarStyle::Plain)
            }
        };
        if self.pos - start > MAX_KEY {
            return decline("long key");
        }
        Ok(key)
    }

    /// The value of a mapping entry or the content of a sequence entry that is not on the
    /// line of its `key:` or `-` (the cursor is on the next token, `b` is the parent
    /// collection's column). Returns the properties back when the value is empty and the
    /// next token is the parent sequence's next `-` (whose mark the empty value takes).
    pub(crate) fn next_line_value(
        &mut self,
        b: isize,
        parent: Parent,
        props: Props,
    ) -> Res<Option<Props>> {
        if self.eof() {
            let mark = self.end_mark(b as usize);
            self.emit_empty(props, mark);
            return Ok(None);
        }
        let col = self.col() as isize;
        if col > b {
            self.block_node(b, false, parent, props)?;
            return Ok(None);
        }
        if col < b || self.doc_indicator().is_some() {
            let mark = self.mark();
            self.emit_empty(props, mark);
            return Ok(None);
        }
        if self.cur() == b'-' && is_blankz(self.next()) {
            return match parent {
                Parent::Map => {
                    self.indentless_seq(b as usize, props)?;
                    Ok(None)
                }
                _ => Ok(Some(props)),
            };
        }
        match parent {
            Parent::Map | Parent::Indentless => {
                let mark = self.mark();
                self.emit_empty(props, mark);
                Ok(None)
            }
            _ => decline("content at a sequence's column"),
        }
    }

    /// Consumes a `-` with its spaces and comment.
    fn entry(&mut self) -> Res<Entry> {
        self.pos += 1;
        self.skip_spaces()?;
        if self.cur() == b'#' {
            self.skip_comment();
        }
        Ok(Entry {
            mark: self.mark(),
            eol: is_breakz(self.cur()),
        })
    }

    /// The content of a sequence entry (after its `-`), then the cursor at the next token.
    /// Returns the next entry when this one is empty and directly followed by it.
    fn entry_content(&mut self, entry: &Entry, b: usize, parent: Parent) -> Res<Option<Entry>> {
        if entry.eol {
            self.skip_ws_lines()?;
            if let Some(props) = self.next_line_value(b as isize, parent, Props::default())? {
                let next = self.entry()?;
                self.emit_empty(props, next.mark);
                return Ok(Some(next));
            }
        } else {
            self.block_node(b as isize, true, parent, Props::default())?;
        }
        Ok(None)
    }

    /// A block sequence whose first `-` is at the cursor, at column `s`.
    fn block_seq(&mut self, s: usize, props: Props) -> Res<()> {
        let mark = self.mark();
        self.emit(Ev::SequenceStart(props.anchor, props.tag), mark);
        let mut entry = self.entry()?;
        loop {
            if let Some(next) = self.entry_content(&entry, s, Parent::Seq)? {
                entry = next;
                continue;
            }
            if self.eof() {
                let mark = self.end_mark(s);
                self.emit(Ev::SequenceEnd, mark);
                return Ok(());
            }
            let col = self.col();
            if col < s || self.doc_indicator().is_some() {
                let mark = self.mark();
                self.emit(Ev::SequenceEnd, mark);
                return Ok(());
            }
            if col > s || !(self.cur() == b'-' && is_blankz(self.next())) {
                return decline("content in a block sequence that is not an entry");
            }
            entry = self.entry()?;
        }
    }

    /// A sequence at its parent mapping's column `c` (the value of a key), first `-` at the
    /// cursor. It starts at its first entry's mark and ends at the next token that is not a
    /// `-` at column `c`.
    fn indentless_seq(&mut self, c: usize, props: Props) -> Res<()> {
        self.enter()?;
        let mut entry = self.entry()?;
        self.emit(Ev::SequenceStart(props.anchor, props.tag), entry.mark);
        loop {
            if let Some(next) = self.entry_content(&entry, c, Parent::Indentless)? {
                entry = next;
                continue;
            }
            if self.eof() {
                let mark = self.end_mark(c);
                self.emit(Ev::SequenceEnd, mark);
                break;
            }
            let col = self.col();
            if col == c && self.cur() == b'-' && is_blankz(self.next()) {
                entry = self.entry()?;
                continue;
            }
            if col > c {
                return decline("content in a block sequence that is not an entry");
            }
            let mark = self.mark();
            self.emit(Ev::SequenceEnd, mark);
            break;
        }
        self.leave();
        Ok(())
    }
}
