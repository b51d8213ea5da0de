//! The ingest pipeline as one library call: walk the paths, classify every file, read what is
//! metadata, assemble collection files into messages, validate, prepare and commit one store run,
//! and report per file. The CLI (`mxpipe ingest`) and the HTTP service call [`ingest`].
//!
//! Every file ends in one [`FileStatus`]: `ingested` / `unchanged` (stored, or already there),
//! `data` (image data of a master seen in the run — not opened past its signature), `skipped`
//! (not a format mxpipe reads: images, logs, MTZ, …; only for files found by walking a folder) or
//! `failed` (a supported format, but broken; or a named file mxpipe cannot read).

use std::path::{Path, PathBuf};
use std::time::Instant;

use mxpipe_model::Session;
use mxpipe_store::{IngestOutcome, PreparedMessage, SourceFile, Store, prepare_file_message};
use serde::Serialize;

use crate::assemble::{AssembleOptions, assemble};
use crate::{ImageRun, READERS, ReadOptions};

mod classify;
mod support;
mod walk;

use classify::{Classified, FileOutcome, Part, read_files};
pub use support::to_store_bulk;
use support::{naive_warning, source_file, unresolved_warning, validate_assembled};

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
    /// Walk into folders that symbolic links point to (otherwise such links are reported
    /// `skipped`; links to files are always read).
    pub follow: bool,
    /// The store's own folder, never walked into.
    pub store_dir: Option<PathBuf>,
    /// Command line recorded with the store run.
    pub command: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileReport {
    /// The file as found (as given or below a given folder).
    pub path: String,
    /// Reader that read it (`-` when none did).
    pub format: String,
    /// Outcome.
    pub status: FileStatus,
    /// Objects stored, why it was skipped, or what was wrong (place, expected, found).
    pub detail: String,
    /// Every problem found in a failed file, when its reader lists them all (an MXLIMS
    /// message's validation findings: pointer and rule, expected, found).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<crate::Problem>,
}

/// Seconds spent per phase.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    /// Walking, classifying and reading files.
    pub read_s: f64,
    /// Assembling, validating, hashing and preparing messages.
    pub prepare_s: f64,
    /// Comparing with the store and committing.
    pub commit_s: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
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

/// A file to look at: its path, whether it was named (rather than found in a folder), and what
/// the walk found when it is not a file to read (a dangling link, a folder it cannot read).
struct Input {
    path: PathBuf,
    named: bool,
    note: Option<WalkNote>,
}

/// Why the walk hands an entry over without a reader (see `walk.rs`).
#[derive(Debug, Clone)]
enum WalkNote {
    Skipped(String),
    Failed(String),
}

/// Where a run's prepared messages are committed: the store itself (a one-shot writer, as the
/// CLI does), or a long-lived committer that groups the runs of many requests (`mxpipe serve`).
pub trait Commit: Sync {
    /// Commit `messages` as (part of) one store run. The messages come back with the outcome,
    /// whose `per_input` and `recorded` are aligned with them.
    fn commit(&self, messages: Vec<PreparedMessage>, command: Option<String>) -> CommitFuture<'_>;
}

/// What [`Commit::commit`] returns.
pub type CommitFuture<'a> = std::pin::Pin<
    Box<dyn Future<Output = (Vec<PreparedMessage>, Result<IngestOutcome, String>)> + Send + 'a>,
>;

impl Commit for Store {
    fn commit(&self, messages: Vec<PreparedMessage>, command: Option<String>) -> CommitFuture<'_> {
        Box::pin(async move {
            let outcome = self
                .ingest(&messages, command.as_deref())
                .await
                .map_err(|e| e.to_string());
            (messages, outcome)
        })
    }
}

/// Run the pipeline: see the module docs.
pub async fn ingest(
    store: &Store,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    ingest_with(store, store, request, progress).await
}

