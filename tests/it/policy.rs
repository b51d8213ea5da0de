//! The documented policy on upstream 0.6.13 schema bugs (README "Validation policy"): by default
//! strict on structure and lenient where upstream is provably wrong; `--strict-upstream` gives
//! exactly the upstream verdict. One test per bug.

use mxpipe_model::validate::{Options, Severity, Target, validate_value};
use serde_json::{Value, json};

use crate::common::*;

struct Verdicts {
    own: bool,
    default_with_upstream: bool,
    strict_upstream: bool,
}

fn verdicts(value: &Value) -> Option<(Verdicts, Vec<String>)> {
    let td = testdata()?;
    let lenient = upstream(&td, false);
    let strict = upstream(&td, true);
    let own = validate_value(value, &Target::AutoMessage, &Options::default()).unwrap();
    let dflt = validate_value(
        value,
        &Target::AutoMessage,
        &Options {
            strict_upstream: false,
            upstream: Some(&lenient),
        },
    )
    .unwrap();
    let st = validate_value(
        value,
        &Target::AutoMessage,
        &Options {
            strict_upstream: true,
            upstream: Some(&strict),
        },
    )
    .unwrap();
    let warnings = st
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.rule.clone())
        .collect();
    Some((
        Verdicts {
            own: own.is_valid(),
            default_with_upstream: dflt.is_valid(),
            strict_upstream: st.is_valid(),
        },
        warnings,
    ))
}

fn mad() -> Value {
    read_json(&repo().join("samples/mad-interleaved.json"))
}

#[test]
fn stubs_are_accepted_by_default_and_rejected_under_strict_upstream() {
    let mut v = mad();
    let sample_uuid = v["MacromoleculeSample"]["MacromoleculeSample1"]["uuid"].clone();
    v.as_object_mut()
        .unwrap()
        .shift_remove("MacromoleculeSample");
    v.as_object_mut().unwrap().shift_remove("Macromolecule");
    v["Sample"] = json!({"Sample1": {"mxlimsBaseType": "Sample", "uuid": sample_uuid}});
    v["MxExperiment"]["MxExperiment1"]["sampleRef"] = json!({"$ref": "#/Sample/Sample1"});
    for pointer in ["/Crystal/Crystal1", "/Pin/Pin1"] {
        v.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .shift_remove("sampleRef");
    }
    let Some((got, _)) = verdicts(&v) else { return };
    assert!(
        got.own,
        "a stub {{mxlimsBaseType, uuid}} is accepted by mxpipe"
    );
    assert!(
        got.default_with_upstream,
        "patched upstream accepts the stub"
    );
    assert!(
        !got.strict_upstream,
        "upstream as published rejects every stub"
    );
}

#[test]
fn cc_half_is_a_correlation_coefficient_by_default() {
    let v = read_json(&repo().join("samples/two-crystal-merge.json"));
    let Some((got, _)) = verdicts(&v) else { return };
    assert!(
        got.own && got.default_with_upstream,
        "CC½ = 0.998 is accepted"
    );
    assert!(
        !got.strict_upstream,
        "upstream as published accepts only CC½ = -1"
    );
}

#[test]
fn dangling_refs_are_errors_by_default_and_warnings_under_strict_upstream() {
    let mut v = mad();
    v["CollectionSweep"]["CollectionSweep1"]["logisticalSampleRef"] =
        json!({"$ref": "#/Crystal/Crystal5"});
    let Some((got, warnings)) = verdicts(&v) else {
        return;
    };
    assert!(
        !got.own && !got.default_with_upstream,
        "mxpipe rejects a dangling ref"
    );
    assert!(
        got.strict_upstream,
        "upstream never checks that refs resolve"
    );
    assert!(
        warnings.contains(&"ref-dangling".to_owned()),
        "still reported as a warning: {warnings:?}"
    );
}

#[test]
fn duplicate_ordinals_are_errors_by_default_and_warnings_under_strict_upstream() {
    let mut v = mad();
    v["CollectionSweep"]["CollectionSweep2"]["scans"][0]["ordinal"] = json!(0);
    let Some((got, warnings)) = verdicts(&v) else {
        return;
    };
    assert!(!got.own);
    assert!(got.strict_upstream);
    assert!(warnings.contains(&"scan-ordinal-duplicate".to_owned()));
}

#[test]
fn unknown_top_level_keys_are_errors_by_default_and_pass_under_strict_upstream() {
    let mut v = mad();
    v["Crystals"] = json!({"note": "typo of Crystal"});
    let Some((got, warnings)) = verdicts(&v) else {
        return;
    };
    assert!(!got.own);
    assert!(got.strict_upstream, "MxlimsMessageStrict is open upstream");
    assert!(warnings.contains(&"unknown-top-level-key".to_owned()));
}

#[test]
fn upstream_strictness_is_kept_where_upstream_is_not_wrong() {
    // Upper-case uuids are rejected by both (a limitation, not a provable bug).
    let mut v = mad();
    v["Crystal"]["Crystal1"]["uuid"] = json!("733AE6E4-174A-41F1-8BD5-C4474E33FB12");
    let Some((got, _)) = verdicts(&v) else { return };
    assert!(!got.own && !got.default_with_upstream && !got.strict_upstream);
}
