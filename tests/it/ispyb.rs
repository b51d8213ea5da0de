//! `mxpipe export ispyb` against a real MariaDB with the ISPyB 5.2.0 schema (PyPI `ispyb`), as the
//! least-privilege exporter user. scripts/test starts the database with scripts/ispyb-testdb and
//! sets MXPIPE_ISPYB_URL, MXPIPE_ISPYB_PASSWORD_FILE and ISPYB_TESTDB_DIR. One test, in steps,
//! because the failure injection changes the database's grants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::*;

struct Db {
    url: String,
    password_file: String,
    /// A configuration with the facility time zone and a temporary attachment folder.
    config: PathBuf,
}

fn db() -> Option<Db> {
    match (
        std::env::var("MXPIPE_ISPYB_URL"),
        std::env::var("MXPIPE_ISPYB_PASSWORD_FILE"),
    ) {
        (Ok(url), Ok(password_file)) => Some(Db {
            url,
            password_file,
            config: PathBuf::new(),
        }),
        _ => {
            if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") {
                panic!(
                    "MXPIPE_ISPYB_URL is not set: run the tests through scripts/test (it starts the ISPyB database)"
                );
            }
            eprintln!(
                "\n*** SKIPPED: no ISPyB test database (scripts/test starts one with scripts/ispyb-testdb) ***\n"
            );
            None
        }
    }
}

