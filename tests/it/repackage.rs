//! `mxpipe repackage` (issue 17): interleaved wedges written by h5py at test time (every frame's
//! pixels = its acquisition index), repackaged into one NXmx master per sweep and checked from
//! another folder by tests/checkers/repackage_check.py (h5py frame by frame, PyPI `nxmx` as dxtbx
//! reads it, nxvalidate), `hdf5-vds-check` and `h5dump -H`; the embedded experiment read back by
//! `mxpipe ingest`; every refusal leaves nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    o
}

/// Fixtures under `dir/fx` (tests/fixtures/make_wedges.py), or None without Python.
fn fixtures(dir: &Path) -> Option<PathBuf> {
    let py = python()?;
    let fx = dir.join("fx");
    let o = Command::new(py)
        .arg(repo().join("tests/fixtures/make_wedges.py"))
        .arg(&fx)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
    Some(fx)
}

/// Run Python `code` (h5py) on `file` (its `sys.argv[1]`), which must succeed.
fn run_python(code: &str, file: &Path) {
    let o = Command::new(python().unwrap())
        .args(["-c", code])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
}

/// The MAD fixture (8 per-wedge masters) ingested into `dir/store`: store, raw folder, experiment.
fn ingested_mad(dir: &Path) -> Option<(PathBuf, PathBuf, String)> {
    let fx = fixtures(dir)?;
    let store = dir.join("store");
    let raw = fx.join("mad/raw");
    ingest(&store, &raw);
    let exp = experiment_of(&store);
    Some((store, raw, exp))
}

/// `mxpipe --store STORE ingest PATH`, which must succeed.
fn ingest(store: &Path, path: &Path) -> Output {
    ok(mxpipe(&[
        "--store",
        store.to_str().unwrap(),
        "ingest",
        path.to_str().unwrap(),
    ]))
}

/// The experiment as the store exports it (`mxpipe export mxlims --experiment UUID`).
fn exported(store: &Path, experiment: &str) -> Value {
    let o = ok(mxpipe(&[
        "--store",
        store.to_str().unwrap(),
        "export",
        "mxlims",
        "--experiment",
        experiment,
    ]));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn experiment_of(store: &Path) -> String {
    let rows = crate::queries::query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT experiment_uuid FROM experiments",
    ]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0]["experiment_uuid"].as_str().unwrap().to_owned()
}

/// `mxpipe --store STORE repackage ARGS…` run from `cwd`.
fn repackage(store: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .arg("--store")
        .arg(store)
        .arg("repackage")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// The independent checks of one master, from a folder that is not the data's (`/`).
fn check(master: &Path, wavelength: f64, width: f64, pixels: bool) -> Value {
    let py = python().unwrap();
    let mut cmd = Command::new(&py);
    cmd.arg(repo().join("tests/checkers/repackage_check.py"))
        .arg(master)
        .arg(wavelength.to_string())
        .arg(width.to_string())
        .current_dir("/");
    if pixels {
        cmd.arg("--pixels");
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}: {}", master.display(), text_of(&o));
    let vds = Command::new(py.with_file_name("hdf5-vds-check"))
        .arg(master)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        vds.status.success(),
        "hdf5-vds-check {}: {}",
        master.display(),
        text_of(&vds)
    );
    let dump = Command::new("h5dump")
        .args(["-H", "-p", "-d", "/entry/data/data"])
        .arg(master)
        .output()
        .unwrap();
    assert!(
        dump.status.success() && String::from_utf8_lossy(&dump.stdout).contains("VIRTUAL"),
        "h5dump -H: {}",
        text_of(&dump)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn masters(out: &Path) -> Vec<PathBuf> {
    let mut m: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with("_master.h5"))
                .collect()
        })
        .unwrap_or_default();
    m.sort();
    m
}

