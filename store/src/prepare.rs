//! Turn a validated MXLIMS message into what the store writes: deterministic uuids for objects
//! that had none, resolved links, and content hashes.

use std::collections::HashSet;

use mxpipe_model::{AnyMessage, MxUuid};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Namespace of the uuids mxpipe mints (uuid v5 of message id + key).
const MINT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d78_7069_7065_5000_8000_6d69_6e74_6564);

/// A source file that contributed to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Absolute path.
    pub path: String,
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Reader that read it.
    pub format: String,
}

/// A batch of rows for one bulk table: (table name, rows as JSON objects without the owner column).
pub type BulkBatch = std::result::Result<(&'static str, Vec<Value>), String>;

/// Rows too many to live in an MXLIMS message (e.g. one per SSX frame), streamed into store tables
/// beside it. They are written only when their owner object is new or changed, so a re-run adds
/// nothing, and they become visible with the rest of the ingest run.
#[derive(Clone)]
pub struct BulkRows {
    /// Dictionary and key of the object that owns the rows (e.g. `MxProcessing`, `MxProcessing1`).
    pub owner: (String, String),
    /// Column of each bulk table that receives the owner's uuid (e.g. `processing_uuid`).
    pub owner_column: &'static str,
    /// Opens the stream of row batches (called at most once per ingest run).
    #[allow(clippy::type_complexity)]
    pub open: std::sync::Arc<dyn Fn() -> Box<dyn Iterator<Item = BulkBatch> + Send> + Send + Sync>,
}

impl std::fmt::Debug for BulkRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BulkRows({}/{})", self.owner.0, self.owner.1)
    }
}

/// A message ready to be stored.
pub struct PreparedMessage {
    /// SHA-256 of the message JSON as ingested (hex).
    pub message_id: String,
    /// The message JSON as ingested (compact).
    pub json: String,
    /// Typed message with minted uuids and resolved links.
    pub message: AnyMessage,
    /// Uuids minted by mxpipe (left out again on export).
    pub minted: HashSet<MxUuid>,
    /// Files it came from.
    pub sources: Vec<SourceFile>,
    /// Bulk rows that go with it.
    pub bulk: Vec<BulkRows>,
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// JSON with object keys sorted recursively, compact: the form content hashes are taken of.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// SHA-256 (hex) of [`canonical_json`], streamed into the hasher without building the string
/// or a sorted copy of the value (this was most of the time of committing many small messages).
pub fn canonical_sha256(value: &Value) -> String {
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = std::io::BufWriter::with_capacity(8192, HashWriter(Sha256::new()));
    write_canonical(value, &mut w).expect("hashing cannot fail");
    let hasher = w.into_inner().map_err(|_| ()).expect("hashing cannot fail");
    hex::encode(hasher.0.finalize())
}

/// Write `value` compactly with object keys in sorted order (scalars and keys exactly as
/// `serde_json` writes them, so the bytes equal `serde_json::to_string` of a sorted copy).
fn write_canonical<W: std::io::Write>(value: &Value, out: &mut W) -> std::io::Result<()> {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.write_all(b"{")?;
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, k)?;
                out.write_all(b":")?;
                write_canonical(&m[k], out)?;
            }
            out.write_all(b"}")
        }
        Value::Array(a) => {
            out.write_all(b"[")?;
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(v, out)?;
            }
            out.write_all(b"]")
        }
        scalar => Ok(serde_json::to_writer(&mut *out, scalar)?),
    }
}

/// Prepare a validated message: `original` is the JSON as read (or assembled). Objects without a
/// uuid get one minted from the message's content.
pub fn prepare_message(
    original: &Value,
    message: AnyMessage,
    sources: Vec<SourceFile>,
) -> PreparedMessage {
    prepare_with(original, message, sources, None)
}

/// Prepare a message read from files: objects without a uuid get one minted from the message's
/// content *without the run's facts* — the mxpipe session extension (`--session`) and the start
/// and end times (read in `--timezone`) — so the same collection read again with other options
/// is the same objects, changed, never new ones.
pub fn prepare_file_message(
    original: &Value,
    message: AnyMessage,
    sources: Vec<SourceFile>,
) -> PreparedMessage {
    let identity = canonical_sha256(&without_run_facts(original));
    prepare_with(original, message, sources, Some(identity))
}

/// `value` without what a run's options decide: every `startTime`/`endTime` and the session of
/// the mxpipe extension, at any depth (and the objects left empty by that).
fn without_run_facts(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "startTime" | "endTime"))
                .map(|(k, v)| {
                    let v = if k == mxpipe_model::MXPIPE_DOMAIN {
                        match v {
                            Value::Object(ext) => Value::Object(
                                ext.iter()
                                    .filter(|(k, _)| k.as_str() != "session")
                                    .map(|(k, v)| (k.clone(), without_run_facts(v)))
                                    .collect(),
                            ),
                            other => without_run_facts(other),
                        }
                    } else {
                        without_run_facts(v)
                    };
                    (k.clone(), v)
                })
                // What only held a session (`extensions: {mxpipe.org: {}}`) is as absent.
                .filter(|(_, v)| !v.as_object().is_some_and(|o| o.is_empty()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_run_facts).collect()),
        scalar => scalar.clone(),
    }
}

fn prepare_with(
    original: &Value,
    mut message: AnyMessage,
    sources: Vec<SourceFile>,
    identity: Option<String>,
) -> PreparedMessage {
    let json = serde_json::to_string(original).expect("JSON serialises");
    let message_id = canonical_sha256(original);
    let identity = identity.unwrap_or_else(|| message_id.clone());
    let mut minted = HashSet::new();
    for (dict, key, object) in message.entries_mut() {
        if object.uuid().is_none() {
            let uuid = MxUuid(uuid::Uuid::new_v5(
                &MINT_NAMESPACE,
                format!("{identity}/{dict}/{key}").as_bytes(),
            ));
            object.set_uuid(uuid);
            minted.insert(uuid);
        }
    }
    message.resolve_links();
    PreparedMessage {
        message_id,
        json,
        message,
        minted,
        sources,
        bulk: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed form must be byte-identical to the sorted copy the first stores hashed,
    /// or every stored object would look changed on re-ingest.
    #[test]
    fn canonical_form_is_the_sorted_copy() {
        fn sorted(v: &Value) -> Value {
            match v {
                Value::Object(m) => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    Value::Object(
                        keys.into_iter()
                            .map(|k| (k.clone(), sorted(&m[k])))
                            .collect(),
                    )
                }
                Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        let v: Value = serde_json::from_str(
            r#"{"z":[3,{"b":"\u00e9\n\"q","a":1.5e-7}],"a":null,"m":{"y":true,"x":-0.0,"\u0001k":12345678901234567890}}"#,
        )
        .unwrap();
        let expected = serde_json::to_string(&sorted(&v)).unwrap();
        assert_eq!(canonical_json(&v), expected);
        assert_eq!(canonical_sha256(&v), sha256_hex(expected.as_bytes()));
        assert!(
            expected.starts_with(r#"{"a":null,"m":{"\u0001k""#),
            "{expected}"
        );
    }
}
