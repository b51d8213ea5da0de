//! Equality of JSON documents "as JSON": objects compare regardless of key order and numbers
//! compare by value (`785` equals `785.0`), as in Python's `json.load(a) == json.load(b)`.

use serde_json::Value;

/// True when `a` and `b` are the same JSON document.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    first_difference(a, b).is_none()
}

/// JSON pointer of the first difference, if any.
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    diff(a, b, String::new())
}

fn diff(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let same = match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            };
            (!same).then_some(at)
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                let missing = x
                    .keys()
                    .find(|k| !y.contains_key(*k))
                    .or_else(|| y.keys().find(|k| !x.contains_key(*k)));
                return Some(format!(
                    "{at}/{}",
                    missing.map(String::as_str).unwrap_or("?")
                ));
            }
            x.iter().find_map(|(k, v)| match y.get(k) {
                Some(w) => diff(v, w, format!("{at}/{}", crate::validate::escape_pointer(k))),
                None => Some(format!("{at}/{k}")),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(at);
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| diff(v, w, format!("{at}/{i}")))
        }
        _ => (a != b).then_some(at),
    }
}
