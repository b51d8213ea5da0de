//! Semantic rules for logistics: positions within containers and the ShipmentMessage layouts.

use std::collections::HashMap;

use crate::messages::{AnyObject, Entry};

use super::Finding;
use super::semantic::{err, link_target};

/// Where an item sits in its container: the limits its numbers must respect and the slot it takes.
struct Placement {
    /// (field, value, capacity) checks: value must be <= capacity.
    limits: Vec<(&'static str, i64, i64)>,
    /// (field reported, what the slot is, slot number, second slot number or 0).
    slot: (&'static str, &'static str, i64, i64),
}

fn placement(
    e: &Entry<'_>,
    parent: Option<AnyObject<'_>>,
    grandparent: Option<AnyObject<'_>>,
) -> Option<Placement> {
    let (limits, slot) = match (e.object, parent) {
        (AnyObject::Pin(pin), parent) => {
            let p = pin.position_in_puck?;
            let cap = match parent {
                Some(AnyObject::Puck(puck)) => puck.number_positions,
                _ => None,
            };
            (
                cap.map(|c| ("positionInPuck", p, c)).into_iter().collect(),
                ("positionInPuck", "puck position", p, 0),
            )
        }
        (AnyObject::MultiPin(mp), parent) => {
            let cap = match parent {
                Some(AnyObject::Puck(puck)) => puck.number_positions,
                _ => None,
            };
            (
                cap.map(|c| ("positionInPuck", mp.position_in_puck, c))
                    .into_iter()
                    .collect(),
                ("positionInPuck", "puck position", mp.position_in_puck, 0),
            )
        }
        (AnyObject::PinPosition(pp), parent) => {
            let cap = match parent {
                Some(AnyObject::MultiPin(mp)) => Some(mp.number_positions),
                _ => None,
            };
            (
                cap.map(|c| ("positionInPin", pp.position_in_pin, c))
                    .into_iter()
                    .collect(),
                ("positionInPin", "pin position", pp.position_in_pin, 0),
            )
        }
        (AnyObject::Puck(puck), _) => (
            Vec::new(),
            (
                "positionInDewar",
                "dewar position",
                puck.position_in_dewar?,
                0,
            ),
        ),
        (AnyObject::PlateWell(well), parent) => {
            let limits = match parent {
                Some(AnyObject::Plate(plate)) => plate.plate_type.as_ref().map(|pt| {
                    vec![
                        ("rowNumber", well.row_number, pt.number_rows),
                        ("columnNumber", well.column_number, pt.number_columns),
                    ]
                }),
                _ => None,
            };
            (
                limits.unwrap_or_default(),
                (
                    "rowNumber",
                    "well (row,column)",
                    well.row_number,
                    well.column_number,
                ),
            )
        }
        (AnyObject::WellDrop(drop), _) => {
            let cap = match grandparent {
                Some(AnyObject::Plate(plate)) => {
                    plate.plate_type.as_ref().map(|pt| pt.number_sub_positions)
                }
                _ => None,
            };
            (
                cap.map(|c| ("dropNumber", drop.drop_number, c))
                    .into_iter()
                    .collect(),
                ("dropNumber", "drop number", drop.drop_number, 0),
            )
        }
        _ => return None,
    };
    Some(Placement { limits, slot })
}

pub(super) fn check_positions(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
    let by_ref: HashMap<String, &Entry<'_>> = entries
        .iter()
        .map(|e| (format!("#/{}/{}", e.dict, e.key), e))
        .collect();
    let container =
        |e: &Entry<'_>| link_target(e, "containerRef").and_then(|t| by_ref.get(t).copied());
    let mut occupied: HashMap<(String, &'static str, i64, i64), String> = HashMap::new();
    for e in entries {
        let parent = container(e);
        let grandparent = parent.and_then(container);
        let Some(p) = placement(e, parent.map(|p| p.object), grandparent.map(|g| g.object)) else {
            continue;
        };
        for (field, value, max) in p.limits {
            if value > max {
                out.push(err(
                    format!("{}/{field}", e.pointer()),
                    "position-range",
                    format!("{field} between 1 and {max} (the container's capacity)"),
                    value.to_string(),
                ));
            }
        }
        let holder = link_target(e, "containerRef").unwrap_or("");
        if !holder.is_empty() {
            let (field, what, a, b) = p.slot;
            let pointer = format!("{}/{field}", e.pointer());
            match occupied.get(&(holder.to_owned(), what, a, b)) {
                Some(first) => out.push(err(
                    pointer,
                    "position-duplicate",
                    format!("a {what} not already taken in {holder} (taken by {first})"),
                    if b == 0 {
                        a.to_string()
                    } else {
                        format!("{a},{b}")
                    },
                )),
                None => {
                    occupied.insert((holder.to_owned(), what, a, b), pointer);
                }
            }
        }
    }
}

pub(super) fn check_shipment(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
    let count = |dict: &str| entries.iter().filter(|e| e.dict == dict).count();
    let shipments = count("Shipment");
    if shipments != 1 {
        out.push(err(
            "/Shipment",
            "shipment-count",
            "exactly one Shipment in a ShipmentMessage",
            shipments.to_string(),
        ));
    }
    for dict in ["Shipment", "MacromoleculeSample", "Macromolecule"] {
        if count(dict) == 0 {
            out.push(err(
                format!("/{dict}"),
                "shipment-required",
                format!("a {dict} dictionary (required in a ShipmentMessage)"),
                "absent",
            ));
        }
    }
    for e in entries {
        let o = e.object.as_object();
        let has_link = |field: &str| o.links().iter().any(|l| l.field == field);
        let mut need = |cond: bool, field: &str| {
            if !cond {
                out.push(err(
                    format!("{}/{field}", e.pointer()),
                    "shipment-required",
                    format!("{field} (required on {} in a ShipmentMessage)", e.dict),
                    "absent",
                ));
            }
        };
        match e.object {
            AnyObject::Shipment(s) => {
                need(s.lab_contact_outbound.is_some(), "labContactOutbound");
                need(s.lab_contact_return.is_some(), "labContactReturn");
            }
            AnyObject::Plate(p) => {
                need(has_link("containerRef"), "containerRef");
                need(p.barcode.is_some(), "barcode");
                need(p.plate_type.is_some(), "plateType");
            }
            AnyObject::PinPosition(_) => {
                need(has_link("containerRef"), "containerRef");
                need(has_link("sampleRef"), "sampleRef");
            }
            AnyObject::Crystal(c) => {
                need(has_link("containerRef"), "containerRef");
                need(has_link("sampleRef"), "sampleRef");
                need(c.name.is_some(), "name");
            }
            AnyObject::MacromoleculeSample(s) => {
                need(s.name.is_some(), "name");
                need(has_link("parentSampleRef"), "parentSampleRef");
            }
            AnyObject::PlateWell(_)
            | AnyObject::WellDrop(_)
            | AnyObject::DropRegion(_)
            | AnyObject::Dewar(_)
            | AnyObject::Puck(_)
            | AnyObject::MultiPin(_)
            | AnyObject::Pin(_) => need(has_link("containerRef"), "containerRef"),
            _ => {}
        }
    }
    let present: Vec<&str> = [
        "Dewar",
        "Puck",
        "Pin",
        "MultiPin",
        "PinPosition",
        "Plate",
        "PlateWell",
        "WellDrop",
        "DropRegion",
        "Crystal",
    ]
    .into_iter()
    .filter(|d| count(d) > 0)
    .collect();
    let has = |d: &str| present.contains(&d);
    let pins_have_samples = entries.iter().all(|e| match e.object {
        AnyObject::Pin(p) => p.sample_ref.is_some(),
        _ => true,
    });
    let variants = [
        (
            "pin shipment (Dewar, Puck, Pin with sampleRef; no MultiPin, PinPosition or plate types)",
            has("Dewar")
                && has("Puck")
                && has("Pin")
                && pins_have_samples
                && ![
                    "MultiPin",
                    "PinPosition",
                    "Plate",
                    "PlateWell",
                    "WellDrop",
                    "DropRegion",
                ]
                .iter()
                .any(|d| has(d)),
        ),
        (
            "multi-pin shipment (Dewar, Puck, MultiPin, PinPosition; no Pin or plate types)",
            has("Dewar")
                && has("Puck")
                && has("MultiPin")
                && has("PinPosition")
                && !["Pin", "Plate", "PlateWell", "WellDrop", "DropRegion"]
                    .iter()
                    .any(|d| has(d)),
        ),
        (
            "plate shipment (Plate, PlateWell, WellDrop, DropRegion, Crystal; no Dewar, Puck or pin types)",
            has("Plate")
                && has("PlateWell")
                && has("WellDrop")
                && has("DropRegion")
                && has("Crystal")
                && !["Dewar", "Puck", "Pin", "MultiPin", "PinPosition"]
                    .iter()
                    .any(|d| has(d)),
        ),
    ];
    let matching = variants.iter().filter(|(_, ok)| *ok).count();
    if matching != 1 {
        let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
        out.push(err(
            "",
            "shipment-variant",
            format!("exactly one layout: {}", names.join(" | ")),
            format!("dictionaries present: {}", present.join(", ")),
        ));
    }
}
