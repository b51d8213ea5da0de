//! Read routes: experiments as MXLIMS JSON, the views (JSON or CSV by `Accept`), read-only SQL,
//! the commit log. Every one needs a token with the `read` (or `admin`) scope.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::prelude::{SessionContext, col, lit};
use mxpipe_queries::as_of::AsOf;
use serde::Deserialize;
use serde_json::{Value, json};

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use crate::answer::{RowFormat, rows, rows_json};
use crate::auth::ReadToken;
use crate::{Shared, error};

/// A session over the service's store (the views of `mxpipe query`), opened once per store
/// commit: requests between two commits share it. Also the commit stamp it was opened at.
///
/// One request at a time looks for a newer commit and opens the session after it; a read that
/// arrives while a session is being opened answers from the last one opened (the store as of a
/// commit or two before) instead of queueing behind the opening — under a steady write load the
/// session was reopened after nearly every commit and reads queued for seconds. A read that
/// arrives when no session is being opened sees every commit made before it. The third value
/// says whether the session is the latest (false: the last one, while a newer is opened).
pub(crate) async fn session_at(
    s: &crate::AppState,
) -> Result<(Option<u64>, SessionContext, bool), String> {
    use std::sync::atomic::Ordering;
    let mut cached = match s.read_session.try_lock() {
        Ok(guard) => guard,
        Err(_) => {
            let last = s
                .opening
                .load(Ordering::Acquire)
                .then(|| s.last_session.lock().expect("last session lock").clone())
                .flatten();
            match last {
                Some((stamp, ctx)) => return Ok((stamp, ctx, false)),
                None => s.read_session.lock().await,
            }
        }
    };
    let stamp = cached.0.stamp().await.map_err(|e| e.to_string())?;
    if let Some((at, ctx)) = cached.1.as_ref()
        && *at == stamp
    {
        return Ok((stamp, ctx.clone(), true));
    }
    let site = mxpipe_queries::Site {
        name: s.config.site.clone(),
        location: s.config.store.clone(),
    };
    // A store nothing was committed to yet has empty views (not an error).
    s.opening.store(true, Ordering::Release);
    let opened = mxpipe_queries::open_sites(&[site], &s.config.storage_options, stamp.is_none())
        .await
        .map(|(ctx, _)| ctx)
        .map_err(|e| e.to_string());
    s.opening.store(false, Ordering::Release);
    let ctx = opened?;
    // The stamp read before opening: a commit in between only makes the next request reopen.
    cached.1 = Some((stamp, ctx.clone()));
    *s.last_session.lock().expect("last session lock") = Some((stamp, ctx.clone()));
    Ok((stamp, ctx, true))
}

/// The unrestricted session (see [`session_at`]).
pub(crate) async fn session(s: &crate::AppState) -> Result<SessionContext, String> {
    session_at(s).await.map(|(_, ctx, _)| ctx)
}

/// Confined sessions kept per set of proposals (the least recently built are dropped first).
const CONFINED_SESSIONS: usize = 64;

/// What a token limited to proposals sees ([`mxpipe_queries::isolation`]): every table filtered
/// inside its scan to rows of the proposals' objects, the views defined over those, and the set
/// of visible objects; `None` for an unlimited token. Built once per commit and proposal set.
pub(crate) async fn scope_for(
    s: &crate::AppState,
    proposals: &[String],
) -> Result<
    (
        SessionContext,
        Option<Arc<std::collections::HashSet<String>>>,
    ),
    String,
> {
    let (stamp, admin, latest) = session_at(s).await?;
    if proposals.is_empty() {
        return Ok((admin, None));
    }
    let key = proposal_key(proposals);
    if let Some((_, at, c)) = s
        .confined
        .lock()
        .expect("confined lock")
        .iter()
        .find(|(k, _, _)| *k == key)
        && *at == stamp
    {
        return Ok((c.ctx.clone(), Some(c.visible.clone())));
    }
    let confined = mxpipe_queries::isolation::confine(&admin, &key)
        .await
        .map_err(|e| crate::limits::public_error(&e, 0).1)?;
    if !latest {
        // Built over the last session while a newer is opened: used once, not kept (keeping it
        // would push out what was built at the newer commit).
        return Ok((confined.ctx, Some(confined.visible)));
    }
    keep(
        &mut s.confined.lock().expect("confined lock"),
        key,
        stamp,
        confined.clone(),
    );
    Ok((confined.ctx, Some(confined.visible)))
}

