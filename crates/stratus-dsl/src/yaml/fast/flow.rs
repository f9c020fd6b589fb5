//! Flow collections (`[a, b]`, `{a: b}`), possibly nested and spanning lines.
//!
//! Marks: a collection starts at its bracket and ends at its closing bracket, except that
//! a flow mapping closed right after a trailing `,` ends at that comma (yaml-rust2's
//! `flow_mapping_key` keeps the comma's mark). An empty value after `:` sits at the `:`, a
//! key without `:` gets an empty value at the `,` or `}` after it.
//!
//! yaml-rust2 checks every token of a flow collection against its current block
//! indentation: the enclosing block collection's column `b`, plus one while the non-block
//! level pushed at the collection start is there (a plain scalar pops it); a plain scalar
//! must start right of `b`.

use yaml_rust2::scanner::TScalarStyle;

use super::{decline, is_blankz, is_flow, quote_style, Ev, Parser, Props, Res, Sink};

impl<S: Sink> Parser<'_, '_, S> {
    /// A flow collection at the cursor (`[` or `{`) inside block collection column `b`.
    /// Leaves the cursor after its closing bracket.
    pub(crate) fn flow_collection(&mut self, b: isize, props: Props) -> Res<()> {
        self.enter()?;
        if self.cur() == b'[' {
            self.flow_seq(b, props)?;
        } else {
            self.flow_map(b, props)?;
        }
        self.leave();
        // yaml-rust2 wants a blank between a closing bracket and a comment.
        if self.cur() == b'#' {
            return decline("comment not separated from a token");
        }
        Ok(())
    }

    /// Skips blanks, comments and line breaks inside a flow collection, then checks the
    /// indentation of the token at the cursor.
    fn flow_ws(&mut self, b: isize) -> Res<()> {
        self.skip_ws_lines()?;
        if self.eof() {
            return decline("unterminated flow collection");
        }
        if self.doc_indicator().is_some() {
            return decline("document marker in a flow collection");
        }
        if (self.col() as isize) < b + isize::from(self.flow_nonblock) {
            return decline("flow collection line indented too little");
        }
        Ok(())
    }

    /// After `[`, `{` or `,`: a comment must be separated by a blank.
    fn after_indicator(&mut self) -> Res<()> {
        self.pos += 1;
        if self.cur() == b'#' {
            return decline("comment not separated from a token");
        }
        Ok(())
    }

    fn flow_seq(&mut self, b: isize, props: Props) -> Res<()> {
        let mark = self.mark();
        self.emit(Ev::SequenceStart(props.anchor, props.tag), mark);
        self.after_indicator()?;
        let mut first = true;
        loop {
            self.flow_ws(b)?;
            if self.cur() == b']' {
                break;
            }
            if !first {
                if self.cur() != b',' {
                    return decline("expected , or ] in a flow sequence");
                }
                self.after_indicator()?;
                self.flow_ws(b)?;
                if self.cur() == b']' {
                    break;
                }
            }
            first = false;
            self.flow_node(b)?;
            self.flow_ws(b)?;
            if self.cur() == b':' {
                return decline("mapping in a flow sequence");
            }
        }
        let mark = self.mark();
        self.emit(Ev::SequenceEnd, mark);
        self.pos += 1;
        Ok(())
    }

    fn flow_map(&mut self, b: isize, props: Props) -> Res<()> {
        let mark = self.mark();
        self.emit(Ev::MappingStart(props.anchor, props.tag), mark);
        self.after_indicator()?;
        let mut first = true;
        let end = loop {
            self.flow_ws(b)?;
            if self.cur() == b'}' {
                break self.mark();
            }
            if !first {
                if self.cur() != b',' {
                    return decline("expected , or } in a flow mapping");
                }
                let comma = self.mark();
                self.after_indicator()?;
                self.flow_ws(b)?;
                if self.cur() == b'}' {
                    break comma;
                }
            }
            first = false;
            let quoted = matches!(self.cur(), b'"' | b'\'');
            if !quoted && !self.plain_start() {
                return decline("flow mapping key that is not a scalar");
            }
            self.flow_node(b)?;
            self.flow_ws(b)?;
            match self.cur() {
                b':' => {
                    // After a quoted key yaml-rust2 takes an adjacent `:` as the indicator.
                    let n = self.next();
                    if !(quoted || is_blankz(n) || is_flow(n)) {
                        return decline("plain scalar after a flow mapping key");
                    }
                    let colon = self.mark();
                    self.pos += 1;
                    if self.cur() == b'\t' {
                        return decline("tab");
                    }
                    self.flow_ws(b)?;
                    if matches!(self.cur(), b',' | b'}') {
                        self.emit_empty(Props::default(), colon);
                    } else {
                        self.flow_node(b)?;
                        self.flow_ws(b)?;
                        if self.cur() == b':' {
                            return decline("second : in a flow mapping entry");
                        }
                    }
                }
                b',' | b'}' => {
                    let mark = self.mark();
                    self.emit_empty(Props::default(), mark);
                }
                _ => return decline("expected : , or } after a flow mapping key"),
            }
        };
        self.emit(Ev::MappingEnd, end);
        self.pos += 1;
        Ok(())
    }

    /// Whether the cursor can start a plain scalar in flow context.
    fn plain_start(&self) -> bool {
        let (c, n) = (self.cur(), self.next());
        match c {
            b'-' | b'?' | b':' => !(is_blankz(n) || is_flow(n)),
            b'[' | b']' | b'{' | b'}' | b',' | b'*' | b'&' | b'!' | b'|' | b'>' | b'\'' | b'"'
            | b'%' | b'@' | b'`' | b'#' => false,
            0x80.. => false,
            _ => !is_blankz(c),
        }
    }

    /// A node inside a flow collection at the cursor.
    fn flow_node(&mut self, b: isize) -> Res<()> {
        let mut props = Props::default();
        if matches!(self.cur(), b'&' | b'!') {
            props = self.props()?;
            if matches!(self.cur(), b'&' | b'!' | b'*' | b'#' | b'\n' | b'\r' | 0) {
                return decline("properties without content on their line");
            }
        }
        let c = self.cur();
        match c {
            b'[' | b'{' => self.flow_collection(b, props),
            b'"' | b'\'' => {
                let mark = self.mark();
                let style = quote_style(c);
                let text = self.quoted(c == b'\'', b + isize::from(self.flow_nonblock))?;
                if self.cur() == b'#' {
                    return decline("comment not separated from a token");
                }
                self.emit(Ev::Scalar(text, style, props.anchor, props.tag), mark);
                Ok(())
            }
            b'*' if !props.is_some() => {
                let mark = self.mark();
                let id = self.alias()?;
                self.emit(Ev::Alias(id), mark);
                Ok(())
            }
            _ if self.plain_start() => {
                if (self.col() as isize) < b + 1 {
                    return decline("plain scalar indented too little in a flow collection");
                }
                let mark = self.mark();
                let plain = self.plain(true, 0)?;
                self.flow_nonblock = false;
                self.emit(
                    Ev::Scalar(plain.text, TScalarStyle::Plain, props.anchor, props.tag),
                    mark,
                );
                Ok(())
            }
            _ => decline("unexpected character in a flow collection"),
        }
    }
}
