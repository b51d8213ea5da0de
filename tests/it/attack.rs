//! `mxpipe serve` tried as an attacker would (issue 24), each finding reproduced against the real
//! server on loopback: another proposal's data through objects, views, aggregates and error
//! messages; queries and bodies meant to take the server down (deep expressions, CPU, memory,
//! slow headers, floods); parameters out of range; tokens of another store; the web view's
//! redirects, headers and error pages. The server's memory is watched (`/proc/PID/status`).

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::serve::{Server, new_token, serve_config, start, token_for};

pub(crate) const A: &str = "mxA111";
pub(crate) const B: &str = "mxB999";

/// Statements whose casts fail on another proposal's values (names, paths), in filters, joins,
/// subqueries and aggregates: their errors must carry none of them.
pub(crate) const CAST_LEAKS: &[&str] = &[
    "SELECT * FROM samples WHERE cast(CASE WHEN name LIKE 'secret%' THEN concat(name,'|',sample_uuid) ELSE '1' END AS int)=1",
    "SELECT sweep_uuid FROM sweeps WHERE cast(path AS int)=1",
    "SELECT * FROM experiments e JOIN sweeps w ON cast(w.path AS int) = 1",
    "WITH x AS (SELECT path FROM sweeps) SELECT cast(path AS int) FROM x",
    "SELECT count(*) FROM sweeps GROUP BY path HAVING cast(max(path) AS int) = 1",
];

/// An MXLIMS message: for each (proposal, visit, experiment uuid, sample uuid, sample name, pin
/// barcode, sweep path) one experiment on a pin holding the sample, with one sweep.
pub(crate) fn message(jobs: &[(&str, u32, &str, &str, &str, &str, &str)]) -> Value {
    let mut m = json!({"version": "0.6.13", "MxExperiment": {}, "CollectionSweep": {}, "Pin": {}, "MacromoleculeSample": {}});
    for (i, (proposal, visit, exp, sample, name, barcode, path)) in jobs.iter().enumerate() {
        let n = i + 1;
        let id = |kind: &str| uuid_of(&format!("{exp}/{kind}"));
        m["MxExperiment"][format!("MxExperiment{n}")] = json!({
            "mxlimsType": "MxExperiment", "uuid": exp, "experimentStrategy": "OSC",
            "startTime": format!("2026-05-1{n}T10:00:00Z"), "endTime": format!("2026-05-1{n}T10:30:00Z"),
            "jobStatus": "Completed",
            "sampleRef": {"$ref": format!("#/MacromoleculeSample/MacromoleculeSample{n}")},
            "logisticalSampleRef": {"$ref": format!("#/Pin/Pin{n}")},
            "extensions": {"mxpipe.org": {"session": {"proposalCode": proposal, "visitNumber": visit, "facility": "DLS", "beamline": "i03"}}}
        });
        m["CollectionSweep"][format!("CollectionSweep{n}")] = json!({
            "mxlimsType": "CollectionSweep", "uuid": id("sweep"), "role": "Result", "sweepType": "simple",
            "scanAxis": "omega", "exposureTime": 0.01, "numberImages": 10, "energy": 12400.0,
            "scans": [{"scanPositionStart": 0.0, "firstImageNumber": 1, "numberImages": 10, "ordinal": 0}],
            "fileType": "HDF5", "filenameTemplate": "x_%06d.h5", "path": path,
            "sourceRef": {"$ref": format!("#/MxExperiment/MxExperiment{n}")}
        });
        m["Pin"][format!("Pin{n}")] = json!({
            "mxlimsType": "Pin", "uuid": id("pin"), "barcode": barcode,
            "sampleRef": {"$ref": format!("#/MacromoleculeSample/MacromoleculeSample{n}")}
        });
        m["MacromoleculeSample"][format!("MacromoleculeSample{n}")] =
            json!({"mxlimsType": "MacromoleculeSample", "uuid": sample, "name": name});
    }
    m
}

