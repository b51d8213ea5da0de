//! Writing one NXmx master per sweep: `/entry/data/data` a virtual dataset over the untouched data
//! files (relative paths, one mapping per run of consecutive frames), the instrument and sample
//! groups copied from the sweep's first source master with their attributes, a monotonic omega,
//! the sweep's wavelength, the acquisition order in `/entry/mxpipe:acquisition` and the
//! experiment's MXLIMS JSON. All strings and attributes ASCII (UTF-8 breaks durin), except the
//! JSON. No `data_NNNNNN` links (durin and dxtbx would read them instead of the VDS).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hdf5::types::{VarLenAscii, VarLenUnicode};

use crate::RepackError;
use crate::plan::{Plan, SweepPlan, runs};
use crate::sources::Source;

pub use mxpipe_ingest::nxmx_layout::ACQUISITION;
use mxpipe_ingest::nxmx_layout::EXPERIMENT_MXLIMS_NAME;

fn h5(e: hdf5::Error) -> RepackError {
    RepackError::Hdf5(e.to_string())
}

fn ascii(text: &str) -> Result<VarLenAscii, RepackError> {
    VarLenAscii::from_ascii(text)
        .map_err(|e| RepackError::Hdf5(format!("{text:?} is not ASCII: {e}")))
}

fn attr(loc: &hdf5::Location, name: &str, value: &str) -> Result<(), RepackError> {
    if loc.attr(name).is_ok() {
        loc.delete_attr(name).map_err(h5)?;
    }
    loc.new_attr::<VarLenAscii>()
        .create(name)
        .map_err(h5)?
        .write_scalar(&ascii(value)?)
        .map_err(h5)
}

/// The group `name` of `parent`, created with its NX_class when the source master had none.
fn nx_group(parent: &hdf5::Group, name: &str, class: &str) -> Result<hdf5::Group, RepackError> {
    match parent.group(name) {
        Ok(g) => Ok(g),
        Err(_) => {
            let g = parent.create_group(name).map_err(h5)?;
            attr(&g, "NX_class", class)?;
            Ok(g)
        }
    }
}

fn text(group: &hdf5::Group, name: &str, value: &str) -> Result<(), RepackError> {
    let _ = group.unlink(name);
    group
        .new_dataset::<VarLenAscii>()
        .create(name)
        .map_err(h5)?
        .write_scalar(&ascii(value)?)
        .map_err(h5)
}

/// Write every master of the plan (and its XDS/DIALS fragments); returns the files written.
pub fn write(
    plan: &Plan,
    sources: &HashMap<PathBuf, Source>,
    mxlims_json: &str,
) -> Result<Vec<PathBuf>, RepackError> {
    let mut written = Vec::new();
    for s in &plan.sweeps {
        if let Some(dir) = s.output.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| RepackError::Io(format!("{}: {e}", dir.display())))?;
        }
        // Written under a temporary name and renamed: a failure leaves no half master.
        let partial = s.output.with_extension("h5.partial");
        let result = write_sweep(plan, s, sources, mxlims_json, &partial);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &s.output)
            .map_err(|e| RepackError::Io(format!("{}: {e}", s.output.display())))?;
        written.push(s.output.clone());
        written.extend(fragments(s)?);
    }
    Ok(written)
}

