//! Ingest and mint: one pipeline run ([`ingest`]), then PIDs for the samples and crystals it
//! committed ([`mint_committed`]); the server's committer calls [`mint_after_commit`] when its
//! queue is idle.

use std::path::PathBuf;
use std::sync::Arc;

use mxpipe_pid::{MintReport, PidConfig, Recorder, Scope};
use mxpipe_pipeline::{IngestError, IngestRequest, IngestSummary, Progress};
use mxpipe_store::Store;

use crate::context::Context;
use crate::error::{AppError, AppResult};

/// What to ingest, as the user gave it (texts are parsed here).
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Files and folders.
    pub paths: Vec<PathBuf>,
    /// Visit label (`mx12345-6`) for experiments that have none.
    pub session: Option<String>,
    /// Store the good files when some fail.
    pub keep_going: bool,
    /// `skipped` counts as failure.
    pub strict: bool,
    /// Walk into folders that symbolic links point to.
    pub follow: bool,
    /// Reader for every file instead of detecting the format.
    pub format: Option<String>,
    /// The facility's IANA zone (else the configuration's).
    pub timezone: Option<String>,
    /// DataCite: publish minted DOIs (findable) instead of draft.
    pub publish: bool,
    /// Command line recorded with the store run.
    pub command: Option<String>,
}

/// What minting after a commit did.
pub type MintOutcome = Result<MintReport, mxpipe_pid::PidError>;

/// The request the pipeline takes, from the options and the configuration.
pub fn request(ctx: &Context, options: IngestOptions) -> AppResult<IngestRequest> {
    let config = &ctx.config;
    let zone = options
        .timezone
        .or(config.timezone.clone())
        .or(config.ingest.timezone.clone())
        .map(|t| mxpipe_ingest::FacilityZone::parse(&t))
        .transpose()
        .map_err(|e| AppError::Usage(format!("--timezone: {e}")))?;
    let session = options
        .session
        .map(|s| mxpipe_model::Session::parse_label(&s))
        .transpose()
        .map_err(|e| AppError::Usage(format!("--session: {e}")))?;
    Ok(IngestRequest {
        paths: options.paths,
        format: options.format,
        keep_going: options.keep_going,
        strict: options.strict,
        follow: options.follow,
        session,
        read: mxpipe_ingest::ReadOptions {
            timezone: zone,
            source_names: Arc::new(config.ingest.source_names.clone()),
            ..Default::default()
        },
        store_dir: ctx.local_store_dir(),
        command: options.command,
    })
}

/// Run the pipeline into `store` (the outer error: the options are wrong; the inner: the run
/// stored nothing). Resolve `[pid]` (`Context::pid`) before: an unusable section is refused
/// before anything is read.
pub async fn ingest(
    ctx: &Context,
    store: &Store,
    options: IngestOptions,
    progress: &dyn Progress,
) -> AppResult<Result<IngestSummary, IngestError>> {
    let request = request(ctx, options)?;
    Ok(mxpipe_pipeline::ingest(store, &request, progress).await)
}

/// After a run that committed, with `[pid]` configured: mint PIDs for what it stored (a failed
/// mint leaves the ingest stored: `mxpipe pid mint` completes it). `None`: nothing to mint.
pub async fn mint_committed(
    store: &Store,
    pid: Option<&PidConfig>,
    summary: &IngestSummary,
    publish: bool,
) -> Option<MintOutcome> {
    // PIDs only after the commit succeeded: a failed ingest mints nothing.
    let (Some(pid), Some(id), true) = (pid, &summary.ingest_id, summary.committed) else {
        return None;
    };
    Some(mint_after_commit(store, &mut &*store, pid, vec![id.clone()], publish).await)
}

/// Mint PIDs for the samples and crystals of committed store runs (`ingest_ids`), recording them
/// through `recorder` (the store itself, or the server's long-lived writer).
pub async fn mint_after_commit(
    store: &Store,
    recorder: &mut dyn Recorder,
    pid: &PidConfig,
    ingest_ids: Vec<String>,
    publish: bool,
) -> MintOutcome {
    mxpipe_pid::mint(store, recorder, pid, Scope::Ingests(ingest_ids), publish).await
}
