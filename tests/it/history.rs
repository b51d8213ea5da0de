//! Time travel: `mxpipe query --as-of INGEST_ID|TIME|DATE` answers as the store was then — a
//! sequence of changing ingests is replayed and every past answer compared.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::queries::query_cli;

const SWEEP: &str = "d23f0824-128b-4f33-8c5c-7fd0a6a3a450";

/// Ingest `message` into `store`; the run's ingest id.
fn ingest_one(store: &Path, message: &Value, dir: &Path, n: usize) -> String {
    let file = dir.join(format!("mad-{n}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(message).unwrap()).unwrap();
    let o = mxpipe_store(
        store,
        &["ingest", "--output", "json", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let text = text_of(&o);
    let id = text
        .split("committed as ingest ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no ingest id in {text}"));
    id.to_owned()
}

fn exposure(store: &Path, as_of: Option<&str>) -> Vec<Value> {
    let mut args = vec!["--store", store.to_str().unwrap()];
    if let Some(a) = as_of {
        args.extend(["--as-of", a]);
    }
    let sql = format!("SELECT exposure_time_s FROM sweeps WHERE sweep_uuid = '{SWEEP}'");
    args.push(&sql);
    query_cli(&args)
        .into_iter()
        .map(|r| r["exposure_time_s"].clone())
        .collect()
}

#[test]
fn every_past_state_is_answered_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut message: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/mad-interleaved.json")).unwrap(),
    )
    .unwrap();
    // Three runs, each changing the sweep's exposure time; remember each run and the time between.
    let mut runs = Vec::new();
    let mut between = Vec::new();
    for (n, exposure_s) in [0.02, 0.05, 0.1].into_iter().enumerate() {
        message["CollectionSweep"]["CollectionSweep1"]["exposureTime"] = exposure_s.into();
        runs.push((ingest_one(&store, &message, dir.path(), n), exposure_s));
        std::thread::sleep(std::time::Duration::from_millis(20));
        between.push(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        exposure(&store, None),
        vec![Value::from(0.1)],
        "now: the last run"
    );
    for ((id, exposure_s), time) in runs.iter().zip(&between) {
        assert_eq!(
            exposure(&store, Some(id)),
            vec![Value::from(*exposure_s)],
            "as of run {id}"
        );
        assert_eq!(
            exposure(&store, Some(time)),
            vec![Value::from(*exposure_s)],
            "as of {time}"
        );
    }
    // Before the first run the store held nothing; a date far ahead is now.
    assert!(exposure(&store, Some("2000-01-01")).is_empty());
    assert_eq!(exposure(&store, Some("2999-12-31")), vec![Value::from(0.1)]);
    // A sample's life as it was: before the first run nothing had that identifier.
    let crystals = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT crystal_uuid FROM crystals",
    ]);
    let crystal = crystals[0]["crystal_uuid"].as_str().unwrap();
    let s = store.to_str().unwrap();
    let then = mxpipe(&["--store", s, "lineage", crystal, "--as-of", &runs[0].0]);
    assert_eq!(then.status.code(), Some(0), "{}", text_of(&then));
    let before = mxpipe(&["--store", s, "lineage", crystal, "--as-of", "2000-01-01"]);
    assert_eq!(before.status.code(), Some(1), "{}", text_of(&before));
    // The commit log itself travels too.
    let log = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "--as-of",
        &runs[1].0,
        "SELECT count(*) AS n FROM ingests",
    ]);
    assert_eq!(log[0]["n"], 2);
}

#[test]
fn an_as_of_that_names_nothing_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    crate::queries::ingest(
        &store,
        "local",
        &[&repo().join("samples/mad-interleaved.json")],
    );
    let s = store.to_str().unwrap();
    let unknown = mxpipe(&[
        "--store",
        s,
        "query",
        "--as-of",
        "0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11",
        "SELECT 1",
    ]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text_of(&unknown));
    assert!(
        text_of(&unknown).contains("no committed ingest 0b4a31c2"),
        "{}",
        text_of(&unknown)
    );
    let typo = mxpipe(&["--store", s, "query", "--as-of", "last tuesday", "SELECT 1"]);
    assert_eq!(typo.status.code(), Some(2), "{}", text_of(&typo));
    assert!(
        text_of(&typo).contains("expected an ingest id"),
        "{}",
        text_of(&typo)
    );
}

