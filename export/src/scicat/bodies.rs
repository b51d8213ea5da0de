//! Request bodies for SciCat, built from one unit's entities ([`crate::icat::graph`]): the
//! proposal, samples (`sampleId` = the persistent sample identifier), one raw dataset per sweep,
//! its origdatablock, one derived dataset per ReflectionSet. Pure: no I/O.

use serde_json::{Map, Value, json};

use super::map::{FIELDS, Leaf, SHELLS};
use crate::icat::graph::{self, Dataset, Investigation, ParamValue};
use crate::icat::map::Level;
use crate::records::{Records, context_value};

/// What the site sets (`[scicat]` in the configuration).
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// `owner` of every dataset (a person or the facility's data manager).
    pub owner: Option<String>,
    /// `ownerGroup` (default: the proposal code, as SciCat sites do).
    pub owner_group: Option<String>,
    /// `accessGroups` (default: the beamline, lower case).
    pub access_groups: Option<Vec<String>>,
    /// `contactEmail` of every dataset and the proposal.
    pub contact_email: Option<String>,
    /// Send `sampleName` (backend 5 requires it; 4.x refuses it as unknown).
    pub sample_name: bool,
    /// Prefix of the deterministic pids (`PREFIX/<uuid v5>`); without one the server assigns
    /// pids and the id map keeps them.
    pub pid_prefix: Option<String>,
}

/// What a dry run shows for a value the site has not set.
pub fn placeholder(setting: &str) -> String {
    format!("<set [scicat] {setting}>")
}

impl Site {
    fn owner_group(&self, inv: &Investigation) -> String {
        self.owner_group.clone().unwrap_or_else(|| inv.name.clone())
    }
    fn access_groups(&self, inv: &Investigation) -> Vec<String> {
        self.access_groups.clone().unwrap_or_else(|| {
            Some(inv.instrument.to_lowercase())
                .filter(|b| !b.is_empty() && b != "unknown")
                .into_iter()
                .collect()
        })
    }
    fn owner(&self) -> String {
        self.owner.clone().unwrap_or_else(|| placeholder("owner"))
    }
    fn contact(&self) -> String {
        self.contact_email
            .clone()
            .unwrap_or_else(|| placeholder("contact_email"))
    }
}

/// The deterministic pid of an mxpipe key (`raw:<sweep uuid>`, `processed:<set uuid>`):
/// `PREFIX/` + UUID v5 of the key in mxpipe's namespace.
pub fn dataset_pid(prefix: &str, key: &str) -> String {
    let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://mxpipe.org/scicat");
    format!(
        "{}/{}",
        prefix.trim_end_matches('/'),
        uuid::Uuid::new_v5(&ns, key.as_bytes())
    )
}

/// The keyword that names the mxpipe object a dataset holds (how a server-assigned pid is
/// found again).
pub fn key_keyword(key: &str) -> String {
    format!("mxpipe:{key}")
}

fn put(root: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts = path.split('/').peekable();
    let mut node = root;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            node.insert(p.to_owned(), v);
            return;
        }
        node = node
            .entry(p.to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("groups are objects");
    }
}

fn leaf(v: &Value, l: Leaf) -> Option<Value> {
    let plain = |p: ParamValue| match p {
        ParamValue::Number(n) => json!(n),
        ParamValue::Text(t) => json!(t),
    };
    match l {
        Leaf::Json => Some(v.clone()).filter(|v| !v.is_null()),
        Leaf::Plain(c) => graph::convert(v, c).map(|p| match (c, p) {
            (crate::icat::map::Conv::Int, ParamValue::Number(n)) => json!(n as i64),
            (crate::icat::map::Conv::Bool, _) => json!(v.as_bool()),
            (_, p) => plain(p),
        }),
        Leaf::Quantity(c, unit) => {
            graph::convert(v, c).map(|p| json!({"value": plain(p), "unit": unit}))
        }
    }
}

