//! The ingest pipeline as one library call: walk the paths, classify every file, read what is
//! metadata, assemble collection files into messages, validate, prepare and commit one store run,
//! and report per file. The CLI (`mxpipe ingest`) and the HTTP service call [`ingest`].
//!
//! Every file ends in one [`FileStatus`]: `ingested` / `unchanged` (stored, or already there),
//! `data` (image data of a master seen in the run — not opened past its signature), `skipped`
//! (not a format mxpipe reads: images, logs, MTZ, …; only for files found by walking a folder) or
//! `failed` (a supported format, but broken; or a named file mxpipe cannot read).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mxpipe_model::Session;
use mxpipe_model::validate::{Options, parse_message};
use mxpipe_store::{PreparedMessage, SourceFile, Store, prepare_message};
use serde::Serialize;
use serde_json::Value;

use crate::assemble::{AssembleOptions, assemble};
use crate::sniff::{describe, master_of_data_file, read_head};
use crate::{Fragment, ImageRun, READERS, ReadOptions, Reader};

/// What to ingest and how.
#[derive(Debug, Clone, Default)]
pub struct IngestRequest {
    /// Files and folders (folders are walked; hidden entries and the store itself are left out).
    pub paths: Vec<PathBuf>,
    /// Reader to use for every file instead of detecting the format.
    pub format: Option<String>,
    /// Store the good files when some fail (otherwise the first failure stops the run and
    /// nothing is stored).
    pub keep_going: bool,
    /// Treat `skipped` files as failures.
    pub strict: bool,
    /// Session (visit) for every experiment of the run that has none.
    pub session: Option<Session>,
    /// Reader settings (facility time zone).
    pub read: ReadOptions,
    /// The store's own folder, never walked into.
    pub store_dir: Option<PathBuf>,
    /// Command line recorded with the store run.
    pub command: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Stored by this run (new or changed objects).
    Ingested,
    /// Read, and everything in it was already stored.
    Unchanged,
    /// Image data of a master file seen in the run.
    Data,
    /// Not a format mxpipe reads.
    Skipped,
    /// A supported format that could not be read, or a named file that is not metadata.
    Failed,
}

impl FileStatus {
    /// Every status, in report order.
    pub const ALL: [FileStatus; 5] = [
        FileStatus::Ingested,
        FileStatus::Unchanged,
        FileStatus::Data,
        FileStatus::Skipped,
        FileStatus::Failed,
    ];

    /// Lower-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Ingested => "ingested",
            FileStatus::Unchanged => "unchanged",
            FileStatus::Data => "data",
            FileStatus::Skipped => "skipped",
            FileStatus::Failed => "failed",
        }
    }
}

/// One file's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file as found (as given or below a given folder).
    pub path: String,
    /// Reader that read it (`-` when none did).
    pub format: String,
    /// Outcome.
    pub status: FileStatus,
    /// Objects stored, why it was skipped, or what was wrong (place, expected, found).
    pub detail: String,
}

/// Seconds spent per phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Walking, classifying and reading files.
    pub read_s: f64,
    /// Assembling, validating, hashing and preparing messages.
    pub prepare_s: f64,
    /// Comparing with the store and committing.
    pub commit_s: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    /// One entry per file met.
    pub files: Vec<FileReport>,
    /// Objects new to the store.
    pub new: usize,
    /// Objects whose content changed.
    pub changed: usize,
    /// Objects already stored as they are.
    pub unchanged: usize,
    /// The store run's id (also when nothing was committed).
    pub ingest_id: Option<String>,
    /// Whether anything was written.
    pub committed: bool,
    /// Warnings for the whole run (naive times, unresolved processing inputs).
    pub warnings: Vec<String>,
    /// Seconds per phase.
    pub timings: Timings,
    /// Whether `skipped` counts as failure.
    pub strict: bool,
}

