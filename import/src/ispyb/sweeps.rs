//! A group's DataCollections → CollectionSweeps with scans. DataCollections that mxpipe exported
//! name their sweep and scan ordinal in `comments`; legacy ones are regrouped by directory,
//! template, wavelength and axis (rule `regroup-wedges`), ordinals in acquisition order.
//! Characterisation wedges (`overlap` ≠ 0) and mesh scans get their own shapes.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::batch::Batch;
use super::collection::{Placed, mxpipe_uuid, printf_template, reference};
use super::read::{Row, int};
use super::rules::Tally;
use super::values::Values;
use super::{Settings, derived_uuid};

/// Earliest start and latest end of a group's collections (UTC).
pub type SweepTimes = (Option<String>, Option<String>);

/// The ordinal after `scan N` in an mxpipe comment.
fn comment_ordinal(comment: &str) -> Option<i64> {
    comment
        .split(" scan ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|n| (0..1_000_000_000).contains(n))
}

/// What one DataCollection becomes.
struct Wedge<'a> {
    dc: &'a Row,
    id: i64,
    sweep: String,
    /// Ordinal given by an mxpipe comment.
    ordinal: Option<i64>,
}

impl Batch {
    /// Add the sweeps of a group's collections to `msg`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sweeps(
        &self,
        msg: &mut Value,
        dcs: &[&Row],
        group: i64,
        ty: &str,
        ssx: bool,
        crystal_ref: &Value,
        s: &Settings,
        t: &mut Tally,
        ids: &mut Vec<(String, &'static str, i64)>,
    ) -> (HashMap<i64, Placed>, bool, SweepTimes) {
        // Which sweep each collection belongs to.
        let mut first_of: HashMap<String, String> = HashMap::new();
        let mut wedges = Vec::new();
        for dc in dcs {
            let id = int(dc, "dataCollectionId").unwrap_or(0);
            let comment = dc.get("comments").map(String::as_str);
            let (sweep, ordinal) = match mxpipe_uuid(comment, "sweep") {
                Some(u) => {
                    t.applied("mxpipe-comments");
                    (u.to_owned(), comment.and_then(comment_ordinal))
                }
                None => {
                    let key = format!(
                        "{}|{}|{:.5}|{}",
                        dc.get("imageDirectory").map_or("", String::as_str),
                        dc.get("fileTemplate").map_or("", String::as_str),
                        dc.get("wavelength")
                            .and_then(|w| w.parse::<f64>().ok())
                            .unwrap_or(0.0),
                        dc.get("rotationAxis").map_or("", String::as_str)
                    );
                    let sweep = first_of
                        .entry(key)
                        .or_insert_with(|| derived_uuid(s, "DataCollection", id))
                        .clone();
                    (sweep, None)
                }
            };
            wedges.push(Wedge {
                dc,
                id,
                sweep,
                ordinal,
            });
        }
        let mut order: Vec<String> = Vec::new();
        for w in &wedges {
            if !order.contains(&w.sweep) {
                order.push(w.sweep.clone());
            }
        }
        let grid_of_group = self.group_grids.get(&group);
        let mesh_group = ty.eq_ignore_ascii_case("mesh");
        let mut placed = HashMap::new();
        let mut next_ordinal = 0;
        let mut times: SweepTimes = (None, None);
        let mut interleaved = false;
        let mut scans_of: HashMap<String, Vec<Value>> = HashMap::new();
        let mut dcs_of: HashMap<String, Vec<i64>> = HashMap::new();
        for w in &wedges {
            let v = Values::of(w.dc, "DataCollection", "dataCollectionId");
            if let Some(st) = v.time("startTime", s.timezone, t) {
                times.0 = Some(times.0.map_or(st.clone(), |a: String| a.min(st)));
            }
            if let Some(en) = v.time("endTime", s.timezone, t) {
                times.1 = Some(times.1.map_or(en.clone(), |a: String| a.max(en)));
            }
            let n = v.int("numberOfImages", t).filter(|n| *n > 0).unwrap_or(1);
            let first = v.int("startImageNumber", t).unwrap_or(1);
            let start = v.num("axisStart", t).unwrap_or(0.0);
            let overlap = v.num("overlap", t).unwrap_or(0.0);
            t.applied("dc-axis-end");
            let ordinal = w.ordinal.unwrap_or(next_ordinal);
            let scans = scans_of.entry(w.sweep.clone()).or_default();
            if overlap != 0.0 && !ssx {
                // One scan; the gap between images is the sweep's (negative) overlap: image i at
                // axisStart + i·(axisRange − overlap).
                t.applied("dc-characterisation-wedges");
            }
            scans.push(json!({"scanPositionStart": start, "firstImageNumber": first, "numberImages": n, "ordinal": ordinal}));
            next_ordinal = next_ordinal.max(ordinal.saturating_add(1));
            dcs_of.entry(w.sweep.clone()).or_default().push(w.id);
            let sweep_key = format!(
                "CollectionSweep{}",
                order.iter().position(|x| *x == w.sweep).unwrap_or(0) + 1
            );
            ids.push((
                format!("DataCollection:{}#{ordinal}", w.sweep),
                "DataCollection",
                w.id,
            ));
            if self.ssx.contains_key(&w.id) {
                ids.push((
                    format!("SSXDataCollection:{}#{ordinal}", w.sweep),
                    "SSXDataCollection",
                    w.id,
                ));
            }
            for (chain, events) in self.chains.get(&w.id).into_iter().flatten() {
                ids.push((
                    format!("EventChain:{}#{ordinal}", w.sweep),
                    "EventChain",
                    *chain,
                ));
                for (name, event) in events {
                    ids.push((
                        format!("Event:{}#{ordinal}#{name}", w.sweep),
                        "Event",
                        *event,
                    ));
                }
            }
            placed.insert(
                w.id,
                Placed {
                    sweep_key,
                    sweep_uuid: w.sweep.clone(),
                    ordinal,
                    first,
                    last: first + n - 1,
                },
            );
        }
        for (i, sweep) in order.iter().enumerate() {
            let key = format!("CollectionSweep{}", i + 1);
            let dc_ids = &dcs_of[sweep];
            let scans = &scans_of[sweep];
            let mut ords: Vec<i64> = scans.iter().filter_map(|x| x["ordinal"].as_i64()).collect();
            ords.sort_unstable();
            if ords.windows(2).any(|p| p[1] != p[0] + 1) {
                interleaved = true;
            }
            if wedges.iter().filter(|w| w.sweep == *sweep).count() > 1 {
                t.applied("regroup-wedges");
            }
            let dc = self.dcs.get(&dc_ids[0]).expect("a placed collection");
            let grid = self.grids.get(&dc_ids[0]).or(grid_of_group);
            let sweep_value = self.sweep(dc, dc_ids, scans, grid, mesh_group, ssx, ty, s, t);
            let mut sw = sweep_value;
            sw["uuid"] = json!(sweep);
            sw["sourceRef"] = reference("MxExperiment", "MxExperiment1");
            if !crystal_ref.is_null() {
                sw["logisticalSampleRef"] = crystal_ref.clone();
            }
            msg["CollectionSweep"][&key] = sw;
        }
        (placed, interleaved, times)
    }

