//! Scalars (plain, quoted, block) and node properties (anchors, tags, aliases), scanned the
//! way yaml-rust2's scanner scans them, on bytes.

use std::borrow::Cow;

use yaml_rust2::parser::Tag;

use super::{
    decline, is_blank, is_blankz, is_breakz, is_flow, spaces_at, Parser, Props, Res, Sink,
};

/// How a plain scalar ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainEnd {
    /// At a `:` value indicator on its first line (the cursor is on it): a key.
    Colon,
    /// Anything else: the cursor is at or before the next token.
    Other,
}

pub(crate) struct Plain<'a> {
    pub text: Cow<'a, str>,
    pub end: PlainEnd,
}

const TEXT: u8 = 0;
const COLON: u8 = 1;
const FLOW: u8 = 2;
const HIGH: u8 = 3;
/// Blanks, line breaks and the end of input (0).
const STOP: u8 = 4;

/// Byte classes inside a plain scalar's run of non-blank characters.
static CLASS: [u8; 256] = {
    let mut table = [TEXT; 256];
    table[b' ' as usize] = STOP;
    table[b'\t' as usize] = STOP;
    table[b'\n' as usize] = STOP;
    table[b'\r' as usize] = STOP;
    table[0] = STOP;
    table[b':' as usize] = COLON;
    table[b',' as usize] = FLOW;
    table[b'[' as usize] = FLOW;
    table[b']' as usize] = FLOW;
    table[b'{' as usize] = FLOW;
    table[b'}' as usize] = FLOW;
    let mut i = 0x80;
    while i < 256 {
        table[i] = HIGH;
        i += 1;
    }
    table
};

pub(crate) fn push_breaks(s: &mut String, n: usize) {
    for _ in 0..n {
        s.push('\n');
    }
}

/// yaml-rust2's `is_tag_char` (URI characters but flow indicators and `!`), without `%`.
fn is_tag_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-#;/?:@&=+$_.~*'()".contains(&b)
}

