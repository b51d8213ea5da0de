//! The mapping from the typed model to store rows, one function per table family. This is the
//! one place that decides which MXLIMS field lands in which column (see `docs/store.md`).

use std::collections::BTreeMap;

use mxpipe_model::{AnyObject, Entry, MxlimsObject, mxpipe_extension};
use serde_json::{Value, json};

use crate::prepare::{PreparedMessage, canonical_sha256, sha256_hex};

/// Rows per table name, as JSON objects (converted to Arrow with the table schema).
pub type Rows = BTreeMap<&'static str, Vec<Value>>;

pub use mxpipe_model::units::{HC_EV_ANGSTROM, energy_ev};

/// One object of a prepared message with its content hash.
pub struct ObjectVersion<'a> {
    /// The entry.
    pub entry: Entry<'a>,
    /// Object uuid (always set after preparation).
    pub uuid: String,
    /// SHA-256 of the canonical object JSON.
    pub content_sha256: String,
    /// The object JSON.
    pub json: Value,
}

/// Every object of a message with its hash.
pub fn object_versions(p: &PreparedMessage) -> Vec<ObjectVersion<'_>> {
    p.message
        .entries()
        .into_iter()
        .map(|entry| {
            let json = entry.object.to_value();
            let uuid = entry
                .object
                .as_object()
                .uuid()
                .expect("uuids are minted in prepare")
                .to_string();
            let content_sha256 = canonical_sha256(&json);
            ObjectVersion {
                entry,
                uuid,
                content_sha256,
                json,
            }
        })
        .collect()
}

fn link_uuid(o: &dyn MxlimsObject, field: &str) -> Value {
    o.links()
        .into_iter()
        .find(|l| l.field == field && l.index.is_none())
        .and_then(|l| l.link.uuid)
        .map(|u| Value::from(u.to_string()))
        .unwrap_or(Value::Null)
}

fn time(t: &Option<mxpipe_model::AwareDateTime>) -> Value {
    t.as_ref()
        .map(|t| Value::from(t.value().to_rfc3339()))
        .unwrap_or(Value::Null)
}