/// Keep a session confined to `key` at commit `stamp` in `cache`: other commits' entries and the
/// key's older one go, then the least recently built beyond [`CONFINED_SESSIONS`].
pub(crate) fn keep<T>(
    cache: &mut std::collections::VecDeque<(Vec<String>, Option<u64>, T)>,
    key: Vec<String>,
    stamp: Option<u64>,
    value: T,
) {
    cache.retain(|(k, at, _)| *k != key && *at == stamp);
    cache.push_back((key, stamp, value));
    while cache.len() > CONFINED_SESSIONS {
        cache.pop_front();
    }
}

/// An `as_of` parameter: 400 when it is not of the documented shape
/// ([`mxpipe_queries::as_of::PATTERN`]), 404 when it is but names no moment (`2026-13-45`).
fn as_of_param(text: &str) -> Result<AsOf, QueryFailure> {
    use mxpipe_queries::as_of::AsOfError;
    AsOf::parse(text).map_err(|e| match e {
        AsOfError::Malformed(_) => (StatusCode::BAD_REQUEST, format!("as_of {e}")),
        AsOfError::NoSuchMoment(_) => (StatusCode::NOT_FOUND, format!("as_of {e}")),
    })
}

/// A session as the store was at `as_of` (time travel), limited to `proposals` like
/// [`session_for`]; built for the request (past states are not cached). An ingest id the store
/// does not hold is 404.
pub(crate) async fn session_as_of(
    s: &crate::AppState,
    proposals: &[String],
    as_of: &AsOf,
) -> Result<SessionContext, (StatusCode, String)> {
    let site = mxpipe_queries::Site {
        name: s.config.site.clone(),
        location: s.config.store.clone(),
    };
    let admin = mxpipe_queries::open_sites_as_of(&[site], &s.config.storage_options, false, as_of)
        .await
        .map(|(ctx, _)| ctx)
        .map_err(|e| match e {
            e @ mxpipe_queries::QueryError::AsOf(_) => (
                StatusCode::NOT_FOUND,
                e.to_string().replacen("in these sites", "in this store", 1),
            ),
            e => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        })?;
    if proposals.is_empty() {
        return Ok(admin);
    }
    mxpipe_queries::isolation::confine(&admin, &proposal_key(proposals))
        .await
        .map(|c| c.ctx)
        .map_err(|e| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                crate::limits::public_error(&e, 0).1,
            )
        })
}

/// A token's proposals in one order, once each (the confined sessions' key).
pub(crate) fn proposal_key(proposals: &[String]) -> Vec<String> {
    let mut key = proposals.to_vec();
    key.sort();
    key.dedup();
    key
}

/// The session a token limited to `proposals` reads (see [`scope_for`]).
pub(crate) async fn session_for(
    s: &crate::AppState,
    proposals: &[String],
) -> Result<SessionContext, String> {
    scope_for(s, proposals).await.map(|(ctx, _)| ctx)
}

/// A failed query: the status and what the client is told.
pub(crate) type QueryFailure = (StatusCode, String);

/// Rows of one read-only SQL statement (DDL, DML, `COPY` and statements refused), over what a
/// token limited to `proposals` may see ([`scope_for`]), on the query threads under the limits
/// of [`crate::limits`], at most `max_rows` rows; with `as_of`, as the store was then.
pub(crate) async fn run_query(
    s: &crate::AppState,
    sql: &str,
    proposals: &[String],
    as_of: Option<&AsOf>,
) -> Result<Rows, QueryFailure> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    crate::limits::check_sql(sql).map_err(bad)?;
    let on_cluster = as_of.is_none() && s.config.cluster.lists_files();
    if on_cluster {
        crate::cluster::check_sql(sql).map_err(bad)?;
    }
    let ctx = match as_of {
        None if on_cluster => crate::cluster::session_for(s, proposals)
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))?,
        None => session_for(s, proposals)
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))?,
        Some(a) => session_as_of(s, proposals, a).await?,
    };
    let memory = s.config.query_memory;
    // Set when this request ends in any way: the query's every node stops at its next batch.
    let stop = crate::stop::StopOnDrop(Default::default());
    let ctx = crate::limits::limited(&ctx, memory, stop.0.clone()).map_err(bad)?;
    let _slot = match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.query_slots.acquire(),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "every query slot ([serve] max_queries) is busy: retry in a few seconds".into(),
            ));
        }
    };
    let (sql, max_rows) = (sql.to_owned(), s.config.max_rows);
    let memory_mb = memory / (1024 * 1024);
    let work = async move {
        let df = read_only(&ctx, &sql)
            .await?
            .limit(0, Some(max_rows))
            .map_err(|e| crate::limits::public_error(&e, memory_mb))?;
        collect_bounded(df, memory, memory_mb).await
    };
    s.queries.run(work).await.unwrap_or_else(|| {
        Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the query was stopped".into(),
        ))
    })
}

