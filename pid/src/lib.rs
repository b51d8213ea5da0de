//! Persistent identifiers (PIDs) for samples and crystals that arrive without one, minted after
//! the store commit that brought them in, by the configured scheme:
//!
//! - `local`: the configured prefix (a URL, e.g. `https://pid.example-facility.org/s/`) + a short
//!   id with a check character ([`local_id`]); recorded as `minted` at once;
//! - `datacite`: a DOI `prefix/id` created through DataCite's REST API ([`datacite`]) as a draft,
//!   or findable with `publish`. The DOI is chosen and recorded as `pending` **before** the
//!   request, so a crash or a lost answer never leads to a second DOI for the same sample; a
//!   failed request leaves it `pending` with DataCite's answer and [`retry`] completes it.
//!
//! Minting is idempotent: an object with a PID of its own (`sampleIdentity`) or one already in
//! the store's `sample_pids` registry is never given another. PIDs are never reused.

pub mod datacite;
pub mod local_id;

use std::collections::{HashMap, HashSet};

use arrow::array::RecordBatch;
use mxpipe_store::read::{COMMITTED, strings};
use mxpipe_store::{SamplePid, Store};

pub use datacite::DataCiteConfig;

/// How PIDs are minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A URL under the configured prefix.
    Local,
    /// A DataCite DOI under the configured DOI prefix.
    DataCite,
}

impl Scheme {
    /// `local` or `datacite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Local => "local",
            Scheme::DataCite => "datacite",
        }
    }
    /// Parse a scheme name.
    pub fn parse(text: &str) -> Result<Scheme, String> {
        match text {
            "local" => Ok(Scheme::Local),
            "datacite" => Ok(Scheme::DataCite),
            other => Err(format!(
                "[pid] scheme = {other:?}: expected \"local\" or \"datacite\""
            )),
        }
    }
}

/// The `[pid]` configuration.
#[derive(Debug, Clone)]
pub struct PidConfig {
    /// The scheme.
    pub scheme: Scheme,
    /// Local: the URL every PID starts with. DataCite: the DOI prefix (`10.NNNNN`).
    pub prefix: String,
    /// DataCite: where the landing pages are (the PID's suffix is appended), e.g.
    /// `https://mxpipe.example.org/pid/` (the host must be allowed for the DataCite repository).
    pub landing_url: Option<String>,
    /// Publisher (the facility); default "mxpipe".
    pub publisher: Option<String>,
    /// Creator written into DataCite metadata; default the publisher.
    pub creator: Option<String>,
    /// DataCite API and credentials.
    pub datacite: Option<DataCiteConfig>,
}

impl PidConfig {
    /// Check the configuration is usable; an error says what to set.
    pub fn check(&self) -> Result<(), String> {
        match self.scheme {
            Scheme::Local => {
                let u = url::Url::parse(&self.prefix).map_err(|e| {
                    format!("[pid] prefix = {:?}: expected the URL every local PID starts with, e.g. \"https://pid.example-facility.org/s/\" ({e})", self.prefix)
                })?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(format!(
                        "[pid] prefix = {:?}: expected an http(s) URL",
                        self.prefix
                    ));
                }
                Ok(())
            }
            Scheme::DataCite => {
                let p = self.prefix.trim_end_matches('/');
                if !p.strip_prefix("10.").is_some_and(|n| {
                    (4..=5).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
                }) {
                    return Err(format!(
                        "[pid] prefix = {:?}: a DataCite prefix looks like \"10.80000\"",
                        self.prefix
                    ));
                }
                if self.landing_url.is_none() {
                    return Err("[pid] scheme = \"datacite\" needs landing_url (where DOIs resolve, e.g. \"https://mxpipe.example.org/pid/\")".into());
                }
                if self.datacite.is_none() {
                    return Err("[pid] scheme = \"datacite\" needs api_url and repository_id, and the password in password_file or $MXPIPE_DATACITE_PASSWORD".into());
                }
                Ok(())
            }
        }
    }
    /// The publisher's name.
    pub fn publisher(&self) -> &str {
        self.publisher.as_deref().unwrap_or("mxpipe")
    }
    /// The creator's name.
    pub fn creator(&self) -> &str {
        self.creator.as_deref().unwrap_or(self.publisher())
    }
    /// Where landing pages are: the local prefix, or the DataCite landing URL.
    pub fn landing_base(&self) -> String {
        let base = match self.scheme {
            Scheme::Local => self.prefix.clone(),
            Scheme::DataCite => self.landing_url.clone().unwrap_or_default(),
        };
        if base.ends_with('/') {
            base
        } else {
            format!("{base}/")
        }
    }
    /// The PID for a local id.
    pub fn pid_for(&self, id: &str) -> String {
        match self.scheme {
            Scheme::Local => format!("{}{id}", self.landing_base()),
            Scheme::DataCite => datacite::doi_name(&self.prefix, id),
        }
    }
}

