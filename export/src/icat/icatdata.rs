//! icatdata XML: python-icat's icatdump/icatingest format (`icatdata-6.2.xsd`, and 5.0 for older
//! servers; the entities written here are the same in both). Written as a stream: one `<data>`
//! block per unit (the schema allows any number), each holding the entities first needed by that
//! unit in the order the schema's sequence demands (referenced before referencing; in each entity:
//! attributes alphabetically, then many-to-one, then one-to-many relations), references by local
//! `id`/`ref` to this or any earlier block — so memory stays bounded by one unit, whatever the
//! size of the export. Multi-crystal merges and SSX keep every input through DataCollection +
//! DataCollectionDataset + Job (input and output collections).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::graph::{Investigation, ParamValue, UnitGraph};
use crate::xml::Xml;

/// icatdata versions this writer produces.
pub const VERSIONS: &[&str] = &["6.2", "5.0"];

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}_{}", n + 1)
}

/// Interns values, numbers them in first-seen order, and remembers which were written.
struct Ids<K: Ord + Clone> {
    ids: BTreeMap<K, usize>,
    order: Vec<K>,
    written: usize,
}

impl<K: Ord + Clone> Ids<K> {
    fn new() -> Self {
        Ids {
            ids: BTreeMap::new(),
            order: Vec::new(),
            written: 0,
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
    /// Entries not written yet, with their numbers; marks them written.
    fn fresh(&mut self) -> Vec<(usize, K)> {
        let out = (self.written..self.order.len())
            .map(|i| (i, self.order[i].clone()))
            .collect();
        self.written = self.order.len();
        out
    }
}

fn yes_no(b: bool) -> Option<String> {
    Some(b.to_string())
}

type ParamKey = (String, String, String);

/// A streaming icatdata writer: [`IcatdataWriter::head`], one [`IcatdataWriter::unit`] per unit,
/// [`IcatdataWriter::tail`]; each returns the bytes to append to the file.
pub struct IcatdataWriter {
    version: String,
    generator: String,
    facilities: Ids<String>,
    instruments: Ids<(String, String)>,
    investigations: Ids<(String, String, String)>,
    investigation_of: HashMap<(String, String, String), Investigation>,
    investigation_types: Ids<String>,
    param_types: Ids<ParamKey>,
    param_info: HashMap<ParamKey, (&'static str, &'static str)>,
    sample_types: Ids<(String, String)>,
    formats: Ids<(String, &'static str)>,
    applications: Ids<(String, String, String)>,
    dataset_types: Ids<(String, &'static str)>,
    samples_written: HashMap<(String, usize), String>,
    n_samples: usize,
    dataset_ids: HashMap<String, String>,
    n_datasets: usize,
    n_collections: usize,
}

impl IcatdataWriter {
    /// A writer for icatdata `version` (one of [`VERSIONS`]).
    pub fn new(version: &str, generator: &str) -> IcatdataWriter {
        IcatdataWriter {
            version: version.to_owned(),
            generator: generator.to_owned(),
            facilities: Ids::new(),
            instruments: Ids::new(),
            investigations: Ids::new(),
            investigation_of: HashMap::new(),
            investigation_types: Ids::new(),
            param_types: Ids::new(),
            param_info: HashMap::new(),
            sample_types: Ids::new(),
            formats: Ids::new(),
            applications: Ids::new(),
            dataset_types: Ids::new(),
            samples_written: HashMap::new(),
            n_samples: 0,
            dataset_ids: HashMap::new(),
            n_datasets: 0,
            n_collections: 0,
        }
    }

    /// The declaration, `<icatdata>` and `<head>`.
    pub fn head(&self) -> Vec<u8> {
        let mut x = Xml::new();
        x.open("icatdata");
        x.open("head");
        x.leaf("date", Some(chrono::Utc::now().to_rfc3339()));
        x.leaf("apiversion", Some(format!("{}.0", self.version)));
        x.leaf("generator", Some(self.generator.clone()));
        x.close("head");
        let mut out = x.finish();
        out.push(b'\n');
        out
    }

    /// `</icatdata>`.
    pub fn tail(&self) -> Vec<u8> {
        b"</icatdata>\n".to_vec()
    }

    fn facility_ref(&mut self, x: &mut Xml, f: &String) {
        let r = id("Facility", self.facilities.get(f));
        x.empty("facility", &[("ref", &r)]);
    }

    /// One `<data>` block with what `u` needs and was not written before.
    pub fn unit(&mut self, u: &UnitGraph) -> Vec<u8> {
        let inv = &u.investigation;
        let f = inv.facility.clone();
        self.facilities.get(&f);
        self.instruments.get(&(f.clone(), inv.instrument.clone()));
        let ik = (f.clone(), inv.name.clone(), inv.visit_id.clone());
        let ii = self.investigations.get(&ik);
        self.investigation_types.get(&f);
        self.investigation_of
            .entry(ik)
            .or_insert_with(|| inv.clone());
        let mut new_samples = Vec::new();
        let mut seen = HashSet::new();
        for s in &u.samples {
            let t = self.sample_types.get(&(f.clone(), s.type_name.clone()));
            if !self.samples_written.contains_key(&(s.key.clone(), ii)) && seen.insert(&s.key) {
                new_samples.push((s, t));
            }
        }
        for d in &u.datasets {
            self.dataset_types
                .get(&(f.clone(), if d.raw { "raw" } else { "processed" }));
            for p in &d.params {
                let k = (f.clone(), p.name.clone(), p.map.units.to_owned());
                self.param_types.get(&k);
                self.param_info
                    .entry(k)
                    .or_insert_with(|| (p.map.value_type(), super::map::description(&p.name)));
            }
            for file in &d.files {
                self.formats.get(&(f.clone(), file.format));
            }
            if let Some((name, version)) = &d.application {
                self.applications
                    .get(&(f.clone(), name.clone(), version.clone()));
            }
        }
        let mut x = Xml::new_fragment();
        x.open("data");
        for (i, name) in self.facilities.fresh() {
            x.open_with("facility", &[("id", &id("Facility", i))]);
            x.leaf("name", Some(name));
            x.close("facility");
        }
        for (i, (fac, name)) in self.instruments.fresh() {
            x.open_with("instrument", &[("id", &id("Instrument", i))]);
            x.leaf("name", Some(name));
            self.facility_ref(&mut x, &fac);
            x.close("instrument");
        }
        for (i, key) in self.param_types.fresh() {
            let (value_type, doc) = self.param_info[&key];
            let (fac, name, units) = key;
            x.open_with("parameterType", &[("id", &id("ParameterType", i))]);
            x.leaf("applicableToDataCollection", yes_no(false));
            x.leaf("applicableToDatafile", yes_no(false));
            x.leaf("applicableToDataset", yes_no(true));
            x.leaf("applicableToInvestigation", yes_no(false));
            x.leaf("applicableToSample", yes_no(false));
            x.leaf("description", Some(doc.to_owned()));
            x.leaf("enforced", yes_no(false));
            x.leaf("name", Some(name));
            x.leaf("units", Some(units));
            x.leaf("valueType", Some(value_type.to_owned()));
            self.facility_ref(&mut x, &fac);
            x.close("parameterType");
        }
        for (i, fac) in self.investigation_types.fresh() {
            x.open_with("investigationType", &[("id", &id("InvestigationType", i))]);
            x.leaf("name", Some("experiment".into()));
            self.facility_ref(&mut x, &fac);
            x.close("investigationType");
        }
        for (i, (fac, name)) in self.sample_types.fresh() {
            x.open_with("sampleType", &[("id", &id("SampleType", i))]);
            x.leaf("molecularFormula", Some("N/A".into()));
            x.leaf("name", Some(name));
            self.facility_ref(&mut x, &fac);
            x.close("sampleType");
        }
        for (i, (fac, name)) in self.dataset_types.fresh() {
            x.open_with("datasetType", &[("id", &id("DatasetType", i))]);
            x.leaf("name", Some(name.to_owned()));
            self.facility_ref(&mut x, &fac);
            x.close("datasetType");
        }
        for (i, (fac, name)) in self.formats.fresh() {
            x.open_with("datafileFormat", &[("id", &id("DatafileFormat", i))]);
            x.leaf("name", Some(name.to_owned()));
            x.leaf("version", Some("N/A".into()));
            self.facility_ref(&mut x, &fac);
            x.close("datafileFormat");
        }
        for (i, (fac, name, version)) in self.applications.fresh() {
            x.open_with("application", &[("id", &id("Application", i))]);
            x.leaf("name", Some(name));
            x.leaf("version", Some(version));
            self.facility_ref(&mut x, &fac);
            x.close("application");
        }
        for (i, key) in self.investigations.fresh() {
            let inv = self.investigation_of[&key].clone();
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
            self.facility_ref(&mut x, &key.0);
            let t = id("InvestigationType", self.investigation_types.get(&key.0));
            x.empty("type", &[("ref", &t)]);
            x.close("investigation");
        }
        for (s, t) in new_samples {
            let sid = id("Sample", self.n_samples);
            self.n_samples += 1;
            x.open_with("sample", &[("id", &sid)]);
            x.leaf("name", Some(s.name.clone()));
            x.leaf("pid", Some(s.pid.clone()));
            x.empty("investigation", &[("ref", &id("Investigation", ii))]);
            x.empty("type", &[("ref", &id("SampleType", t))]);
            x.close("sample");
            self.samples_written.insert((s.key.clone(), ii), sid);
        }
        let instrument = id(
            "Instrument",
            self.instruments.get(&(f.clone(), inv.instrument.clone())),
        );
        for d in &u.datasets {
            let did = id("Dataset", self.n_datasets);
            self.n_datasets += 1;
            self.dataset_ids.insert(d.key.clone(), did.clone());
            x.open_with("dataset", &[("id", &did)]);
            x.leaf("complete", yes_no(true));
            x.leaf("endDate", d.end.clone());
            x.leaf("location", d.location.clone());
            x.leaf("name", Some(d.name.clone()));
            x.leaf("startDate", d.start.clone());
            x.empty("investigation", &[("ref", &id("Investigation", ii))]);
            if let Some(sid) = d
                .sample
                .as_ref()
                .and_then(|k| self.samples_written.get(&(k.clone(), ii)))
            {
                x.empty("sample", &[("ref", sid)]);
            }
            let t = self
                .dataset_types
                .get(&(f.clone(), if d.raw { "raw" } else { "processed" }));
            x.empty("type", &[("ref", &id("DatasetType", t))]);
            for file in &d.files {
                x.open("datafiles");
                x.leaf("checksum", file.checksum.clone());
                x.leaf("fileSize", file.size.map(|s| s.to_string()));
                x.leaf("location", Some(file.location.clone()));
                x.leaf("name", Some(file.name.clone()));
                let fmt = id(
                    "DatafileFormat",
                    self.formats.get(&(f.clone(), file.format)),
                );
                x.empty("datafileFormat", &[("ref", &fmt)]);
                x.close("datafiles");
            }
            x.open("datasetInstruments");
            x.empty("instrument", &[("ref", &instrument)]);
            x.close("datasetInstruments");
            for p in &d.params {
                x.open("parameters");
                match &p.value {
                    ParamValue::Number(v) => x.leaf("numericValue", Some(v.to_string())),
                    ParamValue::Text(t) => x.leaf("stringValue", Some(t.clone())),
                }
                let t = self
                    .param_types
                    .get(&(f.clone(), p.name.clone(), p.map.units.to_owned()));
                x.empty("type", &[("ref", &id("ParameterType", t))]);
                x.close("parameters");
            }
            x.close("dataset");
        }
        // Provenance of processed datasets: inputs → Job → output.
        let mut jobs = Vec::new();
        for d in &u.datasets {
            let Some((name, version)) = &d.application else {
                continue;
            };
            let input = id("DataCollection", self.n_collections);
            x.open_with("dataCollection", &[("id", &input)]);
            for k in &d.inputs {
                if let Some(did) = self.dataset_ids.get(k) {
                    x.open("dataCollectionDatasets");
                    x.empty("dataset", &[("ref", did)]);
                    x.close("dataCollectionDatasets");
                }
            }
            x.close("dataCollection");
            let output = id("DataCollection", self.n_collections + 1);
            self.n_collections += 2;
            x.open_with("dataCollection", &[("id", &output)]);
            x.open("dataCollectionDatasets");
            x.empty("dataset", &[("ref", &self.dataset_ids[&d.key])]);
            x.close("dataCollectionDatasets");
            x.close("dataCollection");
            let app = self
                .applications
                .get(&(f.clone(), name.clone(), version.clone()));
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
        let mut out = x.finish();
        out.push(b'\n');
        out
    }
}
