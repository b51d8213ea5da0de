//! `mxpipe export mmcif`: a rotation autoPROC result (testdata), a multi-crystal xia2.multiplex
//! merge, a MAD and an SSX chip run each give a PDBx block that gemmi validates against the
//! PDBx dictionary plus the extension dictionaries with no finding; read back with mxpipe's own
//! mmCIF reader every ReflectionSet value equals the store's; gemmi reads every value as we
//! meant it; the SSX counts equal the real CrystFEL stream's; same store → same bytes.

use std::path::Path;
use std::process::Command;

use mxpipe_ingest::{Fragment, ReadOptions, Reader};
use serde_json::{Value, json};

use crate::common::*;

/// Rows of a query over the views.
fn views(store: &Path, sql: &str) -> Vec<Value> {
    crate::queries::query_cli(&["--store", store.to_str().unwrap(), sql])
}

fn export(store: &Path, processing: &str, out: &Path) {
    let o = mxpipe_store(
        store,
        &[
            "export",
            "mmcif",
            "--processing",
            processing,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
}

/// gemmi validate with the PDBx dictionary and every extension dictionary: no finding at all.
fn validate(gemmi: &Path, td: &Path, file: &Path) {
    let mut cmd = Command::new(gemmi);
    cmd.args(["validate", "-d", "/usr/share/libcifpp/mmcif_pdbx.dic"]);
    for d in std::fs::read_dir(td.join("dictionaries")).unwrap() {
        cmd.arg("-d").arg(d.unwrap().path());
    }
    let out = cmd.arg(file).output().unwrap();
    let text = text_of(&out);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{}: {text}",
        file.display()
    );
}

/// The ReflectionSets mxpipe's mmCIF reader reads from `file`, in file order.
fn read_back(file: &Path) -> Vec<Value> {
    let fragments = mxpipe_ingest::mmcif::MmcifReader
        .read(file, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(Fragment::Message { value, .. }) = fragments.into_iter().next() else {
        panic!("no message")
    };
    let mut sets: Vec<(u64, Value)> = value["ReflectionSet"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.trim_start_matches("ReflectionSet").parse().unwrap(),
                v.clone(),
            )
        })
        .collect();
    sets.sort_by_key(|(k, _)| *k);
    sets.into_iter().map(|(_, v)| v).collect()
}

/// The store's ReflectionSets of a job, in the writer's order (first wavelength, then uuid).
fn stored_sets(store: &Path, processing: &str) -> Vec<Value> {
    let rows = views(
        store,
        &format!(
            "SELECT o.object_json FROM store.objects o JOIN reflection_sets r ON r.reflection_set_uuid = o.uuid \
         WHERE r.processing_uuid = '{processing}' ORDER BY o.uuid"
        ),
    );
    let mut sets: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r["object_json"].as_str().unwrap()).unwrap())
        .collect();
    let first = |s: &Value| s["wavelengths"][0].as_f64().unwrap_or(f64::INFINITY);
    sets.sort_by(|a, b| first(a).total_cmp(&first(b)));
    sets
}

/// Every value PDBx can hold equals the store's (overall rejections have no `_reflns` item).
fn assert_round_trip(name: &str, stored: &[Value], read: &[Value]) {
    assert_eq!(stored.len(), read.len(), "{name}: sets");
    for (s, r) in stored.iter().zip(read) {
        for key in [
            "anisoBtensor",
            "numberReflections",
            "numberReflectionsUnique",
            "isoBWilsonEstimate",
            "diffractionLimitsEstimated",
            "wavelengths",
        ] {
            if !s[key].is_null() {
                assert_eq!(s[key], r[key], "{name}: {key}");
            }
        }
        let mut overall = s["reflectionStatisticsOverall"].clone();
        if let Some(m) = overall.as_object_mut() {
            m.remove("numberReflectionsRejected");
        }
        assert_eq!(
            overall, r["reflectionStatisticsOverall"],
            "{name}: overall statistics"
        );
        // Shells in PDBx have no order; both sides low to high resolution.
        let sorted = |v: &Value| {
            let mut l = v.as_array().cloned().unwrap_or_default();
            let high = |s: &Value| s["resolutionLimits"][1].as_f64().unwrap_or(0.0);
            l.sort_by(|a, b| high(b).total_cmp(&high(a)));
            l
        };
        assert_eq!(
            sorted(&s["reflectionStatisticsShells"]),
            sorted(&r["reflectionStatisticsShells"]),
            "{name}: shells"
        );
        assert_eq!(
            stored[0]["refinedUnitCell"], r["refinedUnitCell"],
            "{name}: cell"
        );
        assert_eq!(
            stored[0]["spaceGroupName"], r["spaceGroupName"],
            "{name}: space group"
        );
    }
}

