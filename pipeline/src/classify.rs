//! Classifying and reading the files of a run, on every core.

use mxpipe_store::{PreparedMessage, SourceFile, prepare_file_message};

use super::support::{source_file, to_store_bulk, with_session};
use super::{IngestRequest, Input, Progress};
use mxpipe_ingest::sniff::{describe, master_of_data_file, read_head};
use mxpipe_ingest::{Fragment, ImageRun, READERS, ReadOptions, Reader};

/// One file's classification, with what the run needs of it later.
pub(crate) struct FileOutcome {
    pub(crate) classified: Classified,
    /// A reader met a timestamp without a zone.
    pub(crate) naive_time: bool,
}

/// Classify and read every file, on as many threads as there are cores (files are independent;
/// results keep the input order). Without `keep_going`, a failure stops the remaining reads.
pub(crate) fn read_files(
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
    if workers == 1 {
        // One file (a service's upload): read on this thread, no worker to start and join.
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            progress.file(&input.path);
            let options = request.read.for_file();
            let classified = classify_and_read(input, forced, &options, request);
            let failed = matches!(classified, Classified::Failed(..));
            out.push(Some(FileOutcome {
                classified,
                naive_time: options.saw_naive_time(),
            }));
            if failed && !request.keep_going {
                break;
            }
        }
        out.resize_with(inputs.len(), || None);
        return out;
    }
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
                    let classified = classify_and_read(input, forced, &options, request);
                    if matches!(classified, Classified::Failed(..)) && !request.keep_going {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let outcome = FileOutcome {
                        classified,
                        naive_time: options.saw_naive_time(),
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
pub(crate) enum Classified {
    /// Read by a reader: its name, what it produced (messages already prepared for the store,
    /// on the worker threads), and the file's path, size and hash.
    Read(&'static str, Vec<Part>, Result<SourceFile, String>),
    Data(String),
    Skipped(String),
    /// A container file a reader knows but without metadata (HDF5 without /entry): skipped,
    /// unless a master of the run links to it.
    NotMaster(String),
    /// Reader, what is wrong, and every problem when the reader lists them.
    Failed(&'static str, String, Vec<mxpipe_ingest::Problem>),
}

/// What one fragment of a read file became.
pub(crate) enum Part {
    /// A message with the run's session applied, hashed and given its minted uuids.
    Prepared(Box<PreparedMessage>),
    /// The message names another session than `--session` (stops the run without
    /// `keep_going`).
    SessionConflict(String),
    /// The file's hash could not be taken.
    NoSource(String),
    /// Collection metadata, assembled with other runs later.
    Images(Box<ImageRun>),
}

/// Apply the session and prepare each message (the costly hashing and serialising), so that
/// it happens on every core rather than in the run's single assembling loop.
fn prepare_parts(
    fragments: Vec<Fragment>,
    source: &Result<SourceFile, String>,
    request: &IngestRequest,
) -> Vec<Part> {
    fragments
        .into_iter()
        .filter_map(|fragment| match fragment {
            Fragment::Message {
                mut value,
                message,
                bulk,
            } => Some(match with_session(&mut value, *message, request) {
                Err(e) => Part::SessionConflict(e),
                Ok(message) => match source {
                    Err(e) => Part::NoSource(e.clone()),
                    Ok(src) => {
                        let mut p = prepare_file_message(&value, message, vec![src.clone()]);
                        p.bulk = bulk.into_iter().map(to_store_bulk).collect();
                        Part::Prepared(Box::new(p))
                    }
                },
            }),
            Fragment::Images(run) => Some(Part::Images(run)),
            Fragment::NotMetadata(_) => None,
        })
        .collect()
}

fn classify_and_read(
    input: &Input,
    forced: Option<&'static dyn Reader>,
    options: &ReadOptions,
    request: &IngestRequest,
) -> Classified {
    match &input.note {
        Some(super::WalkNote::Skipped(why)) => return Classified::Skipped(why.clone()),
        Some(super::WalkNote::Failed(why)) => {
            return Classified::Failed("-", why.clone(), Vec::new());
        }
        None => {}
    }
    let path = &input.path;
    let head = match read_head(path) {
        Ok(h) => h,
        Err(e) => return Classified::Failed("-", format!("cannot read the file: {e}"), Vec::new()),
    };
    let reader = match forced.or_else(|| READERS.iter().copied().find(|r| r.sniff(path, &head))) {
        Some(r) => r,
        None if input.named => {
            return Classified::Failed(
                "-",
                format!(
                    "start of file: expected a supported format ({}); found {}",
                    mxpipe_ingest::supported_formats(),
                    describe(path, &head)
                ),
                Vec::new(),
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
                    Classified::Failed(reader.name(), reason, Vec::new())
                } else {
                    Classified::NotMaster(reason)
                };
            }
            let source = source_file(path, reader.name());
            let parts = prepare_parts(fragments, &source, request);
            Classified::Read(reader.name(), parts, source)
        }
        Ok(Err(e)) => Classified::Failed(
            reader.name(),
            format!("{}: expected {}; found {}", e.location, e.expected, e.found),
            e.problems,
        ),
        Err(_) => Classified::Failed(
            reader.name(),
            format!(
                "the {} reader crashed on this file (a bug in mxpipe: please report it with the file)",
                reader.name()
            ),
            Vec::new(),
        ),
    }
}