/// A sample or crystal that needs a PID, with what its metadata needs.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// Its uuid.
    pub uuid: String,
    /// `MacromoleculeSample` or `Crystal`.
    pub mxlims_type: String,
    /// Its name.
    pub name: Option<String>,
    /// Crystal: its sample's name.
    pub sample_name: Option<String>,
    /// Crystal: its sample's uuid.
    pub sample_uuid: Option<String>,
    /// Its barcode, or its container's (a crystal on a pin).
    pub barcode: Option<String>,
    /// The session of the first experiment that used it.
    pub visit: Option<String>,
    /// The start of the first experiment that used it (RFC 3339).
    pub first_collected: Option<String>,
    /// Crystal: the PID of its sample, if it has or gets one.
    pub parent_pid: Option<String>,
}

/// What a registry answered for one PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted, in this state (`minted`, `draft`, `findable`, …).
    Accepted(String),
    /// Not accepted (yet): why.
    Pending(String),
}

/// Which objects to consider.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every sample and crystal of the store.
    All,
    /// Objects written by these store runs (an ingest just committed).
    Ingests(Vec<String>),
}

/// What a mint or retry did.
#[derive(Debug, Clone, Default)]
pub struct MintReport {
    /// Every PID touched, with its state now.
    pub pids: Vec<SamplePid>,
}

impl MintReport {
    /// How many are not accepted yet.
    pub fn pending(&self) -> usize {
        self.pids.iter().filter(|p| p.is_pending()).count()
    }
    /// A line for a summary: `3 PIDs minted (local)`, with pending ones and why.
    pub fn summary(&self) -> Option<String> {
        if self.pids.is_empty() {
            return None;
        }
        let pending = self.pending();
        let scheme = &self.pids[0].scheme;
        let mut line = format!("{} PID(s) minted ({scheme})", self.pids.len() - pending);
        if pending > 0 {
            let why = self
                .pids
                .iter()
                .find_map(|p| p.detail.clone())
                .unwrap_or_default();
            line.push_str(&format!(
                "; {pending} PID(s) pending (stored with the sample, not yet registered: {why}) — run `mxpipe pid retry`"
            ));
        }
        Some(line)
    }
}

/// Where PID states are written: the store itself (one atomic run each time), or a server's
/// long-lived writer (which then keeps its index of committed objects).
pub trait Recorder: Send {
    /// Record these states as one atomic store run.
    fn record<'a>(
        &'a mut self,
        pids: &'a [SamplePid],
        command: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), mxpipe_store::StoreError>> + Send + 'a>,
    >;
}

impl Recorder for &Store {
    fn record<'a>(
        &'a mut self,
        pids: &'a [SamplePid],
        command: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), mxpipe_store::StoreError>> + Send + 'a>,
    > {
        Box::pin(self.record_sample_pids(pids, command))
    }
}

impl Recorder for mxpipe_store::Writer {
    fn record<'a>(
        &'a mut self,
        pids: &'a [SamplePid],
        command: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), mxpipe_store::StoreError>> + Send + 'a>,
    > {
        Box::pin(self.record_sample_pids(pids, command))
    }
}

