//! AutoProcContainer XML: the ISPyB processing format written by autoPROC, xia2 and fast_dp.
//!
//! Each `AutoProcScalingContainer` (with the `AutoProc` block before it: space group, cell,
//! wavelength) becomes one ReflectionSet with overall statistics and the inner and outer shells
//! (in that order: low to high resolution); the `AutoProcProgram` becomes the MxProcessing job.
//! The files the job lists (`AutoProcProgramAttachment`) are kept in `resultFiles`.
//! The images each integration read are kept in the mxpipe.org `inputImages` extension, from which
//! the store links the job to stored sweeps. CC½ and CC_ano are stored as correlation
//! coefficients: a value above 1 is read as a percentage and divided by 100.

use std::path::Path;

use mxpipe_model::SpaceGroupName;
use quick_xml::events::Event;
use serde_json::{Map, Value, json};

use crate::{Fragment, ReadError, ReadOptions, Reader, template_of};

/// Reader for AutoProcContainer XML.
pub struct AutoProcXmlReader;

impl Reader for AutoProcXmlReader {
    fn name(&self) -> &'static str {
        "autoproc-xml"
    }

    fn description(&self) -> &'static str {
        "AutoProcContainer XML (autoPROC, xia2, fast_dp)"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        String::from_utf8_lossy(head).contains("<AutoProcContainer")
    }

    fn read(&self, path: &Path, options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::new(path, "file", "a readable UTF-8 file", e.to_string()))?;
        let root = parse_tree(path, &text)?;
        if root.name != "AutoProcContainer" {
            return Err(ReadError::new(
                path,
                format!("<{}>", root.name),
                "root element <AutoProcContainer>",
                format!("<{}>", root.name),
            ));
        }
        let value = to_message(path, &root, options)?;
        crate::validated(path, value)
    }
}

/// A minimal element tree.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    line: usize,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
    fn number(&self, path: &Path, name: &str) -> Result<Option<f64>, ReadError> {
        let Some(c) = self.child(name) else {
            return Ok(None);
        };
        let t = c.text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<f64>().map(Some).map_err(|_| {
            ReadError::new(
                path,
                format!("line {}, <{}>", c.line, name),
                "a number",
                format!("{t:?}"),
            )
        })
    }
}

/// Line numbers of byte offsets that only grow: each call counts the newlines since the last one,
/// so numbering a whole document is linear in its size.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte offset `pos` (offsets before the last one asked count from it).
    fn at(&mut self, pos: usize) -> usize {
        let pos = pos.min(self.bytes.len());
        if pos > self.pos {
            self.line += self.bytes[self.pos..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.pos = pos;
        }
        self.line
    }
}

fn parse_tree(path: &Path, text: &str) -> Result<Element, ReadError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut lines = Lines::new(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            ReadError::new(
                path,
                format!("line {}", lines.at(pos)),
                "well-formed XML",
                e.to_string(),
            )
        })?;
        match event {
            Event::Start(e) => stack.push(Element {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                line: lines.at(pos),
                ..Default::default()
            }),
            Event::Empty(e) => {
                let el = Element {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    line: lines.at(pos),
                    ..Default::default()
                };
                stack.last_mut().expect("root").children.push(el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| {
                    ReadError::new(
                        path,
                        format!("line {}", lines.at(pos)),
                        "text",
                        e.to_string(),
                    )
                })?;
                stack
                    .last_mut()
                    .expect("root")
                    .text
                    .push_str(&quick_xml::escape::unescape(&s).unwrap_or(s.clone()));
            }
            Event::CData(t) => stack
                .last_mut()
                .expect("root")
                .text
                .push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match name.as_str() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        // An entity XML does not predefine is kept as written.
                        other => format!("&{other};"),
                    },
                    Err(e) => {
                        return Err(ReadError::new(
                            path,
                            format!("line {}", lines.at(pos)),
                            "a valid character reference",
                            format!("&{name}; ({e})"),
                        ));
                    }
                };
                stack.last_mut().expect("root").text.push_str(&resolved);
            }
            Event::End(_) => {
                let el = stack.pop().expect("balanced");
                stack
                    .last_mut()
                    .ok_or_else(|| {
                        ReadError::new(
                            path,
                            format!("line {}", lines.at(pos)),
                            "well-formed XML",
                            "an unmatched closing tag",
                        )
                    })?
                    .children
                    .push(el);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        let open = stack.last().map(|e| e.name.clone()).unwrap_or_default();
        return Err(ReadError::new(
            path,
            format!("end of file (line {})", lines.at(text.len())),
            format!("</{open}> before the end"),
            "a truncated document",
        ));
    }
    let top = stack.pop().expect("root");
    top.children
        .into_iter()
        .next()
        .ok_or_else(|| ReadError::new(path, "line 1", "an XML element", "no element"))
}

