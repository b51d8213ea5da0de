//! Build the ISPyB rows of one experiment (and of the processing it completes) from the store's
//! records, through the field map in [`super::map`]. Pure: no database access.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::map::{self, Conv};
use crate::records::{Records, context_value};

/// A value for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// The primary key of the row with this key (resolved when written).
    Ref(String),
}

/// One row to insert or update.
#[derive(Debug, Clone)]
pub struct Row {
    /// ISPyB table.
    pub table: &'static str,
    /// Key in the id map: `Table:<uuid>[#part]`.
    pub key: String,
    /// Column values.
    pub values: Vec<(&'static str, Val)>,
}

/// Settings the mapping needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Facility time zone (ISPyB times are naive local times).
    pub timezone: chrono_tz::Tz,
    /// Detector pixel size (mm) for sweeps whose files state none (see `crate::detector`).
    pub pixel_size_mm: Option<f64>,
    /// Folder where attachment files (SSX rates JSON) are written.
    pub attachment_dir: std::path::PathBuf,
}

/// The rows of one experiment, in parent-before-child order, and the session they belong to.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Experiment uuid.
    pub experiment: String,
    /// The session's mxpipe.org extension (proposalCode, visitNumber, beamline, times).
    pub session: Value,
    /// Rows after the session (which is resolved by the writer: `ref/BLSession`, `ref/Proposal`).
    pub rows: Vec<Row>,
    /// Attachment files to write: (file name, content).
    pub files: Vec<(String, String)>,
    /// Processing jobs included.
    pub processing: Vec<String>,
}

/// An error in the data (names the object and what is missing).
pub type MapError = String;

/// Apply a table's column map to a context object.
pub fn apply(
    table: &'static str,
    ctx: &Value,
    refs: &HashMap<&str, String>,
    s: &Settings,
) -> Vec<(&'static str, Val)> {
    map::table(table)
        .columns
        .iter()
        .map(|c| {
            let v = if let Some(t) = c.source.strip_prefix("ref/") {
                refs.get(t).map_or(Val::Null, |k| Val::Ref(k.clone()))
            } else {
                convert(context_value(ctx, c.source), c.conv, s)
            };
            (c.column, v)
        })
        .collect()
}

fn convert(v: &Value, conv: Conv, s: &Settings) -> Val {
    if v.is_null() {
        return Val::Null;
    }
    match conv {
        Conv::Number => v.as_f64().map_or(Val::Null, Val::Float),
        Conv::Int => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f.round() as i64))
            .map_or(Val::Null, Val::Int),
        Conv::Text(width) => {
            let text = match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            Val::Text(text.chars().take(width).collect())
        }
        Conv::EvToAngstrom => v.as_f64().filter(|e| *e > 0.0).map_or(Val::Null, |e| {
            Val::Float(mxpipe_model::units::wavelength_a_from_ev(
                mxpipe_model::units::energy_ev(e),
            ))
        }),
        Conv::CoefficientToPercent => v.as_f64().map_or(Val::Null, |x| Val::Float(x * 100.0)),
        Conv::LocalTime => v
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(Val::Null, |t| {
                Val::Text(
                    t.with_timezone(&s.timezone)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                )
            }),
        Conv::UuidBytes => v
            .as_str()
            .and_then(|u| hex::decode(u.replace('-', "")).ok())
            .filter(|b| b.len() == 16)
            .map_or(Val::Null, Val::Bytes),
        Conv::Ref => Val::Null,
    }
}

