//! The MTZ reader against gemmi (PyPI `gemmi`, Python API): every header field of the real
//! `5e5z.mtz` (merged) and of our own unmerged files (little-endian, big-endian, 64-bit header
//! offset; written by `tests/fixtures/make_mtz.py`) equals gemmi's reading; broken files fail
//! with the place, never a panic; only the header is read.

use std::path::Path;
use std::process::Command;

use mxpipe_ingest::Reader;
use mxpipe_ingest::mtz::{self, Header};
use serde_json::Value;

use crate::common::*;

fn near(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-30)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Every field of `ours` equals gemmi's reading `g`; `batches_of` is gemmi's reading whose
/// batches to compare (gemmi 0.7.5 reads the batch headers of a big-endian file unswapped).
fn assert_same(name: &str, ours: &Header, g: &Value, batches_of: &Value) {
    assert_eq!(ours.title, g["title"], "{name}: title");
    assert_eq!(
        ours.number_reflections,
        g["nreflections"].as_i64().unwrap(),
        "{name}"
    );
    let sort: Vec<i64> = g["sort_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ours.sort_order, sort, "{name}: sort order");
    let cell = ours.cell.expect("a cell");
    for (i, c) in g["cell"].as_array().unwrap().iter().enumerate() {
        assert!(
            near(cell[i], f(c), 1e-6),
            "{name}: cell[{i}] {} vs {c}",
            cell[i]
        );
    }
    let sym = ours.symmetry.as_ref().expect("SYMINF");
    assert_eq!(
        sym.number,
        g["spacegroup_number"].as_i64().unwrap(),
        "{name}"
    );
    assert_eq!(sym.name, g["spacegroup_name"], "{name}");
    assert_eq!(
        ours.symops.len() as i64,
        g["nsymop"].as_i64().unwrap(),
        "{name}: SYMM records"
    );
    let reso = ours.reso.expect("RESO");
    assert!(
        near(reso[0], f(&g["min_1_d2"]), 1e-12) && near(reso[1], f(&g["max_1_d2"]), 1e-12),
        "{name}: RESO"
    );
    let (low, high) = ours.resolution().expect("resolution");
    assert!(
        near(low, f(&g["resolution_low"]), 1e-12) && near(high, f(&g["resolution_high"]), 1e-12),
        "{name}"
    );
    assert_eq!(ours.missing_value, opt(&g["valm"]), "{name}: VALM");
    let gc = g["columns"].as_array().unwrap();
    assert_eq!(ours.columns.len(), gc.len(), "{name}: columns");
    for (c, e) in ours.columns.iter().zip(gc) {
        assert_eq!(
            (c.label.as_str(), c.column_type.as_str()),
            (e["label"].as_str().unwrap(), e["type"].as_str().unwrap())
        );
        assert_eq!(
            c.dataset_id,
            e["dataset_id"].as_i64().unwrap(),
            "{name}: {}",
            c.label
        );
        // gemmi keeps the header's ranges as 4-byte floats.
        for (ours, theirs) in [(c.min, &e["min"]), (c.max, &e["max"])] {
            assert_eq!(
                ours.map(|v| v as f32),
                opt(theirs).map(|v| v as f32),
                "{name}: range of {}",
                c.label
            );
        }
    }
    let gd = g["datasets"].as_array().unwrap();
    assert_eq!(ours.datasets.len(), gd.len(), "{name}: datasets");
    for (d, e) in ours.datasets.iter().zip(gd) {
        assert_eq!(d.id, e["id"].as_i64().unwrap());
        assert_eq!(
            (d.project.as_str(), d.crystal.as_str(), d.dataset.as_str()),
            (
                e["project"].as_str().unwrap(),
                e["crystal"].as_str().unwrap(),
                e["dataset"].as_str().unwrap()
            )
        );
        let c = d.cell.expect("DCELL");
        for (i, x) in e["cell"].as_array().unwrap().iter().enumerate() {
            assert!(near(c[i], f(x), 1e-6), "{name}: DCELL {}", d.id);
        }
        assert_eq!(
            d.wavelength_a.unwrap_or(0.0),
            f(&e["wavelength"]),
            "{name}: DWAVEL {}",
            d.id
        );
    }
    let history: Vec<&str> = g["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ours.history, history, "{name}: history");
    let gb = batches_of["batches"].as_array().unwrap();
    assert_eq!(ours.batches.len(), gb.len(), "{name}: batches");
    assert_eq!(
        ours.number_batches as usize,
        gb.len(),
        "{name}: NCOL batches"
    );
    for (b, e) in ours.batches.iter().zip(gb) {
        assert_eq!(b.number, e["number"].as_i64().unwrap());
        // gemmi keeps the record's `TITLE` keyword in the title (and writes another in front).
        let title = e["title"].as_str().unwrap();
        assert_eq!(b.title, title.strip_prefix("TITLE").unwrap_or(title).trim());
        let ints: Vec<i32> = e["ints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(b.ints, ints, "{name}: batch {} integers", b.number);
        let floats: Vec<Option<f32>> = e["floats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().map(|x| x as f32))
            .collect();
        let ours: Vec<Option<f32>> = b
            .floats
            .iter()
            .map(|x| (!x.is_nan()).then_some(*x))
            .collect();
        assert_eq!(ours, floats, "{name}: batch {} reals", b.number);
        assert_eq!(
            b.axes,
            e["axes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect::<Vec<_>>()
        );
        assert_eq!(b.dataset_id(), e["dataset_id"].as_i64().unwrap());
        assert_eq!(b.wavelength().map(f64::from), opt(&e["wavelength"]));
    }
}

#[test]
fn mtz_headers_equal_gemmis_reading_in_both_byte_orders_and_offsets() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let real = td.join("processing/mtz/5e5z.mtz");
    let out = Command::new(py)
        .arg(repo().join("tests/fixtures/make_mtz.py"))
        .arg(dir.path())
        .arg(&real)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let gemmi: Value = serde_json::from_slice(&out.stdout).unwrap();
    let little = &gemmi["unmerged.mtz"];
    for (name, batches_of) in [
        ("5e5z.mtz", &gemmi["5e5z.mtz"]),
        ("unmerged.mtz", little),
        ("unmerged-big-endian.mtz", little),
        ("unmerged-64bit.mtz", little),
    ] {
        let path = if name == "5e5z.mtz" {
            real.clone()
        } else {
            dir.path().join(name)
        };
        let ours = mtz::read_header(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_same(name, &ours, &gemmi[name], batches_of);
        // Only the header is read: the reflections are skipped.
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(ours.bytes_read, 20 + size - ours.header_position, "{name}");
        assert!(
            ours.header_position > 80 && ours.bytes_read < size,
            "{name}: {} of {size} bytes read",
            ours.bytes_read
        );
    }
    // The oracle can fail: gemmi reads the big-endian file's batches unswapped, we do not.
    let be = mtz::read_header(&dir.path().join("unmerged-big-endian.mtz")).unwrap();
    assert_eq!(be.byte_order, mtz::ByteOrder::Big);
    let phi_gemmi = f(&gemmi["unmerged-big-endian.mtz"]["batches"][9]["floats"][36]);
    assert!(phi_gemmi.abs() < 1e-30 && be.batches[9].phi_start() == Some(31.5));
}

#[test]
fn mtz_files_ingest_as_reflection_sets_with_their_batches() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let unmerged = repo().join("samples/unmerged-two-sweeps.mtz");
    let real = td.join("processing/mtz/5e5z.mtz");
    let out = mxpipe_store(
        &store,
        &["ingest", real.to_str().unwrap(), unmerged.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let sets = views(
        &store,
        "SELECT program_name, space_group, cell_a_a, cell_beta_deg FROM reflection_sets ORDER BY program_name",
    );
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert_eq!(sets[0]["program_name"], "cif2mtz");
    assert_eq!(sets[0]["space_group"], "P 1 21 1");
    assert!(close(&sets[0]["cell_beta_deg"], 101.224));
    assert_eq!(sets[1]["program_name"], "mxpipe");
    // The unmerged file's batches as runs per dataset (the images of each sweep).
    let rows = views(
        &store,
        "SELECT object_json FROM store.objects WHERE mxlims_type = 'ReflectionSet'",
    );
    let sets: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r["object_json"].as_str().unwrap()).unwrap())
        .collect();
    let un = sets
        .iter()
        .find(|s| s["fileType"] == "unmerged MTZ")
        .expect("the unmerged set");
    let ranges = &un["extensions"]["mxpipe.org"]["mtz"]["batchRanges"];
    assert_eq!(ranges[0]["firstBatch"], 1);
    assert_eq!(ranges[0]["lastBatch"], 6);
    assert_eq!(ranges[0]["phiStartDeg"], 0.0);
    assert_eq!(ranges[0]["phiEndDeg"], 3.0);
    assert_eq!(ranges[0]["wavelengthA"], 0.9763);
    assert_eq!(ranges[1]["datasetId"], 2);
    assert_eq!(
        (
            ranges[1]["firstBatch"].as_i64(),
            ranges[1]["lastBatch"].as_i64()
        ),
        (Some(101), Some(104))
    );
    assert_eq!(un["numberReflections"], 30);
    let merged = sets
        .iter()
        .find(|s| s["fileType"] == "scaled and merged MTZ")
        .unwrap();
    assert_eq!(merged["numberReflectionsUnique"], 441);
    assert_eq!(merged["hIndexRange"], serde_json::json!([-5, 5]));
    assert!(close(&merged["operationalResolution"], 1.664));
    // Its job exports as mmCIF (a set with a resolution and no statistics) and reads back.
    let job = views(
        &store,
        "SELECT processing_uuid FROM processing WHERE program_name = 'cif2mtz'",
    );
    let cif = dir.path().join("mtz.cif");
    let o = mxpipe_store(
        &store,
        &[
            "export",
            "mmcif",
            "--processing",
            job[0]["processing_uuid"].as_str().unwrap(),
            "--out",
            cif.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    let back = mxpipe_ingest::mmcif::MmcifReader
        .read(&cif, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(mxpipe_ingest::Fragment::Message { value, .. }) = back.first() else {
        panic!("a message")
    };
    let set = &value["ReflectionSet"]["ReflectionSet1"];
    assert_eq!(set["spaceGroupName"], merged["spaceGroupName"]);
    assert_eq!(set["refinedUnitCell"], merged["refinedUnitCell"]);
    assert_eq!(
        set["operationalResolution"],
        merged["operationalResolution"]
    );
}

/// Rows of a query over the views.
fn views(store: &Path, sql: &str) -> Vec<Value> {
    crate::queries::query_cli(&["--store", store.to_str().unwrap(), sql])
}

/// Cut or garbled MTZ files fail with the place in the file, never a panic; the rest of a folder
/// still goes in.
#[test]
fn broken_mtz_files_fail_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(repo().join("samples/unmerged-two-sweeps.mtz")).unwrap();
    let header = 4 * (u32::from_le_bytes(good[4..8].try_into().unwrap()) as usize - 1);
    let folder = dir.path().join("visit");
    std::fs::create_dir_all(&folder).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "cut-in-data.mtz",
            good[..200].to_vec(),
            "byte 4 (header offset)",
        ),
        (
            "cut-in-batches.mtz",
            good[..good.len() - 500].to_vec(),
            "byte",
        ),
        ("cut-in-header.mtz", good[..header + 200].to_vec(), "byte"),
        ("short.mtz", b"MTZ \x01".to_vec(), "byte 4"),
    ];
    let mut stamp = good.clone();
    stamp[8] = 0x77;
    cases.push(("stamp.mtz", stamp, "byte 8 (machine stamp)"));
    let mut ncol = good.clone();
    let at = header + 160; // the NCOL record
    assert!(ncol[at..].starts_with(b"NCOL"));
    ncol[at + 5..at + 13].copy_from_slice(b"      99");
    cases.push(("ncol.mtz", ncol, "COLUMN records"));
    for (name, bytes, _) in &cases {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
    std::fs::copy(
        repo().join("samples/unmerged-two-sweeps.mtz"),
        folder.join("good.mtz"),
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            "--keep-going",
            "--output",
            "json",
            folder.to_str().unwrap(),
        ],
    );
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{text}"));
    for (name, _, place) in &cases {
        let (status, detail) = file_status(&summary, name);
        assert_eq!(status, "failed", "{name}: {detail}");
        assert!(detail.contains(place), "{name}: {detail}");
    }
    assert_eq!(file_status(&summary, "good.mtz").0, "ingested");
}

/// `bytes_read` is what the reader took from the file: never the data section.
#[test]
fn reading_an_mtz_header_skips_the_reflections() {
    let path = repo().join("samples/unmerged-two-sweeps.mtz");
    let h = mtz::read_header(Path::new(&path)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        h.header_position,
        80 + 4 * 8 * 30,
        "8 columns × 30 reflections after the 80-byte start"
    );
    assert_eq!(h.bytes_read, 20 + size - h.header_position);
}

/// An MTZ file named by a processing result (AutoProcProgramAttachment) links to that job in the
/// `result_files` view, whichever was ingested first; files read by no reader stay unlinked.
#[test]
fn an_mtz_file_links_to_the_processing_result_that_names_it() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("autoPROC");
    std::fs::create_dir_all(&folder).unwrap();
    let folder_text = mxpipe_ingest::directory_of(&folder.join("x"));
    let named = "/data/visitor/mx2532/id30a1/20240220/PROCESSED_DATA/INS/INS-Helical_test1/run_01_MXPressA/autoprocessing_combined/autoPROC/nobackup";
    let xml = std::fs::read_to_string(td.join("processing/autoproc/autoPROC.xml")).unwrap();
    assert!(xml.contains(named), "the testdata names its folder");
    let xml_file = dir.path().join("autoPROC.xml");
    std::fs::write(&xml_file, xml.replace(named, &folder_text)).unwrap();
    let mtz = folder.join("truncate-unique.mtz");
    std::fs::copy(td.join("processing/mtz/5e5z.mtz"), &mtz).unwrap();
    let store = dir.path().join("store");
    for file in [&xml_file, &mtz] {
        let o = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    }
    let rows = views(
        &store,
        "SELECT f.file_name, f.file_type, f.reflection_set_uuid, p.program_name AS job, q.program_name AS read_by \
         FROM result_files f JOIN processing p ON p.processing_uuid = f.processing_uuid \
         LEFT JOIN processing q ON q.processing_uuid = f.read_by_processing_uuid ORDER BY f.list_index",
    );
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["file_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"summary.html") && names.contains(&"truncate-unique.mtz"),
        "{rows:?}"
    );
    for r in &rows {
        assert_eq!(r["job"], "autoPROC");
        if r["file_name"] == "truncate-unique.mtz" {
            assert_eq!(r["file_type"], "Result");
            assert!(r["reflection_set_uuid"].is_string(), "{r}");
            assert_eq!(r["read_by"], "cif2mtz");
        } else {
            assert!(r["reflection_set_uuid"].is_null(), "{r}");
        }
    }
}
