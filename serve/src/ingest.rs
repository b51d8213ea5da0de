//! The ingest routes: `POST /v1/messages` and `POST /v1/files` run the same pipeline as `mxpipe
//! ingest` (on a blocking thread, through the group committer), answer the CLI's summary with
//! server paths replaced and findings capped, and remember answers per `Idempotency-Key`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mxpipe_pipeline::{FileStatus, IngestError, IngestRequest, NoProgress};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::IngestToken;
use crate::{AppState, Shared, tokens};

/// `?format=` and `?name=` of `POST /v1/files`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FileParams {
    /// Reader to use (`mxpipe formats`); detected from the content when absent.
    format: Option<String>,
    /// The file's name (its extension helps detection), e.g. `autoPROC.xml`.
    name: Option<String>,
}

/// Store one MXLIMS message (JSON). 201: something was stored; 200: all of it was already
/// there; 422: invalid (the findings), nothing stored.
#[utoipa::path(post, path = "/v1/messages", request_body(content = crate::api::MxlimsMessage, content_type = "application/json", description = "an MXLIMS message"),
    responses(crate::api::IngestAnswers),
    security(("bearer" = [])))]
pub(crate) async fn post_message(
    State(s): State<Shared>,
    IngestToken(token): IngestToken,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_once(
        &s,
        &token,
        &headers,
        ingest_bytes(
            s.clone(),
            body,
            "message.json".into(),
            Some("mxlims".into()),
        ),
    )
    .await
}

/// With an `Idempotency-Key` header, a retried request gets the first request's answer (per
/// token; see [`idempotency`] for what is remembered and how long).
async fn answer_once(
    s: &AppState,
    token: &tokens::TokenRecord,
    headers: &HeaderMap,
    work: impl std::future::Future<Output = (StatusCode, Value)>,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| (token.id.clone(), k.to_owned()));
    if let Some(k) = &key {
        let cached = s.answered.lock().expect("idempotency lock").get(k);
        if let Some((status, v)) = cached {
            return (status, Json(v)).into_response();
        }
    }
    let (status, v) = work.await;
    if let Some(k) = key {
        s.answered
            .lock()
            .expect("idempotency lock")
            .put(k, status, &v);
    }
    (status, Json(v)).into_response()
}

/// Store one collection or processing file (any format a reader accepts, detected as on the
/// command line unless `format` names one). Answers as `POST /v1/messages`.
#[utoipa::path(post, path = "/v1/files", params(FileParams), request_body(content = crate::api::Bytes, content_type = "application/octet-stream"),
    responses(crate::api::IngestAnswers),
    security(("bearer" = [])))]
pub(crate) async fn post_file(
    State(s): State<Shared>,
    IngestToken(token): IngestToken,
    headers: HeaderMap,
    Query(p): Query<FileParams>,
    body: Bytes,
) -> Response {
    // The file's name as a plain file name: no folders, no control characters, not hidden.
    let name = p
        .name
        .as_deref()
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .filter(|n| !n.is_empty() && !n.starts_with('.') && !n.chars().any(char::is_control))
        .filter(|n| n.len() <= 255)
        .unwrap_or("upload")
        .to_owned();
    answer_once(
        &s,
        &token,
        &headers,
        ingest_bytes(s.clone(), body, name, p.format.clone()),
    )
    .await
}

/// Findings listed per file in an ingest answer at most (then "and K more").
const MAX_PROBLEMS_SHOWN: usize = 100;

/// Ingest one posted body on a blocking thread (reading and validating are CPU work; the
/// request's timeout must still answer), the answer naming the file as posted.
async fn ingest_bytes(
    s: Shared,
    body: Bytes,
    name: String,
    format: Option<String>,
) -> (StatusCode, Value) {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        runtime.block_on(ingest_bytes_now(&s, &body, &name, format))
    })
    .await
    .unwrap_or_else(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "the ingest stopped unexpectedly (logged); nothing was committed unless a retry says so"}),
        )
    })
}

async fn ingest_bytes_now(
    s: &AppState,
    body: &[u8],
    name: &str,
    format: Option<String>,
) -> (StatusCode, Value) {
    let fail = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot stage an upload");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the server cannot stage the upload (disk full or not writable; logged): retry later"}),
        )
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, body) {
        return fail(e);
    }
    let request = IngestRequest {
        paths: vec![path.clone()],
        format,
        keep_going: false,
        strict: true,
        follow: false,
        session: None,
        read: Default::default(),
        store_dir: None,
        command: Some(format!("mxpipe serve: POST {name}")),
    };
    let tmp = path.to_string_lossy().into_owned();
    // The upload's temporary path is nobody's business: name the file as posted (also where a
    // message quotes it escaped, or only its folder). Findings beyond a hundred are counted.
    let dir_text = dir.path().to_string_lossy().into_owned();
    let public = |mut v: Value| -> Value {
        if let Some(files) = v.get_mut("files").and_then(Value::as_array_mut) {
            for f in files {
                let more = f["problems"]
                    .as_array()
                    .map_or(0, |p| p.len().saturating_sub(MAX_PROBLEMS_SHOWN));
                if more > 0 {
                    if let Some(p) = f["problems"].as_array_mut() {
                        p.truncate(MAX_PROBLEMS_SHOWN);
                    }
                    let detail = f["detail"].as_str().unwrap_or_default().to_owned();
                    f["detail"] = json!(format!(
                        "{detail} (the first {MAX_PROBLEMS_SHOWN} findings are listed, and {more} more)"
                    ));
                }
            }
        }
        let text = v.to_string();
        let escaped = serde_json::to_string(&tmp).unwrap_or_default();
        let text = text
            .replace(escaped.trim_matches('"'), name)
            .replace(&tmp, name)
            .replace(&dir_text, ".");
        serde_json::from_str(&text).unwrap_or(v)
    };
    let result = mxpipe_pipeline::ingest_with(&s.store, &s.committer, &request, &NoProgress).await;
    let (status, out) = match result {
        Ok(summary) => {
            {
                let mut m = s.ingests.lock().expect("metrics lock");
                m[0] += summary.new as u64;
                m[1] += summary.changed as u64;
                m[2] += summary.unchanged as u64;
            }
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
        Err(e @ IngestError::Store(_)) => {
            tracing::error!(error = %e, "store commit refused");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the store refused the commit (nothing was committed; the reason is in the server's log): retry — a re-post stores nothing twice"}),
            )
        }
    };
    (status, public(out))
}
