//! Export from the store back to an MXLIMS message: choose objects (an experiment with its
//! results, a sample, a shipment, a session), take each object's latest committed version, give
//! it a key (its original key where free) and rewrite links to those keys.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::read::{COMMITTED, strings};
use crate::{Result, Store, StoreError};

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// An experiment (or any job), its datasets, the processing that used them and its results,
    /// and everything these link to.
    Experiment(String),
    /// A sample, the jobs and logistical samples that name it (with their results), and
    /// everything these link to.
    Sample(String),
    /// A shipment, everything contained in it at any depth, and everything these link to.
    Shipment(String),
    /// Every experiment, processing job and shipment whose mxpipe session is this visit label
    /// (e.g. `mx23694-12`).
    Session(String),
    /// A processing job, its results (ReflectionSets), the sweeps it read (by `inputDataRefs`
    /// and by the images it reports, matched through `image_series`) and everything these link
    /// to — not the other jobs of those sweeps.
    Processing(String),
}

/// Fields followed backwards from an object to the data and jobs derived from it.
pub(crate) const RESULT_FIELDS: &[&str] = &[
    "sourceRef",
    "inputDataRefs",
    "derivedFromRef",
    "startedFromRef",
];

/// The latest committed version of a stored object.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// MXLIMS type.
    pub mxlims_type: String,
    /// Its key in the message it came from.
    pub key: String,
    /// Its JSON as stored.
    pub json: Value,
}

/// A link of the latest version of an object.
#[derive(Debug, Clone)]
pub struct Link {
    /// Linking object.
    pub from: String,
    /// Field (`sourceRef`, `inputDataRefs`, …).
    pub field: String,
    /// Position in a list field.
    pub index: Option<usize>,
    /// Target uuid (None when unresolved).
    pub to: Option<String>,
    /// Target type.
    pub to_type: String,
}

/// Every object's latest committed version and that version's links.
#[derive(Debug, Default)]
pub struct LatestObjects {
    /// Objects by uuid.
    pub objects: HashMap<String, StoredObject>,
    /// Links of those versions.
    pub links: Vec<Link>,
}

impl Store {
    /// The latest committed version of every object and its links (two queries).
    pub async fn latest_objects(&self) -> Result<LatestObjects> {
        let ctx = self.session().await?;
        latest_objects(&ctx).await
    }

    /// Build an MXLIMS message for a selection; errors if the selection matches nothing.
    pub async fn export_message(&self, selection: &Selection) -> Result<Value> {
        self.export_message_within(selection, None).await
    }
}

