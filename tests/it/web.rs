//! The web view in a real browser: Debian chromium driven by Playwright
//! (`tests/checkers/web_browser.py`), axe-core from npm. Expected values come from the input
//! messages themselves (wedge ordinals, the image lookup, shells), not from the pages' queries.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::*;
use crate::serve::{new_token, start};

/// Wedges of an MXLIMS message in acquisition order: (ordinal, sweep key, images, start °, width °).
fn wedges(message: &Value) -> Vec<(i64, String, i64, f64, f64)> {
    let mut out = Vec::new();
    for (key, sweep) in message["CollectionSweep"].as_object().unwrap() {
        let width = sweep["imageWidth"].as_f64().unwrap_or(0.0);
        for scan in sweep["scans"].as_array().into_iter().flatten() {
            out.push((
                scan["ordinal"].as_i64().unwrap(),
                key.clone(),
                scan["numberImages"].as_i64().unwrap(),
                scan["scanPositionStart"].as_f64().unwrap_or(0.0),
                width,
            ));
        }
    }
    out.sort_by_key(|w| w.0);
    out
}

/// What the lookup of image `n` (acquisition order) must say: sweep number (by first wedge),
/// wedge position and ordinal, angle.
fn expected_lookup(message: &Value, n: i64) -> Vec<String> {
    let ws = wedges(message);
    let mut sweeps: Vec<String> = Vec::new();
    for w in &ws {
        if !sweeps.contains(&w.1) {
            sweeps.push(w.1.clone());
        }
    }
    let mut before = 0;
    for (i, w) in ws.iter().enumerate() {
        if n <= before + w.2 {
            let k = n - before - 1;
            let sweep = sweeps.iter().position(|s| *s == w.1).unwrap() + 1;
            return vec![
                format!(
                    "image {n} → sweep {sweep}, wedge {} (ordinal {})",
                    i + 1,
                    w.0
                ),
                format!("{:.2}°", w.3 + k as f64 * w.4),
            ];
        }
        before += w.2;
    }
    panic!("image {n} is beyond the message's images");
}

fn uuid_of(store: &Path, sql: &str) -> String {
    query(store, sql)[0]["u"].as_str().unwrap().to_owned()
}

#[test]
fn web_view_in_a_real_browser() {
    let Some(td) = testdata() else { return };
    let (Some(py), Ok(chromium), Ok(npm)) = (
        python(),
        std::env::var("MXPIPE_CHROMIUM"),
        std::env::var("MXPIPE_NPM_DIR"),
    ) else {
        eprintln!(
            "SKIPPED: the browser test needs MXPIPE_PYTHON, MXPIPE_CHROMIUM and MXPIPE_NPM_DIR (scripts/test sets them)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let local = repo().join("samples/mad-interleaved.json");
    let upstream = td.join(
        "mxlims/0.6.13/conformance/v0.6.13/messages/MxlimsMessageStrict/valid/interleavedMAD.json",
    );
    let merge = repo().join("samples/two-crystal-merge.json");
    let correct = td.join("processing/xds/CORRECT.LP");
    let stream = td.join("ssx/crystfel/crystfel.stream");
    for f in [&local, &upstream, &merge, &correct, &stream] {
        let o = mxpipe_store(&store, &["ingest", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text_of(&o));
    }
    let config = dir.path().join("mxpipe.toml");
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &config,
        format!("[serve]\ntokens_file = {:?}\n", tokens.to_str().unwrap()),
    )
    .unwrap();
    let token = new_token(&config, &["--scope", "read"]);
    let other = new_token(&config, &["--scope", "read", "--proposal", "mx99999"]);
    let server = start(&config, &store);

    let mut experiments = Vec::new();
    for (file, image) in [(&local, 100), (&upstream, 30)] {
        let message = read_json(file);
        let ordinals: Vec<i64> = wedges(&message).iter().map(|w| w.0).collect();
        let uuid = message["MxExperiment"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        experiments.push(json!({"uuid": uuid, "ordinals": ordinals,
            "lookup": {"image": image, "expect": expected_lookup(&message, image)}}));
    }
    assert_eq!(
        experiments[1]["ordinals"].as_array().unwrap().len(),
        24,
        "the upstream interleaved MAD message has 24 wedges"
    );
    // Shells: the merge's from its message; CORRECT.LP's from the exported MXLIMS JSON.
    let merge_msg = read_json(&merge);
    let merge_shells = merge_msg["ReflectionSet"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["reflectionStatisticsShells"]
        .as_array()
        .unwrap()
        .len();
    let merge_uuid = merge_msg["MxProcessing"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let xds_uuid = uuid_of(
        &store,
        "SELECT uuid AS u FROM jobs WHERE program_name = 'XDS' AND ingest_id IN (SELECT ingest_id FROM ingests)",
    );
    let out = dir.path().join("xds.json");
    let o = mxpipe_store(
        &store,
        &[
            "export",
            "mxlims",
            "--experiment",
            &xds_uuid,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let exported = read_json(&out);
    let xds_shells = exported["ReflectionSet"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["reflectionStatisticsShells"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        xds_shells >= 5,
        "CORRECT.LP has a shell table: {xds_shells}"
    );

    // SSX: frames and lattices counted in the stream itself.
    let text = std::fs::read_to_string(&stream).unwrap();
    let frames = text
        .lines()
        .filter(|l| l.starts_with("----- Begin chunk"))
        .count();
    let lattices = text
        .lines()
        .filter(|l| l.starts_with("--- Begin crystal"))
        .count();
    let ssx_uuid = uuid_of(
        &store,
        "SELECT DISTINCT processing_uuid AS u FROM ssx_frames",
    );
    let screenshots = std::env::var("MXPIPE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(
                std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
            )
            .join("web-screenshots")
        });
    let spec = json!({
        "base": server.base, "chromium": chromium,
        "axe": Path::new(&npm).join("node_modules/axe-core/axe.min.js"),
        "screenshots": screenshots, "token": token, "other_token": other,
        "experiments": experiments,
        "processing": [{"uuid": merge_uuid, "shells": merge_shells}, {"uuid": xds_uuid, "shells": xds_shells}],
        "ssx": [{"uuid": ssx_uuid, "frames": frames, "lattices": lattices}],
        "sites": ["local"],
    });
    let spec_file = dir.path().join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let o = Command::new(py)
        .arg(repo().join("tests/checkers/web_browser.py"))
        .arg(&spec_file)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    assert!(o.status.success(), "{}", text_of(&o));
    eprintln!("screenshots in {}", screenshots.display());
}
