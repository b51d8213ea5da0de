//! `mxpipe serve`: the real binary on a loopback port, real HTTP (reqwest): tokens and scopes,
//! ingest of messages and files with the CLI's summary and statuses, read-only SQL, the commit
//! log, revocation, body limit, the OpenAPI document checked with openapi-spec-validator, and a
//! graceful stop on SIGTERM.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::common::*;

pub(crate) fn mxpipe_with(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

/// A temporary folder with an `mxpipe.toml` whose `[serve]` section names a token file in that
/// folder, followed by `settings` (TOML lines, each ending in a newline).
pub(crate) fn serve_config(settings: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mxpipe.toml");
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &config,
        format!(
            "[serve]\ntokens_file = {:?}\n{settings}",
            tokens.to_str().unwrap()
        ),
    )
    .unwrap();
    (dir, config)
}

/// A token for the store `store` beside the configuration file (where the tests keep it).
pub(crate) fn new_token(config: &Path, args: &[&str]) -> String {
    token_for(config, &config.parent().unwrap().join("store"), args).0
}

/// `mxpipe --config CONFIG --store STORE token new ARGS…`, which must succeed: the token (alone
/// on standard output) and what was said on standard error.
pub(crate) fn token_for(config: &Path, store: &Path, args: &[&str]) -> (String, String) {
    let o = mxpipe_with(
        config,
        &[
            &["--store", store.to_str().unwrap(), "token", "new"][..],
            args,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "the token alone on stdout: {out:?}");
    (
        out.trim().to_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// Everything the server wrote on standard error, line by line.
    pub(crate) lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `mxpipe serve` on a free loopback port; its standard error is collected in `lines`.
pub(crate) fn start(config: &Path, store: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(store)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .current_dir(repo())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://") || w.starts_with("https://"));
            if let Some(url) = url {
                let _ = tx.send(url.to_owned());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .unwrap_or_else(|_| {
            panic!(
                "the server never said where it listens: {:?}",
                lines.lock().unwrap()
            )
        });
    Server { child, base, lines }
}

/// Every exchange of the tests with their servers, checked against the OpenAPI document.
static EXCHANGES: std::sync::Mutex<Vec<Value>> = std::sync::Mutex::new(Vec::new());

/// Remember one exchange (for [`check_exchanges`]).
fn record(method: &str, url: &str, status: u16, content_type: &str, body: &[u8]) {
    let u = reqwest::Url::parse(url).unwrap();
    let base = format!("{}://{}", u.scheme(), u.host_str().unwrap())
        + &u.port().map(|p| format!(":{p}")).unwrap_or_default();
    EXCHANGES.lock().unwrap().push(json!({
        "base": base, "method": method, "path": u.path(), "query": u.query(),
        "status": status, "content_type": content_type, "body_hex": hex::encode(body),
    }));
}

/// Check every recorded exchange with `base` against the server's OpenAPI document (openapi-core,
/// schemas closed: a field the document does not declare fails). With `require_all`, every
/// operation of the document must have been exercised.
fn check_exchanges(rt: &tokio::runtime::Runtime, base: &str, dir: &Path, require_all: bool) {
    let Some(py) = python() else {
        eprintln!("SKIPPED: the OpenAPI response check needs MXPIPE_PYTHON (scripts/test sets it)");
        return;
    };
    let (_, _, doc) = call_raw(rt, "GET", &format!("{base}/openapi.json"), None, None, None);
    let spec = dir.join("openapi-for-check.json");
    std::fs::write(&spec, doc).unwrap();
    let lines: Vec<String> = EXCHANGES
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x["base"] == base)
        .map(|x| x.to_string())
        .collect();
    assert!(!lines.is_empty(), "no exchanges recorded with {base}");
    let file = dir.join("exchanges.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/checkers/openapi_responses.py"))
        .arg(&spec)
        .arg(&file);
    if require_all {
        cmd.arg("--require-all");
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", text_of(&o));
    eprintln!("{}", String::from_utf8_lossy(&o.stdout).trim());

    if !require_all {
        return;
    }
    // The check can fail: an ingest answer with a field the document does not declare.
    let mut doctored: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|x| x["path"] == "/v1/messages" && x["status"] == 201)
        .expect("a stored message among the exchanges");
    let mut body: Value =
        serde_json::from_slice(&hex::decode(doctored["body_hex"].as_str().unwrap()).unwrap())
            .unwrap();
    body["surprise"] = json!(1);
    doctored["body_hex"] = json!(hex::encode(body.to_string()));
    std::fs::write(&file, doctored.to_string()).unwrap();
    let o = Command::new(python().unwrap())
        .arg(repo().join("tests/checkers/openapi_responses.py"))
        .arg(&spec)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text_of(&o).contains("surprise"),
        "{}",
        text_of(&o)
    );
}

/// (status, Content-Type, body bytes) of one request, recorded for [`check_exchanges`].
fn call_raw(
    rt: &tokio::runtime::Runtime,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    accept: Option<&str>,
) -> (u16, String, Vec<u8>) {
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = r.bytes().await.unwrap().to_vec();
        record(method, url, status, &content_type, &bytes);
        (status, content_type, bytes)
    })
}

