//! One DataCollectionGroup → one MXLIMS message: the experiment, its sweeps (DataCollections
//! regrouped into wedges), its sample (BLSample → MacromoleculeSample, Crystal, Pin; Container →
//! Puck; Protein → Macromolecule) and the session. Processing is added by
//! [`super::processing`].

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::batch::Batch;
use super::read::{Row, int};
use super::rules::Tally;
use super::values::Values;
use super::{Settings, derived_uuid};

/// A DataCollection as placed in the message: its sweep and the scans it became.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Key of the sweep in the message (`CollectionSweep<n>`).
    pub sweep_key: String,
    /// The sweep's uuid.
    pub sweep_uuid: String,
    /// Ordinal of the DataCollection's first scan.
    pub ordinal: i64,
    /// First image number.
    pub first: i64,
    /// Last image number.
    pub last: i64,
}

/// One group's message under construction.
pub struct GroupMessage {
    /// DataCollectionGroup id.
    pub group: i64,
    /// The MXLIMS message.
    pub value: Value,
    /// Id-map entries: (exporter key, ISPyB table, primary key).
    pub ids: Vec<(String, &'static str, i64)>,
    /// Where each DataCollection went.
    pub placed: HashMap<i64, Placed>,
    /// Experiment key and uuid.
    pub experiment: (String, String),
    /// The session extension (for processing).
    pub session: Value,
    /// Sample references (sampleRef, logisticalSampleRef) for processing.
    pub sample_refs: (Value, Value),
    /// The sample key the exporter uses (crystal uuid, else sample uuid, else experiment).
    pub proposal: String,
}

/// `mxpipe <what> <uuid>` at the start of a comment written by mxpipe's exporter.
pub fn mxpipe_uuid<'a>(comment: Option<&'a str>, what: &str) -> Option<&'a str> {
    let rest = comment?
        .strip_prefix("mxpipe ")?
        .strip_prefix(what)?
        .strip_prefix(' ')?;
    let u = rest.get(..36)?;
    uuid::Uuid::parse_str(u).ok().map(|_| u)
}

fn r(dict: &str, key: &str) -> Value {
    json!({"$ref": format!("#/{dict}/{key}")})
}

/// `cm14451-1`: letters, digits, a hyphen, digits.
pub(super) fn is_visit_label(seg: &str) -> bool {
    let Some((p, v)) = seg.rsplit_once('-') else {
        return false;
    };
    let letters = p.len()
        - p.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .len();
    letters > 0
        && p.len() > letters
        && p[letters..].chars().all(|c| c.is_ascii_digit())
        && !v.is_empty()
        && v.chars().all(|c| c.is_ascii_digit())
}

/// `x_####.cbf` → `x_%04d.cbf`.
pub fn printf_template(t: &str) -> String {
    match (t.find('#'), t.rfind('#')) {
        (Some(a), Some(b)) if t[a..=b].chars().all(|c| c == '#') => {
            format!("{}%0{}d{}", &t[..a], b - a + 1, &t[b + 1..])
        }
        _ => t.to_owned(),
    }
}

/// The experiment strategy of an ISPyB experiment type (the exporter's table read backwards).
fn strategy(ty: &str, interleaved: bool) -> Option<String> {
    let lower = ty.to_ascii_lowercase();
    let s = match lower.as_str() {
        "osc" => "OSC",
        "sad" => "SAD",
        "mad" if interleaved => "MAD.interleaved",
        "mad" => "MAD",
        "collect - multiwedge" => "MultiSweep",
        "sad - inverse beam" => "SAD.inverse-beam",
        "characterization" | "characterisation" => "Characterisation",
        "helical" => "Helical",
        "mesh" => "Mesh",
        "screening" => "Screening",
        "ssx-chip" => "SSX.fixed-target",
        "ssx-jet" => "SSX.jet",
        "" => return None,
        _ => ty,
    };
    Some(s.to_owned())
}

