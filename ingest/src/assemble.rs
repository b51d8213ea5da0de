//! Group image runs from collection files into MXLIMS messages.
//!
//! - One MxExperiment per image directory.
//! - Consecutive CBF images of one template merge into one run; a gap in numbering or in angle
//!   starts a new run (a separate Scan).
//! - Runs with the same scan axis, step, wavelength and orientation (all other goniometer axes)
//!   form one CollectionSweep (CBF runs also need the same template); each run is a Scan.
//! - Ordinals follow acquisition order (start time, then file name) across the experiment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mxpipe_model::{MxpipeExtension, Session};
use serde_json::{Map, Value, json};

use crate::ImageRun;

/// Options for assembly.
#[derive(Debug, Clone, Default)]
pub struct AssembleOptions {
    /// Session (visit) to attach to each experiment.
    pub session: Option<Session>,
}

/// One assembled message and the files it came from.
pub struct Assembled {
    /// The MXLIMS message JSON.
    pub message: Value,
    /// Source files and the reader that read each.
    pub sources: Vec<(PathBuf, &'static str)>,
}

fn time_key(t: &Option<String>) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    t.as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
}

fn same(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Merge single CBF images of one template into contiguous runs.
fn merge_contiguous(mut runs: Vec<ImageRun>) -> Vec<(ImageRun, Vec<(PathBuf, &'static str)>)> {
    runs.sort_by(|a, b| {
        (a.template.as_str(), a.first_image).cmp(&(b.template.as_str(), b.first_image))
    });
    let mut out: Vec<(ImageRun, Vec<(PathBuf, &'static str)>)> = Vec::new();
    for r in runs {
        if let Some((last, files)) = out.last_mut() {
            let contiguous = r.format == "cbf"
                && last.format == "cbf"
                && last.template == r.template
                && r.template.contains('%')
                && r.first_image == last.first_image + last.number_images
                && same(r.scan_step, last.scan_step, 1e-6)
                && r.scan_axis == last.scan_axis
                && same(
                    r.scan_start,
                    last.scan_start + last.scan_step * last.number_images as f64,
                    1e-3,
                )
                && r.wavelength_a
                    .zip(last.wavelength_a)
                    .is_none_or(|(a, b)| same(a, b, 1e-6));
            if contiguous {
                last.number_images += 1;
                last.axes_end = r.axes_end.clone();
                if time_key(&r.end_time) > time_key(&last.end_time) {
                    last.end_time = r.end_time.clone();
                }
                files.push((r.source.clone(), r.format));
                continue;
            }
        }
        let files = vec![(r.source.clone(), r.format)];
        out.push((r, files));
    }
    out
}

/// The key that decides which runs belong to one sweep.
fn sweep_key(r: &ImageRun) -> String {
    let mut parts = vec![
        r.sweep_type.to_owned(),
        r.scan_axis.clone(),
        format!("{:.5}", r.scan_step),
        format!("{:.5}", r.wavelength_a.unwrap_or(0.0)),
    ];
    if r.format == "cbf" {
        parts.push(r.template.clone());
    }
    for (axis, v) in &r.axes_start {
        if axis != &r.scan_axis && !r.axes_end.contains_key(axis) && axis != "detector_distance" {
            parts.push(format!("{axis}={v:.2}"));
        }
    }
    parts.join("|")
}

/// Assemble messages from runs (any order).
pub fn assemble(runs: Vec<ImageRun>, options: &AssembleOptions) -> Vec<Assembled> {
    let mut by_dir: BTreeMap<String, Vec<ImageRun>> = BTreeMap::new();
    for r in runs {
        by_dir.entry(r.directory.clone()).or_default().push(r);
    }
    by_dir
        .into_values()
        .map(|runs| assemble_experiment(runs, options))
        .collect()
}

fn assemble_experiment(runs: Vec<ImageRun>, options: &AssembleOptions) -> Assembled {
    let mut runs = merge_contiguous(runs);
    runs.sort_by(|(a, _), (b, _)| {
        (time_key(&a.start_time), a.source.clone())
            .cmp(&(time_key(&b.start_time), b.source.clone()))
    });
    let sources: Vec<(PathBuf, &'static str)> = runs.iter().flat_map(|(_, f)| f.clone()).collect();
    // Sweeps in order of their first scan; scans keep acquisition order.
    let mut sweeps: Vec<(String, Vec<(usize, &ImageRun)>)> = Vec::new();
    for (ordinal, (r, _)) in runs.iter().enumerate() {
        let key = sweep_key(r);
        // A run that covers angles already collected in a sweep (a repeat) starts a new sweep.
        match sweeps
            .iter_mut()
            .find(|(k, list)| *k == key && !list.iter().any(|(_, other)| overlaps(other, r)))
        {
            Some((_, list)) => list.push((ordinal, r)),
            None => sweeps.push((key, vec![(ordinal, r)])),
        }
    }
    let mut sweep_dict = Map::new();
    for (i, (_, scans)) in sweeps.iter().enumerate() {
        sweep_dict.insert(format!("CollectionSweep{}", i + 1), sweep_json(scans));
    }
    let start = runs
        .iter()
        .filter_map(|(r, _)| {
            r.start_time
                .as_ref()
                .map(|t| (time_key(&Some(t.clone())), t.clone()))
        })
        .min()
        .map(|(_, t)| t);
    let end = runs
        .iter()
        .filter_map(|(r, _)| {
            r.end_time
                .as_ref()
                .map(|t| (time_key(&Some(t.clone())), t.clone()))
        })
        .max()
        .map(|(_, t)| t);
    let mut experiment = json!({"mxlimsType": "MxExperiment", "jobStatus": "Completed"});
    let e = experiment.as_object_mut().expect("object");
    if let Some(t) = start {
        e.insert("startTime".into(), Value::from(t));
    }
    if let Some(t) = end {
        e.insert("endTime".into(), Value::from(t));
    }
    let mut message = json!({"version": mxpipe_model::MXLIMS_VERSION});
    if let Some(name) = runs.iter().find_map(|(r, _)| r.sample_name.clone()) {
        e.insert(
            "sampleRef".into(),
            json!({"$ref": "#/MacromoleculeSample/MacromoleculeSample1"}),
        );
        message["MacromoleculeSample"] =
            json!({"MacromoleculeSample1": {"mxlimsType": "MacromoleculeSample", "name": name}});
    }
    let site = runs.iter().find_map(|(r, _)| r.site.clone());
    if let Some(location) = site
        .as_ref()
        .and_then(|s| s.instrument_name.clone().or(s.source_name.clone()))
    {
        e.insert("experimentLocation".into(), Value::from(location));
    }
    if options.session.is_some() || site.is_some() {
        let ext = MxpipeExtension {
            session: options.session.clone(),
            instrument: site,
            ..Default::default()
        };
        e.insert("extensions".into(), json!({"mxpipe.org": ext}));
    }
    message["MxExperiment"] = json!({"MxExperiment1": experiment});
    message["CollectionSweep"] = Value::Object(sweep_dict);
    Assembled { message, sources }
}

/// Do two runs cover overlapping scan-axis ranges (rotation or translation)? Stills never do.
fn overlaps(a: &ImageRun, b: &ImageRun) -> bool {
    if a.scan_step.abs() < 1e-12 || b.scan_step.abs() < 1e-12 {
        return false;
    }
    let span = |r: &ImageRun| {
        let end = r.scan_start + r.scan_step * r.number_images as f64;
        (r.scan_start.min(end), r.scan_start.max(end))
    };
    let ((a0, a1), (b0, b1)) = (span(a), span(b));
    a0 < b1 - 1e-6 && b0 < a1 - 1e-6
}

fn sweep_json(scans: &[(usize, &ImageRun)]) -> Value {
    let first = scans[0].1;
    let step = first.scan_step;
    let origin = scans
        .iter()
        .map(|(_, r)| r.scan_start)
        .fold(f64::INFINITY, f64::min);
    let several_files = first.format != "cbf" && scans.len() > 1;
    let with_data_files = scans.iter().any(|(_, r)| !r.data_files.is_empty());
    let mut scan_list = Vec::new();
    let mut files = Vec::new();
    for (ordinal, r) in scans {
        let first_image = if several_files && step.abs() > 1e-12 {
            ((r.scan_start - origin) / step.abs()).round() as i64 + 1
        } else if several_files {
            scan_list
                .iter()
                .map(|s: &Value| {
                    s["firstImageNumber"].as_i64().unwrap_or(1)
                        + s["numberImages"].as_i64().unwrap_or(0)
                })
                .max()
                .unwrap_or(1)
        } else {
            r.first_image
        };
        scan_list.push(json!({"scanPositionStart": r.scan_start, "firstImageNumber": first_image, "numberImages": r.number_images, "ordinal": ordinal}));
        let mut file = json!({"ordinal": ordinal, "path": r.directory, "filenameTemplate": r.template, "firstImageInFile": r.first_image});
        if !r.data_files.is_empty() {
            file["dataFiles"] = json!(r.data_files);
        }
        files.push(file);
    }
    let total: i64 = scans.iter().map(|(_, r)| r.number_images).sum();
    let mut s = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            s.insert(k.to_owned(), v);
        }
    };
    put("mxlimsType", json!("CollectionSweep"));
    put("role", json!("Result"));
    put("sweepType", json!(first.sweep_type));
    put("scanAxis", json!(first.scan_axis));
    put("exposureTime", json!(first.exposure_s.filter(|&e| e > 0.0)));
    if first.sweep_type == "simple" {
        put("imageWidth", json!(step.abs()));
    }
    put("numberImages", json!(total));
    put("numberLines", json!(first.number_lines));
    put("meshRange", json!(first.mesh_range));
    put(
        "energy",
        json!(
            first
                .wavelength_a
                .map(mxpipe_model::units::ev_from_wavelength_a)
        ),
    );
    put(
        "transmission",
        json!(first.transmission_pct.filter(|&t| t > 0.0 && t <= 100.0)),
    );
    put("beamPosition", json!(first.beam_center_px));
    put("detectorType", json!(first.detector));
    let mut start_axes = first.axes_start.clone();
    if let Some(d) = first.distance_mm {
        start_axes.insert("detector_distance".into(), d);
    }
    start_axes.insert(first.scan_axis.clone(), origin);
    put("axisPositionsStart", json!(start_axes));
    let last = scans.last().expect("non-empty").1;
    put("axisPositionsEnd", json!(last.axes_end));
    put("scans", Value::Array(scan_list));
    put("fileType", json!(first.file_type));
    put("prefix", json!(first.prefix));
    put("filenameTemplate", json!(first.template));
    put("path", json!(first.directory));
    put("sourceRef", json!({"$ref": "#/MxExperiment/MxExperiment1"}));
    let mut ext = Map::new();
    if several_files || with_data_files {
        ext.insert("scanFiles".into(), Value::Array(files));
    }
    if let Some(p) = first.pixel_size_mm {
        ext.insert("pixelSizeMm".into(), json!(p));
    }
    if !ext.is_empty() {
        put("extensions", json!({"mxpipe.org": ext}));
    }
    Value::Object(s)
}
