//! Time travel: a session that answers as the stores were at an earlier moment. Every row of a
//! store carries the run that wrote it, and a run is visible from the moment its `ingests` row
//! is committed (`committed_at`); the views take the latest committed version of each object.
//! So "as of T" is the same views over the runs committed at or before T: nothing is rewritten,
//! every earlier state stays answerable (until `store vacuum` deletes the files of old table
//! versions that `store optimize` compacted; compaction keeps every row).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use datafusion::prelude::SessionContext;

use crate::QueryError;

/// Which state of the stores a session shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AsOf {
    /// The latest committed state.
    #[default]
    Now,
    /// As the stores were at this moment (runs committed at or before it).
    Time(DateTime<Utc>),
    /// As the stores were right after this ingest run committed (by its id).
    Ingest(String),
}

/// What an `as_of` text may look like (the OpenAPI pattern of the server's `as_of` too): an
/// ingest id (uuid), an RFC 3339 time, or a date.
pub const PATTERN: &str = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)$";

/// Why an `as_of` text names no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsOfError {
    /// Not of the shape [`PATTERN`] describes.
    #[error(
        "{0:?}: expected an ingest id (a uuid), an RFC 3339 time such as 2026-03-01T12:00:00Z, or a date YYYY-MM-DD"
    )]
    Malformed(String),
    /// Of the right shape, but no such time or date (`2026-13-45`).
    #[error("{0:?} is no time or date (month 01-12, day of that month, hour 00-23, …)")]
    NoSuchMoment(String),
}

impl AsOf {
    /// `--as-of` text: an ingest id (a uuid, from `mxpipe query "SELECT * FROM ingests"`), an
    /// RFC 3339 time (`2026-03-01T12:00:00Z`) or a date (the end of that day, UTC).
    pub fn parse(text: &str) -> Result<AsOf, AsOfError> {
        static SHAPE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(PATTERN).expect("pattern"));
        if !SHAPE.is_match(text) {
            return Err(AsOfError::Malformed(text.to_owned()));
        }
        if let Ok(u) = uuid::Uuid::parse_str(text) {
            return Ok(AsOf::Ingest(u.hyphenated().to_string()));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::Time(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let end = d
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .expect("valid time");
            return Ok(AsOf::Time(end.and_utc()));
        }
        Err(AsOfError::NoSuchMoment(text.to_owned()))
    }
}

/// The moment `as_of` names over the opened sites (`site_<i>.ingests`): `None` for now; for an
/// ingest id, its commit time (an id no site holds is an error).
pub(crate) async fn moment(
    ctx: &SessionContext,
    opened: &[usize],
    as_of: &AsOf,
) -> Result<Option<DateTime<Utc>>, QueryError> {
    let id = match as_of {
        AsOf::Now => return Ok(None),
        AsOf::Time(t) => return Ok(Some(*t)),
        AsOf::Ingest(id) => id,
    };
    let mut found: Option<DateTime<Utc>> = None;
    for i in opened {
        let sql = format!("SELECT max(committed_at) FROM site_{i}.ingests WHERE ingest_id = $1");
        let param = datafusion::scalar::ScalarValue::Utf8(Some(id.clone()));
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(vec![param])?
            .collect()
            .await?;
        for row in crate::as_text(&batches)?.into_iter().flatten().flatten() {
            if let Ok(t) = DateTime::parse_from_rfc3339(&row) {
                found = found.max(Some(t.with_timezone(&Utc)));
            }
        }
    }
    found.map(Some).ok_or_else(|| QueryError::AsOf(format!(
        "no committed ingest {id} in these sites (`mxpipe query \"SELECT ingest_id, committed_at FROM ingests\"` lists them)"
    )))
}

/// The relation of site `i`'s committed runs as of `at` (all of them when `None`).
pub(crate) fn ingests_of(i: usize, at: Option<DateTime<Utc>>) -> String {
    use chrono::Datelike;
    // The engine compares times in nanoseconds (years 1678 to 2261): beyond them, everything
    // or nothing was committed.
    match at {
        None => format!("site_{i}.ingests"),
        Some(t) if t.year() > 2261 => format!("site_{i}.ingests"),
        Some(t) if t.year() < 1678 => format!("(SELECT * FROM site_{i}.ingests WHERE false)"),
        Some(t) => format!(
            "(SELECT * FROM site_{i}.ingests WHERE committed_at <= '{}')",
            t.to_rfc3339_opts(SecondsFormat::Micros, true)
        ),
    }
}
