//! The `mxpipe` binary: verdicts, exit codes, error locations, JSON output, help.

use crate::common::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn valid_samples_exit_zero() {
    let files: Vec<String> = valid_samples()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = mxpipe(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out).matches(": valid (").count(), files.len());
}

#[test]
fn invalid_sample_exits_one_and_names_file_pointer_rule_expected_found() {
    let out = mxpipe(&[
        "validate",
        "samples/invalid-mad.json",
        "samples/mad-interleaved.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("samples/mad-interleaved.json: valid"),
        "{text}"
    );
    assert!(text.contains("samples/invalid-mad.json: INVALID"), "{text}");
    for needle in [
        "error[scan-ordinal-duplicate] samples/invalid-mad.json:/CollectionSweep/CollectionSweep2/scans/0/ordinal: expected",
        "error[schema:exclusiveMinimum] samples/invalid-mad.json:/CollectionSweep/CollectionSweep2/exposureTime: expected a number > 0; found -0.02",
        "error[ref-dangling] samples/invalid-mad.json:/Crystal/Crystal1/containerRef/$ref",
        "error[schema:pattern] samples/invalid-mad.json:/MxExperiment/MxExperiment1/endTime: expected ISO 8601 date-time with a mandatory time zone",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn json_format_is_machine_readable() {
    let out = mxpipe(&[
        "validate",
        "--format",
        "json",
        "samples/invalid-mad.json",
        "samples/ssx-chip.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v[1]["valid"], true);
    assert_eq!(v[0]["schema"], "messages/MxlimsMessageStrict");
    let rules: Vec<&str> = v[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"ref-dangling"), "{rules:?}");
    assert!(
        v[0]["findings"][0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with('/')
    );
}

#[test]
fn unreadable_file_exits_two() {
    let out = mxpipe(&[
        "validate",
        "samples/mad-interleaved.json",
        "samples/does-not-exist.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("samples/does-not-exist.json: cannot read")
    );
}

#[test]
fn not_json_is_invalid_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"version\": \"0.6.13\",\n  \"Crystal\": {\n}").unwrap();
    let out = mxpipe(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("error[json-syntax]") && text.contains("line 3"),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(mxpipe(&["validate"]).status.code(), Some(2));
    assert_eq!(
        mxpipe(&["validate", "--strict-upstream", "samples/ssx-chip.json"])
            .status
            .code(),
        Some(2)
    );
    let out = mxpipe(&[
        "validate",
        "--schema",
        "objects/NoSuchThing",
        "samples/ssx-chip.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown schema"));
    let out = mxpipe(&[
        "validate",
        "--against",
        "/nonexistent/schemas",
        "samples/ssx-chip.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn against_upstream_and_strict_upstream_from_the_command_line() {
    let Some(td) = testdata() else { return };
    let dir = upstream_dir(&td).display().to_string();
    let ok = mxpipe(&[
        "validate",
        "--against",
        &dir,
        "samples/two-crystal-merge.json",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    let strict = mxpipe(&[
        "validate",
        "--against",
        &dir,
        "--strict-upstream",
        "samples/two-crystal-merge.json",
    ]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        stdout(&strict).contains("error[upstream:maximum]"),
        "{}",
        stdout(&strict)
    );
}

#[test]
fn named_schema_validates_a_single_object() {
    let Some(td) = testdata() else { return };
    let f = td.join("mxlims/0.6.13/conformance/all/objects/Shipment/invalid/BadUrlsValue.json");
    let out = mxpipe(&["validate", "--schema", "Shipment", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("(objects/Shipment"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn help_has_examples() {
    for args in [
        vec!["--help"],
        vec!["validate", "--help"],
        vec!["schema", "--help"],
    ] {
        let out = mxpipe(&args);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            stdout(&out).contains("Examples:"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn schema_command_writes_lists_prints_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("s");
    assert_eq!(
        mxpipe(&["schema", "--out", out_dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert!(out_dir.join("messages/MxlimsMessage.json").is_file());
    assert_eq!(
        mxpipe(&["schema", "--check", out_dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(out_dir.join("datatypes/Scan.json"), "{}").unwrap();
    assert_eq!(
        mxpipe(&["schema", "--check", out_dir.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let list = stdout(&mxpipe(&["schema", "--list"]));
    assert!(list.lines().any(|l| l == "objects/CollectionSweep"));
    let one: serde_json::Value =
        serde_json::from_slice(&mxpipe(&["schema", "Scan"]).stdout).unwrap();
    assert_eq!(one["title"], "Scan");
}