/// Errors of minting.
#[derive(Debug, thiserror::Error)]
pub enum PidError {
    /// Reading or writing the store.
    #[error(transparent)]
    Store(#[from] mxpipe_store::StoreError),
    /// The configuration.
    #[error("{0}")]
    Config(String),
}

/// Mint a PID for every sample and crystal in `scope` that has none (see the crate docs).
pub async fn mint(
    store: &Store,
    recorder: &mut dyn Recorder,
    config: &PidConfig,
    scope: Scope,
    publish: bool,
) -> Result<MintReport, PidError> {
    config.check().map_err(PidError::Config)?;
    let registry = store.sample_pids().await?;
    let mut taken: HashSet<String> = registry.values().map(|p| p.pid.clone()).collect();
    let mut candidates = candidates(store, &scope).await?;
    candidates.retain(|c| !registry.contains_key(&c.uuid));
    if candidates.is_empty() {
        return Ok(MintReport::default());
    }
    // Samples first, so their crystals can name them as parents.
    candidates.sort_by_key(|c| (c.mxlims_type == "Crystal", c.uuid.clone()));
    let mut chosen: HashMap<String, (String, String)> = HashMap::new(); // uuid → (id, pid)
    for c in &candidates {
        let (id, pid) = loop {
            let id = local_id::new_id();
            let pid = config.pid_for(&id);
            if taken.insert(pid.clone()) {
                break (id, pid);
            }
        };
        chosen.insert(c.uuid.clone(), (id, pid));
    }
    for c in &mut candidates {
        if c.parent_pid.is_none()
            && let Some(s) = &c.sample_uuid
        {
            c.parent_pid = chosen
                .get(s)
                .map(|(_, p)| p.clone())
                .or_else(|| registry.get(s).map(|p| p.pid.clone()));
        }
    }
    let record = |c: &Candidate, state: &str, detail: Option<String>| SamplePid {
        object_uuid: c.uuid.clone(),
        mxlims_type: c.mxlims_type.clone(),
        pid: chosen[&c.uuid].1.clone(),
        scheme: config.scheme.as_str().to_owned(),
        state: state.to_owned(),
        detail,
    };
    let command = format!("mxpipe pid mint ({})", config.scheme.as_str());
    match config.scheme {
        Scheme::Local => {
            let pids: Vec<SamplePid> = candidates
                .iter()
                .map(|c| record(c, "minted", None))
                .collect();
            recorder.record(&pids, &command).await?;
            Ok(MintReport { pids })
        }
        Scheme::DataCite => {
            // Chosen and kept before any request: never a second DOI for the same object.
            let pending: Vec<SamplePid> = candidates
                .iter()
                .map(|c| record(c, "pending", Some("not yet sent to DataCite".into())))
                .collect();
            recorder.record(&pending, &command).await?;
            let jobs: Vec<(Candidate, String)> = candidates
                .into_iter()
                .map(|c| {
                    let id = chosen[&c.uuid].0.clone();
                    (c, id)
                })
                .collect();
            register(recorder, config, jobs, publish, &command).await
        }
    }
}

/// Send every `pending` DataCite PID again (the same DOI), recording what DataCite answers.
pub async fn retry(
    store: &Store,
    recorder: &mut dyn Recorder,
    config: &PidConfig,
    publish: bool,
) -> Result<MintReport, PidError> {
    config.check().map_err(PidError::Config)?;
    let registry = store.sample_pids().await?;
    let pending: HashMap<&String, &SamplePid> = registry
        .iter()
        .filter(|(_, p)| p.is_pending() && p.scheme == "datacite")
        .collect();
    if pending.is_empty() {
        return Ok(MintReport::default());
    }
    let mut jobs = Vec::new();
    for mut c in candidates(store, &Scope::All).await? {
        let Some(p) = pending.get(&c.uuid) else {
            continue;
        };
        let id = p
            .pid
            .split_once('/')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default();
        if c.parent_pid.is_none()
            && let Some(s) = &c.sample_uuid
        {
            c.parent_pid = registry.get(s).map(|p| p.pid.clone());
        }
        jobs.push((c, id));
    }
    register(recorder, config, jobs, publish, "mxpipe pid retry").await
}

/// Create each DOI at DataCite and record the states in one store run.
async fn register(
    recorder: &mut dyn Recorder,
    config: &PidConfig,
    jobs: Vec<(Candidate, String)>,
    publish: bool,
    command: &str,
) -> Result<MintReport, PidError> {
    let dc = config.datacite.as_ref().expect("checked");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!(
            "mxpipe/",
            env!("CARGO_PKG_VERSION"),
            " (pid minting)"
        ))
        .build()
        .map_err(|e| PidError::Config(format!("HTTP client: {e}")))?;
    let mut pids = Vec::new();
    for (c, id) in jobs {
        let doi = config.pid_for(&id);
        let attributes = datacite::attributes(config, &c, &doi, &id, publish);
        let (state, detail) = match datacite::create(&client, dc, &attributes).await {
            Outcome::Accepted(state) => (state, None),
            Outcome::Pending(why) => ("pending".to_owned(), Some(why)),
        };
        pids.push(SamplePid {
            object_uuid: c.uuid,
            mxlims_type: c.mxlims_type,
            pid: doi,
            scheme: Scheme::DataCite.as_str().to_owned(),
            state,
            detail,
        });
    }
    recorder.record(&pids, command).await?;
    Ok(MintReport { pids })
}

