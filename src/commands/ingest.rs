//! `mxpipe ingest` (and `mxpipe formats`): the pipeline with a progress bar, then the summary.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_app::Context;
use mxpipe_app::StoreUse;
use mxpipe_app::ingest::IngestOptions;
use mxpipe_pipeline::{FileStatus, IngestError, IngestSummary, Progress};

use crate::cli::fail;
use crate::output::{TableFormat, print_table};

/// Read collection files and MXLIMS messages into the store (one atomic commit per run).
///
/// Folders are walked and every file is classified: `ingested`/`unchanged` (metadata,
/// stored or already there), `data` (HDF5 image data of a master in the run, not opened),
/// `skipped` (not a format mxpipe reads: snapshots, logs, PDB models, …) or `failed` (a supported
/// format that is broken). The format is detected from content; --format overrides. A file
/// named on the command line that is not metadata is an error. Re-running the same ingest
/// adds nothing. Exit status 0 when nothing failed (--strict: and nothing was skipped), 1
/// otherwise, 2 for a bad command line.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe ingest samples/
  mxpipe ingest --site ESRF --session mx2532-3 /data/visitor/mx2532/id23eh1/20260410/
  mxpipe ingest --keep-going --output json incoming/ > summary.json
  mxpipe ingest --timezone Europe/London /dls/i04/data/2026/mx12345-1/
  mxpipe ingest --follow /data/visit/processed/   # also walk folders that links point to

Collection files are grouped per folder into one MxExperiment; one CollectionSweep per
wavelength and orientation; one Scan per contiguous run of images, in acquisition order.
Readers (--format): see `mxpipe formats`.")]
pub struct IngestArgs {
    /// Files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Session (visit) for every experiment of the run that has none (MXLIMS messages
    /// included), e.g. mx23694-12 (proposal-visit). A message naming another session fails.
    #[arg(long, value_name = "VISIT")]
    session: Option<String>,
    /// Continue with the other files when one fails (the failed ones are reported).
    #[arg(long)]
    keep_going: bool,
    /// Treat files that are not metadata (status skipped) as failures.
    #[arg(long)]
    strict: bool,
    /// Walk into folders that symbolic links point to (as `rg -L`). Links to files are
    /// always read; without this flag links to folders are reported `skipped`. Link loops
    /// and dangling links are reported either way.
    #[arg(long, short = 'L')]
    follow: bool,
    /// Force a reader instead of detecting the format (`mxpipe formats` lists them).
    #[arg(long, value_name = "READER")]
    format: Option<String>,
    /// The facility's time zone for timestamps written without one: an IANA name such as
    /// Europe/London (daylight saving applied) or an offset such as +01:00 (default: the
    /// configuration's `timezone`, else UTC with a warning).
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    output: TableFormat,
    /// With [pid] scheme = "datacite": register new samples' DOIs as findable (published)
    /// instead of draft.
    #[arg(long)]
    publish: bool,
}

/// A progress bar over the files, then a spinner while committing.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, files: usize) {
        self.0.set_length(files as u64);
    }
    fn file(&self, path: &std::path::Path) {
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

/// `mxpipe formats`: the reader registry.
pub fn formats() -> u8 {
    for r in mxpipe_ingest::READERS {
        println!("{:<13} {}", r.name(), r.description());
    }
    0
}

/// Run; returns the exit status (0 all good, 1 a file failed, 2 usage).
pub async fn run(args: IngestArgs, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Start) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading [{bar:30}] {pos}/{len} files  {per_sec}  {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let output = args.output;
    let options = IngestOptions {
        paths: args.paths,
        session: args.session,
        keep_going: args.keep_going,
        strict: args.strict,
        follow: args.follow,
        format: args.format,
        timezone: args.timezone,
        publish: args.publish,
        command: Some(std::env::args().collect::<Vec<_>>().join(" ")),
    };
    let publish = options.publish;
    // An unusable [pid] section is refused before anything is read.
    let pid = match ctx.pid() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let started = std::time::Instant::now();
    let summary = match mxpipe_app::ingest::ingest(ctx, &store, options, &Bar(bar)).await {
        Err(e) => return fail(e),
        Ok(Err(e @ IngestError::Usage(_))) => {
            eprintln!("error: {e}");
            return 2;
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return 1;
        }
        Ok(Ok(summary)) => summary,
    };
    report(&summary, output, started.elapsed().as_secs_f64());
    if let Some(minted) =
        mxpipe_app::ingest::mint_committed(&store, pid.as_ref(), &summary, publish).await
    {
        crate::commands::pid::print_minted(&minted);
    }
    if summary.strict && summary.count(FileStatus::Skipped) > 0 {
        eprintln!("error: --strict: files that are not metadata were found (status skipped)");
    }
    summary.exit_code()
}

/// Print the per-file table, the totals, the warnings and what minting did.
fn report(summary: &IngestSummary, output: TableFormat, secs: f64) {
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
    let total = summary.files.len();
    let committed = match (&summary.ingest_id, summary.committed) {
        (Some(id), true) => format!("committed as ingest {id}"),
        _ => "nothing new to commit".into(),
    };
    eprintln!(
        "{total} files in {secs:.1} s ({:.0} files/s): {}; {} new, {} changed, {} unchanged objects; {committed}",
        total as f64 / secs.max(1e-9),
        summary.counts_text(),
        summary.new,
        summary.changed,
        summary.unchanged,
    );
    let t = &summary.timings;
    eprintln!(
        "time: reading {:.2} s, assembling + validating + preparing {:.2} s, comparing + committing {:.2} s",
        t.read_s, t.prepare_s, t.commit_s
    );
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
}
