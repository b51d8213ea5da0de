//! Read routes: experiments as MXLIMS JSON, the views (JSON or CSV by `Accept`), read-only SQL,
//! the commit log. Every one needs a token with the `read` (or `admin`) scope.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::prelude::{SessionContext, col, lit};
use serde::Deserialize;
use serde_json::{Value, json};

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use crate::answer::{RowFormat, rows, rows_json};
use crate::auth::ReadToken;
use crate::{Shared, error};

/// A session over the service's store (the views of `mxpipe query`), opened once per store
/// commit: requests between two commits share it.
pub(crate) async fn session(s: &crate::AppState) -> Result<SessionContext, String> {
    let mut cached = s.read_session.lock().await;
    let stamp = cached.0.stamp().await.map_err(|e| e.to_string())?;
    if let Some((at, ctx)) = cached.1.as_ref()
        && *at == stamp
    {
        return Ok(ctx.clone());
    }
    let site = mxpipe_queries::Site {
        name: s.config.site.clone(),
        location: s.config.store.clone(),
    };
    // A store nothing was committed to yet has empty views (not an error).
    let ctx = mxpipe_queries::open_sites(&[site], &s.config.storage_options, stamp.is_none())
        .await
        .map(|(ctx, _)| ctx)
        .map_err(|e| e.to_string())?;
    // The stamp read before opening: a commit in between only makes the next request reopen.
    cached.1 = Some((stamp, ctx.clone()));
    Ok(ctx)
}

/// What a token limited to proposals sees: each view filtered to rows of its proposals' visits
/// (or linked to them), built in the unrestricted session and registered in a fresh one as a
/// view — the filter is part of every plan that reads it (joins, subqueries, CTEs), below the
/// user's SQL. Raw tables (`store.*`) are not reachable at all; the commit log and the
/// cross-proposal barcode view are empty.
pub(crate) async fn session_for(
    s: &crate::AppState,
    proposals: &[String],
) -> Result<SessionContext, String> {
    let admin = session(s).await?;
    if proposals.is_empty() {
        return Ok(admin);
    }
    let visit = proposals
        .iter()
        .map(|p| {
            let p = p.replace('\'', "''");
            format!("visit = '{p}' OR visit LIKE '{p}-%'")
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let experiments = format!("SELECT experiment_uuid FROM experiments WHERE {visit}");
    let processing = format!("SELECT processing_uuid FROM processing WHERE {visit}");
    let filters: Vec<(&str, String)> = vec![
        ("experiments", format!("WHERE {visit}")),
        ("sweeps", format!("WHERE {visit}")),
        ("processing", format!("WHERE {visit}")),
        ("scans", format!("WHERE experiment_uuid IN ({experiments})")),
        (
            "image_index",
            format!("WHERE experiment_uuid IN ({experiments})"),
        ),
        (
            "reflection_sets",
            format!("WHERE processing_uuid IN ({processing})"),
        ),
        (
            "ssx_frames",
            format!("WHERE processing_uuid IN ({processing})"),
        ),
        (
            "ssx_lattices",
            format!("WHERE processing_uuid IN ({processing})"),
        ),
        (
            "reflection_shells",
            format!("WHERE processing_uuid IN ({processing})"),
        ),
        (
            "processing_inputs",
            format!("WHERE processing_uuid IN ({processing})"),
        ),
        (
            "samples",
            format!(
                "WHERE sample_uuid IN (SELECT sample_uuid FROM experiments WHERE {visit} UNION SELECT sample_uuid FROM processing WHERE {visit})"
            ),
        ),
        (
            "crystals",
            format!(
                "WHERE crystal_uuid IN (SELECT crystal_uuid FROM experiments WHERE {visit} UNION SELECT crystal_uuid FROM processing WHERE {visit})"
            ),
        ),
        (
            "ssx_runs",
            format!("WHERE job_uuid IN ({experiments} UNION {processing})"),
        ),
        ("ingests", "WHERE false".to_owned()),
        ("barcode_reuse", "WHERE false".to_owned()),
    ];
    let user = SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_information_schema(true),
    );
    for v in mxpipe_queries::views::VIEWS
        .iter()
        .filter(|v| !v.name.starts_with("store."))
    {
        // A view without a rule is not shown at all (a new view must say how it is filtered).
        let Some((_, filter)) = filters.iter().find(|(n, _)| *n == v.name) else {
            continue;
        };
        let df = admin
            .sql(&format!("SELECT * FROM {} {filter}", v.name))
            .await
            .map_err(|e| e.to_string())?;
        user.register_table(v.name, df.into_view())
            .map_err(|e| e.to_string())?;
    }
    Ok(user)
}

/// Rows of one read-only SQL statement (DDL, DML, `COPY` and statements refused), over what a
/// token limited to `proposals` may see ([`session_for`]).
pub(crate) async fn run_query(
    s: &crate::AppState,
    sql: &str,
    proposals: &[String],
) -> Result<Rows, String> {
    let ctx = session_for(s, proposals).await?;
    let df = read_only(&ctx, sql)
        .await?
        .limit(0, Some(s.config.max_rows))
        .map_err(|e| e.to_string())?;
    collect(df).await
}

/// One SQL statement planned with DDL, DML (`COPY … TO`, `INSERT`) and statements (`SET`) refused.
pub(crate) async fn read_only(
    ctx: &SessionContext,
    sql: &str,
) -> Result<datafusion::dataframe::DataFrame, String> {
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    ctx.sql_with_options(sql, options)
        .await
        .map_err(|e| e.to_string())
}

/// A result's schema and rows.
pub(crate) type Rows = (Arc<Schema>, Vec<RecordBatch>);

async fn collect(df: datafusion::dataframe::DataFrame) -> Result<Rows, String> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    Ok((schema, df.collect().await.map_err(|e| e.to_string())?))
}

