//! Round trip: every valid message → typed model → JSON is equal as JSON to the input, and the
//! output validates against the upstream schemas (with only the CC½/CC_ano range bug corrected).

use mxpipe_model::json_eq::{first_difference, json_equal};
use mxpipe_model::validate::{Options, parse_message};
use mxpipe_model::{AnyMessage, MessageKind};
use serde_json::json;

use crate::common::*;

fn valid_messages() -> Vec<std::path::PathBuf> {
    let mut files = valid_samples();
    if let Some(td) = testdata() {
        let dir = td.join("mxlims/0.6.13/conformance");
        files.extend(json_files(&dir).into_iter().filter(|p| {
            let s = p.to_string_lossy();
            s.contains("/messages/") && s.contains("/valid/")
        }));
    }
    assert!(files.len() >= 5, "too few messages: {files:?}");
    files
}

#[test]
fn every_valid_message_round_trips_and_output_validates_upstream() {
    let td = testdata();
    let up = td.as_ref().map(|t| upstream(t, false));
    for path in valid_messages() {
        let input = read_json(&path);
        let (message, report) = parse_message(&input, &Options::default())
            .unwrap_or_else(|r| panic!("{}: not valid: {:?}", path.display(), r.findings));
        assert!(report.is_valid());
        let output = message.to_value();
        assert!(
            json_equal(&input, &output),
            "{}: differs at {:?}",
            path.display(),
            first_difference(&input, &output)
        );
        if let Some(up) = &up {
            let name = format!("messages/{}", message.kind().schema_name());
            let findings = up.validate(&name, &output).unwrap();
            assert!(
                findings.is_empty(),
                "{}: exported JSON fails upstream {name}: {findings:?}",
                path.display()
            );
        }
    }
}

#[test]
fn json_equality_compares_numbers_by_value_and_ignores_key_order() {
    assert!(json_equal(
        &json!({"a": 785, "b": [1.5, 2]}),
        &json!({"b": [1.5, 2.0], "a": 785.0})
    ));
    assert!(!json_equal(&json!({"a": 785}), &json!({"a": 785.0000001})));
    assert!(!json_equal(&json!({"a": [1, 2]}), &json!({"a": [2, 1]})));
    assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": null})));
}

#[test]
fn numbers_survive_without_loss() {
    // Values from the upstream examples that a naive float parser would change.
    let text = r#"{"version":"0.6.13","CollectionSweep":{"CollectionSweep1":{"mxlimsType":"CollectionSweep","scanAxis":"omega",
        "transmission":7.198800000000001,"axisPositionsStart":{"omega":-142.000000000043,"kappa":0.4618060992421657}}}}"#;
    let input: serde_json::Value = serde_json::from_str(text).unwrap();
    let (message, _) = parse_message(&input, &Options::default()).unwrap();
    let out = serde_json::to_string(&message.to_value()).unwrap();
    for literal in [
        "7.198800000000001",
        "-142.000000000043",
        "0.4618060992421657",
    ] {
        assert!(out.contains(literal), "{literal} lost in {out}");
    }
}

#[test]
fn links_resolve_to_the_uuids_of_their_targets() {
    let input = read_json(&repo().join("samples/two-crystal-merge.json"));
    let mut message = AnyMessage::from_value(MessageKind::detect(&input), &input).unwrap();
    assert_eq!(
        message.resolve_links(),
        0,
        "every link of the sample resolves"
    );
    let AnyMessage::Strict(m) = &message else {
        panic!("strict message expected")
    };
    let processing = &m.mx_processings.as_ref().unwrap()["MxProcessing1"];
    let sweeps = m.collection_sweeps.as_ref().unwrap();
    let inputs: Vec<_> = processing
        .input_data_refs
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.uuid.unwrap())
        .collect();
    assert_eq!(
        inputs,
        vec![
            sweeps["CollectionSweep1"].uuid.unwrap(),
            sweeps["CollectionSweep2"].uuid.unwrap()
        ]
    );
    // Resolution is not serialised: the JSON is unchanged.
    assert!(json_equal(&input, &message.to_value()));
}

#[test]
fn missing_uuids_are_minted_once() {
    let input = json!({"version": "0.6.13", "Macromolecule": {"Macromolecule1": {"mxlimsType": "Macromolecule", "acronym": "HEWL"}}});
    let mut message = AnyMessage::from_value(MessageKind::detect(&input), &input).unwrap();
    assert_eq!(message.mint_missing_uuids(), 1);
    assert_eq!(message.mint_missing_uuids(), 0);
    let uuid = message.entries()[0].object.as_object().uuid();
    assert!(uuid.is_some());
}

#[test]
fn mxpipe_extension_is_typed_and_round_trips() {
    use mxpipe_model::{DeliveryMethod, mxpipe_extension, set_mxpipe_extension};
    let input = read_json(&repo().join("samples/ssx-chip.json"));
    let message = AnyMessage::from_value(MessageKind::detect(&input), &input).unwrap();
    let AnyMessage::Strict(m) = &message else {
        panic!()
    };
    let mut exp = m.mx_experiments.as_ref().unwrap()["MxExperiment1"].clone();
    let ext = mxpipe_extension(&exp).unwrap().expect("extension present");
    let ssx = ext.ssx.clone().unwrap();
    assert_eq!(ssx.delivery_method, DeliveryMethod::FixedTarget);
    assert_eq!(ssx.delivery_method.pdbx_method(), "fixed target");
    assert!((ssx.hit_rate().unwrap() - 7936.0 / 25600.0).abs() < 1e-12);
    assert_eq!(ext.session.as_ref().unwrap().visit_label(), "mx31204-4");
    let before = serde_json::to_value(&exp).unwrap();
    set_mxpipe_extension(&mut exp, None);
    assert!(exp.extensions.is_none());
    set_mxpipe_extension(&mut exp, Some(&ext));
    assert!(json_equal(&before, &serde_json::to_value(&exp).unwrap()));
}
