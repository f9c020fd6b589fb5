//! The catalog's own source format (`catalog/*.scat`): one file per family of documents.
//!
//! Upstream type files repeat themselves from version to version, so a family states one
//! document in full and every other one as a patch against an earlier one. Only the contract is
//! kept: no descriptions, no comments, no layout. Grammar, line by line:
//!
//! ```text
//! # comment (column 0)
//! @version ID [= OTHER | < PARENT] [@ URL-PATH]...   a plugin package version (also served at URL-PATHs)
//! @doc ID [= OTHER | < PARENT] @ URL-PATH...         a type file served only at its URL paths
//! ```
//! A document with neither `=` nor `<` is followed by its tree: `path = value` for a leaf,
//! `path` alone for a mapping whose entries follow one space deeper (no entries: an empty
//! mapping). A path is keys joined by `/`, so chains of one-entry mappings take one line.
//! `= OTHER` renders exactly as OTHER; `< PARENT` is followed by patch lines at column 0:
//! `-path` deletes a key, `+path = value` or `+path` plus an indented tree sets it (a new key
//! goes last), `~path = [keys]` restores the key order of the mapping at `path` (`~ = […]`: the
//! top level), so a rendering keeps the upstream order.
//! Values: `~`, `true`, `false`, integers, floats, `"json-style strings"`, `[flow, lists]`,
//! `{flow: maps}`; any other text after ` = ` is a plain string.

use crate::value::{child_map, insert, Map, Value};

/// How a document is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its body is the whole tree.
    Full,
    /// Identical to another document of the family.
    Same(&'static str),
    /// Its body patches another document of the family.
    Patch(&'static str),
}

/// One `@version`/`@doc` entry and its unparsed body.
#[derive(Debug, Clone)]
pub struct DocDecl {
    pub id: &'static str,
    pub is_plugin_version: bool,
    pub source: Source,
    pub paths: Vec<&'static str>,
    pub body: &'static str,
}

/// Splits a family file into document declarations, without parsing bodies.
pub fn declarations(text: &'static str) -> Result<Vec<DocDecl>, String> {
    let mut docs: Vec<DocDecl> = Vec::new();
    let mut body_start: Option<usize> = None;
    let mut offset = 0;
    let close = |docs: &mut Vec<DocDecl>, start: Option<usize>, end: usize| {
        if let (Some(doc), Some(start)) = (docs.last_mut(), start) {
            doc.body = &text[start..end];
        }
    };
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        if !line.starts_with('@') {
            continue;
        }
        close(&mut docs, body_start, line_start);
        body_start = Some(offset);
        docs.push(header(line.trim_end())?);
    }
    close(&mut docs, body_start, text.len());
    Ok(docs)
}

fn header(line: &'static str) -> Result<DocDecl, String> {
    let mut words = line.split_whitespace();
    let is_plugin_version = match words.next() {
        Some("@version") => true,
        Some("@doc") => false,
        _ => return Err(format!("unknown header `{line}`")),
    };
    let id = words
        .next()
        .ok_or_else(|| format!("header without id: `{line}`"))?;
    let mut doc = DocDecl {
        id,
        is_plugin_version,
        source: Source::Full,
        paths: Vec::new(),
        body: "",
    };
    while let Some(word) = words.next() {
        let operand = words
            .next()
            .ok_or_else(|| format!("`{word}` without operand in `{line}`"))?;
        match word {
            "=" => doc.source = Source::Same(operand),
            "<" => doc.source = Source::Patch(operand),
            "@" => doc.paths.push(operand),
            _ => return Err(format!("unexpected `{word}` in `{line}`")),
        }
    }
    Ok(doc)
}

struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

fn lines(body: &str) -> Vec<Line<'_>> {
    body.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(number, l)| {
            let text = l.trim_start_matches(' ');
            Line {
                number: number + 1,
                indent: l.len() - text.len(),
                text,
            }
        })
        .collect()
}

/// Parses a full document body.
pub fn parse_tree(body: &str) -> Result<Map, String> {
    let lines = lines(body);
    let mut map = Map::new();
    let mut index = 0;
    block(&lines, &mut index, 0, &mut map)?;
    if let Some(line) = lines.get(index) {
        return Err(format!("line {}: unexpected indentation", line.number));
    }
    Ok(map)
}

