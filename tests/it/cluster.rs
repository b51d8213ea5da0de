//! SQL on an Apache Ballista cluster (`mxpipe query --cluster`): a scheduler and two executors
//! as separate processes on loopback (`scripts/cluster`), over two sites — one local folder, one
//! served over S3 by a real local server (`s3s-fs`) — answer every view, every example query of
//! docs/queries.md and every raw table exactly as the local engine does; `EXPLAIN` shows the
//! distributed stages; an executor killed mid-query gives a clean failure or the right answer,
//! never a wrong one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::queries::ingest;
use crate::s3;

/// A cluster started by `scripts/cluster start`, stopped (by PID) when dropped.
pub(crate) struct Cluster {
    dir: PathBuf,
    /// Its `df://` URL.
    pub(crate) url: String,
}

impl Cluster {
    /// Start a scheduler and `executors` executors with `env` added to their environment.
    pub(crate) fn start(dir: &Path, executors: usize, env: &[(&str, String)]) -> Cluster {
        let out = script(dir, &["start", "--executors", &executors.to_string()], env);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
        let url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        assert!(url.starts_with("df://127.0.0.1:"), "{}", text_of(&out));
        Cluster {
            dir: dir.to_owned(),
            url,
        }
    }

    /// The scheduler's PID, then each executor's.
    fn pids(&self) -> Vec<i32> {
        let out = script(&self.dir, &["pids"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = script(&self.dir, &["stop"], &[]);
        if out.status.code() != Some(0) {
            eprintln!("scripts/cluster stop: {}", text_of(&out));
        }
    }
}

fn script(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(repo().join("scripts/cluster"))
        .args(args)
        .env("CLUSTER_DIR", dir)
        .env("MXPIPE_BIN", env!("CARGO_BIN_EXE_mxpipe"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(repo())
        .output()
        .expect("scripts/cluster runs")
}

/// The S3 settings of a local s3s-fs: for the executors' environment and the client's options.
fn s3_env(server: &s3::S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", s3::KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", s3::SECRET.to_owned()),
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", server.port),
        ),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to.join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The local site: every valid sample message, the MTZ and mmCIF samples and, when testdata is
/// there, the real autoPROC/ISPyB XML (processing, statistics and result files).
fn local_site(store: &Path) {
    let mut inputs = valid_samples();
    inputs.push(repo().join("samples/unmerged-two-sweeps.mtz"));
    inputs.push(repo().join("samples/ssx-chip-processing.cif"));
    if let Some(td) = testdata() {
        inputs.push(td.join("processing/ispyb-xml"));
    }
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    ingest(store, "DLS", &refs);
}

/// Every statement the cluster must answer as the local engine does: each user view whole, each
/// view's documented example, each SQL example of docs/queries.md, each raw table counted, and
/// cross-site aggregates.
fn statements() -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for v in mxpipe_queries::views::user_views() {
        all.push(format!("SELECT * FROM {}", v.name));
        all.push(v.example.to_owned());
    }
    let doc = std::fs::read_to_string(repo().join("docs/queries.md")).unwrap();
    let mut block: Option<String> = None;
    for line in doc.lines() {
        match (&mut block, line.trim()) {
            (None, "```sql") => block = Some(String::new()),
            (Some(b), "```") => {
                all.push(b.trim().to_owned());
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    for t in mxpipe_store::tables::ALL {
        all.push(format!(
            "SELECT site, count(*) AS n FROM store.{} GROUP BY site",
            t.name
        ));
    }
    all.push(
        "SELECT s.site, count(*) AS sweeps, sum(s.number_images) AS images, min(s.energy_ev) AS min_ev \
         FROM sweeps s JOIN experiments e ON e.experiment_uuid = s.experiment_uuid GROUP BY s.site"
            .to_owned(),
    );
    all.dedup();
    all
}

/// Rows as canonical JSON strings, sorted: the same multiset of rows compares equal whatever the
/// order the engine produced them in. Floating-point numbers are compared to 12 significant
/// digits: an average or sum adds its partial sums in the order the partitions finish, which
/// differs between runs of either engine (the last digit or two of an `avg(energy_ev)`).
fn canonical(rows: &[Value]) -> Vec<String> {
    fn round(v: &Value) -> Value {
        match v {
            Value::Number(n) if n.is_f64() => {
                Value::String(format!("{:.11e}", n.as_f64().unwrap_or_default()))
            }
            Value::Array(a) => Value::Array(a.iter().map(round).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), round(v))).collect())
            }
            v => v.clone(),
        }
    }
    let mut out: Vec<String> = rows.iter().map(|r| round(r).to_string()).collect();
    out.sort();
    out
}

async fn rows(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Result<Vec<Value>, String> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let bytes = mxpipe_queries::encode::json_array(&batches, true).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

#[test]
fn a_two_executor_cluster_answers_as_the_local_engine_over_a_local_and_an_s3_site() {
    let Some(s3fs) = s3::s3s_fs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The S3 site: a generated store (sweeps, SSX frames, reused barcodes) served by s3s-fs.
    let generated = tmp.path().join("generated");
    let out = mxpipe(&[
        "--store",
        generated.to_str().unwrap(),
        "generate",
        "--sweeps",
        "300",
        "--ssx-frames",
        "100000",
        "--sites",
        "1",
        "--seed",
        "31",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let site = std::fs::read_dir(&generated)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("sweeps").is_dir())
        .expect("a generated site folder");
    let root = tmp.path().join("s3root");
    copy_tree(&site, &root.join("mxdata/esrf"));
    let server = s3::start(&s3fs, &root);
    let env = s3_env(&server);
    let local = tmp.path().join("dls");
    local_site(&local);
    let cluster = Cluster::start(&tmp.path().join("cluster"), 2, &env);

    let sites = vec![
        mxpipe_queries::Site {
            name: "DLS".into(),
            location: local.to_str().unwrap().into(),
        },
        mxpipe_queries::Site {
            name: "ESRF".into(),
            location: "s3://mxdata/esrf".into(),
        },
    ];
    let options: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let engine = mxpipe_queries::cluster::Engine::cluster(&cluster.url).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let now = mxpipe_queries::as_of::AsOf::Now;
    let local_engine = mxpipe_queries::cluster::Engine::Local;
    let (here, _) = rt
        .block_on(mxpipe_queries::open_sites_on(
            &sites,
            &options,
            false,
            &now,
            &local_engine,
        ))
        .unwrap();
    let (there, _) = rt
        .block_on(mxpipe_queries::open_sites_on(
            &sites, &options, false, &now, &engine,
        ))
        .unwrap();
    let statements = statements();
    assert!(statements.len() > 60, "{}", statements.len());
    let mut nonempty = 0;
    for sql in &statements {
        let want = rt.block_on(rows(&here, sql));
        let got = rt.block_on(rows(&there, sql));
        match (&want, &got) {
            (Ok(w), Ok(g)) => {
                assert_eq!(canonical(g), canonical(w), "cluster ≠ local for {sql}");
                nonempty += usize::from(!w.is_empty());
            }
            // A statement the local engine refuses is refused there too.
            (Err(_), Err(_)) => {}
            _ => panic!("{sql}: local {want:?}, cluster {got:?}"),
        }
    }
    assert!(
        nonempty * 4 >= statements.len() * 3,
        "most statements have rows to compare: {nonempty} of {}",
        statements.len()
    );
    // Both sites answered through the cluster.
    let per_site = rt
        .block_on(rows(
            &there,
            "SELECT site, count(*) AS n FROM sweeps GROUP BY site ORDER BY site",
        ))
        .unwrap();
    assert_eq!(
        per_site
            .iter()
            .map(|r| r["site"].clone())
            .collect::<Vec<_>>(),
        ["DLS", "ESRF"]
    );

    // The command line: `--cluster`, EXPLAIN's distributed stages, the answer as JSON.
    let dls = format!("DLS={}", local.display());
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mxpipe"))
            .args(["--site", &dls, "--site", "ESRF=s3://mxdata/esrf"])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    let sql = "SELECT site, count(*) AS sweeps FROM sweeps GROUP BY site ORDER BY site";
    let out = cli(&["query", "--cluster", &cluster.url, "--format", "json", sql]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, Value::Array(rt.block_on(rows(&here, sql)).unwrap()));
    let out = cli(&[
        "query",
        "--cluster",
        &cluster.url,
        "--format",
        "csv",
        &format!("EXPLAIN {sql}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("distributed_plan")
            && plan.contains("Stage[stage_id=1")
            && plan.contains("Stage[stage_id=2")
            && plan.contains("ShuffleWriterExec"),
        "EXPLAIN shows the distributed stages: {plan}"
    );
    // A URL that is not a cluster's is a usage error naming what was expected.
    let out = cli(&["query", "--cluster", "http://127.0.0.1:1", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("df://HOST:PORT"),
        "{}",
        text_of(&out)
    );

    // An executor killed mid-query: a clean failure, or Ballista's retry with the right answer.
    // Ballista's recovery can also stall for good (seen once in five runs, under load): the
    // client's --timeout turns that into a clean failure.
    // ~4·10⁸ pairs of frames of the same job and block of 2 000: several seconds on the cluster.
    let heavy = "SELECT count(*) AS pairs FROM store.ssx_frames a JOIN store.ssx_frames b \
                 ON a.processing_uuid = b.processing_uuid AND a.frame_index / 2000 = b.frame_index / 2000";
    let want = rt.block_on(rows(&here, heavy)).unwrap();
    let pids = cluster.pids();
    assert_eq!(pids.len(), 3, "a scheduler and two executors: {pids:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(["--site", &dls, "--site", "ESRF=s3://mxdata/esrf"])
        .args([
            "query",
            "--cluster",
            &cluster.url,
            "--format",
            "json",
            heavy,
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the query is still running when the executor is killed"
    );
    let killed = Command::new("kill")
        .args(["-9", &pids[2].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "query with an executor killed: exit {:?} after {:?} more: {}",
        out.status.code(),
        started.elapsed(),
        text_of(&out)
    );
    match out.status.code() {
        Some(0) => {
            let got: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(got, Value::Array(want), "a retried query answers right");
        }
        Some(1) => {
            let text = text_of(&out);
            assert!(text.starts_with("error: "), "{text}");
            assert!(!text.contains("panicked"), "{text}");
        }
        other => panic!(
            "neither an answer nor a clean failure: {other:?} {}",
            text_of(&out)
        ),
    }
    // The remaining executor still answers.
    let out = cli(&["query", "--cluster", &cluster.url, "--format", "json", sql]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    drop(server);
}

/// `mxpipe serve` with `[cluster] url`: `/v1/query` runs on the cluster, and a token limited to
/// proposal A meets only A's rows there too — in answers, in aggregates inside views and in
/// error messages of casts that would fail on B's rows — because its tables are confined before
/// the plan is distributed.
#[test]
fn a_limited_token_meets_only_its_proposals_rows_on_the_cluster() {
    use crate::attack::{A, B, CAST_LEAKS, ingest as ingest_message, message, query, uuid_of};
    use crate::serve::{new_token, serve_config, start};
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&tmp.path().join("cluster"), 1, &[]);
    let (dir, config) = serve_config(&format!("[cluster]\nurl = \"{}\"\n", cluster.url));
    let store = dir.path().join("store");
    let shared = uuid_of("shared-sample");
    let (ea, eb, eb2, sb2) = (uuid_of("ea"), uuid_of("eb"), uuid_of("eb2"), uuid_of("sb2"));
    ingest_message(
        &store,
        dir.path(),
        "a.json",
        &message(&[(A, 1, &ea, &shared, "sampleA", "PIN-A1", "/data/a1")]),
    );
    ingest_message(
        &store,
        dir.path(),
        "b.json",
        &message(&[
            (
                B,
                12,
                &eb,
                &shared,
                "sampleA",
                "SHARE-1",
                "/data/secretB_path1",
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
    let all = new_token(&config, &["--scope", "read"]);
    let server = start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_marks = |text: &str| -> Vec<String> {
        [B, "secretB", "SHARE-1", "SECRET-B2", &eb, &eb2, &sb2]
            .iter()
            .filter(|m| text.contains(*m))
            .map(|m| m.to_string())
            .collect()
    };
    // The positive control: the unlimited token sees B's rows through the cluster.
    let (s, body) = query(&rt, &server, &all, "SELECT name, barcodes FROM samples");
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("SHARE-1") && body.contains("secretB_sample"),
        "{body}"
    );
    // A's token: A's rows, and aggregates inside views over A's rows only.
    let (s, body) = query(
        &rt,
        &server,
        &a,
        &format!("SELECT sample_uuid, barcodes FROM samples WHERE sample_uuid = '{shared}'"),
    );
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("PIN-A1"), "{body}");
    assert!(b_marks(&body).is_empty(), "{:?} in {body}", b_marks(&body));
    let (s, body) = query(&rt, &server, &a, "SELECT count(*) AS n FROM sweeps");
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["n"],
        1,
        "{body}"
    );
    let whole = [
        "SELECT * FROM samples",
        "SELECT * FROM sweeps",
        "SELECT * FROM experiments",
    ];
    // A top-k and a join whose dynamic filters would be evaluated in the scans.
    let dynamic = [
        "SELECT path FROM sweeps ORDER BY cast(path AS int) LIMIT 1",
        "SELECT w.path FROM sweeps w JOIN (SELECT 1 AS k) x ON cast(w.path AS int) = x.k",
    ];
    for sql in whole
        .into_iter()
        .chain(CAST_LEAKS.iter().copied())
        .chain(dynamic)
    {
        let (s, body) = query(&rt, &server, &a, sql);
        assert!(s == 200 || s == 400, "{sql}: {s} {body}");
        assert!(
            b_marks(&body).is_empty(),
            "{sql}: {:?} in {body}",
            b_marks(&body)
        );
    }
    // The division oracle answers alike whether B's visit exists; it does fail on B's row for
    // the unlimited token (the barrier is what keeps it from A's).
    let oracle = |token: &str, visit: &str| {
        query(
            &rt,
            &server,
            token,
            &format!(
                "SELECT count(*) AS n FROM experiments WHERE 1/(CASE WHEN visit='{visit}' THEN 0 ELSE 1 END)=1"
            ),
        )
    };
    assert_eq!(oracle(&a, &format!("{B}-12")), oracle(&a, "mxZ000-1"));
    assert_eq!(oracle(&all, &format!("{B}-12")).0, 400);
    // Functions whose answers the executors cannot bound are refused, named.
    let (s, body) = query(
        &rt,
        &server,
        &a,
        "SELECT repeat('x', 1000000000) FROM sweeps",
    );
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("repeat") && body.contains("cluster"),
        "{body}"
    );
    // The answers came from the cluster: without it, /v1/query cannot answer.
    drop(cluster);
    let (s, body) = query(&rt, &server, &a, "SELECT count(*) AS n FROM samples");
    assert!(s == 503 || s == 400, "{s} {body}");
}
