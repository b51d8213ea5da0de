//! SciCat exports: dry-run requests checked against the backend's OpenAPI document (`--check`),
//! the scicat-sdk-py DTOs and mathjs (SciCat's unit library); a real export into the local
//! contract server (tests/checkers/scicat_contract_server.py: the same OpenAPI schemas, tokens
//! that expire, 400/401/409/500 as the backend answers), queried back the way SciCat's API is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::*;

/// The ICAT tests' store (MAD, two-crystal merge, SSX chip, real NXmx/CBF/autoPROC) plus an SSX
/// merge: a second chip run of the same sample and a partialator job that read both runs.
fn scicat_store(dir: &Path, td: &Path) -> PathBuf {
    let store = crate::icat::store(dir, td);
    let mut m = read_json(&repo().join("samples/ssx-chip.json"));
    let mut exp2 = m["MxExperiment"]["MxExperiment1"].clone();
    exp2["uuid"] = json!("5b0e7d8e-2a51-4d0c-9a55-3c1f1f0c0a08");
    exp2["startTime"] = json!("2026-05-18T21:30:00+01:00");
    exp2["endTime"] = json!("2026-05-18T21:44:00+01:00");
    m["MxExperiment"]["MxExperiment2"] = exp2;
    let mut sweep2 = m["CollectionSweep"]["CollectionSweep1"].clone();
    sweep2["uuid"] = json!("0d3f3b8a-7a0e-4f51-8f0c-6a2d5e9c1b08");
    sweep2["filenameTemplate"] = json!("chip08_%06d.h5");
    sweep2["path"] = json!("/dls/i24/data/2026/mx31204-4/chip08");
    sweep2["sourceRef"] = json!({"$ref": "#/MxExperiment/MxExperiment2"});
    sweep2["scans"][0]["ordinal"] = json!(1);
    m["CollectionSweep"]["CollectionSweep2"] = sweep2;
    m["MxProcessing"] = json!({"MxProcessing1": {
        "mxlimsType": "MxProcessing", "uuid": "e1d7c0f2-3b1a-4c55-9a0e-2f6b8d4c7a11",
        "programName": "partialator", "programVersion": "0.11.1", "jobStatus": "Completed",
        "startTime": "2026-05-18T22:00:00+01:00", "endTime": "2026-05-18T22:40:00+01:00",
        "sampleRef": {"$ref": "#/MacromoleculeSample/MacromoleculeSample1"},
        "inputDataRefs": [{"$ref": "#/CollectionSweep/CollectionSweep1"}, {"$ref": "#/CollectionSweep/CollectionSweep2"}]}});
    m["ReflectionSet"] = json!({"ReflectionSet1": {
        "mxlimsType": "ReflectionSet", "uuid": "7f3c2e1d-9b8a-4c6d-8e5f-1a2b3c4d5e6f", "role": "Result",
        "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"}, "spaceGroupName": "P 21 3",
        "operationalResolution": 1.7,
        "reflectionStatisticsOverall": {"resolutionLimits": [40.0, 1.7], "Completeness": 100.0, "Redundancy": 420.0}}});
    let path = dir.join("ssx-merge.json");
    std::fs::write(&path, m.to_string()).unwrap();
    let o = mxpipe_store(&store, &["ingest", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    store
}

fn openapi(td: &Path) -> PathBuf {
    td.join("catalogues/scicat/openapi.json")
}

/// `mxpipe --config <dir>/NAME.toml --store STORE export scicat ARGS…` with `config` as the
/// file's `[scicat]` section and `env` set.
fn scicat(store: &Path, config: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = store.with_file_name(format!("scicat-{:x}.toml", fxhash(config)));
    std::fs::write(&path, format!("[scicat]\n{config}")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(["--config", path.to_str().unwrap(), "--store"])
        .arg(store)
        .args(["export", "scicat"])
        .args(args)
        .env_remove("MXPIPE_SCICAT_TOKEN")
        .env_remove("MXPIPE_SCICAT_PASSWORD")
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .unwrap()
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn requests(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// Run a checker script with the dry-run requests on stdin.
fn pipe(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// mathjs from npm (scripts/test installs it in $MXPIPE_NPM_DIR).
fn mathjs_dir() -> Option<PathBuf> {
    match std::env::var_os("MXPIPE_NPM_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") => {
            panic!("MXPIPE_NPM_DIR is not set; run the tests through scripts/test")
        }
        None => {
            eprintln!("\n*** SKIPPED: MXPIPE_NPM_DIR not set (scripts/test sets it) ***\n");
            None
        }
    }
}

pub(crate) const SITE: &str = "owner = \"MX data manager\"\ncontact_email = \"mx-data@example.org\"\nfacility = \"TESTFAC\"\nusername = \"ingestor\"\ncreate_proposals = true\n";

#[test]
fn dry_run_needs_no_configuration_and_every_body_passes_the_openapi_the_sdk_and_mathjs() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let Some(npm) = mathjs_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = scicat_store(dir.path(), &td);

    // No configuration at all: placeholders, warned about, exit 0, one JSON object per line.
    let o = scicat(&store, "", &["--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("contact_email is not set"), "{err}");
    let reqs = requests(&o);
    assert!(reqs.iter().all(|r| r["method"] == "POST"
        && r["path"].as_str().unwrap().starts_with("/api/")
        && r["body"].is_object()));
    assert!(
        reqs.iter()
            .any(|r| r["body"]["contactEmail"] == "<set [scicat] contact_email>")
    );

    // The same requests validated against the backend's OpenAPI document (closed schemas).
    let config = "pid_prefix = \"20.500.12269\"\nfacility = \"TESTFAC\"\n";
    let checked = scicat(
        &store,
        config,
        &[
            "--dry-run",
            "--check",
            "--openapi",
            openapi(&td).to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(checked.status.code(), Some(0), "{}", text_of(&checked));
    let reqs = requests(&checked);
    let count = |path: &str, kind: Option<&str>| {
        reqs.iter()
            .filter(|r| r["path"] == path && kind.is_none_or(|k| r["body"]["type"] == k))
            .count()
    };
    // MAD 2 sweeps + two crystals + 2 SSX chips + NXmx + CBF = 8 raw; both merges derived.
    assert_eq!(count("/api/v4/datasets", Some("raw")), 8);
    assert_eq!(count("/api/v4/datasets", Some("derived")), 2);
    assert!(count("/api/v4/origdatablocks", None) >= 2);

    // --check can fail: a document whose dataset DTO lacks `keywords` refuses every dataset.
    let mut doc: Value = read_json(&openapi(&td));
    doc["components"]["schemas"]["CreateDatasetDto"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("keywords");
    let doctored = dir.path().join("doctored.json");
    std::fs::write(&doctored, doc.to_string()).unwrap();
    let o = scicat(
        &store,
        config,
        &[
            "--dry-run",
            "--check",
            "--openapi",
            doctored.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("CreateDatasetDto") && text_of(&o).contains("keywords"),
        "{}",
        text_of(&o)
    );

    // Values against the inputs: wavelength in Å from eV, wedges in acquisition order.
    let mad = reqs
        .iter()
        .find(|r| r["body"]["datasetName"] == "selmet_x1_sweep1")
        .expect("the MAD's first sweep");
    let sm = &mad["body"]["scientificMetadata"];
    let kev = sm["beam"]["energy"]["value"].as_f64().unwrap();
    let a = sm["beam"]["wavelength"]["value"].as_f64().unwrap();
    assert!((a - 12.3984198 / kev).abs() < 1e-6, "{sm}");
    assert_eq!(sm["beam"]["wavelength"]["unit"], "angstrom");
    let ordinals: Vec<i64> = sm["scan"]["wedges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["ordinal"].as_i64().unwrap())
        .collect();
    assert!(
        ordinals.len() > 1 && ordinals.windows(2).all(|w| w[0] < w[1]),
        "{ordinals:?}"
    );
    // The merge: every input sweep's pid (as its raw dataset was created) and both crystals.
    let merge = reqs
        .iter()
        .find(|r| r["body"]["usedSoftware"] == json!(["xia2.multiplex 3.22.1"]))
        .unwrap();
    let raw_pid = |name: &str| {
        reqs.iter()
            .find(|r| r["body"]["datasetName"] == name)
            .map(|r| r["body"]["pid"].clone())
            .unwrap()
    };
    assert_eq!(
        merge["body"]["inputDatasets"],
        json!([raw_pid("lyso_x1_sweep1"), raw_pid("lyso_x2_sweep1")])
    );
    let samples = merge["body"]["sampleIds"].as_array().unwrap();
    for name in ["lyso_x1_sweep1", "lyso_x2_sweep1"] {
        let raw = reqs
            .iter()
            .find(|r| r["body"]["datasetName"] == name)
            .unwrap();
        assert!(samples.contains(&raw["body"]["sampleIds"][0]), "{merge}");
    }
    assert!(
        samples.contains(&json!("10.58052/IEMXP0003")),
        "the persistent id of the crystals' sample: {merge}"
    );
    // The SSX merge: every run it read.
    let sweep_pid = |uuid: &str| {
        let key = json!(format!("mxpipe:raw:{uuid}"));
        reqs.iter()
            .find(|r| {
                r["body"]["keywords"]
                    .as_array()
                    .is_some_and(|k| k.contains(&key))
            })
            .map(|r| r["body"]["pid"].clone())
            .unwrap_or_else(|| panic!("no raw dataset for sweep {uuid}"))
    };
    let ssx = reqs
        .iter()
        .find(|r| r["body"]["usedSoftware"] == json!(["partialator 0.11.1"]))
        .expect("the SSX merge");
    let mut inputs = ssx["body"]["inputDatasets"].as_array().unwrap().clone();
    let mut runs = vec![
        sweep_pid("c7a2ea20-b2f1-4c94-ae05-319acb5c7427"),
        sweep_pid("0d3f3b8a-7a0e-4f51-8f0c-6a2d5e9c1b08"),
    ];
    inputs.sort_by_key(|v| v.to_string());
    runs.sort_by_key(|v| v.to_string());
    assert_eq!(inputs, runs, "{ssx}");
    assert_eq!(ssx["body"]["sampleIds"], json!(["10.58052/IEMXP0107"]));

    // mathjs (SciCat's unit library) converts every quantity; nothing SciCat would misread.
    let out = pipe(
        Command::new("node")
            .arg(repo().join("tests/checkers/scicat_units.js"))
            .arg(&npm),
        &checked.stdout,
    );
    let units: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text_of(&out)));
    assert_eq!(units["rejected"], json!([]), "{units}");
    assert_eq!(units["problems"], json!([]), "{units}");
    assert!(units["quantities"].as_u64().unwrap() > 50, "{units}");
    assert_eq!(units["units"]["angstrom"], "m");

    // The scicat-sdk-py DTOs (backend 5: samples need sampleName) accept every body.
    let v5 = scicat(
        &store,
        &format!("{config}sample_name = true\n"),
        &["--dry-run"],
        &[],
    );
    assert_eq!(v5.status.code(), Some(0), "{}", text_of(&v5));
    let out = pipe(
        Command::new(&py).arg(repo().join("tests/checkers/scicat_sdk_oracle.py")),
        &v5.stdout,
    );
    assert!(out.status.success(), "{}", text_of(&out));
    // Without sampleName the SDK refuses the samples: the oracle can fail.
    let out = pipe(
        Command::new(&py).arg(repo().join("tests/checkers/scicat_sdk_oracle.py")),
        &checked.stdout,
    );
    assert!(!out.status.success() && text_of(&out).contains("sampleName"));
}

/// The local SciCat contract server, killed on drop.
pub(crate) struct Server {
    child: std::process::Child,
    url: String,
    py: PathBuf,
}

impl Server {
    pub(crate) fn start(py: &Path, td: &Path, extra: &[&str]) -> Server {
        let (child, url) = spawn_server(
            Command::new(py)
                .arg(repo().join("tests/checkers/scicat_contract_server.py"))
                .arg("--openapi")
                .arg(openapi(td))
                .args(["--password", "s3cret-pw"])
                .args(extra),
        );
        Server {
            child,
            url,
            py: py.to_owned(),
        }
    }

    /// (status, JSON) of one request, with a fresh token unless `token` is given.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let code = "import sys, json, urllib.request, urllib.error\n\
            base, method, path, body, token = sys.argv[1:6]\n\
            if token == '-':\n    r = urllib.request.urlopen(urllib.request.Request(base + '/api/v3/auth/login', json.dumps({'username': 'ingestor', 'password': 's3cret-pw'}).encode(), {'Content-Type': 'application/json'}))\n    token = json.load(r)['access_token']\n\
            h = {'Content-Type': 'application/json'}\n\
            if token != 'none':\n    h['Authorization'] = 'Bearer ' + token\n\
            req = urllib.request.Request(base + path, None if body == '-' else body.encode(), h, method=method)\n\
            try:\n    r = urllib.request.urlopen(req); print(r.status, r.read().decode())\n\
            except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())";
        let body = body.map_or("-".to_owned(), |b| b.to_string());
        let o = Command::new(&self.py)
            .args([
                "-c",
                code,
                &self.url,
                method,
                path,
                &body,
                token.unwrap_or("-"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let (status, rest) = text
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}", text_of(&o)));
        (
            status.parse().unwrap(),
            serde_json::from_str(rest).unwrap_or(Value::Null),
        )
    }

    pub(crate) fn counts(&self) -> Value {
        let mut c = self.call("GET", "/test/counts", None, Some("none")).1;
        for k in ["writes", "unauthorized", "logins"] {
            c.as_object_mut().unwrap().remove(k);
        }
        c
    }

    /// Datasets matching a filter, through SciCat's own query route.
    fn find(&self, filter: &Value) -> Vec<Value> {
        let q: String = url_encode(&filter.to_string());
        self.call("GET", &format!("/api/v4/datasets?filter={q}"), None, None)
            .1
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn export_to(store: &Path, server: &Server, config: &str, password: &str) -> Output {
    scicat(
        store,
        config,
        &["--url", &server.url, "--output", "json"],
        &[("MXPIPE_SCICAT_PASSWORD", password)],
    )
}

/// Created per entity from `--output json`.
fn created(o: &Output) -> u64 {
    let rows: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text_of(o)));
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["created"].as_str().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn export_is_idempotent_recovers_from_expiry_and_failures_and_queries_back() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = scicat_store(dir.path(), &td);
    let regex = ["--pid-regex", r"^20\.500\.12269/[0-9a-f-]{36}$"];
    let config = format!("{SITE}pid_prefix = \"20.500.12269\"\n");

    let server = Server::start(&py, &td, &regex);
    let o = export_to(&store, &server, &config, "s3cret-pw");
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let clean = server.counts();
    assert_eq!(clean["datasets"], 10, "{clean}");
    assert!(created(&o) > 10);

    // Queried back as SciCat's API answers: the merge from either input, datasets by sample.
    let raw = server.find(&json!({"where": {"datasetName": "lyso_x2_sweep1"}}));
    let raw_pid = raw[0]["pid"].as_str().unwrap();
    let derived = server.find(&json!({"where": {"inputDatasets": raw_pid}}));
    assert_eq!(derived.len(), 1, "{derived:?}");
    assert_eq!(derived[0]["type"], "derived");
    assert_eq!(derived[0]["inputDatasets"].as_array().unwrap().len(), 2);
    let by_sample = server.find(&json!({"where": {"sampleIds": "10.58052/IEMXP0003"}}));
    assert_eq!(by_sample.len(), 3, "both crystals' sweeps and the merge");
    let (_, block) = server.call(
        "GET",
        &format!(
            "/api/v4/origdatablocks?filter={}",
            url_encode(&json!({"where": {"datasetId": raw_pid}}).to_string())
        ),
        None,
        None,
    );
    assert_eq!(
        block,
        json!([]),
        "files of a message-only sweep are not on this machine"
    );

    // A re-run creates nothing; a store that lost its id map (same data ingested anew) finds
    // everything through the deterministic pids (409 → compare) and changes nothing either.
    let o = export_to(&store, &server, &config, "s3cret-pw");
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert_eq!(created(&o), 0, "{}", text_of(&o));
    assert_eq!(server.counts(), clean);
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = scicat_store(dir2.path(), &td);
    let o = export_to(&store2, &server, &config, "s3cret-pw");
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert_eq!(created(&o), 0, "{}", text_of(&o));
    assert_eq!(server.counts(), clean);

    // A changed sweep (re-ingested with another transmission) is patched, not duplicated.
    let mut mad = read_json(&repo().join("samples/mad-interleaved.json"));
    mad["CollectionSweep"]["CollectionSweep1"]["transmission"] = json!(12.5);
    let changed_msg = dir.path().join("mad-changed.json");
    std::fs::write(&changed_msg, mad.to_string()).unwrap();
    let o = mxpipe_store(&store, &["ingest", changed_msg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    let o = export_to(&store, &server, &config, "s3cret-pw");
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    let dataset_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["entity"] == "Dataset")
        .unwrap()
        .clone();
    assert_eq!(
        (
            dataset_row["created"].as_str(),
            dataset_row["updated"].as_str()
        ),
        (Some("0"), Some("1")),
        "{rows}"
    );
    assert_eq!(server.counts(), clean);
    let patched = server.find(&json!({"where": {"datasetName": "selmet_x1_sweep1"}}));
    assert_eq!(
        patched[0]["scientificMetadata"]["beam"]["transmission_percent"],
        json!(12.5)
    );

    // Tokens that expire mid-run: one more login, the same result.
    let expiring = Server::start(
        &py,
        &td,
        &[&regex[..], &["--expire-on-request", "12"]].concat(),
    );
    let o = export_to(&store2, &expiring, &config, "s3cret-pw");
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert!(text_of(&o).contains("2 login(s)"), "{}", text_of(&o));
    assert_eq!(expiring.counts(), clean);

    // Short-lived tokens are renewed before they expire: more logins, never a 401.
    // (Renewal at 80 % of the 3 s life; a run shorter than the life needs no renewal.)
    let short = Server::start(&py, &td, &[&regex[..], &["--token-life", "3"]].concat());
    let started = std::time::Instant::now();
    let o = export_to(&store2, &short, &config, "s3cret-pw");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let raw = short.call("GET", "/test/counts", None, Some("none")).1;
    assert_eq!(raw["unauthorized"], 0, "{raw}");
    if elapsed > 3.0 {
        assert!(
            raw["logins"].as_u64().unwrap() >= 2,
            "{raw} {elapsed} s {}",
            text_of(&o)
        );
    }
    assert_eq!(short.counts(), clean);

    // A 500 in the middle of an experiment: reported with what was written; the re-run
    // completes it without duplicates — with deterministic pids and with server pids.
    for (config, extra) in [(config.clone(), &regex[..]), (SITE.to_owned(), &[][..])] {
        let d = tempfile::tempdir().unwrap();
        let s = scicat_store(d.path(), &td);
        let failing = Server::start(&py, &td, &[extra, &["--fail-on-write", "9"]].concat());
        let o = export_to(&s, &failing, &config, "s3cret-pw");
        assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
        assert!(
            text_of(&o).contains("injected failure")
                && text_of(&o).contains("written before the error"),
            "{}",
            text_of(&o)
        );
        let o = export_to(&s, &failing, &config, "s3cret-pw");
        assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
        assert_eq!(failing.counts(), clean, "{config}");
        let o = export_to(&s, &failing, &config, "s3cret-pw");
        assert_eq!(created(&o), 0, "{}", text_of(&o));
    }

    // Without the right to create proposals, a missing one is a clear error for its experiment.
    let bare = Server::start(&py, &td, &regex);
    let no_create = config.replace("create_proposals = true\n", "");
    let o = export_to(&store, &bare, &no_create, "s3cret-pw");
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("proposal mx23694 is not in SciCat and this run may not create it"),
        "{}",
        text_of(&o)
    );
    assert_eq!(bare.counts()["datasets"], 0);

    // A pre-issued bearer token (OIDC sites) instead of a login; a refused one is not renewed.
    let (_, login) = server.call(
        "POST",
        "/api/v3/auth/login",
        Some(&json!({"username": "ingestor", "password": "s3cret-pw"})),
        Some("none"),
    );
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, login["access_token"].as_str().unwrap()).unwrap();
    let token_config = config.replace("username = \"ingestor\"\n", "");
    let o = scicat(
        &store,
        &token_config,
        &[
            "--url",
            &server.url,
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert!(text_of(&o).contains("0 login(s)"), "{}", text_of(&o));
    std::fs::write(&token_file, "not-a-token").unwrap();
    let o = scicat(
        &store,
        &token_config,
        &[
            "--url",
            &server.url,
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(text_of(&o).contains("cannot be renewed"), "{}", text_of(&o));
    assert!(!text_of(&o).contains("not-a-token"), "{}", text_of(&o));

    // Wrong credentials: a clear error, exit 2, the password never printed.
    let o = export_to(&store, &server, &config, "wrong-pw-123");
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(text_of(&o).contains("login"), "{}", text_of(&o));
    assert!(!text_of(&o).contains("wrong-pw-123") && !text_of(&o).contains("s3cret-pw"));
    // A real run refuses to start without what the site must set.
    let o = export_to(
        &store,
        &server,
        "facility = \"X\"\nusername = \"ingestor\"\n",
        "s3cret-pw",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("`owner` and `contact_email`"),
        "{}",
        text_of(&o)
    );

    // The server checks its contract: unknown field, duplicate pid, bad pid, no token.
    let body = json!({"pid": "20.500.12269/00000000-0000-0000-0000-000000000000", "type": "raw",
        "datasetName": "x", "owner": "o", "ownerGroup": "g", "contactEmail": "c@example.org",
        "sourceFolder": "/x", "creationTime": "2026-01-01T00:00:00Z"});
    let (s, _) = server.call("POST", "/api/v4/datasets", Some(&body), None);
    assert_eq!(s, 201);
    let (s, _) = server.call("POST", "/api/v4/datasets", Some(&body), None);
    assert_eq!(s, 409);
    let mut bad = body.clone();
    bad["bogusField"] = json!(1);
    let (s, m) = server.call("POST", "/api/v4/datasets", Some(&bad), None);
    assert_eq!(
        (s, m["message"][0].as_str()),
        (400, Some("property bogusField should not exist"))
    );
    bad = body.clone();
    bad["pid"] = json!("not-a-pid");
    assert_eq!(
        server.call("POST", "/api/v4/datasets", Some(&bad), None).0,
        400
    );
    assert_eq!(
        server.call("GET", "/api/v4/datasets", None, Some("none")).0,
        401
    );
}

#[test]
fn scicat_map_is_documented_and_every_derived_value_has_a_producer() {
    let doc = std::fs::read_to_string(repo().join("docs/scicat.md")).unwrap();
    assert!(
        doc.contains(&mxpipe_export::scicat::map::markdown()),
        "docs/scicat.md is stale: replace its map with `mxpipe export scicat-map`"
    );
    let o = mxpipe(&["export", "scicat-map"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        mxpipe_export::scicat::map::markdown()
    );
    for m in mxpipe_export::scicat::map::FIELDS {
        assert!(
            !m.path.contains('.'),
            "{}: SciCat stores dotted keys encoded",
            m.path
        );
        let (head, rest) = m.source.split_once('/').unwrap();
        match head {
            "derived" => assert!(
                mxpipe_export::icat::graph::DERIVED.contains(&rest),
                "{}: derived/{rest} has no producer",
                m.path
            ),
            "sweep" | "experiment" | "processing" | "set" | "stats" | "ssx" | "pin" => {}
            other => panic!("{}: unknown source {other}", m.path),
        }
    }
}

/// `[scicat] concurrency`: four experiments written at once (each request answered 5 ms late,
/// as by a backend across a network) put into SciCat exactly what one at a time does — the same
/// datasets, samples, proposals and file lists — including the merge that read two crystals'
/// sweeps (written only after both) and the sample both crystals share (created once).
#[test]
fn concurrent_export_writes_exactly_what_a_sequential_one_writes() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = scicat_store(dir.path(), &td);
    let regex = [
        "--pid-regex",
        r"^20\.500\.12269/[0-9a-f-]{36}$",
        "--latency-ms",
        "5",
    ];
    let mut dumps = Vec::new();
    for concurrency in [1, 4] {
        let config = format!("{SITE}pid_prefix = \"20.500.12269\"\nconcurrency = {concurrency}\n");
        let server = Server::start(&py, &td, &regex);
        let o = export_to(&store, &server, &config, "s3cret-pw");
        assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
        let again = export_to(&store, &server, &config, "s3cret-pw");
        assert_eq!(
            created(&again),
            0,
            "a re-run creates nothing: {}",
            text_of(&again)
        );
        let (_, mut dump) = server.call("GET", "/test/dump", None, Some("none"));
        // What the server makes up itself: times and the origdatablocks' ids.
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.retain(|k, _| !matches!(k.as_str(), "createdAt" | "updatedAt" | "_id"));
                    m.values_mut().for_each(strip);
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut dump);
        let mut blocks: Vec<String> = dump["origdatablocks"]
            .as_object()
            .unwrap()
            .values()
            .map(Value::to_string)
            .collect();
        blocks.sort();
        dump["origdatablocks"] = json!(blocks);
        dumps.push((server.counts(), dump));
    }
    assert_eq!(dumps[0].0["datasets"], 10, "{}", dumps[0].0);
    assert_eq!(dumps[0].0, dumps[1].0, "the same entities");
    assert_eq!(dumps[0].1, dumps[1].1, "the same content");
}
