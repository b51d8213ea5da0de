//! Validation against an external schema set, such as the upstream MXLIMS 0.6.13 JSON Schemas.
//!
//! Schemas are registered **by file path**: a reference to `https://mxlims.org/schemas/<rel>` is
//! served from `<dir>/<rel>`, because upstream `$id`s are not reliable (`Enumerations.json`
//! declares the `$id` of `SpaceGroupNameChiral.json`). Nothing is fetched from the network.
//!
//! Unless loaded in strict mode, the provable upstream bugs are patched in memory (see
//! [`LENIENT_PATCHES`]); the files on disk are never changed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{Finding, Layer, describe_expected, found};

/// The base URI under which upstream schemas refer to each other.
pub const UPSTREAM_BASE: &str = "https://mxlims.org/schemas/";

/// One in-memory correction of an upstream schema, applied unless `--strict-upstream`.
pub struct Patch {
    /// File, relative to the schema folder.
    pub file: &'static str,
    /// What is wrong upstream and what the patch does.
    pub why: &'static str,
    apply: fn(&mut Value),
}

fn cc_range(doc: &mut Value) {
    for key in ["CC_one_half", "CC_ano"] {
        if let Some(p) = doc.pointer_mut(&format!("/properties/{key}")) {
            p["maximum"] = Value::from(1);
        }
    }
}

fn stub_shape(doc: &mut Value) {
    if let Some(props) = doc
        .pointer_mut("/properties")
        .and_then(Value::as_object_mut)
    {
        props.insert("mxlimsType".into(), serde_json::json!({"type": "string"}));
    }
    doc["required"] = serde_json::json!(["mxlimsBaseType", "uuid"]);
}

/// The corrections mxpipe applies by default, with the reason for each.
pub const LENIENT_PATCHES: &[Patch] = &[
    Patch {
        file: "datatypes/ReflectionStatistics.json",
        why: "CC_one_half and CC_ano have minimum -1 and maximum -1, so only -1 validates; corrected to the range -1..1 of a correlation coefficient",
        apply: cc_range,
    },
    Patch {
        file: "datatypes/ResolutionCutoffs.json",
        why: "CC_one_half and CC_ano have minimum -1 and maximum -1; corrected to -1..1",
        apply: cc_range,
    },
    Patch {
        file: "datatypes/JobStub.json",
        why: "requires mxlimsType but does not declare it and forbids extra keys, so no stub validates; mxlimsBaseType + uuid required, mxlimsType optional",
        apply: stub_shape,
    },
    Patch {
        file: "datatypes/DatasetStub.json",
        why: "same stub bug as JobStub",
        apply: stub_shape,
    },
    Patch {
        file: "datatypes/SampleStub.json",
        why: "same stub bug as JobStub",
        apply: stub_shape,
    },
    Patch {
        file: "datatypes/LogisticalSampleStub.json",
        why: "same stub bug as JobStub",
        apply: stub_shape,
    },
];

/// A loaded external schema set.
pub struct UpstreamSchemas {
    dir: PathBuf,
    strict: bool,
    documents: Arc<HashMap<String, Value>>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

struct PathRetriever {
    documents: Arc<HashMap<String, Value>>,
}

impl jsonschema::Retrieve for PathRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let rel = text.strip_prefix(UPSTREAM_BASE).unwrap_or(text);
        let rel = rel.split('#').next().unwrap_or(rel);
        self.documents.get(rel).cloned().ok_or_else(|| {
            format!("schema {text} is not in the schema folder (looked for {rel})").into()
        })
    }
}

impl UpstreamSchemas {
    /// Build from the schema documents keyed by path relative to the schema folder
    /// (`messages/MxlimsMessage.json`, `datatypes/Scan.json`, ...); `label` names the folder in
    /// messages. `strict` = use the documents exactly as published. (Reading the folder is the
    /// caller's job: this crate does no I/O.)
    pub fn from_documents(
        label: &str,
        mut documents: HashMap<String, Value>,
        strict: bool,
    ) -> Result<Self, String> {
        let dir = PathBuf::from(label);
        if !documents.keys().any(|k| k.starts_with("messages/")) {
            return Err(format!(
                "{}: no messages/*.json found; expected the MXLIMS schema folder (with core/, data/, datatypes/, messages/, objects/, references/)",
                dir.display()
            ));
        }
        if !strict {
            for patch in LENIENT_PATCHES {
                if let Some(doc) = documents.get_mut(patch.file) {
                    (patch.apply)(doc);
                }
            }
        }
        Ok(UpstreamSchemas {
            dir,
            strict,
            documents: Arc::new(documents),
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the files are used unpatched.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Validate `value` against the schema `name` (e.g. `messages/MxlimsMessageStrict`).
    pub fn validate(&self, name: &str, value: &Value) -> Result<Vec<Finding>, String> {
        let validator = self.validator(name)?;
        let doc = &self.documents[&format!("{name}.json")];
        Ok(validator
            .iter_errors(value)
            .take(super::MAX_FINDINGS)
            .map(|e| {
                let keyword = e.kind().keyword().to_owned();
                let expected = describe_expected(
                    &keyword,
                    doc.pointer(e.schema_path().as_str()),
                    &e.to_string(),
                );
                Finding::error(
                    Layer::Upstream,
                    e.instance_path().as_str(),
                    format!("upstream:{keyword}"),
                    expected,
                    found(&keyword, e.instance()),
                )
            })
            .collect())
    }

    fn validator(&self, name: &str) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().expect("validator cache");
        if let Some(v) = cache.get(name) {
            return Ok(v.clone());
        }
        let rel = format!("{name}.json");
        let doc = self
            .documents
            .get(&rel)
            .ok_or_else(|| format!("{}: no schema {rel}", self.dir.display()))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_base_uri(format!("{UPSTREAM_BASE}{rel}"))
            .with_retriever(PathRetriever {
                documents: self.documents.clone(),
            })
            .build(doc)
            .map_err(|e| format!("{}: schema {rel} does not compile: {e}", self.dir.display()))?;
        let validator = Arc::new(validator);
        cache.insert(name.to_owned(), validator.clone());
        Ok(validator)
    }
}
