//! DIALS experiment lists (`.expt` / `experiments.json`): each experiment's image set and scan
//! become the images the processing read (linked to stored sweeps by directory + template + image
//! range), its crystal the unit cell (Å, degrees, from the real-space vectors) and space group
//! (from the Hall symbol; only the 65 chiral groups in their reference settings are named —
//! anything else is left out rather than guessed).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::xds_correct::chiral_space_group;
use crate::{Fragment, ReadError, ReadOptions, Reader, directory_of, template_of};

/// Reader for DIALS experiment lists.
pub struct DialsReader;

/// Hall symbols of the chiral space groups in their reference settings (as gemmi spells them,
/// plus the cctbx spellings where they differ), with International Tables numbers.
const HALL: &[(&str, u32)] = &[
    ("P 1", 1),
    ("P 2y", 3),
    ("P 2yb", 4),
    ("C 2y", 5),
    ("P 2 2", 16),
    ("P 2c 2", 17),
    ("P 2 2ab", 18),
    ("P 2ac 2ab", 19),
    ("C 2c 2", 20),
    ("C 2 2", 21),
    ("F 2 2", 22),
    ("I 2 2", 23),
    ("I 2b 2c", 24),
    ("P 4", 75),
    ("P 4w", 76),
    ("P 4c", 77),
    ("P 4cw", 78),
    ("I 4", 79),
    ("I 4bw", 80),
    ("P 4 2", 89),
    ("P 4ab 2ab", 90),
    ("P 4w 2c", 91),
    ("P 4abw 2nw", 92),
    ("P 4c 2", 93),
    ("P 4n 2n", 94),
    ("P 4cw 2c", 95),
    ("P 4nw 2abw", 96),
    ("I 4 2", 97),
    ("I 4bw 2bw", 98),
    ("P 3", 143),
    ("P 31", 144),
    ("P 32", 145),
    ("R 3", 146),
    ("P 3 2", 149),
    ("P 3 2\"", 150),
    ("P 31 2 (0 0 4)", 151),
    ("P 31 2c (0 0 1)", 151),
    ("P 31 2\"", 152),
    ("P 32 2 (0 0 2)", 153),
    ("P 32 2c (0 0 -1)", 153),
    ("P 32 2\"", 154),
    ("R 3 2\"", 155),
    ("P 6", 168),
    ("P 61", 169),
    ("P 65", 170),
    ("P 62", 171),
    ("P 64", 172),
    ("P 6c", 173),
    ("P 6 2", 177),
    ("P 61 2 (0 0 5)", 178),
    ("P 61 2 (0 0 -1)", 178),
    ("P 65 2 (0 0 1)", 179),
    ("P 62 2 (0 0 4)", 180),
    ("P 62 2c (0 0 1)", 180),
    ("P 64 2 (0 0 2)", 181),
    ("P 64 2c (0 0 -1)", 181),
    ("P 6c 2c", 182),
    ("P 2 2 3", 195),
    ("F 2 2 3", 196),
    ("I 2 2 3", 197),
    ("P 2ac 2ab 3", 198),
    ("I 2b 2c 3", 199),
    ("P 4 2 3", 207),
    ("P 4n 2 3", 208),
    ("F 4 2 3", 209),
    ("F 4d 2 3", 210),
    ("I 4 2 3", 211),
    ("P 4acd 2ab 3", 212),
    ("P 4bd 2ab 3", 213),
    ("I 4bd 2c 3", 214),
];

/// The MXLIMS space-group name of a Hall symbol (reference settings of chiral groups only).
pub fn space_group_of_hall(hall: &str) -> Option<&'static str> {
    let norm: String = hall.split_whitespace().collect::<Vec<_>>().join(" ");
    HALL.iter()
        .find(|(h, _)| *h == norm)
        .and_then(|(_, n)| chiral_space_group(*n))
}

impl Reader for DialsReader {
    fn name(&self) -> &'static str {
        "dials"
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
                let (_, template, _) =
                    template_of(&full.file_name().unwrap_or_default().to_string_lossy());
                let template = if keep_name || file.contains('#') {
                    printf_template(&full.file_name().unwrap_or_default().to_string_lossy())
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