#[test]
fn interleaved_mad_becomes_one_master_per_sweep_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fx) = fixtures(dir.path()) else {
        return;
    };
    let store = dir.path().join("store");
    ingest(&store, &fx.join("mad/raw"));
    let exp = experiment_of(&store);
    let out = dir.path().join("processing");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // The plan, nothing written.
    let o = ok(repackage(
        &store,
        &elsewhere,
        &[
            "--experiment",
            &exp,
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
    ));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!out.exists(), "--dry-run wrote something");
    assert!(
        plan.contains(&format!("{exp}_sweep1_master.h5"))
            && plan
                .contains("mad_3_data_000001.h5 frames 1-10 (wedge 2, acquired as images 21-30)"),
        "{plan}"
    );
    // Written from another folder, read from a third.
    ok(repackage(
        &store,
        &elsewhere,
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    ));
    let written = masters(&out);
    assert_eq!(written.len(), 2, "{written:?}");
    let (peak, remote) = (0.97918, 0.96110);
    let mut seen: Vec<u64> = Vec::new();
    for (m, wavelength) in written.iter().zip([peak, remote]) {
        let c = check(m, wavelength, 0.5, true);
        assert_eq!(c["frames"], 40);
        assert_eq!(c["nxvalidate_errors"], 0, "{}: {c}", m.display());
        seen.extend(
            c["acquisition_index"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap()),
        );
        let stem = m
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches("_master.h5")
            .to_owned();
        let xds = std::fs::read_to_string(out.join(format!("{stem}.XDS.INP.fragment"))).unwrap();
        assert!(
            xds.contains("DATA_RANGE= 1 40")
                && xds.contains("OSCILLATION_RANGE= 0.5")
                && xds.contains(&format!("X-RAY_WAVELENGTH= {wavelength}")),
            "{xds}"
        );
        assert!(
            xds.contains("STARTING_ANGLE= 0\n")
                && xds.contains(&format!("NAME_TEMPLATE_OF_DATA_FRAMES= {stem}_??????.h5")),
            "{xds}"
        );
        let dials = std::fs::read_to_string(out.join(format!("{stem}.dials_import"))).unwrap();
        assert_eq!(dials.trim(), format!("dials.import {stem}_master.h5"));
    }
    // Every image of the experiment exactly once, over both masters.
    seen.sort();
    assert_eq!(seen, (0..80).collect::<Vec<u64>>());
    // The folders move together: relative sources.
    let moved = dir.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(&fx, moved.join("fx")).unwrap();
    std::fs::rename(&out, moved.join("processing")).unwrap();
    check(
        &moved
            .join("processing")
            .join(written[0].file_name().unwrap()),
        peak,
        0.5,
        true,
    );
    std::fs::rename(moved.join("fx"), &fx).unwrap();
    std::fs::rename(moved.join("processing"), &out).unwrap();

    // The embedded experiment: nothing new in the same store, the same experiment in a new one.
    let o = ingest(&store, &out);
    assert!(text_of(&o).contains("0 new, 0 changed"), "{}", text_of(&o));
    let fresh = dir.path().join("fresh");
    ingest(&fresh, &out);
    assert_eq!(exported(&fresh, &exp), exported(&store, &exp));
    let scans = |s: &Path| {
        crate::queries::query_cli(&[
            "--store",
            s.to_str().unwrap(),
            "SELECT sweep_uuid, ordinal, first_image_number FROM scans ORDER BY ordinal",
        ])
    };
    assert_eq!(scans(&fresh), scans(&store));
}

/// The same MAD collected as one data stream (the wedges interleaved in one data file): the
/// experiment as the store exports it, its scanFiles pointing every wedge into the stream.
#[test]
fn one_interleaved_data_stream_becomes_one_master_per_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fx) = fixtures(dir.path()) else {
        return;
    };
    let store = dir.path().join("store");
    ingest(&store, &fx.join("mad/raw"));
    let exp = experiment_of(&store);
    let mut msg = exported(&store, &exp);
    let raw = fx.join("stream/raw");
    for sweep in msg["CollectionSweep"].as_object_mut().unwrap().values_mut() {
        sweep["path"] = Value::from(raw.to_str().unwrap());
        sweep["filenameTemplate"] = Value::from("stream_master.h5");
        for f in sweep["extensions"]["mxpipe.org"]["scanFiles"]
            .as_array_mut()
            .unwrap()
        {
            let ordinal = f["ordinal"].as_i64().unwrap();
            f["path"] = Value::from(raw.to_str().unwrap());
            f["filenameTemplate"] = Value::from("stream_master.h5");
            f["firstImageInFile"] = Value::from(10 * ordinal + 1);
            f["dataFiles"] =
                serde_json::json!([{"fileName": "stream_data_000001.h5", "frames": 80}]);
        }
    }
    let file = dir.path().join("stream.json");
    std::fs::write(&file, msg.to_string()).unwrap();
    let store2 = dir.path().join("store2");
    ingest(&store2, &file);
    let exp2 = experiment_of(&store2);
    let out = dir.path().join("out");
    let o = ok(repackage(
        &store2,
        dir.path(),
        &["--experiment", &exp2, "--out", out.to_str().unwrap()],
    ));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        plan.contains("stream_data_000001.h5 frames 21-30 (wedge 2, acquired as images 21-30)"),
        "{plan}"
    );
    let written = masters(&out);
    assert_eq!(written.len(), 2);
    let mut all = Vec::new();
    for (m, wavelength) in written.iter().zip([0.97918, 0.96110]) {
        let c = check(m, wavelength, 0.5, true);
        all.extend(
            c["acquisition_index"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap()),
        );
    }
    all.sort();
    assert_eq!(all, (0..80).collect::<Vec<u64>>());
}

