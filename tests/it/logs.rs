//! Logs that can be seen: `mxpipe serve` writes one line per request (method, route, status,
//! latency, token id — never the token) and its warnings, as JSON lines with
//! `[serve] log_format = "json"`; `--log-level` is checked.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::attack::http;
use crate::common::*;
use crate::serve::{mxpipe_with, new_token, serve_config, start};

/// Wait until a collected line satisfies `found` (20 s at most).
fn wait_for(lines: &Mutex<Vec<String>>, found: impl Fn(&str) -> bool) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(l) = lines.lock().unwrap().iter().find(|l| found(l)) {
            return Some(l.clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn the_server_logs_every_request_and_a_failed_mint_as_json_lines() {
    let (dir, config) = serve_config(
        "log_format = \"json\"\n[pid]\nscheme = \"local\"\nprefix = \"https://pid.example.org/s/\"\n",
    );
    let store = dir.path().join("store");
    let token = new_token(&config, &["--scope", "ingest"]);
    let listed = mxpipe_with(
        &config,
        &[
            "--store",
            store.to_str().unwrap(),
            "token",
            "list",
            "--output",
            "json",
        ],
    )
    .stdout;
    let records: Value = serde_json::from_slice(&listed).unwrap();
    let token_id = records[0]["id"].as_str().unwrap().to_owned();
    // Break the PID registry: a commit log that is not JSON, so that minting after the commit
    // fails (the ingest itself is stored: 201).
    let log = store.join("sample_pids/_delta_log");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(log.join("00000000000000000000.json"), "garbage").unwrap();
    let server = start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let message = std::fs::read_to_string(repo().join("samples/two-crystal-merge.json")).unwrap();
    let (status, _, body) = http(
        &rt,
        "POST",
        &format!("{}/v1/messages", server.base),
        Some(&token),
        Some(message),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = http(
        &rt,
        "GET",
        &format!("{}/v1/ingests", server.base),
        Some("not-a-token"),
        None,
    );
    assert_eq!(status, 401);

    let request = wait_for(&server.lines, |l| l.contains("\"route\":\"/v1/messages\""))
        .expect("a log line for the POST");
    let line: Value = serde_json::from_str(&request).unwrap_or_else(|e| panic!("{e}: {request}"));
    assert_eq!(line["method"], "POST", "{line}");
    assert_eq!(line["status"], 201, "{line}");
    assert_eq!(line["token"], token_id.as_str(), "{line}");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{line}"
    );
    let refused = wait_for(&server.lines, |l| l.contains("\"route\":\"/v1/ingests\""))
        .expect("a log line for the refused GET");
    assert!(
        refused.contains("\"status\":401") && refused.contains("\"token\":\"-\""),
        "{refused}"
    );
    let warning = wait_for(&server.lines, |l| l.contains("minting PIDs failed"))
        .expect("the failed mint is logged");
    let warning: Value = serde_json::from_str(&warning).unwrap();
    assert_eq!(warning["level"], "WARN", "{warning}");
    let all = server.lines.lock().unwrap().join("\n");
    assert!(!all.contains(&token), "the token itself is never logged");
    assert!(!all.contains("not-a-token"), "nor a presented secret");
}

#[test]
fn an_unknown_log_level_is_a_usage_error() {
    let o = mxpipe(&["--log-level", "loud", "query", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(text_of(&o).contains("--log-level"), "{}", text_of(&o));
}
