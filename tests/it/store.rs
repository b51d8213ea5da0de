//! The store: lossless round trips, idempotent re-ingest, versions, concurrency, crash safety,
//! foreign readers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mxpipe_model::json_eq::{first_difference, json_equal};
use serde_json::Value;

use crate::common::*;

fn valid_messages() -> Vec<PathBuf> {
    let mut files = valid_samples();
    if let Some(td) = testdata() {
        files.extend(
            json_files(&td.join("mxlims/0.6.13/conformance"))
                .into_iter()
                .filter(|p| {
                    let s = p.to_string_lossy();
                    s.contains("/messages/") && s.contains("/valid/")
                }),
        );
    }
    files
}

fn selection_for(message: &Value) -> Vec<String> {
    if let Some(exp) = message.get("MxExperiment").and_then(Value::as_object) {
        let first = exp.values().next().unwrap();
        return vec![
            "--experiment".into(),
            first["uuid"].as_str().unwrap().into(),
        ];
    }
    let ship = message["Shipment"]
        .as_object()
        .expect("experiment or shipment message");
    vec![
        "--shipment".into(),
        ship.values().next().unwrap()["uuid"]
            .as_str()
            .unwrap()
            .into(),
    ]
}

#[test]
fn every_valid_message_round_trips_through_the_store() {
    for path in valid_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let out = mxpipe_store(&store, &["ingest", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            text_of(&out)
        );
        let input = read_json(&path);
        let mut args = vec!["export", "mxlims"];
        let sel = selection_for(&input);
        args.extend(sel.iter().map(String::as_str));
        let out = mxpipe_store(&store, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            text_of(&out)
        );
        let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            json_equal(&input, &exported),
            "{}: export differs at {:?}",
            path.display(),
            first_difference(&input, &exported)
        );
    }
}

#[test]
fn reingest_adds_nothing_and_says_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let samples = repo().join("samples");
    // The invalid sample fails on purpose; --keep-going stores the rest.
    let first = mxpipe_store(
        &store,
        &["ingest", "--keep-going", samples.to_str().unwrap()],
    );
    assert_eq!(first.status.code(), Some(1), "{}", text_of(&first));
    let before = counts(&store);
    assert!(
        before["objects"] > 0 && before["ingests"] == 1,
        "{before:?}"
    );
    let again = mxpipe_store(
        &store,
        &["ingest", "--keep-going", samples.to_str().unwrap()],
    );
    let text = text_of(&again);
    assert!(
        text.contains("nothing new to commit") && text.contains("unchanged"),
        "{text}"
    );
    assert_eq!(
        counts(&store),
        before,
        "re-ingest must add 0 rows to every table"
    );
}

#[test]
fn changed_content_becomes_a_new_version_and_history_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sample = repo().join("samples/ssx-chip.json");
    assert_eq!(
        mxpipe_store(&store, &["ingest", sample.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let mut v = read_json(&sample);
    v["MxExperiment"]["MxExperiment1"]["annotation"] =
        Value::from("re-processed chip 07: annotation changed");
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, serde_json::to_string(&v).unwrap()).unwrap();
    let out = mxpipe_store(&store, &["ingest", changed.to_str().unwrap()]);
    assert!(
        text_of(&out).contains("0 new, 1 changed, 3 unchanged"),
        "{}",
        text_of(&out)
    );
    let uuid = v["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = query(
        &store,
        &format!(
            "SELECT annotation FROM objects WHERE uuid = '{uuid}' AND ingest_id IN (SELECT ingest_id FROM ingests)"
        ),
    );
    assert_eq!(history.len(), 2, "both versions are kept: {history:?}");
    let out = mxpipe_store(&store, &["export", "mxlims", "--experiment", &uuid]);
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json_equal(&v, &exported),
        "export shows the latest version: {:?}",
        first_difference(&v, &exported)
    );
}

/// `n` copies of the MAD sample with fresh uuids (deterministic per `tag`).
fn copies(dir: &Path, tag: usize, n: usize) {
    let base = std::fs::read_to_string(repo().join("samples/mad-interleaved.json")).unwrap();
    let base_value: Value = serde_json::from_str(&base).unwrap();
    let uuids: Vec<String> = base_value
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_object)
        .flat_map(|d| {
            d.values()
                .filter_map(|o| o["uuid"].as_str().map(str::to_owned))
        })
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let mut text = base.clone();
        for (k, u) in uuids.iter().enumerate() {
            text = text.replace(
                u,
                &format!("{:08x}-0000-4000-8000-{:012x}", tag * 1000 + i, k),
            );
        }
        std::fs::write(dir.join(format!("m{i:03}.json")), text).unwrap();
    }
}