/// `scientificMetadata` of a dataset from its context (the map in [`super::map`]).
pub fn scientific_metadata(level: Level, ctx: &Value) -> Value {
    let shells: Vec<(&str, Option<&Value>)> = crate::ispyb::rows::ispyb_shells(&ctx["set"])
        .into_iter()
        .collect();
    let mut root = Map::new();
    for m in FIELDS.iter().filter(|m| m.level == level) {
        if m.path.contains("{shell}") {
            for (part, which) in SHELLS {
                let stats = shells.iter().find(|(k, _)| k == which).and_then(|s| s.1);
                let v = stats
                    .and_then(|st| st.pointer(m.source.strip_prefix("stats").unwrap_or(m.source)))
                    .unwrap_or(&Value::Null);
                if let Some(out) = leaf(v, m.leaf) {
                    put(&mut root, &m.path.replace("{shell}", part), out);
                }
            }
        } else if let Some(out) = leaf(context_value(ctx, m.source), m.leaf) {
            put(&mut root, m.path, out);
        }
    }
    Value::Object(root)
}

/// PaNET techniques of a sweep's experiment.
pub fn techniques(ctx: &Value) -> Value {
    let strategy = ctx["experiment"]["experimentStrategy"]
        .as_str()
        .unwrap_or_default()
        .to_uppercase();
    let mut out = vec![
        json!({"pid": "http://purl.org/pan-science/PaNET/PaNET01164", "name": "macromolecular crystallography"}),
    ];
    if strategy.contains("MAD") {
        out.push(json!({"pid": "http://purl.org/pan-science/PaNET/PaNET01165", "name": "multi-wavelength anomalous dispersion"}));
    } else if strategy.contains("SAD") {
        out.push(json!({"pid": "http://purl.org/pan-science/PaNET/PaNET01170", "name": "single-wavelength anomalous dispersion"}));
    }
    if !ctx["ssx"].is_null() {
        out.push(json!({"pid": "http://purl.org/pan-science/PaNET/PaNET01169", "name": "serial synchrotron crystallography"}));
    }
    Value::Array(out)
}

/// The proposal (created only when the account may).
pub fn proposal(site: &Site, inv: &Investigation) -> Value {
    let mut b = json!({
        "proposalId": inv.name, "ownerGroup": site.owner_group(inv), "accessGroups": site.access_groups(inv),
        "email": site.contact(), "title": format!("{} at {} {}", inv.name, inv.facility, inv.instrument),
    });
    for (k, v) in [("startTime", &inv.start), ("endTime", &inv.end)] {
        if let Some(t) = v {
            b[k] = json!(t);
        }
    }
    b
}

/// Keys SciCat would rewrite: dots (stored URL-encoded) become `_`, and in an object holding
/// keys starting with both `u` and `v` (which SciCat takes for a quantity and adds SI fields to)
/// those keys get an `mxlims_` prefix.
pub fn sanitize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let quantity_like =
                m.keys().any(|k| k.starts_with('u')) && m.keys().any(|k| k.starts_with('v'));
            Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let mut k = k.replace('.', "_");
                        if quantity_like && (k.starts_with('u') || k.starts_with('v')) {
                            k = format!("mxlims_{k}");
                        }
                        (k, sanitize(x))
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sanitize).collect()),
        other => other.clone(),
    }
}

/// A sample: `sampleId` = its persistent identifier, the MXLIMS object (and the macromolecule
/// it belongs to) in `sampleCharacteristics`.
pub fn sample(
    site: &Site,
    inv: &Investigation,
    r: &Records,
    uuid: &str,
    sample_id: &str,
    parent_id: Option<&str>,
) -> Value {
    let obj = r.json(uuid);
    let kind = obj["mxlimsType"].as_str().unwrap_or("Sample");
    let mut chars = json!({"mxlims_version": mxpipe_model::MXLIMS_VERSION, "mxlims_type": kind, "mxlims": sanitize(obj)});
    if let Some(m) = r.link(uuid, "parentSampleRef") {
        chars["macromolecule"] = sanitize(r.json(m));
    }
    let name = obj["name"].as_str().unwrap_or(uuid);
    let mut b = json!({
        "sampleId": sample_id, "ownerGroup": site.owner_group(inv), "accessGroups": site.access_groups(inv),
        "owner": site.owner(), "description": format!("{kind} {name}"), "type": kind,
        "proposalId": inv.name, "sampleCharacteristics": chars,
    });
    if let Some(p) = parent_id {
        b["parentSampleId"] = json!(p);
    }
    if site.sample_name {
        b["sampleName"] = json!(name);
    }
    b
}

