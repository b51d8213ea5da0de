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

mod answer;
mod api;
mod auth;
mod cluster;
pub mod commit;
mod guard;
mod idempotency;
mod ingest;
mod limits;
mod read;
pub mod settings;
mod stop;
pub mod tokens;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mxpipe_store::Store;
use serde_json::json;
use tokens::Tokens;
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
    /// Longest a query may run (504 beyond it).
    pub query_timeout: std::time::Duration,
    /// Longest any request may take (503 beyond it).
    pub request_timeout: std::time::Duration,
    /// Requests per second each token may send (0: no limit); bursts up to `burst`.
    pub rate_per_second: u32,
    /// Requests a token may send at once before the rate applies.
    pub burst: u32,
    /// Mark the web view's login cookie `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// Mint PIDs for new samples and crystals after each commit (`[pid]`), if set.
    pub pid: Option<mxpipe_pid::PidConfig>,
    /// What a public `/pid/{id}` landing page shows beyond the PID, type, facility and dates
    /// (`[pid] public_fields`: `name`, `parent`, `sites`, `counts`).
    pub public_fields: Vec<String>,
    /// Memory one query may use (bytes); beyond it the query fails with 400.
    pub query_memory: usize,
    /// Queries running at once (each within `query_memory`); more wait up to 5 s, then 503.
    pub max_queries: usize,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers (then its connection is closed).
    pub header_read_timeout: std::time::Duration,
    /// Requests one token may have in flight at once; more answer 429.
    /// Runs appended to a table before the compactor compacts it (default 20).
    pub compact_every: usize,
    pub max_in_flight_per_token: usize,
    /// Where `/v1/query` runs (`[cluster] url`): in this process, or on a Ballista cluster.
    pub cluster: mxpipe_queries::cluster::Engine,
}

impl ServeConfig {
    /// The settings of `[serve]` left unset: 256 MB bodies, 100 000 rows, queries of 60 s and
    /// at most a quarter of the machine's memory (at most 2 GB) each, four at once, 1 024
    /// connections, 10 s for headers, 32 requests in flight per token.
    pub fn new(store: String, site: String, tokens_file: PathBuf) -> ServeConfig {
        ServeConfig {
            store,
            site,
            storage_options: Default::default(),
            tokens_file,
            max_body: 256 * 1024 * 1024,
            max_rows: 100_000,
            query_timeout: std::time::Duration::from_secs(60),
            request_timeout: std::time::Duration::from_secs(600),
            rate_per_second: 50,
            burst: 100,
            secure_cookies: false,
            pid: None,
            public_fields: Vec::new(),
            query_memory: default_query_memory(),
            max_queries: 4,
            max_connections: 1024,
            header_read_timeout: std::time::Duration::from_secs(10),
            max_in_flight_per_token: 32,
            cluster: Default::default(),
            compact_every: commit::COMPACT_EVERY,
        }
    }
}

/// The fields `[pid] public_fields` may name (what a public landing page may show).
pub const PUBLIC_FIELDS: &[&str] = &["name", "parent", "sites", "counts"];

/// A quarter of the machine's memory (`/proc/meminfo`), at most 2 GB; 512 MB when unknown.
pub fn default_query_memory() -> usize {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
    });
    match total_kb {
        Some(kb) => (kb * 1024 / 4).min(2 << 30),
        None => 512 << 20,
    }
}

struct AppState {
    config: ServeConfig,
    store: Store,
    /// Commits the runs of ingest requests, several at once under load.
    committer: commit::GroupCommitter,
    /// The store's commits, and the read session with the commit it was opened at.
    read_session: tokio::sync::Mutex<ReadSession>,
    tokens: std::sync::Mutex<(Tokens, Option<std::time::SystemTime>)>,
    /// Per-token rate limit (governor's keyed GCRA).
    limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    /// Requests by (route, status).
    requests: std::sync::Mutex<std::collections::BTreeMap<(String, u16), u64>>,
    /// Ingest counters: objects new, changed, unchanged.
    ingests: std::sync::Mutex<[u64; 3]>,
    /// Answers of ingest requests by (token id, Idempotency-Key), bounded.
    answered: std::sync::Mutex<idempotency::Answers>,
    /// The last read session built (with its commit stamp), for reads that arrive while the
    /// next one is being built ([`read::session_at`]).
    last_session: std::sync::Mutex<Option<(Option<u64>, datafusion::prelude::SessionContext)>>,
    /// Set while a read session is being opened.
    opening: std::sync::atomic::AtomicBool,
    /// Sessions of tokens limited to proposals: (proposals, commit stamp, session).
    confined: std::sync::Mutex<std::collections::VecDeque<ConfinedEntry>>,
    /// The unrestricted cluster session (`[cluster] url`) with the commit it was opened at, and
    /// the confined ones built over it: (proposals, commit stamp, session).
    cluster_session: tokio::sync::Mutex<Option<(Option<u64>, datafusion::prelude::SessionContext)>>,
    cluster_confined: std::sync::Mutex<std::collections::VecDeque<ClusterConfinedEntry>>,
    /// The threads queries run on.
    queries: limits::QueryRuntime,
    /// Queries running at once.
    query_slots: tokio::sync::Semaphore,
    /// Requests in flight per token (by the hash of what was presented).
    in_flight: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Set when the server stops: running queries end at once.
    stopping: tokio::sync::watch::Sender<bool>,
    /// This store's identity, which every token must carry ([`tokens::TokenRecord::store`]).
    store_id: String,
}

