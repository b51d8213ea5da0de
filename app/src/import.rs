//! Import from legacy catalogues (`mxpipe import ispyb`): the database URL and secret resolved
//! with the same rules as `export ispyb` (`[ispyb]` settings, the password from a file or
//! `$MXPIPE_ISPYB_PASSWORD`, never the URL), then [`mxpipe_import::ispyb::import`].

use std::path::PathBuf;

use mxpipe_import::ispyb::{self, Options, Progress, Report};
use mxpipe_store::Store;

use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::export::catalogues::ISPYB_PASSWORD_ENV;

/// What to import from an ISPyB database.
#[derive(Debug, Clone, Default)]
pub struct IspybImport {
    /// `mysql://USER@HOST:PORT/DATABASE` (else `[ispyb] url`).
    pub db: Option<String>,
    /// The password's file (else `[ispyb] password_file`, else `$MXPIPE_ISPYB_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// Only these visits.
    pub sessions: Vec<String>,
    /// Only these proposals.
    pub proposals: Vec<String>,
    /// Only groups collected on or after this day (`YYYY-MM-DD`).
    pub since: Option<String>,
    /// Commit nothing.
    pub dry_run: bool,
    /// Groups per store run.
    pub batch_groups: usize,
    /// The command line recorded with each run.
    pub command: String,
}

/// Import from ISPyB into `store` (`None` for a dry run: nothing is opened or written).
pub async fn ispyb(
    ctx: &Context,
    store: Option<&Store>,
    job: IspybImport,
    progress: &dyn Progress,
    warn: &dyn Fn(&str),
) -> AppResult<Report> {
    let config = &ctx.config.ispyb;
    let url = job.db.or(config.url.clone()).ok_or_else(|| {
        AppError::usage("no database: pass --db mysql://USER@HOST:PORT/DATABASE or set [ispyb] url in the configuration")
    })?;
    let settings = crate::export::files::ispyb_settings(ctx)?;
    let password = match job.password_file.or(config.password_file.clone()) {
        Some(f) => Some(crate::export::secret("--password-file", &f)?),
        None => std::env::var(ISPYB_PASSWORD_ENV).ok(),
    };
    if config.timezone.is_none() && ctx.config.timezone.is_none() {
        warn("timezone is not set in the configuration; ISPyB times are read as UTC");
    }
    if config.facility.is_none() {
        warn(
            "[ispyb] facility is not set; imported uuids are derived from the database's host and name",
        );
    }
    let since = match job.since.as_deref() {
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| {
                AppError::usage(format!(
                    "--since {d:?}: {e}; expected a day such as 2016-01-31"
                ))
            })?,
        ),
        None => None,
    };
    let options = Options {
        sessions: job.sessions,
        proposals: job.proposals,
        since,
        dry_run: job.dry_run,
        batch_groups: job.batch_groups,
        command: job.command,
        timezone: Some(settings.timezone),
        pixel_size_mm: settings.pixel_size_mm,
        facility: config.facility.clone(),
    };
    ispyb::import(store, &url, password.as_deref(), &options, progress)
        .await
        .map_err(|e| match e {
            mxpipe_import::ispyb::ImportError::Config(m) => AppError::Usage(m),
            other => AppError::failed(other),
        })
}
