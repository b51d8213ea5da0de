//! Trust on real data (issue 25, the items done so far): files of a visit folder that are simply
//! not metadata — a coordinate mmCIF, a CIF dictionary, a JSON Schema, a configuration — are
//! skipped with the reason, never failed; `query --format json` keeps null columns; `export mxlims`
//! refuses a selection that is not a uuid (usage, exit 2) and takes one in upper case.

use serde_json::Value;

use crate::common::*;

/// `mxpipe --store STORE query --format json SQL`, which must succeed: its rows as a JSON array.
fn rows_of(store: &std::path::Path, sql: &str) -> Value {
    Value::Array(crate::queries::query_cli(&[
        "--store",
        store.to_str().unwrap(),
        sql,
    ]))
}

#[test]
fn files_that_are_not_metadata_are_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let visit = dir.path().join("visit");
    let dimple = visit.join("dimple");
    std::fs::create_dir_all(&dimple).unwrap();
    std::fs::write(
        dimple.join("final.cif"),
        "data_model\n_cell.length_a 78.1\nloop_\n_atom_site.group_PDB\n_atom_site.id\n\
         _atom_site.type_symbol\n_atom_site.Cartn_x\nATOM 1 N 10.1\nATOM 2 C 11.2\n",
    )
    .unwrap();
    std::fs::write(
        dimple.join("restraints.dic"),
        "data_LIG\nsave_LIG\n_item.name '_chem_comp.id'\nsave_\n",
    )
    .unwrap();
    if let Some(td) = testdata() {
        // A real dictionary too (PDBx extensions, with save frames).
        copy_into(&td.join("dictionaries/investigation.dic"), &dimple);
    }
    std::fs::write(
        visit.join("schema.json"),
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "version": "1.0", "type": "object"}"#,
    )
    .unwrap();
    std::fs::write(visit.join("config.json"), r#"{"threads": 4, "version": 2}"#).unwrap();
    copy_into(&repo().join("samples/ssx-chip-processing.cif"), &visit);
    let store = dir.path().join("store");
    let o = mxpipe_store(
        &store,
        &["ingest", "--output", "json", visit.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let status = |name: &str| file_status(&summary, name);
    for (name, reason) in [
        ("final.cif", "coordinates"),
        ("restraints.dic", "dictionary"),
        ("schema.json", "JSON Schema"),
        ("config.json", "not an MXLIMS message"),
    ] {
        let (s, detail) = status(name);
        assert_eq!(s, "skipped", "{name}: {detail}");
        assert!(detail.contains(reason), "{name}: {detail}");
    }
    if testdata().is_some() {
        assert_eq!(status("investigation.dic").0, "skipped");
    }
    assert_eq!(status("ssx-chip-processing.cif").0, "ingested");
    // A JSON file meant as a message (MXLIMS dictionaries) is still validated and fails.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": "0.6.13", "MxExperiment": {"x": 1}}"#).unwrap();
    let o = mxpipe_store(&store, &["ingest", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
}

#[test]
fn json_rows_keep_nulls_and_selections_must_be_uuids() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mad = repo().join("samples/mad-interleaved.json");
    let o = mxpipe_store(&store, &["ingest", mad.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    let rows = rows_of(
        &store,
        "SELECT experiment_uuid, CAST(NULL AS VARCHAR) AS nothing FROM experiments",
    );
    let row = rows[0].as_object().unwrap();
    assert!(
        row.contains_key("nothing") && row["nothing"].is_null(),
        "{rows}"
    );
    let uuid = row["experiment_uuid"].as_str().unwrap().to_owned();
    let o = mxpipe_store(&store, &["export", "mxlims", "--experiment", "not-a-uuid"]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("expected a uuid") && !text_of(&o).contains("Experiment(\""),
        "{}",
        text_of(&o)
    );
    let lower = mxpipe_store(&store, &["export", "mxlims", "--experiment", &uuid]);
    let upper = mxpipe_store(
        &store,
        &["export", "mxlims", "--experiment", &uuid.to_uppercase()],
    );
    assert!(
        lower.status.success() && upper.status.success(),
        "{}",
        text_of(&upper)
    );
    assert_eq!(lower.stdout, upper.stdout);
}

#[test]
fn a_site_folder_is_named_after_itself_and_a_mistyped_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store1");
    let mad = repo().join("samples/mad-interleaved.json");
    let o = mxpipe_store(&store, &["ingest", mad.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    // `--site FOLDER` (no NAME=): that store, named after its folder.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(["query", "--format", "json", "--site", "store1"])
        .arg("SELECT DISTINCT site FROM sweeps")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows, serde_json::json!([{"site": "store1"}]));
    // A mistyped --store: named, exit 2, nothing created.
    let typo = dir.path().join("stroe1");
    let o = mxpipe_store(&typo, &["query", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("no mxpipe store at") && text_of(&o).contains("stroe1"),
        "{}",
        text_of(&o)
    );
    assert!(!typo.exists());
}

#[test]
fn processing_joins_the_visit_of_its_run() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let xml = td.join("processing/autoproc/autoPROC.xml");
    let o = mxpipe_store(
        &store,
        &["ingest", "--session", "mx12345-1", xml.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let rows = rows_of(&store, "SELECT program_name, visit FROM processing");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["visit"], "mx12345-1", "{rows}");
    let o = mxpipe_store(&store, &["export", "mxlims", "--session", "mx12345-1"]);
    assert!(o.status.success(), "{}", text_of(&o));
    let message: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        message["MxProcessing"]
            .as_object()
            .is_some_and(|m| m.len() == 1),
        "{message}"
    );
}

/// Item 1: the identity of what a file holds comes from the file, never from run options: the
/// same master ingested under every combination of `--session`, `--timezone` and `--site` is one
/// experiment and one sweep; a fact learned later changes it.
#[test]
fn one_collection_is_one_experiment_whatever_the_options() {
    let Some(td) = testdata() else { return };
    let master = td.join("collection/nxmx/xrc_209_master.h5");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let m = master.to_str().unwrap();
    let mut changed = 0;
    for session in [None, Some("mx12345-1")] {
        for zone in [None, Some("Europe/London"), Some("Asia/Tokyo")] {
            for site in [None, Some("DLS")] {
                let mut args: Vec<&str> = Vec::new();
                if let Some(s) = site {
                    args.extend(["--site", s]);
                }
                args.extend(["ingest", "--output", "json"]);
                if let Some(s) = session {
                    args.extend(["--session", s]);
                }
                if let Some(z) = zone {
                    args.extend(["--timezone", z]);
                }
                args.push(m);
                let o = mxpipe_store(&store, &args);
                assert!(o.status.success(), "{args:?}: {}", text_of(&o));
                changed += usize::from(
                    text_of(&o).contains(" changed") && !text_of(&o).contains(" 0 changed"),
                );
                let counts = rows_of(
                    &store,
                    "SELECT (SELECT count(*) FROM experiments) AS e, (SELECT count(*) FROM sweeps) AS s",
                );
                assert_eq!(
                    counts,
                    serde_json::json!([{"e": 1, "s": 1}]),
                    "after {args:?}"
                );
            }
        }
    }
    assert!(
        changed >= 1,
        "the session learned later changed the experiment"
    );
    let rows = rows_of(&store, "SELECT visit FROM experiments");
    assert_eq!(rows, serde_json::json!([{"visit": "mx12345-1"}]));
}

/// Item 9: `generate` writes `[sites]` relative to its mxpipe.toml, so the folder works from
/// anywhere and after a move; Ctrl-C during `generate` says what it leaves and how to remove it.
#[test]
fn generated_sites_travel_with_their_file_and_an_interrupt_says_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let o = mxpipe(&[
        "--store",
        first.to_str().unwrap(),
        "generate",
        "--sweeps",
        "20",
        "--sites",
        "2",
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    let toml = std::fs::read_to_string(first.join("mxpipe.toml")).unwrap();
    assert!(
        toml.contains("DLS = \"./DLS\"") && !toml.contains(dir.path().to_str().unwrap()),
        "{toml}"
    );
    let moved = dir.path().join("moved");
    std::fs::rename(&first, &moved).unwrap();
    let rows = crate::queries::query_cli(&[
        "--config",
        moved.join("mxpipe.toml").to_str().unwrap(),
        "SELECT site, count(*) AS n FROM sweeps GROUP BY site ORDER BY site",
    ]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0]["n"].as_i64().unwrap() + rows[1]["n"].as_i64().unwrap(),
        20
    );

    // Interrupted while writing a large site.
    let big = dir.path().join("big");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args([
            "--store",
            big.to_str().unwrap(),
            "generate",
            "--sweeps",
            "500000",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !big.join("DLS").join("sweeps").exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("interrupted") && text_of(&o).contains("store repair"),
        "{}",
        text_of(&o)
    );
}