#[test]
fn inverse_beam_gives_three_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fx) = fixtures(dir.path()) else {
        return;
    };
    let store = dir.path().join("store");
    ingest(&store, &fx.join("ib/raw"));
    let exp = experiment_of(&store);
    let out = dir.path().join("out");
    ok(repackage(
        &store,
        dir.path(),
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    ));
    let written = masters(&out);
    assert_eq!(written.len(), 3, "{written:?}");
    let mut all = Vec::new();
    for m in &written {
        let c = check(m, 0.9795, 0.25, true);
        assert_eq!(c["frames"], 16);
        let idx: Vec<u64> = c["acquisition_index"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        // A sweep's two wedges were acquired three wedges (24 images) apart.
        assert_eq!(idx[8] - idx[0], 24, "{idx:?}");
        all.extend(idx);
    }
    all.sort();
    assert_eq!(all, (0..48).collect::<Vec<u64>>());
}

/// The real nexgen master of ../shared/testdata (a copy made at run time) with a data file of its
/// frame shape written here: its detector fields survive with their attributes.
#[test]
fn a_real_nxmx_master_repackages_as_one_sweep() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    copy_into(&td.join("collection/nxmx/xrc_209_master.h5"), &raw);
    let code = "import h5py, numpy as np, sys\n\
        with h5py.File(sys.argv[1], 'w') as f:\n\
        \x20   d = f.create_dataset('data', shape=(240, 2162, 2068), dtype='u2', chunks=(1, 2162, 2068), compression='gzip')\n\
        \x20   for i in (0, 1, 119, 239):\n\
        \x20       d[i] = i + 1\n";
    run_python(code, &raw.join("xrc_209_000001.h5"));
    let store = dir.path().join("store");
    ingest(&store, &raw);
    let exp = experiment_of(&store);
    let out = dir.path().join("out");
    ok(repackage(
        &store,
        dir.path(),
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    ));
    let written = masters(&out);
    assert_eq!(written.len(), 1);
    let wavelength = crate::queries::query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT round(wavelength_a, 9) AS w, image_width_deg AS d FROM sweeps",
    ]);
    let c = check(
        &written[0],
        wavelength[0]["w"].as_f64().unwrap(),
        wavelength[0]["d"].as_f64().unwrap_or(0.0),
        false,
    );
    assert_eq!(c["frames"], 240);
    let code = "import h5py, sys\n\
        a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')\n\
        p = '/entry/instrument/detector/sensor_thickness'\n\
        assert a[p][()] == b[p][()] and dict(a[p].attrs) == dict(b[p].attrs), (dict(a[p].attrs), dict(b[p].attrs))\n\
        m = '/entry/instrument/detector/module/fast_pixel_direction'\n\
        assert list(a[m].attrs['vector']) == list(b[m].attrs['vector'])\n\
        assert [int(a['/entry/data/data'][i, 0, 0]) for i in (0, 1, 2, 119, 239)] == [1, 2, 0, 120, 240]\n";
    let o = Command::new(&py)
        .args(["-c", code])
        .arg(&written[0])
        .arg(raw.join("xrc_209_master.h5"))
        .current_dir("/")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
}

