//! MTZ (CCP4 reflection files): the header and the batch headers only — never the reflection
//! data. A file is `MTZ `, a 32-bit word offset to the header (or −1 and a 64-bit offset after the
//! machine stamp, for files past 8 GiB), the machine stamp (byte order), the reflections, then
//! 80-character header records (`VERS`, `TITLE`, `NCOL`, `CELL`, `SYMINF`, `SYMM`, `RESO`,
//! `VALM`, `COLUMN`, `PROJECT` / `CRYSTAL` / `DATASET` / `DCELL` / `DWAVEL`, `END`), the history
//! (`MTZHIST`), and for unmerged files one binary batch header per image (`MTZBATS`: `BH`,
//! `TITLE`, 29 integers and 156 reals, `BHCH`). Resolution and column ranges come from the
//! header's `RESO` and `COLUMN` records, so the reader seeks past the data.
//!
//! A merged file becomes a ReflectionSet (cell, space group, resolution, index ranges, the
//! column list and datasets in the mxpipe.org `mtz` extension) produced by an MxProcessing named
//! after the newest history line; an unmerged file's batches are kept as runs of consecutive
//! batch numbers per dataset (the images of each sweep).

mod header;

pub use header::{Batch, ByteOrder, Header, MAX_HEADER_BYTES, Symmetry, read_header};

use std::path::Path;

use mxpipe_model::space_groups::chiral_space_group;
use mxpipe_model::{MtzBatchRange, MtzFile, SpaceGroupName};
use serde_json::json;

use crate::{Fragment, ReadError, ReadOptions, Reader};

/// Reader for MTZ files.
pub struct MtzReader;

impl Reader for MtzReader {
    fn name(&self) -> &'static str {
        "mtz"
    }

    fn description(&self) -> &'static str {
        "MTZ reflection file (header and batches)"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(b"MTZ ")
    }

    fn read(&self, path: &Path, _options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let header = read_header(path)?;
        crate::validated(path, to_message(path, &header))
    }
}

/// An `f32` as the shortest decimal that reads back as it (0.9763, not 0.97630000114).
fn short(v: f32) -> Option<f64> {
    v.is_finite()
        .then(|| v.to_string().parse().expect("a float's text"))
}

/// Runs of consecutive batch numbers per dataset.
fn batch_ranges(batches: &[Batch]) -> Vec<MtzBatchRange> {
    let mut out: Vec<MtzBatchRange> = Vec::new();
    for b in batches {
        if let Some(last) = out.last_mut()
            && last.dataset_id == b.dataset_id()
            && last.last_batch + 1 == b.number
        {
            last.last_batch = b.number;
            last.phi_end_deg = b.phi_end().and_then(short);
            continue;
        }
        out.push(MtzBatchRange {
            dataset_id: b.dataset_id(),
            first_batch: b.number,
            last_batch: b.number,
            phi_start_deg: b.phi_start().and_then(short),
            phi_end_deg: b.phi_end().and_then(short),
            wavelength_a: b.wavelength().and_then(short).filter(|w| *w > 0.0),
        });
    }
    out
}

/// The program of the newest history line (`From AIMLESS, version 0.7.4, …` → AIMLESS).
fn program(history: &[String]) -> Option<(String, Option<String>)> {
    let line = history.first()?.trim();
    let rest = line.strip_prefix("From ").unwrap_or(line);
    let name = rest
        .split([',', ' '])
        .find(|s| !s.is_empty())?
        .trim_end_matches(':');
    let version = rest
        .split_once("version ")
        .and_then(|(_, v)| v.split([',', ' ']).next())
        .map(str::to_owned);
    Some((name.to_owned(), version))
}

fn to_message(path: &Path, h: &Header) -> serde_json::Value {
    let merged = h.batches.is_empty();
    let name = path
        .file_name()
        .map(|n| mxpipe_model::paths::path_text(n.as_ref()))
        .unwrap_or_default();
    // The MXLIMS enumeration: an MTZ file with batches is unmerged, one without is merged.
    let kind = if merged {
        "scaled and merged MTZ"
    } else {
        "unmerged MTZ"
    };
    let mut set = json!({"mxlimsType": "ReflectionSet", "role": "Result", "sourceRef": {"$ref": "#/MxProcessing/MxProcessing1"},
        "filename": name, "path": crate::directory_of(path),
        "fileType": kind});
    if merged {
        set["numberReflectionsUnique"] = json!(h.number_reflections);
    } else {
        set["numberReflections"] = json!(h.number_reflections);
    }
    if let Some(c) = h.cell {
        set["refinedUnitCell"] =
            json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
    }
    if let Some(s) = &h.symmetry {
        let by_name = SpaceGroupName::parse(&s.name).ok().map(|_| s.name.clone());
        let by_number = u32::try_from(s.number)
            .ok()
            .and_then(chiral_space_group)
            .map(str::to_owned);
        if let Some(sg) = by_name.or(by_number) {
            set["spaceGroupName"] = json!(sg);
        }
    }
    // The resolution range of the data (RESO), 4 decimals; no other statistics (that would
    // mean reading the reflections).
    if let Some((low, high)) = h
        .resolution()
        .filter(|(l, hi)| l.is_finite() && hi.is_finite())
    {
        let (low, high) = ((low * 1e4).round() / 1e4, (high * 1e4).round() / 1e4);
        set["operationalResolution"] = json!(high);
        set["reflectionStatisticsOverall"] = json!({"resolutionLimits": [low, high]});
    }
    let wavelengths: Vec<f64> = h.datasets.iter().filter_map(|d| d.wavelength_a).collect();
    if !wavelengths.is_empty() {
        set["wavelengths"] = json!(wavelengths);
    }
    for (i, key) in ["h", "k", "l"].iter().enumerate() {
        if let Some(c) = h.columns.get(i).filter(|c| c.column_type == "H")
            && let (Some(lo), Some(hi)) = (c.min, c.max)
            && lo <= hi
            && lo.abs() < 1e6
            && hi.abs() < 1e6
        {
            set[format!("{key}IndexRange")] = json!([lo.round() as i64, hi.round() as i64]);
        }
    }
    let mtz = MtzFile {
        merged,
        columns: h.columns.clone(),
        datasets: h.datasets.clone(),
        batch_ranges: (!merged).then(|| batch_ranges(&h.batches)),
        history: (!h.history.is_empty()).then(|| h.history.clone()),
    };
    set["extensions"] = json!({"mxpipe.org": {"mtz": mtz}});
    let mut job = json!({"mxlimsType": "MxProcessing", "jobStatus": "Completed"});
    if let Some((program, version)) = program(&h.history) {
        job["programName"] = json!(program);
        if let Some(v) = version {
            job["programVersion"] = json!(v);
        }
    }
    json!({"version": mxpipe_model::MXLIMS_VERSION, "MxProcessing": {"MxProcessing1": job}, "ReflectionSet": {"ReflectionSet1": set}})
}
