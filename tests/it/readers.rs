//! Collection readers against real files (values read independently with h5dump / a text editor,
//! quoted below), generated NXmx fixtures (h5py), synthetic CBF series, and bad input.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn sweep_rows(store: &Path) -> Vec<Value> {
    query(
        store,
        "SELECT * FROM sweeps WHERE ingest_id IN (SELECT ingest_id FROM ingests) ORDER BY filename_template, energy_ev",
    )
}

fn scan_rows(store: &Path) -> Vec<Value> {
    query(
        store,
        "SELECT s.filename_template, c.ordinal, c.first_image_number, c.number_images, c.scan_position_start \
                  FROM scans c JOIN sweeps s ON s.uuid = c.sweep_uuid ORDER BY c.ordinal, s.filename_template",
    )
}

/// h5dump prints 6 significant digits: compare to that precision.
fn h5(v: &Value, printed: f64) -> bool {
    v.as_f64()
        .is_some_and(|v| (v - printed).abs() <= 5e-6 * printed.abs().max(1e-3))
}

fn axis(store: &Path, which: &str, name: &str) -> Option<f64> {
    query(
        store,
        &format!("SELECT value FROM axis_positions WHERE which = '{which}' AND axis = '{name}'"),
    )
    .first()
    .and_then(|r| r["value"].as_f64())
}

/// xrc_209_master.h5 (DLS I03 grid scan), values from `h5dump`:
/// incident_wavelength 0.976254 angstrom; count_time 0.004 s; distance 0.391228 m;
/// beam_center_x/y 1005.45 / 1050.75 pixels; attenuator_transmission 1; nimages 240;
/// omega 0 for every image; sam_x 0.0694439 .. 0.649444 mm in steps of 0.02 (30 per row);
/// sam_y 8 distinct values -0.375194 .. -0.235195 mm; start_time "2024-07-24T10:09:13Z";
/// end_time_estimated "2024-07-24T10:09:15Z"; detector description "Eiger 16M".
#[test]
fn real_nxmx_grid_scan_ingests_with_the_right_values() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = td.join("collection/nxmx/xrc_209_master.h5");
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let s = &sweep_rows(&store)[0];
    assert_eq!(s["sweep_type"], "mesh");
    assert_eq!(s["scan_axis"], "sam_x");
    assert_eq!(s["number_images"], 240);
    assert!(h5(&s["wavelength_a"], 0.976254), "{s}");
    assert!(h5(&s["energy_ev"], 12_398.419843 / 0.976254), "{s}");
    assert!(close(&s["exposure_time_s"], 0.004));
    assert!(h5(&s["detector_distance_mm"], 391.228), "{s}");
    assert!(
        h5(&s["beam_position_x_px"], 1005.45) && h5(&s["beam_position_y_px"], 1050.75),
        "{s}"
    );
    assert!(close(&s["transmission_pct"], 100.0));
    assert_eq!(s["detector_type"], "Eiger 16M");
    assert_eq!(s["filename_template"], "xrc_209_master.h5");
    let scans = scan_rows(&store);
    assert_eq!(scans.len(), 1);
    assert!(h5(&scans[0]["scan_position_start"], 0.0694439));
    // A snake: the last (8th, even) row runs backwards, so the grid ends at the first column.
    assert!(h5(
        &Value::from(axis(&store, "end", "sam_y").unwrap()),
        -0.235195
    ));
    assert!(close(
        &Value::from(axis(&store, "start", "omega").unwrap()),
        0.0
    ));
    let uuid = query(&store, "SELECT uuid FROM jobs")[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let msg: Value = serde_json::from_slice(
        &mxpipe_store(&store, &["export", "mxlims", "--experiment", &uuid]).stdout,
    )
    .unwrap();
    let sweep = msg["CollectionSweep"]["CollectionSweep1"].clone();
    assert_eq!(sweep["numberLines"], 8);
    let mesh = sweep["meshRange"].as_array().unwrap();
    // 0.649444 - 0.0694439 and -0.235195 - -0.375194 from the printed values: 0.58 and 0.14 mm.
    assert!(
        (mesh[0].as_f64().unwrap() - 0.58).abs() < 1e-5
            && (mesh[1].as_f64().unwrap() - 0.14).abs() < 1e-5,
        "{mesh:?}"
    );
    assert_eq!(
        msg["MxExperiment"]["MxExperiment1"]["startTime"],
        "2024-07-24T10:09:13Z"
    );
    assert_eq!(
        msg["MxExperiment"]["MxExperiment1"]["endTime"],
        "2024-07-24T10:09:15Z"
    );
}

