//! Two-layer validation of MXLIMS JSON.
//!
//! 1. **Schema layer**: the JSON Schemas generated from our types ([`crate::schema`]) checked with
//!    the `jsonschema` crate; optionally also an external (upstream) schema set ([`upstream`]).
//! 2. **Semantic layer** ([`semantic`]): rules no schema can express (refs resolve, keys match,
//!    uuids unique, ordinals unique per experiment, positions fit their container, no container
//!    cycles, parallel arrays agree, end not before start, shipment variants).
//!
//! Policy on upstream 0.6.13 schema bugs (see README "Validation policy"): by default mxpipe is
//! strict on structure and lenient only where upstream is provably wrong (stubs, CC½/CC_ano range);
//! with `strict_upstream` the verdict is exactly the upstream schema's and mxpipe's own findings are
//! reported as warnings.

mod rules_logistics;
mod rules_objects;
pub mod semantic;
pub mod upstream;

use serde::Serialize;
use serde_json::Value;

use crate::messages::{AnyMessage, MessageKind};
use crate::schema::{self, SchemaEntry};
pub use upstream::UpstreamSchemas;

/// Which layer produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// The file is not JSON.
    Syntax,
    /// mxpipe's generated JSON Schema.
    Schema,
    /// Deserialisation into the typed model.
    Model,
    /// mxpipe's semantic rules.
    Semantic,
    /// The external (upstream) schema set.
    Upstream,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the document invalid.
    Error,
    /// Reported, does not change the verdict.
    Warning,
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// JSON pointer of the offending value (`""` = the whole document).
    pub pointer: String,
    /// Rule name, e.g. `ref-dangling` or `schema:exclusiveMinimum`.
    pub rule: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
    /// Layer.
    pub layer: Layer,
    /// Severity.
    pub severity: Severity,
}

impl Finding {
    /// A new error.
    pub fn error(
        layer: Layer,
        pointer: impl Into<String>,
        rule: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Finding {
            pointer: pointer.into(),
            rule: rule.into(),
            expected: expected.into(),
            found: found.into(),
            layer,
            severity: Severity::Error,
        }
    }
}

/// What to validate a document against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A message; the kind is detected from the content.
    AutoMessage,
    /// A named schema, e.g. `messages/ShipmentMessage`, `objects/Shipment`, `datatypes/DropImage`.
    Named(String),
}

/// Validation settings.
#[derive(Default)]
pub struct Options<'a> {
    /// Reproduce the upstream verdict exactly (needs `upstream`).
    pub strict_upstream: bool,
    /// An external schema set to validate against as well.
    pub upstream: Option<&'a UpstreamSchemas>,
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema used, e.g. `messages/MxlimsMessageStrict`.
    pub schema: String,
    /// All findings, errors first within each layer.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when no finding is an error.
    pub fn is_valid(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
    /// The error findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }
}

/// Errors that prevent validation from running at all (not verdicts about the document).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The named schema does not exist.
    #[error("unknown schema {0:?}; run `mxpipe schema --list` for the names")]
    UnknownSchema(String),
    /// `strict_upstream` without a schema set.
    #[error("--strict-upstream needs --against DIR (the upstream MXLIMS schema folder)")]
    StrictWithoutUpstream,
    /// The upstream schema set could not be used.
    #[error("{0}")]
    Upstream(String),
}

/// Validate a parsed JSON document.
pub fn validate_value(
    value: &Value,
    target: &Target,
    options: &Options,
) -> Result<Report, SetupError> {
    if options.strict_upstream && options.upstream.is_none() {
        return Err(SetupError::StrictWithoutUpstream);
    }
    let name = match target {
        Target::AutoMessage => format!("messages/{}", MessageKind::detect(value).schema_name()),
        Target::Named(n) => {
            schema::canonical_name(n).ok_or_else(|| SetupError::UnknownSchema(n.clone()))?
        }
    };
    let entry = schema::entry(&name).ok_or_else(|| SetupError::UnknownSchema(name.clone()))?;
    let mut own = schema_layer(entry, value);
    own.extend(typed_layers(entry, value, &own));
    let mut findings = Vec::new();
    if let Some(up) = options.upstream {
        let upstream = up.validate(&name, value).map_err(SetupError::Upstream)?;
        if options.strict_upstream {
            // The verdict is upstream's; everything mxpipe adds is advice.
            for mut f in own {
                f.severity = Severity::Warning;
                findings.push(f);
            }
        } else {
            findings.extend(own);
        }
        findings.extend(upstream);
    } else {
        findings.extend(own);
    }
    Ok(Report {
        schema: name,
        findings,
    })
}

/// Validate JSON text (syntax errors become findings with line and column).
pub fn validate_str(text: &str, target: &Target, options: &Options) -> Result<Report, SetupError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => validate_value(&value, target, options),
        Err(e) => Ok(Report {
            schema: match target {
                Target::AutoMessage => "messages/?".into(),
                Target::Named(n) => n.clone(),
            },
            findings: vec![Finding::error(
                Layer::Syntax,
                "",
                "json-syntax",
                "a JSON document",
                format!("{} at line {}, column {}", e, e.line(), e.column()),
            )],
        }),
    }
}