fn write_sweep(
    plan: &Plan,
    s: &SweepPlan,
    sources: &HashMap<PathBuf, Source>,
    mxlims_json: &str,
    path: &Path,
) -> Result<(), RepackError> {
    let out_dir = std::path::absolute(path.parent().unwrap_or(Path::new(".")))
        .map_err(|e| RepackError::Io(e.to_string()))?;
    let file = hdf5::File::create(path).map_err(h5)?;
    let entry = file.create_group("entry").map_err(h5)?;
    attr(&entry, "NX_class", "NXentry")?;
    text(&entry, "definition", "NXmx")?;
    let first_master = hdf5::File::open(&s.images[0].master).map_err(h5)?;
    for group in ["instrument", "sample", "source"] {
        if let Ok(g) = first_master.group(&format!("/entry/{group}")) {
            g.copy_to(&entry, group).map_err(h5)?;
        }
    }
    for field in ["start_time", "end_time", "end_time_estimated"] {
        if let Ok(d) = first_master.dataset(&format!("/entry/{field}")) {
            d.copy_to(&entry, field).map_err(h5)?;
        }
    }
    let n = s.images.len();
    // The sweep's wavelength, and nothing that would make a reader take data_NNNNNN links.
    let instrument = nx_group(&entry, "instrument", "NXinstrument")?;
    let beam = nx_group(&instrument, "beam", "NXbeam")?;
    let _ = beam.unlink("incident_wavelength");
    let wl = beam
        .new_dataset::<f64>()
        .create("incident_wavelength")
        .map_err(h5)?;
    wl.write_scalar(&s.wavelength_a).map_err(h5)?;
    attr(&wl, "units", "angstrom")?;
    if let Ok(spec) = instrument.group("detector/detectorSpecific") {
        let _ = spec.unlink("eiger_fw_version");
        let _ = spec.unlink("nimages");
        spec.new_dataset::<u64>()
            .create("nimages")
            .map_err(h5)?
            .write_scalar(&(n as u64))
            .map_err(h5)?;
    }
    // The scan axis: one start angle per image, monotonic.
    let sample = nx_group(&entry, "sample", "NXsample")?;
    let transformations = nx_group(&sample, "transformations", "NXtransformations")?;
    let old_omega = transformations.dataset("omega").ok();
    let omega_attrs: Vec<(String, String)> = old_omega
        .as_ref()
        .map(|d| {
            d.attr_names()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| {
                    let v = d
                        .attr(&a)
                        .ok()?
                        .read_scalar::<VarLenAscii>()
                        .ok()
                        .map(|v| v.as_str().to_owned())
                        .or_else(|| {
                            d.attr(&a)
                                .ok()?
                                .read_scalar::<hdf5::types::FixedAscii<256>>()
                                .ok()
                                .map(|v| v.as_str().to_owned())
                        })
                        .or_else(|| {
                            d.attr(&a)
                                .ok()?
                                .read_scalar::<VarLenUnicode>()
                                .ok()
                                .map(|v| v.as_str().to_owned())
                        })?;
                    Some((a, v))
                })
                .collect()
        })
        .unwrap_or_default();
    let vector: Option<Vec<f64>> = old_omega
        .as_ref()
        .and_then(|d| d.attr("vector").ok()?.read_raw::<f64>().ok());
    drop(old_omega);
    for name in ["omega", "omega_end", "omega_increment_set"] {
        let _ = transformations.unlink(name);
    }
    let angles: Vec<f64> = s.images.iter().map(|i| i.angle_deg).collect();
    let ends: Vec<f64> = angles.iter().map(|a| a + s.image_width_deg).collect();
    let omega = transformations
        .new_dataset_builder()
        .with_data(&angles)
        .create("omega")
        .map_err(h5)?;
    let mut have_type = false;
    for (k, v) in &omega_attrs {
        if k != "vector" {
            attr(&omega, k, v)?;
            have_type |= k == "transformation_type";
        }
    }
    if !have_type {
        attr(&omega, "transformation_type", "rotation")?;
    }
    if !omega_attrs.iter().any(|(k, _)| k == "units") {
        attr(&omega, "units", "deg")?;
    }
    if !omega_attrs.iter().any(|(k, _)| k == "depends_on") {
        attr(&omega, "depends_on", ".")?;
    }
    let vector = vector.unwrap_or_else(|| vec![-1.0, 0.0, 0.0]);
    omega
        .new_attr::<f64>()
        .shape(vector.len())
        .create("vector")
        .map_err(h5)?
        .write(&vector)
        .map_err(h5)?;
    let end = transformations
        .new_dataset_builder()
        .with_data(&ends)
        .create("omega_end")
        .map_err(h5)?;
    attr(&end, "units", "deg")?;
    let inc = transformations
        .new_dataset::<f64>()
        .create("omega_increment_set")
        .map_err(h5)?;
    inc.write_scalar(&s.image_width_deg).map_err(h5)?;
    attr(&inc, "units", "deg")?;
    if sample.dataset("depends_on").is_err() {
        text(&sample, "depends_on", "/entry/sample/transformations/omega")?;
    }
    // The frames: a virtual dataset over the data files, one mapping per run.
    let data = entry.create_group("data").map_err(h5)?;
    attr(&data, "NX_class", "NXdata")?;
    attr(&data, "signal", "data")?;
    let first = &sources[&s.images[0].file];
    let (_, rows, cols) = first.shape;
    let mut builder = data
        .new_dataset_builder()
        .empty_as(&first.dtype)
        .shape((n, rows, cols));
    for run in runs(&s.images) {
        let im = &s.images[run.start];
        let src = &sources[&im.file];
        let source_abs =
            std::path::absolute(&im.file).map_err(|e| RepackError::Io(e.to_string()))?;
        let relative = pathdiff::diff_paths(&source_abs, &out_dir).unwrap_or(source_abs);
        let name = relative.to_str().ok_or_else(|| {
            RepackError::Refused(format!("{} is not a UTF-8 path", im.file.display()))
        })?;
        let len = run.end - run.start;
        let f0 = im.frame as usize;
        builder = builder.virtual_map(
            name,
            &src.dataset,
            (src.shape.0, rows, cols),
            (f0..f0 + len, .., ..),
            (n, rows, cols),
            (run.start..run.end, .., ..),
        );
    }
    builder.create("data").map_err(h5)?;
    // What repackaging cannot otherwise keep: the acquisition order.
    let acq = file.create_group(ACQUISITION).map_err(h5)?;
    attr(&acq, "NX_class", "NXcollection")?;
    let col = |f: fn(&crate::plan::Image) -> u64| s.images.iter().map(f).collect::<Vec<u64>>();
    acq.new_dataset_builder()
        .with_data(&col(|i| i.acquisition_index))
        .create("acquisition_index")
        .map_err(h5)?;
    let wedges: Vec<i64> = s.images.iter().map(|i| i.wedge_ordinal).collect();
    acq.new_dataset_builder()
        .with_data(&wedges)
        .create("wedge_ordinal")
        .map_err(h5)?;
    acq.new_dataset_builder()
        .with_data(&col(|i| i.frame))
        .create("source_frame")
        .map_err(h5)?;
    let files: Vec<VarLenAscii> = s
        .images
        .iter()
        .map(|i| {
            let abs = std::path::absolute(&i.file).unwrap_or_else(|_| i.file.clone());
            ascii(
                &pathdiff::diff_paths(&abs, &out_dir)
                    .unwrap_or(abs)
                    .to_string_lossy(),
            )
        })
        .collect::<Result<_, _>>()?;
    acq.new_dataset_builder()
        .with_data(&files)
        .create("source_file")
        .map_err(h5)?;
    text(&acq, "sweep_uuid", &s.sweep_uuid)?;
    text(&acq, "experiment_uuid", &plan.experiment_uuid)?;
    let json: VarLenUnicode = mxlims_json
        .parse()
        .map_err(|e| RepackError::Hdf5(format!("MXLIMS JSON: {e:?}")))?;
    acq.new_dataset::<VarLenUnicode>()
        .create(EXPERIMENT_MXLIMS_NAME)
        .map_err(h5)?
        .write_scalar(&json)
        .map_err(h5)?;
    attr(
        &acq,
        "description",
        "acquisition order of every image of this sweep (acquisition_index over the whole experiment, 0-based; wedge_ordinal; source_file relative to this file and source_frame, 0-based) and the experiment as MXLIMS JSON (experiment_mxlims)",
    )?;
    file.flush().map_err(h5)?;
    Ok(())
}

