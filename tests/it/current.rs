//! The current state kept at commit (`superseded` rows written with each newer version): every
//! view equals the same view computed by ranking every version over the whole history (the
//! definition the views had before, kept as the oracle: `views::ranked_latest`) — after
//! re-ingests with changes, concurrent writers, a writer killed mid-run plus `store repair`, and
//! for a store written without `superseded` rows. And a uuid lookup skips the files that cannot
//! hold it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::queries::query_cli;

/// The object tables whose current state is kept.
const KEPT: [&str; 5] = [
    "jobs",
    "sweeps",
    "samples",
    "logistical_samples",
    "reflection_sets",
];

fn sample(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("samples").join(name)).unwrap())
        .unwrap()
}

/// A variant of the MAD sample: the sweep's exposure, the sample's name and the experiment's
/// status changed (new versions of three objects).
fn variant(n: usize) -> Value {
    let mut m = sample("mad-interleaved.json");
    m["CollectionSweep"]["CollectionSweep1"]["exposureTime"] = (0.01 * (n + 1) as f64).into();
    if let Some(s) = m["MacromoleculeSample"].as_object_mut() {
        for v in s.values_mut() {
            v["name"] = format!("sample version {n}").into();
        }
    }
    m
}

fn write(dir: &Path, name: &str, message: &Value) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, serde_json::to_string_pretty(message).unwrap()).unwrap();
    file
}

