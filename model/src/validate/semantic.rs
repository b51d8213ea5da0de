//! The semantic layer: rules that JSON Schema cannot express, run on the typed model.
//!
//! Rule names (stable, used in reports and tests):
//! `empty-dict`, `unknown-top-level-key`, `key-pattern`, `uuid-duplicate`, `ref-syntax`, `ref-type`,
//! `ref-dangling`, `scan-ordinal-duplicate`, `scan-overlap`, `position-range`, `position-duplicate`,
//! `container-cycle`, `link-cycle`, `datetime-order`, `source-xor-derived`, `parallel-arrays`,
//! `drop-image-source`, `resolution-order`, `extension-mxpipe`, `ssx-counts`, `shipment-count`,
//! `shipment-required`, `shipment-variant`.

use std::collections::{HashMap, HashSet};

use crate::datatypes::{DropImage, PointCloud, ReflectionStatistics, Region};
use crate::extensions::{MxpipeExtension, mxpipe_extension};
use crate::messages::{AnyMessage, AnyObject, Entry, MessageKind};
use crate::objects::MxlimsObject;
use crate::primitives::AwareDateTime;

use super::{Finding, Layer, escape_pointer};

fn err(
    pointer: impl Into<String>,
    rule: &str,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Finding {
    Finding::error(Layer::Semantic, pointer, rule, expected, found)
}

/// All semantic rules for a whole message.
pub fn check_message(message: &AnyMessage) -> Vec<Finding> {
    let mut out = Vec::new();
    let entries = message.entries();
    let stubs = message.stubs();

    for dict in message.empty_dicts() {
        out.push(err(
            format!("/{dict}"),
            "empty-dict",
            "at least one object in the dictionary",
            "{}",
        ));
    }
    for key in message.unknown_top_level_keys() {
        out.push(err(
            format!("/{}", escape_pointer(key)),
            "unknown-top-level-key",
            "only `version` and MXLIMS type names (CollectionSweep, Crystal, ...) at the top level",
            format!("{key:?}"),
        ));
    }

    // Keys and uuids.
    let mut seen_uuids: HashMap<String, String> = HashMap::new();
    let keyed = entries
        .iter()
        .map(|e| (e.dict, e.key, e.object.as_object().uuid()))
        .chain(stubs.iter().map(|s| (s.dict, s.key, Some(s.uuid))));
    for (dict, key, uuid) in keyed {
        let pointer = format!("/{dict}/{}", escape_pointer(key));
        if !key_matches(dict, key) {
            out.push(err(
                pointer.clone(),
                "key-pattern",
                format!("a key {dict}<n> with n = 1, 2, ... (^{dict}[1-9][0-9]*$)"),
                format!("{key:?}"),
            ));
        }
        if let Some(u) = uuid {
            let text = u.to_string();
            if let Some(first) = seen_uuids.get(&text) {
                out.push(err(
                    format!("{pointer}/uuid"),
                    "uuid-duplicate",
                    format!("a uuid not used by any other object (already used by {first})"),
                    text,
                ));
            } else {
                seen_uuids.insert(text, pointer);
            }
        }
    }

    // Links.
    let mut targets: HashMap<String, &'static str> = HashMap::new();
    for e in &entries {
        targets.insert(format!("#/{}/{}", e.dict, e.key), e.dict);
    }
    for s in &stubs {
        targets.insert(format!("#/{}/{}", s.dict, s.key), s.dict);
    }
    for e in &entries {
        for lf in e.object.as_object().links() {
            let pointer = match lf.index {
                Some(i) => format!("{}/{}/{i}", e.pointer(), lf.field),
                None => format!("{}/{}", e.pointer(), lf.field),
            };
            let Some((ty, _)) = lf.link.type_and_key() else {
                out.push(err(
                    format!("{pointer}/$ref"),
                    "ref-syntax",
                    "a reference of the form #/<Type>/<Type><n>",
                    format!("{:?}", lf.link.target),
                ));
                continue;
            };
            if !lf.allowed.contains(&ty) {
                out.push(err(
                    format!("{pointer}/$ref"),
                    "ref-type",
                    format!("a link to {}", lf.allowed.join(" | ")),
                    format!("a link to {ty} ({})", lf.link.target),
                ));
            }
            if let Some(hint) = &lf.link.mxlims_type
                && hint != ty
            {
                out.push(err(
                    format!("{pointer}/mxlimsType"),
                    "ref-type",
                    format!("mxlimsType {ty:?} (the type the reference points into)"),
                    format!("{hint:?}"),
                ));
            }
            match targets.get(&lf.link.target) {
                None => out.push(err(
                    format!("{pointer}/$ref"),
                    "ref-dangling",
                    "a reference to an object present in the message",
                    format!("{} (no such object)", lf.link.target),
                )),
                Some(actual) if *actual != ty => out.push(err(
                    format!("{pointer}/$ref"),
                    "ref-type",
                    format!("a {ty} object"),
                    format!("a {actual}"),
                )),
                Some(_) => {}
            }
        }
    }

    check_cycles(&entries, &mut out);
    check_ordinals(&entries, &mut out);
    check_positions(&entries, &mut out);
    for e in &entries {
        out.extend(check_object(e.object, &e.pointer()));
    }
    if message.kind() == MessageKind::Shipment {
        check_shipment(&entries, &mut out);
    }
    out
}

fn key_matches(dict: &str, key: &str) -> bool {
    key.strip_prefix(dict).is_some_and(|n| {
        let mut chars = n.chars();
        matches!(chars.next(), Some('1'..='9')) && chars.all(|c| c.is_ascii_digit())
    })
}

fn link_target<'a>(e: &Entry<'a>, field: &str) -> Option<&'a str> {
    e.object
        .as_object()
        .links()
        .into_iter()
        .find(|l| l.field == field && l.index.is_none())
        .map(|l| l.link.target.as_str())
}