impl<'a, S: Sink> Parser<'a, '_, S> {
    /// One line of a plain scalar from the cursor: runs of non-blank characters separated by
    /// blanks. Returns the end of the content; leaves the cursor on what ended it (`:`, `#`,
    /// a flow indicator in flow context, a line break or the end of input).
    fn plain_line<const IN_FLOW: bool>(&mut self) -> Res<usize> {
        let src = self.src;
        let at = |p: usize| src.get(p).copied().unwrap_or(0);
        let mut p = self.pos;
        loop {
            let end = loop {
                let b = at(p);
                match CLASS[b as usize] {
                    TEXT => p += 1,
                    COLON => {
                        let n = at(p + 1);
                        if is_blankz(n) || (IN_FLOW && is_flow(n)) {
                            break p;
                        }
                        p += 1;
                    }
                    FLOW if !IN_FLOW => p += 1,
                    HIGH => return decline("non-ASCII scalar"),
                    _ => break p,
                }
            };
            while is_blank(at(p)) {
                p += 1;
            }
            let b = at(p);
            let stop = match b {
                b'\n' | b'\r' | 0 | b'#' => true,
                b':' => {
                    let n = at(p + 1);
                    is_blankz(n) || (IN_FLOW && is_flow(n))
                }
                b'-' if IN_FLOW && is_flow(at(p + 1)) => {
                    return decline("plain scalar part starting with - and a flow indicator")
                }
                _ => IN_FLOW && is_flow(b),
            };
            if stop {
                self.pos = p;
                return Ok(end);
            }
        }
    }

    fn plain_line_in(&mut self, flow: bool) -> Res<usize> {
        if flow {
            self.plain_line::<true>()
        } else {
            self.plain_line::<false>()
        }
    }

    /// After a plain scalar line ending at a line break (the cursor): moves to the next
    /// non-blank line and returns the number of empty lines crossed if the scalar continues
    /// there (in block context a continuation line is indented at least `cont_indent`).
    fn plain_continues(&mut self, flow: bool, cont_indent: usize) -> Res<Option<usize>> {
        self.eat_break();
        let mut empty = 0;
        loop {
            self.pos += spaces_at(self.src, self.pos);
            match self.cur() {
                b'\t' => return decline("tab in a plain scalar's indentation"),
                b'\n' | b'\r' => {
                    self.eat_break();
                    empty += 1;
                }
                _ => break,
            }
        }
        if self.eof() || (!flow && self.col() < cont_indent) {
            return Ok(None);
        }
        if self.doc_indicator().is_some() {
            return if flow {
                decline("document marker in a flow collection")
            } else {
                Ok(None)
            };
        }
        let (c, n) = (self.cur(), self.next());
        if c == b'#' || (c == b':' && (is_blankz(n) || (flow && is_flow(n)))) {
            return Ok(None);
        }
        if flow && is_flow(c) {
            return Ok(None);
        }
        if flow && c == b'-' && is_flow(n) {
            return decline("plain scalar part starting with - and a flow indicator");
        }
        Ok(Some(empty))
    }

    /// A plain scalar at the cursor. Multi-line scalars are folded: a line break becomes a
    /// space, or the empty lines after it become line breaks.
    pub(crate) fn plain(&mut self, flow: bool, cont_indent: usize) -> Res<Plain<'a>> {
        let text = self.text;
        let start = self.pos;
        let end = self.plain_line_in(flow)?;
        match self.cur() {
            b':' => {
                return Ok(Plain {
                    text: Cow::Borrowed(&text[start..end]),
                    end: PlainEnd::Colon,
                })
            }
            b'\n' | b'\r' => {}
            _ => {
                return Ok(Plain {
                    text: Cow::Borrowed(&text[start..end]),
                    end: PlainEnd::Other,
                })
            }
        }
        let mut folded: Option<String> = None;
        while matches!(self.cur(), b'\n' | b'\r') {
            let Some(empty) = self.plain_continues(flow, cont_indent)? else {
                break;
            };
            let s = folded.get_or_insert_with(|| text[start..end].to_owned());
            if empty == 0 {
                s.push(' ');
            } else {
                push_breaks(s, empty);
            }
            let line = self.pos;
            let line_end = self.plain_line_in(flow)?;
            s.push_str(&text[line..line_end]);
        }
        Ok(Plain {
            text: match folded {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(&text[start..end]),
            },
            end: PlainEnd::Other,
        })
    }

    /// A single- or double-quoted scalar at the cursor; continuation lines must be indented
    /// at least `min_col`. Leaves the cursor after the closing quote.
    pub(crate) fn quoted(&mut self, single: bool, min_col: isize) -> Res<Cow<'a, str>> {
        let quote = if single { b'\'' } else { b'"' };
        let start = self.pos + 1;
        let mut p = start;
        loop {
            let b = self.at(p);
            if b == quote {
                if single && self.at(p + 1) == b'\'' {
                    break;
                }
                self.pos = p + 1;
                return Ok(Cow::Borrowed(&self.text[start..p]));
            }
            if (b == b'\\' && !single) || is_breakz(b) || b >= 0x80 {
                break;
            }
            p += 1;
        }
        self.quoted_folded(single, min_col).map(Cow::Owned)
    }

    /// yaml-rust2's `scan_flow_scalar`: escapes, `''`, and line folding.
    fn quoted_folded(&mut self, single: bool, min_col: isize) -> Res<String> {
        let quote = if single { b'\'' } else { b'"' };
        let text = self.text;
        let mut s = String::new();
        let mut leading_break = false;
        let mut trailing = 0;
        self.pos += 1;
        loop {
            if self.doc_indicator().is_some() {
                return decline("document marker in a quoted scalar");
            }
            if self.eof() {
                return decline("unterminated quoted scalar");
            }
            if (self.col() as isize) < min_col {
                return decline("quoted scalar line indented too little");
            }
            let mut leading_blanks = false;
            loop {
                let b = self.cur();
                if is_blankz(b) {
                    break;
                }
                match b {
                    b'\'' if single && self.next() == b'\'' => {
                        s.push('\'');
                        self.pos += 2;
                    }
                    b'\'' if single => break,
                    b'"' if !single => break,
                    b'\\' if !single && matches!(self.next(), b'\n' | b'\r') => {
                        self.pos += 1;
                        self.eat_break();
                        leading_blanks = true;
                        break;
                    }
                    b'\\' if !single => {
                        let c = self.escape()?;
                        s.push(c);
                    }
                    0x80.. => return decline("non-ASCII scalar"),
                    _ => {
                        s.push(b as char);
                        self.pos += 1;
                    }
                }
            }
            if self.cur() == quote {
                break;
            }
            let (mut ws_start, mut ws_end) = (0, 0);
            loop {
                let b = self.cur();
                if is_blank(b) {
                    if leading_blanks {
                        if b == b'\t' {
                            return decline("tab in a quoted scalar's indentation");
                        }
                    } else {
                        if ws_start == ws_end {
                            ws_start = self.pos;
                        }
                        ws_end = self.pos + 1;
                    }
                    self.pos += 1;
                } else if b == b'\n' || b == b'\r' {
                    if leading_blanks {
                        trailing += 1;
                    } else {
                        ws_start = ws_end;
                        leading_break = true;
                        leading_blanks = true;
                    }
                    self.eat_break();
                } else {
                    break;
                }
            }
            if leading_blanks {
                if !leading_break {
                    push_breaks(&mut s, trailing);
                } else if trailing == 0 {
                    s.push(' ');
                } else {
                    push_breaks(&mut s, trailing);
                }
                trailing = 0;
                leading_break = false;
            } else {
                s.push_str(&text[ws_start..ws_end]);
            }
        }
        self.pos += 1;
        Ok(s)
    }

    /// A double-quoted scalar's escape sequence at the cursor (`\`).
    fn escape(&mut self) -> Res<char> {
        let len = match self.next() {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            other => {
                let c = match other {
                    b'0' => '\0',
                    b'a' => '\x07',
                    b'b' => '\x08',
                    b't' | b'\t' => '\t',
                    b'n' => '\n',
                    b'v' => '\x0b',
                    b'f' => '\x0c',
                    b'r' => '\r',
                    b'e' => '\x1b',
                    b' ' => ' ',
                    b'"' => '"',
                    b'/' => '/',
                    b'\\' => '\\',
                    b'N' => '\u{85}',
                    b'_' => '\u{a0}',
                    b'L' => '\u{2028}',
                    b'P' => '\u{2029}',
                    _ => return decline("unknown escape"),
                };
                self.pos += 2;
                return Ok(c);
            }
        };
        self.pos += 2;
        let mut value: u32 = 0;
        for i in 0..len {
            let Some(digit) = (self.at(self.pos + i) as char).to_digit(16) else {
                return decline("bad hexadecimal escape");
            };
            value = (value << 4) | digit;
        }
        self.pos += len;
        char::from_u32(value).map_or_else(|| decline("bad escaped code point"), Ok)
    }

    /// An anchor or alias name at the cursor.
    fn anchor_name(&mut self) -> Res<&'a str> {
        let start = self.pos;
        loop {
            let b = self.cur();
            if is_blankz(b) || is_flow(b) {
                break;
            }
            if b >= 0x80 {
                return decline("non-ASCII anchor");
            }
            self.pos += 1;
        }
        if self.pos == start {
            return decline("empty anchor");
        }
        Ok(&self.text[start..self.pos])
    }

    /// An alias (`*name`) at the cursor: the id of the anchor it refers to.
    pub(crate) fn alias(&mut self) -> Res<usize> {
        self.pos += 1;
        let name = self.anchor_name()?;
        match self.anchors.get(name) {
            Some(&id) => Ok(id),
            None => decline("unknown anchor"),
        }
    }

    /// An anchor and/or a tag at the cursor, each followed by a blank or the end of the
    /// line; leaves the cursor on what follows them on the line. Anchors are numbered when
    /// met, as yaml-rust2's parser numbers them.
    pub(crate) fn props(&mut self) -> Res<Props> {
        let mut props = Props::default();
        loop {
            match self.cur() {
                b'&' if props.anchor == 0 => {
                    self.pos += 1;
                    let name = self.anchor_name()?;
                    props.anchor = self.next_anchor;
                    self.next_anchor += 1;
                    self.anchors.insert(name, props.anchor);
                }
                b'!' if props.tag.is_none() => props.tag = Some(self.tag()?),
                _ => return Ok(props),
            }
            if !is_blankz(self.cur()) {
                return decline("property not followed by a blank");
            }
            self.skip_spaces()?;
        }
    }

    /// A tag at the cursor (`!`), resolved as yaml-rust2 resolves it without `%TAG`
    /// directives: `!!x` in the YAML namespace, `!x` local, `!` alone non-specific.
    fn tag(&mut self) -> Res<Tag> {
        if self.next() == b'<' {
            return decline("verbatim tag");
        }
        let start = self.pos;
        self.pos += 1;
        while matches!(self.cur(), b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'-') {
            self.pos += 1;
        }
        if self.cur() == b'!' {
            self.pos += 1;
            if self.pos - start != 2 {
                return decline("named tag handle");
            }
            let suffix = self.tag_suffix()?;
            if suffix.is_empty() {
                return decline("empty tag");
            }
            return Ok(Tag {
                handle: "tag:yaml.org,2002:".to_owned(),
                suffix: suffix.to_owned(),
            });
        }
        self.tag_suffix()?;
        let suffix = &self.text[start + 1..self.pos];
        Ok(if suffix.is_empty() {
            Tag {
                handle: String::new(),
                suffix: "!".to_owned(),
            }
        } else {
            Tag {
                handle: "!".to_owned(),
                suffix: suffix.to_owned(),
            }
        })
    }

    fn tag_suffix(&mut self) -> Res<&'a str> {
        let start = self.pos;
        loop {
            let b = self.cur();
            if b == b'%' {
                return decline("escaped tag");
            }
            if !is_tag_char(b) {
                break;
            }
            self.pos += 1;
        }
        Ok(&self.text[start..self.pos])
    }
}