/// Issue 25 item 2: the real nexgen master copied without its data file. Its `/entry/data/data` is
/// a virtual dataset over `xrc_209_000001.h5`; HDF5 reads a missing source as zeros, so both
/// `--dry-run` and the real run refuse naming the file (exit 1, nothing written); a data file with
/// too few frames is refused the same way; with the file whole the run writes.
#[test]
fn a_master_whose_virtual_source_is_missing_is_refused() {
    let Some(td) = testdata() else { return };
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    copy_into(&td.join("collection/nxmx/xrc_209_master.h5"), &raw);
    let store = dir.path().join("store");
    ingest(&store, &raw);
    let exp = experiment_of(&store);
    let out = dir.path().join("out");
    let args = ["--experiment", exp.as_str(), "--out", out.to_str().unwrap()];
    for dry in [true, false] {
        let mut a = args.to_vec();
        if dry {
            a.push("--dry-run");
        }
        let o = repackage(&store, dir.path(), &a);
        assert_eq!(o.status.code(), Some(1), "dry {dry}: {}", text_of(&o));
        assert!(
            text_of(&o).contains("xrc_209_000001.h5") && text_of(&o).contains("missing"),
            "dry {dry}: {}",
            text_of(&o)
        );
        assert!(masters(&out).is_empty(), "something was written");
    }
    let short = |frames: usize| {
        let code = format!(
            "import h5py, sys\nwith h5py.File(sys.argv[1], 'w') as f:\n    f.create_dataset('data', shape=({frames}, 2162, 2068), dtype='u2', chunks=(1, 2162, 2068), compression='gzip')\n"
        );
        run_python(&code, &raw.join("xrc_209_000001.h5"));
    };
    short(10);
    let o = repackage(&store, dir.path(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("holds 10 frames of the 240 mapped"),
        "{}",
        text_of(&o)
    );
    assert!(masters(&out).is_empty());
    short(240);
    ok(repackage(&store, dir.path(), &args));
    assert_eq!(masters(&out).len(), 1);
}

/// `--dry-run` lists every problem, not the first: two data files missing and a wedge whose
/// detector moved are all named in one answer (exit 1).
#[test]
fn a_dry_run_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let Some((store, raw, exp)) = ingested_mad(dir.path()) else {
        return;
    };
    std::fs::remove_file(raw.join("mad_2_data_000001.h5")).unwrap();
    std::fs::remove_file(raw.join("mad_7_data_000001.h5")).unwrap();
    run_python(
        "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\nf['/entry/instrument/detector/distance'][()] = 0.25\n",
        &raw.join("mad_3_master.h5"),
    );
    let out = dir.path().join("out");
    let o = repackage(
        &store,
        dir.path(),
        &[
            "--experiment",
            &exp,
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    let t = text_of(&o);
    for says in [
        "3 problems",
        "mad_2_data_000001.h5 is missing",
        "mad_7_data_000001.h5 is missing",
        "disagree in detector geometry",
    ] {
        assert!(t.contains(says), "expected {says:?}: {t}");
    }
    assert!(!out.exists() || masters(&out).is_empty());
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some((store, raw, exp)) = ingested_mad(dir.path()) else {
        return;
    };
    let out = dir.path().join("out");
    let refused = |args: &[&str], says: &str| {
        let mut all = vec!["--experiment", exp.as_str(), "--out", out.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = repackage(&store, dir.path(), &all);
        assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
        assert!(
            text_of(&o).contains(says),
            "expected {says:?}: {}",
            text_of(&o)
        );
        assert!(masters(&out).is_empty(), "something was written");
    };
    // Output inside the raw data folder.
    let o = repackage(
        &store,
        dir.path(),
        &[
            "--experiment",
            &exp,
            "--out",
            raw.join("sweeps").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("inside the raw data folder"),
        "{}",
        text_of(&o)
    );
    // No store there (a typo in --store).
    let o = repackage(
        &dir.path().join("no-store"),
        dir.path(),
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("no mxpipe store at") && !dir.path().join("no-store").exists(),
        "{}",
        text_of(&o)
    );
    // An unknown experiment.
    let o = repackage(
        &store,
        dir.path(),
        &[
            "--experiment",
            "00000000-0000-4000-8000-000000000000",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text_of(&o).contains("no experiment"), "{}", text_of(&o));
    // A wedge whose detector moved; then a different pixel mask.
    let edit = |code: &str| run_python(code, &raw.join("mad_3_master.h5"));
    edit(
        "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\nf['/entry/instrument/detector/distance'][()] = 0.25\n",
    );
    refused(&[], "disagree in detector geometry");
    edit(
        "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\nf['/entry/instrument/detector/distance'][()] = 0.2\nf['/entry/instrument/detector/detectorSpecific/pixel_mask'][0, 0] = 1\n",
    );
    refused(&[], "pixel mask");
    edit(
        "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\nf['/entry/instrument/detector/detectorSpecific/pixel_mask'][0, 0] = 0\n",
    );
    // A missing data file, then a short one.
    let data = raw.join("mad_5_data_000001.h5");
    std::fs::rename(&data, raw.join("aside.h5")).unwrap();
    refused(&[], "is missing");
    run_python(
        "import h5py, numpy as np, sys\nh5py.File(sys.argv[1], 'w').create_dataset('/entry/data/data', data=np.zeros((4, 16, 16), 'u2'))",
        &data,
    );
    refused(&[], "holds 4 frames");
    std::fs::rename(raw.join("aside.h5"), &data).unwrap();
    ok(repackage(
        &store,
        dir.path(),
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    ));
    assert_eq!(masters(&out).len(), 2);
}

/// The assembler never puts overlapping wedges in one sweep; an MXLIMS message can: the MAD
/// experiment as the store exports it, with sweep 1's wedges moved so that the second starts at
/// 3° (overlapping the first wedge's 3°–5°). A gap is refused too.
#[test]
fn overlapping_wedges_are_refused_unless_the_later_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fx) = fixtures(dir.path()) else {
        return;
    };
    let store = dir.path().join("store");
    ingest(&store, &fx.join("mad/raw"));
    let exp = experiment_of(&store);
    let mut msg = exported(&store, &exp);
    let mut moved = false;
    for sweep in msg["CollectionSweep"].as_object_mut().unwrap().values_mut() {
        for scan in sweep["scans"].as_array_mut().unwrap() {
            // Wedges at 0°, 3°, 8°, 13° (5° each): only the first two overlap (3°–5°).
            let start = match scan["ordinal"].as_i64() {
                Some(2) => 3.0,
                Some(4) => 8.0,
                Some(6) => 13.0,
                _ => continue,
            };
            scan["scanPositionStart"] = serde_json::json!(start);
            moved = true;
        }
    }
    assert!(moved, "{msg:#}");
    // A gap (the last wedge moved to 20°): refused, nothing written.
    let mut gap = msg.clone();
    for sweep in gap["CollectionSweep"].as_object_mut().unwrap().values_mut() {
        for scan in sweep["scans"].as_array_mut().unwrap() {
            if scan["ordinal"] == 6 {
                scan["scanPositionStart"] = serde_json::json!(20.0);
            }
        }
    }
    let gap_file = dir.path().join("gap.json");
    std::fs::write(&gap_file, gap.to_string()).unwrap();
    let store3 = dir.path().join("store3");
    ingest(&store3, &gap_file);
    let o = repackage(
        &store3,
        dir.path(),
        &[
            "--experiment",
            &experiment_of(&store3),
            "--out",
            dir.path().join("gap").to_str().unwrap(),
            "--allow-overlap",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(text_of(&o).contains("gap"), "{}", text_of(&o));
    assert!(masters(&dir.path().join("gap")).is_empty());
    let file = dir.path().join("overlap.json");
    std::fs::write(&file, msg.to_string()).unwrap();
    let store2 = dir.path().join("store2");
    ingest(&store2, &file);
    // uuids mxpipe minted are left out of exports: the changed message gets new ones.
    let exp = experiment_of(&store2);
    let out = dir.path().join("out");
    let o = repackage(
        &store2,
        dir.path(),
        &["--experiment", &exp, "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("overlaps") && text_of(&o).contains("--allow-overlap"),
        "{}",
        text_of(&o)
    );
    assert!(masters(&out).is_empty());
    ok(repackage(
        &store2,
        dir.path(),
        &[
            "--experiment",
            &exp,
            "--out",
            out.to_str().unwrap(),
            "--allow-overlap",
        ],
    ));
    let written = masters(&out);
    assert_eq!(written.len(), 2);
    let c = check(&written[0], 0.97918, 0.5, true);
    // Sweep 1: 0°–3° from wedge 0 (6 images), then wedges 2, 4, 6 whole: the later wedge wins
    // where two overlap.
    let idx: Vec<u64> = c["acquisition_index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        idx,
        (0..6)
            .chain(20..30)
            .chain(40..50)
            .chain(60..70)
            .collect::<Vec<u64>>()
    );
}
