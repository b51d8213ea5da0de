//! `mxpipe repackage`: an interleaved experiment (per-wedge masters and data files as beamlines
//! write them) becomes one NXmx master per sweep whose `/entry/data/data` is an HDF5 virtual
//! dataset over the untouched data files, in rotation order, with the acquisition order kept in
//! `/entry/mxpipe:acquisition`. See `docs/repackage.md` and `../shared/notes/nexus-repackaging.md`.
//!
//! [`plan::plan`] reads what the store knows (sweeps, wedges, the file and frame of every image);
//! [`sources::check`] refuses what would give wrong frames silently; [`write::write`] writes.

pub mod plan;
pub mod sources;
pub mod vds;
pub mod write;

use std::path::{Path, PathBuf};

use mxpipe_store::Store;

/// Why nothing (more) was written.
#[derive(Debug, thiserror::Error)]
pub enum RepackError {
    /// Reading the store.
    #[error("reading the store: {0}")]
    Store(String),
    /// The experiment or its files cannot be repackaged as asked.
    #[error("{0}")]
    Refused(String),
    /// Writing HDF5.
    #[error("writing HDF5: {0}")]
    Hdf5(String),
    /// Files and folders.
    #[error("{0}")]
    Io(String),
}

/// Plan, check and (unless `dry_run`) write: the plan, and the files written.
pub async fn repackage(
    store: &Store,
    experiment: &str,
    out: &Path,
    dry_run: bool,
    allow_overlap: bool,
) -> Result<(plan::Plan, Vec<PathBuf>), RepackError> {
    if !store
        .holds_tables()
        .await
        .map_err(|e| RepackError::Store(e.to_string()))?
    {
        return Err(RepackError::Refused(format!(
            "{} holds no mxpipe store: ingest the experiment first, or pass --store",
            store.root()
        )));
    }
    let plan = plan::plan(store, experiment, out, allow_overlap).await?;
    let sources = sources::check(&plan, out)?;
    if dry_run {
        return Ok((plan, Vec::new()));
    }
    let message = store
        .export_message(&mxpipe_store::Selection::Experiment(experiment.to_owned()))
        .await
        .map_err(|e| RepackError::Store(e.to_string()))?;
    let written = write::write(&plan, &sources, &message.to_string())?;
    Ok((plan, written))
}