fn ingest(store: &Path, file: &Path) {
    let o = mxpipe_store(store, &["ingest", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
}

/// A store in `dir` with the three other samples, then `versions` changed versions of the MAD
/// sample: a run (a file per table) each.
fn store_with_versions(dir: &Path, versions: usize) -> PathBuf {
    let store = dir.join("store");
    for name in [
        "shipment-unipucks.json",
        "two-crystal-merge.json",
        "ssx-chip.json",
    ] {
        ingest(&store, &repo().join("samples").join(name));
    }
    for n in 0..versions {
        ingest(&store, &write(dir, &format!("v{n}.json"), &variant(n)));
    }
    store
}

/// Rows of a query as sorted JSON texts (order-free comparison).
fn rows(store: &Path, sql: &str) -> Vec<String> {
    let mut out: Vec<String> = query_cli(&["--store", store.to_str().unwrap(), sql])
        .iter()
        .map(|r| r.to_string())
        .collect();
    out.sort();
    out
}

/// Every user view equals its definition over ranked history; every kept table has one current
/// row per object.
fn views_equal_the_ranked_oracle(store: &Path, when: &str) {
    for t in KEPT {
        let n = rows(
            store,
            &format!(
                "SELECT count(*) AS n, count(DISTINCT site || uuid) AS objects FROM store.current_{t}"
            ),
        );
        let v: Value = serde_json::from_str(&n[0]).unwrap();
        assert_eq!(
            v["n"], v["objects"],
            "{when}: one current row per object in {t}"
        );
        let oracle = mxpipe_queries::views::ranked_latest(t);
        assert_eq!(
            rows(store, &format!("SELECT * FROM store.current_{t}")),
            rows(store, &oracle),
            "{when}: current {t}"
        );
    }
    let mut compared = 0;
    for view in mxpipe_queries::views::user_views() {
        let mut oracle = view.sql.to_owned();
        for t in KEPT {
            oracle = oracle.replace(
                &format!("store.current_{t} "),
                &format!("({}) ", mxpipe_queries::views::ranked_latest(t)),
            );
        }
        if oracle == view.sql {
            continue;
        }
        compared += 1;
        assert_eq!(
            rows(store, &format!("SELECT * FROM {}", view.name)),
            rows(store, &oracle),
            "{when}: view {}",
            view.name
        );
    }
    assert!(compared >= 8, "{when}: only {compared} views compared");
}

#[test]
fn the_current_state_equals_every_version_ranked_through_changes_races_and_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    // Re-ingests with changes: five versions of the same objects, one run each.
    let store = store_with_versions(dir.path(), 5);
    views_equal_the_ranked_oracle(&store, "after five versions");
    let count = |sql: &str| rows(&store, sql);
    assert!(
        count("SELECT count(*) AS n FROM store.superseded")[0] != r#"{"n":0}"#,
        "changed objects left superseded rows"
    );

    // Four writers at once, each a different version of the same objects.
    let files: Vec<PathBuf> = (5..9)
        .map(|n| write(dir.path(), &format!("v{n}.json"), &variant(n)))
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            Command::new(env!("CARGO_BIN_EXE_mxpipe"))
                .args([
                    "--store",
                    store.to_str().unwrap(),
                    "ingest",
                    f.to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    views_equal_the_ranked_oracle(&store, "after four concurrent writers");

    // A writer killed after its data tables, before its commit: nothing of it shows; repair.
    ingest_killed_before_commit(&store, &write(dir.path(), "v9.json", &variant(9)));
    views_equal_the_ranked_oracle(&store, "after a killed writer");
    let repair = mxpipe_store(&store, &["store", "repair"]);
    assert!(repair.status.success(), "{}", text_of(&repair));
    views_equal_the_ranked_oracle(&store, "after repair");
    // And a run after all that still moves the current state on.
    ingest(&store, &write(dir.path(), "v10.json", &variant(10)));
    views_equal_the_ranked_oracle(&store, "after one more version");
    let exposure = rows(
        &store,
        "SELECT exposure_time_s FROM sweeps WHERE sweep_uuid = 'd23f0824-128b-4f33-8c5c-7fd0a6a3a450'",
    );
    assert_eq!(exposure, vec![r#"{"exposure_time_s":0.11}"#.to_owned()]);
}

#[test]
fn a_store_written_without_superseded_rows_reads_right_and_repair_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut after_first = String::new();
    for n in 0..3 {
        ingest(
            &store,
            &write(dir.path(), &format!("v{n}.json"), &variant(n)),
        );
        if n == 0 {
            std::thread::sleep(Duration::from_millis(20));
            after_first = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let past = |at: &str| {
        query_cli(&[
            "--store",
            store.to_str().unwrap(),
            "--as-of",
            at,
            "SELECT exposure_time_s FROM sweeps WHERE sweep_uuid = 'd23f0824-128b-4f33-8c5c-7fd0a6a3a450'",
        ])
    };
    assert_eq!(past(&after_first).len(), 1);
    assert_eq!(past(&after_first)[0]["exposure_time_s"], 0.01);
    // As an older mxpipe left it: no `superseded` table.
    std::fs::remove_dir_all(store.join("superseded")).unwrap();
    std::fs::create_dir(store.join("superseded")).unwrap();
    views_equal_the_ranked_oracle(&store, "derived from history");
    let repair = mxpipe_store(&store, &["store", "repair"]);
    assert!(repair.status.success(), "{}", text_of(&repair));
    assert!(
        text_of(&repair).contains("superseded"),
        "repair says it wrote superseded rows: {}",
        text_of(&repair)
    );
    assert_ne!(
        query(&store, "SELECT count(*) AS n FROM superseded")[0]["n"],
        0
    );
    views_equal_the_ranked_oracle(&store, "after repair");
    // The past is answered as it was, also with rows the repair wrote afterwards.
    assert_eq!(past(&after_first).len(), 1, "one current version then");
    assert_eq!(past(&after_first)[0]["exposure_time_s"], 0.01);
    // Repair again: nothing more to write.
    let again = mxpipe_store(&store, &["store", "repair", "--output", "json"]);
    assert!(
        !text_of(&again).contains("superseded"),
        "{}",
        text_of(&again)
    );
}

/// Row groups of `table` a query read, from its `EXPLAIN ANALYZE`: those left after the Delta
/// log's file statistics, the Parquet row-group statistics and the bloom filters.
fn row_groups_read(plan: &str, table: &str) -> u64 {
    plan.lines()
        .filter(|l| l.contains(&format!("/{table}/part-")))
        .map(|l| {
            let after = l
                .split("row_groups_pruned_bloom_filter=")
                .nth(1)
                .unwrap_or_else(|| panic!("no pruning metrics in {l}"));
            let numbers: Vec<u64> = after
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .take(2)
                .map(|s| s.parse().unwrap())
                .collect();
            numbers[1]
        })
        .sum()
}

/// Data files of a table (one per run here: nothing was compacted).
fn files_of(store: &Path, table: &str) -> u64 {
    std::fs::read_dir(store.join(table))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".parquet")
        })
        .count() as u64
}

#[test]
fn a_lookup_by_uuid_skips_the_files_that_cannot_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    // Six runs: a file per run in each table they write.
    let store = store_with_versions(dir.path(), 3);
    let s = store.to_str().unwrap();
    let plan = |sql: &str| {
        let o = mxpipe(&["--store", s, "query", "--format", "csv", sql]);
        assert!(o.status.success(), "{}", text_of(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let files = files_of(&store, "sweeps");
    assert!(files >= 4, "the sweeps table has a file per run: {files}");
    // One sweep of two-crystal-merge (one version, in one file).
    let sweep = &query_cli(&[
        "--store",
        s,
        "SELECT sweep_uuid FROM sweeps WHERE sweep_uuid <> 'd23f0824-128b-4f33-8c5c-7fd0a6a3a450' LIMIT 1",
    ])[0]["sweep_uuid"];
    let sweep = sweep.as_str().unwrap();
    let read = row_groups_read(
        &plan(&format!(
            "EXPLAIN ANALYZE SELECT * FROM sweeps WHERE sweep_uuid = '{sweep}'"
        )),
        "sweeps",
    );
    // Exactly the files (one per run, one row group each) that hold a version of it.
    let holding = |column: &str, value: &str| {
        query_cli(&[
            "--store",
            s,
            &format!(
                "SELECT count(DISTINCT ingest_id) AS n FROM store.sweeps WHERE {column} = '{value}'"
            ),
        ])[0]["n"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        read,
        holding("uuid", sweep),
        "row groups read for one sweep"
    );
    assert!(read < files, "{read} of {files} files read");
    // The experiment's sweeps by experiment uuid: skipped on the experiment key too.
    let experiment = &query_cli(&[
        "--store",
        s,
        &format!("SELECT experiment_uuid FROM sweeps WHERE sweep_uuid = '{sweep}'"),
    ])[0]["experiment_uuid"];
    let read = row_groups_read(
        &plan(&format!(
            "EXPLAIN ANALYZE SELECT sweep_uuid FROM sweeps WHERE experiment_uuid = '{}'",
            experiment.as_str().unwrap()
        )),
        "sweeps",
    );
    let experiment = experiment.as_str().unwrap();
    assert_eq!(
        read,
        holding("experiment_uuid", experiment),
        "row groups read for one experiment"
    );
    assert!(read < files, "{read} of {files} files read");
}

#[test]
fn the_recipe_without_mxpipe_answers_as_mxpipe_does() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest(
        &store,
        &repo().join("samples").join("two-crystal-merge.json"),
    );
    for n in 0..3 {
        ingest(
            &store,
            &write(dir.path(), &format!("v{n}.json"), &variant(n)),
        );
    }
    // The recipe exactly as docs/queries.md shows it.
    let doc = std::fs::read_to_string(repo().join("docs/queries.md")).unwrap();
    let recipe = doc
        .split("```python\n")
        .find(|b| b.starts_with("# Current state of an mxpipe store"))
        .and_then(|b| b.split("```").next())
        .expect("docs/queries.md shows the recipe");
    let o = Command::new(python)
        .args(["-c", recipe])
        .env("STORE", &store)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
    let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ours = |sql: &str| -> Value {
        query_cli(&["--store", store.to_str().unwrap(), sql])
            .into_iter()
            .map(|r| Value::Array(r.as_object().unwrap().values().cloned().collect()))
            .collect()
    };
    let sweeps = ours(
        "SELECT sweep_uuid, experiment_uuid, energy_ev, wavelength_a, number_images FROM sweeps ORDER BY sweep_uuid",
    );
    assert!(sweeps.as_array().unwrap().len() >= 3);
    assert_eq!(theirs["sweeps"], sweeps);
    let processing = ours(
        "SELECT processing_uuid, program_name, job_status FROM processing ORDER BY processing_uuid",
    );
    assert!(!processing.as_array().unwrap().is_empty());
    assert_eq!(theirs["processing"], processing);
}

/// Every field of an experiment page as sorted rows of text.
fn page_rows(page: &mxpipe_queries::lookups::ExperimentPage) -> Vec<Vec<Vec<Option<String>>>> {
    [
        &page.experiment,
        &page.sweeps,
        &page.wedges,
        &page.processing,
    ]
    .into_iter()
    .map(|b| {
        let mut rows = mxpipe_queries::as_text(b).unwrap();
        rows.sort();
        rows
    })
    .collect()
}

#[test]
fn the_experiment_page_read_by_keys_equals_the_page_from_whole_views() {
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen");
    let o = mxpipe(&[
        "--store",
        generated.to_str().unwrap(),
        "generate",
        "--sweeps",
        "300",
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    let store = generated.join("DLS");
    // Objects with several versions, and processing linked by sweep references.
    ingest(
        &store,
        &repo().join("samples").join("two-crystal-merge.json"),
    );
    for n in 0..3 {
        ingest(
            &store,
            &write(dir.path(), &format!("v{n}.json"), &variant(n)),
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let site = mxpipe_queries::Site {
            name: String::new(),
            location: store.to_str().unwrap().to_owned(),
        };
        let (ctx, _) = mxpipe_queries::open_sites(&[site], &Default::default(), false)
            .await
            .unwrap();
        let experiments = mxpipe_queries::text_rows(
            &ctx,
            "SELECT experiment_uuid FROM experiments ORDER BY experiment_uuid",
        )
        .await
        .unwrap();
        assert!(experiments.len() > 50, "{} experiments", experiments.len());
        let mut with_processing = 0;
        for row in experiments.iter().step_by(3) {
            let uuid = row[0].as_deref().unwrap();
            let by_keys = mxpipe_queries::lookups::experiment_page(&ctx, uuid)
                .await
                .unwrap();
            let by_views = mxpipe_queries::lookups::experiment_page_by_views(&ctx, uuid)
                .await
                .unwrap();
            let (a, b) = (page_rows(&by_keys), page_rows(&by_views));
            assert_eq!(a, b, "experiment {uuid}");
            assert_eq!(a[0].len(), 1, "experiment {uuid} has its row");
            assert!(!a[1].is_empty(), "experiment {uuid} has sweeps");
            if !a[3].is_empty() {
                with_processing += 1;
            }
        }
        assert!(
            with_processing > 5,
            "only {with_processing} pages with processing"
        );
        // A uuid nothing holds: an empty page either way.
        let none = "00000000-0000-4000-8000-000000000000";
        let a = mxpipe_queries::lookups::experiment_page(&ctx, none)
            .await
            .unwrap();
        assert!(page_rows(&a).iter().all(Vec::is_empty));
    });
}

/// The experiment uuids a list page links to, in order, and its next-page link.
fn list_page(html: &str) -> (Vec<String>, Option<String>) {
    let mut uuids = Vec::new();
    for part in html.split("href=\"/experiments/").skip(1) {
        let uuid: String = part.chars().take_while(|c| *c != '"').collect();
        if uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            uuids.push(uuid);
        }
    }
    let next = html
        .split("rel=\"next\"")
        .next()
        .filter(|_| html.contains("rel=\"next\""))
        .and_then(|before| before.rsplit("href=\"").next())
        .map(|h| {
            h.split('"')
                .next()
                .unwrap_or_default()
                .replace("&amp;", "&")
                .replace("&#38;", "&")
        });
    (uuids, next)
}

#[test]
fn the_experiments_list_pages_by_keyset_as_by_offset() {
    let (dir, config) = crate::serve::serve_config("rate_per_second = 0\n");
    let generated = dir.path().join("gen");
    let o = mxpipe(&[
        "--store",
        generated.to_str().unwrap(),
        "generate",
        "--sweeps",
        "300",
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    let store = generated.join("DLS");
    let (token, _) = crate::serve::token_for(&config, &store, &["--scope", "read"]);
    let server = crate::serve::start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |path: &str| {
        let (status, _, body) = crate::attack::http(
            &rt,
            "GET",
            &format!("{}{path}", server.base),
            Some(&token),
            None,
        );
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    // Walk the list by its next links (keyset), and by page numbers (offset): the same rows.
    let mut by_keyset = Vec::new();
    let mut link = Some("/experiments".to_owned());
    let mut pages = 0;
    while let Some(path) = link {
        let (uuids, next) = list_page(&get(&path));
        by_keyset.extend(uuids);
        if let Some(n) = &next {
            assert!(
                n.contains("after="),
                "the next link continues after a row: {n}"
            );
        }
        link = next;
        pages += 1;
        assert!(pages < 20, "the walk ends");
    }
    assert!(pages >= 3, "{pages} pages");
    let mut by_offset = Vec::new();
    for page in 0..pages {
        by_offset.extend(list_page(&get(&format!("/experiments?page={page}"))).0);
    }
    assert_eq!(by_keyset, by_offset);
    let distinct: std::collections::HashSet<_> = by_keyset.iter().collect();
    assert_eq!(distinct.len(), by_keyset.len(), "no experiment twice");
    let all = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT count(*) AS n FROM experiments",
    ]);
    assert_eq!(all[0]["n"].as_u64().unwrap() as usize, by_keyset.len());
    // A malformed anchor is the user's mistake.
    let (status, _, _) = crate::attack::http(
        &rt,
        "GET",
        &format!("{}/experiments?after=yesterday", server.base),
        Some(&token),
        None,
    );
    assert_eq!(status, 400);
}

#[test]
fn two_versions_of_one_object_in_one_run_keep_one_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let folder = dir.path().join("visit");
    std::fs::create_dir(&folder).unwrap();
    write(&folder, "a.json", &variant(1));
    write(&folder, "b.json", &variant(2));
    ingest(&store, &folder);
    views_equal_the_ranked_oracle(&store, "two versions in one run");
    let exposure = rows(
        &store,
        "SELECT exposure_time_s FROM sweeps WHERE sweep_uuid = 'd23f0824-128b-4f33-8c5c-7fd0a6a3a450'",
    );
    assert_eq!(exposure.len(), 1, "one current version: {exposure:?}");
    // A later run changes it again: still one, the latest.
    ingest(&store, &write(dir.path(), "c.json", &variant(3)));
    views_equal_the_ranked_oracle(&store, "after a later version");
    let repair = mxpipe_store(&store, &["store", "repair"]);
    assert!(repair.status.success(), "{}", text_of(&repair));
    views_equal_the_ranked_oracle(&store, "after repair");
}
