//! PDBx/mmCIF for deposition: one data block per processing job with the categories the wwPDB
//! X-ray template asks for, filled from the job's MXLIMS neighbourhood (the job, its
//! ReflectionSets, the sweeps it read, their experiments, crystals and samples — read by keys,
//! `Selection::Processing`):
//!
//! - `diffrn` (one per sweep the job read: a multi-crystal merge lists every crystal and sweep),
//!   `diffrn_radiation`, `diffrn_radiation_wavelength` (every wavelength: a MAD lists each),
//!   `diffrn_source` (the wwPDB site and beamline names, `mxpipe_model::pdbx`),
//!   `diffrn_detector` (class, make, collection date, frame rate);
//! - `reflns` (one row per ReflectionSet, `pdbx_diffrn_id` naming the sweeps it merges) and
//!   `reflns_shell` (every shell), items from `mxpipe_model::pdbx::STATISTICS_ITEMS` — the table
//!   the mmCIF reader reads back with; anisotropic limits and Wilson B where PDBx has items;
//! - `symmetry`, `cell`, `exptl_crystal`, `software` (the job and the jobs it started from);
//! - serial crystallography: `pdbx_serial_crystallography_measurement`, `_sample_delivery`
//!   (+ `_fixed_target` / `_injection`) and `_data_reduction` (the job's counts, else its parent
//!   job's, else the run's).
//!
//! Items the store does not hold are written `?` where the template asks for them (the
//! depositor sees what is missing). Same store → same bytes.

mod experiment;
pub mod text;

use std::collections::HashMap;

use serde_json::Value;

use crate::ExportError;
use experiment::Neighbourhood;
use text::{Category, CifValue, DataBlock};

/// The PDBx/mmCIF text of processing job `processing` (a uuid) from its MXLIMS neighbourhood
/// (`Store::export_message` of `Selection::Processing`).
pub fn write(message: &Value, processing: &str) -> Result<String, ExportError> {
    let n = Neighbourhood::new(message, processing)?;
    let entry = format!(
        "MXPIPE_{}",
        processing
            .split('-')
            .next()
            .unwrap_or(processing)
            .to_uppercase()
    );
    let mut block = DataBlock {
        name: entry.clone(),
        ..DataBlock::default()
    };
    let one = |name: &str, pairs: Vec<(&str, CifValue)>| {
        let mut c = Category::new(name);
        c.row(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)));
        c
    };
    block.push(one("entry", vec![("id", entry.as_str().into())]));
    block.push(n.exptl_crystal());
    for c in n.diffrn() {
        block.push(c);
    }
    let (reflns, shells) = n.reflns(&entry);
    block.push(reflns);
    block.push(shells);
    if let Some(set) = n.sets.first() {
        let cell = &set["refinedUnitCell"];
        if cell.is_object() {
            let pairs = [
                ("length_a", "a"),
                ("length_b", "b"),
                ("length_c", "c"),
                ("angle_alpha", "alpha"),
                ("angle_beta", "beta"),
                ("angle_gamma", "gamma"),
            ];
            let mut row: Vec<(&str, CifValue)> = vec![("entry_id", entry.as_str().into())];
            row.extend(
                pairs
                    .iter()
                    .map(|(item, key)| (*item, cell[key].as_f64().into())),
            );
            block.push(one("cell", row));
        }
        if let Some(sg) = set["spaceGroupName"].as_str() {
            let number = mxpipe_model::space_groups::number_of(sg);
            block.push(one(
                "symmetry",
                vec![
                    ("entry_id", entry.as_str().into()),
                    ("space_group_name_H-M", sg.into()),
                    ("Int_Tables_number", number.map(i64::from).into()),
                ],
            ));
        }
    }
    block.push(n.software());
    for c in n.serial_categories() {
        block.push(c);
    }
    let comment = format!(
        "PDBx/mmCIF written by mxpipe {} from processing {processing}\n(items written ? are not in the store: fill them in before deposition)",
        env!("CARGO_PKG_VERSION")
    );
    Ok(block.to_text(&comment))
}

/// Objects of an MXLIMS message by uuid, and `$ref` pointers resolved.
pub(crate) struct Objects<'a> {
    by_uuid: HashMap<&'a str, &'a Value>,
    by_pointer: HashMap<String, &'a Value>,
}

impl<'a> Objects<'a> {
    pub(crate) fn new(message: &'a Value) -> Objects<'a> {
        let mut by_uuid = HashMap::new();
        let mut by_pointer = HashMap::new();
        for (dict, objects) in message.as_object().into_iter().flatten() {
            for (key, o) in objects.as_object().into_iter().flatten() {
                if let Some(u) = o["uuid"].as_str() {
                    by_uuid.insert(u, o);
                }
                by_pointer.insert(format!("#/{dict}/{key}"), o);
            }
        }
        Objects {
            by_uuid,
            by_pointer,
        }
    }

    pub(crate) fn get(&self, uuid: &str) -> Option<&'a Value> {
        self.by_uuid.get(uuid).copied()
    }

    /// The object a link field (`{"$ref": "#/Dict/Key"}`) points to.
    pub(crate) fn follow(&self, link: &Value) -> Option<&'a Value> {
        link["$ref"]
            .as_str()
            .and_then(|p| self.by_pointer.get(p).copied())
    }

    /// Every object of one MXLIMS type, in uuid order.
    pub(crate) fn of_type(&self, mxlims_type: &str) -> Vec<&'a Value> {
        let mut v: Vec<(&str, &Value)> = self
            .by_uuid
            .iter()
            .filter(|(_, o)| o["mxlimsType"] == mxlims_type)
            .map(|(u, o)| (*u, *o))
            .collect();
        v.sort_by_key(|(u, _)| *u);
        v.into_iter().map(|(_, o)| o).collect()
    }
}