impl IngestSummary {
    /// How many files ended in `status`.
    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    /// `4 ingested, 1 unchanged, 1000 data, 12 skipped, 0 failed`.
    pub fn counts_text(&self) -> String {
        FileStatus::ALL
            .iter()
            .map(|s| format!("{} {}", self.count(*s), s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// 0 when nothing failed (nor was skipped under `strict`), else 1.
    pub fn exit_code(&self) -> u8 {
        let bad = self.count(FileStatus::Failed)
            + if self.strict {
                self.count(FileStatus::Skipped)
            } else {
                0
            };
        u8::from(bad > 0)
    }
}

/// Why a run stored nothing.
#[derive(Debug)]
pub enum IngestError {
    /// The request itself is wrong (a path that does not exist, an unknown reader): exit 2.
    Usage(String),
    /// A file failed without `keep_going`: nothing was stored. The summary so far is attached.
    Stopped {
        /// The failure, naming the file.
        reason: String,
        /// Files handled before the stop.
        summary: Box<IngestSummary>,
    },
    /// The store refused the commit: nothing was committed.
    Store(String),
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestError::Usage(m) => write!(f, "{m}"),
            IngestError::Stopped { reason, .. } => write!(
                f,
                "{reason}\nnothing was stored; fix the file or pass --keep-going to ingest the others"
            ),
            IngestError::Store(m) => write!(
                f,
                "{m}\nnothing was committed (leftover rows are invisible; `mxpipe store repair` removes them)"
            ),
        }
    }
}

impl std::error::Error for IngestError {}

/// Progress callbacks (a progress bar in the CLI; nothing in a server).
pub trait Progress: Sync {
    /// The number of files found.
    fn start(&self, _files: usize) {}
    /// One file is being read.
    fn file(&self, _path: &Path) {}
    /// Reading is over; `messages` are being committed.
    fn committing(&self, _messages: usize) {}
    /// All done.
    fn finish(&self) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// A file to look at: its path and whether it was named (rather than found in a folder).
struct Input {
    path: PathBuf,
    named: bool,
}

/// Run the pipeline: see the module docs.
pub async fn ingest(
    store: &Store,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let inputs = expand(&request.paths, request.store_dir.as_deref())?;
    let forced = match &request.format {
        Some(name) => Some(crate::reader_named(name).ok_or_else(|| {
            let names: Vec<&str> = READERS.iter().map(|r| r.name()).collect();
            IngestError::Usage(format!(
                "unknown --format {name:?}; use one of {}",
                names.join(", ")
            ))
        })?),
        None => None,
    };
    progress.start(inputs.len());
    let mut summary = IngestSummary {
        strict: request.strict,
        ..Default::default()
    };
    let mut prepared: Vec<PreparedMessage> = Vec::new();
    let mut runs: Vec<ImageRun> = Vec::new();
    let mut naive: Vec<String> = Vec::new();
    let outcomes = read_files(&inputs, forced, request, progress);
    // Data files named by masters' /entry/data links → the master; walked files that are HDF5
    // without /entry (indexes into the report).
    let mut linked: std::collections::HashMap<PathBuf, PathBuf> = Default::default();
    let mut not_masters: Vec<usize> = Vec::new();
    let mut sources: std::collections::HashMap<PathBuf, Result<SourceFile, String>> =
        Default::default();
    for (input, outcome) in inputs.iter().zip(outcomes) {
        // Not read because an earlier failure stops the run (without --keep-going).
        let Some(FileOutcome {
            classified: outcome,
            naive_time,
            source,
        }) = outcome
        else {
            continue;
        };
        if naive_time && request.read.timezone.is_none() {
            naive.push(input.path.display().to_string());
        }
        if let Some(src) = source {
            sources.insert(input.path.clone(), src);
        }
        let report = |status, format: &str, detail: String| FileReport {
            path: input.path.display().to_string(),
            format: format.to_owned(),
            status,
            detail,
        };
        match outcome {
            Classified::Data(detail) => summary.files.push(report(FileStatus::Data, "-", detail)),
            Classified::Skipped(detail) => {
                summary.files.push(report(FileStatus::Skipped, "-", detail))
            }
            Classified::NotMaster(detail) => {
                not_masters.push(summary.files.len());
                summary.files.push(report(FileStatus::Skipped, "-", detail))
            }
            Classified::Failed(format, detail) => {
                summary
                    .files
                    .push(report(FileStatus::Failed, format, detail.clone()));
                if !request.keep_going {
                    progress.finish();
                    return Err(IngestError::Stopped {
                        reason: format!("{}: {detail}", input.path.display()),
                        summary: Box::new(summary),
                    });
                }
            }
            Classified::Read(reader, fragments) => {
                for fragment in fragments {
                    match fragment {
                        Fragment::Message {
                            mut value,
                            message,
                            bulk,
                        } => {
                            let message = match with_session(&mut value, *message, request) {
                                Ok(m) => m,
                                Err(e) => {
                                    summary.files.push(report(
                                        FileStatus::Failed,
                                        reader,
                                        e.clone(),
                                    ));
                                    if !request.keep_going {
                                        progress.finish();
                                        return Err(IngestError::Stopped {
                                            reason: format!("{}: {e}", input.path.display()),
                                            summary: Box::new(summary),
                                        });
                                    }
                                    continue;
                                }
                            };
                            let source = sources
                                .get(&input.path)
                                .cloned()
                                .unwrap_or_else(|| source_file(&input.path, reader));
                            match source {
                                Ok(src) => {
                                    let mut p = prepare_message(&value, message, vec![src]);
                                    p.bulk = bulk.into_iter().map(to_store_bulk).collect();
                                    prepared.push(p);
                                }
                                Err(e) => summary.files.push(report(FileStatus::Failed, reader, e)),
                            }
                        }
                        Fragment::Images(run) => {
                            let dir = PathBuf::from(&run.directory);
                            for d in &run.data_files {
                                linked.insert(dir.join(&d.file_name), input.path.clone());
                            }
                            runs.push(*run)
                        }
                        Fragment::NotMetadata(_) => {}
                    }
                }
            }
        }
    }
    // HDF5 files without /entry that a master of the run links to are its data, whatever their name.
    for i in not_masters {
        let f = &mut summary.files[i];
        let path = Path::new(&f.path);
        let key = Path::new(&crate::directory_of(path)).join(path.file_name().unwrap_or_default());
        if let Some(master) = linked.get(&key) {
            f.status = FileStatus::Data;
            f.detail = format!(
                "data of {} (linked from its /entry/data)",
                master.file_name().unwrap_or_default().to_string_lossy()
            );
        }
    }
    summary.timings.read_s = started.elapsed().as_secs_f64();
    let assembled = assemble(
        runs,
        &AssembleOptions {
            session: request.session.clone(),
        },
    );
    for a in assembled {
        match validate_assembled(&a.message) {
            Ok(message) => {
                let sources: Result<Vec<SourceFile>, String> = a
                    .sources
                    .iter()
                    .map(|(p, f)| sources.get(p).cloned().unwrap_or_else(|| source_file(p, f)))
                    .collect();
                match sources {
                    Ok(s) => prepared.push(prepare_message(&a.message, message, s)),
                    Err(e) => summary.files.push(FileReport {
                        path: a.sources[0].0.display().to_string(),
                        format: a.sources[0].1.to_owned(),
                        status: FileStatus::Failed,
                        detail: e,
                    }),
                }
            }
            Err(reason) => {
                for (p, f) in &a.sources {
                    summary.files.push(FileReport {
                        path: p.display().to_string(),
                        format: (*f).to_owned(),
                        status: FileStatus::Failed,
                        detail: format!("assembled message is not valid MXLIMS: {reason}"),
                    });
                }
                if !request.keep_going {
                    progress.finish();
                    return Err(IngestError::Stopped {
                        reason: format!("{}: {reason}", a.sources[0].0.display()),
                        summary: Box::new(summary),
                    });
                }
            }
        }
    }
    summary.timings.prepare_s = started.elapsed().as_secs_f64() - summary.timings.read_s;
    progress.committing(prepared.len());
    let commit_started = Instant::now();
    let outcome = store
        .ingest(&prepared, request.command.as_deref())
        .await
        .map_err(|e| IngestError::Store(e.to_string()));
    summary.timings.commit_s = commit_started.elapsed().as_secs_f64();
    progress.finish();
    let outcome = outcome?;
    let mut stored: Vec<FileReport> = Vec::new();
    for p in &prepared {
        let (new, changed, unchanged) = outcome
            .per_message
            .get(&p.message_id)
            .copied()
            .unwrap_or_default();
        let status = if new + changed > 0 {
            FileStatus::Ingested
        } else {
            FileStatus::Unchanged
        };
        for s in &p.sources {
            stored.push(FileReport {
                path: s.path.clone(),
                format: s.format.clone(),
                status,
                detail: format!("{new} new, {changed} changed, {unchanged} unchanged objects"),
            });
        }
    }
    // Report files as they were given (sources are stored with absolute paths), in path order.
    let given: std::collections::HashMap<String, String> = inputs
        .iter()
        .map(|i| {
            let abs = std::path::absolute(&i.path).unwrap_or_else(|_| i.path.clone());
            (abs.display().to_string(), i.path.display().to_string())
        })
        .collect();
    for f in &mut stored {
        if let Some(g) = given.get(&f.path) {
            f.path = g.clone();
        }
    }
    stored.append(&mut summary.files);
    stored.sort_by(|a, b| a.path.cmp(&b.path));
    summary.files = stored;
    (summary.new, summary.changed, summary.unchanged) = outcome.totals();
    summary.ingest_id = Some(outcome.ingest_id.clone());
    summary.committed = outcome.committed;
    if !naive.is_empty() {
        summary.warnings.push(naive_warning(&naive));
    }
    if outcome.committed {
        summary
            .warnings
            .extend(unresolved_warning(store, &prepared).await);
    }
    Ok(summary)
}

/// One file's classification, with what the run needs of it later.
struct FileOutcome {
    classified: Classified,
    /// A reader met a timestamp without a zone.
    naive_time: bool,
    /// Path, size and hash, for files that were read.
    source: Option<Result<SourceFile, String>>,
}

/// Classify and read every file, on as many threads as there are cores (files are independent;
/// results keep the input order). Without `keep_going`, a failure stops the remaining reads.
fn read_files(
    inputs: &[Input],
    forced: Option<&'static dyn Reader>,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Vec<Option<FileOutcome>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<FileOutcome>>> =
        Mutex::new(inputs.iter().map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= inputs.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let input = &inputs[i];
                    progress.file(&input.path);
                    let options = request.read.for_file();
                    let classified = classify_and_read(input, forced, &options);
                    let source = match &classified {
                        Classified::Read(reader, _) => Some(source_file(&input.path, reader)),
                        _ => None,
                    };
                    if matches!(classified, Classified::Failed(..)) && !request.keep_going {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let outcome = FileOutcome {
                        classified,
                        naive_time: options.saw_naive_time(),
                        source,
                    };
                    results
                        .lock()
                        .expect("no worker panics while holding the lock")[i] = Some(outcome);
                }
            });
        }
    });
    results.into_inner().expect("workers finished")
}

