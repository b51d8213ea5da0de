//! The configuration file (TOML). Looked for at `--config FILE`, then `$MXPIPE_CONFIG`, then
//! `./mxpipe.toml`; every setting has a default, so no file is needed. Secrets are never written in
//! the file: object-store credentials come from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, ...), and are never logged.
//!
//! ```toml
//! [store]
//! location = "./mxpipe-store"   # or s3://bucket/prefix
//! site = "DLS"                  # written on every row
//!
//! timezone = "Europe/London"    # the facility's IANA zone: naive times at ingest, ISPyB times at export
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store settings.
    #[serde(default)]
    pub store: StoreConfig,
    /// The facility's IANA time zone (e.g. `Europe/London`), for timestamps written without a
    /// zone at ingest and for the naive local times ISPyB stores at export.
    pub timezone: Option<String>,
    /// Ingest settings.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Sites for queries: `[sites]` NAME = "LOCATION" (used when no --site NAME=LOCATION is given);
    /// relative paths are taken from the configuration file's folder.
    #[serde(default)]
    pub sites: std::collections::BTreeMap<String, String>,
    /// ISPyB export settings.
    #[serde(default)]
    pub ispyb: IspybConfig,
    /// ICAT export settings.
    #[serde(default)]
    pub icat: IcatConfig,
    /// SciCat export settings.
    #[serde(default)]
    pub scicat: ScicatConfig,
    /// `mxpipe serve` settings.
    #[serde(default)]
    pub serve: ServeConfig,
    /// The Apache Ballista cluster `mxpipe query`, `mxpipe sql` and `/v1/query` run on.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Persistent sample identifiers minted at ingest (none when absent).
    pub pid: Option<PidSection>,
}

/// `[pid]`: how samples and crystals without a PID get one at ingest.
///
/// ```toml
/// [pid]
/// scheme = "local"                                  # or "datacite"
/// prefix = "https://pid.example-facility.org/s/"    # datacite: the DOI prefix, e.g. "10.80000"
/// publisher = "Example Synchrotron"
/// # datacite only:
/// landing_url = "https://mxpipe.example.org/pid/"   # what DOIs resolve to (mxpipe serve's /pid/)
/// api_url = "https://api.test.datacite.org"
/// repository_id = "EXAMPLE.MX"
/// password_file = "/run/secrets/datacite"           # else $MXPIPE_DATACITE_PASSWORD
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PidSection {
    /// `local` or `datacite`.
    pub scheme: String,
    /// Local: URL prefix of every PID. DataCite: DOI prefix.
    pub prefix: String,
    /// DataCite: base URL of the landing pages.
    pub landing_url: Option<String>,
    /// Publisher (the facility).
    pub publisher: Option<String>,
    /// Creator in DataCite metadata (default the publisher).
    pub creator: Option<String>,
    /// DataCite REST API base URL.
    pub api_url: Option<String>,
    /// DataCite repository id.
    pub repository_id: Option<String>,
    /// File holding the DataCite repository password.
    pub password_file: Option<PathBuf>,
    /// What the public landing page `/pid/{id}` of `mxpipe serve` shows besides the PID, type,
    /// facility and dates: any of `name`, `parent`, `sites`, `counts` (default none — names and
    /// measurements are proposal data until the facility's policy makes them public).
    #[serde(default)]
    pub public_fields: Vec<String>,
}

/// Environment variable holding the DataCite repository password.
pub const DATACITE_PASSWORD_ENV: &str = "MXPIPE_DATACITE_PASSWORD";

impl PidSection {
    /// The minting configuration, secrets read from the file or the environment.
    pub fn resolve(&self) -> Result<mxpipe_pid::PidConfig, String> {
        let scheme = mxpipe_pid::Scheme::parse(&self.scheme)?;
        let datacite = match (scheme, &self.api_url, &self.repository_id) {
            (mxpipe_pid::Scheme::DataCite, Some(api), Some(repo)) => {
                let password = match &self.password_file {
                    Some(f) => read_secret(f)
                        .map_err(|e| format!("[pid] password_file {}: {e}", f.display()))?,
                    None => std::env::var(DATACITE_PASSWORD_ENV).map_err(|_| {
                        format!("no DataCite password: set [pid] password_file or ${DATACITE_PASSWORD_ENV}")
                    })?,
                };
                Some(mxpipe_pid::DataCiteConfig {
                    api_url: api.clone(),
                    repository_id: repo.clone(),
                    password,
                })
            }
            _ => None,
        };
        let config = mxpipe_pid::PidConfig {
            scheme,
            prefix: self.prefix.clone(),
            landing_url: self.landing_url.clone(),
            publisher: self.publisher.clone(),
            creator: self.creator.clone(),
            datacite,
        };
        config.check()?;
        Ok(config)
    }
}

