//! What exporters read from the store: the latest committed version of every object and its links
//! ([`Store::latest_objects`], shared with the MXLIMS export), and the sweeps each processing input resolves to (by `inputDataRefs`,
//! images or ISPyB `dataCollectionId`) with the image range the program reported. Loaded once,
//! in three queries, whatever the number of experiments.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use mxpipe_store::Store;
use mxpipe_store::read::strings;
use serde_json::Value;

use crate::ExportError;

/// A stored object (latest committed version): type, key and JSON.
pub use mxpipe_store::StoredObject as Object;

/// One input of a processing job, resolved to a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingInput {
    /// Position among the job's inputs.
    pub list_index: i64,
    /// The sweep.
    pub sweep_uuid: String,
    /// First and last image the program reported reading (None: the whole sweep).
    pub images: Option<(i64, i64)>,
}

/// Everything committed in a store, indexed for exporters.
#[derive(Debug, Default)]
pub struct Records {
    /// Objects by uuid.
    pub objects: HashMap<String, Object>,
    /// (from uuid, field) → target uuids in list order.
    pub links: HashMap<(String, String), Vec<String>>,
    /// Processing uuid → its resolved inputs.
    pub inputs: HashMap<String, Vec<ProcessingInput>>,
    /// (to uuid, field) → uuids linking to it, sorted.
    pub reverse: HashMap<(String, String), Vec<String>>,
    /// Sweep uuid → processing jobs that read it, sorted.
    pub processing_of_sweep: HashMap<String, Vec<String>>,
}

/// Which experiments to export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// One experiment.
    pub experiment: Option<String>,
    /// A sample: the uuid of a sample or crystal, or a persistent sample identifier.
    pub sample: Option<String>,
    /// A session (visit label, e.g. `mx23694-12`).
    pub session: Option<String>,
    /// Experiments that started on or after this time (RFC 3339 or a date `YYYY-MM-DD`, UTC).
    pub since: Option<String>,
}

fn ints(b: &RecordBatch, i: usize) -> arrow::array::PrimitiveArray<Int64Type> {
    b.column(i).as_primitive::<Int64Type>().clone()
}

impl Records {
    /// Load from a store.
    pub async fn load(store: &Store) -> Result<Records, ExportError> {
        let latest = store.latest_objects().await?;
        let mut r = Records {
            objects: latest.objects,
            ..Records::default()
        };
        let mut ordered: HashMap<(String, String), BTreeMap<usize, String>> = HashMap::new();
        for l in latest.links {
            if let Some(to) = l.to {
                ordered
                    .entry((l.from, l.field))
                    .or_default()
                    .insert(l.index.unwrap_or(0), to);
            }
        }
        r.links = ordered
            .into_iter()
            .map(|(k, v)| (k, v.into_values().collect()))
            .collect();
        for ((from, field), targets) in &r.links {
            for t in targets {
                r.reverse
                    .entry((t.clone(), field.clone()))
                    .or_default()
                    .push(from.clone());
            }
        }
        for v in r.reverse.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        for b in store
            .query(mxpipe_store::links::PROCESSING_LINKS_SQL)
            .await?
        {
            let (p, kind, sweep) = (strings(&b, 0), strings(&b, 2), strings(&b, 8));
            let (index, first, last) = (ints(&b, 1), ints(&b, 5), ints(&b, 6));
            for i in 0..b.num_rows() {
                if sweep.is_null(i) {
                    continue;
                }
                let images = (kind.value(i) != "sweep" && !first.is_null(i) && !last.is_null(i))
                    .then(|| (first.value(i), last.value(i)));
                let input = ProcessingInput {
                    list_index: index.value(i),
                    sweep_uuid: sweep.value(i).to_owned(),
                    images,
                };
                let list = r.inputs.entry(p.value(i).to_owned()).or_default();
                if !list.contains(&input) {
                    list.push(input);
                }
            }
        }
        for (p, inputs) in &r.inputs {
            for i in inputs {
                r.processing_of_sweep
                    .entry(i.sweep_uuid.clone())
                    .or_default()
                    .push(p.clone());
            }
        }
        for v in r.processing_of_sweep.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        Ok(r)
    }

