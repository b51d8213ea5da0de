//! # mxpipe-serve
//!
//! `mxpipe serve`: the "slurp" API — mxpipe's readers and store behind an authenticated HTTP
//! service, so beamline software and processing pipelines post what they produce and get the
//! same summary the command line prints, instead of site-specific scripts writing catalogue
//! tables. The OpenAPI document is generated from the handlers (utoipa) and served at
//! `/openapi.json`.
//!
//! Routes so far: `GET /healthz`, `GET /openapi.json`, `POST /v1/messages` (an MXLIMS message),
//! `POST /v1/files` (any file a reader accepts), `GET /v1/ingests` (the commit log),
//! `POST /v1/query` (read-only SQL). Bearer tokens: [`tokens`].

pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mxpipe_ingest::pipeline::{FileStatus, IngestError, IngestRequest, NoProgress};
use mxpipe_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};
use tokens::{Scope, Tokens};
use utoipa::OpenApi;

/// What the service needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Store location (path or URL).
    pub store: String,
    /// Site name written on rows.
    pub site: String,
    /// Object-store options (credentials from the environment).
    pub storage_options: std::collections::HashMap<String, String>,
    /// The token file.
    pub tokens_file: PathBuf,
    /// Largest request body (bytes); larger answers 413.
    pub max_body: usize,
    /// Most rows `/v1/query` answers.
    pub max_rows: usize,
    /// Longest a query may run.
    pub query_timeout: std::time::Duration,
}

struct AppState {
    config: ServeConfig,
    store: Store,
    tokens: std::sync::Mutex<(Tokens, Option<std::time::SystemTime>)>,
}

type Shared = Arc<AppState>;

/// An error answer: status and `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

impl AppState {
    /// The caller's token record, if it allows `scope` (401 / 403 otherwise).
    fn authorize(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<tokens::TokenRecord, (StatusCode, String)> {
        let secret = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let mut guard = self.tokens.lock().expect("token lock");
        // Reload when the file changed (a revoke takes effect at once).
        let mtime = std::fs::metadata(&self.config.tokens_file)
            .and_then(|m| m.modified())
            .ok();
        if mtime != guard.1 {
            match Tokens::load(&self.config.tokens_file) {
                Ok(t) => *guard = (t, mtime),
                Err(e) => return Err((StatusCode::INTERNAL_SERVER_ERROR, e)),
            }
        }
        let record = guard
            .0
            .check(secret)
            .map_err(|r| (StatusCode::UNAUTHORIZED, r.to_string()))?
            .clone();
        if !record.scope.allows(scope) {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "this token's scope is {:?}; this route needs {scope:?}",
                    record.scope
                ),
            ));
        }
        Ok(record)
    }
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the service runs", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The OpenAPI document of this service.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi().to_pretty_json().expect("OpenAPI JSON"),
    )
        .into_response()
}

/// `?format=` and `?name=` of `POST /v1/files`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FileParams {
    /// Reader to use (`mxpipe formats`); detected from the content when absent.
    format: Option<String>,
    /// The file's name (its extension helps detection), e.g. `autoPROC.xml`.
    name: Option<String>,
}

/// Store one MXLIMS message (JSON). 201: something was stored; 200: all of it was already
/// there; 422: invalid (the findings), nothing stored.
#[utoipa::path(post, path = "/v1/messages", request_body(content = String, content_type = "application/json", description = "an MXLIMS message"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"), (status = 422, description = "invalid: nothing stored"),
        (status = 401, description = "no or bad token"), (status = 403, description = "token without ingest scope"), (status = 413, description = "body too large")),
    security(("bearer" = [])))]
async fn post_message(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err((status, m)) = s.authorize(&headers, Scope::Ingest) {
        return error(status, m);
    }
    ingest_bytes(&s, &body, "message.json", Some("mxlims".into())).await
}

/// Store one collection or processing file (any format a reader accepts, detected as on the
/// command line unless `format` names one). Answers as `POST /v1/messages`.
#[utoipa::path(post, path = "/v1/files", params(FileParams), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"), (status = 422, description = "not a supported format, or invalid")),
    security(("bearer" = [])))]
async fn post_file(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(p): Query<FileParams>,
    body: Bytes,
) -> Response {
    if let Err((status, m)) = s.authorize(&headers, Scope::Ingest) {
        return error(status, m);
    }
    let name = p
        .name
        .as_deref()
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .unwrap_or("upload");
    ingest_bytes(&s, &body, name, p.format).await
}

