//! The web view: server-rendered HTML pages (askama templates in `serve/templates/`, SVG drawn
//! on the server — nothing is loaded from the internet, nothing needs JavaScript) over the same
//! views and tokens as the API. A browser signs in once with a read token (`/login`), kept in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` under TLS); the cookie is accepted only on
//! `GET`, so every state change stays on the bearer-token API. A token limited to proposals sees
//! only their experiments (the pages read the token's filtered views): another proposal's page
//! is 404.

mod experiment;
mod figures;
mod landing;
mod pages;
mod processing;
mod svg;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use crate::Shared;
use crate::auth::{COOKIE, bearer, cookie_token};
use crate::tokens::{Scope, TokenRecord};

/// The pages.
pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/experiments") }))
        .route(
            "/login",
            get(login_form)
                .post(login)
                // A token and a path: a few KB at most, whatever [serve] max_body_mb allows.
                .layer(axum::extract::DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/logout", axum::routing::post(logout))
        .route("/sessions", get(pages::sessions))
        .route("/experiments", get(pages::experiments))
        .route("/experiments/{uuid}", get(experiment::experiment))
        .route("/processing/{uuid}", get(processing::processing))
        .route("/ssx/{uuid}", get(figures::ssx))
        .route("/sites", get(figures::sites))
        .route("/pid/{*id}", get(landing::landing))
}

/// Largest `POST /login` body (the form is anonymous: a large body is refused before it is read).
const LOGIN_BODY_BYTES: usize = 8 * 1024;

/// The reader of a page: a read token from the bearer header or the login cookie. Without
/// one, a browser is sent to `/login` (and back after).
pub(crate) struct Viewer(pub TokenRecord);

impl FromRequestParts<Shared> for Viewer {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Response> {
        let secret = bearer(&parts.headers).or_else(|| cookie_token(&parts.headers));
        if secret.is_none() {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            return Err(Redirect::to(&format!("/login?next={}", encode(next))).into_response());
        }
        s.authorize_secret(secret, Scope::Read)
            .map(Viewer)
            .map_err(|d| {
                let status = d.status();
                page_error(status, d.message())
            })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

/// An error page with `status`.
pub(crate) fn page_error(status: StatusCode, message: &str) -> Response {
    let heading = status.canonical_reason().unwrap_or("Error");
    (status, ErrorPage { heading, message }).into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    message: Option<String>,
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

async fn login_form(axum::extract::Query(q): axum::extract::Query<NextParam>) -> Response {
    LoginPage {
        next: safe_next(q.next.as_deref()),
        message: None,
    }
    .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(s): State<Shared>, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    match s.authorize_secret(Some(f.token.trim()), Scope::Read) {
        Ok(_) => {
            let secure = if s.config.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                f.token.trim()
            );
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(d) => (
            d.status(),
            LoginPage {
                next,
                message: Some(d.message().to_owned()),
            },
        )
            .into_response(),
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("mxpipe_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// Only a local path may follow a login (no open redirect). The text is read as a browser
/// would — tabs and newlines dropped, leading and trailing spaces and controls trimmed — and then
/// must be printable ASCII, start with one `/` and hold no backslash (which browsers read as `/`,
/// so `/` + backslash + `evil` is `//evil`); anything else goes to `/`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else {
        return "/".to_owned();
    };
    let cleaned: String = n
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c.is_ascii_control() || c == ' ');
    let printable = cleaned.chars().all(|c| c.is_ascii_graphic());
    let mut chars = cleaned.chars();
    let local = chars.next() == Some('/') && !matches!(chars.next(), Some('/' | '\\'));
    if printable && local && !cleaned.contains('\\') {
        cleaned.to_owned()
    } else {
        "/".to_owned()
    }
}

/// Percent-encode a query value.
pub(crate) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A table cell.
pub(crate) struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub num: bool,
}

impl Cell {
    /// A value as text (numbers trimmed, null empty).
    pub fn of(v: &Value) -> Cell {
        Cell {
            num: v.is_number(),
            text: show(v),
            href: None,
        }
    }
    /// Text.
    pub fn text(t: impl Into<String>) -> Cell {
        Cell {
            text: t.into(),
            href: None,
            num: false,
        }
    }
    /// A link (a link needs a name: empty text reads "(none)").
    pub fn link(t: impl Into<String>, href: impl Into<String>) -> Cell {
        let text: String = t.into();
        Cell {
            text: if text.is_empty() {
                "(none)".into()
            } else {
                text
            },
            href: Some(href.into()),
            num: false,
        }
    }
}

/// A table for `table.html`.
pub(crate) struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(caption: &str, headers: &[&str]) -> Table {
        Table {
            caption: caption.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// A value for a person: numbers with at most 4 significant decimals, null as "".
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let s = format!("{f:.4}");
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_follow_a_login() {
        for (next, want) in [
            ("/experiments?page=2", "/experiments?page=2"),
            ("/\t/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("  /x", "/x"),
            ("/\u{1}x", "/"),
            ("/é", "/"),
            ("https://evil.example", "/"),
            ("", "/"),
        ] {
            assert_eq!(safe_next(Some(next)), want, "{next:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
