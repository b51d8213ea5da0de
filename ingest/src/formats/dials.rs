//! DIALS experiment lists (`.expt` / `experiments.json`): each experiment's image set and scan
//! become the images the processing read (linked to stored sweeps by directory + template + image
//! range), its crystal the unit cell (Å, degrees, from the real-space vectors) and space group
//! (from the Hall symbol; only the 65 chiral groups in their reference settings are named —
//! anything else is left out rather than guessed).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::{Fragment, ReadError, ReadOptions, Reader, directory_of, template_of};
use mxpipe_model::space_groups::space_group_of_hall;

/// Reader for DIALS experiment lists.
pub struct DialsReader;

impl Reader for DialsReader {
    fn name(&self) -> &'static str {
        "dials"
    }

    fn description(&self) -> &'static str {
        "a DIALS experiment list (.expt)"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        let text = String::from_utf8_lossy(head);
        text.trim_start().starts_with('{') && text.contains("\"ExperimentList\"")
    }

    fn read(&self, path: &Path, _options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::new(path, "file", "a readable text file", e.to_string()))?;
        let root: Value = serde_json::from_str(&text).map_err(|e| {
            ReadError::new(
                path,
                format!("line {}, column {}", e.line(), e.column()),
                "JSON",
                e.to_string(),
            )
        })?;
        crate::validated(path, to_message(path, &root)?)
    }
}

/// `root[list][index]` for an experiment's model reference, with a clear error when it dangles.
fn model<'a>(
    path: &Path,
    root: &'a Value,
    list: &str,
    experiment: &Value,
    at: usize,
) -> Result<Option<&'a Value>, ReadError> {
    let Some(index) = experiment.get(list).and_then(Value::as_u64) else {
        return Ok(None);
    };
    root.get(list)
        .and_then(|l| l.get(index as usize))
        .map(Some)
        .ok_or_else(|| {
            ReadError::new(
                path,
                format!("/experiment/{at}/{list}"),
                format!("an index into the {list} list"),
                format!(
                    "{index}, but the list has {} entries",
                    root.get(list).and_then(Value::as_array).map_or(0, Vec::len)
                ),
            )
        })
}

fn vector(v: Option<&Value>) -> Option<[f64; 3]> {
    let a = v?.as_array()?;
    if a.len() != 3 {
        return None;
    }
    Some([a[0].as_f64()?, a[1].as_f64()?, a[2].as_f64()?])
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Unit cell (Å, degrees) from DIALS real-space vectors.
pub fn cell_of(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> [f64; 6] {
    let (la, lb, lc) = (dot(a, a).sqrt(), dot(b, b).sqrt(), dot(c, c).sqrt());
    let angle = |x: [f64; 3], y: [f64; 3], lx: f64, ly: f64| {
        (dot(x, y) / (lx * ly)).clamp(-1.0, 1.0).acos().to_degrees()
    };
    let r = |v: f64| (v * 1e4).round() / 1e4;
    [
        r(la),
        r(lb),
        r(lc),
        r(angle(b, c, lb, lc)),
        r(angle(a, c, la, lc)),
        r(angle(a, b, la, lb)),
    ]
}

/// Turn `x_####.cbf` (DIALS) into `x_%04d.cbf`.
fn printf_template(name: &str) -> String {
    let Some(start) = name.find('#') else {
        return name.to_owned();
    };
    let n = name[start..].chars().take_while(|&c| c == '#').count();
    format!("{}%0{n}d{}", &name[..start], &name[start + n..])
}

fn to_message(path: &Path, root: &Value) -> Result<Value, ReadError> {
    let experiments = root
        .get("experiment")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ReadError::new(
                path,
                "/experiment",
                "a non-empty list of experiments",
                "none",
            )
        })?;
    let base = PathBuf::from(directory_of(path));
    let mut inputs: Vec<Value> = Vec::new();
    let mut cells: Vec<([f64; 6], Option<&'static str>)> = Vec::new();
    for (at, e) in experiments.iter().enumerate() {
        if let Some(imageset) = model(path, root, "imageset", e, at)? {
            let scan = model(path, root, "scan", e, at)?;
            let range = scan
                .and_then(|s| s.get("image_range"))
                .and_then(Value::as_array)
                .and_then(|r| Some((r.first()?.as_i64()?, r.get(1)?.as_i64()?)));
            let mut add = |file: &str, first: i64, last: i64, keep_name: bool| {
                let full = base.join(file);
                let (_, template, _) = template_of(&mxpipe_model::paths::path_text(
                    full.file_name().unwrap_or_default().as_ref(),
                ));
                let template = if keep_name || file.contains('#') {
                    printf_template(&mxpipe_model::paths::path_text(
                        full.file_name().unwrap_or_default().as_ref(),
                    ))
                } else {
                    template
                };
                let input = json!({"path": directory_of(&full), "filenameTemplate": template, "firstImageNumber": first, "lastImageNumber": last});
                if !inputs.contains(&input) {
                    inputs.push(input);
                }
            };
            if let Some(template) = imageset.get("template").and_then(Value::as_str) {
                let (first, last) = range.ok_or_else(|| {
                    ReadError::new(
                        path,
                        format!("/experiment/{at}/scan"),
                        "a scan with image_range for an image sweep",
                        "none",
                    )
                })?;
                add(template, first, last, true);
            } else if let Some(images) = imageset.get("images").and_then(Value::as_array) {
                let indices: Vec<i64> = imageset
                    .get("single_file_indices")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                for (i, image) in images.iter().filter_map(Value::as_str).enumerate() {
                    match indices.get(i) {
                        // A frame of a container (e.g. an HDF5 file): the file itself, frame n+1.
                        Some(&n) if image.ends_with(".h5") || image.ends_with(".nxs") => {
                            add(image, n + 1, n + 1, true)
                        }
                        _ => {
                            let name = Path::new(image)
                                .file_name()
                                .unwrap_or_default()
                                .to_string_lossy()
                                .into_owned();
                            let number = template_of(&name).2.unwrap_or(1);
                            add(image, number, number, false)
                        }
                    }
                }
            }
        }
        if let Some(crystal) = model(path, root, "crystal", e, at)? {
            let vectors = (
                vector(crystal.get("real_space_a")),
                vector(crystal.get("real_space_b")),
                vector(crystal.get("real_space_c")),
            );
            let (Some(a), Some(b), Some(c)) = vectors else {
                return Err(ReadError::new(
                    path,
                    format!("/crystal/{}", e["crystal"]),
                    "real_space_a, real_space_b and real_space_c as three numbers each",
                    "something else",
                ));
            };
            let sg = crystal
                .get("space_group_hall_symbol")
                .and_then(Value::as_str)
                .and_then(space_group_of_hall);
            cells.push((cell_of(a, b, c), sg));
        }
    }
    let mut job = json!({"mxlimsType": "MxProcessing", "programName": "DIALS"});
    if let Some((c, sg)) = cells.first() {
        job["unitCell"] =
            json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
        if let Some(sg) = sg.filter(|_| cells.iter().all(|(_, s)| s == sg)) {
            job["spaceGroupName"] = json!(sg);
        }
    }
    let mut ext = Map::new();
    if !inputs.is_empty() {
        ext.insert("inputImages".into(), Value::Array(inputs));
    }
    if !ext.is_empty() {
        job["extensions"] = json!({"mxpipe.org": ext});
    }
    Ok(json!({"version": mxpipe_model::MXLIMS_VERSION, "MxProcessing": {"MxProcessing1": job}}))
}
