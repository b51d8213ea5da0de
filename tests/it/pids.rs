//! Persistent sample identifiers (issue 16): local PIDs minted after the commit, once, and
//! carried by every export; DataCite DOIs through a local contract server that validates each
//! body against the DataCite Metadata Schema 4.5 (PyPI `datacite`), with its failure paths;
//! barcode reuse flagged at ingest while the samples stay distinct everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::*;

const PREFIX: &str = "https://pid.example-facility.org/s/";

/// A configuration file for `store` with a `[pid]` section.
fn config(dir: &Path, store: &Path, pid: &str) -> PathBuf {
    let path = dir.join(format!("mxpipe-{}.toml", dir.read_dir().unwrap().count()));
    std::fs::write(
        &path,
        format!(
            "[store]\nlocation = {:?}\nsite = \"DLS\"\n\n[pid]\n{pid}",
            store.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn local(dir: &Path, store: &Path) -> PathBuf {
    config(
        dir,
        store,
        &format!(
            "scheme = \"local\"\nprefix = \"{PREFIX}\"\npublisher = \"Example Synchrotron\"\n"
        ),
    )
}

fn run(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MXPIPE_DATACITE_PASSWORD")
        .envs(env.iter().copied())
        .current_dir(repo())
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    o
}

/// `mxpipe pid list --output json`, by object uuid.
fn pid_list(config: &Path) -> BTreeMap<String, Value> {
    pid_list_of(config, &[])
}

/// The same, with extra global arguments (e.g. `--store`).
fn pid_list_of(config: &Path, global: &[&str]) -> BTreeMap<String, Value> {
    let o = ok(run(
        config,
        &[global, &["pid", "list", "--output", "json"]].concat(),
        &[],
    ));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    rows.into_iter()
        .map(|r| (r["object_uuid"].as_str().unwrap().to_owned(), r))
        .collect()
}

/// Uuids of the MacromoleculeSamples and Crystals of messages that carry no PID of their own.
fn without_pid(files: &[PathBuf]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files {
        let m = read_json(f);
        for ty in ["MacromoleculeSample", "Crystal"] {
            for o in m[ty].as_object().into_iter().flat_map(|d| d.values()) {
                if o["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"].is_null() {
                    out.insert(o["uuid"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    out
}

fn samples() -> Vec<PathBuf> {
    [
        "mad-interleaved.json",
        "two-crystal-merge.json",
        "shipment-unipucks.json",
    ]
    .iter()
    .map(|f| repo().join("samples").join(f))
    .collect()
}

fn strs(paths: &[PathBuf]) -> Vec<&str> {
    paths.iter().map(|p| p.to_str().unwrap()).collect()
}

#[test]
fn local_pids_are_minted_after_the_commit_once_and_reach_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cfg = local(dir.path(), &store);
    let files = samples();
    let mut args = vec!["ingest"];
    args.extend(strs(&files));
    let o = ok(run(&cfg, &args, &[]));
    let want = without_pid(&files);
    assert!(want.len() >= 3, "{want:?}");
    assert!(
        text_of(&o).contains(&format!("{} PID(s) minted (local)", want.len())),
        "{}",
        text_of(&o)
    );
    let minted = pid_list(&cfg);
    assert_eq!(minted.keys().cloned().collect::<BTreeSet<_>>(), want);
    let mut seen = BTreeSet::new();
    for r in minted.values() {
        assert_eq!(r["state"], "minted");
        let pid = r["pid"].as_str().unwrap();
        let id = pid.strip_prefix(PREFIX).unwrap_or_else(|| panic!("{pid}"));
        mxpipe_pid::local_id::decode(id).unwrap_or_else(|e| panic!("{e}"));
        assert!(seen.insert(pid.to_owned()), "{pid} given twice");
    }
    // The views show them; PIDs given in the messages stay as given.
    let s = store.to_str().unwrap();
    let rows = views(
        &store,
        "SELECT sample_uuid AS uuid, pid, pid_state FROM samples WHERE mxlims_type = 'MacromoleculeSample' \
                              UNION ALL SELECT crystal_uuid, pid, pid_state FROM crystals",
    );
    for r in &rows {
        let u = r["uuid"].as_str().unwrap();
        match minted.get(u) {
            Some(m) => assert_eq!(
                (&r["pid"], r["pid_state"].as_str()),
                (&m["pid"], Some("minted")),
                "{r}"
            ),
            None => assert_eq!(r["pid_state"], "given", "{r}"),
        }
    }
    // A re-ingest mints nothing and `pid mint` has nothing to do.
    let o = ok(run(&cfg, &args, &[]));
    assert!(!text_of(&o).contains("minted"), "{}", text_of(&o));
    let o = ok(run(&cfg, &["pid", "mint"], &[]));
    assert!(text_of(&o).contains("nothing to do"), "{}", text_of(&o));
    assert_eq!(pid_list(&cfg), minted);

    // Every export carries the minted PIDs: MXLIMS JSON (still valid MXLIMS), ICAT, SciCat.
    let mad = read_json(&files[0]);
    let exp = mad["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let out = dir.path().join("mad.json");
    ok(mxpipe(&[
        "--store",
        s,
        "export",
        "mxlims",
        "--experiment",
        exp,
        "--out",
        out.to_str().unwrap(),
    ]));
    ok(mxpipe(&["validate", out.to_str().unwrap()]));
    let exported = read_json(&out);
    let mut carried = 0;
    for ty in ["MacromoleculeSample", "Crystal"] {
        for o in exported[ty]
            .as_object()
            .into_iter()
            .flat_map(|d| d.values())
        {
            if let Some(m) = minted.get(o["uuid"].as_str().unwrap()) {
                assert_eq!(
                    o["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"], m["pid"],
                    "{o}"
                );
                carried += 1;
            }
        }
    }
    assert!(carried >= 1);
    let (icat, scicat) = catalogue_exports(s, &dir.path().join("all.icat.xml"));
    let crystals: Vec<&Value> = minted
        .values()
        .filter(|m| m["mxlims_type"] == "Crystal")
        .collect();
    assert!(!crystals.is_empty());
    for c in crystals {
        let pid = c["pid"].as_str().unwrap();
        assert!(icat.contains(pid), "ICAT export lacks {pid}");
        assert!(scicat.contains(pid), "SciCat requests lack {pid}");
    }

    // A failed ingest stores nothing and mints nothing.
    let other = dir.path().join("other");
    let cfg2 = local(dir.path(), &other);
    let o = run(
        &cfg2,
        &[
            "ingest",
            repo().join("samples/invalid-mad.json").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(pid_list(&cfg2).is_empty());
}

/// What the ICAT export (icatdata XML written to `icat_file`) and the SciCat dry run (the
/// requests it would send) of a store say, as text.
fn catalogue_exports(store: &str, icat_file: &Path) -> (String, String) {
    ok(mxpipe(&[
        "--store",
        store,
        "export",
        "icat",
        "--out",
        icat_file.to_str().unwrap(),
    ]));
    let icat = std::fs::read_to_string(icat_file).unwrap();
    let scicat = ok(mxpipe(&["--store", store, "export", "scicat", "--dry-run"]));
    (icat, String::from_utf8_lossy(&scicat.stdout).into_owned())
}

/// The local DataCite contract server, killed on drop.
struct DataCite {
    child: std::process::Child,
    url: String,
    py: PathBuf,
}

impl DataCite {
    fn start(py: &Path, faults: &[&str]) -> DataCite {
        let (child, url) = spawn_server(
            Command::new(py)
                .arg(repo().join("tests/checkers/datacite_contract_server.py"))
                .args([
                    "--repository",
                    "EXAMPLE.MX",
                    "--password",
                    "dc-secret",
                    "--prefix",
                    "10.80000",
                ])
                .args(faults),
        );
        DataCite {
            child,
            url,
            py: py.to_owned(),
        }
    }

    fn get(&self, path: &str) -> Value {
        let o = Command::new(&self.py)
            .args(["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"])
            .arg(format!("{}{path}", self.url))
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text_of(&o)))
    }

    fn config(&self, dir: &Path, store: &Path, publisher: &str) -> PathBuf {
        config(
            dir,
            store,
            &format!(
                "scheme = \"datacite\"\nprefix = \"10.80000\"\npublisher = \"{publisher}\"\nlanding_url = \"https://mxpipe.example.org/pid/\"\n\
                 api_url = \"{}\"\nrepository_id = \"EXAMPLE.MX\"\n",
                self.url
            ),
        )
    }
}

impl Drop for DataCite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RIGHT: (&str, &str) = ("MXPIPE_DATACITE_PASSWORD", "dc-secret");
const WRONG: (&str, &str) = ("MXPIPE_DATACITE_PASSWORD", "not-the-password");

#[test]
fn datacite_dois_draft_publish_and_every_failure_path() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = samples();
    let mut ingest = vec!["ingest"];
    ingest.extend(strs(&files));
    let want = without_pid(&files);

    // Wrong credentials: the ingest is stored (exit 0), every PID is chosen and kept pending.
    let server = DataCite::start(&py, &[]);
    let store = dir.path().join("a");
    let cfg = server.config(dir.path(), &store, "Example Synchrotron");
    let o = ok(run(&cfg, &ingest, &[WRONG]));
    assert!(
        text_of(&o).contains("pending") && text_of(&o).contains("credentials"),
        "{}",
        text_of(&o)
    );
    let pending = pid_list(&cfg);
    assert_eq!(pending.keys().cloned().collect::<BTreeSet<_>>(), want);
    assert!(pending.values().all(|p| p["state"] == "pending"));
    assert_eq!(server.get("/test/dois"), json!({}));
    let rows = views(
        &store,
        "SELECT count(*) AS n FROM crystals WHERE pid_state = 'pending'",
    );
    assert!(rows[0]["n"].as_i64().unwrap() >= 1);
    // `pid retry` with the right password registers the same DOIs (never a second one).
    let o = run(&cfg, &["pid", "retry"], &[RIGHT]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let done = pid_list(&cfg);
    for (u, p) in &done {
        assert_eq!(p["state"], "draft", "{p}");
        assert_eq!(p["pid"], pending[u]["pid"]);
    }
    let held = server.get("/test/dois");
    let held_dois: BTreeSet<String> = held.as_object().unwrap().keys().cloned().collect();
    let ours: BTreeSet<String> = done
        .values()
        .map(|p| p["pid"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(held_dois, ours);
    // What DataCite holds: a physical object, its landing page, a crystal derived from its sample.
    for (doi, a) in held.as_object().unwrap() {
        assert_eq!(a["types"]["resourceTypeGeneral"], "PhysicalObject");
        let suffix = doi.split_once('/').unwrap().1;
        assert_eq!(a["url"], format!("https://mxpipe.example.org/pid/{suffix}"));
        if a["types"]["resourceType"] == "Crystal" {
            assert_eq!(
                a["relatedIdentifiers"][0]["relationType"], "IsDerivedFrom",
                "{a}"
            );
        }
    }
    // The same bodies, checked again here with PyPI `datacite` (schema 4.5, on `attributes`).
    let bodies = server.get("/test/requests");
    assert!(bodies.as_array().unwrap().len() >= want.len());
    let check = Command::new(&py)
        .args(["-c", "import json, sys\nfrom datacite import schema45\nbad = [e.message for b in json.load(sys.stdin) for e in schema45.validator.iter_errors(b['data']['attributes'])]\nprint(len(bad), bad[:3]); sys.exit(1 if bad else 0)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let check = pipe_to(check, bodies.to_string().as_bytes());
    assert!(check.status.success(), "{}", text_of(&check));
    // ... and that check can fail: a doctored body (resourceTypeGeneral "Sample") is refused.
    let mut doctored = bodies[0].clone();
    doctored["data"]["attributes"]["types"]["resourceTypeGeneral"] = json!("Sample");
    let check = Command::new(&py)
        .args(["-c", "import json, sys\nfrom datacite import schema45\nsys.exit(0 if schema45.validate(json.load(sys.stdin)['data']['attributes']) else 1)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        !pipe_to(check, doctored.to_string().as_bytes())
            .status
            .success()
    );
    drop(server);

    // A lost answer (DataCite stored the DOI but the reply never came): pending, then the retry
    // finds the DOI taken for the same landing page and accepts it: still one DOI per object.
    let server = DataCite::start(&py, &["--lose-answers", "1", "--rate-limit", "1"]);
    let store = dir.path().join("b");
    let cfg = server.config(dir.path(), &store, "Example Synchrotron");
    let o = ok(run(&cfg, &ingest, &[RIGHT]));
    assert!(text_of(&o).contains("1 PID(s) pending"), "{}", text_of(&o));
    let o = run(&cfg, &["pid", "retry"], &[RIGHT]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let done = pid_list(&cfg);
    assert!(done.values().all(|p| p["state"] == "draft"), "{done:?}");
    assert_eq!(
        server.get("/test/dois").as_object().unwrap().len(),
        want.len()
    );
    drop(server);

    // --publish registers findable DOIs; metadata that would be invalid is never sent.
    let server = DataCite::start(&py, &[]);
    let store = dir.path().join("c");
    let cfg = server.config(dir.path(), &store, "Example Synchrotron");
    let mut publish = ingest.clone();
    publish.push("--publish");
    ok(run(&cfg, &publish, &[RIGHT]));
    let held = server.get("/test/dois");
    assert_eq!(held.as_object().unwrap().len(), want.len());
    assert!(
        held.as_object()
            .unwrap()
            .values()
            .all(|a| a["state"] == "findable")
    );
    let store = dir.path().join("d");
    let cfg = server.config(dir.path(), &store, " ");
    let o = ok(run(&cfg, &ingest, &[RIGHT]));
    assert!(text_of(&o).contains("would be invalid"), "{}", text_of(&o));
    assert_eq!(
        server.get("/test/dois").as_object().unwrap().len(),
        want.len()
    );
    let o = run(&cfg, &["pid", "retry"], &[RIGHT]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "pending PIDs make retry exit 1: {}",
        text_of(&o)
    );
}

/// Rows of a query over the views.
fn views(store: &Path, sql: &str) -> Vec<Value> {
    crate::queries::query_cli(&["--store", store.to_str().unwrap(), sql])
}

fn pipe_to(mut child: std::process::Child, input: &[u8]) -> Output {
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The MAD message again with new uuids, another sample name and the same pin barcode: a reused
/// pin, as beamlines see them.
fn reused_pin(dir: &Path) -> PathBuf {
    let mad = repo().join("samples/mad-interleaved.json");
    let msg = read_json(&mad);
    let mut text = std::fs::read_to_string(&mad).unwrap();
    for (i, dict) in msg
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_object)
        .enumerate()
    {
        for (j, obj) in dict.values().enumerate() {
            let u = obj["uuid"].as_str().unwrap();
            text = text.replace(
                u,
                &format!("00000000-0000-4000-8000-{:06x}{:06x}", i + 1, j + 1),
            );
        }
    }
    let text = text.replace("selmet-thermolysin-1", "lysozyme-7").replace(
        "urn:uuid:5d2b9f3e-8c1a-4f7e-9b3d-1e2f3a4b5c6d",
        "urn:uuid:1e9a3b7c-0d4f-4a2b-8c6e-7f1a2b3c4d5e",
    );
    let path = dir.join("reused-pin.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_reused_barcode_is_flagged_and_the_samples_stay_distinct_in_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cfg = local(dir.path(), &store);
    let mad = repo().join("samples/mad-interleaved.json");
    let barcode = read_json(&mad)["Pin"]["Pin1"]["barcode"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = ok(run(&cfg, &["ingest", mad.to_str().unwrap()], &[]));
    assert!(!text_of(&o).contains("barcode"), "{}", text_of(&o));
    let second = reused_pin(dir.path());
    let o = ok(run(&cfg, &["ingest", second.to_str().unwrap()], &[]));
    let warning = text_of(&o);
    assert!(
        warning.contains(&format!(
            "barcode {barcode} has now been seen with 2 different sample identities"
        )),
        "{warning}"
    );
    let reuse = views(
        &store,
        "SELECT barcode, identities, crystals, samples, sample_names FROM barcode_reuse",
    );
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["barcode"], barcode.as_str());
    assert_eq!(
        (
            reuse[0]["identities"].as_i64(),
            reuse[0]["crystals"].as_i64()
        ),
        (Some(2), Some(2))
    );
    // The same message again (same identity) is not reuse: no new warning, no new row.
    let o = ok(run(&cfg, &["ingest", mad.to_str().unwrap()], &[]));
    assert!(!text_of(&o).contains("barcode"), "{}", text_of(&o));
    // Two crystals, two PIDs, two samples in every export.
    let crystals = views(
        &store,
        &format!(
            "SELECT crystal_uuid, pid, sample_name FROM crystals WHERE container_barcode = '{barcode}'"
        ),
    );
    assert_eq!(crystals.len(), 2);
    let pids: BTreeSet<&str> = crystals
        .iter()
        .map(|c| c["pid"].as_str().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{crystals:?}");
    let s = store.to_str().unwrap();
    let (icat, scicat) = catalogue_exports(s, &dir.path().join("x.icat.xml"));
    for c in &crystals {
        let pid = c["pid"].as_str().unwrap();
        assert_eq!(
            icat.matches(&format!(">{pid}<")).count(),
            1,
            "ICAT: one Sample with pid {pid}"
        );
        assert!(
            scicat.contains(&format!("\"sampleId\":\"{pid}\"")),
            "SciCat sample {pid}"
        );
    }
}

/// `mxpipe serve` mints after its commits (the request never waits for it) and answers the
/// PIDs it holds at `/pid/{id}`: HTML for browsers, JSON-LD by `Accept`, no token needed.
#[test]
fn serve_mints_after_commits_and_resolves_pids_to_landing_pages() {
    let (dir, config) = crate::serve::serve_config(&format!(
        "\n[pid]\nscheme = \"local\"\nprefix = \"{PREFIX}\"\npublisher = \"Example Synchrotron\"\n"
    ));
    let token = crate::serve::new_token(&config, &["--scope", "ingest"]);
    let store = dir.path().join("store");
    let server = crate::serve::start(&config, &store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for f in samples() {
        let status = rt.block_on(async {
            client
                .post(format!("{}/v1/messages", server.base))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(std::fs::read(&f).unwrap())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(status, 201, "{}", f.display());
    }
    let want = without_pid(&samples());
    let mut minted = BTreeMap::new();
    for _ in 0..100 {
        minted = pid_list_of(&config, &["--store", store.to_str().unwrap()]);
        if minted.len() == want.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(minted.keys().cloned().collect::<BTreeSet<_>>(), want);
    let get = |path: &str, accept: &str| {
        rt.block_on(async {
            let r = client
                .get(format!("{}{path}", server.base))
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let link = r
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, link, r.text().await.unwrap())
        })
    };
    let crystal = minted
        .values()
        .find(|m| m["mxlims_type"] == "Crystal")
        .unwrap();
    let pid = crystal["pid"].as_str().unwrap();
    let id = pid.strip_prefix(PREFIX).unwrap();
    let (status, link, html) = get(&format!("/pid/{id}"), "text/html");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("<code id=\"pid\">{pid}</code>")),
        "{html}"
    );
    assert!(
        html.contains(&format!("<link rel=\"cite-as\" href=\"{pid}\">")),
        "{html}"
    );
    assert!(link.unwrap().contains(&format!("<{pid}>; rel=\"cite-as\"")));
    let embedded = html
        .split("<script type=\"application/ld+json\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let embedded: Value = serde_json::from_str(embedded).unwrap();
    let (status, _, body) = get(&format!("/pid/{id}"), "application/ld+json");
    assert_eq!(status, 200);
    let ld: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ld, embedded);
    assert_eq!(
        (ld["@id"].as_str(), ld["identifier"].as_str()),
        (Some(pid), Some(pid))
    );
    // By default a public page shows the PID, type, facility and dates: no name, no counts.
    assert!(
        ld.get("mxp:experiments").is_none() && ld.get("name").is_none(),
        "{ld}"
    );
    assert_eq!(ld["publisher"], "Example Synchrotron");
    let (status, _, html) = get("/pid/10.58052/IEMXP0003", "text/html");
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains("lysozyme-batch-3"),
        "a name on a public page: {html}"
    );
    assert!(html.contains("Example Synchrotron"), "{html}");
    // The facility's policy may publish names and counts.
    drop(server);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[pid]\n", "[pid]\npublic_fields = [\"name\", \"counts\"]\n"),
    )
    .unwrap();
    let server = crate::serve::start(&config, &store);
    let get = |path: &str, accept: &str| {
        rt.block_on(async {
            let r = client
                .get(format!("{}{path}", server.base))
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let (status, body) = get(&format!("/pid/{id}"), "application/ld+json");
    assert_eq!(status, 200);
    let ld: Value = serde_json::from_str(&body).unwrap();
    assert!(ld["mxp:experiments"].as_i64().unwrap() >= 1, "{ld}");
    // A DOI given in a message resolves by its whole name; an unknown id is 404.
    let (status, html) = get("/pid/10.58052/IEMXP0003", "text/html");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("lysozyme-batch-3"));
    let (status, _) = get("/pid/0000-0000-0", "text/html");
    assert_eq!(status, 404);
}