fn check_cycles(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
    for (field, rule) in [
        ("containerRef", "container-cycle"),
        ("startedFromRef", "link-cycle"),
        ("derivedFromRef", "link-cycle"),
        ("parentSampleRef", "link-cycle"),
    ] {
        let next: HashMap<String, (String, String)> = entries
            .iter()
            .filter_map(|e| {
                let target = e
                    .object
                    .as_object()
                    .links()
                    .into_iter()
                    .find(|l| l.field == field)?
                    .link
                    .target
                    .clone();
                Some((format!("#/{}/{}", e.dict, e.key), (target, e.pointer())))
            })
            .collect();
        let mut reported: HashSet<String> = HashSet::new();
        for start in next.keys() {
            let mut path = vec![start.clone()];
            let mut current = start.clone();
            while let Some((target, _)) = next.get(&current) {
                if let Some(pos) = path.iter().position(|p| p == target) {
                    let cycle: Vec<String> = path[pos..].to_vec();
                    let mut sorted = cycle.clone();
                    sorted.sort();
                    if reported.insert(sorted.join(",")) {
                        let (_, pointer) = &next[&cycle[0]];
                        let mut shown = cycle.clone();
                        shown.push(cycle[0].clone());
                        out.push(err(
                            format!("{pointer}/{field}"),
                            rule,
                            format!("{field} links that never lead back to the same object"),
                            format!("cycle {}", shown.join(" -> ")),
                        ));
                    }
                    break;
                }
                path.push(target.clone());
                current = target.clone();
            }
        }
    }
}

fn check_ordinals(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
    // Ordinals are the acquisition order across one experiment: group sweeps by their source.
    let mut seen: HashMap<(String, i64), String> = HashMap::new();
    for e in entries {
        let AnyObject::CollectionSweep(sweep) = e.object else {
            continue;
        };
        let group = sweep
            .source_ref
            .as_ref()
            .map(|r| r.target.clone())
            .unwrap_or_else(|| e.pointer());
        for (i, scan) in sweep.scans.iter().flatten().enumerate() {
            let pointer = format!("{}/scans/{i}/ordinal", e.pointer());
            match seen.get(&(group.clone(), scan.ordinal)) {
                Some(first) => out.push(err(pointer, "scan-ordinal-duplicate", format!("an ordinal not used by another scan of the same experiment (already used at {first})"), scan.ordinal.to_string())),
                None => { seen.insert((group.clone(), scan.ordinal), pointer); }
            }
        }
    }
}