/// `{"sql": "…"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct QueryBody {
    /// One read-only SQL statement over the views (`SHOW TABLES` lists them).
    sql: String,
}

/// Run one read-only SQL statement; rows as a JSON array of objects (as `mxpipe query --format
/// json`). DDL, DML (`INSERT`, `COPY TO`) and statements (`SET`, …) are refused with 400.
#[utoipa::path(post, path = "/v1/query", request_body = QueryBody,
    responses((status = 200, description = "rows (at most [serve] max_rows), in the format asked for by Accept (JSON by default)", content((Vec<crate::api::Row> = "application/json"), (String = "text/csv"), (crate::api::Bytes = "application/vnd.apache.parquet"))),
        (status = 400, description = "refused (DDL, DML, COPY, SET) or invalid SQL", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody),
        (status = 504, description = "ran longer than [serve] query_timeout_s", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn post_query(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    headers: HeaderMap,
    Json(q): Json<QueryBody>,
) -> Response {
    match tokio::time::timeout(
        s.config.query_timeout,
        run_query(&s, &q.sql, &token.proposals),
    )
    .await
    {
        Ok(Ok((schema, batches))) => rows(RowFormat::from_headers(&headers), schema, &batches),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the query ran longer than {} s ([serve] query_timeout_s): narrow it (WHERE, LIMIT) or ask for a longer limit",
                s.config.query_timeout.as_secs()
            ),
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
    match run_query(&s, sql, &token.proposals).await {
        Ok((schema, batches)) => rows(RowFormat::from_headers(&headers), schema, &batches),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// One experiment (or processing job) with everything it links to, as MXLIMS JSON (as
/// `mxpipe export mxlims --experiment UUID`).
#[utoipa::path(get, path = "/v1/experiments/{uuid}", params(("uuid" = String, Path, description = "experiment or processing uuid")),
    responses((status = 200, description = "an MXLIMS message", body = crate::api::MxlimsMessage), (status = 404, description = "no such experiment (or not one of the token's proposals)", body = crate::api::ErrorBody),
        (status = 401, description = "no, unknown, revoked or expired token", body = crate::api::ErrorBody),
        (status = 403, description = "token without the read scope", body = crate::api::ErrorBody),
        (status = 429, description = "rate limit: retry after the seconds in Retry-After", body = crate::api::ErrorBody),
        (status = 503, description = "took longer than [serve] request_timeout_s", body = crate::api::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_experiment(
    State(s): State<Shared>,
    ReadToken(token): ReadToken,
    Path(uuid): Path<String>,
) -> Response {
    match s
        .store
        .export_message(&mxpipe_store::Selection::Experiment(uuid.clone()))
        .await
    {
        Ok(message) => {
            if !token.proposals.is_empty() {
                let visible = message["MxExperiment"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .filter_map(|e| {
                        e["extensions"]["mxpipe.org"]["session"]["proposalCode"].as_str()
                    })
                    .any(|p| token.proposals.iter().any(|t| t == p));
                if !visible {
                    return error(StatusCode::NOT_FOUND, format!("no experiment {uuid}"));
                }
            }
            Json(message).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, format!("no experiment {uuid}: {e}")),
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
    let found = async {
        let ctx = session_for(&s, &token.proposals).await?;
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
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match s
        .store
        .export_message(&mxpipe_store::Selection::Sample(uuid))
        .await
    {
        Ok(message) => Json(message).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, format!("no sample {id}: {e}")),
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
        ("format" = Option<String>, Query, description = "json, csv or parquet: overrides Accept (for links)")),
    responses((status = 200, description = "rows, in the format asked for by Accept (JSON by default)", content((Vec<crate::api::Row> = "application/json"), (String = "text/csv"), (crate::api::Bytes = "application/vnd.apache.parquet"))),
        (status = 400, description = "unknown column, or a value not of the column's type", body = crate::api::ErrorBody),
        (status = 404, description = "no such view", body = crate::api::ErrorBody),
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
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit: expected a whole number"),
    }
    .min(s.config.max_rows);
    let result = async {
        let ctx = session_for(&s, &token.proposals).await?;
        let mut df = ctx.table(name.as_str()).await.map_err(|e| e.to_string())?;
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for (k, v) in params
            .iter()
            .filter(|(k, _)| k.as_str() != "limit" && k.as_str() != "format")
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
