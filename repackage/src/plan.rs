//! The plan: for every sweep of an experiment, its images in rotation order with the data file
//! and frame that hold each one, read from the store's `image_index` view. Pure data; the checks
//! that need the files are in [`crate::sources`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mxpipe_model::paths::text_path;
use mxpipe_store::Store;

use crate::RepackError;

/// One image of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Position in the experiment's acquisition order (0-based, over every sweep).
    pub acquisition_index: u64,
    /// Acquisition ordinal of its scan (wedge).
    pub wedge_ordinal: i64,
    /// Scan-axis angle at the image's start (degrees).
    pub angle_deg: f64,
    /// The HDF5 file that holds its frame.
    pub file: PathBuf,
    /// Frame within that file's image dataset (0-based).
    pub frame: u64,
    /// The master file the image was recorded with.
    pub master: PathBuf,
}

/// One output master.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// Sweep number in the experiment (1-based, in acquisition order of first images).
    pub number: usize,
    /// The sweep's uuid.
    pub sweep_uuid: String,
    /// Wavelength (Å).
    pub wavelength_a: f64,
    /// Image width (degrees).
    pub image_width_deg: f64,
    /// Images in rotation order.
    pub images: Vec<Image>,
    /// The master to write.
    pub output: PathBuf,
}

/// Everything to write.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The experiment.
    pub experiment_uuid: String,
    /// One per sweep.
    pub sweeps: Vec<SweepPlan>,
}

/// Read the plan from the store. Refuses (exit 1, nothing written) when the experiment is unknown,
/// when a sweep's images are not in HDF5, or when wedges overlap in angle (unless
/// `allow_overlap`: then the later-acquired image is kept).
pub async fn plan(
    store: &Store,
    experiment: &str,
    out: &Path,
    allow_overlap: bool,
) -> Result<Plan, RepackError> {
    let ctx = mxpipe_queries::open_stores(std::slice::from_ref(store))
        .await
        .map_err(|e| RepackError::Store(e.to_string()))?;
    let mxpipe_queries::lookups::ImagePlan { sweeps, images } =
        mxpipe_queries::lookups::image_plan(&ctx, experiment)
            .await
            .map_err(|e| RepackError::Store(e.to_string()))?;
    if sweeps.is_empty() {
        return Err(RepackError::Refused(format!(
            "no experiment {experiment} with sweeps in the store (`mxpipe query \"SELECT experiment_uuid FROM experiments\"` lists them)"
        )));
    }
    // Image width per sweep: a sweep without rotation (a grid scan, stills) has no angles; its
    // images keep their acquisition order at angle 0.
    let widths: BTreeMap<String, f64> = sweeps
        .iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[2].as_deref().and_then(|w| w.parse().ok()).unwrap_or(0.0),
            )
        })
        .collect();
    let mut by_sweep: BTreeMap<String, Vec<Image>> = BTreeMap::new();
    for (i, r) in images.iter().enumerate() {
        let get = |k: usize| r[k].clone().unwrap_or_default();
        let num = |k: usize| get(k).parse::<f64>().ok();
        // Stored paths are text, percent-encoded where the file name is not UTF-8.
        let dir = text_path(&get(3));
        let master = dir.join(text_path(&get(4)));
        let (file, frame) = match (&r[6], num(7)) {
            (Some(data), Some(f)) => (dir.join(text_path(data)), f as u64 - 1),
            _ => (master.clone(), num(5).unwrap_or(1.0) as u64 - 1),
        };
        if !is_hdf5_name(&file) {
            return Err(RepackError::Refused(format!(
                "sweep {} keeps its images in {} (not HDF5): only HDF5 data can be repackaged",
                get(0),
                file.display()
            )));
        }
        by_sweep.entry(get(0)).or_default().push(Image {
            acquisition_index: i as u64,
            wedge_ordinal: num(1).unwrap_or(0.0) as i64,
            angle_deg: match num(2) {
                Some(a) => a,
                None if widths.get(&get(0)).copied().unwrap_or(0.0) == 0.0 => 0.0,
                None => {
                    return Err(RepackError::Refused(format!(
                        "image {i} of sweep {} has no scan-axis angle in the store",
                        get(0)
                    )));
                }
            },
            file,
            frame,
            master,
        });
    }
    let mut ordered: Vec<&Vec<Option<String>>> = sweeps.iter().collect();
    ordered.sort_by_key(|r| {
        r[3].as_deref()
            .and_then(|o| o.parse::<i64>().ok())
            .unwrap_or(i64::MAX)
    });
    let mut out_sweeps = Vec::new();
    for (n, r) in ordered.iter().enumerate() {
        let uuid = r[0].clone().unwrap_or_default();
        let width = r[2]
            .as_deref()
            .and_then(|w| w.parse::<f64>().ok())
            .unwrap_or(0.0);
        let wavelength = r[1]
            .as_deref()
            .and_then(|w| w.parse::<f64>().ok())
            .ok_or_else(|| {
                RepackError::Refused(format!("sweep {uuid} has no wavelength in the store"))
            })?;
        let mut images = by_sweep.remove(&uuid).unwrap_or_default();
        if images.is_empty() {
            return Err(RepackError::Refused(format!(
                "sweep {uuid} has no images in the store"
            )));
        }
        images.sort_by(|a, b| {
            a.angle_deg
                .total_cmp(&b.angle_deg)
                .then(a.acquisition_index.cmp(&b.acquisition_index))
        });
        let images = resolve_overlaps(&uuid, images, width, allow_overlap)?;
        no_gaps(&uuid, &images, width)?;
        out_sweeps.push(SweepPlan {
            number: n + 1,
            sweep_uuid: uuid,
            // Stored as energy and converted back: round off the conversion's last bits.
            wavelength_a: (wavelength * 1e9).round() / 1e9,
            image_width_deg: width,
            images,
            output: out.join(format!("{experiment}_sweep{}_master.h5", n + 1)),
        });
    }
    Ok(Plan {
        experiment_uuid: experiment.to_owned(),
        sweeps: out_sweeps,
    })
}