    /// The first link target of `field` of `uuid`.
    pub fn link(&self, uuid: &str, field: &str) -> Option<&str> {
        self.links
            .get(&(uuid.to_owned(), field.to_owned()))
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Objects of a type linking to `to` through `field` (e.g. sweeps whose `sourceRef` is an
    /// experiment), sorted by uuid for a stable order.
    pub fn linking_to(&self, mxlims_type: &str, field: &str, to: &str) -> Vec<&str> {
        self.reverse
            .get(&(to.to_owned(), field.to_owned()))
            .into_iter()
            .flatten()
            .filter(|from| {
                self.objects
                    .get(from.as_str())
                    .is_some_and(|o| o.mxlims_type == mxlims_type)
            })
            .map(String::as_str)
            .collect()
    }

    /// The object's JSON (Null when absent).
    pub fn json(&self, uuid: &str) -> &Value {
        self.objects.get(uuid).map_or(&Value::Null, |o| &o.json)
    }

    /// The experiments a filter selects, in start-time order.
    pub fn experiments(&self, filter: &Filter) -> Result<Vec<&str>, ExportError> {
        let since = filter.since.as_deref().map(parse_since).transpose()?;
        let mut out: Vec<(&str, &str)> = self
            .objects
            .iter()
            .filter(|(_, o)| o.mxlims_type == "MxExperiment")
            .filter(|(u, _)| filter.experiment.as_deref().is_none_or(|e| e == u.as_str()))
            .filter(|(u, _)| {
                filter
                    .sample
                    .as_deref()
                    .is_none_or(|wanted| self.uses_sample(u, wanted))
            })
            .filter(|(_, o)| {
                filter
                    .session
                    .as_deref()
                    .is_none_or(|v| session_label(&o.json).as_deref() == Some(v))
            })
            .filter(|(_, o)| {
                since.is_none_or(|s| {
                    o.json["startTime"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .is_some_and(|t| t.to_utc() >= s)
                })
            })
            .map(|(u, o)| (u.as_str(), o.json["startTime"].as_str().unwrap_or("")))
            .collect();
        out.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
        if out.is_empty() {
            let mut chosen: Vec<String> = [
                ("--experiment", &filter.experiment),
                ("--sample", &filter.sample),
                ("--session", &filter.session),
                ("--since", &filter.since),
            ]
            .into_iter()
            .filter_map(|(flag, v)| v.as_ref().map(|v| format!("{flag} {v}")))
            .collect();
            if chosen.is_empty() {
                chosen.push("(everything)".into());
            }
            return Err(ExportError::Selection(format!(
                "no stored experiment matches {}; `mxpipe query \"SELECT * FROM experiments\"` lists them",
                chosen.join(" ")
            )));
        }
        Ok(out.into_iter().map(|(u, _)| u).collect())
    }
}

impl Records {
    /// Does experiment `exp` use the sample or crystal `wanted` (uuid or persistent id)?
    fn uses_sample(&self, exp: &str, wanted: &str) -> bool {
        ["sampleRef", "logisticalSampleRef"].iter().any(|field| {
            self.link(exp, field).is_some_and(|u| {
                u == wanted
                    || self.json(u)["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"].as_str()
                        == Some(wanted)
            })
        })
    }
}

/// A map source path in a row context: `head/rest…` → `ctx[head]` then the JSON pointer `/rest…`
/// (Null when absent). The convention of every target's field map (`sweep/energy`, `stats/R_merge`).
pub fn context_value<'a>(ctx: &'a Value, source: &str) -> &'a Value {
    let (head, rest) = source.split_once('/').unwrap_or((source, ""));
    let base = &ctx[head];
    if rest.is_empty() {
        return base;
    }
    base.pointer(&format!("/{rest}")).unwrap_or(&Value::Null)
}

/// The visit label (`mx23694-12`) of an object's mxpipe.org session extension.
pub fn session_label(json: &Value) -> Option<String> {
    let s = &json["extensions"]["mxpipe.org"]["session"];
    let code = s["proposalCode"].as_str()?;
    Some(match s["visitNumber"].as_i64() {
        Some(n) => format!("{code}-{n}"),
        None => code.to_owned(),
    })
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, ExportError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| {
            ExportError::Selection(format!(
                "--since: expected a date YYYY-MM-DD or an RFC 3339 time; found {text:?}"
            ))
        })
}