/// gemmi (Python) reads every value of `file` as mxpipe's CIF reader does: the quoting is right.
fn assert_gemmi_reads_the_same_values(py: &Path, file: &Path) {
    let script = "import gemmi, json, sys\nb = gemmi.cif.read(sys.argv[1]).sole_block()\nout = {}\ns = lambda v: '?' if v in ('?', '.') else gemmi.cif.as_string(v)\nfor item in b:\n    if item.pair is not None:\n        out[item.pair[0]] = [s(item.pair[1])]\n    elif item.loop is not None:\n        l = item.loop\n        for i, t in enumerate(l.tags):\n            out[t] = [s(l[r, i]) for r in range(l.length())]\nprint(json.dumps(out))\n";
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
    // Tags compared without case (CIF tags are case-insensitive; mxpipe's reader folds them).
    let gemmi: serde_json::Map<String, Value> =
        serde_json::from_slice::<serde_json::Map<String, Value>>(&out.stdout)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
    let blocks = mxpipe_ingest::cif::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut n = 0;
    for (name, c) in &blocks[0].categories {
        for (i, item) in c.items.iter().enumerate() {
            let ours: Vec<String> = c
                .rows
                .iter()
                .map(|r| r[i].text.clone().unwrap_or_else(|| "?".into()))
                .collect();
            let tag = format!("_{}.{item}", name.trim_start_matches('_')).to_lowercase();
            let theirs: Vec<String> = gemmi
                .get(&tag)
                .and_then(Value::as_array)
                .unwrap_or_else(|| {
                    panic!(
                        "{tag} not read by gemmi: {:?}",
                        gemmi.keys().take(5).collect::<Vec<_>>()
                    )
                })
                .iter()
                .map(|v| {
                    let s = v.as_str().unwrap();
                    if s == "." {
                        "?".to_owned()
                    } else {
                        s.to_owned()
                    }
                })
                .collect();
            assert_eq!(ours, theirs, "{tag}");
            n += 1;
        }
    }
    assert_eq!(n, gemmi.len(), "every item");
}

