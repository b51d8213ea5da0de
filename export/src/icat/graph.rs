//! One unit (an experiment and the processing it completes) as ICAT entities: the investigation
//! of its session, one Sample per crystal, one raw Dataset per sweep and one processed Dataset per
//! ReflectionSet with every input sweep, parameters through [`super::map`]. Pure: the writers
//! (icatdata XML, ESRF messages) turn it into files.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::map::{self, Conv, Level};
use crate::records::{Records, context_value};

/// Values the mapping needs from the site.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Facility name (default: the session's facility).
    pub facility: Option<String>,
    /// Used when neither `facility` nor the session names one (a dry run's placeholder); without
    /// it such an experiment is an error.
    pub fallback_facility: Option<String>,
    /// Detector pixel size (mm) for sweeps whose files state none (see `crate::detector`).
    pub pixel_size_mm: Option<f64>,
}

/// The investigation (one per session).
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    /// Facility name.
    pub facility: String,
    /// Proposal code, e.g. `mx23694`.
    pub name: String,
    /// Visit number as text (`1` when the session has none).
    pub visit_id: String,
    /// Instrument = beamline.
    pub instrument: String,
    /// Session start and end (RFC 3339).
    pub start: Option<String>,
    /// Session end.
    pub end: Option<String>,
}

/// A sample (one per crystal).
#[derive(Debug, Clone)]
pub struct Sample {
    /// mxpipe uuid of the crystal (of the sample when there is no crystal).
    pub key: String,
    /// Name (unique in the investigation).
    pub name: String,
    /// Persistent sample identifier (`urn:uuid:<uuid>` when none was assigned).
    pub pid: String,
    /// SampleType name (the macromolecule).
    pub type_name: String,
    /// The sample a crystal was grown from (its uuid), when the model records one.
    pub parent: Option<String>,
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// NUMERIC.
    Number(f64),
    /// STRING.
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Text(t) => f.write_str(t),
        }
    }
}

/// One DatasetParameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// ParameterType name.
    pub name: String,
    /// Its row in the map.
    pub map: &'static map::ParamMap,
    /// Value.
    pub value: ParamValue,
}

/// One Datafile.
#[derive(Debug, Clone)]
pub struct Datafile {
    /// File name.
    pub name: String,
    /// Absolute path.
    pub location: String,
    /// Size in bytes (when the store has read the file).
    pub size: Option<i64>,
    /// `sha256:<hex>` (when the store has read the file).
    pub checksum: Option<String>,
    /// DatafileFormat name (`NeXus`, `CBF`).
    pub format: &'static str,
}

/// One Dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `raw:<sweep uuid>` or `processed:<reflection set uuid>`.
    pub key: String,
    /// Name (unique in the investigation once the target has checked it).
    pub name: String,
    /// Raw (a sweep) or processed.
    pub raw: bool,
    /// Folder.
    pub location: Option<String>,
    /// Start (RFC 3339).
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// Sample key.
    pub sample: Option<String>,
    /// Every sample it holds or used (all crystals of a merge), first the one in `sample`.
    pub samples: Vec<String>,
    /// Parameters, one per type.
    pub params: Vec<Param>,
    /// Files.
    pub files: Vec<Datafile>,
    /// Processed: keys of the raw datasets it read (every crystal of a merge).
    pub inputs: Vec<String>,
    /// Processed: (program, version).
    pub application: Option<(String, String)>,
    /// The context its values come from (`sweep`, `experiment`, `set`, `derived`, …; see
    /// [`super::map`]): other catalogues map their own fields from the same context.
    pub context: Value,
}

/// The entities of one unit.
#[derive(Debug, Clone)]
pub struct UnitGraph {
    /// Its investigation.
    pub investigation: Investigation,
    /// Samples (crystals) it uses.
    pub samples: Vec<Sample>,
    /// Raw datasets, then processed ones.
    pub datasets: Vec<Dataset>,
}

/// Builds each unit's entities with names unique in their investigations: what every ICAT
/// output does first with a unit.
pub struct Builder {
    /// Site settings.
    pub settings: Settings,
    /// File sizes and checksums from the store.
    pub facts: FileFacts,
    names: DatasetNames,
}

impl Builder {
    /// A builder for one export run.
    pub fn new(settings: Settings, facts: FileFacts) -> Builder {
        Builder {
            settings,
            facts,
            names: DatasetNames::default(),
        }
    }

