//! The answers remembered for `Idempotency-Key` retries: bounded in entries and in bytes, each
//! entry expiring. A large answer (an ingest of a huge body with many findings) is remembered as
//! its status and summary, not as its whole body.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

/// (token id, `Idempotency-Key`).
pub(crate) type Key = (String, String);

/// Keys remembered at most (the oldest are forgotten first).
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Bytes of remembered answers at most (keys included).
pub(crate) const MAX_BYTES: usize = 64 * 1024 * 1024;
/// An answer larger than this is remembered as its status and summary only.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long a key is remembered.
pub(crate) const TTL: Duration = Duration::from_secs(24 * 3600);

struct Entry {
    status: StatusCode,
    answer: Value,
    bytes: usize,
    at: Instant,
}

/// The cache.
#[derive(Default)]
pub(crate) struct Answers {
    entries: HashMap<Key, Entry>,
    order: VecDeque<(Key, Instant)>,
    bytes: usize,
}

impl Answers {
    /// The remembered answer for `key`, if fresh.
    pub(crate) fn get(&mut self, key: &Key) -> Option<(StatusCode, Value)> {
        self.expire();
        self.entries.get(key).map(|e| (e.status, e.answer.clone()))
    }

    /// Remember an answer (its summary when large).
    pub(crate) fn put(&mut self, key: Key, status: StatusCode, answer: &Value) {
        let size = answer.to_string().len();
        let answer = if size > MAX_ANSWER_BYTES {
            summary(answer, size)
        } else {
            answer.clone()
        };
        let bytes = answer.to_string().len() + key.0.len() + key.1.len();
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.bytes;
        }
        let at = Instant::now();
        self.bytes += bytes;
        self.entries.insert(
            key.clone(),
            Entry {
                status,
                answer,
                bytes,
                at,
            },
        );
        self.order.push_back((key, at));
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            if !self.pop_oldest() {
                break;
            }
        }
    }

    /// How many keys and bytes are remembered.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }

    fn expire(&mut self) {
        while self.order.front().is_some_and(|(_, at)| at.elapsed() > TTL) {
            self.pop_oldest();
        }
    }

    /// Forget the oldest entry; false when there is none.
    fn pop_oldest(&mut self) -> bool {
        let Some((key, at)) = self.order.pop_front() else {
            return false;
        };
        // An entry replaced later has a newer time: only the entry of this time goes.
        if self.entries.get(&key).is_some_and(|e| e.at == at)
            && let Some(e) = self.entries.remove(&key)
        {
            self.bytes -= e.bytes;
        }
        true
    }
}

/// The top-level counts of an answer and a note; file lists and findings left out.
fn summary(answer: &Value, size: usize) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(m) = answer.as_object() {
        for (k, v) in m {
            let small =
                !(v.is_array() || v.is_object()) && v.as_str().is_none_or(|s| s.len() <= 4096);
            if small {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert(
        "note".into(),
        json!(format!(
            "this request was answered before ({size} bytes); a retry with the same Idempotency-Key gets its status and counts only"
        )),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Key {
        ("token".into(), format!("k{i}"))
    }

    #[test]
    fn bounded_in_entries() {
        let mut a = Answers::default();
        for i in 0..MAX_ENTRIES + 50 {
            a.put(key(i), StatusCode::OK, &json!({"new": i}));
        }
        assert_eq!(a.size().0, MAX_ENTRIES);
        assert!(a.get(&key(0)).is_none(), "the oldest went first");
        assert_eq!(
            a.get(&key(MAX_ENTRIES + 49)).unwrap().1["new"],
            MAX_ENTRIES + 49
        );
    }

    #[test]
    fn large_answers_are_kept_as_their_summary_and_bytes_are_bounded() {
        let mut a = Answers::default();
        let problems: Vec<Value> = (0..20_000)
            .map(|i| json!({"location": format!("/k{i}")}))
            .collect();
        let big = json!({"files": [{"path": "m.json", "problems": problems}], "new": 0, "committed": false});
        assert!(big.to_string().len() > MAX_ANSWER_BYTES);
        for i in 0..2_000 {
            a.put(key(i), StatusCode::UNPROCESSABLE_ENTITY, &big);
        }
        let (status, kept) = a.get(&key(1_999)).unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(kept["committed"], false);
        assert!(
            kept.get("files").is_none() && kept["note"].is_string(),
            "{kept}"
        );
        assert!(a.size().1 <= MAX_BYTES);
        // Many more small-but-not-tiny answers: the byte bound holds.
        let medium = json!({"warnings": ["x".repeat(60_000)]});
        for i in 0..3_000 {
            a.put(key(10_000 + i), StatusCode::OK, &medium);
        }
        assert!(a.size().1 <= MAX_BYTES, "{:?}", a.size());
    }

    #[test]
    fn a_replaced_key_is_counted_once() {
        let mut a = Answers::default();
        for _ in 0..100 {
            a.put(key(1), StatusCode::OK, &json!({"new": 1}));
        }
        assert_eq!(a.size().0, 1);
        let one = a.size().1;
        a.put(key(2), StatusCode::OK, &json!({"new": 1}));
        assert_eq!(a.size().1, 2 * one);
    }
}
