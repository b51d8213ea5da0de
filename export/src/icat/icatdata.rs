//! icatdata XML: python-icat's icatdump/icatingest format (`icatdata-6.2.xsd`, and 5.0 for older
//! servers; the entities written here are the same in both). One `<data>` block with every
//! entity in the order the schema's sequence demands (referenced before referencing; in each
//! entity: attributes alphabetically, then many-to-one, then one-to-many relations), references
//! by local `id`/`ref`. Multi-crystal merges and SSX keep every input through DataCollection +
//! DataCollectionDataset + Job (input and output collections).

use std::collections::{BTreeMap, HashMap};

use super::graph::{Dataset, Investigation, ParamValue, UnitGraph};
use crate::xml::Xml;

/// icatdata versions this writer produces.
pub const VERSIONS: &[&str] = &["6.2", "5.0"];

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}_{}", n + 1)
}

/// Interns values and numbers them in first-seen order.
struct Ids<K: Ord + Clone> {
    ids: BTreeMap<K, usize>,
    order: Vec<K>,
}

impl<K: Ord + Clone> Ids<K> {
    fn new() -> Self {
        Ids {
            ids: BTreeMap::new(),
            order: Vec::new(),
        }
    }
    fn get(&mut self, k: &K) -> usize {
        if let Some(i) = self.ids.get(k) {
            return *i;
        }
        let i = self.order.len();
        self.ids.insert(k.clone(), i);
        self.order.push(k.clone());
        i
    }
}

fn yes_no(b: bool) -> Option<String> {
    Some(b.to_string())
}