    /// The entities of one unit of the driver.
    pub fn build(
        &mut self,
        r: &Records,
        unit: &crate::driver::Unit<'_>,
    ) -> Result<UnitGraph, String> {
        let mut g = unit_graph(
            r,
            unit.experiment,
            &unit.sweeps,
            &unit.processing,
            &self.settings,
            &self.facts,
        )?;
        self.names.assign(&mut g);
        Ok(g)
    }
}

/// Dataset and sample names already given in each investigation of a run: ICAT's
/// (investigation, name) keys must not join two sweeps or two crystals. A name taken by another
/// object gets the first 8 characters of its uuid appended.
#[derive(Debug, Default)]
pub struct DatasetNames(HashMap<(String, String, String, bool), HashMap<String, String>>);

impl DatasetNames {
    /// Make the unit's dataset and sample names unique in their investigation.
    pub fn assign(&mut self, g: &mut UnitGraph) {
        let inv = &g.investigation;
        let key = |sample: bool| {
            (
                inv.facility.clone(),
                inv.name.clone(),
                inv.visit_id.clone(),
                sample,
            )
        };
        let samples = self.0.entry(key(true)).or_default();
        for s in &mut g.samples {
            if samples.get(&s.name).is_some_and(|k| *k != s.key) {
                s.name = format!("{}_{}", s.name, &s.key[..s.key.len().min(8)]);
            }
            samples.insert(s.name.clone(), s.key.clone());
        }
        let names = self.0.entry(key(false)).or_default();
        for d in &mut g.datasets {
            if names.get(&d.name).is_some_and(|k| *k != d.key) {
                let short = d.key.split(':').nth(1).unwrap_or_default();
                d.name = format!("{}_{}", d.name, &short[..short.len().min(8)]);
            }
            names.insert(d.name.clone(), d.key.clone());
        }
    }
}

/// What the store knows of files: absolute path → (bytes, sha256), and object uuid → the
/// folder of the file it was read from.
#[derive(Debug, Default)]
pub struct FileFacts {
    /// Source files by path.
    pub files: HashMap<String, (i64, String)>,
    /// Folder each processing object was read from.
    pub folder_of: HashMap<String, String>,
}

/// A context value converted for a catalogue (`None` when absent or of the wrong type).
pub fn convert(v: &Value, conv: Conv) -> Option<ParamValue> {
    use mxpipe_model::units::{energy_ev, wavelength_a_from_ev};
    match conv {
        Conv::Number => v.as_f64().map(ParamValue::Number),
        Conv::Int => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f.round() as i64))
            .map(|i| ParamValue::Number(i as f64)),
        Conv::Text => match v {
            Value::Null => None,
            Value::String(s) => Some(ParamValue::Text(s.clone())),
            other => Some(ParamValue::Text(other.to_string())),
        },
        Conv::NumberAsText => v.as_f64().map(|f| ParamValue::Text(f.to_string())),
        Conv::EvToKev => v
            .as_f64()
            .filter(|e| *e > 0.0)
            .map(|e| ParamValue::Number(energy_ev(e) / 1000.0)),
        Conv::EvToAngstrom => v
            .as_f64()
            .filter(|e| *e > 0.0)
            .map(|e| ParamValue::Number(wavelength_a_from_ev(energy_ev(e)))),
        Conv::Bool => v.as_bool().map(|b| ParamValue::Text(b.to_string())),
    }
}

/// The parameters of one level from a context.
pub fn params(level: Level, ctx: &Value, shells: &HashMap<&str, &Value>) -> Vec<Param> {
    map::expanded(level)
        .into_iter()
        .filter_map(|(name, m, shell)| {
            let v = match shell {
                Some(s) => shells
                    .get(s)
                    .and_then(|st| st.pointer(m.source.strip_prefix("stats").unwrap_or(m.source)))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => context_value(ctx, m.source).clone(),
            };
            convert(&v, m.conv).map(|value| Param {
                name,
                map: m,
                value,
            })
        })
        .collect()
}

/// The `derived/…` names the builder produces (a test checks every mapped one is here).
pub const DERIVED: &[&str] = &[
    "sampleName",
    "proteinName",
    "acronym",
    "firstImage",
    "axisStart",
    "axisEnd",
    "omegaStart",
    "phiStart",
    "xBeam",
    "yBeam",
    "experimentUuid",
    "sweepUuid",
    "wedges",
    "wedgeList",
    "startImage",
    "endImage",
    "setUuid",
    "processingUuid",
];