    /// One sweep from its first collection's settings and all its scans.
    #[allow(clippy::too_many_arguments)]
    fn sweep(
        &self,
        dc: &Row,
        dc_ids: &[i64],
        scans: &[Value],
        grid: Option<&Row>,
        mesh_group: bool,
        ssx: bool,
        ty: &str,
        s: &Settings,
        t: &mut Tally,
    ) -> Value {
        let v = Values::of(dc, "DataCollection", "dataCollectionId");
        let n_images: i64 = scans
            .iter()
            .filter_map(|x| x["numberImages"].as_i64())
            .sum();
        let width = v.num("axisRange", t).unwrap_or(0.0);
        let overlap = v.num("overlap", t).unwrap_or(0.0);
        let mesh = !ssx && (grid.is_some() || mesh_group || (width == 0.0 && n_images > 1));
        let axis = v
            .text("rotationAxis", t)
            .map_or("omega".to_owned(), |a| a.to_ascii_lowercase());
        let mut sw = json!({"mxlimsType": "CollectionSweep", "role": if overlap != 0.0 && !ssx { "Characterisation" } else { "Result" },
            "scanAxis": axis, "numberImages": n_images, "scans": scans});
        sw["sweepType"] = json!(if ssx {
            if ty.to_ascii_lowercase().contains("jet") {
                "ssx-jet"
            } else {
                "ssx-fixed-target"
            }
        } else if mesh {
            t.applied("dc-mesh");
            "mesh"
        } else if ty.eq_ignore_ascii_case("helical") {
            "helical"
        } else {
            "simple"
        });
        if let Some(g) = grid.filter(|_| mesh) {
            let gv = Values::of(g, "GridInfo", "gridInfoId");
            if let Some(y) = gv.positive("steps_y", t) {
                sw["numberLines"] = json!(y.round() as i64);
            }
            if let (Some(x), Some(y), Some(dx), Some(dy)) = (
                gv.positive("steps_x", t),
                gv.positive("steps_y", t),
                gv.positive("dx_mm", t),
                gv.positive("dy_mm", t),
            ) {
                sw["meshRange"] = json!([round(x * dx, 6), round(y * dy, 6)]);
            }
        }
        if let Some(e) = v.positive("exposureTime", t) {
            sw["exposureTime"] = json!(e);
        }
        if !mesh && !ssx && width > 0.0 {
            sw["imageWidth"] = json!(width);
        }
        if overlap != 0.0 && !ssx {
            sw["overlap"] = json!(overlap);
        }
        if let Some(w) = v.positive("wavelength", t) {
            t.applied("wavelength-to-energy");
            sw["energy"] = json!(round(mxpipe_model::units::ev_from_wavelength_a(w), 2));
        }
        if let Some(tr) = v.positive("transmission", t) {
            if tr <= 100.0 {
                t.applied("transmission-percent");
                sw["transmission"] = json!(tr);
            } else {
                t.keep_out(
                    "DataCollection",
                    v.key,
                    "transmission",
                    &tr.to_string(),
                    "a transmission above 100 %",
                );
            }
        }
        if let Some(r) = v.positive("resolution", t) {
            sw["resolution"] = json!(r);
        }
        if let (Some(x), Some(y)) = (
            v.positive("beamSizeAtSampleX", t),
            v.positive("beamSizeAtSampleY", t),
        ) {
            t.applied("dc-beamsize-mm");
            // mxpipe's exporter wrote µm before it wrote mm (issue 28): its rows above 1 mm
            // (no MX beam is that wide) are µm.
            let exported_in_um =
                mxpipe_uuid(v.raw("comments"), "sweep").is_some() && x.max(y) > 1.0;
            let k = if exported_in_um { 0.001 } else { 1.0 };
            sw["beamSize"] = json!([x * k, y * k]);
        }
        if let Some(b) = v.text("beamShape", t) {
            sw["beamShape"] = json!(b);
        }
        if let (Some(x), Some(y)) = (v.positive("xBeam", t), v.positive("yBeam", t)) {
            match s.pixel_size_mm {
                Some(px) => {
                    t.applied("dc-beam-centre-mm");
                    sw["beamPosition"] = json!([round(x / px, 3), round(y / px, 3)]);
                }
                None => t.keep_out(
                    "DataCollection",
                    v.key,
                    "xBeam",
                    &format!("{x}, {y} mm"),
                    "beam centre in mm: set [ispyb] pixel_size_mm to convert it to pixels",
                ),
            }
        }
        let mut axes = serde_json::Map::new();
        let first_start = scans.first().and_then(|x| x["scanPositionStart"].as_f64());
        for (name, col) in [
            ("omega", "omegaStart"),
            ("kappa", "kappaStart"),
            ("phi", "phiStart"),
            ("chi", "chiStart"),
            ("detector_distance", "detectorDistance"),
        ] {
            let value = v.num(col, t).or(if name == sw["scanAxis"] {
                first_start
            } else {
                None
            });
            if let Some(x) = value {
                axes.insert(name.into(), json!(x));
            }
        }
        if !axes.is_empty() {
            sw["axisPositionsStart"] = Value::Object(axes);
        }
        if let Some(template) = v.text("fileTemplate", t) {
            if let Some(ft) = file_type(&template) {
                sw["fileType"] = json!(ft);
            }
            sw["filenameTemplate"] = json!(printf_template(&template));
        }
        if let Some(p) = v.text("imagePrefix", t) {
            sw["prefix"] = json!(p);
        }
        if let Some(d) = v.text("imageDirectory", t) {
            let trimmed = d.trim_end_matches('/');
            sw["path"] = json!(if trimmed.is_empty() { "/" } else { trimmed });
        }
        sw["identifiers"] = json!({ s.identifier_domain.clone(): dc_ids[0].to_string() });
        sw["extensions"] = json!({"mxpipe.org": {"legacySource": {"catalogue": "ispyb", "instance": s.instance, "table": "DataCollection", "keys": dc_ids}}});
        sw
    }
}

fn file_type(template: &str) -> Option<&'static str> {
    let lower = template.to_ascii_lowercase();
    if lower.ends_with(".h5") || lower.ends_with(".nxs") {
        Some("HDF5")
    } else if lower.ends_with(".cbf") || lower.ends_with(".cbf.gz") {
        Some("CBF")
    } else {
        None
    }
}

/// `x` rounded to `digits` decimals.
pub fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}
