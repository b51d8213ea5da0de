//! Right numbers in every output (issue 25 items 5 and 6): the beam centre in mm uses the pixel
//! size the collection files state (`omega_scan.cbf`: `Pixel_size 172e-6 m`, beam 2000 px →
//! 344 mm, where the old fixed 0.075 mm gave 150), stored with the sweep; a configured pixel size
//! only for a sweep whose files state none, with a warning; facility and beamline from an NXmx
//! master's source and instrument names; an ICAT file export whose every unit failed leaves no
//! file.

use serde_json::Value;

use crate::common::*;

/// The SciCat dry run's requests (JSON lines on standard output) and its standard error.
fn scicat_dry_run(
    store: &std::path::Path,
    config: Option<&std::path::Path>,
) -> (Vec<Value>, String) {
    let mut args = Vec::new();
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    args.extend([
        "--store",
        store.to_str().unwrap(),
        "export",
        "scicat",
        "--dry-run",
    ]);
    let o = mxpipe(&args);
    assert!(o.status.success(), "{}", text_of(&o));
    let requests = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (requests, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `scientificMetadata.detector.beam_center_x` of every raw dataset request, in mm.
fn beam_centres_x(requests: &[Value]) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for r in requests {
        let text = r.to_string();
        if !text.contains("beam_center") {
            continue;
        }
        fn find(v: &Value, out: &mut Vec<Option<f64>>) {
            match v {
                Value::Object(m) => {
                    if let Some(b) = m.get("beam_center_x") {
                        assert_eq!(b["unit"], "mm", "{b}");
                        out.push(b["value"].as_f64());
                    }
                    m.values().for_each(|x| find(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| find(x, out)),
                _ => {}
            }
        }
        find(r, &mut out);
    }
    out
}

#[test]
fn the_beam_centre_uses_the_pixel_size_of_the_files() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    copy_into(&td.join("collection/cbf/omega_scan.cbf"), &raw);
    let store = dir.path().join("store");
    let o = mxpipe_store(
        &store,
        &["ingest", "--session", "mx12345-1", raw.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let rows = query(
        &store,
        "SELECT pixel_size_x_mm AS x, pixel_size_y_mm AS y, beam_position_x_px AS b FROM sweeps",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["x"].as_f64(), rows[0]["y"].as_f64()),
        (Some(0.172), Some(0.172))
    );
    assert_eq!(rows[0]["b"].as_f64(), Some(2000.0));
    // SciCat: 2000 px × 0.172 mm, even with a (different) configured pixel size; no warning.
    let config = dir.path().join("mxpipe.toml");
    std::fs::write(
        &config,
        "[scicat]\npixel_size_mm = 0.075\n[icat]\nfacility = \"DLS\"\npixel_size_mm = 0.075\n",
    )
    .unwrap();
    let (requests, stderr) = scicat_dry_run(&store, Some(&config));
    assert_eq!(beam_centres_x(&requests), vec![Some(344.0)], "{stderr}");
    assert!(!stderr.contains("pixel size"), "{stderr}");
    // ICAT: MX_xBeam is 344 too.
    let out = dir.path().join("icat.xml");
    let o = mxpipe(&[
        "--config",
        config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "export",
        "icat",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text_of(&o));
    let xml = std::fs::read_to_string(&out).unwrap();
    let id = xml
        .split("<parameterType id=\"")
        .find(|p| p.contains("<name>MX_xBeam</name>"))
        .and_then(|p| p.split('"').next())
        .expect("an MX_xBeam parameter type")
        .to_owned();
    let value = xml
        .split("<parameters>")
        .find(|p| p.contains(&format!("<type ref=\"{id}\"/>")))
        .and_then(|p| p.split("<numericValue>").nth(1))
        .and_then(|p| p.split('<').next())
        .expect("an MX_xBeam value");
    assert_eq!(value.parse::<f64>().unwrap(), 344.0, "{value}");

    // A message whose sweeps state no pixel size: without a configured one the beam centre in
    // mm is left out and the run says so; with one it is used, and the run says that.
    let mad = dir.path().join("mad");
    let o = mxpipe_store(
        &mad,
        &[
            "ingest",
            repo()
                .join("samples/mad-interleaved.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let (requests, stderr) = scicat_dry_run(&mad, None);
    assert!(
        beam_centres_x(&requests).iter().all(Option::is_none),
        "{requests:?}"
    );
    assert!(
        stderr.contains("state no detector pixel size") && stderr.contains("is not set"),
        "{stderr}"
    );
    let (requests, stderr) = scicat_dry_run(&mad, Some(&config));
    let mxlims: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("samples/mad-interleaved.json")).unwrap(),
    )
    .unwrap();
    let px = mxlims["CollectionSweep"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["beamPosition"][0]
        .as_f64()
        .unwrap();
    assert!(
        beam_centres_x(&requests)
            .iter()
            .all(|b| b.is_some_and(|b| (b - px * 0.075).abs() < 1e-9)),
        "{requests:?}"
    );
    assert!(
        stderr.contains("uses the configured [scicat] pixel_size_mm = 0.075 mm"),
        "{stderr}"
    );
}

#[test]
fn facility_and_beamline_come_from_the_nxmx_master() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    copy_into(&td.join("collection/nxmx/xrc_209_master.h5"), &raw);
    let store = dir.path().join("store");
    // Without a session: an ICAT export fails and writes no file.
    let o = mxpipe_store(&store, &["ingest", raw.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    let out = dir.path().join("icat.xml");
    let o = mxpipe_store(&store, &["export", "icat", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        !out.exists(),
        "a file was written although every unit failed"
    );
    // The master names "Diamond Light Source" (short name DLS) and "DLS i03".
    let view = |sql: &str| crate::queries::query_cli(&["--store", store.to_str().unwrap(), sql]);
    let rows = view("SELECT beamline, facility, pixel_size_x_mm AS p FROM sweeps");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["beamline"], "i03", "{rows:?}");
    assert_eq!(rows[0]["facility"], "DLS", "{rows:?}");
    assert_eq!(rows[0]["p"].as_f64(), Some(0.075), "{rows:?}");
    let rows = view("SELECT beamline, facility FROM experiments");
    assert_eq!(
        (rows[0]["beamline"].as_str(), rows[0]["facility"].as_str()),
        (Some("i03"), Some("DLS"))
    );
    // With a session that names neither, ICAT takes both from the file (no "unknown").
    let o = mxpipe_store(
        &store,
        &["ingest", "--session", "mx12345-1", raw.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let o = mxpipe_store(&store, &["export", "icat", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text_of(&o));
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(
        xml.contains("<facility id=\"Facility_1\">\n    <name>DLS</name>"),
        "{}",
        &xml[..800.min(xml.len())]
    );
    assert!(
        xml.contains("<instrument id=\"Instrument_1\">\n    <name>i03</name>"),
        "{}",
        &xml[..800.min(xml.len())]
    );
    assert!(!xml.contains("<instrument id=\"Instrument_1\">\n    <name>unknown</name>"));
}
