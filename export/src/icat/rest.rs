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

use super::graph::{self, Dataset, FileFacts, ParamValue, Settings, UnitGraph};
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
    settings: Settings,
    facts: FileFacts,
    dry_run: bool,
    session: Option<(String, Instant)>,
    /// Shared entities found or created in this run: key → id.
    known: HashMap<String, i64>,
    names: graph::DatasetNames,
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

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A key condition of a look-up: `x.field = 'text'` or `x.field.id = n`.
enum Cond<'a> {
    Text(&'a str, &'a str),
    Id(&'a str, i64),
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
        Ok(IcatRest {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| ExportError::Config(format!("HTTP client: {e}")))?,
            conn,
            instance,
            settings,
            facts: super::file_facts(store).await?,
            dry_run,
            session: None,
            known: HashMap::new(),
            names: graph::DatasetNames::default(),
            logins: 0,
        })
    }

    /// The base URL.
    pub fn conn_url(&self) -> &str {
        &self.conn.url
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.conn.url.trim_end_matches('/'))
    }

    async fn login(&mut self) -> Result<String, String> {
        let body = json!({"plugin": self.conn.plugin,
            "credentials": [{"username": self.conn.username}, {"password": self.conn.password}]});
        let resp = self
            .http
            .post(self.endpoint("session"))
            .form(&[("json", body.to_string())])
            .send()
            .await
            .map_err(|e| format!("cannot reach ICAT at {}: {e}", self.conn.url))?;
        let v = answer(resp).await?;
        let id = v["sessionId"]
            .as_str()
            .ok_or("ICAT login answered without a sessionId")?
            .to_owned();
        self.logins += 1;
        self.session = Some((id.clone(), Instant::now()));
        Ok(id)
    }

    async fn session_id(&mut self) -> Result<String, String> {
        match &self.session {
            None => self.login().await,
            Some((id, at)) if at.elapsed() > REFRESH_AFTER => {
                let id = id.clone();
                let resp = self
                    .http
                    .put(self.endpoint(&format!("session/{id}")))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if answer(resp).await.is_ok() {
                    self.session = Some((id.clone(), Instant::now()));
                    Ok(id)
                } else {
                    self.login().await
                }
            }
            Some((id, _)) => Ok(id.clone()),
        }
    }

    /// One request with the session; a `SESSION` error logs in again and retries once.
    async fn call(&mut self, write: Option<&Value>, query: Option<&str>) -> Result<Value, String> {
        for attempt in 0..2 {
            let sid = self.session_id().await?;
            let req = match (write, query) {
                (Some(entities), _) => self.http.post(self.endpoint("entityManager")).form(&[
                    ("sessionId", sid.as_str()),
                    ("entities", &entities.to_string()),
                ]),
                (None, Some(q)) => self
                    .http
                    .get(self.endpoint("entityManager"))
                    .query(&[("sessionId", sid.as_str()), ("query", q)]),
                (None, None) => unreachable!("a write or a query"),
            };
            let resp = req
                .send()
                .await
                .map_err(|e| format!("ICAT request failed: {e}"))?;
            match answer(resp).await {
                Err(e) if attempt == 0 && e.starts_with("ICAT SESSION") => self.session = None,
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    async fn find(&mut self, entity: &str, conds: &[Cond<'_>]) -> Result<Option<Value>, String> {
        let wheres: Vec<String> = conds
            .iter()
            .map(|c| match c {
                Cond::Text(f, v) => format!("x.{f} = {}", quote(v)),
                Cond::Id(f, id) => format!("x.{f}.id = {id}"),
            })
            .collect();
        let q = format!("SELECT x FROM {entity} x WHERE {}", wheres.join(" AND "));
        let found = self.call(None, Some(&q)).await?;
        Ok(found
            .as_array()
            .and_then(|a| a.first())
            .map(|o| o[entity].clone()))
    }

    async fn create(&mut self, entity: &str, fields: Vec<Value>) -> Result<Vec<i64>, String> {
        let mut ids = Vec::new();
        for chunk in fields.chunks(BATCH) {
            let body: Vec<Value> = chunk.iter().map(|f| json!({ entity: f })).collect();
            let answer = self.call(Some(&Value::Array(body)), None).await?;
            ids.extend(
                answer
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64),
            );
        }
        if ids.len() != fields.len() {
            return Err(format!(
                "ICAT answered {} ids for {} new {entity}",
                ids.len(),
                fields.len()
            ));
        }
        Ok(ids)
    }

    /// Every `entity` of dataset `id` (one query).
    async fn children(&mut self, entity: &str, dataset: i64) -> Result<Vec<Value>, String> {
        let q = format!("SELECT x FROM {entity} x WHERE x.dataset.id = {dataset} INCLUDE x.type");
        let found = self.call(None, Some(&q)).await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| o[entity].clone())
            .collect())
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
            None => {
                let id = self.create(entity, vec![fields]).await?[0];
                slot(counts, 0);
                Ok(id)
            }
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
    }
}

/// Numbers compare as numbers, times as instants, everything else as JSON.
fn same_value(ours: &Value, theirs: &Value) -> bool {
    if let (Some(a), Some(b)) = (ours.as_f64(), theirs.as_f64()) {
        return (a - b).abs() <= 1e-12 * a.abs().max(1.0);
    }
    if let (Some(a), Some(b)) = (ours.as_str(), theirs.as_str())
        && let (Ok(x), Ok(y)) = (
            chrono::DateTime::parse_from_rfc3339(a),
            chrono::DateTime::parse_from_rfc3339(b),
        )
    {
        return x == y;
    }
    ours == theirs
}

/// The JSON of a 2xx answer, or ICAT's error as `ICAT <code>: <message> (HTTP <status>)`.
async fn answer(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Err(format!(
        "ICAT {}: {} (HTTP {status})",
        v["code"].as_str().unwrap_or("ERROR"),
        v["message"].as_str().unwrap_or(text.trim())
    ))
}

impl Catalogue for IcatRest {
    fn display_name(&self) -> &'static str {
        "ICAT"
    }

    fn id_map(&self) -> Option<(&'static str, &str)> {
        Some(("icat", &self.instance))
    }

    fn experiment_marker(&self) -> &'static str {
        "Experiment:"
    }

    async fn write_unit(
        &mut self,
        records: &Records,
        unit: &Unit<'_>,
        map: &IdMap,
        log: &mut Vec<String>,
    ) -> Result<Written, String> {
        let mut g = graph::unit_graph(
            records,
            unit.experiment,
            &unit.sweeps,
            &unit.processing,
            &self.settings,
            &self.facts,
        )?;
        self.names.assign(&mut g);
        let mut written = Written::default();
        if self.dry_run {
            for d in &g.datasets {
                log.push(json!({"entity": "Dataset", "name": d.name, "investigation": g.investigation.name,
                    "parameters": d.params.len(), "datafiles": d.files.len(), "inputs": d.inputs}).to_string());
                written.counts.entry("Dataset").or_default()[0] += 1;
            }
            return Ok(written);
        }
        self.write_graph(&g, &mut written.counts, &mut written.ids, map)
            .await
            .map_err(|e| {
                format!("{e} (ICAT has no transactions: what was written stays; a re-run reuses it and completes the rest)")
            })?;
        written.ids.push((
            format!("Experiment:{}", unit.experiment),
            catalogue_id("Experiment", 0),
        ));
        Ok(written)
    }
}
