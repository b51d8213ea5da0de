//! JSON Schemas on disk: writing and checking the schemas generated from the model
//! (`mxpipe schema`), and reading an external schema folder (e.g. the upstream MXLIMS 0.6.13
//! schemas) for `mxpipe validate --against`.

use std::collections::HashMap;
use std::path::Path;

use mxpipe_model::schema::generated_files;

use crate::error::{AppError, AppResult};

use mxpipe_model::validate::UpstreamSchemas;
use serde_json::Value;

/// Read every `*.json` below `dir`, keyed by its path relative to `dir` (with `/` separators).
pub fn read_schema_documents(dir: &Path) -> Result<HashMap<String, Value>, String> {
    let mut out = HashMap::new();
    collect(dir, dir, &mut out)?;
    Ok(out)
}

/// Load a schema folder for validation (`strict` = exactly as published, no corrections).
pub fn load_upstream(dir: &Path, strict: bool) -> Result<UpstreamSchemas, String> {
    let docs = read_schema_documents(dir)?;
    UpstreamSchemas::from_documents(&dir.display().to_string(), docs, strict)
}

fn collect(root: &Path, dir: &Path, out: &mut HashMap<String, Value>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read schema folder: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{}: line {}, column {}: not JSON: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                )
            })?;
            let rel = path
                .strip_prefix(root)
                .expect("path is under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, value);
        }
    }
    Ok(())
}

/// Write every generated schema under `out` (folders created); returns how many.
pub fn write_generated(out: &Path) -> AppResult<usize> {
    let files = generated_files();
    for (rel, text) in &files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| AppError::Usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| AppError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(files.len())
}

/// What is stale in `dir` compared with the generated schemas: one line per differing or
/// missing file (none: up to date).
pub fn stale_in(dir: &Path) -> Vec<String> {
    let mut stale = Vec::new();
    for (rel, text) in generated_files() {
        let path = dir.join(&rel);
        let fix = format!("run `mxpipe schema --out {}`", dir.display());
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == text => {}
            Ok(_) => stale.push(format!(
                "stale: {} differs from the model; {fix}",
                path.display()
            )),
            Err(_) => stale.push(format!("missing: {}; {fix}", path.display())),
        }
    }
    stale
}