/// SQL as the database's root (fixtures, checks, failure injection): rows of tab-separated fields.
fn sql(statement: &str) -> Vec<Vec<String>> {
    let out = std::process::Command::new(repo().join("scripts/ispyb-testdb"))
        .args(["sql", statement])
        .output()
        .unwrap();
    assert!(out.status.success(), "{statement}: {}", text_of(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn one(statement: &str) -> String {
    sql(statement)[0][0].clone()
}

fn float(statement: &str) -> f64 {
    one(statement)
        .parse()
        .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

/// Rows in every table the exporter writes.
fn counts() -> BTreeMap<String, i64> {
    mxpipe_export::ispyb::map::TABLES
        .iter()
        .map(|t| {
            (
                t.table.to_owned(),
                one(&format!("SELECT count(*) FROM `{}`", t.table))
                    .parse()
                    .unwrap(),
            )
        })
        .collect()
}

fn export(db: &Db, store: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "--config",
        db.config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "export",
        "ispyb",
    ];
    all.extend_from_slice(&["--db", &db.url, "--password-file", &db.password_file]);
    all.extend_from_slice(args);
    mxpipe(&all)
}

fn close32(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0) // ISPyB FLOAT columns are 4-byte
}

/// Collection + processing of `mx_data_reduction_pipeline_results.xml` (one scaling over two
/// sweeps, images 1–90 and 1–30 of runs 178432_1 and 178432_2) with CBF images of our own.
fn multi_sweep_fixture(td: &Path, dir: &Path, store: &Path) -> PathBuf {
    let images = dir.join("178432");
    std::fs::create_dir_all(&images).unwrap();
    for (run, n) in [(1, 90), (2, 30)] {
        for i in 1..=n {
            crate::readers::cbf(
                &images.join(format!("178432_{run}_{i:05}.cbf")),
                (i - 1) as f64 * 0.2 + 90.0 * (run - 1) as f64,
                "0.97625",
            );
        }
    }
    let xml = std::fs::read_to_string(
        td.join("processing/ispyb-xml/mx_data_reduction_pipeline_results.xml"),
    )
    .unwrap()
    .replace(
        "/scratch_yggdrasil2/boaty/Projects/PROJ4/20171028/4L1N/178432",
        images.to_str().unwrap(),
    );
    let xml_path = dir.join("mx_data_reduction.xml");
    std::fs::write(&xml_path, xml).unwrap();
    let out = mxpipe_store(
        store,
        &["ingest", "--session", "mx9999-1", images.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = mxpipe_store(store, &["ingest", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    xml_path
}

const JOIN: &str = "SELECT dc.dataCollectionId, dcg.dataCollectionGroupId, dcg.blSampleId, aps.autoProcScalingId, api.startImageNumber, api.endImageNumber \
    FROM Proposal p JOIN BLSession s ON s.proposalId = p.proposalId \
    JOIN DataCollectionGroup dcg ON dcg.sessionId = s.sessionId JOIN DataCollection dc ON dc.dataCollectionGroupId = dcg.dataCollectionGroupId \
    JOIN AutoProcIntegration api ON api.dataCollectionId = dc.dataCollectionId \
    JOIN AutoProcScaling_has_Int h ON h.autoProcIntegrationId = api.autoProcIntegrationId \
    JOIN AutoProcScaling aps ON aps.autoProcScalingId = h.autoProcScalingId JOIN AutoProc ap ON ap.autoProcId = aps.autoProcId \
    JOIN AutoProcProgram app ON app.autoProcProgramId = ap.autoProcProgramId";

fn job_uuid(uuid: &str) -> String {
    format!("app.jobUuid = UNHEX('{}')", uuid.replace('-', ""))
}

#[test]
fn export_to_a_real_ispyb_database() {
    let (Some(td), Some(mut db)) = (testdata(), db()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    db.config = dir.path().join("mxpipe.toml");
    let attachments = dir.path().join("attachments");
    std::fs::write(
        &db.config,
        format!(
            "[ispyb]\ntimezone = \"Europe/London\"\nattachment_dir = {:?}\n",
            attachments.to_str().unwrap()
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let mad = repo().join("samples/mad-interleaved.json");
    let merge = repo().join("samples/two-crystal-merge.json");
    let ssx = repo().join("samples/ssx-chip.json");
    for f in [&mad, &merge, &ssx] {
        let out = mxpipe_store(&store, &["ingest", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    }
    let xml_path = multi_sweep_fixture(&td, dir.path(), &store);
    let (mad_msg, merge_msg, ssx_msg) = (read_json(&mad), read_json(&merge), read_json(&ssx));
    let mad_exp = mad_msg["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let before = counts();

    // 1. An unknown schema major version is refused before anything is written.
    sql("UPDATE AdminVar SET value = '6.0.0' WHERE name = 'schemaVersion'");
    let out = export(&db, &store, &["--since", "2000-01-01", "--create-session"]);
    sql("UPDATE AdminVar SET value = '5.2.0' WHERE name = 'schemaVersion'");
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("6.0.0") && text_of(&out).contains("not supported"),
        "{}",
        text_of(&out)
    );
    assert_eq!(counts(), before);

    // 2. A session that ISPyB does not know is not created without --create-session.
    let out = export(&db, &store, &["--experiment", mad_exp]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text_of(&out).contains("mx23694-12") && text_of(&out).contains("--create-session"),
        "{}",
        text_of(&out)
    );
    assert_eq!(counts(), before);

    // 3. A dry run prints the SQL and writes nothing.
    let out = export(
        &db,
        &store,
        &["--experiment", mad_exp, "--create-session", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("INSERT INTO `DataCollection`"),
        "{}",
        text_of(&out)
    );
    assert_eq!(counts(), before);

    // 4. A failure mid-experiment (a revoked grant on the last table of the processing chain)
    //    rolls the whole experiment back and names what failed.
    sql("REVOKE INSERT ON ispyb.AutoProcScaling_has_Int FROM 'mx_exporter'@'%'");
    let out = export(&db, &store, &["--session", "mx2532-3", "--create-session"]);
    sql("GRANT INSERT ON ispyb.AutoProcScaling_has_Int TO 'mx_exporter'@'%'");
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("AutoProcScaling_has_Int") && text_of(&out).contains("rolled back"),
        "{}",
        text_of(&out)
    );
    let processing = merge_msg["MxProcessing"]["MxProcessing1"]["uuid"]
        .as_str()
        .unwrap();
    assert_eq!(
        one(&format!(
            "SELECT count(*) FROM AutoProcProgram app WHERE {}",
            job_uuid(processing)
        )),
        "0"
    );
    let failed: Vec<&str> = merge_msg["MxExperiment"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["uuid"].as_str().unwrap())
        .collect();
    let groups_of = |e: &str| {
        one(&format!(
            "SELECT count(*) FROM DataCollectionGroup WHERE comments LIKE 'mxpipe experiment {e}%'"
        ))
    };
    assert_eq!(
        failed
            .iter()
            .map(|e| groups_of(e))
            .filter(|n| n == "0")
            .count(),
        1,
        "the experiment that completes the processing left nothing"
    );

    // 5. The full export.
    let out = export(&db, &store, &["--since", "2000-01-01", "--create-session"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));

    // Multi-crystal merge: one row per input wedge, one scaling, two groups and two samples.
    let rows = sql(&format!("{JOIN} WHERE {}", job_uuid(processing)));
    let sweeps = merge_msg["CollectionSweep"].as_object().unwrap();
    let wedges: usize = sweeps
        .values()
        .map(|s| s["scans"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows.len(), wedges, "{rows:?}");
    let distinct = |i: usize| {
        rows.iter()
            .map(|r| r[i].clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert_eq!(
        (distinct(3), distinct(1), distinct(2)),
        (1, 2, 2),
        "{rows:?}"
    );
    // Three statistics rows with the values of the ReflectionSet (CC½ in percent).
    let set = &merge_msg["ReflectionSet"]["ReflectionSet1"];
    let scaling = &rows[0][3];
    let stats = |shell: &str, col: &str| {
        float(&format!(
            "SELECT {col} FROM AutoProcScalingStatistics WHERE autoProcScalingId = {scaling} AND scalingStatisticsType = '{shell}'"
        ))
    };
    assert_eq!(
        one(&format!(
            "SELECT count(*) FROM AutoProcScalingStatistics WHERE autoProcScalingId = {scaling}"
        )),
        "3"
    );
    let overall = &set["reflectionStatisticsOverall"];
    assert!(close32(
        stats("overall", "resolutionLimitHigh"),
        overall["resolutionLimits"][1].as_f64().unwrap()
    ));
    assert!(close32(
        stats("overall", "rMerge"),
        overall["R_merge"].as_f64().unwrap()
    ));
    assert!(close32(
        stats("overall", "ccHalf"),
        overall["CC_one_half"].as_f64().unwrap() * 100.0
    ));
    assert!(close32(
        stats("overall", "completeness"),
        overall["Completeness"].as_f64().unwrap()
    ));
    let shells = set["reflectionStatisticsShells"].as_array().unwrap();
    assert!(close32(
        stats("innerShell", "resolutionLimitLow"),
        shells[0]["resolutionLimits"][0].as_f64().unwrap()
    ));
    assert!(close32(
        stats("outerShell", "rMerge"),
        shells.last().unwrap()["R_merge"].as_f64().unwrap()
    ));
    assert!(close32(
        stats("outerShell", "resolutionLimitHigh"),
        stats("overall", "resolutionLimitHigh")
    ));

    // Multi-sweep XML result: image sweeps 1–90 and 1–30, one scaling over both.
    let xml_job = query(
        &store,
        "SELECT uuid FROM jobs WHERE program_name = 'my_pipeline'",
    )[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = sql(&format!(
        "{JOIN} WHERE {} ORDER BY api.endImageNumber",
        job_uuid(&xml_job)
    ));
    let ranges: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[4].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(ranges, [("1", "30"), ("1", "90")], "{rows:?}");
    assert_eq!(distinct_of(&rows, 3), 1);
    let sweeps_of_job = sql(&format!(
        "SELECT s.startImage, s.endImage, s.dataCollectionId FROM ProcessingJobImageSweep s JOIN AutoProcProgram app ON app.processingJobId = s.processingJobId \
         WHERE {} ORDER BY s.endImage",
        job_uuid(&xml_job)
    ));
    assert_eq!(
        sweeps_of_job
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect::<Vec<_>>(),
        [("1", "30"), ("1", "90")]
    );

    // Interleaved MAD: one group, one DataCollection per wedge numbered in acquisition order,
    // units converted (wavelength Å from eV, beam size µm from mm, transmission %).
    let dcs = sql(&format!(
        "SELECT dc.dataCollectionNumber, dc.wavelength, dc.startImageNumber, dc.numberOfImages, dc.axisStart, dc.axisRange, dc.exposureTime, \
         dc.transmission, dc.beamSizeAtSampleX, dc.beamSizeAtSampleY, dc.detectorDistance, dcg.experimentType, b.code, dc.fileTemplate \
         FROM DataCollection dc JOIN DataCollectionGroup dcg ON dcg.dataCollectionGroupId = dc.dataCollectionGroupId \
         JOIN BLSample b ON b.blSampleId = dcg.blSampleId WHERE dcg.comments LIKE 'mxpipe experiment {mad_exp}%' ORDER BY dc.dataCollectionNumber"
    ));
    let mut scans: Vec<(i64, &Value, &Value)> = mad_msg["CollectionSweep"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|s| {
            s["scans"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |c| (c["ordinal"].as_i64().unwrap(), s, c))
        })
        .collect();
    scans.sort_by_key(|s| s.0);
    assert_eq!(dcs.len(), scans.len());
    for (row, (n, (_, sweep, scan))) in dcs.iter().zip(scans.iter().enumerate()) {
        let f = |i: usize| row[i].parse::<f64>().unwrap();
        assert_eq!(row[0], (n + 1).to_string());
        assert!(
            close32(f(1), 12398.419843320026 / sweep["energy"].as_f64().unwrap()),
            "{row:?}"
        );
        assert_eq!(row[2], scan["firstImageNumber"].to_string());
        assert_eq!(row[3], scan["numberImages"].to_string());
        assert!(close32(f(4), scan["scanPositionStart"].as_f64().unwrap()));
        assert!(close32(f(5), sweep["imageWidth"].as_f64().unwrap()));
        assert!(close32(f(6), sweep["exposureTime"].as_f64().unwrap()));
        assert!(close32(f(7), sweep["transmission"].as_f64().unwrap()));
        assert!(close32(f(8), sweep["beamSize"][0].as_f64().unwrap()));
        assert!(close32(f(9), sweep["beamSize"][1].as_f64().unwrap()));
        assert!(close32(
            f(10),
            sweep["axisPositionsStart"]["detector_distance"]
                .as_f64()
                .unwrap()
        ));
        assert_eq!(row[11], "MAD");
        assert_eq!(row[12], mad_msg["Pin"]["Pin1"]["barcode"].as_str().unwrap());
        assert!(row[13].ends_with("######.h5"), "{row:?}");
    }
    assert_eq!(
        one(&format!(
            "SELECT crystalUUID FROM Crystal WHERE crystalUUID = '{}'",
            mad_msg["Crystal"]["Crystal1"]["uuid"].as_str().unwrap()
        )),
        mad_msg["Crystal"]["Crystal1"]["uuid"].as_str().unwrap()
    );

    // SSX: SSX-Chip group with its type id, SSXDataCollection, the exposure events, run-level
    // rates as a JSON attachment.
    let ssx_exp = ssx_msg["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let row = &sql(&format!(
        "SELECT dcg.experimentType, dcg.experimentTypeId, dc.axisRange, dc.numberOfImages, x.repetitionRate, \
         (SELECT count(*) FROM EventChain c JOIN Event e ON e.eventChainId = c.eventChainId WHERE c.dataCollectionId = dc.dataCollectionId) \
         FROM DataCollectionGroup dcg JOIN DataCollection dc ON dc.dataCollectionGroupId = dcg.dataCollectionGroupId \
         JOIN SSXDataCollection x ON x.dataCollectionId = dc.dataCollectionId WHERE dcg.comments LIKE 'mxpipe experiment {ssx_exp}%'"
    ))[0];
    let run = &ssx_msg["MxExperiment"]["MxExperiment1"]["extensions"]["mxpipe.org"]["ssx"];
    assert_eq!(row[0], "SSX-Chip");
    assert_eq!(
        row[1],
        one("SELECT experimentTypeId FROM ExperimentType WHERE name = 'SSX-Chip'")
    );
    assert_eq!(
        (row[2].as_str(), row[3].as_str()),
        ("0", run["framesTotal"].to_string().as_str())
    );
    assert!(close32(
        row[4].parse().unwrap(),
        run["frameRateHz"].as_f64().unwrap()
    ));
    assert_eq!(row[5], "2");
    let attachment = sql(&format!(
        "SELECT filePath, fileName FROM AutoProcProgramAttachment WHERE fileName = 'mxpipe-ssx-{ssx_exp}.json'"
    ));
    assert_eq!(Path::new(&attachment[0][0]), attachments);
    let file = attachments.join(&attachment[0][1]);
    let rates: Value = read_json(&file);
    assert!(
        (rates["hitRate"].as_f64().unwrap()
            - run["crystalHits"].as_f64().unwrap() / run["framesTotal"].as_f64().unwrap())
        .abs()
            < 1e-12
    );

    // 6. A second export adds zero rows anywhere.
    let after = counts();
    assert!(after.values().sum::<i64>() > before.values().sum::<i64>());
    let out = export(
        &db,
        &store,
        &[
            "--since",
            "2000-01-01",
            "--create-session",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(counts(), after);
    let summary: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary
            .iter()
            .all(|r| r["inserted"] == "0" && r["updated"] == "0"),
        "{summary:?}"
    );

    // 7. A changed object updates its rows in place: a new version of one MAD sweep.
    let mut changed = mad_msg.clone();
    changed["CollectionSweep"]["CollectionSweep1"]["transmission"] = serde_json::json!(31.5);
    let changed_path = dir.path().join("mad-v2.json");
    std::fs::write(&changed_path, changed.to_string()).unwrap();
    let out = mxpipe_store(&store, &["ingest", changed_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = export(&db, &store, &["--experiment", mad_exp, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(counts(), after, "an update inserts nothing");
    let summary: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let dc = summary
        .iter()
        .find(|r| r["table"] == "DataCollection")
        .unwrap();
    let wedges_of_sweep1 = mad_msg["CollectionSweep"]["CollectionSweep1"]["scans"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        (dc["updated"].as_str(), dc["inserted"].as_str()),
        (Some(wedges_of_sweep1.to_string().as_str()), Some("0")),
        "{summary:?}"
    );
    let sweep1 = mad_msg["CollectionSweep"]["CollectionSweep1"]["uuid"]
        .as_str()
        .unwrap();
    let t = sql(&format!(
        "SELECT DISTINCT transmission FROM DataCollection WHERE comments LIKE 'mxpipe sweep {sweep1} %'"
    ));
    assert_eq!(t, [["31.5".to_owned()]]);

    // 8. The AutoProcContainer XML of the multi-sweep result carries the dataCollectionIds; our
    //    reader and PyPI ispyb's loader both read it.
    let xml_out = dir.path().join("exported.xml");
    let out = mxpipe(&[
        "--store",
        store.to_str().unwrap(),
        "export",
        "autoproc-xml",
        "--processing",
        &xml_job,
        "--db",
        &db.url,
        "--out",
        xml_out.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let dc_ids: Vec<String> = sql(&format!(
        "{JOIN} WHERE {} ORDER BY dc.dataCollectionId",
        job_uuid(&xml_job)
    ))
    .iter()
    .map(|r| r[0].clone())
    .collect();
    let text = std::fs::read_to_string(&xml_out).unwrap();
    for id in &dc_ids {
        assert!(
            text.contains(&format!("<dataCollectionId>{id}</dataCollectionId>")),
            "{text}"
        );
    }
    let again = dir.path().join("again");
    let out = mxpipe_store(&again, &["ingest", xml_out.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let original = query(
        &store,
        &format!(
            "SELECT shell, resolution_high_a, r_merge, cc_half FROM reflection_statistics s JOIN reflection_sets r ON r.uuid = s.reflection_set_uuid WHERE r.processing_uuid = '{xml_job}' AND s.shell IN ('overall') ORDER BY shell"
        ),
    );
    let read_back = query(
        &again,
        "SELECT shell, resolution_high_a, r_merge, cc_half FROM reflection_statistics WHERE shell IN ('overall') ORDER BY shell",
    );
    assert_eq!(original.len(), 1);
    for k in ["resolution_high_a", "r_merge", "cc_half"] {
        assert!(
            close(&read_back[0][k], original[0][k].as_f64().unwrap()),
            "{k}: {read_back:?} vs {original:?}"
        );
    }
    let _ = xml_path;
    if let Some(py) = python() {
        let script = "import sys\nfrom ispyb.xmltools import xml_file_to_dict, sanitise_mx_data_reduction\n\
            d = xml_file_to_dict(sys.argv[1]); sanitise_mx_data_reduction(d)\n\
            c = d['AutoProcScalingContainer'][0]\n\
            print(sorted(s['scalingStatisticsType'] for s in c['AutoProcScalingStatistics']))\n\
            print(sorted(i['AutoProcIntegration']['dataCollectionId'] for i in c['AutoProcIntegrationContainer']))";
        let out = std::process::Command::new(py)
            .args(["-c", script, xml_out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text_of(&out));
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains("['innerShell', 'outerShell', 'overall']"),
            "{printed}"
        );
        for id in &dc_ids {
            assert!(printed.contains(&format!("'{id}'")), "{printed}");
        }
    }
}

fn distinct_of(rows: &[Vec<String>], i: usize) -> usize {
    rows.iter()
        .map(|r| r[i].clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

#[test]
fn ispyb_doc_lists_the_field_map() {
    let doc = std::fs::read_to_string(repo().join("docs/ispyb.md")).unwrap();
    assert!(
        doc.contains(&mxpipe_export::ispyb::map::markdown()),
        "docs/ispyb.md is stale: replace its field map with the output of `mxpipe export ispyb-map`"
    );
}

/// Every `derived/…` column of the ISPyB map has a producer: built from the samples (MAD, merge,
/// SSX) and real NXmx/CBF/autoPROC files, each such column holds a value in at least one row —
/// a misspelt derived name would be NULL everywhere. Needs no database (the rows are pure).
#[test]
fn every_derived_ispyb_column_has_a_producer() {
    use mxpipe_export::ispyb::rows::{Settings, Val, experiment_unit};
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    // The merge with a command line on its processing (the samples carry none).
    let mut merge = read_json(&repo().join("samples/two-crystal-merge.json"));
    merge["MxProcessing"]["MxProcessing1"]["extensions"] =
        serde_json::json!({"mxpipe.org": {"commandLine": "xia2.multiplex x1.expt x2.expt"}});
    let merge_path = dir.path().join("merge-with-command.json");
    std::fs::write(&merge_path, merge.to_string()).unwrap();
    let o = mxpipe(&[
        "--store",
        s,
        "ingest",
        "samples/mad-interleaved.json",
        merge_path.to_str().unwrap(),
        "samples/ssx-chip.json",
        "samples/ssx-chip-processing.cif",
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    for f in [
        "collection/nxmx/xrc_209_master.h5",
        "collection/cbf/omega_scan.cbf",
        "processing/autoproc/autoPROC.xml",
    ] {
        let o = mxpipe(&[
            "--store",
            s,
            "ingest",
            "--session",
            "mx99999-1",
            td.join(f).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text_of(&o));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let records = rt.block_on(async {
        let st = mxpipe_store::Store::open(s, "test", Default::default()).unwrap();
        mxpipe_export::Records::load(&st).await.unwrap()
    });
    let settings = Settings {
        timezone: "UTC".parse().unwrap(),
        pixel_size_mm: Some(0.075),
        attachment_dir: dir.path().join("att"),
    };
    let mut seen: BTreeMap<(String, String), bool> = BTreeMap::new();
    for exp in records.experiments(&Default::default()).unwrap() {
        let sweeps = records.linking_to("CollectionSweep", "sourceRef", exp);
        let mut processing: Vec<String> = sweeps
            .iter()
            .flat_map(|sw| {
                records
                    .processing_of_sweep
                    .get(*sw)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        processing.sort();
        processing.dedup();
        // A job is built with the experiment of its first input only when all inputs are there;
        // here every experiment is offered its jobs and failures (merges) are skipped.
        let unit = experiment_unit(&records, exp, &processing, &settings)
            .or_else(|_| experiment_unit(&records, exp, &[], &settings))
            .unwrap();
        for row in &unit.rows {
            for (col, v) in &row.values {
                let entry = seen
                    .entry((row.table.to_owned(), col.to_string()))
                    .or_default();
                *entry |= !matches!(v, Val::Null);
            }
        }
    }
    let mut missing = Vec::new();
    for t in mxpipe_export::ispyb::map::TABLES {
        for c in t
            .columns
            .iter()
            .filter(|c| c.source.starts_with("derived/"))
        {
            // Person/Proposal/BLSession rows are written by the session step, not the unit.
            if ["Person", "Proposal", "BLSession"].contains(&t.table)
                || mxpipe_export::ispyb::RESOLVED_BY_WRITER.contains(&(t.table, c.column))
            {
                continue;
            }
            if !seen
                .get(&(t.table.to_owned(), c.column.to_owned()))
                .copied()
                .unwrap_or(false)
            {
                missing.push(format!("{}.{} ({})", t.table, c.column, c.source));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "mapped derived values never produced: {missing:?}"
    );
}

/// `[ispyb] concurrency = 4`: a generated store of 300 sweeps over many sessions and proposals,
/// exported with `--create-session`, four experiments in their own transactions at once: nothing
/// fails, and no Person, Proposal or BLSession is created twice (the driver never writes two
/// units that would create the same shared row side by side); a re-export inserts nothing.
#[test]
fn concurrent_export_creates_each_shared_row_once() {
    let Some(mut db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    db.config = dir.path().join("mxpipe.toml");
    std::fs::write(
        &db.config,
        format!(
            "[ispyb]\ntimezone = \"Europe/London\"\nattachment_dir = {:?}\nconcurrency = 4\n",
            dir.path().join("attachments").to_str().unwrap()
        ),
    )
    .unwrap();
    // A seed of its own: the test database may hold an earlier run's experiments.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .to_string();
    let generated = dir.path().join("gen");
    let o = mxpipe(&[
        "--store",
        generated.to_str().unwrap(),
        "generate",
        "--sweeps",
        "300",
        "--sites",
        "1",
        "--seed",
        &seed,
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    let store = std::fs::read_dir(&generated)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the generated site");
    let args = [
        "--since",
        "2000-01-01",
        "--create-session",
        "--output",
        "csv",
    ];
    let o = export(&db, &store, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert!(text_of(&o).contains(" 0 failed"), "{}", text_of(&o));
    assert_eq!(
        one("SELECT count(*) FROM Person WHERE login = 'mxpipe'"),
        "1"
    );
    assert!(
        sql("SELECT proposalCode, proposalNumber FROM Proposal GROUP BY 1, 2 HAVING count(*) > 1")
            .is_empty(),
        "a proposal created twice"
    );
    assert!(
        sql("SELECT proposalId, visit_number FROM BLSession GROUP BY 1, 2 HAVING count(*) > 1")
            .is_empty(),
        "a session created twice"
    );
    let again = export(&db, &store, &args);
    assert_eq!(again.status.code(), Some(0), "{}", text_of(&again));
    let inserted: Vec<String> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) != Some("0"))
        .map(str::to_owned)
        .collect();
    assert!(
        inserted.is_empty(),
        "a re-export inserted rows: {inserted:?}"
    );
}