/// The links in a batch of `links` rows (`from_uuid, ingest_id, field, list_index, to_uuid,
/// to_type`) whose (linking object, run) `keep` accepts: the links of the versions asked for.
pub(crate) fn links_of_versions(
    b: &arrow::array::RecordBatch,
    keep: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Link>> {
    let (f, ing, field, to, to_type) = (
        strings(b, 0),
        strings(b, 1),
        strings(b, 2),
        strings(b, 4),
        strings(b, 5),
    );
    let index = b
        .column(3)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .ok_or_else(|| StoreError::Data("links.list_index is not int64".into()))?;
    Ok((0..b.num_rows())
        .filter(|&i| keep(f.value(i), ing.value(i)))
        .map(|i| Link {
            from: f.value(i).to_owned(),
            field: field.value(i).to_owned(),
            index: (!arrow::array::Array::is_null(index, i)).then(|| index.value(i) as usize),
            to: (!to.is_null(i)).then(|| to.value(i).to_owned()),
            to_type: to_type.value(i).to_owned(),
        })
        .collect())
}

/// The latest committed version of every object (later commits win) and that version's links.
async fn latest_objects(ctx: &datafusion::prelude::SessionContext) -> Result<LatestObjects> {
    // Latest committed version of every object.
    let sql = "SELECT o.uuid, o.ingest_id, o.mxlims_type, o.message_key, o.object_json FROM objects o \
               JOIN ingests i ON o.ingest_id = i.ingest_id ORDER BY i.committed_at";
    let mut latest: HashMap<String, (String, StoredObject)> = HashMap::new();
    for b in ctx.sql(sql).await?.collect().await? {
        let (u, ing, ty, key, js) = (
            strings(&b, 0),
            strings(&b, 1),
            strings(&b, 2),
            strings(&b, 3),
            strings(&b, 4),
        );
        for i in 0..b.num_rows() {
            let json: Value = serde_json::from_str(js.value(i)).map_err(|e| {
                StoreError::Data(format!(
                    "object {}: stored JSON unreadable: {e}",
                    u.value(i)
                ))
            })?;
            latest.insert(
                u.value(i).to_owned(),
                (
                    ing.value(i).to_owned(),
                    StoredObject {
                        mxlims_type: ty.value(i).to_owned(),
                        key: key.value(i).to_owned(),
                        json,
                    },
                ),
            );
        }
    }
    let mut links: Vec<Link> = Vec::new();
    let sql = format!(
        "SELECT from_uuid, ingest_id, field, list_index, to_uuid, to_type FROM links WHERE {COMMITTED}"
    );
    for b in ctx.sql(&sql).await?.collect().await? {
        // Only links of the latest version of each object.
        links.extend(links_of_versions(&b, |from, run| {
            latest
                .get(from)
                .is_some_and(|(ing_latest, _)| ing_latest == run)
        })?);
    }
    crate::sample_pids::overlay_minted(ctx, &mut latest).await?;
    Ok(LatestObjects {
        objects: latest.into_iter().map(|(k, (_, o))| (k, o)).collect(),
        links,
    })
}

/// The `to_type` of a link whose target the reader may not see: the reference is removed.
pub(crate) const HIDDEN: &str = "\u{0}hidden";

fn key_number(key: &str, ty: &str) -> u64 {
    key.strip_prefix(ty)
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

pub(crate) fn build_message(
    chosen: &HashSet<String>,
    objects: &HashMap<String, StoredObject>,
    links: &[Link],
    with_uuids: bool,
) -> Value {
    // Assign keys: original key where free, else the next free number.
    let mut by_type: BTreeMap<&str, Vec<(&String, &StoredObject)>> = BTreeMap::new();
    for u in chosen {
        if let Some(o) = objects.get(u) {
            by_type
                .entry(o.mxlims_type.as_str())
                .or_default()
                .push((u, o));
        }
    }
    let mut keys: HashMap<&str, String> = HashMap::new();
    for (ty, list) in &mut by_type {
        list.sort_by_key(|(u, o)| (key_number(&o.key, ty), (*u).clone()));
        let mut used: HashSet<String> = HashSet::new();
        let mut pending = Vec::new();
        for (u, o) in list.iter() {
            if key_number(&o.key, ty) != u64::MAX && used.insert(o.key.clone()) {
                keys.insert(u.as_str(), o.key.clone());
            } else {
                pending.push(u.as_str());
            }
        }
        let mut n = 1;
        for u in pending {
            while used.contains(&format!("{ty}{n}")) {
                n += 1;
            }
            used.insert(format!("{ty}{n}"));
            keys.insert(u, format!("{ty}{n}"));
        }
    }
    let mut stubs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut dicts: BTreeMap<&str, Vec<(String, Value)>> = BTreeMap::new();
    for (ty, list) in &by_type {
        for (u, o) in list {
            let mut json = o.json.clone();
            if with_uuids && let Some(m) = json.as_object_mut() {
                m.entry("uuid").or_insert_with(|| Value::from(u.as_str()));
            }
            // References to objects the reader may not see, removed last (list entries from the
            // end, so that the other indices stay right).
            let mut hidden: Vec<(&str, Option<usize>)> = Vec::new();
            for l in links.iter().filter(|l| &&l.from == u) {
                if l.to_type == HIDDEN {
                    hidden.push((&l.field, l.index));
                    continue;
                }
                let target = match l.to.as_deref() {
                    Some(to) if keys.contains_key(to) => {
                        format!("#/{}/{}", objects[to].mxlims_type, keys[to])
                    }
                    Some(to)
                        if ["Job", "Dataset", "Sample", "LogisticalSample"]
                            .contains(&l.to_type.as_str()) =>
                    {
                        let dict = stubs.entry(l.to_type.clone()).or_default();
                        let existing = dict
                            .iter()
                            .find(|(_, v)| v["uuid"] == to)
                            .map(|(k, _)| k.clone());
                        let key = existing.unwrap_or_else(|| {
                            let k = format!("{}{}", l.to_type, dict.len() + 1);
                            dict.insert(
                                k.clone(),
                                serde_json::json!({"mxlimsBaseType": l.to_type, "uuid": to}),
                            );
                            k
                        });
                        format!("#/{}/{key}", l.to_type)
                    }
                    _ => continue,
                };
                let slot = match l.index {
                    Some(i) => json.get_mut(&l.field).and_then(|a| a.get_mut(i)),
                    None => json.get_mut(&l.field),
                };
                if let Some(Value::Object(r)) = slot {
                    r.insert("$ref".into(), Value::from(target));
                }
            }
            hidden.sort_by_key(|h| std::cmp::Reverse(h.1));
            for (field, index) in hidden {
                match (index, json.as_object_mut()) {
                    (Some(i), Some(m)) => {
                        if let Some(Value::Array(list)) = m.get_mut(field)
                            && i < list.len()
                        {
                            list.remove(i);
                        }
                    }
                    (None, Some(m)) => {
                        m.remove(field);
                    }
                    _ => {}
                }
            }
            dicts
                .entry(ty)
                .or_default()
                .push((keys[u.as_str()].clone(), json));
        }
    }
    let mut out = Map::new();
    out.insert("version".into(), Value::from(mxpipe_model::MXLIMS_VERSION));
    for ty in mxpipe_model::OBJECT_DICTIONARIES {
        if let Some(list) = dicts.remove(ty) {
            out.insert((*ty).into(), Value::Object(list.into_iter().collect()));
        }
    }
    for (dict, entries) in stubs {
        out.insert(dict, Value::Object(entries));
    }
    Value::Object(out)
}
