//! Invalid probes: each breaks one rule of a valid own sample and must be rejected with that rule
//! named. The unmodified bases are checked to be valid first, so each probe tests its one change.

use mxpipe_model::validate::{Options, Target, validate_value};
use serde_json::{Value, json};

use crate::common::*;

fn sample(name: &str) -> Value {
    read_json(&repo().join("samples").join(name))
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = v
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(m) => {
            m.insert(key.to_owned(), value);
        }
        Value::Array(a) => {
            a[key.parse::<usize>().unwrap()] = value;
        }
        _ => panic!("{pointer}: parent is not a container"),
    }
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .shift_remove(key)
        .unwrap_or_else(|| panic!("no {pointer}"));
}

fn rename_key(v: &mut Value, dict: &str, from: &str, to: &str) {
    let map = v[dict].as_object_mut().unwrap();
    let obj = map.shift_remove(from).unwrap();
    map.insert(to.to_owned(), obj);
}

struct Probe {
    name: &'static str,
    base: &'static str,
    schema: Option<&'static str>,
    mutate: fn(&mut Value),
    rule: &'static str,
}

const MAD: &str = "mad-interleaved.json";
const TWO: &str = "two-crystal-merge.json";
const SSX: &str = "ssx-chip.json";
const SHIP: &str = "shipment-unipucks.json";
const SW1: &str = "/CollectionSweep/CollectionSweep1";
const EXP1: &str = "/MxExperiment/MxExperiment1";

