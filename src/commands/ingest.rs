//! `mxpipe ingest`: read files, assemble collection metadata into messages, store them in one run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_ingest::assemble::{AssembleOptions, assemble};
use mxpipe_ingest::{Fragment, ImageRun, ReadError, ReadOptions, Reader, detect, reader_named};
use mxpipe_model::validate::{Options, parse_message};
use mxpipe_store::{PreparedMessage, SourceFile, Store, prepare_message};
use serde_json::Value;

use crate::cli::TableFormat;
use crate::commands::table::print_table;

/// Settings of one ingest run.
pub struct IngestArgs<'a> {
    /// Files and folders.
    pub paths: &'a [PathBuf],
    /// Forced reader.
    pub format: Option<&'a str>,
    /// Continue after bad files.
    pub keep_going: bool,
    /// Session for collection files.
    pub session: Option<mxpipe_model::Session>,
    /// Read options.
    pub read: ReadOptions,
    /// Summary format.
    pub output: TableFormat,
    /// Store folder (skipped when walking).
    pub store_dir: Option<PathBuf>,
}

struct Failure {
    path: String,
    reason: String,
}

/// Run; returns the exit status.
pub async fn run(store: &Store, args: IngestArgs<'_>) -> u8 {
    let files = match expand(args.paths, args.store_dir.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let forced = match args.format.map(|f| reader_named(f).ok_or(f)) {
        Some(Ok(r)) => Some(r),
        Some(Err(f)) => {
            let names: Vec<&str> = mxpipe_ingest::READERS.iter().map(|r| r.name()).collect();
            eprintln!(
                "error: unknown --format {f:?}; use one of {}",
                names.join(", ")
            );
            return 2;
        }
        None => None,
    };
    let started = Instant::now();
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading [{bar:30}] {pos}/{len} files  {per_sec}  {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let mut failures: Vec<Failure> = Vec::new();
    let mut prepared: Vec<PreparedMessage> = Vec::new();
    let mut runs: Vec<ImageRun> = Vec::new();
    for file in &files {
        bar.set_message(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let result = read_one(file, forced, &args.read);
        bar.inc(1);
        match result {
            Ok((format, fragments)) => {
                for fragment in fragments {
                    match fragment {
                        Fragment::Message {
                            value,
                            message,
                            bulk,
                        } => match source_file(file, format) {
                            Ok(src) => {
                                let mut p = prepare_message(&value, *message, vec![src]);
                                p.bulk = bulk.into_iter().map(to_store_bulk).collect();
                                prepared.push(p);
                            }
                            Err(e) => failures.push(Failure {
                                path: file.display().to_string(),
                                reason: e,
                            }),
                        },
                        Fragment::Images(run) => runs.push(*run),
                    }
                }
            }
            Err(e) => {
                failures.push(Failure {
                    path: file.display().to_string(),
                    reason: format!("{}: expected {}; found {}", e.location, e.expected, e.found),
                });
                if !args.keep_going {
                    bar.finish_and_clear();
                    eprintln!(
                        "error: {e}\nnothing was stored; fix the file or pass --keep-going to ingest the others"
                    );
                    return 1;
                }
            }
        }
    }
    bar.finish_and_clear();
    let read_s = started.elapsed().as_secs_f64();
    let assembled = assemble(
        runs,
        &AssembleOptions {
            session: args.session.clone(),
        },
    );
    for a in assembled {
        let formats: Vec<&str> = a
            .sources
            .iter()
            .map(|p| {
                if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("cbf")) {
                    "cbf"
                } else {
                    "nxmx"
                }
            })
            .collect();
        match validate_assembled(&a.message) {
            Ok(message) => {
                let sources: Result<Vec<SourceFile>, String> = a
                    .sources
                    .iter()
                    .zip(formats)
                    .map(|(p, f)| source_file(p, f))
                    .collect();
                match sources {
                    Ok(s) => prepared.push(prepare_message(&a.message, message, s)),
                    Err(e) => failures.push(Failure {
                        path: a.sources[0].display().to_string(),
                        reason: e,
                    }),
                }
            }
            Err(reason) => {
                for p in &a.sources {
                    failures.push(Failure {
                        path: p.display().to_string(),
                        reason: format!("assembled message is not valid MXLIMS: {reason}"),
                    });
                }
                if !args.keep_going {
                    eprintln!(
                        "error: {}: {reason}\nnothing was stored",
                        a.sources[0].display()
                    );
                    return 1;
                }
            }
        }
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "committing {} messages to {}",
        prepared.len(),
        store.root()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let prepare_s = started.elapsed().as_secs_f64() - read_s;
    let commit_started = Instant::now();
    let outcome = store.ingest(&prepared, Some(&command)).await;
    let commit_s = commit_started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: {e}\nnothing was committed (leftover rows are invisible; `mxpipe store repair` removes them)"
            );
            return 1;
        }
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for p in &prepared {
        let (new, changed, unchanged) = outcome
            .per_message
            .get(&p.message_id)
            .copied()
            .unwrap_or_default();
        let status = if new + changed > 0 {
            "ingested"
        } else {
            "unchanged"
        };
        for s in &p.sources {
            rows.push(vec![
                s.path.clone(),
                s.format.clone(),
                status.into(),
                format!("{new} new, {changed} changed, {unchanged} unchanged objects"),
            ]);
        }
    }
    for f in &failures {
        rows.push(vec![
            f.path.clone(),
            "-".into(),
            "failed".into(),
            f.reason.clone(),
        ]);
    }
    print_table(&["file", "format", "status", "detail"], &rows, args.output);
    let (new, changed, unchanged) = outcome.totals();
    eprintln!(
        "{} files in {:.1} s ({:.0} files/s): {new} new, {changed} changed, {unchanged} unchanged objects; {} failed; {}",
        files.len(),
        started.elapsed().as_secs_f64(),
        files.len() as f64 / started.elapsed().as_secs_f64().max(1e-9),
        failures.len(),
        if outcome.committed {
            format!("committed as ingest {}", outcome.ingest_id)
        } else {
            "nothing new to commit".into()
        }
    );
    eprintln!(
        "time: reading {read_s:.2} s, assembling + validating + preparing {prepare_s:.2} s, comparing + committing {commit_s:.2} s"
    );
    if outcome.committed {
        warn_unresolved(store, &prepared).await;
    }
    if failures.is_empty() { 0 } else { 1 }
}

/// Warn about inputs of this run's processing jobs that match no stored sweep yet.
async fn warn_unresolved(store: &Store, prepared: &[PreparedMessage]) {
    let jobs: std::collections::HashSet<String> = prepared
        .iter()
        .flat_map(|p| p.message.entries())
        .filter(|e| e.dict == "MxProcessing")
        .filter_map(|e| e.object.as_object().uuid().map(|u| u.to_string()))
        .collect();
    if jobs.is_empty() {
        return;
    }
    let Ok(links) = store.processing_links().await else {
        return;
    };
    let open: Vec<_> = links
        .iter()
        .filter(|l| l.sweep_uuid.is_none() && jobs.contains(&l.processing_uuid))
        .collect();
    if !open.is_empty() {
        eprintln!(
            "warning: {} processing input(s) match no stored sweep yet; they are kept as unresolved references and link automatically when their collection is ingested (`mxpipe relink` lists them):",
            open.len()
        );
        for l in open.iter().take(10) {
            eprintln!(
                "  {} input {}: {}",
                l.processing_uuid, l.list_index, l.input
            );
        }
        if open.len() > 10 {
            eprintln!("  ... and {} more", open.len() - 10);
        }
    }
}

fn read_one(
    file: &Path,
    forced: Option<&'static dyn Reader>,
    options: &ReadOptions,
) -> Result<(&'static str, Vec<Fragment>), ReadError> {
    let reader = match forced {
        Some(r) => r,
        None => detect(file)?,
    };
    Ok((reader.name(), reader.read(file, options)?))
}

fn validate_assembled(message: &Value) -> Result<mxpipe_model::AnyMessage, String> {
    match parse_message(message, &Options::default()) {
        Ok((m, _)) => Ok(m),
        Err(report) => Err(report
            .errors()
            .map(|f| {
                format!(
                    "{} [{}]: expected {}; found {}",
                    f.pointer, f.rule, f.expected, f.found
                )
            })
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// A reader's bulk rows as the store takes them (read errors become messages naming the file).
pub(crate) fn to_store_bulk(b: mxpipe_ingest::BulkSource) -> mxpipe_store::BulkRows {
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
fn source_file(path: &Path, format: &str) -> Result<SourceFile, String> {
    use sha2::Digest;
    let cannot = |e: std::io::Error| format!("{}: cannot read: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(cannot)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    Ok(SourceFile {
        path: abs.display().to_string(),
        sha256: hex::encode(hasher.finalize()),
        bytes,
        format: format.to_owned(),
    })
}

/// Files named, and files below folders (sorted; hidden files and the store itself skipped).
fn expand(paths: &[PathBuf], store_dir: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let store_abs = store_dir.and_then(|p| p.canonicalize().ok());
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            for entry in walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    let hidden = e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
                    let is_store = store_abs
                        .as_ref()
                        .is_some_and(|s| e.path().canonicalize().ok().as_ref() == Some(s));
                    !hidden && !is_store
                })
            {
                let entry = entry.map_err(|e| format!("{}: {e}", p.display()))?;
                if entry.file_type().is_file() {
                    out.push(entry.into_path());
                }
            }
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(out)
}