async fn ingest_bytes(s: &AppState, body: &[u8], name: &str, format: Option<String>) -> Response {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, body) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let request = IngestRequest {
        paths: vec![path.clone()],
        format,
        keep_going: false,
        strict: true,
        session: None,
        read: Default::default(),
        store_dir: None,
        command: Some(format!("mxpipe serve: POST {name}")),
    };
    let tmp = path.to_string_lossy().into_owned();
    // The upload's temporary path is nobody's business: name the file as posted.
    let public = |v: Value| -> Value {
        let text = v.to_string().replace(&tmp, name);
        serde_json::from_str(&text).unwrap_or(v)
    };
    let (status, out) = match mxpipe_ingest::pipeline::ingest(&s.store, &request, &NoProgress).await
    {
        Ok(summary) => {
            let status = if summary.count(FileStatus::Failed) > 0
                || summary.count(FileStatus::Skipped) > 0
            {
                StatusCode::UNPROCESSABLE_ENTITY
            } else if summary.committed {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, serde_json::to_value(&summary).expect("JSON"))
        }
        // Invalid or unreadable: the findings (file, place, expected, found), nothing stored.
        Err(IngestError::Stopped { reason, summary }) => {
            let mut v = serde_json::to_value(&*summary).expect("JSON");
            v["error"] = json!(reason);
            (StatusCode::UNPROCESSABLE_ENTITY, v)
        }
        Err(IngestError::Usage(m)) => (StatusCode::BAD_REQUEST, json!({"error": m})),
        Err(e @ IngestError::Store(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": e.to_string()}),
        ),
    };
    let out = public(out);
    (status, Json(out)).into_response()
}

/// `{"sql": "…"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct QueryBody {
    /// One read-only SQL statement over the views (`SHOW TABLES` lists them).
    sql: String,
}

/// Run one read-only SQL statement; rows as a JSON array of objects (as `mxpipe query --format
/// json`). DDL, DML (`INSERT`, `COPY TO`) and statements (`SET`, …) are refused with 400.
#[utoipa::path(post, path = "/v1/query", request_body = QueryBody,
    responses((status = 200, description = "rows"), (status = 400, description = "refused or invalid SQL"), (status = 403, description = "token without read scope"), (status = 504, description = "too slow")),
    security(("bearer" = [])))]
async fn post_query(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(q): Json<QueryBody>,
) -> Response {
    let token = match s.authorize(&headers, Scope::Read) {
        Ok(t) => t,
        Err((status, m)) => return error(status, m),
    };
    if !token.proposals.is_empty() {
        return error(
            StatusCode::FORBIDDEN,
            "tokens limited to proposals cannot run SQL yet (row filtering below SQL is not built): use an unrestricted read token",
        );
    }
    match tokio::time::timeout(s.config.query_timeout, run_query(&s, &q.sql)).await {
        Ok(Ok(rows)) => Json(rows).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the query ran longer than {} s",
                s.config.query_timeout.as_secs()
            ),
        ),
    }
}

async fn run_query(s: &AppState, sql: &str) -> Result<Vec<Value>, String> {
    let site = mxpipe_queries::Site {
        name: s.config.site.clone(),
        location: s.config.store.clone(),
    };
    let (ctx, _) = mxpipe_queries::open_sites(&[site], &s.config.storage_options, false)
        .await
        .map_err(|e| e.to_string())?;
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx
        .sql_with_options(sql, options)
        .await
        .map_err(|e| e.to_string())?
        .limit(0, Some(s.config.max_rows))
        .map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The commit log (`ingests` view), newest first.
#[utoipa::path(get, path = "/v1/ingests", responses((status = 200, description = "one object per committed ingest run")), security(("bearer" = [])))]
async fn get_ingests(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err((status, m)) = s.authorize(&headers, Scope::Read) {
        return error(status, m);
    }
    match run_query(&s, "SELECT * FROM ingests ORDER BY committed_at DESC").await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mxpipe slurp API", description = "Ingest MXLIMS messages and processing/collection files; query the store. Bearer tokens from `mxpipe token new`."),
    paths(healthz, openapi_json, post_message, post_file, post_query, get_ingests),
    components(schemas(QueryBody)),
    modifiers(&Bearer)
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The service's OpenAPI document (JSON).
pub fn openapi_document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("OpenAPI JSON")
}

/// The router of the service over one store.
pub fn router(config: ServeConfig) -> Result<Router, String> {
    let store = Store::open(&config.store, &config.site, config.storage_options.clone())
        .map_err(|e| e.to_string())?;
    let tokens = Tokens::load(&config.tokens_file)?;
    let max_body = config.max_body;
    let state = Arc::new(AppState {
        config,
        store,
        tokens: std::sync::Mutex::new((tokens, None)),
    });
    Ok(Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi_json))
        .route("/v1/messages", post(post_message))
        .route("/v1/files", post(post_file))
        .route("/v1/query", post(post_query))
        .route("/v1/ingests", get(get_ingests))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
            ]),
        )
        .with_state(state))
}

/// Serve until `shutdown` resolves (in-flight requests, ingests included, finish first).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let app = router(config)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| e.to_string())
}