/// One SQL statement planned with DDL, DML (`COPY … TO`, `INSERT`) and statements (`SET`) refused.
pub(crate) async fn read_only(
    ctx: &SessionContext,
    sql: &str,
) -> Result<datafusion::dataframe::DataFrame, QueryFailure> {
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    ctx.sql_with_options(sql, options)
        .await
        .map_err(|e| crate::limits::public_error(&e, 0))
}

/// A result's schema and rows.
pub(crate) type Rows = (Arc<Schema>, Vec<RecordBatch>);

async fn collect(df: datafusion::dataframe::DataFrame) -> Result<Rows, String> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df
        .collect()
        .await
        .map_err(|e| crate::limits::public_error(&e, 0).1)?;
    Ok((schema, batches))
}

/// The rows of `df`, refused once they hold more than `max_bytes`.
async fn collect_bounded(
    df: datafusion::dataframe::DataFrame,
    max_bytes: usize,
    memory_mb: usize,
) -> Result<Rows, QueryFailure> {
    use futures::StreamExt;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| crate::limits::public_error(&e, memory_mb))?;
    let (mut batches, mut bytes) = (Vec::new(), 0usize);
    while let Some(b) = stream.next().await {
        let b = b.map_err(|e| crate::limits::public_error(&e, memory_mb))?;
        bytes += b.get_array_memory_size();
        if bytes > max_bytes {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "the answer is larger than [serve] query_memory_mb ({memory_mb} MB): select fewer columns or rows"
                ),
            ));
        }
        batches.push(b);
    }
    Ok((schema, batches))
}

/// `{"sql": "…"}`, optionally `"as_of": "…"`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct QueryBody {
    /// One read-only SQL statement over the views (`SHOW TABLES` lists them).
    sql: String,
    /// Answer as the store was then: an ingest id, an RFC 3339 time or a date (end of that day,
    /// UTC).
    #[serde(default)]
    #[schema(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)$"
    )]
    as_of: Option<String>,
}

/// Run one read-only SQL statement; rows as a JSON array of objects (as `mxpipe query --format
/// json`). DDL, DML (`INSERT`, `COPY TO`) and statements (`SET`, …) are refused with 400.
#[utoipa::path(post, path = "/v1/query", request_body = QueryBody,
    responses((status = 200, description = "rows (at most [serve] max_rows), in the format asked for by Accept (JSON by default)", content((Vec<crate::api::Row> = "application/json"), (String = "text/csv"), (crate::api::Bytes = "application/vnd.apache.parquet"))),
        (status = 400, description = "refused (DDL, DML, COPY, SET), invalid SQL, or an as_of of another shape", body = crate::api::ErrorBody),
        (status = 404, description = "an as_of ingest id or moment the store cannot place", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 500, description = "the query failed inside the server (logged)", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s, every query slot busy, or the server is stopping", body = crate::api::ErrorBody),
        (status = 504, description = "ran longer than [serve] query_timeout_s", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn post_query(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Any content type; the body must be `{"sql": "…"}` (400 with the reason otherwise).
    let q: QueryBody = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON {{\"sql\": \"…\"}}: {e}"),
            );
        }
    };
    let as_of = match q.as_of.as_deref().map(as_of_param).transpose() {
        Ok(a) => a,
        Err((status, e)) => return error(status, e),
    };
    let mut stopping = s.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let run = tokio::time::timeout(
        s.config.query_timeout,
        run_query(&s, &q.sql, &token.proposals, as_of.as_ref()),
    );
    tokio::select! {
        answer = run => match answer {
            Ok(Ok((schema, batches))) => rows(RowFormat::from_headers(&headers), schema, &batches),
            Ok(Err((status, e))) => error(status, e),
            // The query's future is dropped here: its task is aborted and its streams stop.
            Err(_) => error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the query ran longer than {} s ([serve] query_timeout_s) and was stopped: narrow it (WHERE, LIMIT) or ask for a longer limit",
                    s.config.query_timeout.as_secs()
                ),
            ),
        },
        _ = stopped => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down: the query was stopped; retry later",
        ),
    }
}

