//! XDS CORRECT.LP: the last "SUBSET OF INTENSITY DATA WITH SIGNAL/NOISE >= -3.0 AS FUNCTION OF
//! RESOLUTION" table (one row per shell plus `total`), the final space group and cell, the
//! wavelength, the resolution range and the data frames. XDS prints R-factors, completeness and
//! CC(1/2) in percent; they are stored as fractions (R, CC) and percent (completeness). `-99.9%`
//! means "not available" (e.g. a single image) and is left out, as is CC(1/2) for shells with no
//! compared reflections.

use std::path::Path;

use mxpipe_model::space_groups::chiral_space_group;
use serde_json::{Map, Value, json};

use crate::{Fragment, ReadError, ReadOptions, Reader, template_of};

/// Reader for XDS CORRECT.LP.
pub struct XdsCorrectReader;

impl Reader for XdsCorrectReader {
    fn name(&self) -> &'static str {
        "xds-correct"
    }

    fn description(&self) -> &'static str {
        "XDS CORRECT.LP"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        String::from_utf8_lossy(head).contains("***** CORRECT *****")
    }

    fn read(&self, path: &Path, _options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::new(path, "file", "a readable text file", e.to_string()))?;
        let value = to_message(path, &text)?;
        crate::validated(path, value)
    }
}

/// The value after `KEY=` on the first line that has it (input parameters, echoed at the top).
pub(crate) fn first_value<'a>(text: &'a str, key: &str) -> Option<(usize, &'a str)> {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| l.find(key).map(|p| (i + 1, l[p + key.len()..].trim())))
}

/// The value after `KEY=` on the last line that has it (final refined values).
fn last_value<'a>(text: &'a str, key: &str) -> Option<(usize, &'a str)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| l.find(key).map(|p| (i + 1, l[p + key.len()..].trim())))
        .last()
}

pub(crate) fn numbers(s: &str) -> Vec<f64> {
    s.split_whitespace()
        .map_while(|t| {
            t.trim_end_matches('%')
                .trim_end_matches('*')
                .parse::<f64>()
                .ok()
        })
        .collect()
}

fn percent(v: f64) -> Option<f64> {
    (v > -99.0).then_some(v / 100.0)
}

fn to_message(path: &Path, text: &str) -> Result<Value, ReadError> {
    const TABLE: &str =
        "SUBSET OF INTENSITY DATA WITH SIGNAL/NOISE >= -3.0 AS FUNCTION OF RESOLUTION";
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains(TABLE))
        .ok_or_else(|| {
            ReadError::new(
                path,
                "statistics table",
                format!("a \"{TABLE}\" table (CORRECT.LP of a finished XDS run)"),
                "no such table",
            )
        })?;
    let low_limit = first_value(text, "INCLUDE_RESOLUTION_RANGE=")
        .map(|(_, v)| numbers(v))
        .and_then(|v| v.first().copied())
        .unwrap_or(999.0);
    let mut shells = Vec::new();
    let mut total = None;
    let mut previous = low_limit;
    for (i, line) in lines.iter().enumerate().skip(start + 4) {
        let t = line.trim();
        if t.is_empty() {
            if shells.is_empty() { continue } else { break }
        }
        let is_total = t.starts_with("total");
        let values = numbers(if is_total { &t[5..] } else { t });
        let expected = if is_total { 13 } else { 14 };
        if values.len() < expected {
            return Err(ReadError::new(
                path,
                format!("line {}", i + 1),
                format!("a statistics row with {expected} numbers"),
                format!("{t:?}"),
            ));
        }
        let v = if is_total {
            let mut v = vec![0.0];
            v.extend(values);
            v
        } else {
            values
        };
        let high = if is_total {
            shells
                .last()
                .map(|s: &Value| s["resolutionLimits"][1].as_f64().unwrap_or(0.0))
                .unwrap_or(0.0)
        } else {
            v[0]
        };
        let low = if is_total { low_limit } else { previous };
        let mut s = Map::new();
        s.insert("resolutionLimits".into(), json!([low, high]));
        // resolution, observed, unique, possible, completeness, R obs, R exp, compared, I/sigma,
        // R-meas, CC(1/2), anomalous corr, SigAno, Nano
        let (obs, uniq, compared) = (v[1], v[2], v[7]);
        if obs > 0.0 {
            s.insert("numberObservations".into(), json!(obs as i64));
        }
        if uniq > 0.0 {
            s.insert("numberObservationsUnique".into(), json!(uniq as i64));
        }
        if uniq > 0.0 {
            s.insert("Redundancy".into(), json!(obs / uniq));
        }
        if v[4] >= 0.0 {
            s.insert("Completeness".into(), json!(v[4]));
        }
        if let Some(r) = percent(v[5]) {
            s.insert("R_merge".into(), json!(r));
        }
        if let Some(r) = percent(v[9]) {
            s.insert("R_meas".into(), json!(r));
        }
        if compared > 0.0 {
            s.insert("I_over_SigI".into(), json!(v[8]));
            s.insert("CC_one_half".into(), json!(v[10] / 100.0));
            s.insert("CC_ano".into(), json!(v[11] / 100.0));
            s.insert("SigAno".into(), json!(v[12]));
        }
        if is_total {
            total = Some(Value::Object(s));
            break;
        }
        previous = high;
        shells.push(Value::Object(s));
    }
    let total = total.ok_or_else(|| {
        ReadError::new(
            path,
            format!("line {}", start + 1),
            "a `total` row closing the statistics table",
            "the table ends without one",
        )
    })?;
    let mut set = json!({"mxlimsType": "ReflectionSet", "role": "Result", "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"},
        "operationalResolution": total["resolutionLimits"][1], "reflectionStatisticsOverall": total, "reflectionStatisticsShells": shells,
        "fileType": "XDS XDS_ASCII.HKL; scaled and unmerged (https://xds.mr.mpg.de/html_doc/xds_files.html#XDS_ASCII.HKL)", "filename": "XDS_ASCII.HKL"});
    if let Some(n) = set["reflectionStatisticsOverall"]
        .get("numberObservations")
        .cloned()
    {
        set["numberReflections"] = n;
    }
    if let Some(n) = set["reflectionStatisticsOverall"]
        .get("numberObservationsUnique")
        .cloned()
    {
        set["numberReflectionsUnique"] = n;
    }
    symmetry_into(path, text, &mut set)?;
    let mut job =
        json!({"mxlimsType": "MxProcessing", "programName": "XDS", "jobStatus": "Completed"});
    if let Some(version) = lines
        .iter()
        .find(|l| l.contains("***** CORRECT *****"))
        .and_then(|l| l.split("VERSION").nth(1))
        .and_then(|v| v.split(')').next())
        .map(str::trim)
    {
        job["programVersion"] = json!(version);
    }
    if let Some(inputs) = input_images(path, text) {
        job["extensions"] = json!({"mxpipe.org": {"inputImages": [inputs]}});
    }
    Ok(
        json!({"version": mxpipe_model::MXLIMS_VERSION, "MxProcessing": {"MxProcessing1": job}, "ReflectionSet": {"ReflectionSet1": set}}),
    )
}