#[test]
fn four_concurrent_ingests_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let per_process = 5;
    let mut children = Vec::new();
    for p in 0..4 {
        let d = dir.path().join(format!("in{p}"));
        copies(&d, p + 1, per_process);
        children.push(
            Command::new(env!("CARGO_BIN_EXE_mxpipe"))
                .args([
                    "--store",
                    store.to_str().unwrap(),
                    "ingest",
                    d.to_str().unwrap(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    }
    let c = counts(&store);
    assert_eq!(c["ingests"], 4);
    assert_eq!(c["messages"], 4 * per_process as u64);
    assert_eq!(c["objects"], 4 * per_process as u64 * 7, "{c:?}");
    assert_eq!(c["scans"], 4 * per_process as u64 * 8);
}

#[test]
fn killed_ingest_leaves_nothing_visible_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let input = repo().join("samples/two-crystal-merge.json");
    ingest_killed_before_commit(&store, &input);
    let raw = query(&store, "SELECT count(*) AS n FROM objects");
    assert!(
        raw[0]["n"].as_i64().unwrap() > 0,
        "the data tables were written before the kill"
    );
    assert!(
        counts(&store).values().all(|&n| n == 0),
        "nothing is visible: {:?}",
        counts(&store)
    );
    let repair = mxpipe_store(&store, &["store", "repair"]);
    assert_eq!(repair.status.code(), Some(0), "{}", text_of(&repair));
    assert_eq!(
        query(&store, "SELECT count(*) AS n FROM objects")[0]["n"],
        0,
        "repair removed the leftovers"
    );
    let rerun = mxpipe_store(&store, &["ingest", input.to_str().unwrap()]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text_of(&rerun));
    assert_eq!(counts(&store)["objects"], 13);
}

#[test]
fn store_reads_back_in_datafusion_and_in_python_deltalake() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            repo()
                .join("samples/mad-interleaved.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let rows = query(
        &store,
        "SELECT s.energy_ev, count(*) AS scans FROM sweeps s JOIN scans c ON c.sweep_uuid = s.uuid GROUP BY s.energy_ev ORDER BY s.energy_ev",
    );
    assert_eq!(rows.len(), 2);
    assert!(
        close(&rows[0]["energy_ev"], 12662.0) && rows[0]["scans"] == 4,
        "{rows:?}"
    );
    assert!(
        close(&rows[1]["energy_ev"], 12900.0) && rows[1]["scans"] == 4,
        "{rows:?}"
    );
    let Some(py) = python() else { return };
    let script = "import sys\nfrom deltalake import DeltaTable\nt = DeltaTable(sys.argv[1] + '/scans').to_pyarrow_table()\nprint(t.num_rows, sorted(t.column('ordinal').to_pylist()), flush=True)\nimport os\nos._exit(0)";
    let out = Command::new(py)
        .args(["-c", script, store.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "8 [0, 1, 2, 3, 4, 5, 6, 7]"
    );
}

#[test]
fn store_layout_doc_is_up_to_date() {
    let doc = std::fs::read_to_string(repo().join("docs/store.md")).unwrap();
    assert!(
        doc.contains(&mxpipe_store::tables::markdown()),
        "docs/store.md is stale: paste the output of `mxpipe store describe`"
    );
}

#[test]
fn optimize_and_vacuum_keep_every_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for name in [
        "mad-interleaved.json",
        "ssx-chip.json",
        "two-crystal-merge.json",
    ] {
        let out = mxpipe_store(
            &store,
            &[
                "ingest",
                repo().join("samples").join(name).to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    }
    let before = counts(&store);
    let files = |table: &str| {
        std::fs::read_dir(store.join(table))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert_eq!(files("objects"), 3, "one data file per ingest run");
    let out = mxpipe_store(&store, &["store", "optimize"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(counts(&store), before);
    let out = mxpipe_store(&store, &["store", "vacuum", "--retention-hours", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(
        files("objects"),
        1,
        "the three small files were compacted into one and the old ones removed"
    );
    assert_eq!(counts(&store), before, "no committed row lost");
    let uuid =
        read_json(&repo().join("samples/ssx-chip.json"))["MxExperiment"]["MxExperiment1"]["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(
        mxpipe_store(&store, &["export", "mxlims", "--experiment", &uuid])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn export_by_sample_and_by_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for name in ["two-crystal-merge.json", "ssx-chip.json"] {
        assert_eq!(
            mxpipe_store(
                &store,
                &[
                    "ingest",
                    repo().join("samples").join(name).to_str().unwrap()
                ]
            )
            .status
            .code(),
            Some(0)
        );
    }
    let two = read_json(&repo().join("samples/two-crystal-merge.json"));
    let sample = two["MacromoleculeSample"]["MacromoleculeSample1"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    for args in [
        vec!["--sample", sample.as_str()],
        vec!["--session", "mx2532-3"],
    ] {
        let mut all = vec!["export", "mxlims"];
        all.extend(args.iter().copied());
        let out = mxpipe_store(&store, &all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text_of(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            json_equal(&two, &got),
            "{args:?}: differs at {:?}",
            first_difference(&two, &got)
        );
    }
    let out = mxpipe_store(
        &store,
        &["export", "mxlims", "--session", "no-such-visit-1"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text_of(&out).contains("nothing stored matches"));
}
