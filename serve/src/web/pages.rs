//! The list pages (sessions; experiments with filters and paging) and what every page uses:
//! queries run in the viewer's session ([`crate::read::session_for`]), so proposal limits
//! hold here as in the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use serde_json::Value;

use super::{Cell, Table, Viewer, encode, page_error, show};
use crate::Shared;

/// Batches as JSON rows (column names as keys).
pub(super) fn json(
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<Vec<Value>, String> {
    crate::answer::rows_json(batches)
}

/// A lookup's rows as JSON, its error as the public message.
pub(super) fn public(
    batches: datafusion::error::Result<Vec<datafusion::arrow::array::RecordBatch>>,
) -> Result<Vec<Value>, String> {
    json(&batches.map_err(|e| crate::limits::public_error(&e, 0).1)?)
}

pub(super) async fn viewer_session(
    s: &Shared,
    viewer: &Viewer,
) -> Result<SessionContext, Response> {
    crate::read::session_for(s, &viewer.0.proposals)
        .await
        .map_err(|e| page_error(StatusCode::SERVICE_UNAVAILABLE, &e))
}

/// The viewer's session for a page about one object, `uuid` checked first (not a uuid: 404).
pub(super) async fn object_session(
    s: &Shared,
    viewer: &Viewer,
    uuid: &str,
    what: &str,
) -> Result<SessionContext, Response> {
    if uuid::Uuid::parse_str(uuid).is_err() {
        return Err(page_error(
            StatusCode::NOT_FOUND,
            &format!("{uuid:?} is not {what} uuid"),
        ));
    }
    viewer_session(s, viewer).await
}

pub(super) fn failed(e: String) -> Response {
    page_error(StatusCode::INTERNAL_SERVER_ERROR, &e)
}

#[derive(Template, WebTemplate)]
#[template(path = "list.html")]
struct ListPage {
    title: String,
    filters: Option<ListQuery>,
    table: Table,
    previous: Option<String>,
    next: Option<String>,
    data: String,
}

/// The list's filter from the form (a date that is not YYYY-MM-DD is refused).
fn list_filter(q: &ListQuery) -> Result<mxpipe_queries::lookups::ExperimentFilter, String> {
    let text = |v: &str| Some(v.trim().to_owned()).filter(|t| !t.is_empty());
    let date_shape = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("regex");
    let date = |v: &str| -> Result<Option<chrono::NaiveDate>, String> {
        let Some(v) = text(v) else { return Ok(None) };
        let bad = || format!("date {v:?}: expected a calendar date YYYY-MM-DD");
        if !date_shape.is_match(&v) {
            return Err(bad());
        }
        chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| bad())
    };
    Ok(mxpipe_queries::lookups::ExperimentFilter {
        proposal: text(&q.proposal),
        beamline: text(&q.beamline),
        from: date(&q.from)?,
        to: date(&q.to)?,
        sample: text(&q.sample),
        after: match text(&q.after) {
            None => None,
            Some(a) => Some(mxpipe_queries::lookups::ListAnchor::parse(&a).ok_or_else(|| {
                format!("after {a:?}: expected START_MICROSECONDS,EXPERIMENT_UUID (the list's next-page link)")
            })?),
        },
    })
}

/// `/sessions`: every visit with its beamline, experiment count and dates.
pub(crate) async fn sessions(State(s): State<Shared>, viewer: Viewer) -> Response {
    let ctx = match viewer_session(&s, &viewer).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found = match public(mxpipe_queries::lookups::sessions(&ctx).await) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let mut table = Table::new(
        "sessions",
        &["Visit", "Beamline", "Site", "Experiments", "First", "Last"],
    );
    for r in &found {
        let visit = show(&r["visit"]);
        table.rows.push(vec![
            Cell::link(
                if visit.is_empty() {
                    "(none)".into()
                } else {
                    visit.clone()
                },
                format!("/experiments?proposal={}", encode(&visit)),
            ),
            Cell::of(&r["beamline"]),
            Cell::of(&r["site"]),
            Cell::of(&r["experiments"]),
            Cell::of(&r["first_start"]),
            Cell::of(&r["last_start"]),
        ]);
    }
    ListPage {
        title: "Sessions".into(),
        filters: None,
        table,
        previous: None,
        next: None,
        data: "/v1/views/experiments?limit=1000".into(),
    }
    .into_response()
}

/// Filters of the experiments list.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    proposal: String,
    #[serde(default)]
    beamline: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sample: String,
    #[serde(default)]
    page: usize,
    /// Keyset paging: continue after this row (`START_US,UUID`); `page` then only numbers it.
    #[serde(default)]
    after: String,
}

/// Experiments per page.
const PAGE: usize = 50;

/// `/experiments`: newest first, filtered by proposal/visit, beamline, dates and sample name.
pub(crate) async fn experiments(
    State(s): State<Shared>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    let ctx = match viewer_session(&s, &viewer).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // The page number must keep the offset a number the engine takes.
    if q.page > 1_000_000 {
        return page_error(
            StatusCode::BAD_REQUEST,
            &format!("page {}: expected a page number up to 1000000", q.page),
        );
    }
    let filter = match list_filter(&q) {
        Ok(f) => f,
        Err(e) => return page_error(StatusCode::BAD_REQUEST, &e),
    };
    // With an anchor the store continues after it (keyset); without, from the page's offset.
    let offset = if filter.after.is_some() {
        0
    } else {
        q.page * PAGE
    };
    let page = mxpipe_queries::lookups::experiment_list(&ctx, &filter, offset, PAGE + 1).await;
    let mut found = match public(page) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let more = found.len() > PAGE;
    found.truncate(PAGE);
    let mut table = Table::new(
        "experiments",
        &[
            "Start", "Visit", "Beamline", "Sample", "Strategy", "Sweeps", "Status", "Site",
        ],
    );
    for r in &found {
        let uuid = show(&r["experiment_uuid"]);
        let start = show(&r["start_time"]);
        table.rows.push(vec![
            Cell::link(
                if start.is_empty() {
                    uuid.clone()
                } else {
                    start
                },
                format!("/experiments/{uuid}"),
            ),
            Cell::of(&r["visit"]),
            Cell::of(&r["beamline"]),
            Cell::of(&r["sample_name"]),
            Cell::of(&r["experiment_strategy"]),
            Cell::of(&r["number_sweeps"]),
            Cell::of(&r["job_status"]),
            Cell::of(&r["site"]),
        ]);
    }
    let query = |page: usize| {
        format!(
            "/experiments?proposal={}&beamline={}&from={}&to={}&sample={}&page={page}",
            encode(&q.proposal),
            encode(&q.beamline),
            encode(&q.from),
            encode(&q.to),
            encode(&q.sample)
        )
    };
    // The next page continues after the last row shown (keyset paging).
    let next_after = found.last().map(|r| {
        let start = r["start_us"]
            .as_i64()
            .map(|t| t.to_string())
            .unwrap_or_default();
        format!(
            "&after={}",
            encode(&format!("{start},{}", show(&r["experiment_uuid"])))
        )
    });
    let data = if q.proposal.trim().is_empty() {
        "/v1/views/experiments?limit=1000".to_owned()
    } else {
        format!("/v1/views/experiments?visit={}", encode(q.proposal.trim()))
    };
    ListPage {
        title: "Experiments".into(),
        table,
        previous: (q.page > 0).then(|| query(q.page - 1)),
        next: more.then(|| query(q.page + 1) + next_after.as_deref().unwrap_or_default()),
        filters: Some(q),
        data,
    }
    .into_response()
}
