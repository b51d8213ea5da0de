//! Semantic rules for logistics: positions within containers and the ShipmentMessage layouts.

use std::collections::HashMap;

use crate::messages::{AnyObject, Entry};

use super::Finding;
use super::semantic::{err, link_target};

pub(super) fn check_positions(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
    let by_ref: HashMap<String, &Entry<'_>> = entries
        .iter()
        .map(|e| (format!("#/{}/{}", e.dict, e.key), e))
        .collect();
    let container =
        |e: &Entry<'_>| link_target(e, "containerRef").and_then(|t| by_ref.get(t).copied());
    let mut occupied: HashMap<(String, &'static str, i64, i64), String> = HashMap::new();
    let mut place = |out: &mut Vec<Finding>,
                     holder: &str,
                     what: &'static str,
                     a: i64,
                     b: i64,
                     pointer: String| {
        if let Some(first) = occupied.get(&(holder.to_owned(), what, a, b)) {
            out.push(err(
                pointer,
                "position-duplicate",
                format!("a {what} not already taken in {holder} (taken by {first})"),
                if b == 0 {
                    a.to_string()
                } else {
                    format!("{a},{b}")
                },
            ));
        } else {
            occupied.insert((holder.to_owned(), what, a, b), pointer);
        }
    };
    let limit =
        |out: &mut Vec<Finding>, pointer: String, value: i64, max: Option<i64>, what: &str| {
            if let Some(max) = max
                && value > max
            {
                out.push(err(
                    pointer,
                    "position-range",
                    format!("{what} between 1 and {max} (the container's capacity)"),
                    value.to_string(),
                ));
            }
        };
    for e in entries {
        let holder = link_target(e, "containerRef").unwrap_or("").to_owned();
        match (e.object, container(e).map(|c| c.object)) {
            (AnyObject::Pin(pin), parent) => {
                if let Some(p) = pin.position_in_puck {
                    if let Some(AnyObject::Puck(puck)) = parent {
                        limit(
                            out,
                            format!("{}/positionInPuck", e.pointer()),
                            p,
                            puck.number_positions,
                            "positionInPuck",
                        );
                    }
                    if !holder.is_empty() {
                        place(
                            out,
                            &holder,
                            "puck position",
                            p,
                            0,
                            format!("{}/positionInPuck", e.pointer()),
                        );
                    }
                }
            }
            (AnyObject::MultiPin(mp), parent) => {
                if let Some(AnyObject::Puck(puck)) = parent {
                    limit(
                        out,
                        format!("{}/positionInPuck", e.pointer()),
                        mp.position_in_puck,
                        puck.number_positions,
                        "positionInPuck",
                    );
                }
                if !holder.is_empty() {
                    place(
                        out,
                        &holder,
                        "puck position",
                        mp.position_in_puck,
                        0,
                        format!("{}/positionInPuck", e.pointer()),
                    );
                }
            }
            (AnyObject::PinPosition(pp), parent) => {
                if let Some(AnyObject::MultiPin(mp)) = parent {
                    limit(
                        out,
                        format!("{}/positionInPin", e.pointer()),
                        pp.position_in_pin,
                        Some(mp.number_positions),
                        "positionInPin",
                    );
                }
                if !holder.is_empty() {
                    place(
                        out,
                        &holder,
                        "pin position",
                        pp.position_in_pin,
                        0,
                        format!("{}/positionInPin", e.pointer()),
                    );
                }
            }
            (AnyObject::Puck(puck), _) => {
                if let Some(p) = puck.position_in_dewar
                    && !holder.is_empty()
                {
                    place(
                        out,
                        &holder,
                        "dewar position",
                        p,
                        0,
                        format!("{}/positionInDewar", e.pointer()),
                    );
                }
            }
            (AnyObject::PlateWell(well), parent) => {
                if let Some(AnyObject::Plate(plate)) = parent
                    && let Some(pt) = &plate.plate_type
                {
                    limit(
                        out,
                        format!("{}/rowNumber", e.pointer()),
                        well.row_number,
                        Some(pt.number_rows),
                        "rowNumber",
                    );
                    limit(
                        out,
                        format!("{}/columnNumber", e.pointer()),
                        well.column_number,
                        Some(pt.number_columns),
                        "columnNumber",
                    );
                }
                if !holder.is_empty() {
                    place(
                        out,
                        &holder,
                        "well (row,column)",
                        well.row_number,
                        well.column_number,
                        format!("{}/rowNumber", e.pointer()),
                    );
                }
            }
            (AnyObject::WellDrop(drop), parent) => {
                let plate_type = parent
                    .and_then(|_| container(e))
                    .and_then(container)
                    .and_then(|p| match p.object {
                        AnyObject::Plate(plate) => plate.plate_type.as_ref(),
                        _ => None,
                    });
                if let Some(pt) = plate_type {
                    limit(
                        out,
                        format!("{}/dropNumber", e.pointer()),
                        drop.drop_number,
                        Some(pt.number_sub_positions),
                        "dropNumber",
                    );
                }
                if !holder.is_empty() {
                    place(
                        out,
                        &holder,
                        "drop number",
                        drop.drop_number,
                        0,
                        format!("{}/dropNumber", e.pointer()),
                    );
                }
            }
            _ => {}
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
