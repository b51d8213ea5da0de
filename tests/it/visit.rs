//! The main job on a folder laid out like a real beamline visit: masters, their data and meta
//! files, snapshots, logs, files of random bytes and broken files. Every file gets exactly one
//! status; nothing panics; exit codes follow the rules in `mxpipe ingest --help`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::queries::query_cli;

/// Extensions of the random-byte files (the ones a reader might claim by name, and none).
const RANDOM_EXTENSIONS: [&str; 10] = [
    ".xml", ".cif", ".stream", ".json", ".h5", ".LP", ".HKL", ".expt", ".cbf", "",
];

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A visit folder: a real Eiger master from ../shared/testdata with h5py-made data and meta
/// files, an h5py master with naive times and its data file, a master whose data file has an
/// unconventional name, an orphan HDF5, one MXLIMS message, a snapshot, a log and 30 files of
/// random bytes.
fn make_visit(testdata: &Path, fx: &Path, visit: &Path) {
    let py = python().unwrap();
    std::fs::create_dir_all(visit.join("images")).unwrap();
    std::fs::copy(
        testdata.join("collection/nxmx/xrc_209_master.h5"),
        visit.join("images/xrc_209_master.h5"),
    )
    .unwrap();
    let script = "import h5py, numpy as np, sys\n\
        d = sys.argv[1]\n\
        with h5py.File(d + '/xrc_209_000001.h5', 'w') as f: f.create_dataset('data', data=np.zeros((4, 8, 8), dtype='u2'))\n\
        with h5py.File(d + '/xrc_209_meta.h5', 'w') as f: f.create_group('_dectris').create_dataset('ntrigger', data=1)\n";
    let out = Command::new(py)
        .args(["-c", script, visit.join("images").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    for f in ["lyso_master.h5", "lyso_000001.h5"] {
        std::fs::copy(fx.join("visit").join(f), visit.join("images").join(f)).unwrap();
    }
    std::fs::copy(fx.join("orphan/orphan.h5"), visit.join("orphan.h5")).unwrap();
    std::fs::create_dir_all(visit.join("linked")).unwrap();
    for f in ["scan_master.h5", "images_part_a.h5"] {
        std::fs::copy(fx.join("linked").join(f), visit.join("linked").join(f)).unwrap();
    }
    std::fs::copy(
        repo().join("samples/mad-interleaved.json"),
        visit.join("mad-interleaved.json"),
    )
    .unwrap();
    let mut jpeg = b"\xff\xd8\xff\xe0".to_vec();
    jpeg.extend(random_bytes(7, 5000));
    std::fs::create_dir_all(visit.join("snapshots")).unwrap();
    std::fs::write(visit.join("snapshots/snapshot_1.jpg"), jpeg).unwrap();
    std::fs::write(
        visit.join("gda.log"),
        "2019-07-14 14:25:50,001 INFO  collection started\n",
    )
    .unwrap();
    std::fs::create_dir_all(visit.join("junk")).unwrap();
    for (i, ext) in RANDOM_EXTENSIONS.iter().enumerate() {
        for k in 0..3 {
            let seed = (i * 10 + k) as u64 + 1;
            std::fs::write(
                visit.join(format!("junk/random_{i}_{k}{ext}")),
                random_bytes(seed, 100 + 997 * k),
            )
            .unwrap();
        }
    }
}

/// A temporary folder holding the fixtures (`fx/`) and a visit folder (`visit/`), and the
/// testdata folder; None (loudly) without testdata or Python.
fn visit_folder() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let testdata = testdata()?;
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    if !make_fixtures(&fx) {
        return None;
    }
    make_visit(&testdata, &fx, &dir.path().join("visit"));
    Some((dir, testdata))
}

/// (per-file status, status counts) of `mxpipe ingest --output json …`.
fn statuses(out: &std::process::Output) -> (BTreeMap<String, String>, BTreeMap<String, usize>) {
    let rows: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text_of(out)));
    let mut per_file = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for r in rows {
        let name = Path::new(r["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let status = r["status"].as_str().unwrap().to_owned();
        *counts.entry(status.clone()).or_insert(0) += 1;
        per_file.insert(name, status);
    }
    (per_file, counts)
}

fn counted(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn a_visit_folder_is_classified_file_by_file_and_nothing_panics() {
    let Some((dir, _)) = visit_folder() else {
        return;
    };
    let visit = dir.path().join("visit");
    let store = dir.path().join("store");
    let v = visit.to_str().unwrap();

    let out = mxpipe_store(&store, &["ingest", "--output", "json", v]);
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let (per_file, by_status) = statuses(&out);
    assert_eq!(
        by_status,
        counted(&[("ingested", 4), ("data", 4), ("skipped", 33)]),
        "{per_file:#?}"
    );
    for (file, status) in [
        ("mad-interleaved.json", "ingested"),
        ("xrc_209_master.h5", "ingested"),
        ("lyso_master.h5", "ingested"),
        ("xrc_209_000001.h5", "data"),
        ("xrc_209_meta.h5", "data"),
        ("lyso_000001.h5", "data"),
        ("orphan.h5", "skipped"),
        ("scan_master.h5", "ingested"),
        ("images_part_a.h5", "data"),
        ("snapshot_1.jpg", "skipped"),
        ("gda.log", "skipped"),
        ("random_4_2.h5", "skipped"),
    ] {
        assert_eq!(per_file[file], status, "{file}: {per_file:#?}");
    }
    // The master's /entry/data link names its data file: image 7 is frame 7 of lyso_000001.h5,
    // and the real Eiger master's 240 frames are in xrc_209_000001.h5 (4 frames made by h5py:
    // frames past them have no data file).
    let rows = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT filename_template, image_number, file_name, frame_in_file, data_file, frame_in_data_file FROM image_index \
         WHERE image_number IN (3, 7) ORDER BY filename_template, image_number",
    ]);
    let seen: Vec<(String, i64, String, i64, Value, Value)> = rows
        .iter()
        .filter(|r| {
            r["filename_template"]
                .as_str()
                .unwrap()
                .ends_with("_master.h5")
        })
        .map(|r| {
            (
                r["file_name"].as_str().unwrap().to_owned(),
                r["image_number"].as_i64().unwrap(),
                r["filename_template"].as_str().unwrap().to_owned(),
                r["frame_in_file"].as_i64().unwrap(),
                r["data_file"].clone(),
                r["frame_in_data_file"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "lyso_master.h5".into(),
                3,
                "lyso_master.h5".into(),
                3,
                "lyso_000001.h5".into(),
                3.into()
            ),
            (
                "lyso_master.h5".into(),
                7,
                "lyso_master.h5".into(),
                7,
                "lyso_000001.h5".into(),
                7.into()
            ),
            (
                "scan_master.h5".into(),
                3,
                "scan_master.h5".into(),
                3,
                "images_part_a.h5".into(),
                3.into()
            ),
            (
                "xrc_209_master.h5".into(),
                3,
                "xrc_209_master.h5".into(),
                3,
                "xrc_209_000001.h5".into(),
                3.into()
            ),
            (
                "xrc_209_master.h5".into(),
                7,
                "xrc_209_master.h5".into(),
                7,
                Value::Null,
                Value::Null
            ),
        ],
        "{rows:?}"
    );

    // Naive times: one warning naming the file, saying UTC was assumed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lyso_master.h5") && stderr.contains("UTC was assumed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 ingested, 0 unchanged, 4 data, 33 skipped, 0 failed"),
        "{stderr}"
    );

    // A re-run stores nothing new.
    let before = counts(&store);
    let again = mxpipe_store(&store, &["ingest", "--output", "json", v]);
    assert_eq!(again.status.code(), Some(0), "{}", text_of(&again));
    assert_eq!(
        statuses(&again).1,
        counted(&[("unchanged", 4), ("data", 4), ("skipped", 33)])
    );
    assert_eq!(counts(&store), before);

    // --strict: files that are not metadata are an error.
    let strict = mxpipe_store(&store, &["ingest", "--strict", v]);
    assert_eq!(strict.status.code(), Some(1), "{}", text_of(&strict));

    // A file named on the command line that is not metadata stays an error.
    let named = mxpipe_store(
        &store,
        &[
            "ingest",
            visit.join("snapshots/snapshot_1.jpg").to_str().unwrap(),
        ],
    );
    assert_eq!(named.status.code(), Some(1), "{}", text_of(&named));
    assert!(
        text_of(&named).contains("a JPEG image"),
        "{}",
        text_of(&named)
    );
    assert!(!text_of(&named).contains("panicked"));
}

