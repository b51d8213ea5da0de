//! Writing CIF text: a data block of categories, each written as `_category.item value` pairs
//! (one row) or a `loop_` (several), values quoted as CIF 1.1 requires. Output is
//! deterministic: categories and items in the order they were added.

use std::fmt::Write;

/// A CIF value.
#[derive(Debug, Clone, PartialEq)]
pub enum CifValue {
    /// `?`: unknown (the item applies, the store does not hold it).
    Unknown,
    /// A number, written in Rust's shortest form that reads back to the same `f64`.
    Number(f64),
    /// An integer.
    Integer(i64),
    /// Text, quoted as needed.
    Text(String),
}

impl From<f64> for CifValue {
    fn from(v: f64) -> Self {
        if v.is_finite() {
            CifValue::Number(v)
        } else {
            CifValue::Unknown
        }
    }
}

impl From<i64> for CifValue {
    fn from(v: i64) -> Self {
        CifValue::Integer(v)
    }
}

impl From<&str> for CifValue {
    fn from(v: &str) -> Self {
        CifValue::Text(v.to_owned())
    }
}

impl From<String> for CifValue {
    fn from(v: String) -> Self {
        CifValue::Text(v)
    }
}

impl<T: Into<CifValue>> From<Option<T>> for CifValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(CifValue::Unknown, Into::into)
    }
}

/// Rows of one category, items in order.
#[derive(Debug, Clone, Default)]
pub struct Category {
    /// Name without the leading underscore, e.g. `reflns_shell`.
    pub name: String,
    /// Item names.
    pub items: Vec<String>,
    /// Rows, each with one value per item.
    pub rows: Vec<Vec<CifValue>>,
}

impl Category {
    /// A new category.
    pub fn new(name: &str) -> Category {
        Category {
            name: name.to_owned(),
            ..Category::default()
        }
    }

    /// Add a row of (item, value) pairs; items not seen before are added (as `?` in earlier rows).
    pub fn row<I, V>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (String, V)>,
        V: Into<CifValue>,
    {
        let mut row = vec![CifValue::Unknown; self.items.len()];
        for (item, value) in pairs {
            let i = match self.items.iter().position(|x| *x == item) {
                Some(i) => i,
                None => {
                    self.items.push(item);
                    for r in &mut self.rows {
                        r.push(CifValue::Unknown);
                    }
                    row.push(CifValue::Unknown);
                    self.items.len() - 1
                }
            };
            row[i] = value.into();
        }
        self.rows.push(row);
    }
}

/// A data block.
#[derive(Debug, Clone, Default)]
pub struct DataBlock {
    /// Block name (after `data_`).
    pub name: String,
    /// Categories in order.
    pub categories: Vec<Category>,
}

impl DataBlock {
    /// Add a category (empty ones are left out when written).
    pub fn push(&mut self, category: Category) {
        self.categories.push(category);
    }

    /// The block as CIF text.
    pub fn to_text(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "data_{}", bare_name(&self.name));
        for c in self
            .categories
            .iter()
            .filter(|c| !c.rows.is_empty() && !c.items.is_empty())
        {
            out.push_str("#\n");
            if c.rows.len() == 1 {
                let width = c.items.iter().map(|i| i.len()).max().unwrap_or(0) + c.name.len() + 2;
                for (item, value) in c.items.iter().zip(&c.rows[0]) {
                    let tag = format!("_{}.{item}", c.name);
                    let text = quoted(value);
                    if text.starts_with(';') {
                        let _ = writeln!(out, "{tag}\n{text}");
                    } else {
                        let _ = writeln!(out, "{tag:<width$} {text}");
                    }
                }
            } else {
                out.push_str("loop_\n");
                for item in &c.items {
                    let _ = writeln!(out, "_{}.{item}", c.name);
                }
                for row in &c.rows {
                    let mut line = String::new();
                    for v in row {
                        let text = quoted(v);
                        // CIF 1.1 lines are at most 2048 characters: a long row goes on.
                        if !line.is_empty() && line.len() + text.len() >= MAX_LINE {
                            let _ = writeln!(out, "{}", line.trim_end());
                            line.clear();
                        }
                        if text.starts_with(';') {
                            if !line.is_empty() {
                                let _ = writeln!(out, "{}", line.trim_end());
                                line.clear();
                            }
                            let _ = writeln!(out, "{text}");
                        } else {
                            line.push_str(&text);
                            line.push(' ');
                        }
                    }
                    if !line.is_empty() {
                        let _ = writeln!(out, "{}", line.trim_end());
                    }
                }
            }
        }
        out.push_str("#\n");
        out
    }
}

