//! `mxpipe import ispyb` against a real MariaDB: the real legacy Diamond rows of
//! `../shared/testdata/ispyb-database`, rows written by PyPI `ispyb`'s SQLAlchemy models
//! (scripts/ispyb_legacy_rows.py), and a round trip through mxpipe's own exporter. The databases
//! come from `scripts/ispyb-testdb legacy`; the importer user may only SELECT. One test in steps:
//! the steps share the databases.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

struct Legacy {
    base: String,
    password_file: String,
    config: PathBuf,
}

fn root_sql(db: &str, statement: &str) -> Vec<Vec<String>> {
    let out = std::process::Command::new(repo().join("scripts/ispyb-testdb"))
        .args(["sql-in", db, statement])
        .output()
        .unwrap();
    assert!(out.status.success(), "{statement}: {}", text_of(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn import(l: &Legacy, store: &Path, db: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let url = format!("{}/{db}", l.base);
    let mut args = vec![
        "--config",
        l.config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "import",
        "ispyb",
        "--db",
        &url,
        "--password-file",
        &l.password_file,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = mxpipe(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

/// Rows of a view query, as JSON objects.
fn view(store: &Path, sql: &str) -> Vec<Value> {
    let out = mxpipe_store(store, &["query", "--format", "json", sql]);
    assert_eq!(out.status.code(), Some(0), "{sql}: {}", text_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A view query as CSV text (for comparing two stores).
fn csv(store: &Path, sql: &str) -> String {
    let out = mxpipe_store(store, &["query", "--format", "csv", sql]);
    assert_eq!(out.status.code(), Some(0), "{sql}: {}", text_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Two query results equal, else the first lines that differ.
fn same(got: &str, want: &str, sql: &str) {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let diff: Vec<String> = (0..g.len().max(w.len()))
        .filter(|i| g.get(*i) != w.get(*i))
        .take(3)
        .map(|i| format!("line {i}:\n  got  {:?}\n  want {:?}", g.get(i), w.get(i)))
        .collect();
    assert!(diff.is_empty(), "{sql}\n{}", diff.join("\n"));
}

fn f(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

fn applied(report: &Value, rule: &str) -> u64 {
    report["rules"]["applied"][rule].as_u64().unwrap_or(0)
}

fn setup(dir: &Path, pixel_size: bool) -> Option<Legacy> {
    if std::env::var("MXPIPE_ISPYB_URL").is_err() {
        if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") {
            panic!("MXPIPE_ISPYB_URL is not set: run the tests through scripts/test");
        }
        eprintln!("\n*** SKIPPED: no ISPyB test database (scripts/test starts one) ***\n");
        return None;
    }
    let out = std::process::Command::new(repo().join("scripts/ispyb-testdb"))
        .arg("legacy")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
    let base = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let testdb = std::env::var("ISPYB_TESTDB_DIR").expect("scripts/test sets ISPYB_TESTDB_DIR");
    let config = dir.join("mxpipe.toml");
    std::fs::write(
        &config,
        format!(
            "[ispyb]\ntimezone = \"Europe/London\"\nfacility = \"DLS\"\nattachment_dir = {:?}\n{}",
            dir.join("attachments").to_str().unwrap(),
            if pixel_size {
                "pixel_size_mm = 0.172\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();
    Some(Legacy {
        base,
        password_file: format!("{testdb}/importer.password"),
        config,
    })
}

/// Checksums of every table of a database (to prove nothing was written).
fn checksums(db: &str) -> Vec<Vec<String>> {
    let tables: Vec<String> = root_sql(db, "SHOW TABLES")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    root_sql(
        db,
        &format!(
            "CHECKSUM TABLE {}",
            tables
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

#[test]
fn import_a_legacy_ispyb() {
    let dir = tempfile::tempdir().unwrap();
    let (Some(_), Some(l)) = (testdata(), setup(dir.path(), false)) else {
        return;
    };

    // The importer may only read: its grants are SELECT and nothing else.
    let grants = root_sql("mysql", "SHOW GRANTS FOR 'mx_importer'@'%'");
    for g in &grants {
        let g = &g[0];
        assert!(
            g.starts_with("GRANT USAGE") || g.starts_with("GRANT SELECT ON"),
            "{g}"
        );
    }
    let before = checksums("ispyb_legacy");

    // 1. The real Diamond rows.
    let store = dir.path().join("store");
    let (out, report) = import(&l, &store, "ispyb_legacy", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(
        checksums("ispyb_legacy"),
        before,
        "the import wrote to the database"
    );
    assert_eq!(report["groups"], 6);
    assert_eq!(report["collections"], 6);
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["schema_version"], "5.0.0");
    // DataCollection 993677: 3600 × 0.1° at 1.28255 Å, 40.19 % transmission.
    let s = view(
        &store,
        "SELECT * FROM sweeps WHERE path = '/dls/i03/data/2016/cm14451-1/20160114/tlys_jan_4'",
    );
    assert_eq!(s.len(), 1, "{s:?}");
    let s = &s[0];
    assert!(
        (f(&s["energy_ev"]) - 12398.4198 / 1.28255).abs() < 0.01,
        "{s}"
    );
    assert_eq!(s["number_images"], 3600);
    assert_eq!(f(&s["image_width_deg"]), 0.1);
    assert!((f(&s["transmission_pct"]) - 40.1936).abs() < 1e-6);
    assert_eq!(s["visit"], "cm14451-1");
    assert_eq!(s["filename_template"], "tlys_jan_4_1_%04d.cbf");
    assert_eq!(f(&s["detector_distance_mm"]), 193.087);
    assert_eq!(
        (
            s["first_image_number"].clone(),
            s["last_image_number"].clone()
        ),
        (1.into(), 3600.into())
    );
    assert_eq!(s["sweep_type"], "simple");
    // DataCollection 1052503: a characterisation of three images at 93°, 138°, 183°: one scan,
    // the gaps as the sweep's negative overlap (image i at start + i·(width − overlap)).
    let scans = view(
        &store,
        "SELECT scan_position_start, number_images FROM scans WHERE filename_template = 'xtal1_3_%04d.cbf'",
    );
    assert_eq!(scans.len(), 1, "{scans:?}");
    let sweep = query(
        &store,
        "SELECT overlap_deg, image_width_deg FROM sweeps WHERE filename_template = 'xtal1_3_%04d.cbf'",
    );
    let (start, width, overlap) = (
        f(&scans[0]["scan_position_start"]),
        f(&sweep[0]["image_width_deg"]),
        f(&sweep[0]["overlap_deg"]),
    );
    assert_eq!(scans[0]["number_images"], 3);
    for (i, want) in [93.0, 138.0, 183.0].into_iter().enumerate() {
        assert!(
            (start + i as f64 * (width - overlap) - want).abs() < 1e-3,
            "{start} {width} {overlap}"
        );
    }
    // DataCollection 6017405: a mesh scan, never a rotation.
    let mesh = view(
        &store,
        "SELECT sweep_type, image_width_deg, number_images, visit FROM sweeps WHERE filename_template = 'Lys_6_1_master.h5'",
    );
    assert_eq!(mesh[0]["sweep_type"], "mesh", "{mesh:?}");
    assert!(mesh[0]["image_width_deg"].is_null());
    assert_eq!(mesh[0]["number_images"], 480);
    assert_eq!(mesh[0]["visit"], "cm14451-1"); // from the keys, not the path's cm28170-1
    assert!(
        report["rules"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("cm28170-1")),
        "{}",
        report["rules"]["warnings"]
    );
    // Scaling 596133 (fast_dp, CC in %) and 596138 (xia2 3dii, CC as coefficients).
    let fast = view(
        &store,
        "SELECT s.shell, s.cc_half, s.cc_ano, s.r_merge, s.completeness_pct, s.resolution_high_a FROM reflection_shells s JOIN reflection_sets r ON r.reflection_set_uuid = s.reflection_set_uuid \
        WHERE r.program_name = 'fast_dp' AND r.space_group = 'P 6 2 2' ORDER BY s.shell",
    );
    let by = |rows: &[Value], shell: &str, col: &str| {
        f(&rows.iter().find(|r| r["shell"] == shell).unwrap()[col])
    };
    assert!(
        (by(&fast, "overall", "cc_half") - 0.999).abs() < 1e-9,
        "{fast:?}"
    );
    assert!((by(&fast, "outer", "cc_half") - 0.917).abs() < 1e-9);
    assert!((by(&fast, "overall", "cc_ano") - 0.605).abs() < 1e-9);
    assert_eq!(by(&fast, "overall", "r_merge"), 0.106);
    assert_eq!(by(&fast, "outer", "resolution_high_a"), 1.61);
    assert_eq!(by(&fast, "inner", "completeness_pct"), 98.6);
    let xia2 = view(
        &store,
        "SELECT s.shell, s.cc_half, s.cc_ano, s.r_merge FROM reflection_shells s JOIN reflection_sets r ON r.reflection_set_uuid = s.reflection_set_uuid \
        WHERE r.program_name = 'xia2 3dii' AND r.resolution_high_a = 1.45",
    );
    assert!(
        (by(&xia2, "outer", "cc_half") - 0.584).abs() < 1e-9,
        "{xia2:?}"
    );
    assert!((by(&xia2, "outer", "cc_ano") + 0.059).abs() < 1e-9);
    assert_eq!(by(&xia2, "outer", "r_merge"), 1.326); // a fraction above 1, kept as written
    // Programs 56426286 and 56426287 integrated 993677 twice (1–3600 and 1–1800): both kept, the
    // second as an image range linked to the sweep.
    let partial = view(
        &store,
        "SELECT DISTINCT p.processing_uuid, j.program_name FROM processing_inputs p JOIN store.jobs j ON j.uuid = p.processing_uuid \
        WHERE p.kind = 'images' AND p.first_image_number = 1 AND p.last_image_number = 1800 AND p.sweep_uuid IS NOT NULL ORDER BY 2",
    );
    let names: Vec<&str> = partial
        .iter()
        .map(|r| r["program_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["xia2 3dii", "xia2 dials"], "{partial:?}");
    // dimple started from xia2 dials (through MXMRRun → scaling → program).
    let started = query(
        &store,
        "SELECT f.uuid FROM links l JOIN jobs f ON f.uuid = l.from_uuid JOIN jobs t ON t.uuid = l.to_uuid \
        WHERE l.field = 'startedFromRef' AND f.program_name = 'dimple' AND t.program_name = 'xia2 dials'",
    );
    assert_eq!(started.len(), 2, "{started:?}");
    // The rules the real rows call for, counted; values no rule fits kept out and listed.
    for rule in [
        "dc-axis-end",
        "dc-characterisation-wedges",
        "dc-mesh",
        "experiment-type-by-name",
        "dc-beamsize-mm",
        "wavelength-to-energy",
        "transmission-percent",
        "cc-percent-by-program",
        "r-factors-fraction",
        "shell-by-type",
        "anomalous-flag-ignored",
        "pipeline-from-programs",
        "integration-identity",
        "downstream-parent",
        "null-placeholders",
        "local-time",
        "visit-from-keys",
        "sample-consistency",
        "truncated-text",
    ] {
        assert!(
            applied(&report, rule) > 0,
            "rule {rule} never applied: {}",
            report["rules"]
        );
    }
    assert_eq!(applied(&report, "truncated-text"), 3);
    assert_eq!(applied(&report, "dc-characterisation-wedges"), 3);
    let kept = report["rules"]["kept_out"].as_array().unwrap();
    assert!(
        kept.iter().any(|k| k["table"] == "DataCollection"
            && k["key"] == 993677
            && k["column"] == "xBeam"),
        "{kept:?}"
    );
    // Provenance: where each object came from.
    let src = query(
        &store,
        "SELECT path, format FROM sources WHERE path LIKE '%/DataCollectionGroup/988855'",
    );
    assert_eq!(src.len(), 1, "{src:?}");
    assert_eq!(src[0]["format"], "ispyb");
    let ext = query(
        &store,
        "SELECT fields_json FROM extensions WHERE domain = 'mxpipe.org' AND fields_json LIKE '%legacySource%993677%'",
    );
    assert!(!ext.is_empty());

    // ... and `lineage` and the web page show them.
    let xtal = view(
        &store,
        "SELECT crystal_uuid, experiment_uuid FROM sweeps WHERE path = '/dls/i03/data/2016/cm14451-1/20160114/tlys_jan_4'",
    );
    let out = mxpipe_store(
        &store,
        &["lineage", xtal[0]["crystal_uuid"].as_str().unwrap()],
    );
    assert!(
        text_of(&out).contains("imported from ispyb DataCollection 993677"),
        "{}",
        text_of(&out)
    );
    let (_d, serve_config) = crate::serve::serve_config("");
    let (token, _) = crate::serve::token_for(&serve_config, &store, &["--scope", "read"]);
    let server = crate::serve::start(&serve_config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = format!(
        "{}/experiments/{}",
        server.base,
        xtal[0]["experiment_uuid"].as_str().unwrap()
    );
    let (status, _, body) = crate::attack::http(&rt, "GET", &page, Some(&token), None);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Imported from ispyb DataCollectionGroup 988855"),
        "{body}"
    );
    drop(server);

    // 2. A re-import adds nothing.
    let (out, again) = import(&l, &store, "ispyb_legacy", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(
        (
            again["objects_new"].clone(),
            again["objects_changed"].clone(),
            again["id_map_entries"].clone()
        ),
        (0.into(), 0.into(), 0.into()),
        "{again}"
    );

    // 3. Killed (SIGKILL) with its data written and no commit record, then re-run: a clean import.
    let killed = dir.path().join("killed");
    let url = format!("{}/ispyb_legacy", l.base);
    killed_before_commit(
        &[
            "--config",
            l.config.to_str().unwrap(),
            "--store",
            killed.to_str().unwrap(),
            "import",
            "ispyb",
            "--db",
            &url,
            "--password-file",
            &l.password_file,
            "--batch",
            "2",
        ],
        &dir.path().join("paused"),
    );
    let (out, _) = import(&l, &killed, "ispyb_legacy", &["--batch", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    for sql in [
        "SELECT * EXCLUDE (site) FROM sweeps ORDER BY sweep_uuid",
        "SELECT * EXCLUDE (site) FROM scans ORDER BY sweep_uuid, ordinal",
        "SELECT * EXCLUDE (site) FROM reflection_shells ORDER BY reflection_set_uuid, shell",
        "SELECT * EXCLUDE (site) FROM processing_inputs ORDER BY processing_uuid, list_index, sweep_uuid, linked_by",
    ] {
        same(&csv(&killed, sql), &csv(&store, sql), sql);
    }
    assert_eq!(counts(&killed)["objects"], counts(&store)["objects"]);

    legacy_site_rows(&l, dir.path());
    round_trip(&l, dir.path());
}

/// Rows written by PyPI ispyb's SQLAlchemy models (scripts/ispyb_legacy_rows.py).
fn legacy_site_rows(l: &Legacy, dir: &Path) {
    let l = Legacy {
        config: dir.join("with-pixel.toml"),
        base: l.base.clone(),
        password_file: l.password_file.clone(),
    };
    std::fs::write(
        &l.config,
        "[ispyb]\ntimezone = \"Europe/London\"\nfacility = \"DLS\"\npixel_size_mm = 0.172\n",
    )
    .unwrap();
    let store = dir.join("sqla");
    let (out, report) = import(&l, &store, "ispyb_sqla", &["--session", "mx99001-3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    // Two DataCollections of one template and wavelength: one sweep of two wedges.
    let s = view(
        &store,
        "SELECT * FROM sweeps WHERE filename_template = 'thau_1_%05d.cbf'",
    );
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0]["number_images"].clone(), s[0]["number_scans"].clone()),
        (1800.into(), 2.into())
    );
    assert_eq!(s[0]["visit"], "mx99001-3");
    assert_eq!(s[0]["beamline"], "i04");
    assert_eq!(f(&s[0]["transmission_pct"]), 50.0);
    assert!(applied(&report, "regroup-wedges") >= 1);
    assert!(applied(&report, "dc-beam-centre-mm") >= 1);
    // Local times (BST) → UTC.
    let e = view(
        &store,
        "SELECT CAST(start_time AS VARCHAR) AS t FROM experiments WHERE experiment_strategy = 'OSC'",
    );
    assert!(
        e[0]["t"]
            .as_str()
            .unwrap()
            .starts_with("2019-07-01T09:00:00"),
        "{e:?}"
    );
    // The grid: MESH in upper case, transmission 0 = not measured.
    let m = view(
        &store,
        "SELECT sweep_type, transmission_pct FROM sweeps WHERE filename_template = 'grid_1_master.h5'",
    );
    assert_eq!(m[0]["sweep_type"], "mesh");
    assert!(m[0]["transmission_pct"].is_null());
    // fast_dp wrote 99.7 %, xia2 0.997: the same coefficient in the store.
    let cc = view(
        &store,
        "SELECT program_name, cc_half FROM reflection_sets ORDER BY program_name",
    );
    assert_eq!(cc.len(), 2, "{cc:?}");
    for r in &cc {
        assert!((f(&r["cc_half"]) - 0.997).abs() < 1e-9, "{cc:?}");
    }
    // The sample's barcode and puck, so barcode_reuse sees legacy pins.
    let c = view(&store, "SELECT container_barcode FROM crystals");
    assert_eq!(c[0]["container_barcode"], "DLS-0042");
    // --session of another visit: a usage error naming it.
    let (out, _) = import(&l, &store, "ispyb_sqla", &["--session", "mx99001-9"]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("mx99001-9"), "{}", text_of(&out));
}

/// generate + real MXLIMS → export ispyb → import ispyb → the views equal the original's (modulo
/// what ISPyB cannot hold, docs/ispyb-import.md); a re-export of the imported store inserts nothing.
fn round_trip(l: &Legacy, dir: &Path) {
    let td = testdata().unwrap();
    let generated = dir.join("gen");
    let out = mxpipe(&[
        "generate",
        "--sweeps",
        "40",
        "--ssx-frames",
        "20000",
        "--seed",
        "5",
        "--store",
        generated.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let original = generated.join("DLS");
    let mad = td.join(
        "mxlims/0.6.13/conformance/v0.6.13/messages/MxlimsMessageStrict/valid/interleavedMAD.json",
    );
    let out = mxpipe_store(
        &original,
        &["ingest", "--session", "mx4242-1", mad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = mxpipe_store(
        &original,
        &[
            "ingest",
            repo().join("samples/ssx-chip.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let testdb = std::env::var("ISPYB_TESTDB_DIR").unwrap();
    let export = |store: &Path| {
        let url = format!(
            "{}/ispyb_roundtrip",
            l.base.replace("mx_importer", "mx_exporter")
        );
        mxpipe(&[
            "--config",
            l.config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "export",
            "ispyb",
            "--db",
            &url,
            "--password-file",
            &format!("{testdb}/exporter.password"),
            "--since",
            "2000-01-01",
            "--create-session",
            "--output",
            "json",
        ])
    };
    let out = export(&original);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let imported = dir.join("imported");
    let (out, report) = import(l, &imported, "ispyb_roundtrip", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(applied(&report, "mxpipe-comments") > 0);
    // The interleaved MAD: 24 DataCollections back to 7 sweeps, scans in acquisition order.
    let exp = "3b5b8750-4f0c-44d2-bb09-bbf948ab0cda";
    assert_eq!(
        root_sql(
            "ispyb_roundtrip",
            &format!(
                "SELECT count(*) FROM DataCollection dc JOIN DataCollectionGroup g USING (dataCollectionGroupId) WHERE g.comments LIKE 'mxpipe experiment {exp}%'"
            )
        )[0][0],
        "24"
    );
    let sweeps = view(
        &imported,
        &format!("SELECT count(*) AS n FROM sweeps WHERE experiment_uuid = '{exp}'"),
    );
    assert_eq!(sweeps[0]["n"], 7);
    // What ISPyB holds comes back equal: FLOAT columns as 4-byte floats (compared as such), times
    // to the second.
    for sql in [
        "SELECT sweep_uuid, experiment_uuid, visit, sweep_type, scan_axis, round(energy_ev, 1), CAST(exposure_time_s AS FLOAT), CAST(image_width_deg AS FLOAT), number_scans, CAST(transmission_pct AS FLOAT), \
         CAST(resolution_a AS FLOAT), CAST(detector_distance_mm AS FLOAT), path, filename_template, first_image_number, last_image_number, sample_uuid, crystal_uuid FROM sweeps ORDER BY 1",
        "SELECT experiment_uuid, sweep_uuid, ordinal, scan_in_sweep, CAST(scan_position_start AS FLOAT), first_image_number, last_image_number, number_images, \
         round(energy_ev, 1), image_width_deg, path, filename_template FROM scans ORDER BY sweep_uuid, ordinal",
        "SELECT processing_uuid, program_name, space_group, round(resolution_high_a, 3), round(r_merge, 4), round(cc_half, 4), round(completeness_pct, 2) FROM reflection_sets ORDER BY 1, 4",
        "SELECT r.processing_uuid, s.shell, s.shell_index, round(s.resolution_low_a, 3), round(s.resolution_high_a, 3), s.number_observations, s.number_observations_unique, \
         round(s.r_merge, 4), round(s.r_meas, 4), round(s.r_pim, 4), round(s.i_over_sigma, 3), round(s.cc_half, 4), round(s.cc_ano, 4), round(s.completeness_pct, 3), \
         round(s.multiplicity, 3) FROM reflection_shells s JOIN reflection_sets r ON r.reflection_set_uuid = s.reflection_set_uuid ORDER BY 1, 2, 3",
        "SELECT DISTINCT processing_uuid, kind, sweep_uuid FROM processing_inputs ORDER BY 1, 3",
        "SELECT crystal_uuid, name, container_barcode, sample_uuid FROM crystals ORDER BY 1",
        "SELECT experiment_uuid, date_trunc('second', start_time), date_trunc('second', end_time), visit FROM experiments ORDER BY 1",
        "SELECT experiment_uuid, experiment_strategy FROM experiments WHERE experiment_uuid <> '3b5b8750-4f0c-44d2-bb09-bbf948ab0cda' ORDER BY 1",
    ] {
        same(&csv(&imported, sql), &csv(&original, sql), sql);
    }
    // The id map was pre-filled: exporting the imported store inserts nothing.
    let out = export(&imported);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let rows: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text_of(&out)));
    for r in &rows {
        assert_eq!(r["inserted"], "0", "{r}");
    }
}