/// Parse a message into the typed model after validating it; the message is returned only when valid.
pub fn parse_message(value: &Value, options: &Options) -> Result<(AnyMessage, Report), Report> {
    let report = match validate_value(value, &Target::AutoMessage, options) {
        Ok(r) => r,
        Err(e) => {
            return Err(Report {
                schema: "messages/?".into(),
                findings: vec![Finding::error(
                    Layer::Schema,
                    "",
                    "setup",
                    "a usable schema",
                    e.to_string(),
                )],
            });
        }
    };
    if !report.is_valid() {
        return Err(report);
    }
    match AnyMessage::from_value(MessageKind::detect(value), value) {
        Ok(m) => Ok((m, report)),
        Err((pointer, message)) => Err(Report {
            schema: report.schema,
            findings: vec![Finding::error(
                Layer::Model,
                pointer,
                "model:type",
                "a value the typed model accepts",
                message,
            )],
        }),
    }
}

/// Run the typed model and the semantic rules. A value the typed model rejects is reported (unless
/// the schema layer already reported that spot) and removed from a scratch copy, so the semantic
/// rules still run on the rest of the document.
fn typed_layers(entry: &SchemaEntry, value: &Value, schema_findings: &[Finding]) -> Vec<Finding> {
    const MAX_REPAIRS: usize = 32;
    let mut out = Vec::new();
    let mut scratch: Option<Value> = None;
    for _ in 0..=MAX_REPAIRS {
        let doc = scratch.as_ref().unwrap_or(value);
        match (entry.check)(doc) {
            Ok(found) => {
                out.extend(found);
                break;
            }
            Err((pointer, message)) => {
                if !schema_findings.iter().any(|f| f.pointer == pointer) {
                    out.push(Finding::error(
                        Layer::Model,
                        pointer.clone(),
                        "model:type",
                        "a value the typed model accepts",
                        message.clone(),
                    ));
                }
                let mut copy = doc.clone();
                if message.starts_with("missing field") || !remove_pointer(&mut copy, &pointer) {
                    break;
                }
                scratch = Some(copy);
            }
        }
    }
    out
}

/// Remove the value at a JSON pointer from its parent object or array.
fn remove_pointer(doc: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => map.shift_remove(&last).is_some(),
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Findings of one schema layer at most: a hostile message with a million bad keys costs the
/// work of this many, not of all (the report says the list stops there).
pub const MAX_FINDINGS: usize = 1000;

fn schema_layer(entry: &SchemaEntry, value: &Value) -> Vec<Finding> {
    let validator = entry.validator();
    let schema_doc = entry.schema_value();
    validator
        .iter_errors(value)
        .take(MAX_FINDINGS)
        .map(|e| {
            let keyword = e.kind().keyword().to_owned();
            let schema_path = e.schema_path().as_str().to_owned();
            let described = schema_path
                .rsplit_once('/')
                .and_then(|(parent, _)| schema_doc.pointer(parent))
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str);
            let expected = match (keyword.as_str(), described) {
                ("pattern" | "format", Some(d)) => d.to_owned(),
                _ => describe_expected(&keyword, schema_doc.pointer(&schema_path), &e.to_string()),
            };
            Finding::error(
                Layer::Schema,
                e.instance_path().as_str(),
                format!("schema:{keyword}"),
                expected,
                found(&keyword, e.instance()),
            )
        })
        .collect()
}

/// Describe what a schema keyword expected, from its value in the schema.
pub(crate) fn describe_expected(
    keyword: &str,
    keyword_value: Option<&Value>,
    message: &str,
) -> String {
    match (keyword, keyword_value) {
        ("oneOf", _) => "exactly one of the alternatives listed by oneOf to match".to_owned(),
        ("anyOf", _) => "at least one of the alternatives listed by anyOf to match".to_owned(),
        ("required", _)
        | ("additionalProperties", _)
        | ("unevaluatedProperties", _)
        | ("not", _)
        | ("false", _) => message.to_owned(),
        ("enum", Some(Value::Array(items))) if items.len() > 8 => {
            format!("one of {} allowed values ({message})", items.len())
        }
        ("exclusiveMinimum", Some(v)) => format!("a number > {v}"),
        ("minimum", Some(v)) => format!("a number >= {v}"),
        ("exclusiveMaximum", Some(v)) => format!("a number < {v}"),
        ("maximum", Some(v)) => format!("a number <= {v}"),
        ("minItems", Some(v)) => format!("at least {v} items"),
        ("maxItems", Some(v)) => format!("at most {v} items"),
        ("minProperties", Some(v)) => format!("at least {v} entries"),
        ("const", Some(v)) => format!("exactly {v}"),
        ("type", Some(v)) => format!("a value of type {v}"),
        ("enum", Some(v)) => format!("one of {}", short(v)),
        (k, Some(v)) => format!("{k} {}", short(v)),
        (k, None) => format!("the {k} constraint to hold ({message})"),
    }
}

/// What to show as "found" for a keyword's failure.
pub(crate) fn found(keyword: &str, instance: &Value) -> String {
    match keyword {
        "required" => "the property is missing".to_owned(),
        "additionalProperties" | "unevaluatedProperties" => "an unexpected property".to_owned(),
        _ => short(instance),
    }
}

/// A value shortened for messages.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 100 {
        let cut: String = text.chars().take(97).collect();
        format!("{cut}...")
    } else {
        text
    }
}

pub use crate::pointer::{escape_pointer, path_to_pointer};