fn expand_template(template: &str, n: i64) -> String {
    crate::ispyb::rows::image_file(template, n)
}

fn datafiles(sweep: &Value, facts: &FileFacts) -> Vec<Datafile> {
    let mut names = Names::default();
    let dir = sweep["path"].as_str().unwrap_or_default();
    let scans = sweep["scans"].as_array().cloned().unwrap_or_default();
    let scan_files = sweep["extensions"]["mxpipe.org"]["scanFiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    /// File names in first-seen order, each once.
    #[derive(Default)]
    struct Names {
        list: Vec<(String, String)>,
        seen: std::collections::HashSet<(String, String)>,
    }
    fn add(names: &mut Names, dir: &str, name: String) {
        let key = (dir.to_owned(), name);
        if names.seen.insert(key.clone()) {
            names.list.push(key);
        }
    }
    fn per_scan(names: &mut Names, dir: &str, template: &str, scan: &Value) {
        if template.contains('%') {
            let first = scan["firstImageNumber"].as_i64().unwrap_or(1);
            for n in first..first + scan["numberImages"].as_i64().unwrap_or(0) {
                add(names, dir, expand_template(template, n));
            }
        } else if !template.is_empty() {
            add(names, dir, template.to_owned());
        }
    }
    if scan_files.is_empty() {
        for scan in &scans {
            per_scan(
                &mut names,
                dir,
                sweep["filenameTemplate"].as_str().unwrap_or_default(),
                scan,
            );
        }
    } else {
        for f in &scan_files {
            let scan = scans
                .iter()
                .find(|s| s["ordinal"] == f["ordinal"])
                .cloned()
                .unwrap_or(Value::Null);
            let fdir = f["path"].as_str().unwrap_or(dir);
            per_scan(
                &mut names,
                fdir,
                f["filenameTemplate"].as_str().unwrap_or_default(),
                &scan,
            );
            for d in f["dataFiles"].as_array().into_iter().flatten() {
                if let Some(n) = d["fileName"].as_str() {
                    add(&mut names, fdir, n.to_owned());
                }
            }
        }
    }
    names
        .list
        .into_iter()
        .map(|(dir, name)| {
            let location = format!("{}/{name}", dir.trim_end_matches('/'));
            let known = facts.files.get(&location);
            let format = if name.ends_with(".cbf") || name.contains(".cbf.") {
                "CBF"
            } else {
                "NeXus"
            };
            Datafile {
                name: name.rsplit('/').next().unwrap_or(&name).to_owned(),
                size: known.map(|k| k.0),
                checksum: known.map(|k| format!("sha256:{}", k.1)),
                location,
                format,
            }
        })
        .collect()
}

/// Sample (crystal) of an experiment and the context objects around it.
struct SampleSide<'a> {
    key: String,
    sample_uuid: Option<&'a str>,
    sample: &'a Value,
    crystal: &'a Value,
    pin: &'a Value,
    macromolecule: &'a Value,
}

fn sample_side<'a>(r: &'a Records, exp: &'a str) -> SampleSide<'a> {
    let sample_uuid = r.link(exp, "sampleRef");
    let crystal_uuid = r.link(exp, "logisticalSampleRef").filter(|u| {
        r.objects
            .get(*u)
            .is_some_and(|o| o.mxlims_type == "Crystal")
    });
    SampleSide {
        key: crystal_uuid.or(sample_uuid).unwrap_or(exp).to_owned(),
        sample_uuid,
        sample: sample_uuid.map_or(&Value::Null, |u| r.json(u)),
        crystal: crystal_uuid.map_or(&Value::Null, |u| r.json(u)),
        pin: crystal_uuid
            .and_then(|c| r.link(c, "containerRef"))
            .map_or(&Value::Null, |u| r.json(u)),
        macromolecule: sample_uuid
            .and_then(|u| r.link(u, "parentSampleRef"))
            .map_or(&Value::Null, |u| r.json(u)),
    }
}

