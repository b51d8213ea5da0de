//! The upstream conformance suite: every file meets its valid/invalid expectation. The path says
//! which schema applies: `<all|vX>/<dir>/<Schema>/<valid|invalid>/<file>.json`; new upstream files
//! drop in unchanged.

use std::path::Path;

use mxpipe_model::validate::{Options, Target, validate_value};

use crate::common::*;

struct Case {
    file: String,
    schema: String,
    expect_valid: bool,
}

fn cases(testdata: &Path) -> Vec<(Case, serde_json::Value)> {
    let root = testdata.join("mxlims/0.6.13/conformance");
    let files = json_files(&root);
    assert!(
        files.len() >= 18,
        "expected the 18 upstream conformance files, found {}",
        files.len()
    );
    files
        .into_iter()
        .map(|p| {
            let rel: Vec<String> = p
                .strip_prefix(&root)
                .unwrap()
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            assert_eq!(rel.len(), 5, "unexpected layout {}", p.display());
            let (dir, schema, verdict) = (&rel[1], &rel[2], &rel[3]);
            assert!(rel[0] == "all" || rel[0] == "v0.6.13", "{}", p.display());
            assert!(
                verdict == "valid" || verdict == "invalid",
                "{}",
                p.display()
            );
            (
                Case {
                    file: p.display().to_string(),
                    schema: format!("{dir}/{schema}"),
                    expect_valid: verdict == "valid",
                },
                read_json(&p),
            )
        })
        .collect()
}

fn check_all(options: &Options, label: &str) {
    let Some(td) = testdata() else { return };
    let mut wrong = Vec::new();
    for (case, value) in cases(&td) {
        let report = validate_value(&value, &Target::Named(case.schema.clone()), options)
            .expect("schema exists");
        if report.is_valid() != case.expect_valid {
            wrong.push(format!(
                "{} ({}): expected {}, got {:?}",
                case.file,
                case.schema,
                if case.expect_valid {
                    "valid"
                } else {
                    "invalid"
                },
                report.findings
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{label}: {} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn own_layers_alone_meet_every_expectation() {
    check_all(&Options::default(), "generated schema + semantic layer");
}

#[test]
fn with_upstream_schemas_every_expectation_holds() {
    let Some(td) = testdata() else { return };
    let up = upstream(&td, false);
    check_all(
        &Options {
            strict_upstream: false,
            upstream: Some(&up),
        },
        "default mode with --against",
    );
}

#[test]
fn strict_upstream_reproduces_upstream_verdicts() {
    let Some(td) = testdata() else { return };
    let up = upstream(&td, true);
    check_all(
        &Options {
            strict_upstream: true,
            upstream: Some(&up),
        },
        "--strict-upstream",
    );
}

#[test]
fn invalid_files_are_rejected_for_the_right_reason() {
    let Some(td) = testdata() else { return };
    for (case, value) in cases(&td).into_iter().filter(|(c, _)| !c.expect_valid) {
        let report = validate_value(
            &value,
            &Target::Named(case.schema.clone()),
            &Options::default(),
        )
        .unwrap();
        let rules: Vec<&str> = report.errors().map(|f| f.rule.as_str()).collect();
        let name = case.file.rsplit('/').next().unwrap().to_owned();
        let expected = match name.as_str() {
            "BadIdentifiersKey.json" | "BadUrlsKey.json" => "schema:propertyNames",
            "BadUrlsValue.json" => "schema:pattern",
            "IntegerIdentifier.json" => "schema:type",
            _ => "drop-image-source",
        };
        assert!(
            rules.contains(&expected),
            "{name}: expected rule {expected}, got {rules:?}"
        );
    }
}
