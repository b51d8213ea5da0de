//! A STAR/CIF 1.1 reader of our own (no mature crate exists): data blocks, tag–value pairs,
//! `loop_`s, `;`-delimited multi-line text fields, single/double quotes, `#` comments and the
//! `?` / `.` null markers. Tags are compared case-insensitively. Save frames (dictionaries) are
//! skipped. Every value keeps its line number, so errors can point into the file.

use std::collections::HashMap;

/// One value: `None` for unquoted `?` (unknown) and `.` (not applicable).
#[derive(Debug, Clone, PartialEq)]
pub struct CifValue {
    /// The text (quotes removed), or `None` for a null marker.
    pub text: Option<String>,
    /// 1-based line where the value starts.
    pub line: usize,
}

impl CifValue {
    /// The value as a number, ignoring a standard uncertainty in brackets: `1.234(5)` → 1.234.
    pub fn number(&self) -> Option<Result<f64, String>> {
        let t = self.text.as_deref()?;
        let core = t.split('(').next().unwrap_or(t);
        Some(core.parse::<f64>().map_err(|_| t.to_owned()))
    }
}

/// A category as a table: one row for tag–value pairs, many for a loop.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Category {
    /// Item names (after the dot), lower case, in file order.
    pub items: Vec<String>,
    /// Rows of values, one value per item.
    pub rows: Vec<Vec<CifValue>>,
}

impl Category {
    /// Column index of an item (case-insensitive).
    pub fn column(&self, item: &str) -> Option<usize> {
        let item = item.to_ascii_lowercase();
        self.items.iter().position(|i| *i == item)
    }

    /// The value of `item` in `row`, if the item exists.
    pub fn get(&self, row: usize, item: &str) -> Option<&CifValue> {
        self.column(item).and_then(|c| self.rows.get(row)?.get(c))
    }
}

/// A data block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// Name after `data_`.
    pub name: String,
    /// Categories by lower-case name (with the leading underscore, e.g. `_reflns`).
    pub categories: HashMap<String, Category>,
}

impl Block {
    /// A category by name (case-insensitive, with or without the leading underscore).
    pub fn category(&self, name: &str) -> Option<&Category> {
        let name = name.to_ascii_lowercase();
        let key = if name.starts_with('_') {
            name
        } else {
            format!("_{name}")
        };
        self.categories.get(&key)
    }

    /// The single value of `_category.item` (first row).
    pub fn value(&self, category: &str, item: &str) -> Option<&CifValue> {
        self.category(category)?.get(0, item)
    }
}

/// A syntax error: line and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct CifError {
    /// 1-based line.
    pub line: usize,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Data(String),
    Loop,
    Save(String),
    Global,
    Stop,
    Tag(String),
    Value(Option<String>),
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn at_line_start(&self) -> bool {
        self.pos == 0 || self.text.as_bytes()[self.pos - 1] == b'\n'
    }

    /// The next token and the line it starts on.
    fn next(&mut self) -> Result<Option<(Token, usize)>, CifError> {
        let bytes = self.text.as_bytes();
        loop {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                if bytes[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return Ok(None);
            }
            if bytes[self.pos] == b'#' {
                while self.pos < bytes.len() && bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let line = self.line;
        let c = bytes[self.pos];
        if c == b';' && self.at_line_start() {
            return self.text_field(line).map(|t| Some((t, line)));
        }
        if c == b'\'' || c == b'"' {
            // Ends at the same quote followed by whitespace or end of text.
            let start = self.pos + 1;
            let mut i = start;
            while i < bytes.len() {
                if bytes[i] == b'\n' {
                    break;
                }
                if bytes[i] == c && (i + 1 == bytes.len() || bytes[i + 1].is_ascii_whitespace()) {
                    self.pos = i + 1;
                    return Ok(Some((
                        Token::Value(Some(self.text[start..i].to_owned())),
                        line,
                    )));
                }
                i += 1;
            }
            return Err(CifError {
                line,
                expected: format!("a closing {} on the same line", c as char),
                found: format!("{:?}", &self.text[self.pos..i]),
            });
        }
        let start = self.pos;
        while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        let lower = word.to_ascii_lowercase();
        let token = if c == b'_' {
            Token::Tag(lower)
        } else if let Some(name) = lower.strip_prefix("data_") {
            let _ = name;
            Token::Data(word[5..].to_owned())
        } else if lower == "loop_" {
            Token::Loop
        } else if lower.starts_with("save_") {
            Token::Save(word[5..].to_owned())
        } else if lower == "global_" {
            Token::Global
        } else if lower == "stop_" {
            Token::Stop
        } else if word == "?" || word == "." {
            Token::Value(None)
        } else if c == b'$' || c == b'[' || c == b']' {
            return Err(CifError {
                line,
                expected: "a value (a word starting with $, [ or ] must be quoted in CIF 1.1)"
                    .into(),
                found: format!("{word:?}"),
            });
        } else {
            Token::Value(Some(word.to_owned()))
        };
        Ok(Some((token, line)))
    }

    fn text_field(&mut self, line: usize) -> Result<Token, CifError> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        while i < bytes.len() {
            if bytes[i] == b'\n' {
                self.line += 1;
                if i + 1 < bytes.len() && bytes[i + 1] == b';' {
                    let mut value = &self.text[start..i];
                    value = value.strip_suffix('\r').unwrap_or(value);
                    let value = value.strip_prefix('\n').unwrap_or(value);
                    let value = value.strip_prefix("\r\n").unwrap_or(value);
                    self.pos = i + 2;
                    return Ok(Token::Value(Some(value.to_owned())));
                }
            }
            i += 1;
        }
        Err(CifError {
            line,
            expected: "a line starting with ; that closes the text field opened here".into(),
            found: "the end of the file".into(),
        })
    }
}

