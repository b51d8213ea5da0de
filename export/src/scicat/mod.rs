//! The SciCat exporter (`mxpipe export scicat`), on the catalogue seam: per unit, the proposal
//! (created when the account may, else required to exist), samples (`sampleId` = the persistent
//! sample identifier, `parentSampleId` = the sample a crystal was grown from, the MXLIMS objects in
//! `sampleCharacteristics`), one raw dataset per sweep (`POST /api/v4/datasets`) with its
//! origdatablock (files, sizes, SHA-256 from the store), one derived dataset per ReflectionSet
//! with `inputDatasets` = every raw pid it read and `sampleIds` = every crystal.
//!
//! Idempotent: with a pid prefix every pid is deterministic (UUID v5 of the mxpipe key) and a 409
//! means "already there": the dataset is fetched, compared and patched only when it differs.
//! Without one the server assigns pids, the id map keeps them, and a dataset created by a run
//! that failed before recording it is found again by its `mxpipe:<key>` keyword. Entities whose
//! content hash matches the id map are not sent at all. Field map: [`map`]; bodies: [`bodies`].

pub mod bodies;
pub mod check;
pub mod client;
pub mod map;
mod sync;

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ExportError;
use crate::driver::{Catalogue, IdMap, Summary, Unit, Written};
use crate::icat::graph;
use crate::records::Records;
use bodies::Site;
use check::Checker;
use client::Client;
use mxpipe_store::CatalogueId;

/// Everything one SciCat run needs from the site.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Dataset and sample fields the site sets.
    pub site: Site,
    /// Facility name (default: the session's) and pixel size, as for ICAT.
    pub graph: graph::Settings,
    /// Create missing proposals (the account is in SciCat's PROPOSAL_GROUPS).
    pub create_proposals: bool,
}

impl Settings {
    /// What a real run needs that the site has not set (a dry run shows placeholders instead).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.site.owner.is_none() {
            out.push("owner");
        }
        if self.site.contact_email.is_none() {
            out.push("contact_email");
        }
        out
    }
}

/// The SciCat exporter (a [`Catalogue`]). `client` is `None` for a dry run.
pub struct SciCat {
    client: Option<Client>,
    instance: String,
    builder: graph::Builder,
    settings: Settings,
    checker: Option<std::sync::Arc<Checker>>,
    proposals: HashSet<String>,
    /// Datasets and files left out of origdatablocks (size unknown), first dataset.
    unlisted: (usize, usize, Option<String>),
    /// Which folders exist on this machine (see [`file_info`]).
    dirs: HashMap<String, bool>,
}

/// Which SciCat a URL names (`host:port/path`): the key of its id map in the store.
pub fn instance_of(url: &str) -> Result<String, ExportError> {
    crate::icat::rest::instance_of(url.trim_end_matches('/').trim_end_matches("/api"))
}

fn content_hash(body: &Value) -> String {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("creationTime");
    }
    hex::encode(Sha256::digest(b.to_string().as_bytes()))
}

/// `ours` ⊆ `theirs`: every field we send has the same value there (the server adds fields:
/// `valueSI`, `createdAt`, …; times compare as instants, numbers as numbers).
pub fn same(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same(v, w))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => {
            a == b
                || matches!(
                    (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)),
                    (Ok(x), Ok(y)) if x == y
                )
        }
        (a, b) => a == b,
    }
}

/// The top-level fields of `ours` that differ on the server (`creationTime` and `pid` are set
/// once, never patched).
fn changed(ours: &Value, theirs: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in ours.as_object().into_iter().flatten() {
        if matches!(
            k.as_str(),
            "creationTime" | "pid" | "sampleId" | "datasetId"
        ) {
            continue;
        }
        if !theirs.get(k).is_some_and(|w| same(v, w)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The persistent identifier of a sample or crystal (`urn:uuid:<uuid>` when none was assigned).
fn sample_pid(r: &Records, uuid: &str) -> String {
    r.json(uuid)["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
        .as_str()
        .map_or_else(|| format!("urn:uuid:{uuid}"), str::to_owned)
}

/// Is this object a sample (a crystal or any MXLIMS sample type), not an experiment standing in
/// for a missing one?
fn is_sample(r: &Records, uuid: &str) -> bool {
    r.objects
        .get(uuid)
        .is_some_and(|o| o.mxlims_type == "Crystal" || o.mxlims_type.ends_with("Sample"))
}

/// What was done to one entity.
enum Done {
    Created,
    Updated,
    Unchanged,
}

fn count(counts: &mut Summary, kind: &'static str, d: &Done) {
    let c = counts.entry(kind).or_default();
    c[match d {
        Done::Created => 0,
        Done::Updated => 1,
        Done::Unchanged => 2,
    }] += 1;
}

fn written_text(counts: &Summary) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, c)| c[0] + c[1] > 0)
        .map(|(k, c)| format!("{k}: {} created, {} updated", c[0], c[1]))
        .collect();
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join("; ")
    }
}