/// Applies a patch body to `base`.
pub fn apply_patch(base: &mut Map, body: &str) -> Result<(), String> {
    let lines = lines(body);
    let mut index = 0;
    while index < lines.len() {
        let line = &lines[index];
        let at = |e: String| format!("line {}: {e}", line.number);
        index += 1;
        if line.indent != 0 {
            return Err(at("patch lines start at column 0".into()));
        }
        let (sign, rest) = line.text.split_at(1);
        let (path, value) = entry(rest).map_err(at)?;
        if sign == "~" {
            reorder(base, &path, value).map_err(at)?;
            continue;
        }
        let (last, parents) = path.split_last().ok_or_else(|| at("empty path".into()))?;
        let mut target = &mut *base;
        for key in parents {
            target =
                child_map(target, key).ok_or_else(|| at(format!("`{key}` is not a mapping")))?;
        }
        match sign {
            "-" => {
                let before = target.len();
                target.retain(|(k, _)| k != last);
                if target.len() == before {
                    return Err(at(format!("no key `{last}` to delete")));
                }
            }
            "+" => {
                let value = match value {
                    Some(value) => value,
                    None => {
                        let mut map = Map::new();
                        if lines.get(index).is_some_and(|l| l.indent > 0) {
                            let indent = lines[index].indent;
                            block(&lines, &mut index, indent, &mut map)?;
                        }
                        Value::Map(map)
                    }
                };
                insert(target, last, value);
            }
            _ => {
                return Err(at(format!(
                    "patch line must start with + or -, found `{sign}`"
                )))
            }
        }
    }
    Ok(())
}

/// `~path = [keys]`: puts the mapping at `path` (empty: the root) in that key order.
fn reorder(base: &mut Map, path: &[String], order: Option<Value>) -> Result<(), String> {
    let mut target = base;
    for key in path.iter().filter(|key| !key.is_empty()) {
        target = child_map(target, key).ok_or_else(|| format!("`{key}` is not a mapping"))?;
    }
    let Some(Value::Seq(order)) = order else {
        return Err("a reorder needs a list of keys".into());
    };
    let mut keys = Vec::with_capacity(order.len());
    for key in &order {
        match key {
            Value::Str(key) if target.iter().any(|(k, _)| k == key) => keys.push(key),
            Value::Str(key) => return Err(format!("reorder names missing key `{key}`")),
            other => return Err(format!("reorder key {other:?} is not a string")),
        }
    }
    if let Some((key, _)) = target.iter().find(|(k, _)| !keys.contains(&k)) {
        return Err(format!("reorder leaves out key `{key}`"));
    }
    let mut entries = std::mem::take(target);
    for key in keys {
        if let Some(position) = entries.iter().position(|(k, _)| k == key) {
            target.push(entries.remove(position));
        }
    }
    Ok(())
}

fn block(
    lines: &[Line<'_>],
    index: &mut usize,
    indent: usize,
    map: &mut Map,
) -> Result<(), String> {
    while let Some(line) = lines.get(*index) {
        if line.indent < indent {
            return Ok(());
        }
        let at = |e: String| format!("line {}: {e}", line.number);
        if line.indent > indent {
            return Err(at("unexpected indentation".into()));
        }
        *index += 1;
        let (path, value) = entry(line.text).map_err(at)?;
        let (last, parents) = path.split_last().ok_or_else(|| at("empty path".into()))?;
        let mut target = &mut *map;
        for key in parents {
            target =
                child_map(target, key).ok_or_else(|| at(format!("`{key}` is not a mapping")))?;
        }
        match value {
            Some(value) => insert(target, last, value),
            None => {
                let inner = child_map(target, last)
                    .ok_or_else(|| at(format!("`{last}` is not a mapping")))?;
                if let Some(next) = lines.get(*index).filter(|l| l.indent > indent) {
                    block(lines, index, next.indent, inner)?;
                }
            }
        }
    }
    Ok(())
}

/// Splits `a/b/"c d" = value` into keys and the parsed value.
fn entry(text: &str) -> Result<(Vec<String>, Option<Value>), String> {
    let mut cursor = Cursor { text, pos: 0 };
    let mut path = Vec::new();
    loop {
        let key = if cursor.peek() == Some('"') {
            cursor.quoted()?
        } else {
            let start = cursor.pos;
            while cursor.peek().is_some_and(|c| c != '/' && c != ' ') {
                cursor.bump();
            }
            text[start..cursor.pos].to_string()
        };
        path.push(key);
        if cursor.peek() == Some('/') {
            cursor.bump();
        } else {
            break;
        }
    }
    let rest = &text[cursor.pos..];
    if rest.is_empty() {
        return Ok((path, None));
    }
    let value = rest
        .strip_prefix(" = ")
        .ok_or_else(|| format!("expected ` = ` in `{text}`"))?;
    Ok((path, Some(parse_value(value)?)))
}

/// Parses the text after ` = `.
pub fn parse_value(text: &str) -> Result<Value, String> {
    if text.starts_with(['[', '{', '"']) {
        let mut cursor = Cursor { text, pos: 0 };
        let value = cursor.flow()?;
        cursor.skip_spaces();
        if cursor.pos != text.len() {
            return Err(format!("trailing text in `{text}`"));
        }
        Ok(value)
    } else {
        Ok(bare(text))
    }
}

fn bare(token: &str) -> Value {
    match token {
        "~" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if is_int(token) => token
            .parse()
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(token.into())),
        _ if is_float(token) => token
            .parse()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::Str(token.into())),
        _ => Value::Str(token.to_string()),
    }
}