/// A confined cluster session: the proposals, the commit stamp it was built at, the session.
type ClusterConfinedEntry = (
    Vec<String>,
    Option<u64>,
    datafusion::prelude::SessionContext,
);

/// A confined session: the proposals, the commit stamp it was built at, the session.
type ConfinedEntry = (
    Vec<String>,
    Option<u64>,
    mxpipe_queries::isolation::ConfinedSession,
);

/// The store's commits, and the read session with the commit stamp it was opened at.
type ReadSession = (
    mxpipe_store::CommitWatch,
    Option<(Option<u64>, datafusion::prelude::SessionContext)>,
);

/// Count every request by route and status (for `/metrics`).
async fn track(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let token = auth::bearer(req.headers())
        .or_else(|| auth::cookie_token(req.headers()))
        .and_then(|t| s.tokens.lock().ok().and_then(|g| g.0.id_of(t)));
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    // One line per request: never the token, only its id.
    tracing::info!(
        target: "mxpipe_serve::request",
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1e3,
        token = token.as_deref().unwrap_or("-"),
        "request"
    );
    *s.requests
        .lock()
        .expect("metrics lock")
        .entry((route, response.status().as_u16()))
        .or_default() += 1;
    response
}

/// Prometheus text: requests by route and status, ingested objects, commits and their time.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content((String = "text/plain")))))]
async fn metrics(State(s): State<Shared>) -> Response {
    let mut out = String::from(
        "# HELP mxpipe_http_requests_total Requests by route and status.\n# TYPE mxpipe_http_requests_total counter\n",
    );
    for ((route, status), n) in s.requests.lock().expect("metrics lock").iter() {
        out.push_str(&format!(
            "mxpipe_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
        ));
    }
    let objects = *s.ingests.lock().expect("metrics lock");
    let commits = s.committer.stats();
    out.push_str("# HELP mxpipe_ingest_objects_total Objects posted, by outcome.\n# TYPE mxpipe_ingest_objects_total counter\n");
    for (kind, n) in ["new", "changed", "unchanged"].iter().zip(objects) {
        out.push_str(&format!(
            "mxpipe_ingest_objects_total{{outcome=\"{kind}\"}} {n}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP mxpipe_ingest_commit_seconds Time spent committing store runs (each run serves one or more requests).\n# TYPE mxpipe_ingest_commit_seconds summary\nmxpipe_ingest_commit_seconds_sum {}\nmxpipe_ingest_commit_seconds_count {}\n# HELP mxpipe_ingest_requests_committed_total Ingest requests served by those runs.\n# TYPE mxpipe_ingest_requests_committed_total counter\nmxpipe_ingest_requests_committed_total {}\n# HELP mxpipe_store_compactions_total Compactions of the tables written (every [serve] compact_every runs per table; beside the commits).\n# TYPE mxpipe_store_compactions_total counter\nmxpipe_store_compactions_total {}\n",
        commits.seconds, commits.runs, commits.requests, commits.compactions
    ));
    let (keys, bytes) = s.answered.lock().expect("idempotency lock").size();
    out.push_str(&format!(
        "# HELP mxpipe_idempotency_keys Idempotency keys remembered.\n# TYPE mxpipe_idempotency_keys gauge\nmxpipe_idempotency_keys {keys}\n# HELP mxpipe_idempotency_bytes Bytes of remembered answers.\n# TYPE mxpipe_idempotency_bytes gauge\nmxpipe_idempotency_bytes {bytes}\n"
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}

type Shared = Arc<AppState>;

/// An error answer: status and `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the service runs", content((String = "text/plain")))))]
async fn healthz() -> &'static str {
    "ok"
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mxpipe slurp API", description = "Ingest MXLIMS messages and processing/collection files; query the store. Bearer tokens from `mxpipe token new`."),
    paths(healthz, metrics, ingest::post_message, ingest::post_file, read::post_query, read::get_ingests, read::get_experiment, read::get_sample, read::get_views, read::get_view),
    components(schemas(read::QueryBody, mxpipe_pipeline::IngestSummary, api::IngestRejection, api::ErrorBody, api::FormatName)),
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
    app(config).map(|(router, _)| router)
}

/// The router and its state (the server loop stops running queries through it).
fn app(config: ServeConfig) -> Result<(Router, Shared), String> {
    let store = Store::open(&config.store, &config.site, config.storage_options.clone())
        .map_err(|e| e.to_string())?;
    let tokens = Tokens::load(&config.tokens_file)?;
    let max_body = config.max_body;
    let request_timeout = config.request_timeout;
    let limiter = std::num::NonZeroU32::new(config.rate_per_second).map(|rate| {
        let burst = std::num::NonZeroU32::new(config.burst).unwrap_or(rate);
        governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
    });
    let (committer, _task) =
        commit::GroupCommitter::start(store.clone(), config.pid.clone(), config.compact_every);
    let watch = mxpipe_store::CommitWatch::new(store.clone());
    let queries = limits::QueryRuntime::start(config.max_queries.clamp(1, 4))?;
    let state = Arc::new(AppState {
        limiter,
        store_id: tokens::store_id(&store),
        query_slots: tokio::sync::Semaphore::new(config.max_queries.max(1)),
        config,
        store,
        committer,
        read_session: tokio::sync::Mutex::new((watch, None)),
        last_session: Default::default(),
        opening: Default::default(),
        tokens: std::sync::Mutex::new((tokens, None)),
        requests: Default::default(),
        ingests: Default::default(),
        answered: Default::default(),
        confined: Default::default(),
        cluster_session: Default::default(),
        cluster_confined: Default::default(),
        queries,
        in_flight: Default::default(),
        stopping: tokio::sync::watch::channel(false).0,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/messages", post(ingest::post_message))
        .route("/v1/files", post(ingest::post_file))
        .route("/v1/query", post(read::post_query))
        .route("/v1/ingests", get(read::get_ingests))
        .route("/v1/experiments/{uuid}", get(read::get_experiment))
        .route("/v1/samples/{id}", get(read::get_sample))
        .route("/v1/views", get(read::get_views))
        .route("/v1/views/{name}", get(read::get_view))
        .merge(web::routes())
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            api::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::per_token_in_flight,
        ))
        .layer(axum::middleware::from_fn(api::json_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::middleware::from_fn_with_state(
            state.config.secure_cookies,
            guard::security_headers,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
            ]),
        )
        .with_state(state.clone());
    Ok((router, state))
}

/// A TLS certificate chain and private key (PEM files).
#[derive(Debug, Clone)]
pub struct Tls {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// Serve over HTTPS (rustls) on `addr` until `shutdown` resolves; `on_listening` gets the bound
/// address. Requests in flight get 30 s to finish; running queries stop at once.
pub async fn serve_tls(
    addr: std::net::SocketAddr,
    tls: &Tls,
    config: ServeConfig,
    on_listening: impl FnOnce(std::net::SocketAddr) + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let header_timeout = config.header_read_timeout;
    let (app, state) = app(config)?;
    let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|e| {
            format!(
                "TLS certificate {} / key {}: {e}",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    let handle = axum_server::Handle::new();
    let (listening, stopping) = (handle.clone(), handle.clone());
    tokio::spawn(async move {
        if let Some(a) = listening.listening().await {
            on_listening(a);
        }
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = state.stopping.send(true);
        stopping.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    let mut server = axum_server::bind_rustls(addr, rustls).handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    server
        .serve(app.into_make_service())
        .await
        .map_err(|e| e.to_string())
}

/// Serve until `shutdown` resolves: at most `[serve] max_connections` connections (more are
/// closed at once), headers within `header_read_timeout`; at shutdown running queries stop and
/// the other requests in flight, ingests included, get 30 s to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let limits = guard::ConnectionLimits {
        max_connections: config.max_connections,
        header_read_timeout: config.header_read_timeout,
    };
    let (app, state) = app(config)?;
    guard::serve_connections(listener, app, limits, shutdown, move || {
        let _ = state.stopping.send(true);
    })
    .await
}