/// Append every row one object version produces.
pub fn object_rows(p: &PreparedMessage, v: &ObjectVersion<'_>, rows: &mut Rows) {
    let o = v.entry.object.as_object();
    let uuid = v.uuid.as_str();
    let minted = p.minted.iter().any(|m| m.to_string() == uuid);
    // A minted uuid is left out of the stored JSON (it is not the message's); copy only then.
    let object_json = match &v.json {
        Value::Object(m) if minted => {
            let mut m = m.clone();
            m.shift_remove("uuid");
            serde_json::to_string(&m)
        }
        other => serde_json::to_string(other),
    }
    .expect("JSON serialises");
    rows.entry("objects").or_default().push(json!({
        "uuid": uuid, "uuid_minted": minted, "mxlims_type": o.type_name(), "core_class": o.core_class().as_str(),
        "message_id": p.message_id, "message_key": v.entry.key, "content_sha256": v.content_sha256,
        "name": v.json.get("name"), "annotation": v.json.get("annotation"),
        "object_json": object_json,
    }));
    for l in o.links() {
        let (to_type, to_key) = l
            .link
            .type_and_key()
            .unwrap_or(("", l.link.target.as_str()));
        rows.entry("links").or_default().push(json!({
            "from_uuid": uuid, "from_type": o.type_name(), "field": l.field, "list_index": l.index,
            "to_uuid": l.link.uuid.map(|u| u.to_string()), "to_type": to_type, "to_key": to_key,
        }));
    }
    for (kind, field) in [("identifier", "identifiers"), ("url", "urls")] {
        if let Some(Value::Object(m)) = v.json.get(field) {
            for (domain, value) in m {
                rows.entry("identifiers").or_default().push(
                    json!({"object_uuid": uuid, "kind": kind, "domain": domain, "value": value}),
                );
            }
        }
    }
    if let Some(ext) = o.extensions() {
        for (domain, fields) in ext {
            rows.entry("extensions").or_default().push(json!({"object_uuid": uuid, "domain": domain.as_str(), "fields_json": serde_json::to_string(fields).expect("JSON serialises")}));
        }
    }
    let ext = mxpipe_extension(o).ok().flatten();
    let visit = ext
        .as_ref()
        .and_then(|e| e.session.as_ref())
        .map(|s| s.visit_label());
    if let Some(e) = &ext {
        if let Some(s) = &e.session {
            rows.entry("sessions").or_default().push(json!({
                "object_uuid": uuid, "proposal_code": s.proposal_code, "visit_number": s.visit_number, "visit": s.visit_label(),
                "facility": s.facility, "beamline": s.beamline, "start_time": time(&s.start_time), "end_time": time(&s.end_time),
            }));
        }
        if let Some(x) = &e.ssx {
            rows.entry("ssx_runs").or_default().push(json!({
                "experiment_uuid": uuid, "delivery_method": serde_json::to_value(x.delivery_method).unwrap(), "pdbx_method": x.delivery_method.pdbx_method(),
                "sample_holding": x.sample_holding, "sample_unit_size_um": x.sample_unit_size_um, "jet_diameter_um": x.jet_diameter_um,
                "flow_rate_ul_per_min": x.flow_rate_ul_per_min, "frame_rate_hz": x.frame_rate_hz, "collection_time_total_s": x.collection_time_total_s,
                "frames_total": x.frames_total, "crystal_hits": x.crystal_hits, "frames_indexed": x.frames_indexed,
                "lattices_indexed": x.lattices_indexed, "lattices_merged": x.lattices_merged, "hit_rate": x.hit_rate(), "indexing_rate": x.indexing_rate(),
            }));
        }
    }
    if let Some(x) = ext.as_ref().and_then(|e| e.ssx_data_reduction.as_ref()) {
        rows.entry("ssx_data_reduction").or_default().push(json!({
            "processing_uuid": uuid, "frames_total": x.frames_total, "frame_hits": x.frame_hits, "frames_indexed": x.frames_indexed,
            "frames_failed_index": x.frames_failed_index, "lattices_indexed": x.lattices_indexed, "lattices_merged": x.lattices_merged,
            "hit_rate": x.hit_rate(), "indexing_rate": x.indexing_rate(), "indexing_methods": x.indexing_methods, "frames_file": x.frames_file,
        }));
    }
    let identity = ext.as_ref().and_then(|e| e.sample_identity.as_ref());
    let (pid, pid_scheme) = (
        identity.map(|i| i.pid.clone()),
        identity.and_then(|i| i.scheme.clone()),
    );
    let j = &v.json;
    match v.entry.object {
        AnyObject::MxExperiment(_) | AnyObject::MxProcessing(_) | AnyObject::VolumeScan(_) => {
            let (start, end) = match v.entry.object {
                AnyObject::MxExperiment(x) => (&x.start_time, &x.end_time),
                AnyObject::MxProcessing(x) => (&x.start_time, &x.end_time),
                AnyObject::VolumeScan(x) => (&x.start_time, &x.end_time),
                _ => unreachable!(),
            };
            if let AnyObject::MxProcessing(p) = v.entry.object {
                processing_inputs(uuid, p, ext.as_ref(), rows);
            }
            let cell = j
                .get("unitCell")
                .or(j.get("expectedUnitCell"))
                .cloned()
                .unwrap_or(Value::Null);
            rows.entry("jobs").or_default().push(json!({
                "uuid": uuid, "mxlims_type": o.type_name(), "start_time": time(start), "end_time": time(end),
                "start_time_text": j.get("startTime"), "job_status": j.get("jobStatus"), "experiment_strategy": j.get("experimentStrategy"),
                "experiment_type": j.get("experimentType"), "program_name": j.get("programName"), "program_version": j.get("programVersion"),
                "sample_uuid": link_uuid(o, "sampleRef"), "logistical_sample_uuid": link_uuid(o, "logisticalSampleRef"),
                "started_from_uuid": link_uuid(o, "startedFromRef"),
                "space_group": j.get("expectedSpaceGroupName").or(j.get("spaceGroupName")).and_then(Value::as_str).map(one_spelling), "expected_resolution_a": j.get("expectedResolution"),
                "visit": visit, "cell_a_a": cell.get("a"), "cell_b_a": cell.get("b"), "cell_c_a": cell.get("c"),
                "cell_alpha_deg": cell.get("alpha"), "cell_beta_deg": cell.get("beta"), "cell_gamma_deg": cell.get("gamma"),
                "file_facility": ext.as_ref().and_then(|e| e.instrument.as_ref()).and_then(|i| i.facility.clone()),
                "file_beamline": ext.as_ref().and_then(|e| e.instrument.as_ref()).and_then(|i| i.beamline.clone()),
            }));
        }
        AnyObject::CollectionSweep(s) => sweep_rows(uuid, s, o, rows),
        AnyObject::MacromoleculeSample(_) | AnyObject::Macromolecule(_) | AnyObject::Medium(_) => {
            rows.entry("samples").or_default().push(json!({
                "uuid": uuid, "mxlims_type": o.type_name(), "name": j.get("name"), "acronym": j.get("acronym"),
                "parent_uuid": link_uuid(o, "parentSampleRef"), "medium_uuid": link_uuid(o, "mediumRef"), "pid": pid, "pid_scheme": pid_scheme,
            }));
        }
        AnyObject::ReflectionSet(r) => reflection_rows(uuid, v.entry.key, r, o, rows),
        _ => {
            let position = [
                "positionInDewar",
                "positionInPuck",
                "positionInPin",
                "dropNumber",
            ]
            .iter()
            .find_map(|k| j.get(*k));
            rows.entry("logistical_samples").or_default().push(json!({
                "uuid": uuid, "mxlims_type": o.type_name(), "name": j.get("name"), "barcode": j.get("barcode"),
                "container_uuid": link_uuid(o, "containerRef"), "sample_uuid": link_uuid(o, "sampleRef"), "position": position,
                "row_number": j.get("rowNumber"), "column_number": j.get("columnNumber"), "proposal_code": j.get("proposalCode"),
                "pid": pid, "pid_scheme": pid_scheme,
            }));
        }
    }
}

