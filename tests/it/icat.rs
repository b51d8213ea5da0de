//! ICAT exports: icatdata XML checked with xmllint against the published XSDs (6.2 and 5.0), ESRF
//! messages checked against the ESRF definitions file and rebuilt by pyicat-plus (the oracle),
//! values compared with the inputs, the map kept in sync with its doc.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// `mxpipe --config CONFIG --store STORE ARGS…`: the config names the facility, which sessions
/// given with `--session` do not carry.
fn export(store: &Path, args: &[&str]) -> std::process::Output {
    let config = store.with_file_name("mxpipe.toml");
    std::fs::write(&config, "[icat]\nfacility = \"TESTFAC\"\n").unwrap();
    let mut all = vec![
        "--config",
        config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    mxpipe(&all)
}

/// A store with the MAD, the two-crystal merge, the SSX chip and the real NXmx/CBF/autoPROC files.
pub(crate) fn store(dir: &Path, td: &Path) -> PathBuf {
    let store = dir.join("store");
    let s = store.to_str().unwrap();
    let files = [
        "samples/mad-interleaved.json",
        "samples/two-crystal-merge.json",
        "samples/ssx-chip.json",
        "samples/ssx-chip-processing.cif",
    ];
    let o = mxpipe(&[&["--store", s, "ingest"][..], &files[..]].concat());
    assert!(o.status.success(), "{}", text_of(&o));
    let real = [
        td.join("collection/nxmx/xrc_209_master.h5"),
        td.join("collection/cbf/omega_scan.cbf"),
        td.join("processing/autoproc/autoPROC.xml"),
    ];
    for f in real {
        let o = mxpipe(&[
            "--store",
            s,
            "ingest",
            "--session",
            "mx99999-1",
            f.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text_of(&o));
    }
    store
}

fn xmllint(xml: &Path, xsd: &Path) {
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd)
        .arg(xml)
        .output()
        .expect("xmllint (Debian libxml2-utils; scripts/test installs it)");
    assert!(
        o.status.success(),
        "{} against {}: {}",
        xml.display(),
        xsd.display(),
        text_of(&o)
    );
}

#[test]
fn icatdata_validates_against_both_xsds_and_keeps_every_input() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), &td);
    for version in ["6.2", "5.0"] {
        let out = dir.path().join(format!("export-{version}.xml"));
        let o = export(
            &store,
            &[
                "export",
                "icat",
                "--out",
                out.to_str().unwrap(),
                "--icatdata-version",
                version,
            ],
        );
        assert!(o.status.success(), "{}", text_of(&o));
        xmllint(
            &out,
            &td.join(format!("catalogues/icat/icatdata-{version}.xsd")),
        );
        let xml = std::fs::read_to_string(&out).unwrap();
        assert!(
            xml.contains("<pid>urn:uuid:5d2b9f3e-8c1a-4f7e-9b3d-1e2f3a4b5c6d</pid>"),
            "the crystal's PID"
        );
        // The merge: one Job whose input collection holds both crystals' sweeps.
        let job_inputs = xml
            .split("<dataCollection ")
            .filter(|c| c.matches("<dataset ref=").count() == 2)
            .count();
        assert!(
            job_inputs >= 1,
            "no input collection with both crystals of the merge"
        );
        assert!(xml.contains("<name>MX_wavelength</name>"));
        // Dataset names are unique in each investigation (ICAT's key).
        let names: Vec<&str> = xml
            .split("<dataset id=")
            .skip(1)
            .map(|d| d.split("<name>").nth(1).unwrap().split('<').next().unwrap())
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        // Sample names are unique in each investigation too (the two real files' crystals are
        // both called "sample" in one session).
        let samples: Vec<(String, String)> = xml
            .split("<sample id=")
            .skip(1)
            .map(|s| {
                let name = s.split("<name>").nth(1).unwrap().split('<').next().unwrap();
                let inv = s
                    .split("<investigation ref=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                (inv.to_owned(), name.to_owned())
            })
            .collect();
        let mut unique = samples.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), samples.len(), "{samples:?}");
    }
    let bad = dir.path().join("x.xml");
    let o = export(
        &store,
        &[
            "export",
            "icat",
            "--out",
            bad.to_str().unwrap(),
            "--icatdata-version",
            "4.0",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("expected one of 6.2, 5.0"),
        "{}",
        text_of(&o)
    );
}

