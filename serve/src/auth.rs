//! Bearer-token authorization as axum extractors: a handler that takes [`ReadToken`] or
//! [`IngestToken`] runs only for a known, unexpired, unrevoked token of that scope within its
//! rate (401, 403 or 429 otherwise), before its body is read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::tokens::{self, Scope, Tokens};
use crate::{AppState, Shared, error};

/// A refused request: status, message, and for 429 the seconds to wait (`Retry-After`).
pub(crate) struct Denied(StatusCode, String, Option<u64>);

impl Denied {
    /// The status (401, 403, 429, 500).
    pub(crate) fn status(&self) -> StatusCode {
        self.0
    }
    /// What is wrong.
    pub(crate) fn message(&self) -> &str {
        &self.1
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let mut r = error(self.0, self.1);
        if let Some(s) = self.2 {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        r
    }
}

impl AppState {
    /// The caller's token record, if it allows `scope` (401 / 403 otherwise).
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<tokens::TokenRecord, Denied> {
        self.authorize_secret(bearer(headers), scope)
    }

    /// The record of a token secret, if it allows `scope` (401 / 403 / 429 otherwise).
    pub(crate) fn authorize_secret(
        &self,
        secret: Option<&str>,
        scope: Scope,
    ) -> Result<tokens::TokenRecord, Denied> {
        let mut guard = self.tokens.lock().expect("token lock");
        // Reload when the file changed (a revoke takes effect at once).
        let mtime = std::fs::metadata(&self.config.tokens_file)
            .and_then(|m| m.modified())
            .ok();
        if mtime != guard.1 {
            match Tokens::load(&self.config.tokens_file) {
                Ok(t) => *guard = (t, mtime),
                Err(e) => return Err(Denied(StatusCode::INTERNAL_SERVER_ERROR, e, None)),
            }
        }
        let record = guard
            .0
            .check(secret, &self.store_id)
            .map_err(|r| Denied(StatusCode::UNAUTHORIZED, r.to_string(), None))?
            .clone();
        if !record.scope.allows(scope) {
            return Err(Denied(
                StatusCode::FORBIDDEN,
                format!(
                    "this token's scope is {:?}; this route needs {scope:?}",
                    record.scope
                ),
                None,
            ));
        }
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&record.id)
        {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Denied(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this token sends more than {} requests/s: retry in {seconds} s",
                    self.config.rate_per_second
                ),
                Some(seconds.max(1)),
            ));
        }
        Ok(record)
    }
}

/// The bearer token of the `Authorization` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Name of the cookie the web view's login sets (the token itself; `HttpOnly`,
/// `SameSite=Strict`, `Secure` under TLS).
pub(crate) const COOKIE: &str = "mxpipe_token";

/// The token of the login cookie, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The caller's token, checked for the `read` scope: the bearer header, or for `GET` requests
/// (never a state change) the web view's login cookie.
pub(crate) struct ReadToken(pub tokens::TokenRecord);

/// The caller's token, checked for the `ingest` scope.
pub(crate) struct IngestToken(pub tokens::TokenRecord);

impl FromRequestParts<Shared> for ReadToken {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Denied> {
        let secret = bearer(&parts.headers).or_else(|| {
            (parts.method == axum::http::Method::GET)
                .then(|| cookie_token(&parts.headers))
                .flatten()
        });
        s.authorize_secret(secret, Scope::Read).map(ReadToken)
    }
}

impl FromRequestParts<Shared> for IngestToken {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Denied> {
        s.authorize(&parts.headers, Scope::Ingest).map(IngestToken)
    }
}