/// The commit log (`ingests` view), newest first.
#[utoipa::path(get, path = "/v1/ingests", responses((status = 200, description = "one row per committed ingest run, newest first", content((Vec<crate::api::Row> = "application/json"), (String = "text/csv"), (crate::api::Bytes = "application/vnd.apache.parquet"))),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_ingests(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    headers: HeaderMap,
) -> Response {
    let sql = "SELECT * FROM ingests ORDER BY committed_at DESC";
    match run_query(&s, sql, &token.proposals, None).await {
        Ok((schema, batches)) => rows(RowFormat::from_headers(&headers), schema, &batches),
        Err((status, e)) => error(status, e),
    }
}

/// One experiment (or processing job) with everything it links to, as MXLIMS JSON (as
/// `mxpipe export mxlims --experiment UUID`).
#[utoipa::path(get, path = "/v1/experiments/{uuid}", params(("uuid" = String, Path, description = "experiment or processing uuid"),
        ("as_of" = Option<String>, Query, pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)$", description = "the experiment as the store held it then: an ingest id, an RFC 3339 time or a date (end of that day, UTC)")),
    responses((status = 200, description = "an MXLIMS message", body = crate::api::MxlimsMessage), (status = 404, description = "no such experiment (or not one of the token's proposals), or none then; or an as_of ingest id or moment the store cannot place", body = crate::api::ErrorBody),
        (status = 400, description = "an as_of of another shape", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_experiment(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    Path(uuid): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let missing = || error(StatusCode::NOT_FOUND, format!("no experiment {uuid}"));
    if uuid::Uuid::parse_str(&uuid).is_err() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no experiment {uuid:?}: not a uuid (GET /v1/views/experiments lists them)"),
        );
    }
    let until = match params.get("as_of").map(|t| as_of_param(t)).transpose() {
        Ok(None | Some(AsOf::Now)) => None,
        Ok(Some(AsOf::Time(t))) => Some(mxpipe_store::Until::Time(t)),
        Ok(Some(AsOf::Ingest(id))) => Some(mxpipe_store::Until::Ingest(id)),
        Err((code, text)) => return error(code, text),
    };
    // A limited token: the object asked for must be one it may see, and the answer is built
    // from such objects only.
    let visible = match scope_for(&s, &token.proposals).await {
        Ok((_, v)) => v,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    if visible.as_ref().is_some_and(|v| !v.contains(&uuid)) {
        return missing();
    }
    match s
        .store
        .export_message_at(
            &mxpipe_store::Selection::Experiment(uuid.clone()),
            visible.as_deref(),
            until.as_ref(),
        )
        .await
    {
        Ok(message) => Json(message).into_response(),
        Err(mxpipe_store::StoreError::Data(text)) if text.starts_with("no committed ingest") => {
            error(StatusCode::NOT_FOUND, format!("as_of: {text}"))
        }
        Err(_) => missing(),
    }
}

/// A sample or crystal by uuid or persistent identifier (URL-encode a PID's `/` as `%2F`), with
/// the jobs that name it, as MXLIMS JSON (as `mxpipe export mxlims --sample`). A token limited
/// to proposals sees only samples of its proposals' experiments.
#[utoipa::path(get, path = "/v1/samples/{id}", params(("id" = String, Path, description = "sample/crystal uuid or persistent identifier")),
    responses((status = 200, description = "an MXLIMS message", body = crate::api::MxlimsMessage), (status = 404, description = "no such sample (or not one of the token's proposals)", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_sample(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    Path(id): Path<String>,
) -> Response {
    // The uuid of a PID, through the views the token may read.
    let mut visible = None;
    let found = async {
        let (ctx, v) = scope_for(&s, &token.proposals).await?;
        visible = v;
        for (view, column) in [("samples", "sample_uuid"), ("crystals", "crystal_uuid")] {
            let df = ctx
                .table(view)
                .await
                .map_err(|e| e.to_string())?
                .filter(
                    col("pid")
                        .eq(lit(id.as_str()))
                        .or(col(column).eq(lit(id.as_str()))),
                )
                .map_err(|e| e.to_string())?
                .select(vec![col(column)])
                .map_err(|e| e.to_string())?;
            let rows = rows_json(&df.collect().await.map_err(|e| e.to_string())?)?;
            if let Some(u) = rows.first().and_then(|r| r[column].as_str()) {
                return Ok(Some(u.to_owned()));
            }
        }
        Ok::<_, String>(None)
    }
    .await;
    let uuid = match found {
        Ok(Some(u)) => u,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no sample {id}")),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    match s
        .store
        .export_message_within(&mxpipe_store::Selection::Sample(uuid), visible.as_deref())
        .await
    {
        Ok(message) => Json(message).into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, format!("no sample {id}")),
    }
}

/// The views a token may read, with what a row is.
#[utoipa::path(get, path = "/v1/views", responses((status = 200, description = "the views", body = Vec<crate::api::ViewInfo>), (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_views(State(_): State<Shared>, _token: ReadToken) -> Response {
    let list: Vec<Value> = mxpipe_queries::views::VIEWS
        .iter()
        .filter(|v| !v.name.starts_with("store."))
        .map(|v| json!({"name": v.name, "doc": v.doc}))
        .collect();
    Json(list).into_response()
}

/// Rows of one view: `?limit=N` (default 1 000, at most `max_rows`) and `?COLUMN=VALUE`
/// equality filters; JSON, or CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/views/{name}", params(("name" = String, Path, description = "a view of GET /v1/views"),
        ("limit" = Option<usize>, Query, description = "rows at most (default 1 000, at most [serve] max_rows)"),
        ("format" = Option<crate::api::FormatName>, Query, description = "json, csv or parquet: overrides Accept (for links)"),
        ("as_of" = Option<String>, Query, pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)$", description = "answer as the store was then: an ingest id, an RFC 3339 time or a date (end of that day, UTC); an id or moment the store cannot place is 404")),
    responses((status = 200, description = "rows, in the format asked for by Accept (JSON by default)", content((Vec<crate::api::Row> = "application/json"), (String = "text/csv"), (crate::api::Bytes = "application/vnd.apache.parquet"))),
        (status = 400, description = "unknown column, a value not of the column's type, or an as_of of another shape", body = crate::api::ErrorBody),
        (status = 404, description = "no such view, or an as_of ingest id or moment the store cannot place", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_view(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let known = mxpipe_queries::views::VIEWS
        .iter()
        .any(|v| v.name == name && !name.starts_with("store."));
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            format!("no view {name:?} (GET /v1/views lists them)"),
        );
    }
    // A whole number past the machine's range is simply more than `max_rows`.
    let whole = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
    let limit = match params.get("limit").map(|l| (l.parse::<usize>(), whole(l))) {
        None => 1000,
        Some((Ok(n), _)) => n,
        Some((Err(_), true)) => usize::MAX,
        Some((Err(_), false)) => {
            return error(StatusCode::BAD_REQUEST, "limit: expected a whole number");
        }
    }
    .min(s.config.max_rows);
    let as_of = match params.get("as_of").map(|t| as_of_param(t)).transpose() {
        Ok(a) => a,
        Err((status, e)) => return error(status, e),
    };
    let ctx = match as_of {
        // As before time travel: a session that cannot be opened is this request's 400.
        None => session_for(&s, &token.proposals)
            .await
            .map_err(|e| (StatusCode::BAD_REQUEST, e)),
        Some(a) => session_as_of(&s, &token.proposals, &a).await,
    };
    let ctx = match ctx {
        Ok(c) => c,
        Err((status, e)) => return error(status, e),
    };
    let result = async {
        let mut df = ctx.table(name.as_str()).await.map_err(|e| e.to_string())?;
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for (k, v) in params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "limit" | "format" | "as_of"))
        {
            if !columns.contains(k) {
                return Err(format!("{name} has no column {k:?}"));
            }
            let column = df
                .schema()
                .field_with_unqualified_name(k)
                .map_err(|e| e.to_string())?
                .data_type()
                .clone();
            let value = datafusion::scalar::ScalarValue::Utf8(Some(v.clone()))
                .cast_to(&column)
                .map_err(|_| format!("{k}: {v:?} is not a {column}"))?;
            df = df
                .filter(col(format!("\"{k}\"").as_str()).eq(lit(value)))
                .map_err(|e| e.to_string())?;
        }
        collect(df.limit(0, Some(limit)).map_err(|e| e.to_string())?).await
    }
    .await;
    // `?format=csv|json|parquet` (a link a browser can follow) wins over `Accept`.
    let format = match params.get("format").map(String::as_str) {
        None => RowFormat::from_headers(&headers),
        Some(f) => match RowFormat::named(f) {
            Some(f) => f,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("format {f:?}: expected json, csv or parquet"),
                );
            }
        },
    };
    match result {
        Ok((schema, batches)) => rows(format, schema, &batches),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