fn sweep_rows(
    uuid: &str,
    s: &mxpipe_model::CollectionSweep,
    o: &dyn MxlimsObject,
    rows: &mut Rows,
) {
    let experiment = link_uuid(o, "sourceRef");
    let ev = s.energy.map(energy_ev);
    let pair = |a: &Option<[f64; 2]>, i: usize| a.map(|v| v[i]);
    let pixel = mxpipe_extension(o)
        .ok()
        .flatten()
        .and_then(|e| e.pixel_size_mm);
    rows.entry("sweeps").or_default().push(json!({
        "uuid": uuid, "experiment_uuid": experiment, "derived_from_uuid": link_uuid(o, "derivedFromRef"),
        "logistical_sample_uuid": link_uuid(o, "logisticalSampleRef"), "role": s.role, "sweep_type": s.sweep_type, "scan_axis": s.scan_axis,
        "exposure_time_s": s.exposure_time, "image_width_deg": s.image_width, "overlap_deg": s.overlap, "number_images": s.number_images,
        "energy_as_written": s.energy, "energy_ev": ev, "wavelength_a": ev.map(|e| HC_EV_ANGSTROM / e),
        "transmission_pct": s.transmission, "resolution_a": s.resolution,
        "detector_distance_mm": s.axis_positions_start.as_ref().and_then(|m| m.get("detector_distance")),
        "beam_position_x_px": pair(&s.beam_position, 0), "beam_position_y_px": pair(&s.beam_position, 1),
        "beam_size_h_mm": pair(&s.beam_size, 0), "beam_size_v_mm": pair(&s.beam_size, 1),
        "detector_type": s.detector_type, "file_type": s.file_type, "prefix": s.prefix, "filename_template": s.filename_template,
        "path": s.path, "number_scans": s.scans.as_ref().map_or(0, Vec::len),
        "pixel_size_x_mm": pixel.map(|p| p[0]), "pixel_size_y_mm": pixel.map(|p| p[1]),
    }));
    for (which, map) in [
        ("start", &s.axis_positions_start),
        ("end", &s.axis_positions_end),
    ] {
        for (axis, value) in map.iter().flatten() {
            rows.entry("axis_positions")
                .or_default()
                .push(json!({"sweep_uuid": uuid, "which": which, "axis": axis, "value": value}));
        }
    }
    if let Some(files) = mxpipe_extension(o)
        .ok()
        .flatten()
        .and_then(|e| e.scan_files)
    {
        for f in files {
            let mut first = Some(1i64);
            for (i, d) in f.data_files.iter().flatten().enumerate() {
                rows.entry("data_files").or_default().push(json!({
                    "sweep_uuid": uuid, "ordinal": f.ordinal, "list_index": i, "file_name": d.file_name,
                    "first_frame": first, "frames": d.frames,
                }));
                first = first.zip(d.frames).map(|(a, n)| a + n);
            }
            rows.entry("scan_files").or_default().push(json!({
                "sweep_uuid": uuid, "ordinal": f.ordinal, "path": f.path,
                "filename_template": f.filename_template, "first_image_in_file": f.first_image_in_file,
            }));
        }
    }
    let series_id = s
        .filename_template
        .as_ref()
        .map(|t| series_id(s.path.as_deref().unwrap_or(""), t));
    for (i, scan) in s.scans.iter().flatten().enumerate() {
        let last = scan.first_image_number + scan.number_images - 1;
        rows.entry("scans").or_default().push(json!({
            "sweep_uuid": uuid, "experiment_uuid": experiment, "list_index": i, "ordinal": scan.ordinal,
            "scan_position_start": scan.scan_position_start, "first_image_number": scan.first_image_number,
            "number_images": scan.number_images, "last_image_number": last,
        }));
        if let (Some(id), Some(t)) = (&series_id, &s.filename_template) {
            rows.entry("image_series").or_default().push(json!({
                "series_id": id, "path": s.path, "filename_template": t, "sweep_uuid": uuid, "scan_list_index": i,
                "ordinal": scan.ordinal, "first_image_number": scan.first_image_number, "last_image_number": last,
            }));
        }
    }
}

