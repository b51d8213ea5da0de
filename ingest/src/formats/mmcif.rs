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
use mxpipe_model::pdbx::STATISTICS_ITEMS;
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

impl<'a> Row<'a> {
    /// Row `row` of `_reflns_shell`.
    fn shell(path: &'a Path, shells: &'a Category, row: usize) -> Row<'a> {
        Row {
            path,
            category: shells,
            name: "reflns_shell",
            row,
        }
    }

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

/// One statistics block; `overall` picks the `_reflns` item names, otherwise `_reflns_shell`
/// (the table is `mxpipe_model::pdbx::STATISTICS_ITEMS`, shared with the mmCIF writer).
fn statistics(r: &Row, limits: [f64; 2], overall: bool) -> Result<Value, ReadError> {
    let mut m = Map::new();
    m.insert("resolutionLimits".into(), json!(limits));
    for s in STATISTICS_ITEMS {
        let items = if overall { s.overall } else { s.shell };
        let Some(v) = r.first(items)? else { continue };
        let v = if s.correlation {
            cc(Some(v)).unwrap_or(v)
        } else {
            v
        };
        m.insert(
            s.field.into(),
            if s.count {
                json!(v.round() as i64)
            } else {
                json!(v)
            },
        );
    }
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

/// The `_reflns_shell` rows of each `_reflns` row: shells are given set by set; a shell starts
/// the next set when its `pdbx_diffrn_id` differs from the previous shell's or its high limit is
/// lower-resolution than the previous one (a new low-to-high run). One `_reflns` row takes all.
fn shells_per_set<'a>(
    path: &'a Path,
    block: &'a Block,
    sets: usize,
) -> Result<Vec<Vec<(f64, Row<'a>)>>, ReadError> {
    let mut out: Vec<Vec<(f64, Row)>> = (0..sets).map(|_| Vec::new()).collect();
    let Some(shells) = block.category("reflns_shell").filter(|_| sets > 0) else {
        return Ok(out);
    };
    // When each `_reflns` row names data sets of its own, shells go by `pdbx_diffrn_id`.
    let reflns = block.category("reflns");
    let ids: Vec<Option<&str>> = (0..sets)
        .map(|i| {
            reflns
                .and_then(|c| c.get(i, "pdbx_diffrn_id"))
                .and_then(|v| v.text.as_deref())
        })
        .collect();
    let unique =
        ids.iter().all(Option::is_some) && (0..sets).all(|i| (0..i).all(|j| ids[i] != ids[j]));
    if sets > 1 && unique {
        for i in 0..shells.rows.len() {
            let r = Row::shell(path, shells, i);
            let high = required(&r, "d_res_high")?;
            if let Some(set) = ids.iter().position(|x| *x == r.text("pdbx_diffrn_id")) {
                out[set].push((high, r));
            }
        }
        return Ok(out);
    }
    let mut set = 0;
    let mut previous: Option<(Option<String>, f64)> = None;
    for i in 0..shells.rows.len() {
        let r = Row::shell(path, shells, i);
        let high = required(&r, "d_res_high")?;
        let id = r.text("pdbx_diffrn_id").map(str::to_owned);
        if let Some((pid, phigh)) = &previous
            && sets > 1
            && (*pid != id || high > *phigh)
        {
            set = (set + 1).min(sets - 1);
        }
        previous = Some((id, high));
        out[set].push((high, r));
    }
    Ok(out)
}

/// Wavelengths (Å) of the diffraction data sets a `_reflns` row names (`pdbx_diffrn_id`, through
/// `_diffrn_radiation.wavelength_id`); every wavelength of the block when it names none.
fn wavelengths_of(
    path: &Path,
    block: &Block,
    diffrn_ids: Option<&str>,
) -> Result<Vec<f64>, ReadError> {
    let Some(w) = block.category("diffrn_radiation_wavelength") else {
        return Ok(Vec::new());
    };
    let wanted: Option<Vec<String>> =
        diffrn_ids
            .zip(block.category("diffrn_radiation"))
            .map(|(ids, radiation)| {
                let ids: Vec<&str> = ids.split(',').map(str::trim).collect();
                (0..radiation.rows.len())
                    .filter(|&i| {
                        radiation
                            .get(i, "diffrn_id")
                            .and_then(|v| v.text.as_deref())
                            .is_some_and(|d| ids.contains(&d))
                    })
                    .filter_map(|i| {
                        radiation
                            .get(i, "wavelength_id")
                            .and_then(|v| v.text.clone())
                    })
                    .collect()
            });
    let mut waves = Vec::new();
    for i in 0..w.rows.len() {
        let r = Row {
            path,
            category: w,
            name: "diffrn_radiation_wavelength",
            row: i,
        };
        if let Some(wanted) = &wanted
            && !r
                .text("id")
                .is_some_and(|id| wanted.iter().any(|x| x == id))
        {
            continue;
        }
        if let Some(v) = r.number("wavelength")?.filter(|v| *v > 0.0)
            && !waves.contains(&v)
        {
            waves.push(v);
        }
    }
    if waves.is_empty() && wanted.is_some() {
        // The data sets named have no wavelength: every wavelength of the block.
        return wavelengths_of(path, block, None);
    }
    Ok(waves)
}