/// `[cluster]`: an Apache Ballista cluster (`docs/cluster.md`).
///
/// ```toml
/// [cluster]
/// url = "df://scheduler.example.org:50050"   # the scheduler; credentials never go here
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The scheduler, `df://HOST:PORT`: SQL of `mxpipe query`, `mxpipe sql` and `/v1/query`
    /// runs there (`mxpipe query --cluster` overrides it); other commands (exports, lineage, the
    /// web view) read by keys in this process. Unset: everything in this process.
    pub url: Option<String>,
}

/// `[serve]`: the HTTP service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Listen address (default 127.0.0.1:8080).
    pub listen: Option<std::net::SocketAddr>,
    /// TLS certificate chain (PEM); with `tls_key`, the service speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Token file: hashes only (default `mxpipe-tokens.json` inside a local store, else
    /// ./mxpipe-tokens.json).
    pub tokens_file: Option<PathBuf>,
    /// Largest request body in MB (default 256; larger answers 413).
    pub max_body_mb: Option<usize>,
    /// Most rows `POST /v1/query` answers (default 100 000).
    pub max_rows: Option<usize>,
    /// Longest a query may run, in seconds (default 60; beyond it 504).
    pub query_timeout_s: Option<u64>,
    /// Longest any request may take, in seconds (default 600; beyond it 503). An ingest whose
    /// request timed out may still commit: a retry then answers 200.
    pub request_timeout_s: Option<u64>,
    /// Requests per second each token may send (default 50; 0 turns the limit off); beyond it
    /// 429 with `Retry-After`.
    pub rate_per_second: Option<u32>,
    /// Requests a token may send at once before the rate applies (default 100).
    pub burst: Option<u32>,
    /// Memory one `/v1/query` may use, in MB (default a quarter of the machine's memory, at most
    /// 2 048); beyond it the query answers 400 with the reason.
    pub query_memory_mb: Option<usize>,
    /// Queries running at once (default 4; more wait up to 5 s, then 503). With
    /// `query_memory_mb` this bounds the memory all queries take together.
    pub max_queries: Option<usize>,
    /// Open connections at most (default 1 024; more are closed at once).
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers (default 10; then the connection closes).
    pub header_read_timeout_s: Option<u64>,
    /// Requests one token may have in flight at once (default 32; more answer 429).
    pub max_in_flight_per_token: Option<usize>,
    /// Runs appended to a table before it is compacted (default 20): compaction runs on a
    /// thread of its own beside the commits, never in front of a request.
    pub compact_every: Option<usize>,
    /// Log lines on standard error: `text` (default) or `json` (one JSON object per line, for a
    /// log collector); one line per request (method, route, status, latency, token id).
    pub log_format: Option<LogFormat>,
}

/// `[serve] log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human lines.
    Text,
    /// JSON lines.
    Json,
}

/// `[scicat]`: where the SciCat backend is, who owns what is exported, how pids are made. Secrets
/// are never in the file: `password_file` / `$MXPIPE_SCICAT_PASSWORD`, or a bearer token from
/// `token_file` / `$MXPIPE_SCICAT_TOKEN`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScicatConfig {
    /// Backend base URL, e.g. `https://scicat.example.org`.
    pub url: Option<String>,
    /// Functional account name (`POST /api/v3/auth/login`).
    pub username: Option<String>,
    /// File holding its password.
    pub password_file: Option<PathBuf>,
    /// File holding a pre-issued bearer token (OIDC sites), used instead of a login.
    pub token_file: Option<PathBuf>,
    /// `owner` of every dataset and sample (required for a real run).
    pub owner: Option<String>,
    /// `contactEmail` of every dataset (required for a real run).
    pub contact_email: Option<String>,
    /// `ownerGroup` (default: the proposal code).
    pub owner_group: Option<String>,
    /// `accessGroups` (default: the beamline, lower case).
    pub access_groups: Option<Vec<String>>,
    /// Prefix of deterministic dataset pids (`PREFIX/<uuid v5 of the mxpipe key>`), for accounts
    /// allowed to set pids; without it the server assigns pids and the id map keeps them.
    pub pid_prefix: Option<String>,
    /// Send `sampleName` with samples (backend 5 requires it, 4.x refuses it); default: what the
    /// backend's OpenAPI document declares (--check, or its /explorer-json), else false.
    pub sample_name: Option<bool>,
    /// Create missing proposals (the account is in SciCat's PROPOSAL_GROUPS; default false).
    pub create_proposals: Option<bool>,
    /// Facility name in `creationLocation` (default: the session's facility).
    pub facility: Option<String>,
    /// Detector pixel size (mm) for the beam centre in mm of sweeps whose files state none (CBF
    /// `Pixel_size` and NXmx `x_pixel_size` are used when present); the export warns when used.
    pub pixel_size_mm: Option<f64>,
    /// A saved copy of the backend's OpenAPI document for `--check` (default: its /explorer-json).
    pub openapi: Option<PathBuf>,
    /// Experiments exported at once, each through its own connection (default 4; 1: one
    /// at a time). Units that would create the same sample, crystal, macromolecule or session
    /// are never written at once.
    pub concurrency: Option<usize>,
}