/// `Mon Jun 14 15:09:27 PDT 2021` (date(1) style) or ISO forms → ISO 8601 with offset.
fn parse_time(text: &str, options: &ReadOptions) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.to_rfc3339());
    }
    let zones = [
        ("UTC", 0),
        ("GMT", 0),
        ("BST", 1),
        ("CET", 1),
        ("CEST", 2),
        ("EET", 2),
        ("EEST", 3),
        ("PST", -8),
        ("PDT", -7),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("AEST", 10),
        ("AEDT", 11),
        ("JST", 9),
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() == 6 {
        let zone = zones
            .iter()
            .find(|(z, _)| *z == parts[4])
            .map(|(_, h)| *h)?;
        let naive = chrono::NaiveDateTime::parse_from_str(
            &format!("{} {} {} {}", parts[1], parts[2], parts[3], parts[5]),
            "%b %d %H:%M:%S %Y",
        )
        .ok()?;
        let offset = chrono::FixedOffset::east_opt(zone * 3600)?;
        return naive
            .and_local_timezone(offset)
            .single()
            .map(|t| t.to_rfc3339());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(text, f) {
            return options.localize(n).map(|t| t.to_rfc3339());
        }
    }
    None
}

/// CC values as correlation coefficients (some programs print percentages).
fn cc(v: Option<f64>) -> Option<f64> {
    v.map(|x| if x.abs() > 1.0 { x / 100.0 } else { x })
}

fn statistics(path: &Path, s: &Element) -> Result<Value, ReadError> {
    let n = |name: &str| s.number(path, name);
    let low = n("resolutionLimitLow")?.ok_or_else(|| {
        ReadError::new(
            path,
            format!("line {}, <AutoProcScalingStatistics>", s.line),
            "<resolutionLimitLow>",
            "no such element",
        )
    })?;
    let high = n("resolutionLimitHigh")?.ok_or_else(|| {
        ReadError::new(
            path,
            format!("line {}, <AutoProcScalingStatistics>", s.line),
            "<resolutionLimitHigh>",
            "no such element",
        )
    })?;
    let mut m = Map::new();
    m.insert("resolutionLimits".into(), json!([low, high]));
    let mut put = |k: &str, v: Option<f64>, int: bool| {
        if let Some(v) = v {
            m.insert(
                k.into(),
                if int {
                    json!(v.round() as i64)
                } else {
                    json!(v)
                },
            );
        }
    };
    put("numberObservations", n("nTotalObservations")?, true);
    put(
        "numberObservationsUnique",
        n("nTotalUniqueObservations")?,
        true,
    );
    put("R_merge", n("rMerge")?, false);
    put(
        "R_meas",
        n("rMeasAllIPlusIMinus")?.or(n("rMeasWithinIPlusIMinus")?),
        false,
    );
    put(
        "R_pim",
        n("rPimAllIPlusIMinus")?.or(n("rPimWithinIPlusIMinus")?),
        false,
    );
    put("I_over_SigI", n("meanIOverSigI")?, false);
    put("CC_one_half", cc(n("ccHalf")?), false);
    put("CC_ano", cc(n("ccAnomalous")?), false);
    put("SigAno", n("DanoOverSigDano")?, false);
    put("Completeness", n("completeness")?, false);
    put("Redundancy", n("multiplicity")?, false);
    put("CompletenessAno", n("anomalousCompleteness")?, false);
    put("RedundancyAno", n("anomalousMultiplicity")?, false);
    // autoPROC + STARANISO: completeness within a sphere and within the diffraction-limit
    // ellipsoid (MXLIMS has the fields; ISPyB's schema has not).
    put("CompletenessSpherical", n("completenessSpherical")?, false);
    put(
        "CompletenessEllipsoidal",
        n("completenessEllipsoidal")?,
        false,
    );
    put(
        "CompletenessAnoSpherical",
        n("anomalousCompletenessSpherical")?,
        false,
    );
    put(
        "CompletenessAnoEllipsoidal",
        n("anomalousCompletenessEllipsoidal")?,
        false,
    );
    Ok(Value::Object(m))
}

