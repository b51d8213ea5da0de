//! Export to a target: each catalogue built from the configuration and its secrets (files or the
//! environment, never logged), then driven through the one export seam
//! ([`mxpipe_export::driver`]). The CLI shows progress and prints the [`Exported`] outcome.

pub(crate) mod catalogues;
pub(crate) mod files;

pub use catalogues::{IcatForm, IcatTarget, IspybTarget, ScicatTarget, icat, ispyb, scicat};
pub use files::{autoproc_xml, mmcif, mxlims, mxlims_selection};

use mxpipe_export::Filter;
use mxpipe_export::driver::Outcome;

/// What every catalogue export is asked, whatever the target.
#[derive(Debug, Clone, Default)]
pub struct ExportJob {
    /// Which experiments.
    pub filter: Filter,
    /// Count, show or roll back; write nothing.
    pub dry_run: bool,
    /// The command line, recorded with the export run.
    pub command: String,
}

/// A catalogue export's result.
#[derive(Debug)]
pub struct Exported {
    /// Per kind of record: created/inserted, updated, unchanged; the dry run's log; failures.
    pub outcome: Outcome,
    /// The target and the time taken, for the closing line (`to ISPyB … in 1.20 s`).
    pub target: String,
    /// The summary's column names: what is counted (ISPyB: tables and rows; the other
    /// catalogues: entities), then created, updated, unchanged.
    pub headers: [&'static str; 4],
}

/// Summary columns of the catalogues that count entities.
pub(crate) const ENTITY_HEADERS: [&str; 4] = ["entity", "created", "updated", "unchanged"];

/// Read a secret file (a password, a token): trimmed of its final newline; the error names the
/// flag and the file.
pub(crate) fn secret(flag: &str, file: &std::path::Path) -> crate::AppResult<String> {
    crate::config::read_secret(file)
        .map_err(|e| crate::AppError::Usage(format!("{flag} {}: {e}", file.display())))
}
