//! Serial crystallography: CrystFEL streams (per-frame and per-lattice rows, run-level counts),
//! our own SSX mmCIF sample (validated with gemmi against the PDBx dictionary + extensions).

use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn stream(td: &Path) -> std::path::PathBuf {
    td.join("ssx/crystfel/crystfel.stream")
}

/// crystfel.stream (CrystFEL 0.9.0, stream format 2.3): three chunks (lines 67, 390, 556), all
/// `hit = 1` and `indexed_by = xgandalf-nolatt-cell`, one crystal each. Chunk 1: serial 1,
/// num_peaks 25, peak_resolution 2.205716 A, photon_energy_eV 9700, average_camera_length
/// 0.149 m; crystal "Cell parameters 7.93850 8.04039 3.85562 nm, 90.68698 90.13504 89.74671 deg",
/// diffraction_resolution_limit 3.18 A, num_reflections 263. Chunk 3: num_peaks 53,
/// n_indexing_tries 6, num_reflections 253. Target cell a = 79.20 A, c = 38.00 A.
#[test]
fn crystfel_stream_frames_lattices_and_counts() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = stream(&td);
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(text_of(&out).contains("crystfel"));
    let run = &query(&store, "SELECT * FROM ssx_data_reduction")[0];
    assert_eq!(
        (
            run["frames_total"].as_i64(),
            run["frame_hits"].as_i64(),
            run["frames_indexed"].as_i64(),
            run["lattices_indexed"].as_i64()
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert!(close(&run["hit_rate"], 1.0) && close(&run["indexing_rate"], 1.0));
    assert_eq!(run["indexing_methods"], serde_json::json!(["xgandalf"]));
    let frames = query(&store, "SELECT * FROM ssx_frames ORDER BY frame_index");
    assert_eq!(frames.len(), 3);
    let f = &frames[0];
    assert_eq!(f["serial_number"], 1);
    assert_eq!(f["source_line"], 67);
    assert_eq!(f["num_peaks"], 25);
    assert_eq!(f["hit"], true);
    assert_eq!(f["indexed_by"], "xgandalf-nolatt-cell");
    assert!(close(&f["peak_resolution_a"], 2.205716));
    assert!(close(&f["photon_energy_ev"], 9700.0) && close(&f["camera_length_mm"], 149.0));
    assert!(
        f["image_filename"]
            .as_str()
            .unwrap()
            .ends_with("PAL_2019_Apr01_r0000_062014_e88.h5")
    );
    assert_eq!(frames[2]["num_peaks"], 53);
    assert_eq!(frames[2]["indexing_tries"], 6);
    assert_eq!(frames[2]["source_line"], 556);
    let lattices = query(&store, "SELECT * FROM ssx_lattices ORDER BY frame_index");
    assert_eq!(lattices.len(), 3);
    let l = &lattices[0];
    assert!(close(&l["cell_a_a"], 79.385) && close(&l["cell_b_a"], 80.4039));
    assert!(close(&l["cell_c_a"], 38.5562) && close(&l["cell_alpha_deg"], 90.68698));
    assert!(close(&l["resolution_limit_a"], 3.18));
    assert_eq!(l["num_reflections"], 263);
    assert_eq!(l["lattice_type"], "tetragonal");
    assert_eq!(lattices[2]["num_reflections"], 253);
    let job = &query(
        &store,
        "SELECT program_name, program_version, cell_a_a, cell_c_a FROM jobs",
    )[0];
    assert_eq!(job["program_version"], "0.9.0");
    assert!(close(&job["cell_a_a"], 79.2) && close(&job["cell_c_a"], 38.0));
    // Frames belong to the processing job.
    assert_eq!(
        query(
            &store,
            "SELECT COUNT(*) AS n FROM ssx_frames f JOIN jobs j ON j.uuid = f.processing_uuid"
        )[0]["n"],
        3
    );
    // A re-run adds nothing.
    let before = counts(&store);
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(counts(&store), before);
}

#[test]
fn a_stream_cut_mid_chunk_is_rejected_and_nothing_is_stored() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let text = std::fs::read_to_string(stream(&td)).unwrap();
    let cut: String = text.lines().take(500).map(|l| format!("{l}\n")).collect();
    let file = dir.path().join("cut.stream");
    std::fs::write(&file, cut).unwrap();
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text_of(&out);
    assert!(
        msg.contains("cut.stream")
            && msg.contains("line 500")
            && msg.contains("chunk that begins at line 390"),
        "{msg}"
    );
    assert!(!store.exists() || counts(&store).values().all(|&n| n == 0));
}