impl SciCat {
    /// Prepare an export to the SciCat at `url` (`auth` `None`: dry run, nothing is sent). A real
    /// run logs in first, so an unreachable server or bad credentials stop it once.
    pub async fn new(
        store: &mxpipe_store::Store,
        url: &str,
        auth: Option<client::Auth>,
        settings: Settings,
        checker: Option<Checker>,
    ) -> Result<SciCat, ExportError> {
        let instance = instance_of(url)?;
        let client = match auth {
            Some(a) => {
                let mut c = Client::new(url, a).map_err(ExportError::Config)?;
                c.login().await.map_err(ExportError::Config)?;
                Some(c)
            }
            None => None,
        };
        Ok(SciCat {
            client,
            instance,
            builder: graph::Builder::new(
                settings.graph.clone(),
                crate::icat::file_facts(store).await?,
            ),
            settings,
            checker: checker.map(std::sync::Arc::new),
            proposals: HashSet::new(),
            unlisted: (0, 0, None),
            dirs: HashMap::new(),
        })
    }

    /// Warnings of the run so far (files left out of origdatablocks).
    pub fn warnings(&self) -> Vec<String> {
        match &self.unlisted {
            (datasets, files, Some(first)) => vec![format!(
                "{files} file(s) of {datasets} dataset(s) (first: {first}) are not in their origdatablocks: their size is unknown (not read into the store, not readable here); run the export where the files are to list them"
            )],
            _ => Vec::new(),
        }
    }

    /// Send `sampleName` with samples (the backend generation, once known).
    pub fn set_sample_name(&mut self, yes: bool) {
        self.settings.site.sample_name = yes;
    }

    /// Logins and requests so far (a dry run sends none).
    pub fn traffic(&self) -> (usize, usize) {
        self.client
            .as_ref()
            .map_or((0, 0), |c| (c.logins, c.requests))
    }
}

fn entry(table: &str, hash: String, pid: String) -> CatalogueId {
    CatalogueId {
        table: table.to_owned(),
        id: 0,
        content_sha256: hash,
        pid: Some(pid),
    }
}

/// Size, checksum and time of a file: from the store, else from the file system here. `dirs`
/// remembers which folders exist, so the files of a sweep whose folder is not on this machine
/// (thousands of images) cost one look-up, not one each.
fn file_info(
    f: &graph::Datafile,
    fallback_time: &str,
    dirs: &mut HashMap<String, bool>,
) -> Option<bodies::FileInfo> {
    let dir = f.location.rsplit_once('/').map_or("", |(d, _)| d);
    let present = *dirs
        .entry(dir.to_owned())
        .or_insert_with(|| std::path::Path::new(dir).is_dir());
    if !present && f.size.is_none() {
        return None;
    }
    let meta = present
        .then(|| std::fs::metadata(&f.location).ok())
        .flatten();
    let time = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
        .unwrap_or_else(|| fallback_time.to_owned());
    let sha = f
        .checksum
        .as_ref()
        .map(|c| c.trim_start_matches("sha256:").to_owned());
    match (f.size, meta) {
        (Some(s), _) => Some((s, sha, time)),
        (None, Some(m)) if m.is_file() => Some((m.len() as i64, None, time)),
        _ => None,
    }
}