fn reflection_set(overall: &Row, shells: &[(f64, Row)], block: &Block) -> Result<Value, ReadError> {
    let path = overall.path;
    let high = required(overall, "d_resolution_high")?;
    let mut set = json!({"mxlimsType": "ReflectionSet", "role": "Result", "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"},
        "operationalResolution": high});
    // Statistics need both limits; a set written without a low limit keeps its resolution only.
    let low = overall.number("d_resolution_low")?;
    if let Some(low) = low {
        set["reflectionStatisticsOverall"] = statistics(overall, [low, high], true)?;
    }
    let low = low.unwrap_or(f64::INFINITY);
    if let Some(n) = overall.number("pdbx_number_measured_all")? {
        set["numberReflections"] = json!(n as i64);
    }
    if let Some(n) = overall.number("number_obs")? {
        set["numberReflectionsUnique"] = json!(n as i64);
    }
    if let Some(b) = overall.number("B_iso_Wilson_estimate")? {
        set["isoBWilsonEstimate"] = json!(b);
    }
    for (field, value, axis) in [
        (
            "diffractionLimitsEstimated",
            "pdbx_aniso_diffraction_limit",
            "pdbx_aniso_diffraction_limit_axis",
        ),
        (
            "anisoBtensor",
            "pdbx_aniso_B_tensor_eigenvalue",
            "pdbx_aniso_B_tensor_eigenvector",
        ),
    ] {
        if let Some(tensor) = ellipsoid(overall, value, axis)? {
            set[field] = tensor;
        }
    }
    if !shells.is_empty() {
        let mut rows: Vec<&(f64, Row)> = shells.iter().collect();
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut list = Vec::new();
        let mut previous_high = low;
        for (shell_high, r) in rows {
            let shell_low = r
                .number("d_res_low")?
                .or(previous_high.is_finite().then_some(previous_high))
                .ok_or_else(|| {
                    ReadError::new(
                        path,
                        "_reflns_shell.d_res_low",
                        "a low limit for the lowest-resolution shell (the set has none)",
                        "none",
                    )
                })?;
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
    let waves = wavelengths_of(path, block, overall.text("pdbx_diffrn_id"))?;
    if !waves.is_empty() {
        set["wavelengths"] = json!(waves);
    }
    Ok(set)
}

/// An ellipsoid as PDBx writes it: `{value}_1..3` and `{axis}_1..3_ortho[1..3]`; none unless all
/// twelve numbers are there.
fn ellipsoid(r: &Row, value: &str, axis: &str) -> Result<Option<Value>, ReadError> {
    let mut values = Vec::new();
    let mut vectors = Vec::new();
    for i in 1..=3 {
        let Some(v) = r.number(&format!("{value}_{i}"))? else {
            return Ok(None);
        };
        values.push(v);
        let mut vector = Vec::new();
        for c in 1..=3 {
            let Some(x) = r.number(&format!("{axis}_{i}_ortho[{c}]"))? else {
                return Ok(None);
            };
            vector.push(x);
        }
        vectors.push(vector);
    }
    Ok(Some(
        json!({"eigenvalues": values, "eigenvectors": vectors}),
    ))
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
        if let Some(reflns) = block.category("reflns") {
            let shells = shells_per_set(path, block, reflns.rows.len())?;
            for (i, shells) in shells.iter().enumerate() {
                let overall = Row {
                    path,
                    category: reflns,
                    name: "reflns",
                    row: i,
                };
                let set = reflection_set(&overall, shells, block)?;
                sets.insert(format!("ReflectionSet{}", sets.len() + 1), set);
            }
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