fn processing_inputs(
    uuid: &str,
    p: &mxpipe_model::MxProcessing,
    ext: Option<&mxpipe_model::MxpipeExtension>,
    rows: &mut Rows,
) {
    let mut index = 0;
    for r in p.input_data_refs.iter().flatten() {
        rows.entry("processing_inputs").or_default().push(json!({
            "processing_uuid": uuid, "list_index": index, "kind": "sweep", "sweep_uuid": r.uuid.map(|u| u.to_string()),
        }));
        index += 1;
    }
    for (i, f) in ext
        .and_then(|e| e.result_files.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        rows.entry("result_files").or_default().push(json!({
            "processing_uuid": uuid, "list_index": i, "path": f.path, "file_name": f.file_name, "file_type": f.file_type,
        }));
    }
    for i in ext
        .and_then(|e| e.input_images.as_ref())
        .into_iter()
        .flatten()
    {
        rows.entry("processing_inputs").or_default().push(json!({
            "processing_uuid": uuid, "list_index": index, "kind": "images", "path": i.path, "filename_template": i.filename_template,
            "first_image_number": i.first_image_number, "last_image_number": i.last_image_number, "data_collection_id": i.data_collection_id,
        }));
        index += 1;
    }
}

/// A space group in one spelling (the PDB's for chiral groups; others as written), so that
/// `GROUP BY space_group` is right whatever program wrote it. The object JSON keeps it as written.
fn one_spelling(name: &str) -> String {
    mxpipe_model::space_groups::pdb_space_group_name(name)
        .unwrap_or(name)
        .to_owned()
}

