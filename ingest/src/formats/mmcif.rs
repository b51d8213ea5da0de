//! PDBx/mmCIF processing results: `_reflns` (overall) and `_reflns_shell` (per shell) statistics,
//! `_cell`, `_symmetry`, `_diffrn_radiation_wavelength`, `_software` (the scaling program), and
//! the serial-crystallography items `_pdbx_serial_crystallography_data_reduction` (frames, hits,
//! indexed frames and lattices). Parsed with mxpipe's own CIF reader ([`crate::cif`]).
//!
//! Conventions of the PDBx dictionary, kept in the store: R factors and CC½ are fractions,
//! completeness is in %. CC½ values above 1 (percentages written by some older pipelines) are
//! divided by 100. Shells are stored low to high resolution whatever the file's order.

use std::path::Path;

use mxpipe_model::SpaceGroupName;
use serde_json::{Map, Value, json};

use crate::cif::{self, Block, Category, CifValue};
use crate::{Fragment, ReadError, ReadOptions, Reader};
use mxpipe_model::space_groups::chiral_space_group;

/// Reader for PDBx/mmCIF files with reflection statistics or SSX data-reduction counts.
pub struct MmcifReader;

impl Reader for MmcifReader {
    fn name(&self) -> &'static str {
        "mmcif"
    }

    fn description(&self) -> &'static str {
        "PDBx/mmCIF"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        // Bytes, not text: a file of any content must not be cut inside a character.
        head.split(|&b| b == b'\n')
            .map(|l| l.trim_ascii_start())
            .find(|l| !l.is_empty() && !l.starts_with(b"#"))
            .is_some_and(|l| l.len() >= 5 && l[..5].eq_ignore_ascii_case(b"data_"))
    }

    fn read(&self, path: &Path, _options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReadError::new(path, "file", "a readable text file", e.to_string()))?;
        if is_dictionary(path, &text) {
            return Ok(vec![Fragment::NotMetadata(
                "a CIF dictionary (definitions, not data)".into(),
            )]);
        }
        let blocks = cif::parse(&text)
            .map_err(|e| ReadError::new(path, format!("line {}", e.line), e.expected, e.found))?;
        if let Some(reason) = not_processing(&blocks) {
            return Ok(vec![Fragment::NotMetadata(reason)]);
        }
        crate::validated(path, to_message(path, &blocks)?)
    }
}

/// Numbers of a category row, with errors naming file, line and item.
struct Row<'a> {
    path: &'a Path,
    category: &'a Category,
    name: &'a str,
    row: usize,
}

impl Row<'_> {
    fn value(&self, item: &str) -> Option<&CifValue> {
        self.category.get(self.row, item)
    }

    fn number(&self, item: &str) -> Result<Option<f64>, ReadError> {
        match self
            .value(item)
            .and_then(|v| v.number().map(|n| (v.line, n)))
        {
            None => Ok(None),
            Some((_, Ok(n))) => Ok(Some(n)),
            Some((line, Err(found))) => Err(ReadError::new(
                self.path,
                format!("line {line}, _{}.{item}", self.name.trim_start_matches('_')),
                "a number",
                format!("{found:?}"),
            )),
        }
    }

    /// The first of several items that has a value.
    fn first(&self, items: &[&str]) -> Result<Option<f64>, ReadError> {
        for i in items {
            if let Some(v) = self.number(i)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn text(&self, item: &str) -> Option<&str> {
        self.value(item).and_then(|v| v.text.as_deref())
    }
}

fn row<'a>(path: &'a Path, block: &'a Block, name: &'a str, row: usize) -> Option<Row<'a>> {
    block.category(name).map(|category| Row {
        path,
        category,
        name,
        row,
    })
}

/// Correlation coefficient as a fraction (percent values above 1 divided by 100).
fn cc(v: Option<f64>) -> Option<f64> {
    v.map(|v| if v.abs() > 1.0 { v / 100.0 } else { v })
}