/// Run the pipeline, committing through `committer` (reading back from `store`).
pub async fn ingest_with(
    store: &Store,
    committer: &dyn Commit,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let inputs = walk::expand(&request.paths, request.store_dir.as_deref(), request.follow)?;
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
    // Path, size and hash of each collection file, for the messages assembled from them.
    let mut sources: std::collections::HashMap<PathBuf, Result<SourceFile, String>> =
        Default::default();
    for (input, outcome) in inputs.iter().zip(outcomes) {
        // Not read because an earlier failure stops the run (without --keep-going).
        let Some(FileOutcome {
            classified: outcome,
            naive_time,
        }) = outcome
        else {
            continue;
        };
        if naive_time && request.read.timezone.is_none() {
            naive.push(input.path.display().to_string());
        }
        let report = |status, format: &str, detail: String| FileReport {
            path: input.path.display().to_string(),
            format: format.to_owned(),
            status,
            detail,
            problems: Vec::new(),
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
            Classified::Failed(format, detail, problems) => {
                summary.files.push(FileReport {
                    problems,
                    ..report(FileStatus::Failed, format, detail.clone())
                });
                if !request.keep_going {
                    progress.finish();
                    return Err(IngestError::Stopped {
                        reason: format!("{}: {detail}", input.path.display()),
                        summary: Box::new(summary),
                    });
                }
            }
            Classified::Read(reader, parts, source) => {
                for part in parts {
                    match part {
                        Part::Prepared(p) => prepared.push(*p),
                        Part::NoSource(e) => {
                            summary.files.push(report(FileStatus::Failed, reader, e))
                        }
                        Part::SessionConflict(e) => {
                            summary
                                .files
                                .push(report(FileStatus::Failed, reader, e.clone()));
                            if !request.keep_going {
                                progress.finish();
                                return Err(IngestError::Stopped {
                                    reason: format!("{}: {e}", input.path.display()),
                                    summary: Box::new(summary),
                                });
                            }
                        }
                        Part::Images(run) => {
                            sources.insert(input.path.clone(), source.clone());
                            let dir = PathBuf::from(&run.directory);
                            for d in &run.data_files {
                                linked.insert(dir.join(&d.file_name), input.path.clone());
                            }
                            runs.push(*run)
                        }
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
                    Ok(s) => prepared.push(prepare_file_message(&a.message, message, s)),
                    Err(e) => summary.files.push(FileReport {
                        path: a.sources[0].0.display().to_string(),
                        format: a.sources[0].1.to_owned(),
                        status: FileStatus::Failed,
                        detail: e,
                        problems: Vec::new(),
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
                        problems: Vec::new(),
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
    let (prepared, outcome) = committer.commit(prepared, request.command.clone()).await;
    let outcome = outcome.map_err(IngestError::Store);
    summary.timings.commit_s = commit_started.elapsed().as_secs_f64();
    progress.finish();
    let outcome = outcome?;
    let mut stored: Vec<FileReport> = Vec::new();
    for (p, &(new, changed, unchanged)) in prepared.iter().zip(&outcome.per_input) {
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
                problems: Vec::new(),
            });
        }
    }
    // Report files as they were given (sources are stored with absolute paths), in path order.
    let given: std::collections::HashMap<String, String> = inputs
        .iter()
        .map(|i| {
            let abs = std::path::absolute(&i.path).unwrap_or_else(|_| i.path.clone());
            (
                mxpipe_model::paths::path_text(&abs),
                i.path.display().to_string(),
            )
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
    if inputs.is_empty() {
        let given: Vec<String> = request
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        summary.warnings.push(format!(
            "no files found under {}: nothing to ingest (hidden entries and the store's own folder are left out)",
            given.join(", ")
        ));
    }
    if outcome.committed {
        summary
            .warnings
            .extend(unresolved_warning(store, &prepared).await);
        summary
            .warnings
            .extend(support::barcode_warnings(store, &prepared).await);
    }
    Ok(summary)
}
