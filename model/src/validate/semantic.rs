//! The semantic layer: rules that JSON Schema cannot express, run on the typed model.
//!
//! Rule names (stable, used in reports and tests):
//! `empty-dict`, `unknown-top-level-key`, `key-pattern`, `uuid-duplicate`, `ref-syntax`, `ref-type`,
//! `ref-dangling`, `scan-ordinal-duplicate`, `scan-overlap`, `position-range`, `position-duplicate`,
//! `container-cycle`, `link-cycle`, `datetime-order`, `source-xor-derived`, `parallel-arrays`,
//! `drop-image-source`, `resolution-order`, `extension-mxpipe`, `ssx-counts`, `shipment-count`,
//! `shipment-required`, `shipment-variant`.

use std::collections::{HashMap, HashSet};

use crate::messages::{AnyMessage, AnyObject, Entry, MessageKind};

use super::rules_logistics::{check_positions, check_shipment};
pub use super::rules_objects::{check_drop_image, check_mxpipe_extension, check_object};
use super::{Finding, Layer, escape_pointer};

pub(super) fn err(
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

pub(super) fn link_target<'a>(e: &Entry<'a>, field: &str) -> Option<&'a str> {
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