/// What a file turned out to be.
enum Classified {
    Read(&'static str, Vec<Fragment>),
    Data(String),
    Skipped(String),
    /// A container file a reader knows but without metadata (HDF5 without /entry): skipped,
    /// unless a master of the run links to it.
    NotMaster(String),
    Failed(&'static str, String),
}

fn classify_and_read(
    input: &Input,
    forced: Option<&'static dyn Reader>,
    options: &ReadOptions,
) -> Classified {
    let path = &input.path;
    let head = match read_head(path) {
        Ok(h) => h,
        Err(e) => return Classified::Failed("-", format!("cannot read the file: {e}")),
    };
    let reader = match forced.or_else(|| READERS.iter().copied().find(|r| r.sniff(path, &head))) {
        Some(r) => r,
        None if input.named => {
            return Classified::Failed(
                "-",
                format!(
                    "start of file: expected a supported format ({}); found {}",
                    crate::supported_formats(),
                    describe(path, &head)
                ),
            );
        }
        None => {
            return Classified::Skipped(format!(
                "not a format mxpipe reads: {}",
                describe(path, &head)
            ));
        }
    };
    if reader.name() == "nxmx"
        && let Some(master) = master_of_data_file(path)
    {
        return Classified::Data(format!(
            "data of {} (not opened)",
            master
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    }
    // A reader bug must not take the whole run (or a server) down: it becomes this file's failure.
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.read(path, options)));
    match result {
        Ok(Ok(fragments)) => {
            if let Some(reason) = fragments.iter().find_map(|f| match f {
                Fragment::NotMetadata(r) => Some(r.clone()),
                _ => None,
            }) {
                return if input.named {
                    Classified::Failed(reader.name(), reason)
                } else {
                    Classified::NotMaster(reason)
                };
            }
            Classified::Read(reader.name(), fragments)
        }
        Ok(Err(e)) => Classified::Failed(
            reader.name(),
            format!("{}: expected {}; found {}", e.location, e.expected, e.found),
        ),
        Err(_) => Classified::Failed(
            reader.name(),
            format!(
                "the {} reader crashed on this file (a bug in mxpipe: please report it with the file)",
                reader.name()
            ),
        ),
    }
}

/// Attach the run's session to every experiment of a message that has none; a message that
/// names another session is an error naming both.
fn with_session(
    value: &mut Value,
    message: mxpipe_model::AnyMessage,
    request: &IngestRequest,
) -> Result<mxpipe_model::AnyMessage, String> {
    let Some(session) = &request.session else {
        return Ok(message);
    };
    let mut changed = false;
    if let Some(experiments) = value.get_mut("MxExperiment").and_then(Value::as_object_mut) {
        for (key, experiment) in experiments.iter_mut() {
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
                            "/MxExperiment/{key}: the message's session is {}; --session says {}",
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

fn naive_warning(files: &[String]) -> String {
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
async fn unresolved_warning(store: &Store, prepared: &[PreparedMessage]) -> Option<String> {
    let jobs: std::collections::HashSet<String> = prepared
        .iter()
        .flat_map(|p| p.message.entries())
        .filter(|e| e.dict == "MxProcessing")
        .filter_map(|e| e.object.as_object().uuid().map(|u| u.to_string()))
        .collect();
    if jobs.is_empty() {
        return None;
    }
    let links = store.processing_links().await.ok()?;
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

fn validate_assembled(message: &Value) -> Result<mxpipe_model::AnyMessage, String> {
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
pub fn to_store_bulk(b: crate::BulkSource) -> mxpipe_store::BulkRows {
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
    let cannot = |e: std::io::Error| format!("cannot read: {e}");
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

/// Files named, and files below folders (sorted; hidden entries and the store itself left out).
fn expand(paths: &[PathBuf], store_dir: Option<&Path>) -> Result<Vec<Input>, IngestError> {
    let store_abs = store_dir.and_then(|p| p.canonicalize().ok());
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
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
                let entry =
                    entry.map_err(|e| IngestError::Usage(format!("{}: {e}", p.display())))?;
                if entry.file_type().is_file() && seen.insert(entry.path().to_owned()) {
                    out.push(Input {
                        path: entry.into_path(),
                        named: false,
                    });
                }
            }
        } else if p.is_file() {
            if seen.insert(p.clone()) {
                out.push(Input {
                    path: p.clone(),
                    named: true,
                });
            }
        } else {
            return Err(IngestError::Usage(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    Ok(out)
}