#[test]
fn broken_files_fail_and_keep_going_stores_the_rest() {
    let Some((dir, testdata)) = visit_folder() else {
        return;
    };
    let visit = dir.path().join("visit");
    // A CIF whose loop has a value missing, and a CrystFEL stream cut inside a chunk.
    std::fs::write(
        visit.join("bad.cif"),
        "data_x\nloop_\n_reflns.d_resolution_high\n_reflns.d_resolution_low\n1.5\n",
    )
    .unwrap();
    let mut stream = std::fs::read(testdata.join("ssx/crystfel/crystfel.stream")).unwrap();
    stream.truncate(stream.len() / 2);
    std::fs::write(visit.join("cut.stream"), stream).unwrap();
    let v = visit.to_str().unwrap();

    // Without --keep-going the first failure stops the run and nothing is stored.
    let fresh = dir.path().join("fresh");
    let out = mxpipe_store(&fresh, &["ingest", v]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("nothing was stored"),
        "{}",
        text_of(&out)
    );
    assert!(!fresh.join("ingests").exists() || counts(&fresh).values().all(|n| *n == 0));

    let store = dir.path().join("store");
    let out = mxpipe_store(&store, &["ingest", "--keep-going", "--output", "json", v]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(!text_of(&out).contains("panicked"), "{}", text_of(&out));
    let (per_file, by_status) = statuses(&out);
    assert_eq!(
        by_status,
        counted(&[("ingested", 4), ("data", 4), ("skipped", 33), ("failed", 2)]),
        "{per_file:#?}"
    );
    assert_eq!(per_file["bad.cif"], "failed");
    assert_eq!(per_file["cut.stream"], "failed");
}

/// The ingest succeeded without the naive-time warning, and the July master's naive 14:25:57 was
/// read in London summer time (+01:00).
fn assert_ingested_in_london_time(out: &std::process::Output, store: &Path) {
    assert_eq!(out.status.code(), Some(0), "{}", text_of(out));
    assert!(
        !text_of(out).contains("UTC was assumed"),
        "{}",
        text_of(out)
    );
    let times = query(
        store,
        "SELECT start_time_text FROM jobs WHERE mxlims_type = 'MxExperiment' AND start_time_text LIKE '2019%'",
    );
    assert_eq!(
        times[0]["start_time_text"], "2019-07-14T14:25:57+01:00",
        "{times:?}"
    );
}

#[test]
fn session_and_time_zone_apply_to_every_experiment_of_the_run() {
    let Some(testdata) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    if !make_fixtures(&fx) {
        return;
    }
    let store = dir.path().join("store");
    // An MXLIMS message as MXCuBE writes it (no mxpipe extension) gets the visit.
    let mad = testdata.join(
        "mxlims/0.6.13/conformance/v0.6.13/messages/MxlimsMessageStrict/valid/interleavedMAD.json",
    );
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            "--session",
            "mx12345-1",
            "--timezone",
            "Europe/London",
            mad.to_str().unwrap(),
            fx.join("visit").to_str().unwrap(),
        ],
    );
    assert_ingested_in_london_time(&out, &store);
    let visits = query(
        &store,
        "SELECT DISTINCT visit FROM jobs WHERE mxlims_type = 'MxExperiment'",
    );
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0]["visit"], "mx12345-1");

    // The same zone from the configuration's one `timezone` setting.
    let config = dir.path().join("mxpipe.toml");
    std::fs::write(&config, "timezone = \"Europe/London\"\n").unwrap();
    let configured = dir.path().join("configured");
    let out = mxpipe(&[
        "--config",
        config.to_str().unwrap(),
        "--store",
        configured.to_str().unwrap(),
        "ingest",
        fx.join("visit").to_str().unwrap(),
    ]);
    assert_ingested_in_london_time(&out, &configured);

    // A message that names another session is an error naming both.
    let other = mxpipe_store(
        &store,
        &[
            "ingest",
            "--session",
            "mx12345-1",
            repo()
                .join("samples/mad-interleaved.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(other.status.code(), Some(1), "{}", text_of(&other));
    let t = text_of(&other);
    assert!(t.contains("mx23694-12") && t.contains("mx12345-1"), "{t}");
}

#[test]
fn each_image_names_its_file_and_frame() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    if !make_fixtures(&fx) {
        return;
    }
    let store = dir.path().join("store");
    let out = mxpipe_store(&store, &["ingest", fx.join("mad").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    // 8 wedges of 10 images; the peak sweep holds wedges 1, 3, 5, 7: its image 25 is the 5th
    // frame of mad_5_master.h5.
    let rows = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT i.file_name, i.frame_in_file, i.scan_ordinal FROM image_index i JOIN sweeps s ON s.sweep_uuid = i.sweep_uuid \
         WHERE round(s.wavelength_a, 5) = 0.97918 AND i.image_number = 25",
    ]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["file_name"], "mad_5_master.h5");
    assert_eq!(rows[0]["frame_in_file"], 5);
    assert_eq!(rows[0]["scan_ordinal"], 4);
    // Every wedge's scan row names its own master.
    let rows = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT ordinal, filename_template FROM scans ORDER BY ordinal",
    ]);
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["filename_template"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=8).map(|k| format!("mad_{k}_master.h5")).collect();
    assert_eq!(names, expected);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            repo().join("samples").to_str().unwrap(),
            "--keep-going",
        ],
    );
    assert!(out.status.code().is_some(), "{}", text_of(&out));
    for args in [
        vec!["query", "SELECT * FROM image_index"],
        vec![
            "export",
            "mxlims",
            "--experiment",
            "6513270e-269e-4d37-b2a7-4de452e6b438",
        ],
        vec![
            "validate",
            "samples/mad-interleaved.json",
            "samples/ssx-chip.json",
        ],
    ] {
        let mut all = vec!["--store", store.to_str().unwrap()];
        all.extend(args.iter().copied());
        let sh = format!(
            "'{}' {} | true; echo \"${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_mxpipe"),
            all.iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = Command::new("bash")
            .args(["-c", &sh])
            .current_dir(repo())
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, "0", "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_folder_of_stores_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    let out = mxpipe_store(
        &sites.join("DLS"),
        &[
            "ingest",
            repo()
                .join("samples/mad-interleaved.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let site = format!("X={}", sites.display());
    let out = mxpipe(&["query", "--site", &site, "SELECT count(*) AS n FROM sweeps"]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    let t = text_of(&out);
    assert!(
        t.contains("is not an mxpipe store")
            && t.contains(&format!("--site DLS={}", sites.join("DLS").display())),
        "{t}"
    );
}