/// A generated stream large enough for several bulk batches (20 000 frames each), with misses,
/// unindexed hits, events and two-lattice frames. Expected counts come from the text itself.
#[test]
fn synthetic_stream_counts_match_the_text_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("synthetic.stream");
    let mut bytes = Vec::new();
    mxpipe_generate::synthetic::write_crystfel_stream(&mut bytes, 45_000, 11).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count() as i64;
    let (frames, hits, unindexed, crystals) = (
        count("----- Begin chunk"),
        count("hit = 1"),
        count("indexed_by = none"),
        count("--- Begin crystal"),
    );
    assert!(
        hits > 0 && unindexed > frames - hits && crystals > frames - unindexed,
        "the generator covers misses, unindexed hits and multi-lattice frames"
    );
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let run = &query(&store, "SELECT * FROM ssx_data_reduction")[0];
    assert_eq!(run["frames_total"].as_i64(), Some(frames));
    assert_eq!(run["frame_hits"].as_i64(), Some(hits));
    assert_eq!(run["frames_indexed"].as_i64(), Some(frames - unindexed));
    assert_eq!(run["lattices_indexed"].as_i64(), Some(crystals));
    let c = counts(&store);
    assert_eq!(c["ssx_frames"] as i64, frames);
    assert_eq!(c["ssx_lattices"] as i64, crystals);
    let by_event = query(
        &store,
        "SELECT image_filename, event, num_lattices FROM ssx_frames WHERE frame_index = 21234",
    );
    assert_eq!(
        by_event[0]["image_filename"],
        "/data/ssx/run0042/chip_00021.h5"
    );
    assert_eq!(by_event[0]["event"], "//234");
    let two = query(
        &store,
        "SELECT COUNT(*) AS n FROM ssx_frames WHERE num_lattices = 2",
    )[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(
        two,
        crystals - (frames - unindexed),
        "frames with two lattices"
    );
}

/// samples/ssx-chip-processing.cif (written by us): frames_total 25600, frame_hits 9216,
/// frames_failed_index 2304, frames_indexed 6912, lattices_indexed 7040, lattices_merged 6850;
/// _reflns 55.93-1.80 Å, CC½ 0.987; three shells.
#[test]
fn own_ssx_mmcif_ingests_and_validates_with_gemmi() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = repo().join("samples/ssx-chip-processing.cif");
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let run = &query(&store, "SELECT * FROM ssx_data_reduction")[0];
    let got: Vec<Option<i64>> = [
        "frames_total",
        "frame_hits",
        "frames_failed_index",
        "frames_indexed",
        "lattices_indexed",
        "lattices_merged",
    ]
    .iter()
    .map(|k| run[*k].as_i64())
    .collect();
    assert_eq!(
        got,
        [25600, 9216, 2304, 6912, 7040, 6850].map(Some).to_vec()
    );
    assert!(close(&run["hit_rate"], 0.36) && close(&run["indexing_rate"], 0.75));
    let stats: Vec<Value> = query(
        &store,
        "SELECT shell, resolution_low_a, resolution_high_a, cc_half FROM reflection_statistics ORDER BY shell_index NULLS FIRST",
    );
    assert_eq!(stats.len(), 4);
    assert!(close(&stats[0]["resolution_low_a"], 55.93) && close(&stats[0]["cc_half"], 0.987));
    assert_eq!(stats[3]["shell"], "outer");
    assert!(close(&stats[3]["resolution_high_a"], 1.80));

    // Our own mmCIF files validate against the PDBx dictionary plus the extension dictionaries.
    let Some(td) = testdata() else { return };
    let Some(gemmi) = gemmi() else { return };
    let pdbx = Path::new("/usr/share/libcifpp/mmcif_pdbx.dic");
    assert!(pdbx.exists(), "scripts/test installs Debian libcifpp-data");
    let mut args = vec![
        "validate".to_owned(),
        "-d".into(),
        pdbx.display().to_string(),
    ];
    for d in std::fs::read_dir(td.join("dictionaries")).unwrap() {
        args.push("-d".into());
        args.push(d.unwrap().path().display().to_string());
    }
    args.push(file.display().to_string());
    let out = std::process::Command::new(&gemmi)
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out));
    // The oracle can fail: a count out of the dictionary's range is an error.
    let bad = dir.path().join("bad.cif");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("frame_hits         9216", "frame_hits         -5"),
    )
    .unwrap();
    *args.last_mut().unwrap() = bad.display().to_string();
    let out = std::process::Command::new(&gemmi)
        .args(&args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "gemmi must reject frame_hits -5");
}

/// The gemmi program installed by scripts/test (PyPI gemmi-program), beside the Python it uses.
pub(crate) fn gemmi() -> Option<std::path::PathBuf> {
    let python = python()?;
    let g = python.parent().unwrap().join("gemmi");
    assert!(
        g.exists(),
        "scripts/test installs gemmi-program into the venv"
    );
    Some(g)
}
