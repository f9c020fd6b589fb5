//! Literal (`|`) and folded (`>`) block scalars, scanned as yaml-rust2's
//! `scan_block_scalar` scans them (chomping, indentation indicator or detection, folding,
//! and its quirks: the mark of the first content line, two breaks for a last line of
//! indentation only at the end of input).

use std::borrow::Cow;

use super::scan::push_breaks;
use super::{decline, is_blank, is_breakz, Mark, Parser, Res, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chomp {
    Clip,
    Strip,
    Keep,
}

impl<'a, S: Sink> Parser<'a, '_, S> {
    /// A literal (`|`) or folded (`>`) block scalar whose header is at the cursor, in a
    /// block collection at column `b` (>= 0). Returns its text and yaml-rust2's mark for it:
    /// its first content line (or the next token when it is empty), or the header at the
    /// end of input.
    pub(crate) fn block_scalar(&mut self, b: isize, literal: bool) -> Res<(Cow<'a, str>, Mark)> {
        let header = self.mark();
        self.pos += 1;
        let mut chomp = Chomp::Clip;
        let mut increment = 0;
        let c = self.cur();
        if c == b'+' || c == b'-' {
            chomp = if c == b'+' { Chomp::Keep } else { Chomp::Strip };
            self.pos += 1;
            if self.cur().is_ascii_digit() {
                if self.cur() == b'0' {
                    return decline("indentation indicator 0");
                }
                increment = usize::from(self.cur() - b'0');
                self.pos += 1;
            }
        } else if c.is_ascii_digit() {
            if c == b'0' {
                return decline("indentation indicator 0");
            }
            increment = usize::from(c - b'0');
            self.pos += 1;
            let c = self.cur();
            if c == b'+' || c == b'-' {
                chomp = if c == b'+' { Chomp::Keep } else { Chomp::Strip };
                self.pos += 1;
            }
        }
        let spaced = self.skip_spaces()? > 0;
        self.end_line(spaced)?;
        if !self.eof() {
            self.eat_break();
        }
        if self.cur() == b'\t' {
            return decline("block scalar starting with a tab");
        }
        let mut trailing = 0;
        let indent = if increment > 0 {
            let indent = b.max(0) as usize + increment;
            self.block_indent(indent, &mut trailing)?;
            indent
        } else {
            let mut max = 0;
            loop {
                while self.cur() == b' ' {
                    self.pos += 1;
                }
                max = max.max(self.col());
                if matches!(self.cur(), b'\n' | b'\r') {
                    self.eat_break();
                    trailing += 1;
                } else {
                    break;
                }
            }
            let indent = max.max((b + 1) as usize).max(1);
            if self.cur() == b'\t' && self.col() < indent {
                return decline("tab in a block scalar's indentation");
            }
            indent
        };
        if self.eof() {
            let text = match chomp {
                Chomp::Strip => String::new(),
                _ if self.line == header.line => String::new(),
                Chomp::Clip => "\n".to_owned(),
                Chomp::Keep if trailing == 0 => "\n".to_owned(),
                Chomp::Keep => "\n".repeat(trailing),
            };
            return Ok((Cow::Owned(text), header));
        }
        let col = self.col();
        if col < indent && col as isize > b {
            return decline("wrongly indented line in a block scalar");
        }
        let mark = self.mark();
        let text = self.text;
        let mut s = String::new();
        let mut leading_break = false;
        let mut leading_blank = false;
        while self.col() == indent && !self.eof() {
            let trailing_blank = is_blank(self.cur());
            if !literal && leading_break && !leading_blank && !trailing_blank {
                push_breaks(&mut s, trailing);
                if trailing == 0 {
                    s.push(' ');
                }
            } else {
                if leading_break {
                    s.push('\n');
                }
                push_breaks(&mut s, trailing);
            }
            leading_break = false;
            trailing = 0;
            leading_blank = trailing_blank;
            let line = self.pos;
            loop {
                let c = self.cur();
                if is_breakz(c) {
                    break;
                }
                if c >= 0x80 {
                    return decline("non-ASCII scalar");
                }
                self.pos += 1;
            }
            s.push_str(&text[line..self.pos]);
            if self.eof() {
                break;
            }
            self.eat_break();
            leading_break = true;
            self.block_indent(indent, &mut trailing)?;
        }
        if chomp != Chomp::Strip {
            if leading_break {
                s.push('\n');
            }
            if self.eof() && self.col() >= indent {
                s.push('\n');
            }
        }
        if chomp == Chomp::Keep {
            push_breaks(&mut s, trailing);
        }
        Ok((Cow::Owned(s), mark))
    }

    /// Skips a block scalar's indentation (up to `indent` spaces) and empty lines.
    fn block_indent(&mut self, indent: usize, trailing: &mut usize) -> Res<()> {
        loop {
            while self.col() < indent && self.cur() == b' ' {
                self.pos += 1;
            }
            if matches!(self.cur(), b'\n' | b'\r') {
                self.eat_break();
                *trailing += 1;
            } else {
                break;
            }
        }
        if self.cur() == b'\t' && self.col() < indent {
            return decline("tab in a block scalar's indentation");
        }
        Ok(())
    }
}