/// phi_scan_001.cbf and omega_scan.cbf (DLS I19 PILATUS 300K), header lines:
/// `# Exposure_time 0.5000000 s`, `# Wavelength 0.68937 A`, `# Detector_distance 0.10000 m`,
/// `# Beam_xy (2000.00, 2000.00) pixels`, `# Filter_transmission 1.0000`,
/// `# Detector: PILATUS 300K, S/N 3-0104, Diamond`, `# 2011-07-14T12:45:19.719`;
/// imgCIF `_diffrn_scan_axis`: phi_scan GONIOMETER_PHI 20.0 +0.5, omega_scan GONIOMETER_OMEGA -10.0 -0.5.
#[test]
fn real_cbf_headers_ingest_with_the_right_values() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            "--timezone",
            "+01:00",
            td.join("collection/cbf").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let sweeps = sweep_rows(&store);
    assert_eq!(sweeps.len(), 2, "{sweeps:?}");
    for s in &sweeps {
        assert!(
            close(&s["exposure_time_s"], 0.5)
                && close(&s["wavelength_a"], 0.68937)
                && close(&s["detector_distance_mm"], 100.0)
        );
        assert!(
            close(&s["beam_position_x_px"], 2000.0)
                && close(&s["transmission_pct"], 100.0)
                && close(&s["image_width_deg"], 0.5)
        );
        assert_eq!(s["detector_type"], "PILATUS 300K");
        assert_eq!(s["file_type"], "cbf");
    }
    let omega = sweeps
        .iter()
        .find(|s| s["filename_template"] == "omega_scan.cbf")
        .unwrap();
    let phi = sweeps
        .iter()
        .find(|s| s["filename_template"] == "phi_scan_%03d.cbf")
        .unwrap();
    assert_eq!(omega["scan_axis"], "omega");
    assert_eq!(phi["scan_axis"], "phi");
    let starts = query(
        &store,
        "SELECT s.scan_axis, c.scan_position_start, c.first_image_number FROM scans c JOIN sweeps s ON s.uuid = c.sweep_uuid ORDER BY s.scan_axis",
    );
    assert!(
        close(&starts[0]["scan_position_start"], -10.0)
            && close(&starts[1]["scan_position_start"], 20.0),
        "{starts:?}"
    );
    assert_eq!(starts[1]["first_image_number"], 1);
    let t = query(&store, "SELECT start_time_text FROM jobs")[0]["start_time_text"].clone();
    assert_eq!(
        t, "2011-07-14T12:45:19.719+01:00",
        "naive header time gets the --timezone offset"
    );
}