fn probes() -> Vec<Probe> {
    macro_rules! p {
        ($name:literal, $base:expr, $rule:literal, $m:expr) => {
            Probe {
                name: $name,
                base: $base,
                schema: None,
                mutate: $m,
                rule: $rule,
            }
        };
        ($name:literal, $base:expr, $schema:literal, $rule:literal, $m:expr) => {
            Probe {
                name: $name,
                base: $base,
                schema: Some($schema),
                mutate: $m,
                rule: $rule,
            }
        };
    }
    vec![
        p!("upper-case uuid", MAD, "schema:pattern", |v| set(
            v,
            &format!("{EXP1}/uuid"),
            json!("3B5B8750-4F0C-44D2-BB09-BBF948AB0CDA")
        )),
        p!("uuid version 7", MAD, "schema:pattern", |v| set(
            v,
            &format!("{EXP1}/uuid"),
            json!("01890a5d-ac96-774b-bcce-b302099a8057")
        )),
        p!(
            "negative exposure",
            MAD,
            "schema:exclusiveMinimum",
            |v| set(v, &format!("{SW1}/exposureTime"), json!(-0.1))
        ),
        p!("transmission over 100 %", MAD, "schema:maximum", |v| set(
            v,
            &format!("{SW1}/transmission"),
            json!(120.0)
        )),
        p!(
            "sourceRef and derivedFromRef both set",
            MAD,
            "source-xor-derived",
            |v| set(
                v,
                &format!("{SW1}/derivedFromRef"),
                json!({"$ref": "#/CollectionSweep/CollectionSweep2"})
            )
        ),
        p!("dangling ref", MAD, "ref-dangling", |v| set(
            v,
            &format!("{SW1}/logisticalSampleRef"),
            json!({"$ref": "#/Crystal/Crystal9"})
        )),
        p!(
            "ref to a type the field does not allow",
            MAD,
            "ref-type",
            |v| set(
                v,
                &format!("{SW1}/sourceRef"),
                json!({"$ref": "#/Crystal/Crystal1"})
            )
        ),
        p!("ref mxlimsType hint disagrees", MAD, "ref-type", |v| {
            set(
                v,
                &format!("{SW1}/sourceRef/mxlimsType"),
                json!("MxExperiment"),
            );
            set(
                v,
                &format!("{SW1}/logisticalSampleRef/mxlimsType"),
                json!("Pin"),
            );
        }),
        p!("ref of the wrong shape", MAD, "ref-syntax", |v| set(
            v,
            &format!("{SW1}/logisticalSampleRef"),
            json!({"$ref": "#/Crystal"})
        )),
        p!(
            "duplicate scan ordinal",
            MAD,
            "scan-ordinal-duplicate",
            |v| set(
                v,
                "/CollectionSweep/CollectionSweep2/scans/3/ordinal",
                json!(0)
            )
        ),
        p!("overlapping scans in one sweep", MAD, "scan-overlap", |v| {
            set(v, &format!("{SW1}/scans/1/firstImageNumber"), json!(50))
        }),
        p!("key not <Type><n>", MAD, "key-pattern", |v| {
            rename_key(v, "Crystal", "Crystal1", "xtal");
            for p in [
                format!("{SW1}/logisticalSampleRef"),
                "/CollectionSweep/CollectionSweep2/logisticalSampleRef".into(),
                format!("{EXP1}/logisticalSampleRef"),
            ] {
                set(v, &p, json!({"$ref": "#/Crystal/xtal"}));
            }
        }),
        p!("key numbered from 0", MAD, "key-pattern", |v| {
            rename_key(v, "Pin", "Pin1", "Pin0");
            set(
                v,
                "/Crystal/Crystal1/containerRef",
                json!({"$ref": "#/Pin/Pin0"}),
            );
        }),
        p!(
            "wrong mxlimsType in a dictionary",
            MAD,
            "schema:const",
            |v| set(v, "/Crystal/Crystal1/mxlimsType", json!("Pin"))
        ),
        p!("duplicate uuid", MAD, "uuid-duplicate", |v| {
            let u = v.pointer(&format!("{EXP1}/uuid")).unwrap().clone();
            set(v, "/Crystal/Crystal1/uuid", u)
        }),
        p!("naive date-time", MAD, "schema:pattern", |v| set(
            v,
            &format!("{EXP1}/startTime"),
            json!("2026-03-02T10:15:02")
        )),
        p!("end before start", MAD, "datetime-order", |v| set(
            v,
            &format!("{EXP1}/endTime"),
            json!("2026-03-02T09:00:00+00:00")
        )),
        p!(
            "end before start across time zones",
            TWO,
            "datetime-order",
            |v| set(
                v,
                "/MxProcessing/MxProcessing1/endTime",
                json!("2026-04-10T15:10:00+05:00")
            )
        ),
        p!(
            "unknown object property",
            MAD,
            "schema:additionalProperties",
            |v| set(v, &format!("{SW1}/wavelength"), json!(0.979))
        ),
        p!("unknown top-level key", MAD, "unknown-top-level-key", |v| {
            set(v, "/Crystals", json!({}))
        }),
        p!("empty type dictionary", MAD, "empty-dict", |v| set(
            v,
            "/Medium",
            json!({})
        )),
        p!("wrong version", MAD, "schema:const", |v| set(
            v,
            "/version",
            json!("0.6.12")
        )),
        p!(
            "extension value not an object",
            MAD,
            "schema:type",
            |v| set(v, &format!("{EXP1}/extensions/esrf.fr"), json!("MXPressE"))
        ),
        p!(
            "extension key not a domain",
            MAD,
            "schema:propertyNames",
            |v| set(v, &format!("{EXP1}/extensions/localhost"), json!({}))
        ),
        p!(
            "space group spelling not allowed",
            MAD,
            "schema:enum",
            |v| set(v, &format!("{EXP1}/expectedSpaceGroupName"), json!("R3:H"))
        ),
        p!("missing scanAxis", MAD, "schema:required", |v| remove(
            v,
            &format!("{SW1}/scanAxis")
        )),
        p!(
            "inputDataRefs on an MxExperiment",
            MAD,
            "schema:additionalProperties",
            |v| set(
                v,
                &format!("{EXP1}/inputDataRefs"),
                json!([{"$ref": "#/CollectionSweep/CollectionSweep1"}])
            )
        ),
        p!("resolution limits reversed", TWO, "resolution-order", |v| {
            set(
                v,
                "/ReflectionSet/ReflectionSet1/reflectionStatisticsShells/1/resolutionLimits",
                json!([1.62, 1.65]),
            )
        }),
        p!("CC one half above 1", TWO, "schema:maximum", |v| set(
            v,
            "/ReflectionSet/ReflectionSet1/reflectionStatisticsOverall/CC_one_half",
            json!(99.8)
        )),
        p!(
            "position beyond puck capacity",
            TWO,
            "position-range",
            |v| set(v, "/Pin/Pin2/positionInPuck", json!(17))
        ),
        p!(
            "two pins in one puck position",
            TWO,
            "position-duplicate",
            |v| set(v, "/Pin/Pin2/positionInPuck", json!(7))
        ),
        p!("container cycle", TWO, "container-cycle", |v| set(
            v,
            "/Puck/Puck1/containerRef",
            json!({"$ref": "#/Pin/Pin1"})
        )),
        p!("startedFrom cycle", TWO, "link-cycle", |v| {
            set(
                v,
                "/MxExperiment/MxExperiment1/startedFromRef",
                json!({"$ref": "#/MxExperiment/MxExperiment2"}),
            );
            set(
                v,
                "/MxExperiment/MxExperiment2/startedFromRef",
                json!({"$ref": "#/MxExperiment/MxExperiment1"}),
            );
        }),
        p!(
            "point-cloud arrays of different length",
            MAD,
            "parallel-arrays",
            |v| set(
                v,
                "/VolumeScan",
                json!({"VolumeScan1": {"mxlimsType": "VolumeScan",
            "resultVolume": {"position": {"sampx": 0.1}, "coordinates": [[0.0, 0.0, 0.0], [0.01, 0.0, 0.0]], "dozorScores": [3.2]}}})
            )
        ),
        p!(
            "mxpipe extension with an unknown field",
            MAD,
            "extension-mxpipe",
            |v| set(
                v,
                &format!("{EXP1}/extensions/mxpipe.org/session/room"),
                json!("B21")
            )
        ),
        p!("SSX hits exceed frames", SSX, "ssx-counts", |v| set(
            v,
            &format!("{EXP1}/extensions/mxpipe.org/ssx/crystalHits"),
            json!(30000)
        )),
        p!(
            "session ends before it starts",
            SSX,
            "datetime-order",
            |v| set(
                v,
                &format!("{EXP1}/extensions/mxpipe.org/session/endTime"),
                json!("2026-05-17T08:00:00+01:00")
            )
        ),
        p!(
            "two shipments in a ShipmentMessage",
            SHIP,
            "shipment-count",
            |v| {
                let s = v["Shipment"]["Shipment1"].clone();
                set(v, "/Shipment/Shipment2", s);
                let u = json!("6f1c2b6a-3d0e-4a8b-9c7d-2e1f0a9b8c7d");
                set(v, "/Shipment/Shipment2/uuid", u)
            }
        ),
        p!(
            "pin without sampleRef in a pin shipment",
            SHIP,
            "shipment-variant",
            |v| remove(v, "/Pin/Pin3/sampleRef")
        ),
        p!(
            "pin shipment mixed with a plate",
            SHIP,
            "shipment-variant",
            |v| set(
                v,
                "/Plate",
                json!({"Plate1": {"mxlimsType": "Plate", "barcode": "P1", "containerRef": {"$ref": "#/Shipment/Shipment1"},
            "plateType": {"numberRows": 8, "numberColumns": 12, "numberSubPositions": 3, "dropMapping": "12,3R"}}})
            )
        ),
        p!("missing return contact", SHIP, "shipment-required", |v| {
            remove(v, "/Shipment/Shipment1/labContactReturn")
        }),
        p!(
            "person with neither e-mail nor phone",
            SHIP,
            "schema:anyOf",
            |v| set(
                v,
                "/Shipment/Shipment1/labContactOutbound",
                json!({"name": "Nobody"})
            )
        ),
        p!(
            "experiment inside a ShipmentMessage",
            SHIP,
            "messages/ShipmentMessage",
            "schema:additionalProperties",
            |v| set(
                v,
                "/MxExperiment",
                json!({"MxExperiment1": {"mxlimsType": "MxExperiment"}})
            )
        ),
    ]
}

#[test]
fn every_probe_is_rejected_with_its_rule_named() {
    let probes = probes();
    assert!(
        probes.len() >= 25,
        "at least 25 probes, have {}",
        probes.len()
    );
    let mut failures = Vec::new();
    for p in &probes {
        let base = sample(p.base);
        let target = p
            .schema
            .map(|s| Target::Named(s.to_owned()))
            .unwrap_or(Target::AutoMessage);
        let base_report = validate_value(&base, &target, &Options::default()).unwrap();
        assert!(
            base_report.is_valid(),
            "base {} must be valid: {:?}",
            p.base,
            base_report.findings
        );
        let mut v = base.clone();
        (p.mutate)(&mut v);
        let report = validate_value(&v, &target, &Options::default()).unwrap();
        let rules: Vec<&str> = report.errors().map(|f| f.rule.as_str()).collect();
        if report.is_valid() || !rules.contains(&p.rule) {
            failures.push(format!(
                "{}: expected rule {}, got {:?}",
                p.name, p.rule, report.findings
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} probes misjudged:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
