//! The stages of one ingest run after the walk: read and classify every file, relabel the data
//! files masters link to, assemble and validate collection files into messages, commit, report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mxpipe_ingest::assemble::{AssembleOptions, assemble};
use mxpipe_ingest::{ImageRun, READERS, Reader};
use mxpipe_store::{IngestOutcome, PreparedMessage, SourceFile, Store, prepare_file_message};

use crate::classify::{Classified, FileOutcome, Part, read_files};
use crate::support::{
    barcode_warnings, naive_warning, source_file, unresolved_warning, validate_assembled,
};
use crate::{
    Commit, FileReport, FileStatus, IngestError, IngestRequest, IngestSummary, Input, Progress,
};

/// The reader `--format` names, if any.
pub(crate) fn forced_reader(
    request: &IngestRequest,
) -> Result<Option<&'static dyn Reader>, IngestError> {
    let Some(name) = &request.format else {
        return Ok(None);
    };
    mxpipe_ingest::reader_named(name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = READERS.iter().map(|r| r.name()).collect();
        IngestError::Usage(format!(
            "unknown --format {name:?}; use one of {}",
            names.join(", ")
        ))
    })
}

/// What the run has gathered before its commit.
#[derive(Default)]
pub(crate) struct Gathered {
    pub(crate) summary: IngestSummary,
    prepared: Vec<PreparedMessage>,
    runs: Vec<ImageRun>,
    /// Files with a timestamp without a zone (and no facility zone given).
    naive: Vec<String>,
    /// Data files named by masters' /entry/data links → the master.
    linked: HashMap<PathBuf, PathBuf>,
    /// Walked files that are HDF5 without /entry (indexes into the report).
    not_masters: Vec<usize>,
    /// Path, size and hash of each collection file, for the messages assembled from them.
    sources: HashMap<PathBuf, Result<SourceFile, String>>,
}