/// (status, body as JSON or text) of one request.
pub(crate) fn call(
    rt: &tokio::runtime::Runtime,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let (status, _, bytes) = call_raw(rt, method, url, token, body, None);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn serve_ingests_and_queries_with_scoped_tokens_and_stops_gracefully() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let (dir, config) = serve_config("max_body_mb = 1\n");
    let store = dir.path().join("store");
    let ingest = new_token(&config, &["--scope", "ingest", "--note", "beamline"]);
    let read = new_token(&config, &["--scope", "read"]);
    let limited = new_token(&config, &["--scope", "read", "--proposal", "mx23694"]);
    let other = new_token(&config, &["--scope", "read", "--proposal", "mx00001"]);
    let saved = std::fs::read_to_string(dir.path().join("tokens.json")).unwrap();
    assert!(
        !saved.contains(&ingest) && !saved.contains(&read),
        "tokens are stored as hashes only"
    );

    let server = start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    assert_eq!(
        call(&rt, "GET", &url("/healthz"), None, None),
        (200, json!("ok"))
    );

    // The OpenAPI document is valid (openapi-spec-validator) and names every route.
    let (s, doc) = call(&rt, "GET", &url("/openapi.json"), None, None);
    assert_eq!(s, 200);
    for p in [
        "/v1/messages",
        "/v1/files",
        "/v1/query",
        "/v1/ingests",
        "/healthz",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, doc.to_string()).unwrap();
    let o = Command::new(&py)
        .args(["-c", "import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text_of(&o));

    // Ingest: no token 401, wrong scope 403, stored 201, again 200, invalid 422 (nothing stored).
    let mad = std::fs::read(repo().join("samples/mad-interleaved.json")).unwrap();
    assert_eq!(
        call(&rt, "POST", &url("/v1/messages"), None, Some(mad.clone())).0,
        401
    );
    assert_eq!(
        call(
            &rt,
            "POST",
            &url("/v1/messages"),
            Some("mxp_nope"),
            Some(mad.clone())
        )
        .0,
        401
    );
    assert_eq!(
        call(
            &rt,
            "POST",
            &url("/v1/messages"),
            Some(&read),
            Some(mad.clone())
        )
        .0,
        403
    );
    let (s, summary) = call(
        &rt,
        "POST",
        &url("/v1/messages"),
        Some(&ingest),
        Some(mad.clone()),
    );
    assert_eq!(s, 201, "{summary}");
    assert!(summary["new"].as_u64().unwrap() > 5, "{summary}");
    assert!(summary["ingest_id"].is_string());
    assert!(
        !summary.to_string().contains("/tmp"),
        "no server path in the answer: {summary}"
    );
    let (s, again) = call(&rt, "POST", &url("/v1/messages"), Some(&ingest), Some(mad));
    assert_eq!((s, again["new"].as_u64()), (200, Some(0)), "{again}");
    let invalid = std::fs::read(repo().join("samples/invalid-mad.json")).unwrap();
    let (s, bad) = call(
        &rt,
        "POST",
        &url("/v1/messages"),
        Some(&ingest),
        Some(invalid),
    );
    assert_eq!(s, 422, "{bad}");
    assert_eq!(bad["committed"], false);
    // Every finding, each with its place (pointer and rule), what was expected and found —
    // the same findings `mxpipe validate` reports.
    let problems = bad["files"][0]["problems"].as_array().unwrap();
    let o = mxpipe(&["validate", "--format", "json", "samples/invalid-mad.json"]);
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text_of(&o)));
    let errors = report.to_string().matches("\"severity\":\"error\"").count();
    assert!(
        problems.len() > 1 && problems.len() == errors,
        "{} problems, {errors} errors: {bad}",
        problems.len()
    );
    for p in problems {
        assert!(
            p["location"].as_str().unwrap().contains(" [")
                && p["expected"].is_string()
                && p["found"].is_string(),
            "{p}"
        );
    }
    let xml = std::fs::read(td.join("processing/autoproc/autoPROC.xml")).unwrap();
    let (s, r) = call(
        &rt,
        "POST",
        &url("/v1/files?name=autoPROC.xml"),
        Some(&ingest),
        Some(xml),
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["files"][0]["path"], "autoPROC.xml", "{r}");
    let (s, r) = call(
        &rt,
        "POST",
        &url("/v1/files?name=x.bin"),
        Some(&ingest),
        Some(b"\x89PNG\r\n\x1a\n".to_vec()),
    );
    assert_eq!(s, 422, "{r}");
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        call(&rt, "POST", &url("/v1/messages"), Some(&ingest), Some(big)).0,
        413
    );

    // Read-only SQL and the commit log.
    let q = |sql: &str, token: &str| {
        call(
            &rt,
            "POST",
            &url("/v1/query"),
            Some(token),
            Some(json!({"sql": sql}).to_string().into_bytes()),
        )
    };
    let (s, rows) = q("SELECT count(*) AS n FROM sweeps", &read);
    assert_eq!((s, &rows[0]["n"]), (200, &json!(2)), "{rows}");
    for refused in [
        "COPY (SELECT 1) TO '/tmp/mxpipe-serve-copy.csv'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE t AS SELECT 1",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (s, r) = q(refused, &read);
        assert_eq!(s, 400, "{refused}: {r}");
    }
    assert!(!Path::new("/tmp/mxpipe-serve-copy.csv").exists());
    assert_eq!(q("SELECT 1", &ingest).0, 403);
    // Proposal isolation below SQL: a token limited to mx23694 sees the MAD's rows; one limited
    // to another proposal sees none — through views, joins, subqueries, CTEs,
    // information_schema — and no raw table is reachable.
    let n = |sql: &str, token: &str| {
        let (s, r) = q(sql, token);
        assert_eq!(s, 200, "{sql}: {r}");
        r[0]["n"].as_u64().unwrap()
    };
    assert_eq!(n("SELECT count(*) AS n FROM sweeps", &limited), 2);
    assert_eq!(
        n("SELECT count(*) AS n FROM scans", &limited),
        n("SELECT count(*) AS n FROM scans", &read)
    );
    for sql in [
        "SELECT count(*) AS n FROM sweeps",
        "SELECT count(*) AS n FROM scans",
        "SELECT count(*) AS n FROM experiments e JOIN sweeps w ON w.experiment_uuid = e.experiment_uuid",
        "SELECT count(*) AS n FROM image_index WHERE experiment_uuid IN (SELECT experiment_uuid FROM scans)",
        "SELECT count(*) AS n FROM samples",
        "SELECT count(*) AS n FROM crystals",
        "SELECT count(*) AS n FROM ingests",
        "WITH x AS (SELECT * FROM sweeps) SELECT count(*) AS n FROM x",
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema NOT IN ('public', 'information_schema')",
    ] {
        assert_eq!(n(sql, &other), 0, "{sql}");
    }
    assert!(n("SELECT count(*) AS n FROM samples", &read) > 0);
    assert!(
        n(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema NOT IN ('public', 'information_schema')",
            &read
        ) > 0
    );
    for sql in [
        "SELECT * FROM store.sweeps",
        "SELECT * FROM site_0.objects",
        "SELECT * FROM store.current_sweeps",
    ] {
        assert_eq!(q(sql, &other).0, 400, "{sql} must not be reachable");
    }
    let (s, rows) = call(&rt, "GET", &url("/v1/views/sweeps"), Some(&other), None);
    assert_eq!((s, rows), (200, json!([])));
    let (_, log) = call(&rt, "GET", &url("/v1/ingests"), Some(&other), None);
    assert_eq!(log, json!([]));
    let (s, log) = call(&rt, "GET", &url("/v1/ingests"), Some(&read), None);
    assert_eq!(s, 200);
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");

    // Experiments as MXLIMS JSON; a proposal-limited token sees only its proposals'.
    let mad_json = read_json(&repo().join("samples/mad-interleaved.json"));
    let exp = mad_json["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let (s, m) = call(
        &rt,
        "GET",
        &url(&format!("/v1/experiments/{exp}")),
        Some(&read),
        None,
    );
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["MxExperiment"]["MxExperiment1"]["uuid"], exp);
    assert_eq!(m["CollectionSweep"].as_object().unwrap().len(), 2);
    assert_eq!(
        call(
            &rt,
            "GET",
            &url(&format!("/v1/experiments/{exp}")),
            Some(&limited),
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &rt,
            "GET",
            &url(&format!("/v1/experiments/{exp}")),
            Some(&other),
            None
        )
        .0,
        404
    );
    assert_eq!(
        call(
            &rt,
            "GET",
            &url("/v1/experiments/00000000-0000-4000-8000-000000000000"),
            Some(&read),
            None
        )
        .0,
        404
    );

    // Samples by PID (its `/` URL-encoded) or uuid; another proposal's token finds nothing.
    let crystal = mad_json["Crystal"]["Crystal1"]["uuid"].as_str().unwrap();
    let pid = mad_json["Crystal"]["Crystal1"]["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
        .as_str()
        .unwrap();
    let enc: String = pid.replace('/', "%2F").replace(':', "%3A");
    for id in [enc.as_str(), crystal] {
        let (s, m) = call(
            &rt,
            "GET",
            &url(&format!("/v1/samples/{id}")),
            Some(&read),
            None,
        );
        assert_eq!(s, 200, "{id}: {m}");
        assert!(m.to_string().contains(crystal), "{m}");
    }
    assert_eq!(
        call(
            &rt,
            "GET",
            &url(&format!("/v1/samples/{enc}")),
            Some(&other),
            None
        )
        .0,
        404
    );
    assert_eq!(
        call(
            &rt,
            "GET",
            &url("/v1/samples/no-such-pid"),
            Some(&read),
            None
        )
        .0,
        404
    );

    // Views: the list, rows with filters and a limit, CSV by Accept.
    let (s, views) = call(&rt, "GET", &url("/v1/views"), Some(&read), None);
    assert_eq!(s, 200);
    assert!(
        views
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "sweeps"),
        "{views}"
    );
    let (s, rows) = call(
        &rt,
        "GET",
        &url("/v1/views/sweeps?site=local"),
        Some(&read),
        None,
    );
    assert_eq!((s, rows.as_array().map(Vec::len)), (200, Some(2)), "{rows}");
    let (_, rows) = call(
        &rt,
        "GET",
        &url("/v1/views/sweeps?limit=1"),
        Some(&read),
        None,
    );
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    let (_, rows) = call(
        &rt,
        "GET",
        &url("/v1/views/sweeps?site=elsewhere"),
        Some(&read),
        None,
    );
    assert_eq!(rows, json!([]));
    assert_eq!(
        call(
            &rt,
            "GET",
            &url("/v1/views/sweeps?no_such_column=1"),
            Some(&read),
            None
        )
        .0,
        400
    );
    assert_eq!(
        call(&rt, "GET", &url("/v1/views/nope"), Some(&read), None).0,
        404
    );
    let (s, media, csv) = call_raw(
        &rt,
        "GET",
        &url("/v1/views/sweeps"),
        Some(&read),
        None,
        Some("text/csv"),
    );
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!((s, media.as_str()), (200, "text/csv"), "{csv}");
    assert!(csv.lines().next().unwrap().contains("site"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "header + 2 sweeps: {csv}");
    // Parquet keeps the column types: the same rows, read back with the parquet crate.
    let parquet_rows = |bytes: Vec<u8>| {
        let file = dir.path().join("answer.parquet");
        std::fs::write(&file, bytes).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap();
        let schema = reader.schema().clone();
        let n: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        (schema, n)
    };
    let (s, media, bytes) = call_raw(
        &rt,
        "GET",
        &url("/v1/views/sweeps"),
        Some(&read),
        None,
        Some("application/vnd.apache.parquet"),
    );
    assert_eq!((s, media.as_str()), (200, "application/vnd.apache.parquet"));
    let (schema, n) = parquet_rows(bytes);
    assert_eq!(n, 2);
    assert!(
        schema.fields().iter().any(|f| f.data_type().is_floating()),
        "numbers stay numbers: {schema:?}"
    );
    let sql = json!({"sql": "SELECT sweep_uuid, visit FROM sweeps WHERE false"})
        .to_string()
        .into_bytes();
    let (s, media, bytes) = call_raw(
        &rt,
        "POST",
        &url("/v1/query"),
        Some(&read),
        Some(sql),
        Some("application/vnd.apache.parquet"),
    );
    assert_eq!((s, media.as_str()), (200, "application/vnd.apache.parquet"));
    let (schema, n) = parquet_rows(bytes);
    assert_eq!(
        (schema.fields().len(), n),
        (2, 0),
        "an empty answer keeps its columns"
    );

    // Idempotency-Key: a retried post gets the first answer (201 and the same ingest id).
    let ssx = std::fs::read(repo().join("samples/ssx-chip.json")).unwrap();
    let post_keyed = || {
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(url("/v1/messages"))
                .bearer_auth(&ingest)
                .header("Idempotency-Key", "retry-42")
                .header("Content-Type", "application/json")
                .body(ssx.clone())
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let first = post_keyed();
    let retried = post_keyed();
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(retried, first);

    // Metrics (Prometheus text) and the human API page (served offline).
    let (_, text) = call(&rt, "GET", &url("/metrics"), None, None);
    let text = text.as_str().unwrap().to_owned();
    assert!(
        text.contains("mxpipe_http_requests_total{route=\"/v1/messages\",status=\"201\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("mxpipe_http_requests_total{route=\"/v1/messages\",status=\"401\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("mxpipe_ingest_commit_seconds_count 3"),
        "{text}"
    );
    let (s, page) = call(&rt, "GET", &url("/docs/"), None, None);
    assert_eq!(s, 200);
    assert!(
        page.as_str().unwrap().to_lowercase().contains("swagger"),
        "{page}"
    );

    // Revocation takes effect in the running server.
    let list = mxpipe_with(&config, &["token", "list", "--output", "json"]);
    let rows: Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "read" && r["proposals"] == "")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = mxpipe_with(&config, &["token", "revoke", &id]);
    assert!(o.status.success(), "{}", text_of(&o));
    assert_eq!(
        call(&rt, "GET", &url("/v1/ingests"), Some(&read), None).0,
        401
    );

    // Every answer above, errors included, is what the OpenAPI document declares.
    check_exchanges(&rt, &server.base, dir.path(), true);

    // SIGTERM: a graceful stop, exit 0.
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Distinct copies of a message: every uuid's last 12 hex digits replaced by `n`.
pub(crate) fn copies(text: &str, n: usize) -> Vec<Vec<u8>> {
    let v: Value = serde_json::from_str(text).unwrap();
    let mut uuids = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "uuid" {
                        out.push(x.as_str().unwrap().to_owned());
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&v, &mut uuids);
    (0..n)
        .map(|i| {
            let mut t = text.to_owned();
            for u in &uuids {
                t = t.replace(u.as_str(), &format!("{}{:012x}", &u[..24], i + 1));
            }
            t.into_bytes()
        })
        .collect()
}

#[test]
fn concurrent_clients_store_every_object_once() {
    let (dir, config) = serve_config("");
    let ingest = new_token(&config, &["--scope", "ingest"]);
    let read = new_token(&config, &["--scope", "read"]);
    let server = start(&config, &dir.path().join("store"));
    let text = std::fs::read_to_string(repo().join("samples/ssx-chip.json")).unwrap();
    let messages = copies(&text, 16);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 8 clients, 2 messages each, all at once; then every message again.
    for round in 0..2 {
        let statuses: Vec<u16> = rt.block_on(async {
            let client = reqwest::Client::new();
            let tasks = messages.chunks(2).map(|chunk| {
                let client = client.clone();
                let (base, token) = (server.base.clone(), ingest.clone());
                let chunk = chunk.to_vec();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for m in chunk {
                        let r = client
                            .post(format!("{base}/v1/messages"))
                            .bearer_auth(&token)
                            .header("Content-Type", "application/json")
                            .body(m)
                            .send()
                            .await
                            .unwrap();
                        out.push(r.status().as_u16());
                    }
                    out
                })
            });
            let mut all = Vec::new();
            for t in tasks.collect::<Vec<_>>() {
                all.extend(t.await.unwrap());
            }
            all
        });
        let want = if round == 0 { 201 } else { 200 };
        assert!(
            statuses.iter().all(|s| *s == want),
            "round {round}: {statuses:?}"
        );
    }
    let (s, rows) = call(
        &rt,
        "POST",
        &format!("{}/v1/query", server.base),
        Some(&read),
        Some(
            json!({"sql": "SELECT count(*) AS n, count(DISTINCT sweep_uuid) AS d FROM sweeps"})
                .to_string()
                .into_bytes(),
        ),
    );
    assert_eq!(s, 200, "{rows}");
    assert_eq!(
        (rows[0]["n"].as_u64(), rows[0]["d"].as_u64()),
        (Some(16), Some(16)),
        "{rows}"
    );
}

/// Post `bodies` from `clients` concurrent clients (each takes the next message when its last
/// one is answered). Per message: its status, or `None` when the connection failed (a stopped
/// server). With `stop`, the server process gets SIGTERM once that many messages are stored.
pub(crate) fn load(
    rt: &tokio::runtime::Runtime,
    base: &str,
    token: &str,
    bodies: &[Vec<u8>],
    clients: usize,
    stop: Option<(usize, u32)>,
) -> Vec<Option<u16>> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let bodies = Arc::new(bodies.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let stored = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(std::sync::Mutex::new(vec![None; bodies.len()]));
    rt.block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (client, bodies, next, stored, statuses) = (
                    client.clone(),
                    bodies.clone(),
                    next.clone(),
                    stored.clone(),
                    statuses.clone(),
                );
                let (url, token) = (format!("{base}/v1/messages"), token.to_owned());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= bodies.len() {
                            return;
                        }
                        let r = client
                            .post(&url)
                            .bearer_auth(&token)
                            .header("Content-Type", "application/json")
                            .body(bodies[i].clone())
                            .send()
                            .await;
                        let status = r.ok().map(|r| r.status().as_u16());
                        statuses.lock().unwrap()[i] = status;
                        if status == Some(201) {
                            let n = stored.fetch_add(1, Ordering::SeqCst) + 1;
                            if let Some((at, pid)) = stop
                                && n == at
                            {
                                let _ = std::process::Command::new("kill")
                                    .args(["-TERM", &pid.to_string()])
                                    .status();
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    statuses.lock().unwrap().clone()
}

/// Per copy number (the last 12 hex digits of its uuids), how many objects are stored.
pub(crate) fn objects_per_copy(store: &Path) -> std::collections::BTreeMap<u64, u64> {
    query(
        store,
        "SELECT substr(uuid, 25) AS copy, count(*) AS n FROM objects WHERE ingest_id IN (SELECT ingest_id FROM ingests) GROUP BY substr(uuid, 25)",
    )
    .iter()
    .map(|r| {
        (
            u64::from_str_radix(r["copy"].as_str().unwrap(), 16).unwrap(),
            r["n"].as_u64().unwrap(),
        )
    })
    .collect()
}

/// The load: 16 concurrent clients post 5 000 distinct messages (set
/// `MXPIPE_SERVE_LOAD_MESSAGES` to change the number), the server gets SIGTERM half way: it
/// stops gracefully, every message answered 201 is stored whole, none is half-stored, nothing
/// is left uncommitted. After a restart, re-posting all of them stores the rest (201) and adds
/// nothing for the others (200): every object stored exactly once.
#[test]
fn sixteen_clients_5000_messages_sigterm_midway_lose_nothing() {
    let n: usize = std::env::var("MXPIPE_SERVE_LOAD_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let (dir, config) = serve_config("rate_per_second = 0\n");
    let ingest = new_token(&config, &["--scope", "ingest"]);
    let store = dir.path().join("store");
    let text = std::fs::read_to_string(repo().join("samples/ssx-chip.json")).unwrap();
    let per_message = text.matches("\"uuid\"").count() as u64;
    let bodies = copies(&text, n);
    let rt = tokio::runtime::Runtime::new().unwrap();

    // First run: SIGTERM once half of the messages are stored.
    let mut server = start(&config, &store);
    let started = std::time::Instant::now();
    let first = load(
        &rt,
        &server.base,
        &ingest,
        &bodies,
        16,
        Some((n / 2, server.child.id())),
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");
    let answered: Vec<usize> = (0..n).filter(|i| first[*i] == Some(201)).collect();
    assert!(
        answered.len() >= n / 2,
        "{} of {n} stored before the stop",
        answered.len()
    );
    assert!(
        first.iter().all(|s| matches!(s, None | Some(201))),
        "only 201 or a refused connection: {:?}",
        first
            .iter()
            .filter(|s| !matches!(s, None | Some(201)))
            .take(5)
            .collect::<Vec<_>>()
    );
    let repair = mxpipe_store(&store, &["store", "repair"]);
    assert!(repair.status.success(), "{}", text_of(&repair));
    assert!(
        String::from_utf8_lossy(&repair.stdout).lines().count() <= 2,
        "rows of an unfinished ingest were left: {}",
        text_of(&repair)
    );
    let stored = objects_per_copy(&store);
    assert!(
        stored.values().all(|k| *k == per_message),
        "a message half-stored: {:?}",
        stored
            .iter()
            .filter(|(_, k)| **k != per_message)
            .take(5)
            .collect::<Vec<_>>()
    );
    for i in &answered {
        assert_eq!(
            stored.get(&(*i as u64 + 1)),
            Some(&per_message),
            "message {i} was answered 201"
        );
    }

    // Restart and post everything again: the rest is stored, nothing twice.
    let server = start(&config, &store);
    let second = load(&rt, &server.base, &ingest, &bodies, 16, None);
    let seconds = started.elapsed().as_secs_f64();
    for (i, s) in second.iter().enumerate() {
        let want = if stored.contains_key(&(i as u64 + 1)) {
            200
        } else {
            201
        };
        assert_eq!(*s, Some(want), "message {i} on re-post");
    }
    let stored = objects_per_copy(&store);
    assert_eq!(stored.len(), n, "every message stored");
    assert!(
        stored.values().all(|k| *k == per_message),
        "every object once"
    );
    let total = query(
        &store,
        "SELECT count(*) AS n, count(DISTINCT uuid) AS d FROM objects",
    );
    assert_eq!(total[0]["n"], total[0]["d"], "no object stored twice");
    eprintln!(
        "{n} messages by 16 clients, SIGTERM half way, restart, re-post: {seconds:.1} s ({:.0} requests/s)",
        (n + second.len()) as f64 / seconds
    );
}

#[test]
fn slow_queries_answer_504_and_slow_requests_503() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A query that streams billions of rows: seconds at least, whatever the build.
    let heavy =
        json!({"sql": "SELECT sum(sqrt(CAST(value AS DOUBLE))) AS s FROM range(0, 20000000000)"})
            .to_string()
            .into_bytes();
    for (settings, want, says) in [
        ("query_timeout_s = 1\n", 504, "query_timeout_s"),
        (
            "query_timeout_s = 600\nrequest_timeout_s = 1\n",
            503,
            "request_timeout_s",
        ),
    ] {
        let (dir, config) = serve_config(settings);
        let read = new_token(&config, &["--scope", "read"]);
        let server = start(&config, &dir.path().join("store"));
        let started = std::time::Instant::now();
        let (s, body) = call(
            &rt,
            "POST",
            &format!("{}/v1/query", server.base),
            Some(&read),
            Some(heavy.clone()),
        );
        assert_eq!(s, want, "{settings}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
        assert!(started.elapsed().as_secs() < 30, "stopped at the limit");
        // The server still answers.
        assert_eq!(
            call(&rt, "GET", &format!("{}/healthz", server.base), None, None).0,
            200
        );
        check_exchanges(&rt, &server.base, dir.path(), false);
    }
}

/// The server's writer keeps its index of stored objects between runs; an ingest by another
/// process into the same store (here `mxpipe ingest`) must be seen, or the server would store
/// that message a second time.
#[test]
fn server_sees_what_another_process_ingested_meanwhile() {
    let (dir, config) = serve_config("");
    let ingest = new_token(&config, &["--scope", "ingest"]);
    let store = dir.path().join("store");
    let server = start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let text = std::fs::read_to_string(repo().join("samples/ssx-chip.json")).unwrap();
    let two = copies(&text, 2);
    let post = |body: &[u8]| {
        call(
            &rt,
            "POST",
            &format!("{}/v1/messages", server.base),
            Some(&ingest),
            Some(body.to_vec()),
        )
        .0
    };
    assert_eq!(post(&two[0]), 201);
    // Another process stores the second copy.
    let file = dir.path().join("copy2.json");
    std::fs::write(&file, &two[1]).unwrap();
    let o = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    assert_eq!(post(&two[1]), 200, "already stored by the other process");
    assert_eq!(post(&two[0]), 200);
    let total = query(
        &store,
        "SELECT count(*) AS n, count(DISTINCT uuid) AS d FROM objects",
    );
    assert_eq!(total[0]["n"], total[0]["d"], "no object stored twice");
    assert_eq!(
        total[0]["n"].as_u64(),
        Some(2 * text.matches("\"uuid\"").count() as u64)
    );
}

#[test]
fn each_token_is_rate_limited_with_retry_after() {
    let (dir, config) = serve_config("rate_per_second = 1\nburst = 2\n");
    let first = new_token(&config, &["--scope", "read"]);
    let second = new_token(&config, &["--scope", "read"]);
    let server = start(&config, &dir.path().join("store"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |token: &str| {
        rt.block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{}/v1/views", server.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            (r.status().as_u16(), retry)
        })
    };
    assert_eq!(get(&first), (200, None));
    assert_eq!(get(&first), (200, None));
    let (status, retry) = get(&first);
    assert_eq!(status, 429, "the burst of 2 is spent");
    assert!(retry.is_some_and(|s| s >= 1), "{retry:?}");
    assert_eq!(
        get(&second),
        (200, None),
        "another token has its own budget"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&first).0, 200, "one request per second comes back");
}

#[test]
fn tls_serves_https_with_the_configured_certificate() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian openssl)");
    assert!(o.status.success(), "{}", text_of(&o));
    let config = dir.path().join("mxpipe.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\ntokens_file = {:?}\ntls_cert = {:?}\ntls_key = {:?}\n",
            dir.path().join("tokens.json").to_str().unwrap(),
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();
    let server = start(&config, &dir.path().join("store"));
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let check = |url: String| {
        Command::new(&py)
            .args(["-c", "import ssl, sys, urllib.request\nctx = ssl.create_default_context(cafile=sys.argv[2])\nprint(urllib.request.urlopen(sys.argv[1], context=ctx).read().decode())"])
            .arg(url)
            .arg(&cert)
            .output()
            .unwrap()
    };
    let o = check(format!("{}/healthz", server.base));
    assert!(o.status.success(), "{}", text_of(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
    // Plain HTTP to the HTTPS port is not served.
    let plain = check(server.base.replace("https://", "http://") + "/healthz");
    assert!(!plain.status.success() || !String::from_utf8_lossy(&plain.stdout).contains("ok"));
}