/// CIF 1.1's longest line.
const MAX_LINE: usize = 2048;

/// A block name: no whitespace (replaced by `_`).
fn bare_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

/// A value as CIF 1.1 text: bare when it can be, else in single or double quotes, else a
/// semicolon text field (multi-line text, or text holding both quote characters before a blank).
pub fn quoted(v: &CifValue) -> String {
    match v {
        CifValue::Unknown => "?".into(),
        CifValue::Integer(i) => i.to_string(),
        CifValue::Number(x) => x.to_string(),
        CifValue::Text(t) => quote_text(t),
    }
}

fn quote_text(t: &str) -> String {
    if t.contains('\n') || t.contains('\r') || t.len() >= MAX_LINE - 4 {
        return text_field(t);
    }
    let lower = t.to_ascii_lowercase();
    let reserved = ["data_", "loop_", "save_", "global_", "stop_"]
        .iter()
        .any(|w| lower.starts_with(w));
    let special_start = t.starts_with(['_', '#', '$', '\'', '"', '[', ']', ';']);
    let bare = !t.is_empty()
        && !reserved
        && !special_start
        && t != "?"
        && t != "."
        && !t.chars().any(|c| c.is_whitespace());
    if bare {
        return t.to_owned();
    }
    // A quote character ends a quoted value only when a blank follows it (CIF 1.1); the other
    // quote is chosen whenever it avoids the question (CIF 2 readers end at any quote).
    let closes = |q: char| {
        t.char_indices()
            .any(|(i, c)| c == q && t[i + 1..].starts_with(char::is_whitespace))
    };
    if !t.contains('\'') {
        format!("'{t}'")
    } else if !t.contains('"') {
        format!("\"{t}\"")
    } else if !closes('\'') {
        format!("'{t}'")
    } else if !closes('"') {
        format!("\"{t}\"")
    } else {
        text_field(t)
    }
}

/// A semicolon text field. CIF 1.1 has no escape for a line that starts with `;` inside one (it
/// would end the field): such a line gets a leading space, said in docs/mmcif.md. A leading
/// newline, which readers drop, is kept by writing it as an empty first line.
fn text_field(t: &str) -> String {
    let t = t.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = t
        .split('\n')
        .map(|l| {
            if l.starts_with(';') {
                format!(" {l}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    let body = lines.join("\n");
    if body.starts_with('\n') {
        format!(";\n{body}\n;")
    } else {
        format!(";{body}\n;")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_cif_requires() {
        let q = |s: &str| quote_text(s);
        assert_eq!(q("P1"), "P1");
        assert_eq!(q("P 43 21 2"), "'P 43 21 2'");
        assert_eq!(q("it's a test"), "\"it's a test\"");
        assert_eq!(q("data_x"), "'data_x'");
        assert_eq!(q("_x"), "'_x'");
        assert_eq!(q("?"), "'?'");
        assert_eq!(q(""), "''");
        assert_eq!(q("a' \"b\" c"), ";a' \"b\" c\n;");
        assert_eq!(q("two\nlines"), ";two\nlines\n;");
        assert_eq!(q("a\n;b"), ";a\n ;b\n;");
        assert_eq!(quote_text(&"x".repeat(3000)).lines().count(), 2);
        assert_eq!(q("O'Brien"), "O'Brien");
        assert_eq!(quoted(&CifValue::Number(0.1)), "0.1");
        assert_eq!(quoted(&CifValue::Number(90.0)), "90");
    }

    #[test]
    fn one_row_is_pairs_several_are_a_loop() {
        let mut b = DataBlock {
            name: "x y".into(),
            ..DataBlock::default()
        };
        let mut c = Category::new("cell");
        c.row([("length_a".to_owned(), CifValue::from(10.5))]);
        b.push(c);
        let mut l = Category::new("software");
        l.row([("name".to_owned(), CifValue::from("XDS"))]);
        l.row([
            ("name".to_owned(), CifValue::from("AIMLESS")),
            ("version".to_owned(), CifValue::from("0.7")),
        ]);
        b.push(l);
        let text = b.to_text("");
        assert!(text.starts_with("data_x_y\n"), "{text}");
        assert!(text.contains("_cell.length_a 10.5\n"), "{text}");
        assert!(
            text.contains("loop_\n_software.name\n_software.version\nXDS ?\nAIMLESS 0.7\n"),
            "{text}"
        );
    }
}
