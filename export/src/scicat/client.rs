//! SciCat's HTTP API as the backend defines it: `POST /api/v3/auth/login` (`{username,
//! password}` → `{access_token, expires_in, …}`) for a functional account, or a pre-issued bearer
//! token (OIDC sites); `Authorization: Bearer …` on every call. The token is renewed before
//! `expires_in` runs out, and a 401 mid-run logs in again once. Credentials are never logged or
//! put in an error.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How the exporter authenticates.
#[derive(Clone)]
pub enum Auth {
    /// A functional account (`POST /api/v3/auth/login`).
    Login {
        /// User name.
        username: String,
        /// Password (from a file or the environment).
        password: String,
    },
    /// A bearer token issued elsewhere (OIDC); cannot be renewed here.
    Token(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Login { username, .. } => write!(f, "Login({username}, password hidden)"),
            Auth::Token(_) => f.write_str("Token(hidden)"),
        }
    }
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Answer {
    /// The backend's message, for errors.
    pub fn message(&self) -> String {
        match &self.body["message"] {
            Value::Null => self.body.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A bearer token, when it was issued and how long it lives.
type Token = (String, Instant, Duration);

/// Whether a token should be renewed (80 % of its life has passed).
fn stale(t: &Token) -> bool {
    t.2 != Duration::MAX && t.1.elapsed() >= t.2.mul_f64(0.8)
}

/// A logged-in connection to one SciCat backend.
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    /// The token, its time and life: shared with this client's forks, so one renewal serves all.
    token: std::sync::Arc<std::sync::Mutex<Option<Token>>>,
    /// Held while logging in: forks that find the token refused wait for one renewal.
    renewing: std::sync::Arc<futures::lock::Mutex<()>>,
    /// Logins so far (the first and every renewal).
    pub logins: usize,
    /// Requests sent.
    pub requests: usize,
}

/// `%`-encode one path segment (a pid holds `/`).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Client {
    /// A client for the backend at `base` (e.g. `https://scicat.example.org`; a trailing `/api`
    /// is accepted). Nothing is sent yet.
    pub fn new(base: &str, auth: Auth) -> Result<Client, String> {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base).to_owned();
        let parsed = url::Url::parse(&base).map_err(|e| format!("--url {base:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "--url {base:?}: expected the backend's http:// or https:// address, e.g. https://scicat.example.org"
            ));
        }
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?,
            base,
            auth,
            token: Default::default(),
            renewing: Default::default(),
            logins: 0,
            requests: 0,
        })
    }

    /// Another client of the same backend for requests beside this one's: the same HTTP
    /// connection pool and the same token (renewed on its own when it ages); counts from zero.
    pub fn fork(&self) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            auth: self.auth.clone(),
            token: self.token.clone(),
            renewing: self.renewing.clone(),
            logins: 0,
            requests: 0,
        }
    }

    /// The backend's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Log in (functional account) or take the bearer token.
    pub async fn login(&mut self) -> Result<(), String> {
        let (username, password) = match &self.auth {
            Auth::Token(t) => {
                *self.token.lock().expect("token lock") =
                    Some((t.clone(), Instant::now(), Duration::MAX));
                return Ok(());
            }
            Auth::Login { username, password } => (username.clone(), password.clone()),
        };
        let url = format!("{}/api/v3/auth/login", self.base);
        let r = self
            .http
            .post(&url)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(|e| format!("SciCat login at {url}: {}", without_url(&e)))?;
        self.requests += 1;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(format!(
                "SciCat login as {username:?} at {url} refused ({status}): check [scicat] username and the password (file or $MXPIPE_SCICAT_PASSWORD)"
            ));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| format!("SciCat login at {url}: no access_token in the answer"))?;
        let life = body["expires_in"].as_f64().unwrap_or(3600.0).max(1.0);
        *self.token.lock().expect("token lock") = Some((
            token.to_owned(),
            Instant::now(),
            Duration::from_secs_f64(life),
        ));
        self.logins += 1;
        Ok(())
    }

    /// The current token (a copy).
    fn current(&self) -> Option<Token> {
        self.token.lock().expect("token lock").clone()
    }

    /// Log in again unless a fork did while this one waited: `refused` is the token that was
    /// refused or aged (`None`: there was none).
    async fn renew(&mut self, refused: Option<String>) -> Result<(), String> {
        let renewing = self.renewing.clone();
        let _one_at_a_time = renewing.lock().await;
        if let Some(t) = self.current()
            && Some(&t.0) != refused.as_ref()
            && !stale(&t)
        {
            return Ok(());
        }
        self.login().await
    }

    /// The token, renewed when 80 % of its life has passed.
    async fn token(&mut self) -> Result<String, String> {
        match self.current() {
            Some(t) if !stale(&t) => return Ok(t.0),
            t => self.renew(t.map(|t| t.0)).await?,
        }
        Ok(self.current().expect("logged in").0)
    }

    /// Send one request (`path` from `/api/…`, `query` pairs, JSON `body`); a 401 logs in again
    /// once and repeats it. Transport failures are errors; HTTP errors are answers.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let token_used = token.clone();
            let url = format!("{}{path}", self.base);
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token)
                .query(query);
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req
                .send()
                .await
                .map_err(|e| format!("{method} {path}: {}", without_url(&e)))?;
            self.requests += 1;
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if status == 401 && attempt == 0 && matches!(self.auth, Auth::Login { .. }) {
                self.renew(Some(token_used)).await?;
                continue;
            }
            if status == 401 {
                return Err(format!(
                    "{method} {path}: 401 unauthorized (the token was refused{})",
                    if matches!(self.auth, Auth::Token(_)) {
                        "; a pre-issued token cannot be renewed here: issue a new one"
                    } else {
                        " after a fresh login"
                    }
                ));
            }
            return Ok(Answer {
                status,
                body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            });
        }
        unreachable!("the loop returns on its second attempt")
    }
}

/// A transport error without the request URL (which is printed once by the caller).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" for url ({u})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}