/// Samples (MacromoleculeSample) and crystals whose latest committed version has no PID of its
/// own, with what their metadata needs.
pub async fn candidates(store: &Store, scope: &Scope) -> Result<Vec<Candidate>, PidError> {
    let rows = |sql: String| async move { store.query(&sql).await };
    let in_scope: Option<HashSet<String>> = match scope {
        Scope::All => None,
        Scope::Ingests(ids) if ids.is_empty() => return Ok(Vec::new()),
        Scope::Ingests(ids) => Some(uuids_of_ingests(store, ids).await?),
    };
    // Latest committed version of each sample and logistical sample.
    let latest = |table: &str, extra: &str| {
        format!(
            "SELECT uuid, mxlims_type, name, pid, {extra} FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.uuid ORDER BY g.committed_at DESC) AS rk \
             FROM {table} t JOIN ingests g ON g.ingest_id = t.ingest_id WHERE t.{COMMITTED}) WHERE rk = 1"
        )
    };
    let samples = rows(latest("samples", "CAST(NULL AS VARCHAR) AS barcode, CAST(NULL AS VARCHAR) AS container_uuid, CAST(NULL AS VARCHAR) AS sample_uuid")).await?;
    let logistics = rows(latest(
        "logistical_samples",
        "barcode, container_uuid, sample_uuid",
    ))
    .await?;
    let jobs = rows(format!(
        "SELECT j.logistical_sample_uuid, j.sample_uuid, CAST(j.start_time AS VARCHAR) AS started, j.visit FROM jobs j \
         WHERE j.{COMMITTED} AND j.mxlims_type = 'MxExperiment' ORDER BY j.start_time"
    ))
    .await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut own_pid: HashMap<String, String> = HashMap::new();
    let mut barcodes: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for (batches, logistical) in [(&samples, false), (&logistics, true)] {
        for b in batches {
            let c: Vec<_> = (0..7).map(|i| strings(b, i)).collect();
            for i in 0..b.num_rows() {
                let opt = |k: usize| (!c[k].is_null(i)).then(|| c[k].value(i).to_owned());
                let uuid = c[0].value(i).to_owned();
                names.insert(uuid.clone(), opt(2));
                if let Some(p) = opt(3) {
                    own_pid.insert(uuid.clone(), p);
                }
                if let Some(bc) = opt(4) {
                    barcodes.insert(uuid.clone(), bc);
                }
                let ty = c[1].value(i);
                let wanted = if logistical {
                    ty == "Crystal"
                } else {
                    ty == "MacromoleculeSample"
                };
                if wanted && opt(3).is_none() && in_scope.as_ref().is_none_or(|s| s.contains(&uuid))
                {
                    out.push((
                        Candidate {
                            uuid,
                            mxlims_type: ty.to_owned(),
                            name: opt(2),
                            sample_uuid: opt(6),
                            barcode: opt(4),
                            ..Default::default()
                        },
                        opt(5),
                    ));
                }
            }
        }
    }
    let mut first_use: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    for b in &jobs {
        let c: Vec<_> = (0..4).map(|i| strings(b, i)).collect();
        for i in 0..b.num_rows() {
            let opt = |k: usize| (!c[k].is_null(i)).then(|| c[k].value(i).to_owned());
            for key in [opt(0), opt(1)].into_iter().flatten() {
                first_use.entry(key).or_insert_with(|| (opt(2), opt(3)));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(mut c, container)| {
            if c.barcode.is_none() {
                c.barcode = container.and_then(|k| barcodes.get(&k).cloned());
            }
            if let Some(s) = &c.sample_uuid {
                c.sample_name = names.get(s).cloned().flatten();
                c.parent_pid = own_pid.get(s).cloned();
            }
            if let Some((t, v)) = first_use
                .get(&c.uuid)
                .or_else(|| c.sample_uuid.as_ref().and_then(|s| first_use.get(s)))
            {
                c.first_collected = t.clone();
                c.visit = v.clone();
            }
            c
        })
        .collect())
}

/// One text column of query results.
fn column(batches: &[RecordBatch], i: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let c = strings(b, i);
        for r in 0..b.num_rows() {
            out.push((!c.is_null(r)).then(|| c.value(r).to_owned()));
        }
    }
    out
}

/// Uuids of the samples and logistical samples written by these store runs.
async fn uuids_of_ingests(store: &Store, ids: &[String]) -> Result<HashSet<String>, PidError> {
    use datafusion::prelude::{col, lit};
    let ctx = store.session().await?;
    let ids: Vec<_> = ids.iter().map(|i| lit(i.as_str())).collect();
    let mut out = HashSet::new();
    for table in ["samples", "logistical_samples"] {
        let batches = ctx
            .table(table)
            .await
            .and_then(|t| t.filter(col("ingest_id").in_list(ids.clone(), false)))
            .and_then(|t| t.select_columns(&["uuid"]))
            .map_err(mxpipe_store::StoreError::from)?
            .collect()
            .await
            .map_err(mxpipe_store::StoreError::from)?;
        out.extend(column(&batches, 0).into_iter().flatten());
    }
    Ok(out)
}
