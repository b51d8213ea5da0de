//! The sample of a group: BLSample → MacromoleculeSample (what was mounted) + Crystal (the
//! physical crystal, named after the ISPyB Crystal row) + Pin (the BLSample's barcode, so
//! `barcode_reuse` sees legacy pins); Container → Puck; Protein → Macromolecule. Rows mxpipe
//! exported carry their uuids (`BLSample.comments`, `Crystal.crystalUUID`) and no Macromolecule
//! of their own (the exporter derives Protein from the sample).

use serde_json::{Value, json};

use super::batch::Batch;
use super::collection::{mxpipe_uuid, reference};
use super::read::{Row, int};
use super::rules::Tally;
use super::values::Values;
use super::{Settings, derived_uuid};

type Ids = Vec<(String, &'static str, i64)>;

impl Batch {
    /// Add the sample objects of BLSample `id` to `msg`; returns (sampleRef, logisticalSampleRef)
    /// and the id-map entries.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sample_objects(
        &self,
        msg: &mut Value,
        id: Option<i64>,
        group: &Row,
        proposal: &str,
        exp_uuid: &str,
        s: &Settings,
        t: &mut Tally,
    ) -> ((Value, Value), Ids) {
        let mut ids = Ids::new();
        let Some(id) = id else {
            return ((Value::Null, Value::Null), ids);
        };
        let Some(row) = self.samples.get(&id) else {
            t.warn(
                "dangling-keys",
                format!("blSampleId {id} names no BLSample row"),
            );
            return ((Value::Null, Value::Null), ids);
        };
        let v = Values::of(row, "BLSample", "blSampleId");
        let crystal = int(row, "crystalId").and_then(|c| self.crystals.get(&c));
        let protein = crystal
            .and_then(|c| int(c, "proteinId"))
            .and_then(|p| self.proteins.get(&p));
        let comment = v.raw("comments");
        let from_mxpipe = mxpipe_uuid(comment, "sample");
        let sample_uuid = match from_mxpipe {
            Some(u) => {
                t.applied("mxpipe-comments");
                u.to_owned()
            }
            None => derived_uuid(s, "BLSample", id),
        };
        let crystal_uuid = match (from_mxpipe, crystal.and_then(|c| c.get("crystalUUID"))) {
            (Some(_), Some(u)) if uuid::Uuid::parse_str(u).is_ok() => u.clone(),
            _ => derived_uuid(s, "BLSample/Crystal", id),
        };
        let (sk, xk, pk) = ("MacromoleculeSample1", "Crystal1", "Pin1");
        // mxpipe exported an experiment without a Crystal under its sample's uuid.
        let no_crystal = from_mxpipe.is_some() && crystal_uuid == sample_uuid;
        // What the protein is.
        let pv = protein.map(|p| Values::of(p, "Protein", "proteinId"));
        let acronym = pv.as_ref().and_then(|p| p.text("acronym", t));
        let pname = pv.as_ref().and_then(|p| p.text("name", t));
        let mut component = json!({"role": "target"});
        if let Some(a) = &acronym {
            component["acronym"] = json!(a);
        }
        let mut sample = json!({"mxlimsType": "MacromoleculeSample", "uuid": sample_uuid});
        if let Some(n) = v.text("name", t) {
            sample["name"] = json!(n);
        }
        if from_mxpipe.is_none() {
            if let Some(n) = &pname {
                component["name"] = json!(n);
            }
            if let Some(seq) = pv.as_ref().and_then(|p| p.text("sequence", t)) {
                component["sequence"] = json!(seq);
            }
            // Protein → Macromolecule (its acronym is required: the name stands in).
            if let (Some(p), Some(a)) = (&pv, acronym.as_ref().or(pname.as_ref())) {
                let mk = "Macromolecule1";
                let mut m = json!({"mxlimsType": "Macromolecule", "uuid": derived_uuid(s, "Protein", p.key), "acronym": a});
                if let Some(n) = &pname {
                    m["name"] = json!(n);
                }
                m["extensions"] = json!({"mxpipe.org": {"legacySource": {"catalogue": "ispyb", "instance": s.instance, "table": "Protein", "keys": [p.key]}}});
                msg["Macromolecule"][mk] = m;
                sample["parentSampleRef"] = reference("Macromolecule", mk);
                ids.push((
                    format!("Protein:{}@{proposal}", derived_uuid(s, "Protein", p.key)),
                    "Protein",
                    p.key,
                ));
            }
        } else if let Some(p) = &pv {
            ids.push((
                format!("Protein:{sample_uuid}@{proposal}"),
                "Protein",
                p.key,
            ));
        }
        if component.as_object().is_some_and(|o| o.len() > 1) {
            sample["components"] = json!([component]);
        }
        add_source(&mut sample, s, "BLSample", id);
        msg["MacromoleculeSample"][sk] = sample;

        let cv = crystal.map(|c| Values::of(c, "Crystal", "crystalId"));
        if no_crystal {
            ids.push((format!("BLSample:{sample_uuid}"), "BLSample", id));
            if let Some(c) = &cv {
                ids.push((format!("Crystal:{sample_uuid}"), "Crystal", c.key));
            }
            return ((reference("MacromoleculeSample", sk), Value::Null), ids);
        }
        let mut x = json!({"mxlimsType": "Crystal", "uuid": crystal_uuid, "sampleRef": reference("MacromoleculeSample", sk),
            "containerRef": reference("Pin", pk)});
        if let Some(n) = cv.as_ref().and_then(|c| c.text("name", t)) {
            x["name"] = json!(n);
        }
        let barcode = v.text("code", t);
        // The persistent id: the one mxpipe exported (the crystal's), else the crystal's uuid.
        let pid = comment
            .and_then(|c| c.split(" pid ").nth(1))
            .filter(|_| from_mxpipe.is_some())
            .map_or_else(
                || format!("urn:uuid:{crystal_uuid}"),
                |p| p.trim().to_owned(),
            );
        let mut identity = json!({"pid": pid, "scheme": scheme(&pid)});
        if let Some(b) = &barcode {
            identity["barcodeAtAssignment"] = json!(b);
        }
        x["extensions"] = json!({"mxpipe.org": {"sampleIdentity": identity}});
        if let Some(gb) = Values::of(group, "DataCollectionGroup", "dataCollectionGroupId")
            .text("actualSampleBarcode", t)
            && barcode.as_deref() != Some(gb.as_str())
        {
            t.warn("sample-consistency", format!("DataCollectionGroup {}: barcode {gb} at collection, BLSample {id} has {:?}; the sample's key kept", group.get("dataCollectionGroupId").map_or("?", String::as_str), barcode));
        }
        add_source(&mut x, s, "BLSample", id);
        msg["Crystal"][xk] = x;
        let mut pin = json!({"mxlimsType": "Pin", "uuid": derived_uuid(s, "BLSample/Pin", id), "sampleRef": reference("MacromoleculeSample", sk)});
        if let Some(b) = &barcode {
            pin["barcode"] = json!(b);
        }
        if let Some(loc) = v
            .raw("location")
            .and_then(|l| l.trim().parse::<i64>().ok())
            .filter(|l| *l > 0)
        {
            pin["positionInPuck"] = json!(loc);
        }
        for (k, col) in [("loopType", "loopType")] {
            if let Some(val) = v.text(col, t) {
                pin[k] = json!(val);
            }
        }
        if let Some(h) = v.positive("holderLength", t) {
            pin["holderLength"] = json!(h);
        }
        if let Some(c) = int(row, "containerId").and_then(|c| self.containers.get(&c)) {
            let cv = Values::of(c, "Container", "containerId");
            let mut puck =
                json!({"mxlimsType": "Puck", "uuid": derived_uuid(s, "Container", cv.key)});
            if let Some(b) = cv.text("barcode", t).or_else(|| cv.text("code", t)) {
                puck["barcode"] = json!(b);
            }
            add_source(&mut puck, s, "Container", cv.key);
            msg["Puck"]["Puck1"] = puck;
            pin["containerRef"] = reference("Puck", "Puck1");
        }
        add_source(&mut pin, s, "BLSample", id);
        msg["Pin"][pk] = pin;
        let sample_key = crystal_uuid.clone();
        ids.push((format!("BLSample:{sample_key}"), "BLSample", id));
        if let Some(c) = &cv {
            ids.push((format!("Crystal:{sample_key}"), "Crystal", c.key));
        }
        let _ = exp_uuid;
        (
            (
                reference("MacromoleculeSample", sk),
                reference("Crystal", xk),
            ),
            ids,
        )
    }
}

fn scheme(pid: &str) -> &'static str {
    if pid.starts_with("10.") || pid.contains("doi.org") {
        "doi"
    } else if pid.starts_with("urn:") {
        "urn"
    } else {
        "other"
    }
}

/// Record where an object came from: `extensions["mxpipe.org"].legacySource`.
pub(super) fn add_source(object: &mut Value, s: &Settings, table: &str, key: i64) {
    object["extensions"]["mxpipe.org"]["legacySource"] =
        json!({"catalogue": "ispyb", "instance": s.instance, "table": table, "keys": [key]});
}
