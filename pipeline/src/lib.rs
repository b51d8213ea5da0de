//! The ingest pipeline as one library call: walk the paths, classify every file, read what is
//! metadata, assemble collection files into messages, validate, prepare and commit one store run,
//! and report per file. The CLI (`mxpipe ingest`) and the HTTP service call [`ingest`].
//!
//! Every file ends in one [`FileStatus`]: `ingested` / `unchanged` (stored, or already there),
//! `data` (image data of a master seen in the run — not opened past its signature), `skipped`
//! (not a format mxpipe reads: images, logs, PDB models, …; only for files found by walking a folder) or
//! `failed` (a supported format, but broken; or a named file mxpipe cannot read).

use std::path::{Path, PathBuf};
use std::time::Instant;

use mxpipe_model::Session;
use mxpipe_store::{IngestOutcome, PreparedMessage, Store};
use serde::Serialize;

use mxpipe_ingest::ReadOptions;

mod classify;
mod stages;
mod support;
mod walk;

pub use support::to_store_bulk;

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
    #[schema(value_type = Vec<ProblemDoc>)]
    pub problems: Vec<mxpipe_ingest::Problem>,
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

/// Run the pipeline, committing through `committer` (reading back from `store`), in six stages
/// (`stages.rs`): walk, read and classify, relabel linked data files, assemble and validate,
/// commit, report.
pub async fn ingest_with(
    store: &Store,
    committer: &dyn Commit,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let inputs = walk::expand(&request.paths, request.store_dir.as_deref(), request.follow)?;
    let forced = stages::forced_reader(request)?;
    progress.start(inputs.len());
    let mut run = stages::Gathered::new(request.strict);
    run.read(&inputs, forced, request, progress)?;
    run.relabel_linked_data();
    run.summary.timings.read_s = started.elapsed().as_secs_f64();
    run.assemble_and_validate(request, progress)?;
    run.summary.timings.prepare_s = started.elapsed().as_secs_f64() - run.summary.timings.read_s;
    let committed = stages::commit(committer, &mut run, request, progress).await?;
    Ok(stages::report(store, run, committed, &inputs, request).await)
}

/// Prepare already-read fragments (readers' or generators' complete messages, with their bulk
/// rows) for one store run: what `mxpipe generate` commits without files to walk.
pub fn prepare_fragments(fragments: Vec<mxpipe_ingest::Fragment>) -> Vec<PreparedMessage> {
    fragments
        .into_iter()
        .filter_map(|f| match f {
            mxpipe_ingest::Fragment::Message {
                value,
                message,
                bulk,
            } => {
                let mut p = mxpipe_store::prepare_message(&value, *message, Vec::new());
                p.bulk = bulk.into_iter().map(to_store_bulk).collect();
                Some(p)
            }
            _ => None,
        })
        .collect()
}

/// The OpenAPI shape of [`mxpipe_ingest::Problem`] (the readers crate has no web dependency).
#[derive(utoipa::ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// Place in the file (a JSON pointer and the rule, a line, an HDF5 path).
    location: String,
    /// What was expected there.
    expected: String,
    /// What was found.
    found: String,
}
