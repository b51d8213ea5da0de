//! What the plan's files must satisfy before anything is written: every data file exists and
//! holds the frames mapped (HDF5 silently fills frames of a missing source with zeros) — also
//! every source of a virtual image dataset, checked by opening it — one frame shape and data type
//! per sweep, one detector geometry and pixel mask over a sweep's masters, and an output folder
//! outside the raw data. Every problem is collected, so a refusal (and `--dry-run`) lists all.

use mxpipe_ingest::nxmx_layout;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::RepackError;
use crate::plan::Plan;

/// An image dataset in a source file.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its path in the file (`/entry/data/data` or `/data`).
    pub dataset: String,
    /// Frames, rows, columns.
    pub shape: (usize, usize, usize),
    /// Its data type.
    pub dtype: hdf5::types::TypeDescriptor,
}

/// The image dataset of every source file of the plan, checked. Refuses with every problem found
/// (one per line), not only the first.
pub fn check(plan: &Plan, out: &Path) -> Result<HashMap<PathBuf, Source>, RepackError> {
    hdf5::silence_errors(true);
    let mut problems: Vec<String> = Vec::new();
    let mut opened: HashMap<PathBuf, Result<Source, String>> = HashMap::new();
    let out_abs = absolute(out);
    let mut raw_dirs: Vec<PathBuf> = Vec::new();
    for s in &plan.sweeps {
        // Frames needed of each file (the highest, 1-based), in file order for stable messages.
        let mut needed: BTreeMap<&Path, u64> = BTreeMap::new();
        for im in &s.images {
            if let Some(dir) = im.file.parent()
                && out_abs.starts_with(absolute(dir))
                && !raw_dirs.iter().any(|d| d == dir)
            {
                raw_dirs.push(dir.to_owned());
                problems.push(format!(
                    "--out {} is inside the raw data folder {}: write the sweep masters elsewhere (readers that scan folders would see both)",
                    out.display(),
                    dir.display()
                ));
            }
            if !opened.contains_key(&im.file) {
                let result = open(&im.file);
                if let Err(e) = &result {
                    problems.push(e.clone());
                }
                opened.insert(im.file.clone(), result);
            }
            let n = needed.entry(im.file.as_path()).or_default();
            *n = (*n).max(im.frame + 1);
        }
        let mut shape: Option<(usize, usize, &hdf5::types::TypeDescriptor, &Path)> = None;
        for (file, frames) in needed {
            let Some(Ok(src)) = opened.get(file) else {
                continue;
            };
            if frames as usize > src.shape.0 {
                problems.push(format!(
                    "{}:{} holds {} frames; sweep {} needs frame {} of it",
                    file.display(),
                    src.dataset,
                    src.shape.0,
                    s.number,
                    frames
                ));
            }
            match shape {
                None => shape = Some((src.shape.1, src.shape.2, &src.dtype, file)),
                Some((r, c, t, first)) if (r, c, t) != (src.shape.1, src.shape.2, &src.dtype) => {
                    problems.push(format!(
                        "sweep {}: {} has {}×{} frames of {:?}, {} has {r}×{c} of {t:?}",
                        s.number,
                        file.display(),
                        src.shape.1,
                        src.shape.2,
                        src.dtype,
                        first.display()
                    ));
                }
                Some(_) => {}
            }
        }
        problems.extend(same_geometry(
            s.number,
            s.images.iter().map(|i| i.master.as_path()),
        ));
    }
    match problems.len() {
        0 => Ok(opened
            .into_iter()
            .filter_map(|(k, v)| v.ok().map(|v| (k, v)))
            .collect()),
        1 => Err(RepackError::Refused(problems.remove(0))),
        n => Err(RepackError::Refused(format!(
            "{n} problems, nothing written:\n  - {}",
            problems.join("\n  - ")
        ))),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
}

/// The image dataset of one file, with every source of a virtual dataset opened and checked.
fn open(path: &Path) -> Result<Source, String> {
    if !path.is_file() {
        return Err(format!(
            "data file {} is missing: HDF5 would read its frames as zeros without an error, so nothing is written",
            path.display()
        ));
    }
    let file = hdf5::File::open(path)
        .map_err(|e| format!("{}: not readable as HDF5: {e}", path.display()))?;
    for name in nxmx_layout::DATA_STACKS {
        if let Ok(ds) = file.dataset(name) {
            let shape = ds.shape();
            if shape.len() != 3 {
                return Err(format!(
                    "{}:{name} has shape {shape:?}; expected frames × rows × columns",
                    path.display()
                ));
            }
            let dtype = ds
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(|e| format!("{}:{name}: unreadable type: {e}", path.display()))?;
            virtual_sources(path, name, &ds)?;
            return Ok(Source {
                dataset: name.to_owned(),
                shape: (shape[0], shape[1], shape[2]),
                dtype,
            });
        }
    }
    Err(format!(
        "{} has no image dataset (/entry/data/data or /data)",
        path.display()
    ))
}

/// Every source of a virtual dataset (the `data` of an Eiger/nexgen master maps the frames of its
/// `_00000N.h5` files): the file exists (relative names from the master's folder, as HDF5 looks
/// first), opens, holds the dataset, and holds the frames the mapping declares. Not virtual: Ok.
fn virtual_sources(path: &Path, name: &str, ds: &hdf5::Dataset) -> Result<(), String> {
    let Ok(plist) = ds.dcpl() else {
        return Err(format!(
            "{}:{name}: its storage layout is unreadable",
            path.display()
        ));
    };
    if plist.layout() != hdf5::plist::dataset_create::Layout::Virtual {
        return Ok(());
    }
    let mut problems = Vec::new();
    let folder = path.parent().unwrap_or(Path::new("."));
    let Some(maps) = crate::vds::mappings(plist.id()) else {
        return Err(format!(
            "{}:{name} is a virtual dataset whose sources HDF5 cannot list, so they cannot be checked",
            path.display()
        ));
    };
    for m in maps {
        let source = if m.file == "." {
            path.to_owned()
        } else {
            folder.join(&m.file)
        };
        let declared = m.frames as usize;
        let what = format!(
            "{}:{name} maps frames from {}:{}",
            path.display(),
            source.display(),
            m.dataset
        );
        if !source.is_file() {
            problems.push(format!(
                "{what}, which is missing: HDF5 would read those frames as zeros without an error"
            ));
            continue;
        }
        let opened = hdf5::File::open(&source)
            .map_err(|e| format!("{what}, which is not readable as HDF5: {e}"))
            .and_then(|f| {
                f.dataset(&m.dataset).map_err(|_| {
                    match mxpipe_ingest::nxmx_data::external_link_file(&f, &m.dataset) {
                        Some(target) if !source.with_file_name(&target).is_file() => format!(
                            "{what}, a link to data file {}, which is missing: HDF5 would read those frames as zeros without an error",
                            source.with_file_name(&target).display()
                        ),
                        Some(target) => format!(
                            "{what}, a link to {target}, which does not hold the frames"
                        ),
                        None => format!("{what}, which has no dataset {}", m.dataset),
                    }
                })
            });
        match opened {
            Err(e) => problems.push(e),
            Ok(d) => {
                let held = d.shape().first().copied().unwrap_or(0);
                if held < declared {
                    problems.push(format!(
                        "{what}, which holds {held} frames of the {declared} mapped"
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  - "))
    }
}

/// Detector geometry fields whose values must agree over a sweep's masters.
const GEOMETRY: &[&str] = &nxmx_layout::DETECTOR_GEOMETRY;

/// Masks whose contents must agree over a sweep's masters.
const MASKS: &[&str] = &nxmx_layout::PIXEL_MASKS;

/// Geometry values and mask bytes of one master, in the order of [`GEOMETRY`] and [`MASKS`].
type Fingerprint = (Vec<Option<f64>>, Vec<Option<Vec<u8>>>);

/// Every disagreement in geometry or mask between a sweep's masters (empty: they agree).
fn same_geometry<'a>(sweep: usize, masters: impl Iterator<Item = &'a Path>) -> Vec<String> {
    let mut seen: Vec<&Path> = Vec::new();
    for m in masters {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    let Some(first) = seen.first() else {
        return Vec::new();
    };
    let describe = |p: &Path| -> Result<Fingerprint, String> {
        let f = hdf5::File::open(p)
            .map_err(|e| format!("{}: not readable as HDF5: {e}", p.display()))?;
        let values = GEOMETRY
            .iter()
            .map(|g| f.dataset(g).ok().and_then(|d| d.read_scalar::<f64>().ok()))
            .collect();
        let masks = MASKS
            .iter()
            .map(|g| {
                f.dataset(g)
                    .ok()
                    .and_then(|d| d.read_raw::<u32>().ok())
                    .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            })
            .collect();
        Ok((values, masks))
    };
    let reference = match describe(first) {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for other in &seen[1..] {
        let (values, masks) = match describe(other) {
            Ok(d) => d,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for (k, g) in GEOMETRY.iter().enumerate() {
            let (a, b) = (reference.0[k], values[k]);
            let differ = match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() > 1e-9 * a.abs().max(1.0),
                (None, None) => false,
                _ => true,
            };
            if differ {
                problems.push(format!(
                    "sweep {sweep}: the wedges disagree in detector geometry: {g} is {a:?} in {} and {b:?} in {}",
                    first.display(),
                    other.display()
                ));
            }
        }
        for (k, g) in MASKS.iter().enumerate() {
            if reference.1[k] != masks[k] {
                problems.push(format!(
                    "sweep {sweep}: the wedges disagree in the pixel mask ({g}) of {} and {}",
                    first.display(),
                    other.display()
                ));
            }
        }
    }
    problems
}