/// Parse a CIF text into its data blocks.
pub fn parse(text: &str) -> Result<Vec<Block>, CifError> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        line: 1,
    };
    let mut blocks: Vec<Block> = Vec::new();
    let mut pending: Option<(Token, usize)> = None;
    let mut in_save = false;
    loop {
        let next = match pending.take() {
            Some(t) => Some(t),
            None => lexer.next()?,
        };
        let Some((token, line)) = next else { break };
        match token {
            Token::Data(name) => {
                blocks.push(Block {
                    name,
                    ..Default::default()
                });
                in_save = false;
            }
            Token::Save(name) => in_save = !name.is_empty(),
            Token::Global | Token::Stop => {
                return Err(CifError {
                    line,
                    expected: "CIF content (global_ and stop_ are STAR-only)".into(),
                    found: "a reserved word".into(),
                });
            }
            Token::Value(v) => {
                return Err(CifError {
                    line,
                    expected: "a tag (_category.item), loop_ or data_ before a value".into(),
                    found: format!("the value {:?}", v.unwrap_or_else(|| "?".into())),
                });
            }
            Token::Tag(tag) => {
                let block = current_block(&mut blocks, line)?;
                let value = match lexer.next()? {
                    Some((Token::Value(v), vline)) => CifValue {
                        text: v,
                        line: vline,
                    },
                    other => {
                        return Err(CifError {
                            line,
                            expected: format!("a value after {tag}"),
                            found: describe(other.map(|o| o.0)),
                        });
                    }
                };
                if in_save {
                    continue;
                }
                let (cat, item) = split_tag(&tag);
                let category = block.categories.entry(cat).or_default();
                if category.rows.len() > 1 {
                    return Err(CifError {
                        line,
                        expected: format!("{tag} inside its loop, not after it"),
                        found: "a tag-value pair for a looped category".into(),
                    });
                }
                if category.column(&item).is_some() {
                    return Err(CifError {
                        line,
                        expected: format!("each tag once per block; {tag} was already given"),
                        found: "a duplicate tag".into(),
                    });
                }
                category.items.push(item);
                if category.rows.is_empty() {
                    category.rows.push(Vec::new());
                }
                category.rows[0].push(value);
            }
            Token::Loop => {
                let block = current_block(&mut blocks, line)?;
                let mut tags = Vec::new();
                let mut values = Vec::new();
                loop {
                    match lexer.next()? {
                        Some((Token::Tag(t), _)) if values.is_empty() => tags.push(t),
                        Some((Token::Value(v), vline)) => values.push(CifValue {
                            text: v,
                            line: vline,
                        }),
                        other => {
                            pending = other;
                            break;
                        }
                    }
                }
                if tags.is_empty() {
                    return Err(CifError {
                        line,
                        expected: "tags after loop_".into(),
                        found: describe(pending.clone().map(|p| p.0)),
                    });
                }
                if values.is_empty() || values.len() % tags.len() != 0 {
                    let last = values.last().map(|v| v.line).unwrap_or(line);
                    return Err(CifError {
                        line: last,
                        expected: format!(
                            "a whole number of rows of {} values in the loop_ of line {line}",
                            tags.len()
                        ),
                        found: format!(
                            "{} values ({} rows and {} left over)",
                            values.len(),
                            values.len() / tags.len(),
                            values.len() % tags.len()
                        ),
                    });
                }
                if in_save {
                    continue;
                }
                let (cat, _) = split_tag(&tags[0]);
                let mut category = Category::default();
                for t in &tags {
                    let (c, item) = split_tag(t);
                    if c != cat {
                        return Err(CifError {
                            line,
                            expected: format!("tags of one category ({cat}) in a loop"),
                            found: t.clone(),
                        });
                    }
                    category.items.push(item);
                }
                let width = tags.len();
                let mut it = values.into_iter();
                loop {
                    let row: Vec<CifValue> = it.by_ref().take(width).collect();
                    if row.is_empty() {
                        break;
                    }
                    category.rows.push(row);
                }
                if block.categories.insert(cat.clone(), category).is_some() {
                    return Err(CifError {
                        line,
                        expected: format!("category {cat} once per block"),
                        found: "a second loop or pairs for it".into(),
                    });
                }
            }
        }
    }
    Ok(blocks)
}

