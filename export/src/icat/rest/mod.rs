//! The ICAT REST output (`mxpipe export icat --url https://icat…/icat`): the same entities as
//! the file outputs ([`super::graph`]), written through ICAT's REST API as `ICATRest.java` defines
//! it — login with `POST /icat/session` (form field `json`, plugin + credentials), writes with
//! `POST /icat/entityManager` (form fields `sessionId`, `entities`; existing entities referenced
//! as `{"id":n}`; answers the new ids), look-ups with JPQL on `GET /icat/entityManager`.
//!
//! Idempotent: every entity is looked up by its uniqueness key first (Facility (name),
//! Investigation (facility, name, visitId), Sample (investigation, name), Dataset (investigation,
//! name), DatasetParameter (dataset, type), ParameterType (facility, name, units), Datafile
//! (dataset, name), …) and reused or updated, never duplicated; a re-run after a failure
//! completes what is missing. The session is refreshed before it expires and a request answered
//! with ICAT's `SESSION` error logs in again once. Credentials come from a file or the
//! environment and are never logged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod api;

use api::{Cond, same_value};

use super::graph::{self, Dataset, ParamValue, Settings, UnitGraph};
use crate::ExportError;
use crate::driver::{Catalogue, IdMap, Summary, Unit, Written};
use crate::records::Records;
use mxpipe_store::CatalogueId;

/// Refresh the session after this long (ICAT's default lifetime is 120 minutes).
const REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);
/// Entities per write request when creating many children (datafiles) at once.
const BATCH: usize = 500;

/// How to reach and log in to an ICAT server.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Base URL ending in `/icat`, e.g. `https://icat.example.org/icat`.
    pub url: String,
    /// Authenticator plugin (`db`, `ldap`, `simple`, …).
    pub plugin: String,
    /// User name.
    pub username: String,
    /// Password (from a file or the environment; never logged).
    pub password: String,
}

/// The ICAT REST exporter (a [`Catalogue`]).
pub struct IcatRest {
    http: reqwest::Client,
    conn: Connection,
    instance: String,
    builder: graph::Builder,
    dry_run: bool,
    /// The ICAT session and when it was last confirmed: shared with this exporter's forks, so
    /// one login or refresh serves all.
    session: std::sync::Arc<std::sync::Mutex<Option<(String, Instant)>>>,
    /// Held while logging in or refreshing: forks that find the session refused wait for one.
    renewing: std::sync::Arc<futures::lock::Mutex<()>>,
    /// Shared entities found or created in this run: key → id.
    known: HashMap<String, i64>,
    /// Logins (the first and any re-login after a `SESSION` error).
    pub logins: usize,
}

/// Which ICAT a URL names (`host:port/path`): the key of its id map in the store.
pub fn instance_of(url: &str) -> Result<String, ExportError> {
    let u = url::Url::parse(url).map_err(|e| ExportError::Config(format!("--url {url:?}: {e}")))?;
    Ok(format!(
        "{}:{}{}",
        u.host_str().unwrap_or_default(),
        u.port_or_known_default().unwrap_or(0),
        u.path().trim_end_matches('/')
    ))
}