/// One statistics block; `overall` picks the `_reflns` item names, otherwise `_reflns_shell`.
fn statistics(r: &Row, limits: [f64; 2], overall: bool) -> Result<Value, ReadError> {
    let mut m = Map::new();
    m.insert("resolutionLimits".into(), json!(limits));
    let mut put = |k: &str, v: Option<f64>, int: bool| {
        if let Some(v) = v {
            m.insert(
                k.into(),
                if int {
                    json!(v.round() as i64)
                } else {
                    json!(v)
                },
            );
        }
    };
    if overall {
        put(
            "numberObservations",
            r.number("pdbx_number_measured_all")?,
            true,
        );
        put("numberObservationsUnique", r.number("number_obs")?, true);
        put(
            "R_merge",
            r.first(&["pdbx_Rmerge_I_obs", "pdbx_Rsym_value"])?,
            false,
        );
        put(
            "I_over_SigI",
            r.first(&["pdbx_netI_over_sigmaI", "pdbx_netI_over_av_sigmaI"])?,
            false,
        );
        put("Completeness", r.number("percent_possible_obs")?, false);
    } else {
        put(
            "numberObservations",
            r.first(&["number_measured_obs", "number_measured_all"])?,
            true,
        );
        put(
            "numberObservationsUnique",
            r.first(&["number_unique_obs", "number_unique_all"])?,
            true,
        );
        put(
            "R_merge",
            r.first(&["Rmerge_I_obs", "Rmerge_I_all", "pdbx_Rsym_value"])?,
            false,
        );
        put(
            "I_over_SigI",
            r.first(&[
                "meanI_over_sigI_obs",
                "pdbx_netI_over_sigmaI_obs",
                "meanI_over_sigI_all",
            ])?,
            false,
        );
        put(
            "Completeness",
            r.first(&["percent_possible_all", "percent_possible_obs"])?,
            false,
        );
    }
    put("numberReflectionsRejected", r.number("pdbx_rejects")?, true);
    put("chiSquared", r.number("pdbx_chi_squared")?, false);
    put("R_meas", r.number("pdbx_Rrim_I_all")?, false);
    put("R_pim", r.number("pdbx_Rpim_I_all")?, false);
    put("CC_one_half", cc(r.number("pdbx_CC_half")?), false);
    put("CC_ano", cc(r.number("pdbx_CC_half_anomalous")?), false);
    put(
        "SigAno",
        r.number("pdbx_absDiff_over_sigma_anomalous")?,
        false,
    );
    put("Redundancy", r.number("pdbx_redundancy")?, false);
    put(
        "CompletenessAno",
        r.number("pdbx_percent_possible_anomalous")?,
        false,
    );
    put(
        "RedundancyAno",
        r.number("pdbx_redundancy_anomalous")?,
        false,
    );
    Ok(Value::Object(m))
}

fn required(r: &Row, item: &str) -> Result<f64, ReadError> {
    r.number(item)?.ok_or_else(|| {
        let line = r.category.rows[r.row].first().map(|v| v.line).unwrap_or(0);
        ReadError::new(
            r.path,
            format!("line {line}, _{}", r.name.trim_start_matches('_')),
            format!("a value for _{}.{item}", r.name.trim_start_matches('_')),
            "none (missing, ? or .)",
        )
    })
}

fn reflection_set(path: &Path, block: &Block) -> Result<Option<Value>, ReadError> {
    let Some(overall) = row(path, block, "reflns", 0) else {
        return Ok(None);
    };
    let low = required(&overall, "d_resolution_low")?;
    let high = required(&overall, "d_resolution_high")?;
    let mut set = json!({"mxlimsType": "ReflectionSet", "role": "Result", "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"},
        "operationalResolution": high, "reflectionStatisticsOverall": statistics(&overall, [low, high], true)?});
    if let Some(n) = overall.number("pdbx_number_measured_all")? {
        set["numberReflections"] = json!(n as i64);
    }
    if let Some(n) = overall.number("number_obs")? {
        set["numberReflectionsUnique"] = json!(n as i64);
    }
    if let Some(shells) = block.category("reflns_shell") {
        let mut rows: Vec<(f64, Row)> = Vec::new();
        for i in 0..shells.rows.len() {
            let r = Row {
                path,
                category: shells,
                name: "reflns_shell",
                row: i,
            };
            rows.push((required(&r, "d_res_high")?, r));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut list = Vec::new();
        let mut previous_high = low;
        for (shell_high, r) in &rows {
            let shell_low = r.number("d_res_low")?.unwrap_or(previous_high);
            list.push(statistics(r, [shell_low, *shell_high], false)?);
            previous_high = *shell_high;
        }
        set["reflectionStatisticsShells"] = Value::Array(list);
    }
    let cell: Vec<Option<f64>> = [
        "length_a",
        "length_b",
        "length_c",
        "angle_alpha",
        "angle_beta",
        "angle_gamma",
    ]
    .iter()
    .map(|i| row(path, block, "cell", 0).map_or(Ok(None), |r| r.number(i)))
    .collect::<Result<_, _>>()?;
    if cell.iter().all(|c| c.is_some_and(|v| v > 0.0)) {
        let c: Vec<f64> = cell.into_iter().flatten().collect();
        set["refinedUnitCell"] =
            json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
    }
    if let Some(sym) = row(path, block, "symmetry", 0) {
        let by_name = sym
            .text("space_group_name_H-M")
            .filter(|s| SpaceGroupName::parse(s).is_ok())
            .map(str::to_owned);
        let by_number = sym
            .number("Int_Tables_number")?
            .and_then(|n| chiral_space_group(n as u32))
            .map(str::to_owned);
        if let Some(sg) = by_name.or(by_number) {
            set["spaceGroupName"] = json!(sg);
        }
    }
    if let Some(w) = block.category("diffrn_radiation_wavelength") {
        let mut waves = Vec::new();
        for i in 0..w.rows.len() {
            let r = Row {
                path,
                category: w,
                name: "diffrn_radiation_wavelength",
                row: i,
            };
            if let Some(v) = r.number("wavelength")?.filter(|v| *v > 0.0) {
                waves.push(json!(v));
            }
        }
        if !waves.is_empty() {
            set["wavelengths"] = Value::Array(waves);
        }
    }
    Ok(Some(set))
}