/// `/data/x` → `/data/x/`.
fn directory(path: &str) -> String {
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// The printf-style number field of a template: (text before, width, text after);
/// `x_%06d.h5` → (`x_`, 6, `.h5`).
fn number_field(t: &str) -> Option<(&str, usize, &str)> {
    let start = t.find('%')?;
    let rest = &t[start + 1..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let after = rest[digits..].strip_prefix('d')?;
    let width = rest[..digits].trim_start_matches('0').parse().unwrap_or(1);
    Some((&t[..start], width, after))
}

/// `x_%06d.h5` → `x_######.h5` (ISPyB's fileTemplate).
pub fn file_template(template: &str) -> String {
    number_field(template).map_or_else(
        || template.to_owned(),
        |(before, width, after)| format!("{before}{}{after}", "#".repeat(width)),
    )
}

/// `x_%06d.cbf`, 7 → `x_000007.cbf` (a template without a number field is returned as is).
pub fn image_file(template: &str, n: i64) -> String {
    number_field(template).map_or_else(
        || template.to_owned(),
        |(before, width, after)| format!("{before}{n:0width$}{after}"),
    )
}

/// The three ISPyB statistics rows of a ReflectionSet: overall, innerShell (the
/// lowest-resolution shell) and outerShell (the highest-resolution shell); absent ones are None.
pub fn ispyb_shells(set: &Value) -> [(&'static str, Option<&Value>); 3] {
    let mut shells: Vec<&Value> = set["reflectionStatisticsShells"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let low = |v: &Value| v["resolutionLimits"][0].as_f64().unwrap_or(0.0);
    shells.sort_by(|a, b| low(b).total_cmp(&low(a)));
    let overall = Some(&set["reflectionStatisticsOverall"]).filter(|v| !v.is_null());
    [
        ("overall", overall),
        ("innerShell", shells.first().copied()),
        ("outerShell", shells.last().copied()),
    ]
}

/// One wedge a processing job read, with the reported image range clipped to the wedge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputWedge {
    /// The sweep.
    pub sweep_uuid: String,
    /// The scan's acquisition ordinal.
    pub ordinal: i64,
    /// First image read.
    pub first: i64,
    /// Last image read.
    pub last: i64,
}

impl InputWedge {
    /// `<sweep uuid>#<ordinal>`: the wedge's part of id-map keys.
    pub fn part(&self) -> String {
        format!("{}#{}", self.sweep_uuid, self.ordinal)
    }
    /// The id-map key of the wedge's DataCollection.
    pub fn data_collection_key(&self) -> String {
        format!("DataCollection:{}", self.part())
    }
}

/// Every wedge processing job `p` read (sorted, each once).
pub fn input_wedges(r: &Records, p: &str) -> Vec<InputWedge> {
    let mut out = Vec::new();
    for input in r.inputs.get(p).into_iter().flatten() {
        for w in wedges_of(r, &input.sweep_uuid) {
            let (lo, hi) = input.images.unwrap_or((w.first(), w.last()));
            let (first, last) = (lo.max(w.first()), hi.min(w.last()));
            if first <= last {
                out.push(InputWedge {
                    sweep_uuid: w.sweep_uuid.to_owned(),
                    ordinal: w.ordinal,
                    first,
                    last,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn suffix(template: &str) -> Option<String> {
    let name = template.rsplit('/').next().unwrap_or(template);
    let parts: Vec<&str> = name.split('.').collect();
    match parts.len() {
        0 | 1 => None,
        n if ["gz", "bz2", "xz"].contains(&parts[n - 1]) && n > 2 => {
            Some(format!("{}.{}", parts[n - 2], parts[n - 1]))
        }
        n => Some(parts[n - 1].to_owned()),
    }
}

/// A wedge of a sweep.
struct Wedge<'a> {
    sweep_uuid: &'a str,
    sweep: &'a Value,
    scan: &'a Value,
    ordinal: i64,
}

impl Wedge<'_> {
    fn key(&self, table: &str) -> String {
        format!("{table}:{}#{}", self.sweep_uuid, self.ordinal)
    }
    fn first(&self) -> i64 {
        self.scan["firstImageNumber"].as_i64().unwrap_or(1)
    }
    fn last(&self) -> i64 {
        self.first() + self.scan["numberImages"].as_i64().unwrap_or(1) - 1
    }
}

fn wedges_of<'a>(r: &'a Records, sweep_uuid: &'a str) -> Vec<Wedge<'a>> {
    let sweep = r.json(sweep_uuid);
    sweep["scans"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, scan)| Wedge {
            sweep_uuid,
            sweep,
            scan,
            ordinal: scan["ordinal"].as_i64().unwrap_or(i as i64),
        })
        .collect()
}

/// The rows of experiment `exp` plus the processing jobs in `processing` (already chosen by the
/// caller: those whose inputs are all exported once this experiment is).
pub fn experiment_unit(
    r: &Records,
    exp: &str,
    processing: &[String],
    s: &Settings,
) -> Result<Unit, MapError> {
    let e = r.json(exp);
    let ext = &e["extensions"]["mxpipe.org"];
    let session = ext["session"].clone();
    if session.is_null() {
        return Err(format!(
            "experiment {exp} has no session (mxpipe.org session extension); ingest it with --session VISIT"
        ));
    }
    let sample_uuid = r.link(exp, "sampleRef");
    let sample = sample_uuid.map_or(&Value::Null, |u| r.json(u));
    let crystal_uuid = r.link(exp, "logisticalSampleRef").filter(|u| {
        r.objects
            .get(*u)
            .is_some_and(|o| o.mxlims_type == "Crystal")
    });
    let crystal = crystal_uuid.map_or(&Value::Null, |u| r.json(u));
    let pin = crystal_uuid
        .and_then(|c| r.link(c, "containerRef"))
        .map_or(&Value::Null, |u| r.json(u));
    let macromolecule = sample_uuid
        .and_then(|u| r.link(u, "parentSampleRef"))
        .map_or(&Value::Null, |u| r.json(u));
    let sample_key = crystal_uuid.or(sample_uuid).unwrap_or(exp);
    let component = &sample["components"][0];
    let pid = crystal["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
        .as_str()
        .or(sample["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"].as_str());
    let proposal = session["proposalCode"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let derived = json!({
        "proteinName": macromolecule["name"].as_str().or(sample["name"].as_str()).unwrap_or("unknown"),
        "acronym": macromolecule["acronym"].as_str().or(component["acronym"].as_str()),
        "sequence": component["sequence"],
        "crystalUuid": sample_key, "crystalName": crystal["name"].as_str().or(sample["name"].as_str()),
        "sampleName": sample["name"].as_str().or(crystal["name"].as_str()).unwrap_or("sample"),
        "sampleComments": format!("mxpipe sample {}{}", sample_uuid.unwrap_or("-"), pid.map(|p| format!(" pid {p}")).unwrap_or_default()),
        "experimentType": map::experiment_type(e["experimentStrategy"].as_str(), ext["ssx"]["deliveryMethod"].as_str()),
        "experimentComments": format!("mxpipe experiment {exp}{}", e["annotation"].as_str().map(|a| format!(": {a}")).unwrap_or_default()),
    });
    let ctx = json!({"experiment": e, "sample": sample, "crystal": crystal, "pin": pin, "macromolecule": macromolecule, "derived": derived});
    let mut refs: HashMap<&str, String> = HashMap::from([
        ("BLSession", "BLSession".to_owned()),
        ("Proposal", "Proposal".to_owned()),
    ]);
    let mut rows = Vec::new();
    let mut push = |table: &'static str, key: String, ctx: &Value, refs: &HashMap<&str, String>| {
        rows.push(Row {
            table,
            key: key.clone(),
            values: apply(table, ctx, refs, s),
        });
        key
    };
    let protein_key = format!(
        "Protein:{}@{proposal}",
        r.link(sample_uuid.unwrap_or(""), "parentSampleRef")
            .or(sample_uuid)
            .unwrap_or(exp)
    );
    refs.insert("Protein", push("Protein", protein_key, &ctx, &refs));
    refs.insert(
        "Crystal",
        push("Crystal", format!("Crystal:{sample_key}"), &ctx, &refs),
    );
    refs.insert(
        "BLSample",
        push("BLSample", format!("BLSample:{sample_key}"), &ctx, &refs),
    );
    refs.insert(
        "DataCollectionGroup",
        push(
            "DataCollectionGroup",
            format!("DataCollectionGroup:{exp}"),
            &ctx,
            &refs,
        ),
    );

    // Wedges of every sweep, in acquisition order.
    let sweeps = r.linking_to("CollectionSweep", "sourceRef", exp);
    let mut wedges: Vec<Wedge> = sweeps.iter().flat_map(|sw| wedges_of(r, sw)).collect();
    wedges.sort_by_key(|w| (w.ordinal, w.sweep_uuid));
    let start = e["startTime"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let mut elapsed_s = 0.0;
    let status = e["jobStatus"].as_str();
    for (n, w) in wedges.iter().enumerate() {
        let sw = w.sweep;
        let images = w.scan["numberImages"].as_f64().unwrap_or(0.0);
        let width = sw["imageWidth"].as_f64().unwrap_or(0.0);
        let axis_start = w.scan["scanPositionStart"].as_f64().unwrap_or(0.0);
        let exposure = sw["exposureTime"].as_f64().unwrap_or(0.0);
        let at = |secs: f64| {
            start.map(|t| (t + chrono::Duration::microseconds((secs * 1e6) as i64)).to_rfc3339())
        };
        let axis = sw["scanAxis"].as_str().unwrap_or("omega");
        let start_pos = |name: &str| {
            if axis == name {
                json!(axis_start)
            } else {
                sw["axisPositionsStart"][name].clone()
            }
        };
        let template = sw["filenameTemplate"].as_str().unwrap_or_default();
        let beam_mm = crate::detector::beam_centre_mm(sw, s.pixel_size_mm);
        let beam = |i: usize| beam_mm[i];
        let derived = json!({
            "number": n + 1, "startTime": at(elapsed_s), "endTime": at(elapsed_s + images * exposure),
            "runStatus": match status { Some("Completed") | None => "DataCollection Successful", Some(other) => other },
            "axisEnd": axis_start + images * width, "axisRange": width, "overlap": sw["overlap"].as_f64().unwrap_or(0.0), "one": 1,
            "directory": sw["path"].as_str().map(directory), "suffix": suffix(template),
            "fileTemplate": (!template.is_empty()).then(|| file_template(template)),
            "xBeam": beam(0), "yBeam": beam(1),
            "rotationAxis": match axis { "kappa" => "Kappa", "phi" | "kappa_phi" => "Phi", _ => "Omega" },
            "omegaStart": start_pos("omega"), "phiStart": start_pos("phi"),
            "dcComments": format!("mxpipe sweep {} scan {}", w.sweep_uuid, w.ordinal),
            "ssxName": e["experimentStrategy"], "chainName": "exposure sequence", "offset": 0.0,
            "period": ext["ssx"]["frameRateHz"].as_f64().filter(|f| *f > 0.0).map(|f| 1.0 / f), "repetition": images,
        });
        elapsed_s += images * exposure;
        let wctx = json!({"sweep": sw, "scan": w.scan, "ssx": ext["ssx"], "derived": derived});
        refs.insert(
            "DataCollection",
            push("DataCollection", w.key("DataCollection"), &wctx, &refs),
        );
        if !ext["ssx"].is_null() {
            push(
                "SSXDataCollection",
                w.key("SSXDataCollection"),
                &wctx,
                &refs,
            );
            refs.insert(
                "EventChain",
                push("EventChain", w.key("EventChain"), &wctx, &refs),
            );
            for (type_id, name) in [(2, "XrayExposure"), (1, "XrayDetection")] {
                let mut ectx = wctx.clone();
                ectx["derived"]["eventTypeId"] = json!(type_id);
                ectx["derived"]["eventName"] = json!(name);
                push("Event", format!("{}#{name}", w.key("Event")), &ectx, &refs);
            }
        }
    }
    let mut files = Vec::new();
    if !ext["ssx"].is_null()
        && let Some(first) = wedges.first()
    {
        // Run-level counts and rates: a summary program with a JSON attachment.
        let ssx = &ext["ssx"];
        let rates = json!({"experiment": exp, "framesTotal": ssx["framesTotal"], "crystalHits": ssx["crystalHits"],
            "framesIndexed": ssx["framesIndexed"], "latticesIndexed": ssx["latticesIndexed"], "latticesMerged": ssx["latticesMerged"],
            "hitRate": rate(&ssx["crystalHits"], &ssx["framesTotal"]), "indexingRate": rate(&ssx["framesIndexed"], &ssx["crystalHits"])});
        let pctx = json!({"processing": {"programName": "mxpipe SSX run summary", "startTime": e["startTime"], "endTime": e["endTime"]},
            "derived": {"processingComments": format!("mxpipe experiment {exp} SSX run summary"), "recipe": "mxpipe-ssx-summary", "one": 1,
                "programs": "mxpipe SSX run summary", "status": 1}});
        let mut prefs = refs.clone();
        prefs.insert("DataCollection", first.key("DataCollection"));
        prefs.insert(
            "ProcessingJob",
            push(
                "ProcessingJob",
                format!("ProcessingJob:{exp}#ssx-summary"),
                &pctx,
                &prefs,
            ),
        );
        prefs.insert(
            "AutoProcProgram",
            push(
                "AutoProcProgram",
                format!("AutoProcProgram:{exp}#ssx-summary"),
                &pctx,
                &prefs,
            ),
        );
        files.push(attachment(&mut push, &prefs, exp, &rates, s));
    }
    for p in processing {
        processing_rows(r, p, &refs, s, &mut push, &mut files)?;
    }
    Ok(Unit {
        experiment: exp.to_owned(),
        session,
        rows,
        files,
        processing: processing.to_vec(),
    })
}

fn rate(num: &Value, den: &Value) -> Value {
    match (num.as_f64(), den.as_f64()) {
        (Some(n), Some(d)) if d > 0.0 => json!(n / d),
        _ => Value::Null,
    }
}

type Push<'a> = dyn FnMut(&'static str, String, &Value, &HashMap<&str, String>) -> String + 'a;

fn attachment(
    push: &mut Push,
    refs: &HashMap<&str, String>,
    uuid: &str,
    content: &Value,
    s: &Settings,
) -> (String, String) {
    let name = format!("mxpipe-ssx-{uuid}.json");
    let actx = json!({"derived": {"fileType": "Result", "fileName": name, "filePath": s.attachment_dir.to_string_lossy()}});
    push(
        "AutoProcProgramAttachment",
        format!("AutoProcProgramAttachment:{uuid}"),
        &actx,
        refs,
    );
    (name, serde_json::to_string_pretty(content).expect("JSON"))
}

/// The rows of one MxProcessing: job, image sweeps, program, per ReflectionSet AutoProc →
/// scaling → three statistics rows, one integration per input wedge, scaling ↔ integration links.
fn processing_rows(
    r: &Records,
    p: &str,
    refs: &HashMap<&str, String>,
    s: &Settings,
    push: &mut Push,
    files: &mut Vec<(String, String)>,
) -> Result<(), MapError> {
    let job = r.json(p);
    let ext = &job["extensions"]["mxpipe.org"];
    let inputs = r.inputs.get(p).map(Vec::as_slice).unwrap_or_default();
    // Every input wedge (clipped to the reported image range).
    let used = input_wedges(r, p);
    if used.is_empty() {
        return Err(format!(
            "processing {p} has no input linked to a stored sweep (see `mxpipe relink`)"
        ));
    }
    let program = job["programName"].as_str().unwrap_or("unknown");
    let sets = r.linking_to("ReflectionSet", "sourceRef", p);
    let cell = sets
        .first()
        .map_or(&Value::Null, |u| &r.json(u)["refinedUnitCell"]);
    let version = job["programVersion"]
        .as_str()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let derived = json!({"processingComments": format!("mxpipe processing {p}"), "recipe": program, "one": 1, "zero": 0,
        "pipelineId": map::pipeline_id(program, inputs.len()), "commandLine": ext["commandLine"], "programs": format!("{program}{version}"),
        "status": match job["jobStatus"].as_str() { Some("Completed") => json!(1), Some("Failed" | "Aborted") => json!(0), _ => Value::Null },
        "jobUuid": p, "cell_a": cell["a"], "cell_b": cell["b"], "cell_c": cell["c"], "cell_alpha": cell["alpha"], "cell_beta": cell["beta"], "cell_gamma": cell["gamma"]});
    let mut ctx = json!({"processing": job, "derived": derived});
    let mut refs = refs.clone();
    refs.insert("DataCollection", used[0].data_collection_key());
    refs.insert(
        "ProcessingJob",
        push("ProcessingJob", format!("ProcessingJob:{p}"), &ctx, &refs),
    );
    for w in &used {
        refs.insert("DataCollection", w.data_collection_key());
        ctx["derived"]["startImage"] = json!(w.first);
        ctx["derived"]["endImage"] = json!(w.last);
        let key = format!("ProcessingJobImageSweep:{p}#{}", w.part());
        push("ProcessingJobImageSweep", key, &ctx, &refs);
    }
    refs.insert(
        "AutoProcProgram",
        push(
            "AutoProcProgram",
            format!("AutoProcProgram:{p}"),
            &ctx,
            &refs,
        ),
    );
    if !ext["ssxDataReduction"].is_null() {
        let x = &ext["ssxDataReduction"];
        let mut content = x.clone();
        content["processing"] = json!(p);
        content["hitRate"] = rate(&x["frameHits"], &x["framesTotal"]);
        content["indexingRate"] = rate(&x["framesIndexed"], &x["frameHits"]);
        files.push(attachment(push, &refs, p, &content, s));
    }
    let mut integrations = Vec::new();
    for w in &used {
        refs.insert("DataCollection", w.data_collection_key());
        ctx["derived"]["startImage"] = json!(w.first);
        ctx["derived"]["endImage"] = json!(w.last);
        let key = format!("AutoProcIntegration:{p}#{}", w.part());
        integrations.push(push("AutoProcIntegration", key, &ctx, &refs));
    }
    for set_uuid in sets {
        let set = r.json(set_uuid);
        let sctx = json!({"set": set});
        refs.insert(
            "AutoProc",
            push("AutoProc", format!("AutoProc:{set_uuid}"), &sctx, &refs),
        );
        let scaling = push(
            "AutoProcScaling",
            format!("AutoProcScaling:{set_uuid}"),
            &sctx,
            &refs,
        );
        refs.insert("AutoProcScaling", scaling);
        for (shell, stats) in ispyb_shells(set) {
            let Some(stats) = stats else { continue };
            let ctx = json!({"stats": stats, "derived": {"shell": shell, "zero": 0}});
            push(
                "AutoProcScalingStatistics",
                format!("AutoProcScalingStatistics:{set_uuid}#{shell}"),
                &ctx,
                &refs,
            );
        }
        for i in &integrations {
            refs.insert("AutoProcIntegration", i.clone());
            let key = format!(
                "AutoProcScaling_has_Int:{set_uuid}#{}",
                i.trim_start_matches("AutoProcIntegration:")
            );
            push("AutoProcScaling_has_Int", key, &Value::Null, &refs);
        }
    }
    Ok(())
}
