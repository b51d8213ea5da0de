//! `--check`: every request body validated before it is sent, against the request schema the
//! backend's own OpenAPI document gives for that path and method (`/explorer-json` of a running
//! backend, or a saved copy): required fields, types, formats, **and no unknown field** — the
//! backend's `ValidationPipe` (whitelist + forbidNonWhitelisted) answers those with 400, while the
//! generated document does not say so, so every object schema with `properties` is closed here.

use serde_json::{Value, json};

/// Request-body validators by (method, path template).
pub struct Checker {
    /// (method, path template split in segments) → validator and its schema name.
    routes: Vec<(String, Vec<String>, String, jsonschema::Validator)>,
    /// The backend's sample DTO has `sampleName` (required from backend 5; unknown, and so
    /// refused, before).
    pub sample_name: bool,
}

/// Does the backend's sample DTO have `sampleName` (backend 5) or not (4.x)?
pub fn declares_sample_name(doc: &Value) -> bool {
    doc["components"]["schemas"]["CreateSampleDto"]["properties"]
        .get("sampleName")
        .is_some()
}

/// A running backend's OpenAPI document (`GET {url}/explorer-json`) and where it came from.
pub async fn fetch_document(url: &str) -> Result<(Value, String), String> {
    let at = format!(
        "{}/explorer-json",
        url.trim_end_matches('/').trim_end_matches("/api")
    );
    let doc: Value = reqwest::get(&at)
        .await
        .map_err(|e| format!("reading the backend's OpenAPI document at {at}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the backend's OpenAPI document at {at} is not JSON: {e}"))?;
    Ok((doc, at))
}

/// Close every object schema that lists `properties` (`additionalProperties: false`).
fn close(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            m.values_mut().for_each(close);
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

impl Checker {
    /// Validators for every JSON request body `doc` (an OpenAPI 3 document) declares.
    pub fn from_openapi(doc: &Value, source: &str) -> Result<Checker, String> {
        let mut components = doc["components"].clone();
        if components.is_null() {
            return Err(format!(
                "{source}: not an OpenAPI 3 document (no components)"
            ));
        }
        close(&mut components);
        let mut routes = Vec::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let Some(r) =
                    op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
                else {
                    continue;
                };
                let name = r.rsplit('/').next().unwrap_or(r).to_owned();
                let schema = json!({"$ref": r, "components": components});
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .should_validate_formats(true)
                    .build(&schema)
                    .map_err(|e| format!("{source}: schema {name} does not compile: {e}"))?;
                routes.push((
                    method.to_uppercase(),
                    path.split('/').map(str::to_owned).collect(),
                    name,
                    validator,
                ));
            }
        }
        if routes.is_empty() {
            return Err(format!(
                "{source}: the document declares no JSON request body"
            ));
        }
        Ok(Checker {
            routes,
            sample_name: declares_sample_name(doc),
        })
    }

    /// Validators from a running backend's own document (`GET {url}/explorer-json`).
    pub async fn from_server(url: &str) -> Result<Checker, String> {
        let (doc, at) = fetch_document(url).await?;
        Checker::from_openapi(&doc, &at)
    }

    /// Check one request body; the error names the schema and every finding.
    pub fn check(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let segments: Vec<&str> = path.split('?').next().unwrap_or(path).split('/').collect();
        let route = self.routes.iter().find(|(m, t, _, _)| {
            m == method
                && t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
        });
        let Some((_, _, name, validator)) = route else {
            return Err(format!(
                "{method} {path}: the OpenAPI document has no JSON request body for this route"
            ));
        };
        let findings: Vec<String> = validator
            .iter_errors(body)
            .map(|e| {
                let at = e.instance_path().as_str().to_owned();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if findings.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {path}: the body does not match {name}: {}",
                findings.join("; ")
            ))
        }
    }
}