#[test]
fn the_api_answers_as_of_an_ingest_for_every_token() {
    let (dir, config) = crate::serve::serve_config("");
    let store = dir.path().join("store");
    let mut message: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/mad-interleaved.json")).unwrap(),
    )
    .unwrap();
    let mut runs = Vec::new();
    for (n, exposure_s) in [0.02, 0.05].into_iter().enumerate() {
        message["CollectionSweep"]["CollectionSweep1"]["exposureTime"] = exposure_s.into();
        runs.push(ingest_one(&store, &message, dir.path(), n));
    }
    let read = crate::serve::new_token(&config, &["--scope", "read"]);
    let visit = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT visit FROM experiments",
    ]);
    let proposal = visit[0]["visit"]
        .as_str()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    let limited = crate::serve::new_token(&config, &["--scope", "read", "--proposal", &proposal]);
    let other = crate::serve::new_token(&config, &["--scope", "read", "--proposal", "zz99999"]);
    let server = crate::serve::start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |token: &str, as_of: Option<&str>| {
        let mut url = format!("{}/v1/views/sweeps?sweep_uuid={SWEEP}", server.base);
        if let Some(a) = as_of {
            url.push_str(&format!("&as_of={a}"));
        }
        let (status, _, body) = crate::attack::http(&rt, "GET", &url, Some(token), None);
        let rows: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        (status, rows, body)
    };
    for token in [&read, &limited] {
        let (status, rows, body) = get(token, Some(&runs[0]));
        assert_eq!(status, 200, "{body}");
        assert_eq!(rows[0]["exposure_time_s"], 0.02, "{body}");
        let (status, rows, body) = get(token, None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(rows[0]["exposure_time_s"], 0.05, "{body}");
    }
    // The same through POST /v1/query.
    let body = serde_json::json!({
        "sql": format!("SELECT exposure_time_s FROM sweeps WHERE sweep_uuid = '{SWEEP}'"),
        "as_of": runs[0],
    });
    let url = format!("{}/v1/query", server.base);
    let (status, _, answer) =
        crate::attack::http(&rt, "POST", &url, Some(&limited), Some(body.to_string()));
    assert_eq!(status, 200, "{answer}");
    let rows: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(rows[0]["exposure_time_s"], 0.02, "{answer}");
    let bad = serde_json::json!({"sql": "SELECT 1", "as_of": "soon"}).to_string();
    let (status, _, answer) = crate::attack::http(&rt, "POST", &url, Some(&read), Some(bad));
    assert_eq!(status, 400, "{answer}");
    // Another proposal's token sees nothing of it, then or now.
    let (status, rows, body) = get(&other, Some(&runs[0]));
    assert_eq!(
        (status, rows.as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    // Of the documented shape but placing nothing: 404; of another shape: 400.
    for nothing in ["0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11", "2026-13-45"] {
        let (status, _, body) = get(&read, Some(nothing));
        assert_eq!(status, 404, "{nothing}: {body}");
    }
    let (status, _, body) = get(&read, Some("yesterday"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("as_of"), "{body}");
    // The OpenAPI document states that shape, the one the server checks.
    let (_, _, doc) = crate::attack::http(
        &rt,
        "GET",
        &format!("{}/openapi.json", server.base),
        None,
        None,
    );
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let params = doc["paths"]["/v1/views/{name}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let as_of = params
        .iter()
        .find(|p| p["name"] == "as_of")
        .expect("as_of documented");
    assert_eq!(as_of["schema"]["pattern"], mxpipe_queries::as_of::PATTERN);
    let body = &doc["components"]["schemas"]["QueryBody"]["properties"]["as_of"];
    assert_eq!(body["pattern"], mxpipe_queries::as_of::PATTERN, "{body}");
    let experiment = doc["paths"]["/v1/experiments/{uuid}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "as_of")
        .expect("as_of documented")
        .clone();
    assert_eq!(
        experiment["schema"]["pattern"],
        mxpipe_queries::as_of::PATTERN
    );

    // The experiment as MXLIMS, as it was after each run.
    let experiment_uuid = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        &format!("SELECT experiment_uuid FROM sweeps WHERE sweep_uuid = '{SWEEP}'"),
    ])[0]["experiment_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = |token: &str, as_of: Option<&str>| {
        let mut url = format!("{}/v1/experiments/{experiment_uuid}", server.base);
        if let Some(a) = as_of {
            url.push_str(&format!("?as_of={a}"));
        }
        let (status, _, body) = crate::attack::http(&rt, "GET", &url, Some(token), None);
        (status, body)
    };
    let exposure_of = |body: &str| -> Value {
        let m: Value = serde_json::from_str(body).unwrap();
        m["CollectionSweep"]
            .as_object()
            .unwrap()
            .values()
            .find(|s| s["uuid"] == SWEEP)
            .map(|s| s["exposureTime"].clone())
            .unwrap_or(Value::Null)
    };
    for token in [&read, &limited] {
        let (status, body) = message(token, Some(&runs[0]));
        assert_eq!(status, 200, "{body}");
        assert_eq!(exposure_of(&body), 0.02);
        let (status, body) = message(token, None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(exposure_of(&body), 0.05);
    }
    let (status, body) = message(&read, Some("2000-01-01"));
    assert_eq!(status, 404, "nothing then: {body}");
    let (status, body) = message(&read, Some("0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11"));
    assert_eq!(status, 404, "{body}");
    let (status, body) = message(&read, Some("soon"));
    assert_eq!(status, 400, "{body}");
    let (status, _) = message(&other, Some(&runs[0]));
    assert_eq!(status, 404, "another proposal's experiment");
}