/// The frames an XDS run read (`NAME_TEMPLATE_OF_DATA_FRAMES=`, relative to the file's folder,
/// `????` → `%04d`; `DATA_RANGE=`), as an mxpipe.org `inputImages` entry.
pub(crate) fn input_images(path: &Path, text: &str) -> Option<Value> {
    let (_, template) = first_value(text, "NAME_TEMPLATE_OF_DATA_FRAMES=")?;
    let (_, range) = first_value(text, "DATA_RANGE=")?;
    let frames = template
        .split_whitespace()
        .next()
        .filter(|f| !f.is_empty())?;
    let r = numbers(range);
    if r.len() < 2 {
        return None;
    }
    let full = path.parent().unwrap_or(Path::new(".")).join(frames);
    let dir = crate::directory_of(&full);
    let name = full
        .file_name()
        .map(|n| mxpipe_model::paths::path_text(n.as_ref()))
        .unwrap_or_default();
    let hashes = name.chars().filter(|&c| c == '?').count();
    let template = if hashes > 0 {
        name.replacen(&"?".repeat(hashes), &format!("%0{hashes}d"), 1)
    } else {
        template_of(&name).1
    };
    Some(
        json!({"path": dir, "filenameTemplate": template, "firstImageNumber": r[0] as i64, "lastImageNumber": r[1] as i64}),
    )
}

/// Space group, cell and wavelength (`SPACE_GROUP_NUMBER=` and `UNIT_CELL_CONSTANTS=`, last
/// occurrences; `X-RAY_WAVELENGTH=`) into a ReflectionSet.
pub(crate) fn symmetry_into(path: &Path, text: &str, set: &mut Value) -> Result<(), ReadError> {
    if let Some((line, v)) = last_value(text, "SPACE_GROUP_NUMBER=") {
        let n = numbers(v).first().copied().ok_or_else(|| {
            ReadError::new(
                path,
                format!("line {line} (SPACE_GROUP_NUMBER=)"),
                "a number",
                format!("{v:?}"),
            )
        })?;
        if let Some(name) = chiral_space_group(n as u32) {
            set["spaceGroupName"] = json!(name);
        }
    }
    if let Some((line, v)) = last_value(text, "UNIT_CELL_CONSTANTS=") {
        let c = numbers(v);
        if c.len() != 6 || c.iter().any(|x| *x <= 0.0) {
            return Err(ReadError::new(
                path,
                format!("line {line} (UNIT_CELL_CONSTANTS=)"),
                "six positive numbers a b c alpha beta gamma",
                format!("{v:?}"),
            ));
        }
        set["refinedUnitCell"] =
            json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
    }
    if let Some(w) = first_value(text, "X-RAY_WAVELENGTH=")
        .and_then(|(_, v)| numbers(v).first().copied())
        .filter(|w| *w > 0.0)
    {
        set["wavelengths"] = json!([w]);
    }
    Ok(())
}
