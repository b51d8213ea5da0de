//! `mxpipe ingest`: argument handling and printing around [`mxpipe_ingest::pipeline::ingest`].

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_ingest::pipeline::{IngestError, IngestRequest, IngestSummary, Progress, ingest};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::table::print_table;

/// A progress bar over the files, then a spinner while committing.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, files: usize) {
        self.0.set_length(files as u64);
    }
    fn file(&self, path: &Path) {
        self.0.inc(1);
        self.0.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    fn committing(&self, messages: usize) {
        self.0
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
        self.0
            .set_message(format!("committing {messages} messages"));
        self.0
            .enable_steady_tick(std::time::Duration::from_millis(120));
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Run; returns the exit status (0 all good, 1 a file failed, 2 usage).
pub async fn run(
    store: &Store,
    request: IngestRequest,
    output: TableFormat,
    pid: Option<&mxpipe_pid::PidConfig>,
    publish: bool,
) -> u8 {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading [{bar:30}] {pos}/{len} files  {per_sec}  {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    match ingest(store, &request, &Bar(bar)).await {
        Ok(summary) => {
            print_summary(&summary, output);
            let total = summary.files.len();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{total} files in {secs:.1} s ({:.0} files/s): {}; {} new, {} changed, {} unchanged objects; {}",
                total as f64 / secs.max(1e-9),
                summary.counts_text(),
                summary.new,
                summary.changed,
                summary.unchanged,
                match (&summary.ingest_id, summary.committed) {
                    (Some(id), true) => format!("committed as ingest {id}"),
                    _ => "nothing new to commit".into(),
                }
            );
            let t = &summary.timings;
            eprintln!(
                "time: reading {:.2} s, assembling + validating + preparing {:.2} s, comparing + committing {:.2} s",
                t.read_s, t.prepare_s, t.commit_s
            );
            for w in &summary.warnings {
                eprintln!("warning: {w}");
            }
            // PIDs only after the commit succeeded: a failed ingest mints nothing.
            if let (Some(pid), Some(id), true) = (pid, &summary.ingest_id, summary.committed) {
                crate::commands::pid::after_ingest(store, pid, id, publish).await;
            }
            if summary.strict && summary.count(mxpipe_ingest::pipeline::FileStatus::Skipped) > 0 {
                eprintln!(
                    "error: --strict: files that are not metadata were found (status skipped)"
                );
            }
            summary.exit_code()
        }
        Err(IngestError::Usage(m)) => {
            eprintln!("error: {m}");
            2
        }
        Err(e @ IngestError::Stopped { .. }) => {
            eprintln!("error: {e}");
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn print_summary(summary: &IngestSummary, output: TableFormat) {
    let rows: Vec<Vec<String>> = summary
        .files
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                f.format.clone(),
                f.status.as_str().to_owned(),
                f.detail.clone(),
            ]
        })
        .collect();
    print_table(&["file", "format", "status", "detail"], &rows, output);
}