#[test]
fn export_mmcif_validates_and_round_trips_for_rotation_multi_crystal_mad_and_ssx() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let Some(gemmi) = crate::ssx::gemmi() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");

    // MAD: the interleaved two-wavelength experiment, with a processing job giving one set per wavelength.
    let mut mad = read_json(&repo().join("samples/mad-interleaved.json"));
    let energies: Vec<f64> = ["CollectionSweep1", "CollectionSweep2"]
        .iter()
        .map(|k| mad["CollectionSweep"][k]["energy"].as_f64().unwrap())
        .collect();
    let shell = |lo: f64, hi: f64, r: f64| {
        json!({"resolutionLimits": [lo, hi], "numberObservations": 9000, "numberObservationsUnique": 700,
        "R_merge": r, "R_meas": r * 1.1, "I_over_SigI": 2.5, "CC_one_half": 0.71, "Completeness": 99.1, "Redundancy": 6.8, "CompletenessAno": 97.5, "RedundancyAno": 3.4})
    };
    mad["MxProcessing"] = json!({"MxProcessing1": {"mxlimsType": "MxProcessing", "uuid": "5b0c83b4-6d5f-4e0e-9a3a-3d0c1f4e7a11", "programName": "xia2",
        "programVersion": "3.22.1", "jobStatus": "Completed", "inputDataRefs": [{"$ref": "#/CollectionSweep/CollectionSweep1"}, {"$ref": "#/CollectionSweep/CollectionSweep2"}]}});
    let mut sets = serde_json::Map::new();
    for (i, e) in energies.iter().enumerate() {
        let w = (mxpipe_model::units::wavelength_a_from_ev(*e) * 1e5).round() / 1e5;
        sets.insert(format!("ReflectionSet{}", i + 1), json!({"mxlimsType": "ReflectionSet", "uuid": format!("5b0c83b4-6d5f-4e0e-9a3a-3d0c1f4e7b1{i}"), "role": "Result",
            "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"}, "spaceGroupName": "P 21 21 21",
            "refinedUnitCell": {"a": 41.2, "b": 58.7, "c": 72.05, "alpha": 90.0, "beta": 90.0, "gamma": 90.0},
            "operationalResolution": 1.9 + i as f64 * 0.1, "wavelengths": [w], "isoBWilsonEstimate": 21.5,
            "diffractionLimitsEstimated": {"eigenvalues": [1.9, 2.1, 2.4], "eigenvectors": [[1.0, 0.0, 0.0], [0.0, 0.8, 0.6], [0.0, -0.6, 0.8]]},
            "anisoBtensor": {"eigenvalues": [18.5, 21.0, 25.25], "eigenvectors": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]},
            "reflectionStatisticsOverall": shell(45.0, 1.9 + i as f64 * 0.1, 0.06),
            "reflectionStatisticsShells": [shell(45.0, 5.2, 0.03), shell(2.0 + i as f64 * 0.1, 1.9 + i as f64 * 0.1, 0.8)]}));
    }
    mad["ReflectionSet"] = Value::Object(sets);
    let mad_file = dir.path().join("mad.json");
    std::fs::write(&mad_file, serde_json::to_vec(&mad).unwrap()).unwrap();

    // SSX: the chip run, with a CrystFEL merge whose counts are the real stream's (read by mxpipe).
    let stream_store = dir.path().join("stream-store");
    let stream = td.join("ssx/crystfel/crystfel.stream");
    let o = mxpipe_store(&stream_store, &["ingest", stream.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let counts = &query(
        &stream_store,
        "SELECT frames_total, frame_hits, frames_indexed, frames_failed_index, lattices_indexed FROM ssx_data_reduction",
    )[0];
    let mut ssx = read_json(&repo().join("samples/ssx-chip.json"));
    ssx["MxProcessing"] = json!({"MxProcessing1": {"mxlimsType": "MxProcessing", "uuid": "2f1e6c55-0b7a-4c1e-8a44-5e2d2a9d6c01", "programName": "CrystFEL partialator",
        "programVersion": "0.11.1", "jobStatus": "Completed", "inputDataRefs": [{"$ref": "#/CollectionSweep/CollectionSweep1"}],
        "extensions": {"mxpipe.org": {"ssxDataReduction": {"framesTotal": counts["frames_total"], "frameHits": counts["frame_hits"],
            "framesIndexed": counts["frames_indexed"], "framesFailedIndex": counts["frames_failed_index"], "latticesIndexed": counts["lattices_indexed"]}}}}});
    ssx["ReflectionSet"] = json!({"ReflectionSet1": {"mxlimsType": "ReflectionSet", "uuid": "2f1e6c55-0b7a-4c1e-8a44-5e2d2a9d6c02", "role": "Result",
        "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"}, "spaceGroupName": "P 21 3",
        "refinedUnitCell": {"a": 97.9, "b": 97.9, "c": 97.9, "alpha": 90.0, "beta": 90.0, "gamma": 90.0}, "operationalResolution": 1.8, "wavelengths": [1.0],
        "reflectionStatisticsOverall": shell(40.0, 1.8, 0.12), "reflectionStatisticsShells": [shell(1.86, 1.8, 0.9), shell(40.0, 4.9, 0.05)]}});
    let ssx_file = dir.path().join("ssx.json");
    std::fs::write(&ssx_file, serde_json::to_vec(&ssx).unwrap()).unwrap();

    let autoproc = td.join("processing/autoproc/autoPROC.xml");
    let multi = repo().join("samples/two-crystal-merge.json");
    let o = mxpipe_store(
        &store,
        &[
            "ingest",
            autoproc.to_str().unwrap(),
            multi.to_str().unwrap(),
            mad_file.to_str().unwrap(),
            ssx_file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let autoproc_job = views(
        &store,
        "SELECT processing_uuid FROM processing WHERE program_name = 'autoPROC'",
    )[0]["processing_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        ("autoproc", autoproc_job.as_str()),
        ("multi-crystal", "6b4cb242-4a23-4596-a217-beaddbc496cb"),
        ("mad", "5b0c83b4-6d5f-4e0e-9a3a-3d0c1f4e7a11"),
        ("ssx", "2f1e6c55-0b7a-4c1e-8a44-5e2d2a9d6c01"),
    ];
    for (name, job) in cases {
        let file = dir.path().join(format!("{name}.cif"));
        export(&store, job, &file);
        validate(&gemmi, &td, &file);
        assert_round_trip(name, &stored_sets(&store, job), &read_back(&file));
        assert_gemmi_reads_the_same_values(&py, &file);
        let again = dir.path().join(format!("{name}-again.cif"));
        export(&store, job, &again);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            std::fs::read(&again).unwrap(),
            "{name}: same store, same bytes"
        );
    }
    let text = |n: &str| std::fs::read_to_string(dir.path().join(format!("{n}.cif"))).unwrap();
    let blocks = |n: &str| mxpipe_ingest::cif::parse(&text(n)).unwrap().remove(0);
    // Multi-crystal: one diffrn per sweep, one exptl_crystal per crystal, the merge names both.
    let m = blocks("multi-crystal");
    assert_eq!(m.category("diffrn").unwrap().rows.len(), 2);
    assert_eq!(m.category("exptl_crystal").unwrap().rows.len(), 2);
    assert_eq!(
        m.value("reflns", "pdbx_diffrn_id").unwrap().text.as_deref(),
        Some("1,2")
    );
    assert_eq!(
        m.value("diffrn_source", "type").unwrap().text.as_deref(),
        Some("ESRF BEAMLINE ID23-1")
    );
    // MAD: two wavelengths, each set on its own diffrn, protocol MAD.
    let m = blocks("mad");
    assert_eq!(
        m.category("diffrn_radiation_wavelength")
            .unwrap()
            .rows
            .len(),
        2
    );
    assert_eq!(
        m.value("diffrn_radiation", "pdbx_diffrn_protocol")
            .unwrap()
            .text
            .as_deref(),
        Some("MAD")
    );
    let reflns = m.category("reflns").unwrap();
    assert_eq!(
        (
            reflns.get(0, "pdbx_diffrn_id").unwrap().text.as_deref(),
            reflns.get(1, "pdbx_diffrn_id").unwrap().text.as_deref()
        ),
        (Some("1"), Some("2"))
    );
    // SSX: the serial categories, counts equal to the stream's.
    let m = blocks("ssx");
    assert_eq!(
        m.value("diffrn", "pdbx_serial_crystal_experiment")
            .unwrap()
            .text
            .as_deref(),
        Some("Y")
    );
    assert_eq!(
        m.value("pdbx_serial_crystallography_sample_delivery", "method")
            .unwrap()
            .text
            .as_deref(),
        Some("fixed target")
    );
    for (item, column) in [
        ("frames_total", "frames_total"),
        ("frame_hits", "frame_hits"),
        ("frames_indexed", "frames_indexed"),
        ("lattices_indexed", "lattices_indexed"),
    ] {
        let v = m
            .value("pdbx_serial_crystallography_data_reduction", item)
            .unwrap()
            .text
            .clone()
            .unwrap();
        assert_eq!(v.parse::<i64>().ok(), counts[column].as_i64(), "{item}");
    }
    assert!(
        m.value(
            "pdbx_serial_crystallography_measurement",
            "collection_time_total"
        )
        .is_some()
    );
    // The oracle can fail: a negative count is out of the dictionary's range.
    let bad = dir.path().join("bad.cif");
    std::fs::write(
        &bad,
        text("ssx").replace(
            "_pdbx_serial_crystallography_data_reduction.frames_total ",
            "_pdbx_serial_crystallography_data_reduction.frames_total -",
        ),
    )
    .unwrap();
    let out = Command::new(&gemmi)
        .args(["validate", "-d", "/usr/share/libcifpp/mmcif_pdbx.dic"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        !out.status.success() || !text_of(&out).trim().is_empty(),
        "gemmi must flag a negative frame count"
    );
}

#[test]
fn export_mmcif_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let o = mxpipe_store(
        &store,
        &[
            "ingest",
            repo()
                .join("samples/two-crystal-merge.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let o = mxpipe_store(&store, &["export", "mmcif", "--processing", "not-a-uuid"]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(text_of(&o).contains("expected a uuid"), "{}", text_of(&o));
    let o = mxpipe_store(
        &store,
        &[
            "export",
            "mmcif",
            "--processing",
            "6b4cb242-4a23-4596-a217-beaddbc496cc",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("no processing job 6b4cb242-4a23-4596-a217-beaddbc496cc"),
        "{}",
        text_of(&o)
    );
    // A ReflectionSet leads to the job that produced it.
    let o = mxpipe_store(
        &store,
        &[
            "export",
            "mmcif",
            "--reflection-set",
            "92276658-1E27-41C0-8A6A-63EC24EDE6A4",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("# PDBx/mmCIF written by mxpipe"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("_software.name           xia2.multiplex"));
}