fn check_positions(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
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

fn check_shipment(entries: &[Entry<'_>], out: &mut Vec<Finding>) {
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

/// Rules that concern one object on its own (also used when validating a single object file).
pub fn check_object(object: AnyObject<'_>, pointer: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let job_times =
        |start: &Option<AwareDateTime>, end: &Option<AwareDateTime>, out: &mut Vec<Finding>| {
            if let (Some(s), Some(e)) = (start, end)
                && e.value() < s.value()
            {
                out.push(err(
                    format!("{pointer}/endTime"),
                    "datetime-order",
                    format!("an endTime not before startTime {s}"),
                    e.to_string(),
                ));
            }
        };
    match object {
        AnyObject::MxExperiment(o) => job_times(&o.start_time, &o.end_time, &mut out),
        AnyObject::MxProcessing(o) => job_times(&o.start_time, &o.end_time, &mut out),
        AnyObject::VolumeScan(o) => {
            job_times(&o.start_time, &o.end_time, &mut out);
            if let Some(pc) = &o.search_volume {
                check_point_cloud(pc, &format!("{pointer}/searchVolume"), &mut out);
            }
            if let Some(pc) = &o.result_volume {
                check_point_cloud(pc, &format!("{pointer}/resultVolume"), &mut out);
            }
        }
        AnyObject::CollectionSweep(o) => {
            if o.source_ref.is_some() && o.derived_from_ref.is_some() {
                out.push(err(
                    format!("{pointer}/derivedFromRef"),
                    "source-xor-derived",
                    "either sourceRef or derivedFromRef, not both",
                    "both",
                ));
            }
            let mut ranges: Vec<(i64, i64, usize)> = o
                .scans
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, s)| {
                    (
                        s.first_image_number,
                        s.first_image_number + s.number_images - 1,
                        i,
                    )
                })
                .collect();
            ranges.sort();
            for w in ranges.windows(2) {
                if w[1].0 <= w[0].1 {
                    out.push(err(
                        format!("{pointer}/scans/{}/firstImageNumber", w[1].2),
                        "scan-overlap",
                        format!(
                            "image numbers not already used by scan {} (images {}-{})",
                            w[0].2, w[0].0, w[0].1
                        ),
                        format!("images {}-{}", w[1].0, w[1].1),
                    ));
                }
            }
        }
        AnyObject::ReflectionSet(o) => {
            if o.source_ref.is_some() && o.derived_from_ref.is_some() {
                out.push(err(
                    format!("{pointer}/derivedFromRef"),
                    "source-xor-derived",
                    "either sourceRef or derivedFromRef, not both",
                    "both",
                ));
            }
            if let Some(s) = &o.reflection_statistics_overall {
                check_shell(
                    s,
                    &format!("{pointer}/reflectionStatisticsOverall"),
                    &mut out,
                );
            }
            for (i, s) in o.reflection_statistics_shells.iter().flatten().enumerate() {
                check_shell(
                    s,
                    &format!("{pointer}/reflectionStatisticsShells/{i}"),
                    &mut out,
                );
            }
        }
        AnyObject::DropRegion(o) => {
            if let Region::Image(r) = &o.region {
                out.extend(check_drop_image(
                    &r.image,
                    &format!("{pointer}/region/image"),
                ));
            }
        }
        _ => {}
    }
    let dyn_object: &dyn MxlimsObject = object.as_object();
    match mxpipe_extension(dyn_object) {
        Ok(Some(ext)) => out.extend(check_mxpipe_extension(
            &ext,
            &format!("{pointer}/extensions/mxpipe.org"),
        )),
        Ok(None) => {}
        Err(message) => out.push(err(
            format!("{pointer}/extensions/mxpipe.org"),
            "extension-mxpipe",
            "the mxpipe extension layout (schemas/mxpipe/MxpipeExtension.json)",
            message,
        )),
    }
    out
}

fn check_shell(s: &ReflectionStatistics, pointer: &str, out: &mut Vec<Finding>) {
    let [low, high] = s.resolution_limits;
    if low < high {
        out.push(err(
            format!("{pointer}/resolutionLimits"),
            "resolution-order",
            "[low, high] resolution in Å with low >= high (e.g. [50.0, 1.8])",
            format!("[{low}, {high}]"),
        ));
    }
}

fn check_point_cloud(pc: &PointCloud, pointer: &str, out: &mut Vec<Finding>) {
    let lengths = pc.array_lengths();
    if let Some((first_name, first_len)) = lengths.first() {
        for (name, len) in &lengths[1..] {
            if len != first_len {
                out.push(err(
                    format!("{pointer}/{name}"),
                    "parallel-arrays",
                    format!("{first_len} entries, like {first_name} (one per point)"),
                    format!("{len} entries"),
                ));
            }
        }
    }
}

/// A drop image must have exactly one of `data` and `url`.
pub fn check_drop_image(image: &DropImage, pointer: &str) -> Vec<Finding> {
    image
        .source_error()
        .map(|m| {
            vec![err(
                pointer,
                "drop-image-source",
                "exactly one of data and url",
                m,
            )]
        })
        .unwrap_or_default()
}

/// Rules for mxpipe's own extension.
pub fn check_mxpipe_extension(ext: &MxpipeExtension, pointer: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(s) = &ext.session
        && let (Some(a), Some(b)) = (&s.start_time, &s.end_time)
        && b.value() < a.value()
    {
        out.push(err(
            format!("{pointer}/session/endTime"),
            "datetime-order",
            format!("an endTime not before startTime {a}"),
            b.to_string(),
        ));
    }
    if let Some(x) = &ext.ssx {
        let pairs = [
            ("crystalHits", x.crystal_hits, "framesTotal", x.frames_total),
            (
                "framesIndexed",
                x.frames_indexed,
                "crystalHits",
                x.crystal_hits,
            ),
            (
                "latticesMerged",
                x.lattices_merged,
                "latticesIndexed",
                x.lattices_indexed,
            ),
        ];
        for (name, small, big_name, big) in pairs {
            if let (Some(s), Some(b)) = (small, big)
                && s > b
            {
                out.push(err(
                    format!("{pointer}/ssx/{name}"),
                    "ssx-counts",
                    format!("{name} <= {big_name} ({b})"),
                    s.to_string(),
                ));
            }
        }
    }
    out
}