/// Images sorted by angle: an image starting before the previous one ends overlaps it. Refused,
/// or with `allow` the later-acquired of the two is kept.
fn resolve_overlaps(
    sweep: &str,
    images: Vec<Image>,
    width: f64,
    allow: bool,
) -> Result<Vec<Image>, RepackError> {
    let tolerance = width.abs() * 1e-3 + 1e-9;
    let mut kept: Vec<Image> = Vec::with_capacity(images.len());
    for image in images {
        match kept.last() {
            Some(prev) if image.angle_deg < prev.angle_deg + width - tolerance => {
                if !allow {
                    return Err(RepackError::Refused(format!(
                        "sweep {sweep}: wedge {} (image at {:.4}°) overlaps wedge {} (image at {:.4}°, {width}° wide); \
                         pass --allow-overlap to keep the later wedge",
                        image.wedge_ordinal, image.angle_deg, prev.wedge_ordinal, prev.angle_deg
                    )));
                }
                if image.acquisition_index > prev.acquisition_index {
                    kept.pop();
                    // Later images of the earlier wedge that this one also covers go too.
                    while kept
                        .last()
                        .is_some_and(|p| image.angle_deg < p.angle_deg + width - tolerance)
                    {
                        kept.pop();
                    }
                    kept.push(image);
                }
            }
            _ => kept.push(image),
        }
    }
    Ok(kept)
}

/// A rotation sweep is one continuous range (XDS and DIALS assume it): refuse a gap.
fn no_gaps(sweep: &str, images: &[Image], width: f64) -> Result<(), RepackError> {
    if width <= 0.0 {
        return Ok(());
    }
    let tolerance = width * 1e-3;
    for w in images.windows(2) {
        if w[1].angle_deg > w[0].angle_deg + width + tolerance {
            return Err(RepackError::Refused(format!(
                "sweep {sweep}: a gap between {:.4}° and {:.4}° (wedges {} and {}): a sweep master needs one continuous rotation",
                w[0].angle_deg + width,
                w[1].angle_deg,
                w[0].wedge_ordinal,
                w[1].wedge_ordinal
            )));
        }
    }
    Ok(())
}