/// `[icat]`: what the ICAT outputs cannot take from the session.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcatConfig {
    /// ICAT Facility name (default: the session's facility).
    pub facility: Option<String>,
    /// REST base URL ending in `/icat`, e.g. `https://icat.example.org/icat`.
    pub url: Option<String>,
    /// Authenticator plugin (default `db`).
    pub plugin: Option<String>,
    /// User name of the functional account.
    pub username: Option<String>,
    /// File holding the password (else `$MXPIPE_ICAT_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// Detector pixel size (mm) for the beam centre in mm of sweeps whose files state none (CBF
    /// `Pixel_size` and NXmx `x_pixel_size` are used when present); the export warns when used.
    pub pixel_size_mm: Option<f64>,
    /// Experiments exported at once, each through its own connection (default 4; 1: one
    /// at a time). Units that would create the same sample, crystal, macromolecule or session
    /// are never written at once.
    pub concurrency: Option<usize>,
}

/// `[ispyb]`: where and how to export to ISPyB. The password is never in the file: it comes from
/// `password_file` or `$MXPIPE_ISPYB_PASSWORD`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IspybConfig {
    /// Database URL without password, e.g. `mysql://mx_exporter@db:3306/ispyb`.
    pub url: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// The facility's IANA time zone (ISPyB times are naive local times), e.g. `Europe/London`.
    pub timezone: Option<String>,
    /// Detector pixel size (mm) for the beam centre in mm of sweeps whose files state none (CBF
    /// `Pixel_size` and NXmx `x_pixel_size` are used when present); the export warns when used.
    pub pixel_size_mm: Option<f64>,
    /// Folder for attachment files (SSX rates JSON; default ./ispyb-attachments).
    pub attachment_dir: Option<PathBuf>,
    /// Facility short name (e.g. `DLS`) for sessions and the uuids `mxpipe import ispyb`
    /// derives from primary keys.
    pub facility: Option<String>,
    /// Experiments exported at once, each through its own connection (default 4; 1: one
    /// at a time). Units that would create the same sample, crystal, macromolecule or session
    /// are never written at once.
    pub concurrency: Option<usize>,
}

/// `[store]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Store location (path or URL).
    pub location: Option<String>,
    /// Site name.
    pub site: Option<String>,
    /// Object-store options that are not secret (endpoint, region, allow_http).
    #[serde(default)]
    pub options: HashMap<String, String>,
}

/// `[ingest]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Zone for naive timestamps at ingest only (overrides the top-level `timezone`).
    pub timezone: Option<String>,
    /// Source name as NXmx files write it → facility short name, e.g.
    /// `source_names = { "Diamond Light Source" = "DLS" }`; consulted before mxpipe's own list
    /// (`mxpipe_model::facilities::SOURCE_SHORT_NAMES`), after the file's `short_name`.
    #[serde(default)]
    pub source_names: std::collections::BTreeMap<String, String>,
}

/// Environment variables passed to the object store when set (credentials stay out of files).
const STORAGE_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
];

impl Config {
    /// Load the configuration (see the module docs for where it is looked for).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path: Option<PathBuf> = explicit
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("MXPIPE_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("mxpipe.toml")).filter(|p| p.is_file()));
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.clone(),
            source: Box::new(source),
        })?;
        // `[sites]` paths are relative to the file (as `mxpipe generate` writes them), so the
        // file works from any folder.
        let base = path.parent().unwrap_or(Path::new(""));
        for location in config.sites.values_mut() {
            let local = !location.contains("://");
            if local && Path::new(location.as_str()).is_relative() && !base.as_os_str().is_empty() {
                *location = base.join(&*location).to_string_lossy().into_owned();
            }
        }
        Ok(config)
    }

    /// Storage options: the file's non-secret options plus credentials from the environment.
    pub fn storage_options(&self) -> HashMap<String, String> {
        let mut out = self.store.options.clone();
        for key in STORAGE_ENV {
            if let Ok(v) = std::env::var(key) {
                out.insert((*key).to_owned(), v);
            }
        }
        out
    }
}

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for mxpipe (the message names the line and the key).
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What `toml` says (line, column, expected).
        source: Box<toml::de::Error>,
    },
}

/// A secret kept in a file (password, token): its content without the final line break.
pub fn read_secret(file: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(file).map(|p| p.trim_end_matches(['\n', '\r']).to_owned())
}