/// `${Name}` → units ("" when none) of the ESRF definitions.
fn esrf_definitions(td: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(td.join("catalogues/icat/esrf-hdf5_cfg.xml")).unwrap();
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some(start) = line.find("${") else {
            continue;
        };
        let name = &line[start + 2..start + line[start..].find('}').unwrap()];
        let units = line
            .split("units=\"")
            .nth(1)
            .map(|u| u.split('"').next().unwrap())
            .unwrap_or("");
        out.insert(name.to_owned(), units.to_owned());
    }
    out
}

fn params(message: &str) -> Vec<(String, String)> {
    message
        .split("<tns:parameter>")
        .skip(1)
        .map(|p| {
            let field = |t: &str| {
                p.split(&format!("<tns:{t}>"))
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_owned()
            };
            (field("name"), field("value"))
        })
        .collect()
}

#[test]
fn esrf_messages_use_defined_names_and_units_and_agree_with_pyicat_plus() {
    let Some(td) = testdata() else { return };
    let defs = esrf_definitions(&td);
    // Every ESRF name of the map exists, with the units the definitions declare.
    for m in mxpipe_export::icat::map::PARAMS
        .iter()
        .filter(|m| !m.mxpipe)
    {
        for (name, _, _) in mxpipe_export::icat::map::expanded(m.level)
            .into_iter()
            .filter(|(_, r, _)| std::ptr::eq(*r, m))
        {
            let units = defs
                .get(&name)
                .unwrap_or_else(|| panic!("{name} is not in the ESRF definitions"));
            let ours = if m.units == "N/A" { "" } else { m.units };
            assert_eq!(units.replace('μ', "µ"), ours, "units of {name}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), &td);
    let out = dir.path().join("esrf");
    let o = export(
        &store,
        &[
            "export",
            "icat",
            "--flavour",
            "esrf",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let standard = [
        "beamlineID",
        "datasetName",
        "proposal",
        "location",
        "startDate",
        "endDate",
        "software",
        "complete",
        "input_datasets",
    ];
    let mut messages = HashMap::new();
    for f in std::fs::read_dir(&out).unwrap() {
        let path = f.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("xmlns:tns=\"http://www.esrf.fr/icat\""));
        for (name, _) in params(&text) {
            assert!(
                defs.contains_key(&name) || standard.contains(&name.as_str()),
                "{}: {name} is not an ESRF name",
                path.display()
            );
        }
        messages.insert(file_name(&path), params(&text));
    }
    // Values against the inputs (units converted as documented).
    let mad = &messages["mx23694_selmet_x1_sweep1.xml"];
    let get = |m: &Vec<(String, String)>, k: &str| {
        m.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let wavelength: f64 = get(mad, "MX_wavelength").parse().unwrap();
    assert!(
        (wavelength - 12398.4198 / 12662.0).abs() < 1e-6,
        "{wavelength}"
    );
    assert_eq!(get(mad, "InstrumentMonochromator_energy"), "12.662");
    assert_eq!(get(mad, "MX_numberOfImages"), "360");
    assert_eq!(
        get(mad, "MX_axis_range"),
        "0.5",
        "a range in degrees, not an axis name"
    );
    assert_eq!(
        get(mad, "MX_beamSizeAtSampleX"),
        "0.05",
        "mm, as the definitions declare"
    );
    let merge = messages
        .iter()
        .find(|(k, _)| k.contains("multiplex"))
        .map(|(_, v)| v)
        .expect("the merge's processed dataset");
    assert_eq!(
        get(merge, "input_datasets").split(',').count(),
        2,
        "every input of the merge"
    );
    // The oracle: pyicat-plus builds the same messages with strict checks.
    let Some(py) = python() else { return };
    let o = Command::new(py)
        .arg(repo().join("tests/checkers/esrf_oracle.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "pyicat-plus disagrees: {}", text_of(&o));
}

#[test]
fn icat_map_is_documented_and_every_derived_value_has_a_producer() {
    let doc = std::fs::read_to_string(repo().join("docs/icat.md")).unwrap();
    assert!(
        doc.contains(&mxpipe_export::icat::map::markdown()),
        "docs/icat.md is stale: replace its map with `mxpipe export icat-map`"
    );
    let sweep_schema: serde_json::Value =
        read_json(&repo().join("schemas/objects/CollectionSweep.json"));
    for m in mxpipe_export::icat::map::PARAMS {
        let (head, rest) = m.source.split_once('/').unwrap();
        match head {
            "derived" => assert!(
                mxpipe_export::icat::graph::DERIVED.contains(&rest),
                "{}: derived/{rest} has no producer",
                m.name
            ),
            "sweep" => {
                let field = rest.split('/').next().unwrap();
                let text = sweep_schema.to_string();
                assert!(
                    text.contains(&format!("\"{field}\"")),
                    "{}: CollectionSweep has no field {field}",
                    m.name
                );
            }
            "experiment" | "processing" | "set" | "stats" | "ssx" | "pin" => {}
            other => panic!("{}: unknown source {other}", m.name),
        }
    }
    let o = mxpipe(&["export", "icat-map"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        mxpipe_export::icat::map::markdown()
    );
}

/// The local ICAT contract server (tests/checkers/icat_contract_server.py), killed on drop.
struct ContractServer {
    child: std::process::Child,
    url: String,
}

impl ContractServer {
    fn start(py: &Path, td: &Path, extra: &[&str]) -> ContractServer {
        let (child, url) = spawn_server(
            Command::new(py)
                .arg(repo().join("tests/checkers/icat_contract_server.py"))
                .arg("--xsd")
                .arg(td.join("catalogues/icat/icatdata-6.2.xsd"))
                .args(["--password", "s3cret-pw"])
                .args(extra),
        );
        ContractServer { child, url }
    }

    /// Entities per type, as the server holds them.
    fn counts(&self, py: &Path) -> serde_json::Value {
        let o = Command::new(py)
            .args(["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"])
            .arg(format!("{}/test/counts", self.url))
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text_of(&o)))
    }

    /// POST a raw write and return (status, body).
    fn raw_write(&self, py: &Path, session_id: &str, entities: &str) -> String {
        let code = "import sys, urllib.request, urllib.parse, urllib.error\n\
            data = urllib.parse.urlencode({'sessionId': sys.argv[2], 'entities': sys.argv[3]}).encode()\n\
            try:\n    r = urllib.request.urlopen(sys.argv[1], data); print(r.status, r.read().decode())\n\
            except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())";
        let o = Command::new(py)
            .args(["-c", code])
            .arg(format!("{}/icat/entityManager", self.url))
            .arg(session_id)
            .arg(entities)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for ContractServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rest_export(store: &Path, server: &ContractServer, password: &str) -> std::process::Output {
    let config = store.with_file_name("icat-rest.toml");
    std::fs::write(
        &config,
        "[icat]\nfacility = \"TESTFAC\"\nusername = \"mxpipe\"\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ])
        .args(["export", "icat", "--url", &format!("{}/icat", server.url)])
        .env("MXPIPE_ICAT_PASSWORD", password)
        .current_dir(repo())
        .output()
        .unwrap()
}

#[test]
fn rest_export_is_idempotent_and_recovers_from_expiry_and_failures() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), &td);

    let server = ContractServer::start(&py, &td, &[]);
    let o = rest_export(&store, &server, "s3cret-pw");
    assert!(o.status.success(), "{}", text_of(&o));
    assert!(text_of(&o).contains("(1 login(s))"), "{}", text_of(&o));
    let first = server.counts(&py);
    // The same entities as the icatdata output of the same store.
    let xml_path = dir.path().join("same.xml");
    let o = export(
        &store,
        &["export", "icat", "--out", xml_path.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    for (entity, tag) in [
        ("Dataset", "<dataset id="),
        ("DatasetParameter", "<parameters>"),
        ("Datafile", "<datafiles>"),
        ("Sample", "<sample id="),
        ("Job", "<job>"),
        ("DataCollectionDataset", "<dataCollectionDatasets>"),
    ] {
        assert_eq!(
            first[entity].as_u64(),
            Some(xml.matches(tag).count() as u64),
            "{entity}: {first}"
        );
    }
    assert!(
        first["DataCollectionDataset"].as_u64() >= Some(3),
        "both inputs of the merge and its output: {first}"
    );
    let o = rest_export(&store, &server, "s3cret-pw");
    assert!(o.status.success(), "{}", text_of(&o));
    assert_eq!(server.counts(&py), first, "a re-run duplicated something");

    // The server checks its contract: unknown field, duplicate key, no session.
    let login = Command::new(&py)
        .args(["-c", "import sys, json, urllib.request, urllib.parse\nd = urllib.parse.urlencode({'json': json.dumps({'plugin': 'db', 'credentials': [{'username': 'x'}, {'password': 's3cret-pw'}]})}).encode()\nprint(json.load(urllib.request.urlopen(sys.argv[1], d))['sessionId'])"])
        .arg(format!("{}/icat/session", server.url))
        .output()
        .unwrap();
    let sid = String::from_utf8_lossy(&login.stdout).trim().to_owned();
    assert!(
        server
            .raw_write(
                &py,
                &sid,
                r#"[{"Facility": {"name": "X", "colour": "red"}}]"#
            )
            .starts_with("400 {\"code\": \"BAD_PARAMETER\"")
    );
    assert!(
        server
            .raw_write(&py, &sid, r#"[{"Facility": {"name": "TESTFAC"}}]"#)
            .contains("OBJECT_ALREADY_EXISTS")
    );
    assert!(
        server
            .raw_write(&py, "nope", r#"[{"Facility": {"name": "Y"}}]"#)
            .starts_with("403 {\"code\": \"SESSION\"")
    );

    // A session that expires mid-run: one re-login, same result.
    let expiring = ContractServer::start(&py, &td, &["--expire-on-request", "40"]);
    let o = rest_export(&store, &expiring, "s3cret-pw");
    assert!(o.status.success(), "{}", text_of(&o));
    assert!(text_of(&o).contains("(2 login(s))"), "{}", text_of(&o));
    assert_eq!(expiring.counts(&py), first);

    // A server error mid-experiment: reported, nonzero; the re-run completes without duplicates.
    let failing = ContractServer::start(&py, &td, &["--fail-on-write", "12"]);
    let o = rest_export(&store, &failing, "s3cret-pw");
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("injected failure") && text_of(&o).contains("re-run"),
        "{}",
        text_of(&o)
    );
    assert!(
        text_of(&o).contains("written before the error: ") && text_of(&o).contains(" created"),
        "{}",
        text_of(&o)
    );
    let o = rest_export(&store, &failing, "s3cret-pw");
    assert!(o.status.success(), "{}", text_of(&o));
    assert_eq!(
        failing.counts(&py),
        first,
        "the re-run after a failure differs from a clean run"
    );

    // A wrong password: a clear error, and the password is never printed.
    let o = rest_export(&store, &server, "wrong-pw-123");
    assert_ne!(o.status.code(), Some(0));
    assert!(text_of(&o).contains("ICAT SESSION"), "{}", text_of(&o));
    assert!(!text_of(&o).contains("wrong-pw-123") && !text_of(&o).contains("s3cret-pw"));
}