fn is_hdf5_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("h5" | "hdf5" | "nxs" | "hdf" | "nx5")
    )
}

/// Rows of a query, every column as text.
impl Plan {
    /// The plan as text (`--dry-run`): per output file, the image ranges taken from each source.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for s in &self.sweeps {
            let (first, last) = (
                s.images[0].angle_deg,
                s.images[s.images.len() - 1].angle_deg + s.image_width_deg,
            );
            out.push_str(&format!(
                "{}: sweep {} ({}), {} images, {first}° to {last}° at {} Å\n",
                s.output.display(),
                s.number,
                s.sweep_uuid,
                s.images.len(),
                s.wavelength_a
            ));
            for run in runs(&s.images) {
                let i = &s.images[run.start];
                out.push_str(&format!(
                    "  images {}-{} <- {} frames {}-{} (wedge {}, acquired as images {}-{})\n",
                    run.start + 1,
                    run.end,
                    i.file.display(),
                    i.frame + 1,
                    i.frame + (run.end - run.start) as u64,
                    i.wedge_ordinal,
                    i.acquisition_index + 1,
                    s.images[run.end - 1].acquisition_index + 1
                ));
            }
        }
        out
    }
}

/// Maximal runs of consecutive images from one file with consecutive frames (one VDS mapping each).
pub fn runs(images: &[Image]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, im) in images.iter().enumerate() {
        match out.last_mut() {
            Some(r)
                if images[r.end - 1].file == im.file && images[r.end - 1].frame + 1 == im.frame =>
            {
                r.end = i + 1
            }
            _ => out.push(i..i + 1),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(acq: u64, wedge: i64, angle: f64, file: &str, frame: u64) -> Image {
        Image {
            acquisition_index: acq,
            wedge_ordinal: wedge,
            angle_deg: angle,
            file: PathBuf::from(file),
            frame,
            master: PathBuf::from("m.h5"),
        }
    }

    #[test]
    fn runs_split_at_file_or_frame_breaks() {
        let images = [
            image(0, 0, 0.0, "a", 0),
            image(1, 0, 0.5, "a", 1),
            image(10, 2, 1.0, "b", 0),
            image(11, 2, 1.5, "b", 1),
            image(12, 2, 2.0, "b", 3),
        ];
        assert_eq!(runs(&images), vec![0..2, 2..4, 4..5]);
    }

    #[test]
    fn overlaps_are_refused_or_won_by_the_later_wedge_and_gaps_refused() {
        // Wedge 0 covers 0°–2°, wedge 1 (acquired later) 1°–3°.
        let mut images: Vec<Image> = (0..4)
            .map(|i| image(i, 0, i as f64 * 0.5, "a", i))
            .collect();
        images.extend((0..4).map(|i| image(4 + i, 1, 1.0 + i as f64 * 0.5, "b", i)));
        images.sort_by(|a, b| {
            a.angle_deg
                .total_cmp(&b.angle_deg)
                .then(a.acquisition_index.cmp(&b.acquisition_index))
        });
        let e = resolve_overlaps("s", images.clone(), 0.5, false).unwrap_err();
        assert!(e.to_string().contains("overlaps"), "{e}");
        let kept = resolve_overlaps("s", images, 0.5, true).unwrap();
        let order: Vec<u64> = kept.iter().map(|i| i.acquisition_index).collect();
        assert_eq!(order, vec![0, 1, 4, 5, 6, 7]);
        assert!(no_gaps("s", &kept, 0.5).is_ok());
        let gap = [image(0, 0, 0.0, "a", 0), image(1, 1, 2.0, "b", 0)];
        assert!(
            no_gaps("s", &gap, 0.5)
                .unwrap_err()
                .to_string()
                .contains("gap")
        );
        // Without rotation (width 0) nothing overlaps and nothing is a gap.
        let still = vec![image(0, 0, 0.0, "a", 0), image(1, 0, 0.0, "a", 1)];
        assert_eq!(
            resolve_overlaps("s", still.clone(), 0.0, false)
                .unwrap()
                .len(),
            2
        );
        assert!(no_gaps("s", &still, 0.0).is_ok());
    }
}