impl Batch {
    /// The message of group `g`.
    pub fn group_message(&self, g: &Row, s: &Settings, t: &mut Tally) -> Option<GroupMessage> {
        let gv = Values::of(g, "DataCollectionGroup", "dataCollectionGroupId");
        let group = gv.key;
        let dc_ids = self.group_dcs.get(&group).cloned().unwrap_or_default();
        if dc_ids.is_empty() {
            t.warn(
                "dangling-keys",
                format!("DataCollectionGroup {group} has no DataCollection: nothing to import"),
            );
            return None;
        }
        let dcs: Vec<&Row> = dc_ids.iter().filter_map(|id| self.dcs.get(id)).collect();
        let comment = gv.raw("comments");
        let exp_uuid = match mxpipe_uuid(comment, "experiment") {
            Some(u) => {
                t.applied("mxpipe-comments");
                u.to_owned()
            }
            None => derived_uuid(s, "DataCollectionGroup", group),
        };
        let mut msg = json!({"version": mxpipe_model::MXLIMS_VERSION});
        let mut ids = vec![(
            format!("DataCollectionGroup:{exp_uuid}"),
            "DataCollectionGroup",
            group,
        )];

        // Session: from the group's key, else the first collection's.
        let session_id = int(g, "sessionId").or_else(|| int(dcs[0], "SESSIONID"));
        let (session, proposal) = self.session_ext(session_id, s, t, group);
        if let Some(n) = session["visitNumber"].as_i64() {
            let visit = format!("{proposal}-{n}");
            let other = dcs.iter().find_map(|d| {
                d.get("imageDirectory")?
                    .split('/')
                    .find(|seg| is_visit_label(seg) && **seg != visit)
            });
            if let Some(other) = other {
                t.warn("visit-from-keys", format!("DataCollectionGroup {group} is in visit {visit} by its keys; its images are under {other}: the keys win"));
            }
        }
        // Sample.
        let sample_id =
            int(g, "blSampleId").or_else(|| dcs.iter().find_map(|d| int(d, "BLSAMPLEID")));
        let (sample_refs, sample_ids) =
            self.sample_objects(&mut msg, sample_id, g, &proposal, &exp_uuid, s, t);
        ids.extend(sample_ids);

        // Sweeps.
        let ty = gv.text("experimentType", t).unwrap_or_default();
        if !ty.is_empty() {
            t.applied("experiment-type-by-name");
        }
        let ssx = self.ssx_of(&dc_ids, &ty);
        let (placed, interleaved, times) = self.sweeps(
            &mut msg,
            &dcs,
            group,
            &ty,
            ssx.is_some(),
            &sample_refs.1,
            s,
            t,
            &mut ids,
        );
        let exp_key = "MxExperiment1".to_owned();
        let mut ext = Map::new();
        if !session.is_null() {
            ext.insert("session".into(), session.clone());
        }
        if let Some(x) = ssx {
            ext.insert("ssx".into(), x);
        }
        // Aborted or failed when any collection was; completed when every one succeeded.
        let statuses: Vec<String> = dcs
            .iter()
            .filter_map(|d| d.get("runStatus"))
            .map(|st| st.to_ascii_lowercase())
            .collect();
        let status = if statuses.iter().any(|x| x.contains("abort")) {
            Some("Aborted")
        } else if statuses.iter().any(|x| x.contains("fail")) {
            Some("Failed")
        } else if !statuses.is_empty() && statuses.iter().all(|x| x.contains("success")) {
            Some("Completed")
        } else {
            None
        };
        let start = gv.time("startTime", s.timezone, t).or(times.0);
        let end = gv.time("endTime", s.timezone, t).or(times.1);
        let mut e = json!({"mxlimsType": "MxExperiment", "uuid": exp_uuid});
        if let Some(st) = strategy(&ty, interleaved) {
            e["experimentStrategy"] = json!(st);
        }
        for (k, v) in [("startTime", start), ("endTime", end)] {
            if let Some(v) = v {
                e[k] = json!(v);
            }
        }
        if let Some(st) = status {
            e["jobStatus"] = json!(st);
        }
        if !sample_refs.0.is_null() {
            e["sampleRef"] = sample_refs.0.clone();
        }
        if !sample_refs.1.is_null() {
            e["logisticalSampleRef"] = sample_refs.1.clone();
        }
        ext.insert("legacySource".into(), json!({"catalogue": "ispyb", "instance": s.instance, "table": "DataCollectionGroup", "keys": [group]}));
        e["extensions"] = json!({"mxpipe.org": ext});
        msg["MxExperiment"][&exp_key] = e;
        Some(GroupMessage {
            group,
            value: msg,
            ids,
            placed,
            experiment: (exp_key, exp_uuid),
            session,
            sample_refs,
            proposal,
        })
    }

    /// The session extension and the proposal code (`cm14451`).
    fn session_ext(
        &self,
        id: Option<i64>,
        s: &Settings,
        t: &mut Tally,
        group: i64,
    ) -> (Value, String) {
        let Some(row) = id.and_then(|i| self.sessions.get(&i)) else {
            t.warn("dangling-keys", format!("DataCollectionGroup {group}: no session (sessionId {id:?}); imported without one"));
            return (Value::Null, String::new());
        };
        let v = Values::of(row, "BLSession", "sessionId");
        let prop = int(row, "proposalId").and_then(|p| self.proposals.get(&p));
        let Some(prop) = prop else {
            t.warn(
                "dangling-keys",
                format!(
                    "BLSession {}: no proposal row; imported without a session",
                    v.key
                ),
            );
            return (Value::Null, String::new());
        };
        let pv = Values::of(prop, "Proposal", "proposalId");
        let code = format!(
            "{}{}",
            pv.text("proposalCode", t).unwrap_or_default(),
            pv.text("proposalNumber", t).unwrap_or_default()
        );
        t.applied("visit-from-keys");
        let mut ext = json!({"proposalCode": code});
        if let Some(n) = v.int("visit_number", t).filter(|n| *n > 0) {
            ext["visitNumber"] = json!(n);
        }
        if let Some(f) = &s.facility {
            ext["facility"] = json!(f);
        }
        if let Some(b) = v.text("beamLineName", t) {
            ext["beamline"] = json!(b);
        }
        for (k, col) in [("startTime", "startDate"), ("endTime", "endDate")] {
            if let Some(x) = v.time(col, s.timezone, t) {
                ext[k] = json!(x);
            }
        }
        (ext, code)
    }

    /// The SSX extension when the group is an SSX run.
    fn ssx_of(&self, dc_ids: &[i64], ty: &str) -> Option<Value> {
        let row = dc_ids.iter().find_map(|d| self.ssx.get(d))?;
        let method = if ty.to_ascii_lowercase().contains("jet") {
            "jet"
        } else {
            "fixed-target"
        };
        let mut x = json!({"deliveryMethod": method});
        for (k, col) in [
            ("sampleHolding", "chipModel"),
            ("deliveryDescription", "chipPattern"),
        ] {
            if let Some(v) = row.get(col).filter(|v| !v.trim().is_empty()) {
                x[k] = json!(v);
            }
        }
        if let Some(f) = row
            .get("repetitionRate")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| *f > 0.0)
        {
            x["frameRateHz"] = json!(f);
        }
        Some(x)
    }
}

/// A `$ref` to `#/dict/key`.
pub(super) fn reference(dict: &str, key: &str) -> Value {
    r(dict, key)
}