fn ssx_counts(path: &Path, block: &Block) -> Result<Option<Value>, ReadError> {
    let Some(r) = row(path, block, "pdbx_serial_crystallography_data_reduction", 0) else {
        return Ok(None);
    };
    let mut m = Map::new();
    for (key, items) in [
        ("framesTotal", &["frames_total"][..]),
        ("frameHits", &["frame_hits", "crystal_hits"][..]),
        ("framesIndexed", &["frames_indexed"][..]),
        ("framesFailedIndex", &["frames_failed_index"][..]),
        ("latticesIndexed", &["lattices_indexed"][..]),
        ("latticesMerged", &["lattices_merged"][..]),
    ] {
        if let Some(v) = r.first(items)? {
            m.insert(key.into(), json!(v.round() as i64));
        }
    }
    Ok(Some(Value::Object(m)))
}

/// A CIF dictionary (`.dic`, or save frames defining `_dictionary` / `_item` entries).
fn is_dictionary(path: &Path, text: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dic"))
        || (text.contains("\nsave_")
            && (text.contains("_dictionary.") || text.contains("_item.name")))
}

/// Why a parsed CIF is not processing output: a model (coordinates) without statistics.
fn not_processing(blocks: &[Block]) -> Option<String> {
    let statistics = blocks.iter().any(|b| {
        b.category("reflns").is_some()
            || b.category("pdbx_serial_crystallography_data_reduction")
                .is_some()
    });
    let coordinates = blocks.iter().any(|b| b.category("atom_site").is_some());
    (coordinates && !statistics).then(|| "coordinates (mmCIF model), not processing output".into())
}

fn to_message(path: &Path, blocks: &[Block]) -> Result<Value, ReadError> {
    let mut sets = Map::new();
    let mut ssx = None;
    let mut job = json!({"mxlimsType": "MxProcessing", "jobStatus": "Completed"});
    for block in blocks {
        if let Some(set) = reflection_set(path, block)? {
            sets.insert(format!("ReflectionSet{}", sets.len() + 1), set);
        }
        if ssx.is_none() {
            ssx = ssx_counts(path, block)?;
        }
        if job.get("programName").is_none()
            && let Some(software) = block.category("software")
        {
            // The program that produced the statistics: scaling first, then data reduction.
            for class in ["data scaling", "data reduction"] {
                let found = (0..software.rows.len()).find(|&i| {
                    software
                        .get(i, "classification")
                        .and_then(|v| v.text.as_deref())
                        .is_some_and(|c| c.eq_ignore_ascii_case(class))
                });
                if let Some(i) = found {
                    if let Some(name) = software.get(i, "name").and_then(|v| v.text.clone()) {
                        job["programName"] = json!(name);
                    }
                    if let Some(v) = software.get(i, "version").and_then(|v| v.text.clone()) {
                        job["programVersion"] = json!(v);
                    }
                    break;
                }
            }
        }
    }
    if sets.is_empty() && ssx.is_none() {
        return Err(ReadError::new(
            path,
            "data blocks",
            "a data block with _reflns statistics or _pdbx_serial_crystallography_data_reduction",
            format!("{} block(s) without either", blocks.len()),
        ));
    }
    if let Some(x) = ssx {
        job["extensions"] = json!({"mxpipe.org": {"ssxDataReduction": x}});
    }
    let mut message =
        json!({"version": mxpipe_model::MXLIMS_VERSION, "MxProcessing": {"MxProcessing1": job}});
    if !sets.is_empty() {
        message["ReflectionSet"] = Value::Object(sets);
    }
    Ok(message)
}