impl Gathered {
    pub(crate) fn new(strict: bool) -> Self {
        Gathered {
            summary: IngestSummary {
                strict,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A failure: recorded; without `keep_going` it stops the run.
    fn failed(
        &mut self,
        report: FileReport,
        reason: String,
        request: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<(), IngestError> {
        self.summary.files.push(report);
        self.stop(reason, request, progress)
    }

    /// Without `keep_going`, a failure stops the run: nothing is stored.
    fn stop(
        &mut self,
        reason: String,
        request: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<(), IngestError> {
        if request.keep_going {
            return Ok(());
        }
        progress.finish();
        Err(IngestError::Stopped {
            reason,
            summary: Box::new(std::mem::take(&mut self.summary)),
        })
    }

    /// Stage 2: classify and read every file.
    pub(crate) fn read(
        &mut self,
        inputs: &[Input],
        forced: Option<&'static dyn Reader>,
        request: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<(), IngestError> {
        let outcomes = read_files(inputs, forced, request, progress);
        for (input, outcome) in inputs.iter().zip(outcomes) {
            // Not read because an earlier failure stops the run (without --keep-going).
            let Some(FileOutcome {
                classified,
                naive_time,
            }) = outcome
            else {
                continue;
            };
            if naive_time && request.read.timezone.is_none() {
                self.naive.push(input.path.display().to_string());
            }
            self.file(input, classified, request, progress)?;
        }
        Ok(())
    }

    /// One file's classification into the report and the run.
    fn file(
        &mut self,
        input: &Input,
        classified: Classified,
        request: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<(), IngestError> {
        let report = |status, format: &str, detail: String| FileReport {
            path: input.path.display().to_string(),
            format: format.to_owned(),
            status,
            detail,
            problems: Vec::new(),
        };
        match classified {
            Classified::Data(detail) => {
                self.summary
                    .files
                    .push(report(FileStatus::Data, "-", detail))
            }
            Classified::Skipped(detail) => {
                self.summary
                    .files
                    .push(report(FileStatus::Skipped, "-", detail))
            }
            Classified::NotMaster(detail) => {
                self.not_masters.push(self.summary.files.len());
                self.summary
                    .files
                    .push(report(FileStatus::Skipped, "-", detail))
            }
            Classified::Failed(format, detail, problems) => {
                let reason = format!("{}: {detail}", input.path.display());
                let r = FileReport {
                    problems,
                    ..report(FileStatus::Failed, format, detail)
                };
                self.failed(r, reason, request, progress)?;
            }
            Classified::Read(reader, parts, source) => {
                for part in parts {
                    match part {
                        Part::Prepared(p) => self.prepared.push(*p),
                        Part::NoSource(e) => {
                            self.summary
                                .files
                                .push(report(FileStatus::Failed, reader, e))
                        }
                        Part::SessionConflict(e) => {
                            let reason = format!("{}: {e}", input.path.display());
                            self.failed(
                                report(FileStatus::Failed, reader, e),
                                reason,
                                request,
                                progress,
                            )?;
                        }
                        Part::Images(run) => {
                            self.sources.insert(input.path.clone(), source.clone());
                            let dir = PathBuf::from(&run.directory);
                            for d in &run.data_files {
                                self.linked
                                    .insert(dir.join(&d.file_name), input.path.clone());
                            }
                            self.runs.push(*run)
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Stage 3: HDF5 files without /entry that a master of the run links to are its data,
    /// whatever their name.
    pub(crate) fn relabel_linked_data(&mut self) {
        for &i in &self.not_masters {
            let f = &mut self.summary.files[i];
            let path = Path::new(&f.path);
            let key = Path::new(&mxpipe_ingest::directory_of(path))
                .join(path.file_name().unwrap_or_default());
            if let Some(master) = self.linked.get(&key) {
                f.status = FileStatus::Data;
                f.detail = format!(
                    "data of {} (linked from its /entry/data)",
                    master.file_name().unwrap_or_default().to_string_lossy()
                );
            }
        }
    }

    /// Stage 4: assemble collection files into messages and validate them.
    pub(crate) fn assemble_and_validate(
        &mut self,
        request: &IngestRequest,
        progress: &dyn Progress,
    ) -> Result<(), IngestError> {
        let options = AssembleOptions {
            session: request.session.clone(),
        };
        for a in assemble(std::mem::take(&mut self.runs), &options) {
            let message = match validate_assembled(&a.message) {
                Ok(message) => message,
                Err(reason) => {
                    for (p, f) in &a.sources {
                        self.summary.files.push(assembly_failure(p, f, &reason));
                    }
                    let stop = format!("{}: {reason}", a.sources[0].0.display());
                    self.stop(stop, request, progress)?;
                    continue;
                }
            };
            let sources: Result<Vec<SourceFile>, String> = a
                .sources
                .iter()
                .map(|(p, f)| {
                    self.sources
                        .get(p)
                        .cloned()
                        .unwrap_or_else(|| source_file(p, f))
                })
                .collect();
            match sources {
                Ok(s) => self
                    .prepared
                    .push(prepare_file_message(&a.message, message, s)),
                Err(e) => self.summary.files.push(FileReport {
                    path: a.sources[0].0.display().to_string(),
                    format: a.sources[0].1.to_owned(),
                    status: FileStatus::Failed,
                    detail: e,
                    problems: Vec::new(),
                }),
            }
        }
        Ok(())
    }
}

fn assembly_failure(path: &Path, format: &str, reason: &str) -> FileReport {
    FileReport {
        path: path.display().to_string(),
        format: format.to_owned(),
        status: FileStatus::Failed,
        detail: format!("assembled message is not valid MXLIMS: {reason}"),
        problems: Vec::new(),
    }
}

/// What the commit stage hands to the report.
pub(crate) struct Committed {
    prepared: Vec<PreparedMessage>,
    outcome: IngestOutcome,
}

/// Stage 5: commit the run's messages as one store run.
pub(crate) async fn commit(
    committer: &dyn Commit,
    run: &mut Gathered,
    request: &IngestRequest,
    progress: &dyn Progress,
) -> Result<Committed, IngestError> {
    let prepared = std::mem::take(&mut run.prepared);
    progress.committing(prepared.len());
    let started = Instant::now();
    let (prepared, outcome) = committer.commit(prepared, request.command.clone()).await;
    run.summary.timings.commit_s = started.elapsed().as_secs_f64();
    progress.finish();
    let outcome = outcome.map_err(IngestError::Store)?;
    Ok(Committed { prepared, outcome })
}

/// Stage 6: one report line per file (as given, in path order), totals and warnings.
pub(crate) async fn report(
    store: &Store,
    run: Gathered,
    committed: Committed,
    inputs: &[Input],
    request: &IngestRequest,
) -> IngestSummary {
    let Committed { prepared, outcome } = committed;
    let mut summary = run.summary;
    let mut stored = stored_files(&prepared, &outcome);
    // Report files as they were given (sources are stored with absolute paths).
    let given: HashMap<String, String> = inputs
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
    if !run.naive.is_empty() {
        summary.warnings.push(naive_warning(&run.naive));
    }
    if inputs.is_empty() {
        summary.warnings.push(nothing_found(request));
    }
    if outcome.committed {
        summary
            .warnings
            .extend(unresolved_warning(store, &prepared).await);
        summary
            .warnings
            .extend(barcode_warnings(store, &prepared).await);
    }
    summary
}

/// One report line per stored source file.
fn stored_files(prepared: &[PreparedMessage], outcome: &IngestOutcome) -> Vec<FileReport> {
    let mut stored = Vec::new();
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
    stored
}

fn nothing_found(request: &IngestRequest) -> String {
    let given: Vec<String> = request
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "no files found under {}: nothing to ingest (hidden entries and the store's own folder are left out)",
        given.join(", ")
    )
}