impl IcatRest {
    /// Prepare an export to the ICAT at `conn.url` (nothing is sent until the first unit).
    pub async fn new(
        store: &mxpipe_store::Store,
        conn: Connection,
        settings: Settings,
        dry_run: bool,
    ) -> Result<IcatRest, ExportError> {
        let instance = instance_of(&conn.url)?;
        let mut rest = IcatRest {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| ExportError::Config(format!("HTTP client: {e}")))?,
            conn,
            instance,
            builder: graph::Builder::new(settings, super::file_facts(store).await?),
            dry_run,
            session: Default::default(),
            renewing: Default::default(),
            known: HashMap::new(),
            logins: 0,
        };
        // Log in first: an unreachable server or wrong credentials stop the run before any
        // experiment, once, instead of failing each one.
        if !dry_run {
            rest.login().await.map_err(ExportError::Config)?;
        }
        Ok(rest)
    }

    /// The base URL.
    pub fn conn_url(&self) -> &str {
        &self.conn.url
    }

    /// Create what is missing among `wanted` children of a dataset, update what differs:
    /// `key` names a child (its ParameterType id, its file name).
    async fn sync_children(
        &mut self,
        entity: &'static str,
        dataset: i64,
        created: bool,
        wanted: Vec<Value>,
        key: fn(&Value) -> String,
        counts: &mut Summary,
    ) -> Result<(), String> {
        let existing: HashMap<String, Value> = if created {
            HashMap::new()
        } else {
            self.children(entity, dataset)
                .await?
                .into_iter()
                .map(|v| (key(&v), v))
                .collect()
        };
        let (mut new, mut changed) = (Vec::new(), Vec::new());
        for w in wanted {
            match existing.get(&key(&w)) {
                None => new.push(w),
                Some(have) => {
                    let differs = w
                        .as_object()
                        .into_iter()
                        .flatten()
                        .any(|(k, v)| v.get("id").is_none() && !same_value(v, &have[k]));
                    if differs {
                        let mut u = w.clone();
                        u["id"] = have["id"].clone();
                        changed.push(json!({ entity: u }));
                    } else {
                        counts.entry(entity).or_default()[2] += 1;
                    }
                }
            }
        }
        counts.entry(entity).or_default()[0] += new.len();
        counts.entry(entity).or_default()[1] += changed.len();
        self.create(entity, new).await?;
        for chunk in changed.chunks(BATCH) {
            self.call(Some(&Value::Array(chunk.to_vec())), None).await?;
        }
        Ok(())
    }

    /// Find by key or create; update the fields that differ. Returns the id.
    async fn ensure(
        &mut self,
        entity: &'static str,
        conds: &[Cond<'_>],
        fields: Value,
        counts: &mut Summary,
    ) -> Result<i64, String> {
        let slot = |counts: &mut Summary, i: usize| counts.entry(entity).or_default()[i] += 1;
        match self.find(entity, conds).await? {
            Some(found) => {
                let id = found["id"]
                    .as_i64()
                    .ok_or("ICAT answered an entity without id")?;
                let differs = fields.as_object().into_iter().flatten().any(|(k, v)| {
                    let have = &found[k];
                    match (v.get("id"), have.get("id")) {
                        (Some(a), Some(b)) => a != b,
                        // ICAT leaves relations out of an answer unless INCLUDEd.
                        (Some(_), None) => false,
                        _ => !same_value(v, have),
                    }
                });
                if differs {
                    let mut update = fields.clone();
                    update["id"] = json!(id);
                    self.call(Some(&json!([{ entity: update }])), None).await?;
                    slot(counts, 1);
                } else {
                    slot(counts, 2);
                }
                Ok(id)
            }
            None => match self.create(entity, vec![fields]).await {
                Ok(ids) => {
                    slot(counts, 0);
                    Ok(ids[0])
                }
                // Created meanwhile by another writer (an experiment written beside this one,
                // another exporter): use that one.
                Err(e) if e.contains("OBJECT_ALREADY_EXISTS") => {
                    match self.find(entity, conds).await? {
                        Some(found) => {
                            slot(counts, 2);
                            found["id"]
                                .as_i64()
                                .ok_or_else(|| "ICAT answered an entity without id".to_owned())
                        }
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            },
        }
    }

    /// A shared entity (facility, types, …): cached for the run.
    async fn shared(
        &mut self,
        entity: &'static str,
        conds: &[Cond<'_>],
        fields: Value,
        counts: &mut Summary,
    ) -> Result<i64, String> {
        let key = format!(
            "{entity}:{}",
            conds
                .iter()
                .map(|c| match c {
                    Cond::Text(f, v) => format!("{f}={v}"),
                    Cond::Id(f, id) => format!("{f}.id={id}"),
                })
                .collect::<Vec<_>>()
                .join("&")
        );
        if let Some(id) = self.known.get(&key) {
            return Ok(*id);
        }
        let id = self.ensure(entity, conds, fields, counts).await?;
        self.known.insert(key, id);
        Ok(id)
    }

    async fn write_graph(
        &mut self,
        g: &UnitGraph,
        counts: &mut Summary,
        ids: &mut Vec<(String, CatalogueId)>,
        map: &IdMap,
    ) -> Result<(), String> {
        let inv = &g.investigation;
        let facility = self
            .shared(
                "Facility",
                &[Cond::Text("name", &inv.facility)],
                json!({"name": inv.facility}),
                counts,
            )
            .await?;
        let f = json!({"id": facility});
        let itype = self
            .shared(
                "InvestigationType",
                &[
                    Cond::Id("facility", facility),
                    Cond::Text("name", "experiment"),
                ],
                json!({"name": "experiment", "facility": f}),
                counts,
            )
            .await?;
        let instrument = self
            .shared(
                "Instrument",
                &[
                    Cond::Id("facility", facility),
                    Cond::Text("name", &inv.instrument),
                ],
                json!({"name": inv.instrument, "facility": f}),
                counts,
            )
            .await?;
        let title = format!("{} visit {} on {}", inv.name, inv.visit_id, inv.instrument);
        let mut ifields = json!({"name": inv.name, "visitId": inv.visit_id, "title": title, "facility": f, "type": {"id": itype}});
        for (k, v) in [("startDate", &inv.start), ("endDate", &inv.end)] {
            if let Some(v) = v {
                ifields[k] = json!(v);
            }
        }
        let investigation = self
            .shared(
                "Investigation",
                &[
                    Cond::Id("facility", facility),
                    Cond::Text("name", &inv.name),
                    Cond::Text("visitId", &inv.visit_id),
                ],
                ifields,
                counts,
            )
            .await?;
        let i = json!({"id": investigation});
        let mut sample_ids = HashMap::new();
        for s in &g.samples {
            let stype = self
                .shared(
                    "SampleType",
                    &[
                        Cond::Id("facility", facility),
                        Cond::Text("name", &s.type_name),
                        Cond::Text("molecularFormula", "N/A"),
                    ],
                    json!({"name": s.type_name, "molecularFormula": "N/A", "facility": f}),
                    counts,
                )
                .await?;
            let id = self
                .ensure("Sample", &[Cond::Id("investigation", investigation), Cond::Text("name", &s.name)],
                    json!({"name": s.name, "pid": s.pid, "investigation": i, "type": {"id": stype}}), counts)
                .await?;
            sample_ids.insert(s.key.clone(), id);
            ids.push((
                format!("Sample:{}@{investigation}", s.key),
                catalogue_id("Sample", id),
            ));
        }
        let mut dataset_ids: HashMap<String, i64> = HashMap::new();
        for d in &g.datasets {
            let id = self
                .write_dataset(d, facility, investigation, instrument, &sample_ids, counts)
                .await?;
            dataset_ids.insert(d.key.clone(), id);
            ids.push((format!("Dataset:{}", d.key), catalogue_id("Dataset", id)));
            if let Some((name, version)) = &d.application {
                let job_key = format!("Job:{}", d.key);
                if map.contains_key(&job_key) {
                    counts.entry("Job").or_default()[2] += 1;
                    continue;
                }
                let app = self
                    .shared(
                        "Application",
                        &[
                            Cond::Id("facility", facility),
                            Cond::Text("name", name),
                            Cond::Text("version", version),
                        ],
                        json!({"name": name, "version": version, "facility": f}),
                        counts,
                    )
                    .await?;
                let mut inputs = Vec::new();
                for k in &d.inputs {
                    let known = dataset_ids
                        .get(k)
                        .copied()
                        .or_else(|| map.get(&format!("Dataset:{k}")).map(|c| c.id));
                    if let Some(ds) = known {
                        inputs.push(json!({"dataset": {"id": ds}}));
                    }
                }
                let collections = self
                    .create(
                        "DataCollection",
                        vec![
                            json!({"dataCollectionDatasets": inputs}),
                            json!({"dataCollectionDatasets": [{"dataset": {"id": id}}]}),
                        ],
                    )
                    .await?;
                let job = self
                    .create("Job", vec![json!({"application": {"id": app},
                        "inputDataCollection": {"id": collections[0]}, "outputDataCollection": {"id": collections[1]}})])
                    .await?[0];
                counts.entry("Job").or_default()[0] += 1;
                ids.push((job_key, catalogue_id("Job", job)));
            }
        }
        Ok(())
    }

    async fn write_dataset(
        &mut self,
        d: &Dataset,
        facility: i64,
        investigation: i64,
        instrument: i64,
        samples: &HashMap<String, i64>,
        counts: &mut Summary,
    ) -> Result<i64, String> {
        let f = json!({"id": facility});
        let kind = if d.raw { "raw" } else { "processed" };
        let dtype = self
            .shared(
                "DatasetType",
                &[Cond::Id("facility", facility), Cond::Text("name", kind)],
                json!({"name": kind, "facility": f}),
                counts,
            )
            .await?;
        let mut fields = json!({"name": d.name, "complete": true, "investigation": {"id": investigation}, "type": {"id": dtype}});
        for (k, v) in [
            ("location", &d.location),
            ("startDate", &d.start),
            ("endDate", &d.end),
        ] {
            if let Some(v) = v {
                fields[k] = json!(v);
            }
        }
        if let Some(s) = d.sample.as_ref().and_then(|k| samples.get(k)) {
            fields["sample"] = json!({"id": s});
        }
        let before = counts.get("Dataset").map_or(0, |c| c[0]);
        let id = self
            .ensure(
                "Dataset",
                &[
                    Cond::Id("investigation", investigation),
                    Cond::Text("name", &d.name),
                ],
                fields,
                counts,
            )
            .await?;
        let created = counts.get("Dataset").map_or(0, |c| c[0]) > before;
        if created {
            self.create(
                "DatasetInstrument",
                vec![json!({"dataset": {"id": id}, "instrument": {"id": instrument}})],
            )
            .await?;
        }
        // Parameters: one per (dataset, type).
        let mut params = Vec::new();
        for p in &d.params {
            let ptype = self
                .shared("ParameterType", &[Cond::Id("facility", facility), Cond::Text("name", &p.name), Cond::Text("units", p.map.units)],
                    json!({"name": p.name, "units": p.map.units, "valueType": p.map.value_type(), "facility": f,
                        "applicableToDataset": true, "applicableToDatafile": false, "applicableToSample": false,
                        "applicableToInvestigation": false, "applicableToDataCollection": false, "description": super::map::description(&p.name)}), counts)
                .await?;
            let mut pf = json!({"dataset": {"id": id}, "type": {"id": ptype}});
            match &p.value {
                ParamValue::Number(n) => pf["numericValue"] = json!(n),
                ParamValue::Text(t) => pf["stringValue"] = json!(t),
            }
            params.push(pf);
        }
        self.sync_children(
            "DatasetParameter",
            id,
            created,
            params,
            |v| v["type"]["id"].to_string(),
            counts,
        )
        .await?;
        // Datafiles: one per (dataset, name).
        let mut files = Vec::new();
        for file in &d.files {
            let format = self
                .shared(
                    "DatafileFormat",
                    &[
                        Cond::Id("facility", facility),
                        Cond::Text("name", file.format),
                        Cond::Text("version", "N/A"),
                    ],
                    json!({"name": file.format, "version": "N/A", "facility": f}),
                    counts,
                )
                .await?;
            let mut ff = json!({"name": file.name, "location": file.location, "dataset": {"id": id}, "datafileFormat": {"id": format}});
            if let Some(s) = file.size {
                ff["fileSize"] = json!(s);
            }
            if let Some(c) = &file.checksum {
                ff["checksum"] = json!(c);
            }
            files.push(ff);
        }
        self.sync_children(
            "Datafile",
            id,
            created,
            files,
            |v| v["name"].as_str().unwrap_or_default().to_owned(),
            counts,
        )
        .await?;
        Ok(id)
    }
}

fn catalogue_id(table: &str, id: i64) -> CatalogueId {
    CatalogueId {
        table: table.to_owned(),
        id,
        content_sha256: String::new(),
        pid: None,
    }
}

impl Catalogue for IcatRest {
    fn display_name(&self) -> &'static str {
        "ICAT"
    }

    fn pixel_size_setting(&self) -> Option<(Option<f64>, &'static str)> {
        Some((self.builder.settings.pixel_size_mm, "[icat] pixel_size_mm"))
    }

    fn id_map(&self) -> Option<(&'static str, &str)> {
        Some(("icat", &self.instance))
    }

    fn fork(&self) -> Option<Self> {
        Some(IcatRest {
            http: self.http.clone(),
            conn: self.conn.clone(),
            instance: self.instance.clone(),
            // A fork writes what the target prepared: it builds nothing.
            builder: graph::Builder::new(self.builder.settings.clone(), Default::default()),
            dry_run: self.dry_run,
            session: self.session.clone(),
            renewing: self.renewing.clone(),
            known: self.known.clone(),
            logins: 0,
        })
    }

    fn absorb(&mut self, fork: Self) {
        self.logins += fork.logins;
    }

    fn experiment_marker(&self) -> &'static str {
        "Experiment:"
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
        _records: &Records,
        unit: &Unit<'_>,
        g: crate::icat::graph::UnitGraph,
        map: &IdMap,
        log: &mut Vec<String>,
    ) -> Result<Written, String> {
        let mut written = Written::default();
        if self.dry_run {
            for d in &g.datasets {
                log.push(json!({"entity": "Dataset", "name": d.name, "investigation": g.investigation.name,
                    "parameters": d.params.len(), "datafiles": d.files.len(), "inputs": d.inputs}).to_string());
                written.counts.entry("Dataset").or_default()[0] += 1;
            }
            return Ok(written);
        }
        if let Err(e) = self
            .write_graph(&g, &mut written.counts, &mut written.ids, map)
            .await
        {
            let done: Vec<String> = written
                .counts
                .iter()
                .filter(|(_, c)| c[0] + c[1] > 0)
                .map(|(kind, c)| format!("{kind} {} created, {} updated", c[0], c[1]))
                .collect();
            let done = if done.is_empty() {
                "nothing".to_owned()
            } else {
                done.join(", ")
            };
            return Err(format!(
                "{e}; written before the error: {done} (ICAT has no transactions: that stays, and a re-run reuses it and completes the rest)"
            ));
        }
        written.ids.push((
            format!("Experiment:{}", unit.experiment),
            catalogue_id("Experiment", 0),
        ));
        Ok(written)
    }
}