fn is_int(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_float(token: &str) -> bool {
    let mantissa = token.split(['e', 'E']).next().unwrap_or("");
    match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            is_int(whole) && !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.bump();
        }
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        self.skip_spaces();
        match self.bump() {
            Some(c) if c == want => Ok(()),
            other => Err(format!(
                "expected `{want}`, found {other:?} in `{}`",
                self.text
            )),
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(format!("unterminated string in `{}`", self.text)),
                Some('"') => return Ok(out),
                Some('\\') => out.push(match self.bump() {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some(c @ ('"' | '\\')) => c,
                    other => return Err(format!("bad escape {other:?} in `{}`", self.text)),
                }),
                Some(c) => out.push(c),
            }
        }
    }

    fn flow(&mut self) -> Result<Value, String> {
        self.skip_spaces();
        match self.peek() {
            Some('"') => self.quoted().map(Value::Str),
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                self.skip_spaces();
                if self.peek() == Some(']') {
                    self.bump();
                    return Ok(Value::Seq(items));
                }
                loop {
                    items.push(self.flow()?);
                    self.skip_spaces();
                    match self.bump() {
                        Some(',') => continue,
                        Some(']') => return Ok(Value::Seq(items)),
                        other => {
                            return Err(format!(
                                "expected `,` or `]`, found {other:?} in `{}`",
                                self.text
                            ))
                        }
                    }
                }
            }
            Some('{') => {
                self.bump();
                let mut map = Map::new();
                self.skip_spaces();
                if self.peek() == Some('}') {
                    self.bump();
                    return Ok(Value::Map(map));
                }
                loop {
                    self.skip_spaces();
                    let key = match self.flow()? {
                        Value::Str(key) => key,
                        other => {
                            return Err(format!("non-string key {other:?} in `{}`", self.text))
                        }
                    };
                    self.expect(':')?;
                    let value = self.flow()?;
                    insert(&mut map, &key, value);
                    self.skip_spaces();
                    match self.bump() {
                        Some(',') => continue,
                        Some('}') => return Ok(Value::Map(map)),
                        other => {
                            return Err(format!(
                                "expected `,` or `}}`, found {other:?} in `{}`",
                                self.text
                            ))
                        }
                    }
                }
            }
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | '[' | ']' | '{' | '}' | ':' | ' '))
                {
                    self.bump();
                }
                if start == self.pos {
                    return Err(format!("expected a value in `{}`", self.text));
                }
                Ok(bare(&self.text[start..self.pos]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_paths_and_values() {
        let map = parse_tree("a/b = 1\na/c\n d = \"x y\"\n e = [1, 2.5, ~, \"3\", {k: true}]\nf\n")
            .unwrap();
        let expected = vec![
            (
                "a".to_string(),
                Value::Map(vec![
                    ("b".into(), Value::Int(1)),
                    (
                        "c".into(),
                        Value::Map(vec![
                            ("d".into(), Value::Str("x y".into())),
                            (
                                "e".into(),
                                Value::Seq(vec![
                                    Value::Int(1),
                                    Value::Float(2.5),
                                    Value::Null,
                                    Value::Str("3".into()),
                                    Value::Map(vec![("k".into(), Value::Bool(true))]),
                                ]),
                            ),
                        ]),
                    ),
                ]),
            ),
            ("f".to_string(), Value::Map(vec![])),
        ];
        assert_eq!(map, expected);
    }

    #[test]
    fn patch_sets_and_deletes() {
        let mut map = parse_tree("a/b = 1\na/c = 2\n").unwrap();
        apply_patch(&mut map, "-a/b\n+a/c = file:///x y\n+n\n m = ~\n").unwrap();
        assert_eq!(parse_tree("a/c = file:///x y\nn/m = ~\n").unwrap(), map);
        assert!(apply_patch(&mut map, "-a/missing\n")
            .unwrap_err()
            .contains("missing"));
    }

    #[test]
    fn patch_reorders() {
        let mut map = parse_tree("a = 1\nb/x = 1\nb/y = 2\n").unwrap();
        apply_patch(&mut map, "~ = [b, a]\n~b = [y, x]\n").unwrap();
        assert_eq!(map, parse_tree("b/y = 2\nb/x = 1\na = 1\n").unwrap());
        let keys = |map: &Map| map.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&map), ["b", "a"]);
        assert!(apply_patch(&mut map, "~ = [b]\n")
            .unwrap_err()
            .contains("leaves out key `a`"));
        assert!(apply_patch(&mut map, "~ = [b, a, c]\n")
            .unwrap_err()
            .contains("missing key `c`"));
    }

    #[test]
    fn headers() {
        let docs = declarations("# c\n@version 1.0 @ x/y.yaml\na = 1\n@doc d < 1.0 @ p\n+a = 2\n")
            .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].paths, vec!["x/y.yaml"]);
        assert_eq!(docs[0].body, "a = 1\n");
        assert_eq!(docs[1].source, Source::Patch("1.0"));
        assert!(!docs[1].is_plugin_version);
    }
}