/// A deterministic uuid for a name.
pub(crate) fn uuid_of(name: &str) -> String {
    let h = hex::encode(sha2_like(name));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// 16 bytes from a name (FNV-1a, twice), enough for distinct test uuids.
fn sha2_like(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for seed in [0xcbf29ce484222325u64, 0x84222325cbf29ce4u64] {
        let mut h = seed;
        for b in name.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out.extend_from_slice(&h.to_be_bytes());
    }
    out
}

pub(crate) fn ingest(store: &Path, dir: &Path, name: &str, m: &Value) {
    let f = dir.join(name);
    std::fs::write(&f, m.to_string()).unwrap();
    let o = mxpipe_store(store, &["ingest", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
}

/// (status, headers, body text) of one request.
pub(crate) fn http(
    rt: &tokio::runtime::Runtime,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, reqwest::header::HeaderMap, String) {
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                (status, headers, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, Default::default(), e.to_string()),
        }
    })
}

pub(crate) fn query(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    token: &str,
    sql: &str,
) -> (u16, String) {
    let (s, _, body) = http(
        rt,
        "POST",
        &format!("{}/v1/query", server.base),
        Some(token),
        Some(json!({ "sql": sql }).to_string()),
    );
    (s, body)
}

/// The server's resident memory now and at its peak (kB).
fn rss_kb(server: &Server) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn alive(rt: &tokio::runtime::Runtime, server: &mut Server) {
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    let (s, _, body) = http(rt, "GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(s, 200, "{body}");
}

/// Items 1–4 and 16: objects, views, aggregates and errors of another proposal.
#[test]
fn another_proposals_rows_never_reach_a_limited_token() {
    let (dir, config) = serve_config("");
    let store = dir.path().join("store");
    let shared_sample = uuid_of("shared-sample");
    let (ea1, eb1, ea2, eb2) = (
        uuid_of("ea1"),
        uuid_of("eb1"),
        uuid_of("ea2"),
        uuid_of("eb2"),
    );
    let sb2 = uuid_of("sb2");
    // A's experiment on the shared sample; B's separately on the same sample, in a pin whose
    // barcode is SHARE-1; then one message holding an A and a B experiment.
    ingest(
        &store,
        dir.path(),
        "a.json",
        &message(&[(A, 1, &ea1, &shared_sample, "sampleA", "PIN-A1", "/data/a1")]),
    );
    ingest(
        &store,
        dir.path(),
        "b.json",
        &message(&[(
            B,
            12,
            &eb1,
            &shared_sample,
            "sampleA",
            "SHARE-1",
            "/data/secretB_path1",
        )]),
    );
    ingest(
        &store,
        dir.path(),
        "ab.json",
        &message(&[
            (
                A,
                1,
                &ea2,
                &uuid_of("sa2"),
                "sampleA2",
                "PIN-A2",
                "/data/a2",
            ),
            (
                B,
                12,
                &eb2,
                &sb2,
                "secretB_sample",
                "SECRET-B2",
                "/data/secretB_path2",
            ),
        ]),
    );
    let a = new_token(&config, &["--scope", "read", "--proposal", A]);
    let a_admin = new_token(&config, &["--scope", "admin", "--proposal", A]);
    let all = new_token(&config, &["--scope", "read"]);
    let mut server = start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    let b_marks = |text: &str| -> Vec<String> {
        [B, "secretB", "SHARE-1", "SECRET-B2", &eb1, &eb2, &sb2]
            .iter()
            .filter(|m| text.contains(*m))
            .map(|m| m.to_string())
            .collect()
    };

    // The positive control: an unlimited token does see B's rows.
    let (s, body) = query(&rt, &server, &all, "SELECT name, barcodes FROM samples");
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("SHARE-1") && body.contains("secretB_sample"),
        "{body}"
    );

    // 1. The shared sample with A's tokens: A's experiment, nothing of B's.
    for token in [&a, &a_admin] {
        let (s, _, body) = http(
            &rt,
            "GET",
            &url(&format!("/v1/samples/{shared_sample}")),
            Some(token),
            None,
        );
        assert_eq!(s, 200, "{body}");
        assert!(body.contains(&ea1), "A's experiment is there: {body}");
        assert!(
            b_marks(&body).is_empty(),
            "B in A's answer: {:?} in {body}",
            b_marks(&body)
        );
    }
    // 2. The message with both: B's experiment is not A's; A's carries nothing of B's.
    let (s, _, body) = http(
        &rt,
        "GET",
        &url(&format!("/v1/experiments/{eb2}")),
        Some(&a),
        None,
    );
    assert_eq!(s, 404, "{body}");
    let (s, _, body) = http(
        &rt,
        "GET",
        &url(&format!("/v1/experiments/{ea2}")),
        Some(&a),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert!(b_marks(&body).is_empty(), "{:?} in {body}", b_marks(&body));
    let (s, _, body) = http(
        &rt,
        "GET",
        &url(&format!("/v1/experiments/{eb2}")),
        Some(&all),
        None,
    );
    assert_eq!(s, 200, "the unlimited token reads it: {body}");

    // 3. Errors carry no row of B; the yes/no oracle answers the same whether B's visit exists.
    for sql in CAST_LEAKS {
        let (s, body) = query(&rt, &server, &a, sql);
        assert!(s == 200 || s == 400, "{sql}: {s} {body}");
        assert!(
            b_marks(&body).is_empty(),
            "{sql}: {:?} in {body}",
            b_marks(&body)
        );
    }
    let oracle = |visit: &str| {
        query(
            &rt,
            &server,
            &a,
            &format!(
                "SELECT count(*) AS n FROM experiments WHERE 1/(CASE WHEN visit='{visit}' THEN 0 ELSE 1 END)=1"
            ),
        )
    };
    assert_eq!(
        oracle(&format!("{B}-12")),
        oracle("mxZ000-1"),
        "the oracle tells B's visit exists"
    );
    let (s, body) = query(
        &rt,
        &server,
        &all,
        &format!(
            "SELECT count(*) FROM experiments WHERE 1/(CASE WHEN visit='{B}-12' THEN 0 ELSE 1 END)=1"
        ),
    );
    assert_eq!(
        s, 400,
        "the same query does fail on B's row for an unlimited token: {body}"
    );
    assert!(!body.contains("secretB"), "{body}");

    // 4. Aggregates inside views: A's sample lists A's barcodes only.
    let (s, body) = query(
        &rt,
        &server,
        &a,
        &format!("SELECT barcodes FROM samples WHERE sample_uuid = '{shared_sample}'"),
    );
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("PIN-A1") && !body.contains("SHARE-1"),
        "{body}"
    );
    // Views over the filtered inputs: counts of what A may see only.
    let (s, body) = query(&rt, &server, &a, "SELECT count(*) AS n FROM sweeps");
    assert_eq!(
        (
            s,
            serde_json::from_str::<Value>(&body).unwrap()[0]["n"].as_i64()
        ),
        (200, Some(2)),
        "{body}"
    );

    // 16. Engine internals and versions are not answered.
    for sql in [
        "SELECT version()",
        "EXPLAIN SELECT * FROM samples",
        "SELECT * FROM store.jobs",
    ] {
        let (_, body) = query(&rt, &server, &a, sql);
        let lower = body.to_lowercase();
        assert!(
            !lower.contains("datafusion")
                && !lower.contains("internal error")
                && !lower.contains("/tmp"),
            "{sql}: {body}"
        );
        assert!(b_marks(&body).is_empty(), "{sql}: {body}");
    }
    alive(&rt, &mut server);
}

