//! The shapes of the service's answers, for the OpenAPI document (utoipa schemas), and the rule
//! that every error answer is JSON `{"error": "…"}` — also the ones axum writes itself (body too
//! large, a query string or JSON body that does not parse).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mxpipe_pipeline::IngestSummary;
use serde::Serialize;

/// An error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// What is wrong and what to do.
    pub error: String,
}

/// The answer of an ingest that stored nothing because the input is invalid or not a format
/// mxpipe reads: the summary so far (per file: place, expected, found) and, when a file
/// stopped the run, why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IngestRejection {
    #[serde(flatten)]
    summary: IngestSummary,
    /// The failure that stopped the run, naming the file.
    error: Option<String>,
}

/// The answers of the two ingest routes (`POST /v1/messages`, `POST /v1/files`), for the
/// OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its OpenAPI description is used
pub(crate) enum IngestAnswers {
    /// stored: the summary (per file; objects new, changed, unchanged; the ingest id)
    #[response(status = 201)]
    Stored(IngestSummary),
    /// everything was already stored
    #[response(status = 200)]
    AlreadyStored(IngestSummary),
    /// invalid, or not a format mxpipe reads: the findings; nothing stored
    #[response(status = 422)]
    Rejected(IngestRejection),
    /// bad request (an unknown format name)
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// no, unknown, revoked or expired token
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// token without the ingest scope
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// body larger than [serve] max_body_mb
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// rate limit: retry after the seconds in Retry-After
    #[response(status = 429)]
    TooMany(ErrorBody),
    /// the store refused the commit (nothing committed), or the request took longer than
    /// [serve] request_timeout_s (it may have committed); retry: a re-post stores nothing twice
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// One row of a view or query: column name → value (null columns left out).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(value_type = Object)]
pub(crate) struct Row(serde_json::Map<String, serde_json::Value>);

/// One view of `GET /v1/views`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ViewInfo {
    /// Its name (`GET /v1/views/{name}`, or `FROM name` in `/v1/query`).
    pub name: String,
    /// What a row is.
    pub doc: String,
}

/// A row format a link may ask for (`?format=`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its OpenAPI description is used
pub(crate) enum FormatName {
    /// JSON array of objects.
    Json,
    /// CSV with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// A file's bytes (a Parquet answer, an uploaded file).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct Bytes(#[allow(dead_code)] Vec<u8>);

/// An MXLIMS message (JSON), as `mxpipe export mxlims` writes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(value_type = Object)]
pub(crate) struct MxlimsMessage(serde_json::Value);

/// Middleware: a request that takes longer than `limit` answers 503 (its work is dropped; an
/// ingest already handed to the committer still commits, so a retry answers 200).
pub(crate) async fn timeout(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    tokio::time::timeout(limit, next.run(req))
        .await
        .unwrap_or_else(|_| {
            crate::error(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the request took longer than [serve] request_timeout_s; an ingest may still have committed: retry it (a re-post stores nothing twice)",
            )
        })
}

/// Is `path` one of the API's (JSON answers) rather than a page of the web view (HTML)?
pub(crate) fn is_api(path: &str) -> bool {
    path.starts_with("/v1/")
        || path == "/v1"
        || matches!(path, "/healthz" | "/metrics" | "/openapi.json")
}

/// Middleware: an error answer of the API that is not JSON becomes `{"error": <its text>}`; one
/// of a page that is not HTML becomes an error page. HTML and JSON answers pass as they are.
pub(crate) async fn json_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = is_api(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let is_json = content_type.starts_with("application/json");
    let is_html = content_type.starts_with("text/html");
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The answer's text (at most 64 KB), or the status's reason when it has none.
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let error = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text
    };
    if !api {
        return crate::web::page_error(status, &error);
    }
    let body = serde_json::to_vec(&ErrorBody { error }).expect("JSON");
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, body).into_response()
}
