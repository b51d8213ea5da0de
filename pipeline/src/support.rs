//! The pipeline's helpers: sessions, validation, source files, warnings, walking.

use std::path::Path;

use mxpipe_model::Session;
use mxpipe_model::validate::{Options, parse_message};
use mxpipe_store::{PreparedMessage, SourceFile, Store};
use serde_json::Value;

use super::IngestRequest;

/// Attach the run's session to every experiment of a message that has none; a message that
/// names another session is an error naming both.
pub(crate) fn with_session(
    value: &mut Value,
    message: mxpipe_model::AnyMessage,
    request: &IngestRequest,
) -> Result<mxpipe_model::AnyMessage, String> {
    let Some(session) = &request.session else {
        return Ok(message);
    };
    let mut changed = false;
    // Experiments and processing jobs alike: results of a visit belong to it.
    for kind in ["MxExperiment", "MxProcessing"] {
        let Some(jobs) = value.get_mut(kind).and_then(Value::as_object_mut) else {
            continue;
        };
        for (key, experiment) in jobs.iter_mut() {
            let Some(obj) = experiment.as_object_mut() else {
                continue;
            };
            let ext = obj
                .entry("extensions")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(ext) = ext.as_object_mut() else {
                continue;
            };
            let ours = ext
                .entry(mxpipe_model::MXPIPE_DOMAIN)
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(ours) = ours.as_object_mut() else {
                continue;
            };
            match ours.get("session") {
                Some(existing) => {
                    let theirs: Option<Session> = serde_json::from_value(existing.clone()).ok();
                    let label = theirs.as_ref().map(Session::visit_label);
                    if label.as_deref() != Some(session.visit_label().as_str()) {
                        return Err(format!(
                            "/{kind}/{key}: the message's session is {}; --session says {}",
                            label.unwrap_or_else(|| existing.to_string()),
                            session.visit_label()
                        ));
                    }
                }
                None => {
                    ours.insert(
                        "session".into(),
                        serde_json::to_value(session).expect("session serialises"),
                    );
                    changed = true;
                }
            }
        }
    }
    if !changed {
        return Ok(message);
    }
    parse_message(value, &Options::default())
        .map(|(m, _)| m)
        .map_err(|report| {
            let first = report.errors().next().cloned();
            format!(
                "with --session applied the message is not valid: {}",
                first.map_or_else(String::new, |f| format!(
                    "{} [{}]: expected {}; found {}",
                    f.pointer, f.rule, f.expected, f.found
                ))
            )
        })
}

pub(crate) fn naive_warning(files: &[String]) -> String {
    let shown: Vec<&str> = files.iter().take(5).map(String::as_str).collect();
    format!(
        "{} file(s) hold times without a time zone and UTC was assumed (set `timezone = \"Europe/London\"` — the facility's IANA zone — in mxpipe.toml, or pass --timezone): {}{}",
        files.len(),
        shown.join(", "),
        if files.len() > 5 {
            format!(" and {} more", files.len() - 5)
        } else {
            String::new()
        }
    )
}

/// A warning about inputs of this run's processing jobs that match no stored sweep yet.
pub(crate) async fn unresolved_warning(
    store: &Store,
    prepared: &[PreparedMessage],
) -> Option<String> {
    let jobs: std::collections::HashSet<String> = prepared
        .iter()
        .flat_map(|p| p.message.entries())
        .filter(|e| e.dict == "MxProcessing")
        .filter_map(|e| e.object.as_object().uuid().map(|u| u.to_string()))
        .collect();
    if jobs.is_empty() {
        return None;
    }
    let jobs_list: Vec<String> = jobs.iter().cloned().collect();
    let links = store.processing_links_of(&jobs_list).await.ok()?;
    let open: Vec<_> = links
        .iter()
        .filter(|l| l.sweep_uuid.is_none() && jobs.contains(&l.processing_uuid))
        .collect();
    if open.is_empty() {
        return None;
    }
    let mut text = format!(
        "{} processing input(s) match no stored sweep yet; they are kept as unresolved references and link automatically when their collection is ingested (`mxpipe relink` lists them):",
        open.len()
    );
    for l in open.iter().take(10) {
        text.push_str(&format!(
            "\n  {} input {}: {}",
            l.processing_uuid, l.list_index, l.input
        ));
    }
    if open.len() > 10 {
        text.push_str(&format!("\n  ... and {} more", open.len() - 10));
    }
    Some(text)
}

pub(crate) fn validate_assembled(message: &Value) -> Result<mxpipe_model::AnyMessage, String> {
    parse_message(message, &Options::default())
        .map(|(m, _)| m)
        .map_err(|report| {
            report
                .errors()
                .map(|f| {
                    format!(
                        "{} [{}]: expected {}; found {}",
                        f.pointer, f.rule, f.expected, f.found
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// A reader's bulk rows as the store takes them (read errors become messages naming the file).
pub fn to_store_bulk(b: mxpipe_ingest::BulkSource) -> mxpipe_store::BulkRows {
    let open = b.open.clone();
    mxpipe_store::BulkRows {
        owner: b.owner,
        owner_column: b.owner_column,
        open: std::sync::Arc::new(move || {
            Box::new(open().map(|r| r.map_err(|e| e.to_string())))
                as Box<dyn Iterator<Item = mxpipe_store::BulkBatch> + Send>
        }),
    }
}

/// Path, size and SHA-256 of a source file, read in pieces (streams may be tens of GB).
pub(crate) fn source_file(path: &Path, format: &str) -> Result<SourceFile, String> {
    use sha2::Digest;
    let cannot = |e: std::io::Error| format!("cannot read: {e}");
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(cannot)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    Ok(SourceFile {
        path: mxpipe_model::paths::path_text(&abs),
        sha256: hex::encode(hasher.finalize()),
        bytes,
        format: format.to_owned(),
    })
}

/// Barcodes of this run (of crystals and of the containers that hold them) that the store has
/// now seen with more than one sample identity: one warning each (the `barcode_reuse` view).
/// Identity is never taken from a barcode; this only tells the user.
pub(crate) async fn barcode_warnings(store: &Store, prepared: &[PreparedMessage]) -> Vec<String> {
    let mut barcodes: std::collections::BTreeSet<String> = Default::default();
    for p in prepared {
        let Ok(serde_json::Value::Object(message)) = serde_json::from_str(&p.json) else {
            continue;
        };
        for dict in message.values().filter_map(serde_json::Value::as_object) {
            for object in dict.values() {
                if let Some(b) = object.get("barcode").and_then(serde_json::Value::as_str) {
                    barcodes.insert(b.to_owned());
                }
            }
        }
    }
    if barcodes.is_empty() {
        return Vec::new();
    }
    let Ok(ctx) = mxpipe_queries::open_stores(std::slice::from_ref(store)).await else {
        return Vec::new();
    };
    let barcodes: Vec<String> = barcodes.into_iter().collect();
    let Ok(reused) = mxpipe_queries::lookups::barcode_reuse(&ctx, &barcodes).await else {
        return Vec::new();
    };
    reused
        .iter()
        .map(|r| {
            format!(
                "barcode {} has now been seen with {} different sample identities (PIDs: {}; samples: {}): barcodes are reused, \
                 so mxpipe keeps them apart by PID / uuid and never by barcode (`mxpipe query \"SELECT * FROM barcode_reuse\"`)",
                r.barcode,
                r.identities,
                if r.pids.is_empty() { "none yet" } else { &r.pids },
                r.sample_names
            )
        })
        .collect()
}