/// Items 6–8: deep expressions, CPU-bound and memory-hungry queries answer and the server lives.
#[test]
fn hostile_queries_never_take_the_server_down() {
    let (dir, config) = serve_config("query_timeout_s = 3\nquery_memory_mb = 256\n");
    let read = new_token(&config, &["--scope", "read"]);
    let mut server = start(&config, &dir.path().join("store"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 6. Long chains: answered up to the limit, refused with the reason beyond; never a crash.
    for n in [250usize, 450, 20_000] {
        let sql = format!("SELECT 1{} AS n", "+1".repeat(n - 1));
        let (s, body) = query(&rt, &server, &read, &sql);
        if n <= 450 {
            assert_eq!(s, 200, "{n} terms: {body}");
            assert!(body.contains(&format!("{n}")), "{body}");
        } else {
            assert_eq!(s, 400, "{n} terms: {body}");
            assert!(body.contains("operators"), "{body}");
        }
        alive(&rt, &mut server);
    }
    for sql in [
        format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("SELECT {}1{}", "abs(".repeat(500), ")".repeat(500)),
        format!("SELECT 1 WHERE {}", vec!["1=1"; 240].join(" AND ")),
    ] {
        let (s, body) = query(&rt, &server, &read, &sql);
        assert!(s == 200 || s == 400, "{}: {s} {body}", &sql[..40]);
        alive(&rt, &mut server);
    }
    // 7. A CPU-bound query: 504 at the limit, the server answering meanwhile, and stopped for
    // real (the server's CPU time stops growing).
    let handle = {
        let base = server.base.clone();
        let read = read.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let started = Instant::now();
            let (s, _, body) = http(
                &rt,
                "POST",
                &format!("{base}/v1/query"),
                Some(&read),
                Some(json!({"sql": "SELECT a.value + b.value AS v FROM generate_series(1,100000) a CROSS JOIN generate_series(1,100000) b ORDER BY a.value + b.value DESC LIMIT 5"}).to_string()),
            );
            (s, body, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    alive(&rt, &mut server);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "healthz took {:?} during a heavy query",
        t.elapsed()
    );
    let (s, body, took) = handle.join().unwrap();
    assert_eq!(s, 504, "{body}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
        let fields: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        fields[0] + fields[1]
    };
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu();
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu() - before;
    assert!(
        ticks < 100,
        "the server kept computing after the 504: {ticks} ticks in 2 s"
    );
    // 8. Memory: refused with the reason, the server's peak stays far below the ask.
    for sql in [
        "SELECT length(repeat('x', 1600000000)) AS n",
        "SELECT length(lpad('x', 1600000000)) AS n",
        "SELECT cardinality(range(1, 400000000)) AS n",
        "SELECT length(string_agg(repeat('x', 1000), ',')) AS n FROM generate_series(1, 1000000)",
    ] {
        let (s, body) = query(&rt, &server, &read, sql);
        assert!(s == 400 || s == 504, "{sql}: {s} {body}");
        if s == 400 {
            assert!(body.contains("memory"), "{sql}: {body}");
        }
        alive(&rt, &mut server);
    }
    let (_, peak) = rss_kb(&server);
    assert!(peak < 1_500_000, "peak RSS {peak} kB");
    // With the default limits (a quarter of the memory, at most 2 GB), the query too.
    {
        let (dir, config) = serve_config("");
        let read = new_token(&config, &["--scope", "read"]);
        let mut server = start(&config, &dir.path().join("store"));
        let (s, body) = query(
            &rt,
            &server,
            &read,
            "SELECT length(repeat('x', 1600000000)) AS n",
        );
        assert_eq!(s, 400, "{body}");
        assert!(body.contains("memory"), "{body}");
        alive(&rt, &mut server);
        let (_, peak) = rss_kb(&server);
        assert!(peak < 1_000_000, "peak RSS {peak} kB");
    }
    // A stop while a query runs: the server exits promptly.
    let base = server.base.clone();
    let slow = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        http(&rt, "POST", &format!("{base}/v1/query"), Some(&read), Some(json!({"sql": "SELECT sum(sqrt(CAST(value AS DOUBLE))) FROM range(0, 20000000000)"}).to_string()))
    });
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    unsafe_kill_term(server.child.id());
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "SIGTERM ignored while a query runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let _ = slow.join();
}

fn unsafe_kill_term(pid: u32) {
    let o = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
}

/// Items 9 and 10: huge bodies and many idempotency keys cost bounded memory and answer bounded.
#[test]
fn huge_bodies_and_idempotency_keys_cost_bounded_memory() {
    let (dir, config) = serve_config("max_body_mb = 64\n");
    let ingest_token = new_token(&config, &["--scope", "ingest"]);
    let mut server = start(&config, &dir.path().join("store"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A message with 200 000 unknown keys: every one a finding.
    let mut body = String::from("{\"version\": \"0.6.13\", \"MxExperiment\": {}");
    for i in 0..200_000 {
        body.push_str(&format!(", \"k{i}\": {i}"));
    }
    body.push('}');
    let (_, before) = rss_kb(&server);
    for key in 0..12 {
        let r = rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/v1/messages", server.base))
                .bearer_auth(&ingest_token)
                .header("Idempotency-Key", format!("k{key}"))
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap()
        });
        assert_eq!(r.status().as_u16(), 422);
        let text = rt.block_on(r.text()).unwrap();
        assert!(text.len() < 200_000, "answer of {} bytes", text.len());
        let v: Value = serde_json::from_str(&text).unwrap();
        let problems = v["files"][0]["problems"].as_array().map_or(0, |p| p.len());
        assert!(problems <= 100, "{problems} findings listed");
    }
    // A retry gets the first answer's status.
    let r = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/messages", server.base))
            .bearer_auth(&ingest_token)
            .header("Idempotency-Key", "k0")
            .body("{}")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(r.status().as_u16(), 422);
    let (now, peak) = rss_kb(&server);
    assert!(now < before + 400_000, "RSS grew from {before} to {now} kB");
    assert!(peak < 2_000_000, "peak RSS {peak} kB");
    alive(&rt, &mut server);
}

/// Item 11: slow clients are cut off, connections are limited, one token cannot flood.
#[test]
fn slow_clients_and_floods_are_bounded() {
    let (dir, config) = serve_config(
        "header_read_timeout_s = 2\nmax_connections = 40\nmax_in_flight_per_token = 4\nquery_timeout_s = 4\n",
    );
    let read = new_token(&config, &["--scope", "read"]);
    let mut server = start(&config, &dir.path().join("store"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow: Vec<std::net::TcpStream> = (0..100)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    for s in &mut slow {
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
        s.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    }
    // Every slow connection is closed by the server (at once beyond the limit, else after the
    // header timeout): a read ends (0 bytes or an error) well before the client's 6 s.
    let t = Instant::now();
    for s in &mut slow {
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "slow connections held {:?}",
        t.elapsed()
    );
    alive(&rt, &mut server);
    // One token, 12 heavy queries at once: at most 4 run, the others answer 429 at once.
    let threads: Vec<_> = (0..12)
        .map(|_| {
            let (base, read) = (server.base.clone(), read.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                http(&rt, "POST", &format!("{base}/v1/query"), Some(&read), Some(json!({"sql": "SELECT sum(sqrt(CAST(value AS DOUBLE))) FROM range(0, 20000000000)"}).to_string())).0
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 8, "{statuses:?}");
    alive(&rt, &mut server);
}

/// Items 12–16: parameters, redirects, headers, error pages and details of the web view.
#[test]
fn web_view_parameters_redirects_and_headers_are_safe() {
    let (dir, config) = serve_config("");
    let read = new_token(&config, &["--scope", "read"]);
    let ingest_token = new_token(&config, &["--scope", "ingest"]);
    let mut server = start(&config, &dir.path().join("store"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    // 12. Parameters out of range: 400 with the reason, as a page.
    for p in [
        "/experiments?page=400000000000000000",
        "/experiments?page=99999999999999999999999",
        "/experiments?from=2026-13-45",
        "/experiments?to=2026-02-30",
    ] {
        let (s, h, body) = http(&rt, "GET", &url(p), Some(&read), None);
        assert_eq!(s, 400, "{p}: {body}");
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{p}"
        );
        assert!(
            !body.contains("optimizer") && !body.contains("panicked"),
            "{p}: {body}"
        );
    }
    // 13. The login's next: only a local path, as a browser reads it.
    for (next, want) in [
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        (" //evil.example", "/"),
        ("/\u{1}x", "/"),
        ("/x\ny", "/xy"),
        ("https://evil.example/", "/"),
        ("/experiments?proposal=mx1", "/experiments?proposal=mx1"),
    ] {
        let r = rt.block_on(async {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(url("/login"))
                .form(&[("token", read.as_str()), ("next", next)])
                .send()
                .await
                .unwrap()
        });
        assert_eq!(r.status().as_u16(), 303, "{next:?}");
        assert_eq!(r.headers()["location"].to_str().unwrap(), want, "{next:?}");
    }
    // 14. Security headers on pages and API answers.
    for p in ["/experiments", "/v1/views", "/login", "/nowhere"] {
        let (_, h, _) = http(&rt, "GET", &url(p), Some(&read), None);
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{p}: {csp}"
        );
        assert!(
            !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{p}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{p}");
        assert_eq!(h["referrer-policy"], "same-origin", "{p}");
    }
    // 15. Errors: HTML for pages, JSON for the API.
    let (s, h, _) = http(
        &rt,
        "GET",
        &url("/experiments/not-a-uuid"),
        Some(&read),
        None,
    );
    assert_eq!(
        (
            s,
            h["content-type"].to_str().unwrap().starts_with("text/html")
        ),
        (404, true)
    );
    let (s, h, body) = http(&rt, "GET", &url("/nowhere-at-all"), Some(&read), None);
    assert!(
        s == 404 && h["content-type"].to_str().unwrap().starts_with("text/html"),
        "{s} {body}"
    );
    let (s, h, body) = http(&rt, "GET", &url("/v1/views/nope"), Some(&read), None);
    assert_eq!(s, 404);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{body}"
    );
    // 16. No server path in an answer about a posted file.
    let (s, _, body) = http(
        &rt,
        "POST",
        &url("/v1/files?name=a%0Ab.cif"),
        Some(&ingest_token),
        Some("data_x\n_cell.length_a 'not a number'\n".into()),
    );
    assert!((200..500).contains(&s), "{s} {body}");
    assert!(!body.contains("/tmp") && !body.contains(".tmp"), "{body}");
    alive(&rt, &mut server);
}

/// Item 17: a token belongs to the store it was made for.
#[test]
fn a_token_opens_only_its_own_store() {
    let (dir, config) = serve_config("");
    let (s1, s2) = (dir.path().join("s1"), dir.path().join("s2"));
    let (token, said) = token_for(&config, &s1, &["--scope", "read"]);
    assert!(
        said.contains("s1") && said.contains("tokens.json"),
        "says where: {said}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (store, want) in [(&s2, 401), (&s1, 200)] {
        let server = start(&config, store);
        let (s, _, body) = http(
            &rt,
            "GET",
            &format!("{}/v1/views", server.base),
            Some(&token),
            None,
        );
        assert_eq!(s, want, "{}: {body}", store.display());
        if want == 401 {
            assert!(body.contains("another store"), "{body}");
        }
    }
    // Without `tokens_file` the hashes live inside the store: they travel with it, whatever
    // folder the server starts from.
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, "").unwrap();
    let s3 = dir.path().join("s3");
    let (token, _) = token_for(&bare, &s3, &["--scope", "read"]);
    assert!(s3.join("mxpipe-tokens.json").is_file());
    let server = start(&bare, &s3);
    let (s, _, body) = http(
        &rt,
        "GET",
        &format!("{}/v1/views", server.base),
        Some(&token),
        None,
    );
    assert_eq!(s, 200, "{body}");
}
