//! `mxpipe query`: the views on ingested data (values asserted against the inputs), cross-site
//! queries, SQL errors.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

pub(crate) fn query_cli(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["query", "--format", "json"];
    all.extend_from_slice(args);
    let out = mxpipe(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn ingest(store: &Path, site: &str, paths: &[&Path]) {
    let mut args = vec!["--store", store.to_str().unwrap(), "--site", site, "ingest"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = mxpipe(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
}

/// The interleaved MAD sample: CollectionSweep1 (12662 eV) scans ordinals 0, 2, 4, 6 at images
/// 1, 91, 181, 271 (90 each, 0.5° per image, starting 0°, 45°, 90°, 135°); CollectionSweep2
/// (12900 eV) ordinals 1, 3, 5, 7. Read from the file, not hard-coded.
#[test]
fn views_answer_with_the_values_of_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mad = repo().join("samples/mad-interleaved.json");
    let merge = repo().join("samples/two-crystal-merge.json");
    ingest(&store, "DLS", &[&mad, &merge]);
    let s = store.to_str().unwrap();
    let msg = read_json(&mad);
    for sweep in msg["CollectionSweep"].as_object().unwrap().values() {
        let uuid = sweep["uuid"].as_str().unwrap();
        let row = &query_cli(&[
            "--store",
            s,
            &format!("SELECT * FROM sweeps WHERE sweep_uuid = '{uuid}'"),
        ])[0];
        assert_eq!(row["site"], "DLS");
        assert!(close(&row["energy_ev"], sweep["energy"].as_f64().unwrap()));
        assert!(close(
            &row["wavelength_a"],
            12398.419843320026 / sweep["energy"].as_f64().unwrap()
        ));
        assert_eq!(row["number_images"], sweep["numberImages"]);
        assert_eq!(row["number_scans"], 4);
        assert_eq!(row["visit"], "mx23694-12");
        let width = sweep["imageWidth"].as_f64().unwrap();
        for scan in sweep["scans"].as_array().unwrap() {
            let first = scan["firstImageNumber"].as_i64().unwrap();
            let image = first + 17;
            let hit = query_cli(&[
                "--store",
                s,
                &format!(
                    "SELECT sweep_uuid, scan_ordinal, scan_position_deg FROM image_index WHERE sweep_uuid = '{uuid}' AND image_number = {image}"
                ),
            ]);
            assert_eq!(hit.len(), 1, "image {image} of {uuid}: {hit:?}");
            assert_eq!(hit[0]["scan_ordinal"], scan["ordinal"]);
            let expected = scan["scanPositionStart"].as_f64().unwrap() + 17.0 * width;
            assert!(close(&hit[0]["scan_position_deg"], expected));
        }
    }
    // Scans in acquisition order alternate between the two energies.
    let exp = msg["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let scans = query_cli(&[
        "--store",
        s,
        &format!(
            "SELECT ordinal, energy_ev FROM scans WHERE experiment_uuid = '{exp}' ORDER BY ordinal"
        ),
    ]);
    assert_eq!(scans.len(), 8);
    assert!(
        scans
            .windows(2)
            .all(|w| w[0]["energy_ev"] != w[1]["energy_ev"])
    );
    // reflection_sets: overall/inner/outer as columns, from the two-crystal sample.
    let merge_msg = read_json(&merge);
    let set = merge_msg["ReflectionSet"]["ReflectionSet1"].clone();
    let row = &query_cli(&[
        "--store",
        s,
        &format!(
            "SELECT * FROM reflection_sets WHERE reflection_set_uuid = '{}'",
            set["uuid"].as_str().unwrap()
        ),
    ])[0];
    let overall = &set["reflectionStatisticsOverall"];
    assert!(close(
        &row["resolution_high_a"],
        overall["resolutionLimits"][1].as_f64().unwrap()
    ));
    assert!(close(&row["r_merge"], overall["R_merge"].as_f64().unwrap()));
    assert!(close(
        &row["cc_half"],
        overall["CC_one_half"].as_f64().unwrap()
    ));
    let shells = set["reflectionStatisticsShells"].as_array().unwrap();
    let outer = shells.last().unwrap();
    assert!(close(
        &row["outer_r_merge"],
        outer["R_merge"].as_f64().unwrap()
    ));
    assert!(close(
        &row["outer_resolution_low_a"],
        outer["resolutionLimits"][0].as_f64().unwrap()
    ));
    assert_eq!(row["space_group"], set["spaceGroupName"]);
    // experiments, processing, ingests.
    let e = query_cli(&[
        "--store",
        s,
        "SELECT * FROM experiments ORDER BY number_sweeps DESC",
    ]);
    let n_experiments = [&msg, &merge_msg]
        .iter()
        .map(|m| m["MxExperiment"].as_object().unwrap().len())
        .sum::<usize>();
    assert_eq!(e.len(), n_experiments);
    assert_eq!(
        e[0]["number_sweeps"], 2,
        "the MAD experiment has two sweeps"
    );
    let p = query_cli(&["--store", s, "SELECT * FROM processing"]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0]["program_name"],
        merge_msg["MxProcessing"]["MxProcessing1"]["programName"]
    );
    assert_eq!(query_cli(&["--store", s, "SELECT * FROM ingests"]).len(), 1);
}

#[test]
fn cross_site_query_unions_sites_and_names_unreachable_ones() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("esrf"), dir.path().join("maxiv"));
    ingest(
        &a,
        "written-as-a",
        &[&td.join("ssx/crystfel/crystfel.stream")],
    );
    ingest(
        &b,
        "written-as-b",
        &[
            &repo().join("samples/ssx-chip-processing.cif"),
            &repo().join("samples/ssx-chip.json"),
        ],
    );
    let sa = format!("ESRF={}", a.display());
    let sb = format!("MAXIV={}", b.display());
    let rows = query_cli(&[
        "--site",
        &sa,
        "--site",
        &sb,
        "SELECT site, level, frames_total, hit_rate FROM ssx_runs ORDER BY site, level",
    ]);
    let sites: Vec<&str> = rows.iter().map(|r| r["site"].as_str().unwrap()).collect();
    assert_eq!(sites, ["ESRF", "MAXIV", "MAXIV"], "{rows:?}");
    assert_eq!(rows[0]["frames_total"], 3);
    assert!(close(&rows[2]["hit_rate"], 0.36), "{rows:?}");
    let frames = query_cli(&[
        "--site",
        &sa,
        "--site",
        &sb,
        "SELECT site, count(*) AS n FROM ssx_frames GROUP BY site",
    ]);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["n"], 3);
    // An unreachable site is named, or skipped with a warning when allowed.
    let missing = format!("DESY={}", dir.path().join("nowhere").display());
    let out = mxpipe(&["query", "--site", &sa, "--site", &missing, "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("site DESY"), "{}", text_of(&out));
    let out = mxpipe(&[
        "query",
        "--allow-missing-sites",
        "--site",
        &sa,
        "--site",
        &missing,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM ssx_frames",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(text_of(&out).contains("warning: skipped: site DESY"));
}

#[test]
fn sql_errors_and_unknown_tables_exit_1_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest(&store, "DLS", &[&repo().join("samples/ssx-chip.json")]);
    let s = store.to_str().unwrap();
    let out = mxpipe(&["query", "--store", s, "SELEC 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text_of(&out).contains("SELEC"), "{}", text_of(&out));
    let out = mxpipe(&["query", "--store", s, "SELECT * FROM no_such_view"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text_of(&out).contains("no_such_view") && text_of(&out).contains("not found"));
    // Parquet output is a real Parquet file with the rows.
    let file = dir.path().join("sweeps.parquet");
    let out = mxpipe(&[
        "query",
        "--store",
        s,
        "--format",
        "parquet",
        "--out",
        file.to_str().unwrap(),
        "SELECT * FROM sweeps",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
}

#[test]
fn queries_doc_lists_every_view() {
    let doc = std::fs::read_to_string(repo().join("docs/queries.md")).unwrap();
    for v in mxpipe_queries::views::VIEWS
        .iter()
        .filter(|v| !v.name.starts_with("store."))
    {
        assert!(
            doc.contains(&format!("### `{}`", v.name)),
            "docs/queries.md lacks {}",
            v.name
        );
        assert!(
            doc.contains(v.example),
            "docs/queries.md lacks the example of {}",
            v.name
        );
    }
}

/// Run `mxpipe sql` on a store with `input` on standard input and HOME in `home`.
fn sql_shell(store: &Path, home: &Path, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(["--store", store.to_str().unwrap(), "sql"])
        .env("HOME", home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn sql_shell_reads_multi_line_statements_and_describes_views() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest(
        &store,
        "DLS",
        &[&repo().join("samples/mad-interleaved.json")],
    );
    let out = sql_shell(
        &store,
        dir.path(),
        b"\\d\n\\d sweeps\nSELECT count(*)\n  AS sweeps_counted FROM sweeps;\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("image_index") && text.contains("barcode_reuse"),
        "{text}"
    );
    assert!(
        text.contains("energy_ev") && text.contains("Float64"),
        "{text}"
    );
    assert!(
        text.contains("sweeps_counted") && text.contains("| 2 "),
        "{text}"
    );
    let history = std::fs::read_to_string(dir.path().join(".mxpipe_history")).unwrap();
    assert!(
        history.contains("SELECT count(*)   AS sweeps_counted FROM sweeps;"),
        "{history}"
    );
    // A bad statement from a script makes the exit status 1.
    let out = sql_shell(&store, dir.path(), b"SELECT * FROM nope;\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text_of(&out).contains("nope"));
}

/// `samples`, `crystals` and `barcode_reuse` on the MAD sample and a second sample mounted on a pin
/// with the same barcode (new uuids for every object, another sample name).
#[test]
fn samples_crystals_and_barcode_reuse_views() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mad = repo().join("samples/mad-interleaved.json");
    let msg = read_json(&mad);
    let mut text = std::fs::read_to_string(&mad).unwrap();
    let mut uuids = Vec::new();
    for dict in msg
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_object)
    {
        for obj in dict.values() {
            uuids.push(obj["uuid"].as_str().unwrap().to_owned());
        }
    }
    for (i, u) in uuids.iter().enumerate() {
        text = text.replace(u, &format!("00000000-0000-4000-8000-{:012x}", i + 1));
    }
    let reused = text.replace("selmet-thermolysin-1", "lysozyme-7").replace(
        "urn:uuid:5d2b9f3e-8c1a-4f7e-9b3d-1e2f3a4b5c6d",
        "urn:uuid:1e9a3b7c-0d4f-4a2b-8c6e-7f1a2b3c4d5e",
    );
    let second = dir.path().join("second.json");
    std::fs::write(&second, reused).unwrap();
    ingest(&store, "DLS", &[&mad, &second]);
    let s = store.to_str().unwrap();
    let sample = &msg["MacromoleculeSample"]["MacromoleculeSample1"];
    let crystal = &msg["Crystal"]["Crystal1"];
    let barcode = msg["Pin"]["Pin1"]["barcode"].as_str().unwrap();
    let row = &query_cli(&[
        "--store",
        s,
        &format!(
            "SELECT * FROM samples WHERE sample_uuid = '{}'",
            sample["uuid"].as_str().unwrap()
        ),
    ])[0];
    assert_eq!(row["name"], sample["name"]);
    assert_eq!(row["mxlims_type"], "MacromoleculeSample");
    assert_eq!(row["barcodes"], barcode, "{row:?}");
    let row = &query_cli(&[
        "--store",
        s,
        &format!(
            "SELECT * FROM crystals WHERE crystal_uuid = '{}'",
            crystal["uuid"].as_str().unwrap()
        ),
    ])[0];
    assert_eq!(row["sample_name"], sample["name"]);
    assert_eq!(row["container_barcode"], barcode);
    assert_eq!(row["container_type"], "Pin");
    assert_eq!(
        row["pid"],
        crystal["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
    );
    let reuse = query_cli(&[
        "--store",
        s,
        "SELECT barcode, identities, crystals, samples, sites FROM barcode_reuse",
    ]);
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["barcode"], barcode);
    assert_eq!(
        (
            reuse[0]["identities"].as_i64(),
            reuse[0]["crystals"].as_i64(),
            reuse[0]["samples"].as_i64()
        ),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(reuse[0]["sites"].as_str(), Some("DLS"));
    let both = query_cli(&[
        "--store",
        s,
        "SELECT count(*) AS n FROM crystals WHERE container_barcode IS NOT NULL",
    ]);
    assert_eq!(both[0]["n"], 2);
}

/// The shell on a real terminal (a pseudo-terminal from util-linux `script`): line editing with
/// rustyline, a multi-line statement, history saved for the next session. Each line is typed only
/// after the prompt for it appeared.
#[test]
fn sql_shell_on_a_terminal_edits_lines_and_keeps_history() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("\n*** SKIPPED: /usr/bin/script (util-linux) not found ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest(
        &store,
        "DLS",
        &[&repo().join("samples/mad-interleaved.json")],
    );
    let command = format!(
        "{} --store {} sql",
        env!("CARGO_BIN_EXE_mxpipe"),
        store.display()
    );
    let mut child = std::process::Command::new("/usr/bin/script")
        .args(["-q", "-c", &command, "/dev/null"])
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |needle: &str, from: usize| -> usize {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !seen[from..].contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(s) => seen.push_str(&s),
                Err(_) => panic!("no {needle:?} on the terminal; got: {seen}"),
            }
        }
        seen.len()
    };
    let mut stdin = child.stdin.take().unwrap();
    let at = wait_for("mxpipe> ", 0);
    stdin
        .write_all(b"SELECT count(*) AS sweeps_here\r")
        .unwrap();
    let at = wait_for("...> ", at);
    stdin.write_all(b"  FROM sweeps;\r").unwrap();
    let at = wait_for("row(s)", at);
    stdin.write_all(b"\\q\r").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let table = &seen[..at];
    assert!(
        table.contains("sweeps_here") && table.contains("| 2 "),
        "{table}"
    );
    let history = std::fs::read_to_string(dir.path().join(".mxpipe_history")).unwrap();
    assert!(
        history.contains("SELECT count(*) AS sweeps_here   FROM sweeps;"),
        "{history}"
    );
}

/// An empty answer still names its columns: a table header, a CSV header, a Parquet schema.
#[test]
fn an_empty_answer_keeps_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ingest(&store, "DLS", &[&repo().join("samples/ssx-chip.json")]);
    let s = store.to_str().unwrap();
    let sql = "SELECT sweep_uuid, energy_ev FROM sweeps WHERE false";
    let o = mxpipe(&["--store", s, "query", sql]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.contains("sweep_uuid") && table.contains("energy_ev"),
        "{table}"
    );
    let o = mxpipe(&["--store", s, "query", "--format", "csv", sql]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sweep_uuid,energy_ev\n");
    let o = mxpipe(&["--store", s, "query", "--format", "json", sql]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    let file = dir.path().join("empty.parquet");
    let o = mxpipe(&[
        "--store",
        s,
        "query",
        "--format",
        "parquet",
        "--out",
        file.to_str().unwrap(),
        sql,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    let fields: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(fields, ["sweep_uuid", "energy_ev"]);
}
