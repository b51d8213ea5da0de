//! What the plan's files must satisfy before anything is written: every data file exists and
//! holds the frames mapped (HDF5 silently fills frames of a missing source with zeros), one frame
//! shape and data type per sweep, one detector geometry and pixel mask over a sweep's masters, and
//! an output folder outside the raw data.

use std::collections::HashMap;
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

/// The image dataset of every source file of the plan, checked.
pub fn check(plan: &Plan, out: &Path) -> Result<HashMap<PathBuf, Source>, RepackError> {
    hdf5::silence_errors(true);
    let mut found: HashMap<PathBuf, Source> = HashMap::new();
    let out_abs = absolute(out);
    for s in &plan.sweeps {
        let mut shape: Option<(usize, usize, hdf5::types::TypeDescriptor, PathBuf)> = None;
        for im in &s.images {
            if let Some(dir) = im.file.parent()
                && out_abs.starts_with(absolute(dir))
            {
                return Err(RepackError::Refused(format!(
                    "--out {} is inside the raw data folder {}: write the sweep masters elsewhere (readers that scan folders would see both)",
                    out.display(),
                    dir.display()
                )));
            }
            if !found.contains_key(&im.file) {
                found.insert(im.file.clone(), open(&im.file)?);
            }
            let src = &found[&im.file];
            if im.frame as usize >= src.shape.0 {
                return Err(RepackError::Refused(format!(
                    "{}:{} holds {} frames; sweep {} needs frame {} of it",
                    im.file.display(),
                    src.dataset,
                    src.shape.0,
                    s.number,
                    im.frame + 1
                )));
            }
            match &shape {
                None => {
                    shape = Some((src.shape.1, src.shape.2, src.dtype.clone(), im.file.clone()))
                }
                Some((r, c, t, first)) if (*r, *c, t) != (src.shape.1, src.shape.2, &src.dtype) => {
                    return Err(RepackError::Refused(format!(
                        "sweep {}: {} has {}×{} frames of {:?}, {} has {r}×{c} of {t:?}",
                        s.number,
                        im.file.display(),
                        src.shape.1,
                        src.shape.2,
                        src.dtype,
                        first.display()
                    )));
                }
                Some(_) => {}
            }
        }
        same_geometry(s.number, s.images.iter().map(|i| i.master.as_path()))?;
    }
    Ok(found)
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
}

/// The image dataset of one file.
fn open(path: &Path) -> Result<Source, RepackError> {
    if !path.is_file() {
        return Err(RepackError::Refused(format!(
            "data file {} is missing: HDF5 would read its frames as zeros without an error, so nothing is written",
            path.display()
        )));
    }
    let file = hdf5::File::open(path).map_err(|e| {
        RepackError::Refused(format!("{}: not readable as HDF5: {e}", path.display()))
    })?;
    for name in ["/entry/data/data", "/data"] {
        if let Ok(ds) = file.dataset(name) {
            let shape = ds.shape();
            if shape.len() != 3 {
                return Err(RepackError::Refused(format!(
                    "{}:{name} has shape {shape:?}; expected frames × rows × columns",
                    path.display()
                )));
            }
            let dtype = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
                RepackError::Refused(format!("{}:{name}: unreadable type: {e}", path.display()))
            })?;
            return Ok(Source {
                dataset: name.to_owned(),
                shape: (shape[0], shape[1], shape[2]),
                dtype,
            });
        }
    }
    Err(RepackError::Refused(format!(
        "{} has no image dataset (/entry/data/data or /data)",
        path.display()
    )))
}

/// Detector geometry fields whose values must agree over a sweep's masters.
const GEOMETRY: &[&str] = &[
    "/entry/instrument/detector/distance",
    "/entry/instrument/detector/beam_center_x",
    "/entry/instrument/detector/beam_center_y",
    "/entry/instrument/detector/x_pixel_size",
    "/entry/instrument/detector/y_pixel_size",
];

/// Masks whose contents must agree over a sweep's masters.
const MASKS: &[&str] = &[
    "/entry/instrument/detector/pixel_mask",
    "/entry/instrument/detector/detectorSpecific/pixel_mask",
];

/// Geometry values and mask bytes of one master, in the order of [`GEOMETRY`] and [`MASKS`].
type Fingerprint = (Vec<Option<f64>>, Vec<Option<Vec<u8>>>);

fn same_geometry<'a>(
    sweep: usize,
    masters: impl Iterator<Item = &'a Path>,
) -> Result<(), RepackError> {
    let mut seen: Vec<&Path> = Vec::new();
    for m in masters {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    let Some(first) = seen.first() else {
        return Ok(());
    };
    let describe = |p: &Path| -> Result<Fingerprint, RepackError> {
        let f = hdf5::File::open(p).map_err(|e| {
            RepackError::Refused(format!("{}: not readable as HDF5: {e}", p.display()))
        })?;
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
    let reference = describe(first)?;
    for other in &seen[1..] {
        let (values, masks) = describe(other)?;
        for (k, g) in GEOMETRY.iter().enumerate() {
            let (a, b) = (reference.0[k], values[k]);
            let differ = match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() > 1e-9 * a.abs().max(1.0),
                (None, None) => false,
                _ => true,
            };
            if differ {
                return Err(RepackError::Refused(format!(
                    "sweep {sweep}: the wedges disagree in detector geometry: {g} is {a:?} in {} and {b:?} in {}",
                    first.display(),
                    other.display()
                )));
            }
        }
        for (k, g) in MASKS.iter().enumerate() {
            if reference.1[k] != masks[k] {
                return Err(RepackError::Refused(format!(
                    "sweep {sweep}: the wedges disagree in the pixel mask ({g}) of {} and {}",
                    first.display(),
                    other.display()
                )));
            }
        }
    }
    Ok(())
}