impl SampleSide<'_> {
    fn name(&self) -> String {
        self.crystal["name"]
            .as_str()
            .or(self.sample["name"].as_str())
            .unwrap_or("sample")
            .to_owned()
    }
    fn entity(&self) -> Sample {
        let identity = |o: &Value| {
            o["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
                .as_str()
                .map(str::to_owned)
        };
        Sample {
            key: self.key.clone(),
            name: self.name(),
            pid: identity(self.crystal)
                .or(identity(self.sample))
                .unwrap_or_else(|| format!("urn:uuid:{}", self.key)),
            type_name: self.macromolecule["name"]
                .as_str()
                .or(self.sample["components"][0]["acronym"].as_str())
                .or(self.sample["name"].as_str())
                .unwrap_or("unknown")
                .to_owned(),
            parent: self
                .sample_uuid
                .filter(|u| *u != self.key)
                .map(str::to_owned),
        }
    }
    fn derived(&self) -> Value {
        json!({
            "sampleName": self.name(),
            "proteinName": self.macromolecule["name"].as_str().or(self.sample["name"].as_str()),
            "acronym": self.macromolecule["acronym"].as_str().or(self.sample["components"][0]["acronym"].as_str()),
        })
    }
}

/// The entities of experiment `exp` and the processing jobs it completes.
pub fn unit_graph(
    r: &Records,
    exp: &str,
    sweeps: &[&str],
    processing: &[String],
    s: &Settings,
    facts: &FileFacts,
) -> Result<UnitGraph, String> {
    let e = r.json(exp);
    let ext = &e["extensions"]["mxpipe.org"];
    let session = &ext["session"];
    if session.is_null() {
        return Err(format!(
            "experiment {exp} has no session (mxpipe.org session extension); ingest it with --session VISIT"
        ));
    }
    let investigation = Investigation {
        facility: s
            .facility
            .clone()
            .or(session["facility"].as_str().map(str::to_owned))
            .or(ext["instrument"]["facility"].as_str().map(str::to_owned))
            .or(s.fallback_facility.clone())
            .ok_or("neither the session nor the collection files name a facility; set `facility` in the [icat] or [scicat] section of the configuration")?,
        name: session["proposalCode"]
            .as_str()
            .ok_or("the session has no proposalCode")?
            .to_owned(),
        visit_id: session["visitNumber"]
            .as_i64()
            .map_or_else(|| "1".to_owned(), |n| n.to_string()),
        instrument: session["beamline"]
            .as_str()
            .or(ext["instrument"]["beamline"].as_str())
            .unwrap_or("unknown")
            .to_owned(),
        start: session["startTime"].as_str().map(str::to_owned),
        end: session["endTime"].as_str().map(str::to_owned),
    };
    let side = sample_side(r, exp);
    let mut samples = vec![side.entity()];
    // Sweeps in acquisition order (by their first wedge's ordinal).
    let mut ordered: Vec<&str> = sweeps.to_vec();
    let first_ordinal = |u: &str| {
        r.json(u)["scans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sc| sc["ordinal"].as_i64())
            .min()
            .unwrap_or(0)
    };
    ordered.sort_by_key(|u| (first_ordinal(u), *u));
    let mut datasets = Vec::new();
    for (n, sweep_uuid) in ordered.iter().enumerate() {
        let sw = r.json(sweep_uuid);
        let mut scans: Vec<&Value> = sw["scans"].as_array().into_iter().flatten().collect();
        scans.sort_by_key(|sc| sc["ordinal"].as_i64().unwrap_or(0));
        let axis = sw["scanAxis"].as_str().unwrap_or("omega");
        let axis_start = scans
            .iter()
            .filter_map(|sc| sc["scanPositionStart"].as_f64())
            .reduce(f64::min)
            .or(sw["axisPositionsStart"][axis].as_f64());
        let images = sw["numberImages"].as_f64().unwrap_or(0.0);
        let width = sw["imageWidth"].as_f64().unwrap_or(0.0);
        let axis_end = sw["axisPositionsEnd"][axis]
            .as_f64()
            .or(axis_start.map(|a| a + images * width));
        let at = |name: &str| {
            if axis == name {
                json!(axis_start)
            } else {
                sw["axisPositionsStart"][name].clone()
            }
        };
        let beam_mm = crate::detector::beam_centre_mm(sw, s.pixel_size_mm);
        let beam = |i: usize| beam_mm[i];
        let wedges: Vec<Value> = scans
            .iter()
            .map(|sc| json!({"ordinal": sc["ordinal"], "firstImage": sc["firstImageNumber"], "numberImages": sc["numberImages"], "axisStart": sc["scanPositionStart"]}))
            .collect();
        let mut derived = side.derived();
        let d = derived.as_object_mut().expect("an object");
        for (k, v) in [
            (
                "firstImage",
                json!(scans.first().map(|sc| &sc["firstImageNumber"])),
            ),
            ("axisStart", json!(axis_start)),
            ("axisEnd", json!(axis_end)),
            ("omegaStart", at("omega")),
            ("phiStart", at("phi")),
            ("xBeam", json!(beam(0))),
            ("yBeam", json!(beam(1))),
            ("experimentUuid", json!(exp)),
            ("sweepUuid", json!(sweep_uuid)),
            (
                "wedges",
                json!(serde_json::to_string(&wedges).expect("JSON")),
            ),
            ("wedgeList", Value::Array(wedges.clone())),
        ] {
            d.insert(k.into(), v);
        }
        let ctx = json!({"experiment": e, "sweep": sw, "sample": side.sample, "crystal": side.crystal, "pin": side.pin,
            "macromolecule": side.macromolecule, "ssx": ext["ssx"], "derived": derived});
        datasets.push(Dataset {
            key: format!("raw:{sweep_uuid}"),
            name: format!("{}_sweep{}", side.name(), n + 1),
            raw: true,
            location: sw["path"].as_str().map(str::to_owned),
            start: e["startTime"].as_str().map(str::to_owned),
            end: e["endTime"].as_str().map(str::to_owned),
            sample: Some(side.key.clone()),
            samples: vec![side.key.clone()],
            params: params(Level::Raw, &ctx, &HashMap::new()),
            files: datafiles(sw, facts),
            inputs: Vec::new(),
            application: None,
            context: ctx,
        });
    }
    for p in processing {
        let job = r.json(p);
        let used = crate::ispyb::rows::input_wedges(r, p);
        let mut inputs: Vec<String> = used
            .iter()
            .map(|w| format!("raw:{}", w.sweep_uuid))
            .collect();
        inputs.dedup();
        // Every crystal of a merge is a sample of the unit (the dataset holds the first).
        let mut input_samples: Vec<String> = Vec::new();
        for w in &used {
            if let Some(x) = r.link(&w.sweep_uuid, "sourceRef") {
                let other = sample_side(r, x);
                if !samples.iter().any(|s| s.key == other.key) {
                    samples.push(other.entity());
                }
                if !input_samples.contains(&other.key) {
                    input_samples.push(other.key.clone());
                }
            }
        }
        let first_side = used
            .first()
            .and_then(|w| r.link(&w.sweep_uuid, "sourceRef"))
            .map(|x| sample_side(r, x));
        let program = job["programName"].as_str().unwrap_or("unknown");
        for (n, set_uuid) in r
            .linking_to("ReflectionSet", "sourceRef", p)
            .into_iter()
            .enumerate()
        {
            let set = r.json(set_uuid);
            let mut derived = first_side.as_ref().unwrap_or(&side).derived();
            let d = derived.as_object_mut().expect("an object");
            d.insert("startImage".into(), json!(used.first().map(|w| w.first)));
            d.insert("endImage".into(), json!(used.first().map(|w| w.last)));
            d.insert("setUuid".into(), json!(set_uuid));
            d.insert("processingUuid".into(), json!(p));
            let ctx = json!({"processing": job, "set": set, "derived": derived});
            let shells: HashMap<&str, &Value> = crate::ispyb::rows::ispyb_shells(set)
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let crystal = first_side.as_ref().map_or(side.name(), |f| f.name());
            datasets.push(Dataset {
                key: format!("processed:{set_uuid}"),
                name: format!("{crystal}_{program}_{}", n + 1),
                raw: false,
                location: facts.folder_of.get(p).cloned(),
                start: job["startTime"].as_str().map(str::to_owned),
                end: job["endTime"].as_str().map(str::to_owned),
                sample: input_samples.first().cloned(),
                samples: input_samples.clone(),
                params: params(Level::Processed, &ctx, &shells),
                files: Vec::new(),
                inputs: inputs.clone(),
                context: ctx,
                application: Some((
                    program.to_owned(),
                    job["programVersion"]
                        .as_str()
                        .unwrap_or("unknown")
                        .to_owned(),
                )),
            });
        }
    }
    Ok(UnitGraph {
        investigation,
        samples,
        datasets,
    })
}