#[test]
fn generated_nxmx_rotation_interleaved_and_stills() {
    let dir = tempfile::tempdir().unwrap();
    if !make_fixtures(dir.path()) {
        return;
    }
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            "--session",
            "mx99999-3",
            dir.path().join("rotation").to_str().unwrap(),
            dir.path().join("interleaved").to_str().unwrap(),
            dir.path().join("stills").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let sweeps = sweep_rows(&store);
    assert_eq!(
        sweeps.len(),
        4,
        "rotation + two interleaved wavelengths + stills: {sweeps:?}"
    );
    // Rotation (fixed-length strings): 100 images from omega 10.0 at 0.1 degrees.
    let rot = sweeps
        .iter()
        .find(|s| s["filename_template"] == "rot_master.h5")
        .unwrap();
    assert_eq!(rot["number_images"], 100);
    assert!(
        close(&rot["image_width_deg"], 0.1)
            && close(&rot["wavelength_a"], 0.9795)
            && close(&rot["transmission_pct"], 50.0)
    );
    // Interleaved: one sweep per wavelength, wedges in acquisition order.
    let scans = scan_rows(&store);
    let interleaved: Vec<(String, i64, i64)> = scans
        .iter()
        .filter(|s| s["filename_template"].as_str().unwrap().contains("_1_"))
        .map(|s| {
            (
                s["filename_template"].as_str().unwrap().to_owned(),
                s["ordinal"].as_i64().unwrap(),
                s["first_image_number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        interleaved,
        vec![
            ("peak_1_master.h5".into(), 0, 1),
            ("remote_1_master.h5".into(), 1, 1),
            ("peak_1_master.h5".into(), 2, 91),
            ("remote_1_master.h5".into(), 3, 91)
        ]
    );
    let peak = sweeps
        .iter()
        .find(|s| s["filename_template"] == "peak_1_master.h5")
        .unwrap();
    assert!(
        close(&peak["wavelength_a"], 0.97918)
            && peak["number_scans"] == 2
            && peak["number_images"] == 180
    );
    // Which file holds each wedge: the mxpipe.org scanFiles extension.
    let files = query(
        &store,
        "SELECT fields_json FROM extensions e JOIN sweeps s ON s.uuid = e.object_uuid WHERE s.filename_template = 'peak_1_master.h5'",
    );
    let ext: Value = serde_json::from_str(files[0]["fields_json"].as_str().unwrap()).unwrap();
    let names: Vec<&str> = ext["scanFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filenameTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["peak_1_master.h5", "peak_2_master.h5"]);
    // Stills: no rotation.
    let stills = sweeps
        .iter()
        .find(|s| s["filename_template"] == "chip_master.h5")
        .unwrap();
    assert_eq!(stills["sweep_type"], "still");
    assert!(stills["image_width_deg"].is_null());
    // Sample name and session.
    let samples = query(&store, "SELECT name FROM samples ORDER BY name");
    assert_eq!(
        samples
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["lyso-1", "selmet-1"]
    );
    let visits = query(&store, "SELECT DISTINCT visit FROM sessions");
    assert_eq!(visits[0]["visit"], "mx99999-3");
    // Re-ingest of the same files: nothing new.
    let before = counts(&store);
    mxpipe_store(
        &store,
        &[
            "ingest",
            "--session",
            "mx99999-3",
            dir.path().join("rotation").to_str().unwrap(),
            dir.path().join("interleaved").to_str().unwrap(),
            dir.path().join("stills").to_str().unwrap(),
        ],
    );
    assert_eq!(counts(&store), before);
}

#[test]
fn a_repeated_wedge_becomes_a_second_sweep() {
    let dir = tempfile::tempdir().unwrap();
    if !make_fixtures(dir.path()) {
        return;
    }
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &["ingest", dir.path().join("repeat").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let scans = scan_rows(&store);
    let got: Vec<(String, i64, i64)> = scans
        .iter()
        .map(|s| {
            (
                s["filename_template"].as_str().unwrap().to_owned(),
                s["ordinal"].as_i64().unwrap(),
                s["first_image_number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("first_master.h5".into(), 0, 1),
            ("again_master.h5".into(), 1, 1)
        ]
    );
}

/// A mini-CBF header of our own (not copied from any file).
pub(crate) fn cbf(path: &Path, angle: f64, wavelength: &str) {
    let header = format!(
        "###CBF: VERSION 1.5\r\ndata_test\r\n_array_data.header_convention \"PILATUS_1.2\"\r\n_array_data.header_contents\r\n;\r\n\
         # Detector: PILATUS3 6M, S/N 60-0123\r\n# 2026-01-05T08:00:{:02}.000\r\n# Exposure_time 0.1000000 s\r\n# Wavelength {wavelength} A\r\n\
         # Detector_distance 0.25000 m\r\n# Beam_xy (1231.50, 1263.50) pixels\r\n# Filter_transmission 0.2500\r\n# Start_angle {angle:.4} deg.\r\n\
         # Angle_increment 0.2000 deg.\r\n# Omega {angle:.4} deg.\r\n# Omega_increment 0.2000 deg.\r\n# Phi 0.0000 deg.\r\n# Phi_increment 0.0000 deg.\r\n;\r\n\
         _array_data.data\r\n;\r\n--CIF-BINARY-FORMAT-SECTION--\r\n\x0c\x1a\x04 not real pixels\r\n",
        (angle * 5.0) as i64 % 60
    );
    std::fs::write(path, header).unwrap();
}

#[test]
fn cbf_series_with_a_gap_becomes_one_sweep_with_two_scans() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for n in (1..=5).chain(9..=12) {
        cbf(
            &images.join(format!("xtal_1_{n:04}.cbf")),
            (n - 1) as f64 * 0.2,
            "0.97950",
        );
    }
    let store = dir.path().join("store");
    let out = mxpipe_store(&store, &["ingest", images.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let sweeps = sweep_rows(&store);
    assert_eq!(sweeps.len(), 1, "{sweeps:?}");
    assert_eq!(sweeps[0]["filename_template"], "xtal_1_%04d.cbf");
    assert!(
        close(&sweeps[0]["transmission_pct"], 25.0)
            && close(&sweeps[0]["detector_distance_mm"], 250.0)
    );
    let scans = scan_rows(&store);
    let got: Vec<(i64, i64, i64)> = scans
        .iter()
        .map(|s| {
            (
                s["ordinal"].as_i64().unwrap(),
                s["first_image_number"].as_i64().unwrap(),
                s["number_images"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(0, 1, 5), (1, 9, 4)]);
    assert!(close(&scans[1]["scan_position_start"], 1.6));
}

fn assert_rejected(store: &Path, file: &Path, needles: &[&str]) {
    let before = counts(store);
    let out = mxpipe_store(store, &["ingest", file.to_str().unwrap()]);
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(file.to_str().unwrap()),
        "names the file: {text}"
    );
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in: {text}");
    }
    assert_eq!(counts(store), before, "nothing stored changes");
}

#[test]
fn bad_input_is_rejected_with_file_place_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let good = repo().join("samples/ssx-chip.json");
    assert_eq!(
        mxpipe_store(&store, &["ingest", good.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // Not HDF5 (text with an .h5 name): detected by content.
    let fake = dir.path().join("fake_master.h5");
    std::fs::write(&fake, "this is not HDF5\n").unwrap();
    assert_rejected(
        &store,
        &fake,
        &[
            "expected a supported format (",
            &mxpipe_ingest::supported_formats(),
            "found text starting \"this is not HDF5.\"",
        ],
    );
    // Truncated HDF5.
    if let Some(td) = testdata() {
        let bytes = std::fs::read(td.join("collection/nxmx/xrc_209_master.h5")).unwrap();
        let cut = dir.path().join("truncated_master.h5");
        std::fs::write(&cut, &bytes[..4000]).unwrap();
        assert_rejected(&store, &cut, &["expected an HDF5 file"]);
    }
    // CBF with a garbled value and with a missing one.
    let garbled = dir.path().join("garbled_0001.cbf");
    cbf(&garbled, 0.0, "0.9x795");
    assert_rejected(
        &store,
        &garbled,
        &["`Wavelength`", "expected a number", "0.9x795"],
    );
    let missing = dir.path().join("missing_0001.cbf");
    std::fs::write(&missing, "###CBF: VERSION 1.5\n_array_data.header_contents\n;\n# Detector: PILATUS 2M\n# Exposure_time 0.1 s\n;\n").unwrap();
    assert_rejected(&store, &missing, &["`# Wavelength`", "no such line"]);
    // Invalid MXLIMS.
    assert_rejected(
        &store,
        &repo().join("samples/invalid-mad.json"),
        &["expected"],
    );
    // HDF5 without NXmx fields.
    if make_fixtures(&dir.path().join("fx")) {
        assert_rejected(
            &store,
            &dir.path().join("fx/bad/no_beam_master.h5"),
            &[
                "/entry/instrument/beam/incident_wavelength",
                "expected the incident wavelength",
            ],
        );
    }
    // --keep-going stores the good file and reports the bad one.
    let batch = dir.path().join("batch");
    std::fs::create_dir_all(&batch).unwrap();
    std::fs::copy(
        repo().join("samples/mad-interleaved.json"),
        batch.join("a.json"),
    )
    .unwrap();
    std::fs::write(
        batch.join("b.json"),
        "{\"version\": \"0.6.13\", \"Crystal\": {\"Crystal1\": {\"mxlimsType\": \"Pin\"}}}",
    )
    .unwrap();
    let out = mxpipe_store(&store, &["ingest", "--keep-going", batch.to_str().unwrap()]);
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ingested") && text.contains("failed") && text.contains("b.json"),
        "{text}"
    );
    assert!(
        query(
            &store,
            "SELECT count(*) AS n FROM jobs WHERE ingest_id IN (SELECT ingest_id FROM ingests)"
        )[0]["n"]
            .as_i64()
            .unwrap()
            >= 2
    );
}