impl Catalogue for SciCat {
    fn display_name(&self) -> &'static str {
        "SciCat"
    }

    fn pixel_size_setting(&self) -> Option<(Option<f64>, &'static str)> {
        Some((
            self.builder.settings.pixel_size_mm,
            "[scicat] pixel_size_mm",
        ))
    }

    fn id_map(&self) -> Option<(&'static str, &str)> {
        Some(("scicat", &self.instance))
    }

    fn experiment_marker(&self) -> &'static str {
        "Experiment:"
    }

    fn fork(&self) -> Option<Self> {
        Some(SciCat {
            client: self.client.as_ref().map(Client::fork),
            instance: self.instance.clone(),
            // A fork writes what the target prepared: it builds nothing.
            builder: graph::Builder::new(self.builder.settings.clone(), Default::default()),
            settings: self.settings.clone(),
            checker: self.checker.clone(),
            proposals: self.proposals.clone(),
            unlisted: (0, 0, None),
            dirs: self.dirs.clone(),
        })
    }

    fn absorb(&mut self, fork: Self) {
        if let (Some(c), Some(f)) = (&mut self.client, fork.client) {
            c.logins += f.logins;
            c.requests += f.requests;
        }
        self.unlisted.0 += fork.unlisted.0;
        self.unlisted.1 += fork.unlisted.1;
        if self.unlisted.2.is_none() {
            self.unlisted.2 = fork.unlisted.2;
        }
    }

    type Prepared = crate::icat::graph::UnitGraph;

    fn prepare(
        &mut self,
        records: &Records,
        unit: &Unit<'_>,
    ) -> Result<crate::icat::graph::UnitGraph, String> {
        self.builder.build(records, unit)
    }

    async fn write_unit(
        &mut self,
        r: &Records,
        unit: &Unit<'_>,
        g: crate::icat::graph::UnitGraph,
        map: &IdMap,
        log: &mut Vec<String>,
    ) -> Result<Written, String> {
        let inv = &g.investigation;
        let site = self.settings.site.clone();
        let mut w = Written::default();
        let result: Result<(), String> = async {
            self.proposal(inv, &mut w.counts, log).await?;
            // Samples: the sample a crystal was grown from first, then the crystal (each its
            // own sampleId: its persistent identifier, else urn:uuid:<uuid>). An experiment
            // without any sample object (a bare NXmx or CBF file) has none.
            let mut ids_of: HashMap<String, Vec<String>> = HashMap::new();
            for s in &g.samples {
                if !is_sample(r, &s.key) {
                    continue;
                }
                let mut ids = Vec::new();
                let parent_id = s
                    .parent
                    .as_deref()
                    .filter(|p| is_sample(r, p))
                    .map(|p| sample_pid(r, p));
                if let (Some(p), Some(pid)) = (&s.parent, &parent_id) {
                    let body = bodies::sample(&site, inv, r, p, pid, None);
                    self.sample(p, body, map, &mut w, log).await?;
                }
                let own = sample_pid(r, &s.key);
                let body = bodies::sample(&site, inv, r, &s.key, &own, parent_id.as_deref());
                self.sample(&s.key, body, map, &mut w, log).await?;
                ids.push(own);
                ids.extend(parent_id);
                ids_of.insert(s.key.clone(), ids);
            }
            let mut pids: HashMap<String, String> = HashMap::new();
            let mut dirs = std::mem::take(&mut self.dirs);
            for d in &g.datasets {
                let mut sample_ids: Vec<String> = Vec::new();
                for id in d
                    .samples
                    .iter()
                    .flat_map(|k| ids_of.get(k).into_iter().flatten())
                {
                    if !sample_ids.contains(id) {
                        sample_ids.push(id.clone());
                    }
                }
                let input_pids: Vec<String> = d
                    .inputs
                    .iter()
                    .map(|k| {
                        pids.get(k)
                            .cloned()
                            .or_else(|| {
                                map.get(&format!("Dataset:{k}")).and_then(|c| c.pid.clone())
                            })
                            .or_else(|| {
                                site.pid_prefix
                                    .as_deref()
                                    .map(|p| bodies::dataset_pid(p, k))
                            })
                            .unwrap_or_else(|| format!("<pid of {k}>"))
                    })
                    .collect();
                let pid = site
                    .pid_prefix
                    .as_deref()
                    .map(|p| bodies::dataset_pid(p, &d.key));
                let time = d
                    .end
                    .clone()
                    .or(d.start.clone())
                    .or(inv.start.clone())
                    .unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
                let body = bodies::dataset(
                    &site,
                    inv,
                    d,
                    pid.as_deref(),
                    &sample_ids,
                    &input_pids,
                    &time,
                );
                let (block, unknown) = if d.raw {
                    bodies::datablock(&site, inv, d, pid.as_deref().unwrap_or("<pid>"), |f| {
                        file_info(f, &time, &mut dirs)
                    })
                } else {
                    (None, 0)
                };
                if unknown > 0 {
                    self.unlisted.0 += 1;
                    self.unlisted.1 += unknown;
                    self.unlisted.2.get_or_insert_with(|| d.name.clone());
                }
                let got = self.dataset(d, body, block, map, &mut w, log).await;
                let got = match got {
                    Ok(p) => p,
                    Err(e) => {
                        self.dirs = dirs;
                        return Err(e);
                    }
                };
                pids.insert(d.key.clone(), got);
            }
            self.dirs = dirs;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            return Err(format!(
                "{e} (written before the error: {}; a re-run completes it without duplicates)",
                written_text(&w.counts)
            ));
        }
        w.ids.push((
            format!("Experiment:{}", unit.experiment),
            entry("Experiment", String::new(), unit.experiment.to_owned()),
        ));
        Ok(w)
    }
}