/// The whole export as one icatdata document.
pub fn write(units: &[UnitGraph], version: &str, generator: &str) -> Vec<u8> {
    let mut facilities = Ids::<String>::new();
    let mut instruments = Ids::<(String, String)>::new();
    let mut investigations = Ids::<(String, String, String)>::new();
    let mut investigation_of: HashMap<(String, String, String), Investigation> = HashMap::new();
    let mut param_types = Ids::<(String, String, String)>::new();
    let mut param_info: HashMap<(String, String, String), (&'static str, &'static str)> =
        HashMap::new();
    let mut sample_types = Ids::<(String, String)>::new();
    let mut formats = Ids::<(String, &'static str)>::new();
    let mut applications = Ids::<(String, String, String)>::new();
    let mut dataset_types = Ids::<(String, &'static str)>::new();
    // Samples and datasets by key (a merge's inputs may come from earlier units).
    let mut samples: Vec<(String, usize, super::graph::Sample, usize)> = Vec::new();
    let mut datasets: Vec<(&Dataset, usize)> = Vec::new();
    for u in units {
        let inv = &u.investigation;
        let f = inv.facility.clone();
        facilities.get(&f);
        instruments.get(&(f.clone(), inv.instrument.clone()));
        let ik = (f.clone(), inv.name.clone(), inv.visit_id.clone());
        let ii = investigations.get(&ik);
        investigation_of.entry(ik).or_insert_with(|| inv.clone());
        for s in &u.samples {
            if !samples.iter().any(|(k, i, _, _)| *k == s.key && *i == ii) {
                let t = sample_types.get(&(f.clone(), s.type_name.clone()));
                samples.push((s.key.clone(), ii, s.clone(), t));
            }
        }
        for d in &u.datasets {
            dataset_types.get(&(f.clone(), if d.raw { "raw" } else { "processed" }));
            for p in &d.params {
                let k = (f.clone(), p.name.clone(), p.map.units.to_owned());
                param_types.get(&k);
                param_info
                    .entry(k)
                    .or_insert((p.map.value_type(), super::map::description(&p.name)));
            }
            for file in &d.files {
                formats.get(&(f.clone(), file.format));
            }
            if let Some((name, version)) = &d.application {
                applications.get(&(f.clone(), name.clone(), version.clone()));
            }
            datasets.push((d, ii));
        }
    }
    let mut x = Xml::new();
    x.open("icatdata");
    x.open("head");
    x.leaf("date", Some(chrono::Utc::now().to_rfc3339()));
    x.leaf("apiversion", Some(format!("{version}.0")));
    x.leaf("generator", Some(generator.to_owned()));
    x.close("head");
    x.open("data");
    let facility_ref = |x: &mut Xml, f: &String, facilities: &mut Ids<String>| {
        let r = id("Facility", facilities.get(f));
        x.empty("facility", &[("ref", &r)]);
    };
    for (i, f) in facilities.order.clone().iter().enumerate() {
        x.open_with("facility", &[("id", &id("Facility", i))]);
        x.leaf("name", Some(f.clone()));
        x.close("facility");
    }
    for (i, (f, name)) in instruments.order.clone().iter().enumerate() {
        x.open_with("instrument", &[("id", &id("Instrument", i))]);
        x.leaf("name", Some(name.clone()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("instrument");
    }
    for (i, key) in param_types.order.clone().iter().enumerate() {
        let (f, name, units) = key;
        let (value_type, doc) = param_info[key];
        x.open_with("parameterType", &[("id", &id("ParameterType", i))]);
        x.leaf("applicableToDataCollection", yes_no(false));
        x.leaf("applicableToDatafile", yes_no(false));
        x.leaf("applicableToDataset", yes_no(true));
        x.leaf("applicableToInvestigation", yes_no(false));
        x.leaf("applicableToSample", yes_no(false));
        x.leaf("description", Some(doc.to_owned()));
        x.leaf("enforced", yes_no(false));
        x.leaf("name", Some(name.clone()));
        x.leaf("units", Some(units.clone()));
        x.leaf("valueType", Some(value_type.to_owned()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("parameterType");
    }
    let mut investigation_types = Ids::<String>::new();
    for (f, _, _) in &investigations.order {
        investigation_types.get(f);
    }
    for (i, f) in investigation_types.order.clone().iter().enumerate() {
        x.open_with("investigationType", &[("id", &id("InvestigationType", i))]);
        x.leaf("name", Some("experiment".into()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("investigationType");
    }
    for (i, (f, name)) in sample_types.order.clone().iter().enumerate() {
        x.open_with("sampleType", &[("id", &id("SampleType", i))]);
        x.leaf("molecularFormula", Some("N/A".into()));
        x.leaf("name", Some(name.clone()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("sampleType");
    }
    for (i, (f, name)) in dataset_types.order.clone().iter().enumerate() {
        x.open_with("datasetType", &[("id", &id("DatasetType", i))]);
        x.leaf("name", Some((*name).to_owned()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("datasetType");
    }
    for (i, (f, name)) in formats.order.clone().iter().enumerate() {
        x.open_with("datafileFormat", &[("id", &id("DatafileFormat", i))]);
        x.leaf("name", Some((*name).to_owned()));
        x.leaf("version", Some("N/A".into()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("datafileFormat");
    }
    for (i, (f, name, version)) in applications.order.clone().iter().enumerate() {
        x.open_with("application", &[("id", &id("Application", i))]);
        x.leaf("name", Some(name.clone()));
        x.leaf("version", Some(version.clone()));
        facility_ref(&mut x, f, &mut facilities);
        x.close("application");
    }
    for (i, key) in investigations.order.clone().iter().enumerate() {
        let inv = &investigation_of[key];
        x.open_with("investigation", &[("id", &id("Investigation", i))]);
        x.leaf("endDate", inv.end.clone());
        x.leaf("name", Some(inv.name.clone()));
        x.leaf("startDate", inv.start.clone());
        x.leaf(
            "title",
            Some(format!(
                "{} visit {} on {}",
                inv.name, inv.visit_id, inv.instrument
            )),
        );
        x.leaf("visitId", Some(inv.visit_id.clone()));
        facility_ref(&mut x, &key.0, &mut facilities);
        let t = id("InvestigationType", investigation_types.get(&key.0));
        x.empty("type", &[("ref", &t)]);
        x.close("investigation");
    }
    let mut sample_ids: HashMap<(String, usize), String> = HashMap::new();
    for (n, (key, inv, s, t)) in samples.iter().enumerate() {
        let sid = id("Sample", n);
        x.open_with("sample", &[("id", &sid)]);
        x.leaf("name", Some(s.name.clone()));
        x.leaf("pid", Some(s.pid.clone()));
        x.empty("investigation", &[("ref", &id("Investigation", *inv))]);
        x.empty("type", &[("ref", &id("SampleType", *t))]);
        x.close("sample");
        sample_ids.insert((key.clone(), *inv), sid);
    }
    let mut dataset_ids: HashMap<&str, String> = HashMap::new();
    for (n, (d, inv)) in datasets.iter().enumerate() {
        let did = id("Dataset", n);
        dataset_ids.insert(d.key.as_str(), did.clone());
        let f = &investigations.order[*inv].0;
        x.open_with("dataset", &[("id", &did)]);
        x.leaf("complete", yes_no(true));
        x.leaf("endDate", d.end.clone());
        x.leaf("location", d.location.clone());
        x.leaf("name", Some(d.name.clone()));
        x.leaf("startDate", d.start.clone());
        x.empty("investigation", &[("ref", &id("Investigation", *inv))]);
        if let Some(sid) = d
            .sample
            .as_ref()
            .and_then(|k| sample_ids.get(&(k.clone(), *inv)))
        {
            x.empty("sample", &[("ref", sid)]);
        }
        let t = dataset_types.get(&(f.clone(), if d.raw { "raw" } else { "processed" }));
        x.empty("type", &[("ref", &id("DatasetType", t))]);
        for file in &d.files {
            x.open("datafiles");
            x.leaf("checksum", file.checksum.clone());
            x.leaf("fileSize", file.size.map(|s| s.to_string()));
            x.leaf("location", Some(file.location.clone()));
            x.leaf("name", Some(file.name.clone()));
            let fmt = id("DatafileFormat", formats.get(&(f.clone(), file.format)));
            x.empty("datafileFormat", &[("ref", &fmt)]);
            x.close("datafiles");
        }
        let inst = (
            f.clone(),
            investigation_of[&investigations.order[*inv]]
                .instrument
                .clone(),
        );
        x.open("datasetInstruments");
        x.empty(
            "instrument",
            &[("ref", &id("Instrument", instruments.get(&inst)))],
        );
        x.close("datasetInstruments");
        for p in &d.params {
            x.open("parameters");
            match &p.value {
                ParamValue::Number(v) => x.leaf("numericValue", Some(v.to_string())),
                ParamValue::Text(t) => x.leaf("stringValue", Some(t.clone())),
            }
            let t = param_types.get(&(f.clone(), p.name.clone(), p.map.units.to_owned()));
            x.empty("type", &[("ref", &id("ParameterType", t))]);
            x.close("parameters");
        }
        x.close("dataset");
    }
    // Provenance of processed datasets: inputs → Job → output.
    let mut jobs = Vec::new();
    let mut collections = 0;
    for (d, inv) in &datasets {
        let Some((name, version)) = &d.application else {
            continue;
        };
        let f = &investigations.order[*inv].0;
        let input = id("DataCollection", collections);
        x.open_with("dataCollection", &[("id", &input)]);
        for k in &d.inputs {
            if let Some(did) = dataset_ids.get(k.as_str()) {
                x.open("dataCollectionDatasets");
                x.empty("dataset", &[("ref", did)]);
                x.close("dataCollectionDatasets");
            }
        }
        x.close("dataCollection");
        let output = id("DataCollection", collections + 1);
        collections += 2;
        x.open_with("dataCollection", &[("id", &output)]);
        x.open("dataCollectionDatasets");
        x.empty("dataset", &[("ref", &dataset_ids[d.key.as_str()])]);
        x.close("dataCollectionDatasets");
        x.close("dataCollection");
        let app = applications.get(&(f.clone(), name.clone(), version.clone()));
        jobs.push((id("Application", app), input, output));
    }
    for (app, input, output) in jobs {
        x.open("job");
        x.empty("application", &[("ref", &app)]);
        x.empty("inputDataCollection", &[("ref", &input)]);
        x.empty("outputDataCollection", &[("ref", &output)]);
        x.close("job");
    }
    x.close("data");
    x.close("icatdata");
    let mut out = x.finish();
    out.push(b'\n');
    out
}