/// The number at the end of a message key (`ReflectionSet2` → 2): the order the program wrote
/// its results in (autoPROC's scaling containers).
fn key_position(key: &str) -> Option<i64> {
    let digits = key.trim_start_matches(|c: char| !c.is_ascii_digit());
    digits.parse().ok()
}

fn reflection_rows(
    uuid: &str,
    key: &str,
    r: &mxpipe_model::ReflectionSet,
    o: &dyn MxlimsObject,
    rows: &mut Rows,
) {
    let cell = r.refined_unit_cell.as_ref();
    let limit = |i: usize| {
        r.diffraction_limits_estimated
            .as_ref()
            .map(|t| t.eigenvalues[i])
    };
    rows.entry("reflection_sets").or_default().push(json!({
        "uuid": uuid, "processing_uuid": link_uuid(o, "sourceRef"),
        "space_group": r.space_group_name.as_ref().map(|s| one_spelling(s.as_str())),
        "cell_a_a": cell.map(|c| c.a), "cell_b_a": cell.map(|c| c.b), "cell_c_a": cell.map(|c| c.c),
        "cell_alpha_deg": cell.map(|c| c.alpha), "cell_beta_deg": cell.map(|c| c.beta), "cell_gamma_deg": cell.map(|c| c.gamma),
        "wavelength_a": r.wavelengths.as_ref().and_then(|w| w.first()), "operational_resolution_a": r.operational_resolution,
        "number_reflections": r.number_reflections, "number_reflections_unique": r.number_reflections_unique,
        "file_type": r.file_type.map(|f| f.as_str()), "filename": r.filename, "path": r.path,
        "anisotropic": r.anisotropic_diffraction, "position": key_position(key),
        "diffraction_limit_1_a": limit(0), "diffraction_limit_2_a": limit(1), "diffraction_limit_3_a": limit(2),
    }));
    let shells = r
        .reflection_statistics_shells
        .as_deref()
        .unwrap_or_default();
    let all = r
        .reflection_statistics_overall
        .iter()
        .map(|s| ("overall", None, s))
        .chain(shells.iter().enumerate().map(|(i, s)| {
            let name = if i == 0 {
                "inner"
            } else if i + 1 == shells.len() {
                "outer"
            } else {
                "shell"
            };
            (name, Some(i), s)
        }));
    for (shell, index, s) in all {
        rows.entry("reflection_statistics").or_default().push(json!({
            "reflection_set_uuid": uuid, "shell": shell, "shell_index": index,
            "resolution_low_a": s.resolution_limits[0], "resolution_high_a": s.resolution_limits[1],
            "number_observations": s.number_observations, "number_observations_unique": s.number_observations_unique,
            "r_merge": s.r_merge, "r_meas": s.r_meas, "r_pim": s.r_pim, "i_over_sigma": s.i_over_sig_i, "cc_half": s.cc_one_half,
            "cc_ano": s.cc_ano, "sig_ano": s.sig_ano, "completeness_pct": s.completeness, "multiplicity": s.redundancy,
            "completeness_ano_pct": s.completeness_ano, "multiplicity_ano": s.redundancy_ano,
            "completeness_spherical_pct": s.completeness_spherical, "completeness_ellipsoidal_pct": s.completeness_ellipsoidal,
            "completeness_ano_spherical_pct": s.completeness_ano_spherical, "completeness_ano_ellipsoidal_pct": s.completeness_ano_ellipsoidal,
        }));
    }
}

/// The key of a file series in `image_series`: the first 16 hex digits of SHA-256(path + NUL +
/// template).
pub fn series_id(path: &str, template: &str) -> String {
    sha256_hex(format!("{path}\0{template}").as_bytes())[..16].to_owned()
}