/// `XDS.INP.fragment` and the DIALS import line beside a master.
fn fragments(s: &SweepPlan) -> Result<Vec<PathBuf>, RepackError> {
    let name = s
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let stem = name.trim_end_matches("_master.h5");
    let dir = s.output.parent().unwrap_or(Path::new("."));
    let n = s.images.len();
    let xds = dir.join(format!("{stem}.XDS.INP.fragment"));
    let text = format!(
        "! sweep {} of {}: {} images, written by mxpipe repackage (the master reads through a plugin: LIB= durin-plugin.so)\n\
         NAME_TEMPLATE_OF_DATA_FRAMES= {stem}_??????.h5\n\
         DATA_RANGE= 1 {n}\n\
         SPOT_RANGE= 1 {n}\n\
         STARTING_ANGLE= {}\n\
         OSCILLATION_RANGE= {}\n\
         X-RAY_WAVELENGTH= {}\n",
        s.number, s.sweep_uuid, n, s.images[0].angle_deg, s.image_width_deg, s.wavelength_a
    );
    std::fs::write(&xds, text).map_err(|e| RepackError::Io(format!("{}: {e}", xds.display())))?;
    let dials = dir.join(format!("{stem}.dials_import"));
    std::fs::write(&dials, format!("dials.import {name}\n"))
        .map_err(|e| RepackError::Io(format!("{}: {e}", dials.display())))?;
    Ok(vec![xds, dials])
}
