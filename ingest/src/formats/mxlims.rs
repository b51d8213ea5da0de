//! MXLIMS messages (JSON): validated with both layers of `mxpipe-model` before anything is stored.

use std::path::Path;

use mxpipe_model::validate::{Options, parse_message};

use crate::{Fragment, ReadError, ReadOptions, Reader};

/// Reader for MXLIMS JSON messages.
pub struct MxlimsReader;

impl Reader for MxlimsReader {
    fn name(&self) -> &'static str {
        "mxlims"
    }

    fn description(&self) -> &'static str {
        "an MXLIMS JSON message"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        let text = String::from_utf8_lossy(head);
        text.trim_start().starts_with('{') && text.contains("\"version\"")
    }

    fn read(&self, path: &Path, _options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::new(path, "file", "a readable UTF-8 file", e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            ReadError::new(
                path,
                format!("line {}, column {}", e.line(), e.column()),
                "valid JSON",
                e.to_string(),
            )
        })?;
        if let Some(reason) = not_a_message(&value) {
            return Ok(vec![Fragment::NotMetadata(reason)]);
        }
        message_fragment(path, value)
    }
}

/// Why a JSON document is not an MXLIMS message at all (a JSON Schema, a configuration, a
/// package file) — skipped in a folder — or `None` when it is meant to be one (validated, its
/// errors reported): an object with an MXLIMS dictionary or an MXLIMS `version` (0.x).
fn not_a_message(value: &serde_json::Value) -> Option<String> {
    let Some(obj) = value.as_object() else {
        return Some("JSON, but not an object (an MXLIMS message is one)".into());
    };
    if obj.contains_key("$schema") {
        return Some("a JSON Schema, not an MXLIMS message".into());
    }
    let mxlims_version = obj
        .get("version")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|v| v.starts_with("0."));
    let dictionaries = mxpipe_model::OBJECT_DICTIONARIES
        .iter()
        .chain(mxpipe_model::STUB_DICTIONARIES)
        .any(|k| obj.contains_key(*k));
    (!mxlims_version && !dictionaries).then(|| {
        "JSON, not an MXLIMS message (no MXLIMS version \"0.x\" and no MXLIMS dictionary such as MxExperiment)".into()
    })
}

/// An MXLIMS message read from `path` (a JSON file, or a document embedded in another file):
/// both validation layers, every finding reported.
pub(crate) fn message_fragment(
    path: &Path,
    value: serde_json::Value,
) -> Result<Vec<Fragment>, ReadError> {
    match parse_message(&value, &Options::default()) {
        Ok((message, _)) => Ok(vec![Fragment::Message {
            bulk: Vec::new(),
            value,
            message: Box::new(message),
        }]),
        Err(report) => {
            let problems: Vec<crate::Problem> = report
                .errors()
                .map(|f| crate::Problem {
                    location: format!(
                        "{} [{}]",
                        if f.pointer.is_empty() {
                            "(document)"
                        } else {
                            &f.pointer
                        },
                        f.rule
                    ),
                    expected: f.expected.clone(),
                    found: f.found.clone(),
                })
                .collect();
            Err(match problems.first() {
                Some(first) => {
                    let more = match problems.len() - 1 {
                        0 => String::new(),
                        n => format!(" (and {n} more errors; `mxpipe validate` lists them all)"),
                    };
                    ReadError::new(
                        path,
                        first.location.clone(),
                        first.expected.clone(),
                        format!("{}{more}", first.found),
                    )
                }
                None => ReadError::new(path, "(document)", "a valid MXLIMS message", "invalid"),
            }
            .with_problems(problems))
        }
    }
}