/// `<StaranisoEllipsoid>` → an MXLIMS Tensor: `Eigenvalue1..3` (Å) and, as eigenvectors, the
/// columns of `RotationMatrix11..33`. Every element is required.
fn ellipsoid(path: &Path, e: &Element) -> Result<Value, ReadError> {
    let need = |name: String| -> Result<f64, ReadError> {
        e.number(path, &name)?.ok_or_else(|| {
            ReadError::new(
                path,
                format!("line {}, <StaranisoEllipsoid>", e.line),
                format!("<{name}>"),
                "no such element",
            )
        })
    };
    let values = (1..=3)
        .map(|i| need(format!("Eigenvalue{i}")))
        .collect::<Result<Vec<f64>, _>>()?;
    let vectors = (1..=3)
        .map(|col| {
            (1..=3)
                .map(|row| need(format!("RotationMatrix{row}{col}")))
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"eigenvalues": values, "eigenvectors": vectors}))
}

fn to_message(path: &Path, root: &Element, options: &ReadOptions) -> Result<Value, ReadError> {
    let program = root
        .child("AutoProcProgramContainer")
        .and_then(|c| c.child("AutoProcProgram"));
    let mut job = json!({"mxlimsType": "MxProcessing"});
    let mut inputs: Vec<Value> = Vec::new();
    if let Some(p) = program {
        if let Some(programs) = p.text_of("processingPrograms") {
            let (name, version) = programs.split_once(' ').unwrap_or((programs, ""));
            job["programName"] = json!(name);
            if !version.trim().is_empty() {
                job["programVersion"] = json!(version.trim());
            }
        }
        let status = p.text_of("processingStatus").unwrap_or("");
        job["jobStatus"] = json!(if status.is_empty()
            || matches!(status, "1" | "SUCCESS" | "success")
        {
            "Completed"
        } else {
            "Failed"
        });
        for (field, tag) in [
            ("startTime", "processingStartTime"),
            ("endTime", "processingEndTime"),
        ] {
            if let Some(t) = p.text_of(tag).and_then(|t| parse_time(t, options)) {
                job[field] = json!(t);
            }
        }
    }
    let mut sets = Map::new();
    let mut current_autoproc: Option<&Element> = None;
    for child in &root.children {
        match child.name.as_str() {
            "AutoProc" => current_autoproc = Some(child),
            "AutoProcScalingContainer" => {
                let mut set = json!({"mxlimsType": "ReflectionSet", "role": "Result", "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"}});
                if let Some(ap) = current_autoproc {
                    if let Some(sg) = ap
                        .text_of("spaceGroup")
                        .filter(|sg| SpaceGroupName::parse(sg).is_ok())
                    {
                        set["spaceGroupName"] = json!(sg);
                    }
                    let cell: Vec<Option<f64>> = ["a", "b", "c", "alpha", "beta", "gamma"]
                        .iter()
                        .map(|k| ap.number(path, &format!("refinedCell_{k}")))
                        .collect::<Result<_, _>>()?;
                    if cell.iter().all(|c| c.is_some_and(|v| v > 0.0)) {
                        let c: Vec<f64> = cell.into_iter().flatten().collect();
                        set["refinedUnitCell"] = json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
                    }
                    if let Some(w) = ap.number(path, "wavelength")?.filter(|w| *w > 0.0) {
                        set["wavelengths"] = json!([w]);
                    }
                }
                if let Some(e) = child
                    .child("AutoProcScaling")
                    .and_then(|a| a.child("StaranisoEllipsoid"))
                {
                    set["diffractionLimitsEstimated"] = ellipsoid(path, e)?;
                }
                let mut shells = (None, None);
                for s in child.all("AutoProcScalingStatistics") {
                    let stats = statistics(path, s)?;
                    match s.text_of("scalingStatisticsType") {
                        Some("overall") => {
                            set["operationalResolution"] = stats["resolutionLimits"][1].clone();
                            if let Some(n) = stats.get("numberObservations") {
                                set["numberReflections"] = n.clone();
                            }
                            if let Some(n) = stats.get("numberObservationsUnique") {
                                set["numberReflectionsUnique"] = n.clone();
                            }
                            set["reflectionStatisticsOverall"] = stats;
                        }
                        Some("innerShell") => shells.0 = Some(stats),
                        Some("outerShell") => shells.1 = Some(stats),
                        other => {
                            return Err(ReadError::new(
                                path,
                                format!("line {}, <scalingStatisticsType>", s.line),
                                "overall, innerShell or outerShell",
                                format!("{other:?}"),
                            ));
                        }
                    }
                }
                if set.get("reflectionStatisticsOverall").is_none() {
                    return Err(ReadError::new(
                        path,
                        format!("line {}, <AutoProcScalingContainer>", child.line),
                        "an <AutoProcScalingStatistics> of type overall",
                        "none",
                    ));
                }
                let list: Vec<Value> = [shells.0, shells.1].into_iter().flatten().collect();
                if !list.is_empty() {
                    set["reflectionStatisticsShells"] = Value::Array(list);
                }
                for ic in child.all("AutoProcIntegrationContainer") {
                    let image = ic.child("Image");
                    let integ = ic.child("AutoProcIntegration");
                    let (Some(image), Some(integ)) = (image, integ) else {
                        continue;
                    };
                    let file = image.text_of("fileName").unwrap_or("");
                    let dir = image.text_of("fileLocation").unwrap_or("");
                    let (_, template, _) = template_of(file);
                    let first = integ.number(path, "startImageNumber")?.map(|v| v as i64);
                    let last = integ.number(path, "endImageNumber")?.map(|v| v as i64);
                    if let (Some(first), Some(last)) = (first, last) {
                        let mut input = json!({"path": dir, "filenameTemplate": template, "firstImageNumber": first, "lastImageNumber": last});
                        if let Some(id) = integ.number(path, "dataCollectionId")? {
                            input["dataCollectionId"] = json!(id as i64);
                        }
                        if !inputs.contains(&input) {
                            inputs.push(input);
                        }
                    }
                }
                sets.insert(format!("ReflectionSet{}", sets.len() + 1), set);
            }
            _ => {}
        }
    }
    // autoPROC + STARANISO writes the isotropic and the anisotropic result side by side: the
    // container with an ellipsoid (or ellipsoidal completeness) is the anisotropic one.
    let anisotropic = |set: &Value| {
        set.get("diffractionLimitsEstimated").is_some()
            || set["reflectionStatisticsOverall"]
                .get("CompletenessEllipsoidal")
                .is_some()
    };
    if sets.values().any(anisotropic) {
        for set in sets.values_mut() {
            set["anisotropicDiffraction"] = json!(anisotropic(set));
        }
    }
    if sets.is_empty() {
        return Err(ReadError::new(
            path,
            format!("line {}, <AutoProcContainer>", root.line),
            "at least one <AutoProcScalingContainer>",
            "none",
        ));
    }
    let mut ext = Map::new();
    if !inputs.is_empty() {
        ext.insert("inputImages".into(), Value::Array(inputs));
    }
    if let Some(cmd) = program.and_then(|p| p.text_of("processingCommandLine")) {
        ext.insert("commandLine".into(), json!(cmd));
    }
    // The files the job lists as written (logs, MTZ files): linked to what is read from them.
    let results: Vec<Value> = root
        .child("AutoProcProgramContainer")
        .into_iter()
        .flat_map(|c| c.all("AutoProcProgramAttachment"))
        .filter_map(|a| {
            let mut f = json!({"path": a.text_of("filePath")?.trim().trim_end_matches('/'), "fileName": a.text_of("fileName")?.trim()});
            if let Some(t) = a.text_of("fileType").map(str::trim).filter(|t| !t.is_empty()) {
                f["fileType"] = json!(t);
            }
            Some(f)
        })
        .filter(|f| f["path"] != "" && f["fileName"] != "")
        .collect();
    if !results.is_empty() {
        ext.insert("resultFiles".into(), Value::Array(results));
    }
    if !ext.is_empty() {
        job["extensions"] = json!({"mxpipe.org": ext});
    }
    Ok(
        json!({"version": mxpipe_model::MXLIMS_VERSION, "MxProcessing": {"MxProcessing1": job}, "ReflectionSet": sets}),
    )
}
