//! Compaction beside the commits (issue 29): a long-running `mxpipe serve` compacts the tables it
//! writes on a thread of its own, so no request waits for a compaction.

use crate::common::*;
use crate::serve::{call, copies, load, new_token, objects_per_copy, serve_config, start};

/// With every table compacted every 4 runs (instead of every 100), 16 clients post 480 distinct
/// messages: a compaction is almost always running, and yet every request answers 201 within
/// the request timeout of 5 s (a request held up past it answers 503: compacting all the tables
/// in front of the next run took longer than that in this build). Every message is stored once,
/// and the compactions happened.
#[test]
fn compaction_during_a_sixteen_client_load_never_delays_a_request_past_its_timeout() {
    let (dir, config) =
        serve_config("rate_per_second = 0\ncompact_every = 4\nrequest_timeout_s = 5\n");
    let ingest = new_token(&config, &["--scope", "ingest"]);
    let store = dir.path().join("store");
    let text = std::fs::read_to_string(repo().join("samples/ssx-chip.json")).unwrap();
    let per_message = text.matches("\"uuid\"").count() as u64;
    let n = 480;
    let bodies = copies(&text, n);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = start(&config, &store);
    let started = std::time::Instant::now();
    let statuses = load(&rt, &server.base, &ingest, &bodies, 16, None);
    let seconds = started.elapsed().as_secs_f64();
    let late: Vec<(usize, Option<u16>)> = statuses
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, s)| *s != Some(201))
        .collect();
    assert!(
        late.is_empty(),
        "{} of {n} requests did not answer 201 (503: held past the request timeout): {:?}",
        late.len(),
        &late[..late.len().min(5)]
    );
    let (_, metrics) = call(&rt, "GET", &format!("{}/metrics", server.base), None, None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    let compactions: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mxpipe_store_compactions_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        compactions >= 5,
        "the load must run beside compactions (saw {compactions}): {metrics}"
    );
    let stored = objects_per_copy(&store);
    assert_eq!(stored.len(), n, "every message stored");
    assert!(
        stored.values().all(|k| *k == per_message),
        "every object once"
    );
    eprintln!("{n} messages by 16 clients beside {compactions} compactions: {seconds:.1} s");
}