fn current_block(blocks: &mut [Block], line: usize) -> Result<&mut Block, CifError> {
    blocks.last_mut().ok_or_else(|| CifError {
        line,
        expected: "a data_ block header first".into(),
        found: "content outside any data block".into(),
    })
}

fn split_tag(tag: &str) -> (String, String) {
    match tag.find('.') {
        Some(i) => (tag[..i].to_owned(), tag[i + 1..].to_owned()),
        None => (tag.to_owned(), String::new()),
    }
}

fn describe(token: Option<Token>) -> String {
    match token {
        None => "the end of the file".into(),
        Some(Token::Tag(t)) => format!("the tag {t}"),
        Some(Token::Loop) => "loop_".into(),
        Some(Token::Data(d)) => format!("data_{d}"),
        Some(Token::Save(s)) => format!("save_{s}"),
        Some(Token::Global) => "global_".into(),
        Some(Token::Stop) => "stop_".into(),
        Some(Token::Value(v)) => format!("the value {:?}", v.unwrap_or_else(|| "?".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_text_fields_comments_and_nulls() {
        let text = "# comment\ndata_x\n_a.b 'it''s here' # trailing\n_a.c \"x y\"\n_a.d\n;line 1\nline 2\n;\n_a.e ?\n_a.f .\n_a.g '?'\n_a.h 1.25(3)\nloop_\n_l.i\n_l.j\n1 a\n2 'b c'\n";
        let blocks = parse(text).unwrap();
        let b = &blocks[0];
        assert_eq!(b.name, "x");
        assert_eq!(
            b.value("a", "b").unwrap().text.as_deref(),
            Some("it''s here")
        );
        assert_eq!(b.value("a", "c").unwrap().text.as_deref(), Some("x y"));
        assert_eq!(
            b.value("a", "d").unwrap().text.as_deref(),
            Some("line 1\nline 2")
        );
        assert_eq!(b.value("_A", "E").unwrap().text, None);
        assert_eq!(b.value("a", "f").unwrap().text, None);
        assert_eq!(b.value("a", "g").unwrap().text.as_deref(), Some("?"));
        assert_eq!(b.value("a", "h").unwrap().number(), Some(Ok(1.25)));
        let l = b.category("l").unwrap();
        assert_eq!(l.rows.len(), 2);
        assert_eq!(l.get(1, "j").unwrap().text.as_deref(), Some("b c"));
        assert_eq!(l.get(1, "j").unwrap().line, 17);
    }

    #[test]
    fn malformed_loops_and_unclosed_fields_name_the_line() {
        let e = parse("data_x\nloop_\n_l.a\n_l.b\n1 2\n3\n").unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.expected.contains("rows of 2 values"), "{e:?}");
        let e = parse("data_x\n_a.b\n;never closed\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("data_x\n_a.b 'open\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("_a.b 1\n").unwrap_err();
        assert!(e.expected.contains("data_"));
        let e = parse("data_x\n_a.b\n_a.c 1\n").unwrap_err();
        assert!(e.expected.contains("a value after _a.b"), "{e:?}");
    }
}