/// What is known of one file: (size in bytes, sha256 hex if known, time RFC 3339).
pub type FileInfo = (i64, Option<String>, String);

/// A dataset body (without `pid` when the server assigns it).
pub fn dataset(
    site: &Site,
    inv: &Investigation,
    d: &Dataset,
    pid: Option<&str>,
    sample_ids: &[String],
    input_pids: &[String],
    creation_time: &str,
) -> Value {
    let source_folder = d.location.clone().unwrap_or_else(|| "/".to_owned());
    let mut b = json!({
        "type": if d.raw { "raw" } else { "derived" },
        "datasetName": d.name,
        "owner": site.owner(), "ownerGroup": site.owner_group(inv), "accessGroups": site.access_groups(inv),
        "contactEmail": site.contact(),
        "sourceFolder": source_folder, "creationTime": creation_time,
        "creationLocation": format!("/{}/{}", inv.facility, inv.instrument),
        "proposalIds": [inv.name], "sampleIds": sample_ids,
        "keywords": ["MX", key_keyword(&d.key)],
        "scientificMetadata": scientific_metadata(if d.raw { Level::Raw } else { Level::Processed }, &d.context),
    });
    if let Some(p) = pid {
        b["pid"] = json!(p);
    }
    for (k, v) in [("startTime", &d.start), ("endTime", &d.end)] {
        if let Some(t) = v {
            b[k] = json!(t);
        }
    }
    if d.raw {
        b["techniques"] = techniques(&d.context);
        b["description"] = json!(format!(
            "MX sweep {} ({} images)",
            d.name,
            d.context["sweep"]["numberImages"].as_i64().unwrap_or(0)
        ));
        if let Some(f) = d.files.first() {
            b["dataFormat"] = json!(f.format);
        }
    } else {
        let (program, version) = d.application.clone().unwrap_or_default();
        b["techniques"] = json!([{"pid": "http://purl.org/pan-science/PaNET/PaNET01164", "name": "macromolecular crystallography"}]);
        b["description"] = json!(format!(
            "{program} result from {} sweep(s)",
            input_pids.len()
        ));
        b["inputDatasets"] = json!(input_pids);
        b["usedSoftware"] = json!([format!("{program} {version}").trim()]);
        if let Some(cmd) =
            d.context["processing"]["extensions"]["mxpipe.org"]["commandLine"].as_str()
        {
            b["jobParameters"] = json!({"command_line": cmd});
        }
    }
    b
}

/// The origdatablock of a raw dataset: every file whose size is known, paths relative to the
/// dataset's folder, SHA-256 checksums where the store has them. `None` when no file is known.
pub fn datablock(
    site: &Site,
    inv: &Investigation,
    d: &Dataset,
    pid: &str,
    mut info: impl FnMut(&graph::Datafile) -> Option<FileInfo>,
) -> (Option<Value>, usize) {
    let folder = d.location.clone().unwrap_or_default();
    let mut files = Vec::new();
    let mut unknown = 0;
    let mut total = 0i64;
    for f in &d.files {
        let Some((size, sha, time)) = info(f) else {
            unknown += 1;
            continue;
        };
        let rel = f
            .location
            .strip_prefix(&format!("{}/", folder.trim_end_matches('/')))
            .unwrap_or(&f.location);
        let mut e = json!({"path": rel, "size": size, "time": time});
        if let Some(h) = sha {
            e["chk"] = json!(h);
        }
        total += size;
        files.push(e);
    }
    if files.is_empty() {
        return (None, unknown);
    }
    (
        Some(json!({
            "datasetId": pid, "size": total, "chkAlg": "sha256", "dataFileList": files,
            "ownerGroup": site.owner_group(inv), "accessGroups": site.access_groups(inv),
        })),
        unknown,
    )
}
