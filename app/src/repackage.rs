//! Repackaging (`mxpipe repackage`): one NXmx master per sweep of an experiment.

use std::path::{Path, PathBuf};

use mxpipe_repackage::plan::Plan;
use mxpipe_store::Store;

use crate::error::{AppError, AppResult};

/// Plan the experiment's masters and (unless `dry_run`) write them under `out`; returns the plan
/// and the files written. A refusal (a missing data file, a clash) lists every problem.
pub async fn repackage(
    store: &Store,
    experiment: &str,
    out: &Path,
    dry_run: bool,
    allow_overlap: bool,
) -> AppResult<(Plan, Vec<PathBuf>)> {
    mxpipe_repackage::repackage(store, experiment, out, dry_run, allow_overlap)
        .await
        .map_err(AppError::failed)
}
