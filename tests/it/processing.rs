//! Processing results: AutoProcContainer XML (autoPROC / xia2 / fast_dp) into ReflectionSets with
//! their statistics. Expected values are read by hand from the files (quoted per assertion).

use serde_json::Value;

use crate::common::*;

fn stats(store: &std::path::Path) -> Vec<Value> {
    query(
        store,
        "SELECT r.space_group, r.cell_a_a, r.wavelength_a, s.* FROM reflection_statistics s \
                  JOIN reflection_sets r ON r.uuid = s.reflection_set_uuid ORDER BY r.uuid, s.shell",
    )
}

#[test]
fn autoproc_xml_with_two_scaling_containers() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = td.join("processing/ispyb-xml/autoPROC-two-ap_scaling_containers.xml");
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(text_of(&out).contains("autoproc-xml"), "{}", text_of(&out));
    let rows = stats(&store);
    assert_eq!(
        rows.len(),
        6,
        "two reflection sets x overall/inner/outer: {rows:?}"
    );
    // First container, lines 56-99: overall 67.417-2.506 Å, rMerge .058, nTotalObservations 39330,
    // completeness 84.3, multiplicity 3.3, ccHalf 0.995; innerShell high 6.685, rMerge .035;
    // outerShell 2.552-2.506, rMerge .441. AutoProc (line 141): P 2 2 2, a 42.687, wavelength 1.11583.
    let overall = rows
        .iter()
        .find(|r| r["shell"] == "overall" && close(&r["r_merge"], 0.058))
        .expect("overall of the first container");
    assert!(
        close(&overall["resolution_low_a"], 67.417) && close(&overall["resolution_high_a"], 2.506)
    );
    assert_eq!(overall["number_observations"], 39330);
    assert!(
        close(&overall["completeness_pct"], 84.3)
            && close(&overall["multiplicity"], 3.3)
            && close(&overall["cc_half"], 0.995)
    );
    assert_eq!(overall["space_group"], "P 2 2 2");
    assert!(close(&overall["cell_a_a"], 42.687) && close(&overall["wavelength_a"], 1.11583));
    let same_set = |shell: &str| {
        rows.iter()
            .find(|r| {
                r["shell"] == shell && r["reflection_set_uuid"] == overall["reflection_set_uuid"]
            })
            .unwrap()
            .clone()
    };
    let inner = same_set("inner");
    assert!(close(&inner["resolution_high_a"], 6.685) && close(&inner["r_merge"], 0.035));
    let outer = same_set("outer");
    assert!(close(&outer["resolution_low_a"], 2.552) && close(&outer["r_merge"], 0.441));
    // Program block: autoPROC 1.0.5, "Mon Jun 14 15:09:27 PDT 2021"; inputs abc2_1_00001.cbf, images 1-21 and 1-184.
    let job = &query(
        &store,
        "SELECT program_name, start_time_text, job_status FROM jobs",
    )[0];
    assert_eq!(job["program_name"], "autoPROC");
    assert_eq!(job["start_time_text"], "2021-06-14T15:09:27-07:00");
    assert_eq!(job["job_status"], "Completed");
    let inputs = query(
        &store,
        "SELECT path, filename_template, first_image_number, last_image_number FROM processing_inputs ORDER BY last_image_number",
    );
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0]["filename_template"], "abc2_1_%05d.cbf");
    assert_eq!(
        inputs[0]["path"],
        "/synchrotron/bl-123/data/2019/mx19004-3/abc2"
    );
    assert_eq!(
        (
            inputs[0]["last_image_number"].as_i64(),
            inputs[1]["last_image_number"].as_i64()
        ),
        (Some(21), Some(184))
    );
    // The stored processing exports back as MXLIMS that validates (CC½ corrected policy).
    let uuid = query(&store, "SELECT uuid FROM jobs")[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = mxpipe_store(&store, &["export", "mxlims", "--experiment", &uuid]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let msg: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(msg["ReflectionSet"].as_object().unwrap().len(), 2);
    let up = upstream(&td, false);
    assert!(
        up.validate("messages/MxlimsMessageStrict", &msg)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_autoproc_xml_file_ingests_and_truncated_xml_is_rejected() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for f in [
        "processing/autoproc/autoPROC.xml",
        "processing/ispyb-xml/mx_data_reduction_pipeline_results.xml",
    ] {
        let out = mxpipe_store(&store, &["ingest", td.join(f).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text_of(&out));
    }
    // autoPROC.xml line 61-64: overall 100.654-2.199 Å, rMerge .513, ccHalf 0.968; program started
    // "Wed Feb 21 13:44:19 CET 2024"; four sweeps of 235 images in four directories.
    let o = query(
        &store,
        "SELECT * FROM reflection_statistics WHERE shell = 'overall' AND resolution_high_a < 2.2 AND resolution_high_a > 2.19",
    );
    assert!(
        !o.is_empty() && close(&o[0]["r_merge"], 0.513) && close(&o[0]["cc_half"], 0.968),
        "{o:?}"
    );
    let starts = query(
        &store,
        "SELECT start_time_text FROM jobs WHERE start_time_text LIKE '2024-%'",
    );
    assert_eq!(starts[0]["start_time_text"], "2024-02-21T13:44:19+01:00");
    let inputs = query(
        &store,
        "SELECT DISTINCT path FROM processing_inputs WHERE path LIKE '%INS-Helical_test1%'",
    );
    assert_eq!(inputs.len(), 4, "{inputs:?}");
    let before = counts(&store);
    let text = std::fs::read_to_string(td.join("processing/autoproc/autoPROC.xml")).unwrap();
    let cut = dir.path().join("cut.xml");
    let at = text[..text.len() / 2].rfind('\n').unwrap() + 1; // cut between two elements
    std::fs::write(&cut, &text[..at]).unwrap();
    let out = mxpipe_store(&store, &["ingest", cut.to_str().unwrap()]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cut.xml") && t.contains("truncated document") && t.contains("line"),
        "{t}"
    );
    assert_eq!(counts(&store), before, "nothing stored changes");
}

#[test]
fn processing_that_arrives_before_its_collection_links_when_the_collection_arrives() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let images = dir.path().join("abc2");
    std::fs::create_dir_all(&images).unwrap();
    let xml = std::fs::read_to_string(
        td.join("processing/ispyb-xml/autoPROC-two-ap_scaling_containers.xml"),
    )
    .unwrap()
    .replace(
        "/synchrotron/bl-123/data/2019/mx19004-3/abc2<",
        &format!("{}<", images.display()),
    );
    let xml_path = dir.path().join("autoPROC.xml");
    std::fs::write(&xml_path, xml).unwrap();
    let link_sql = "SELECT p.first_image_number AS first, p.last_image_number AS last, i.sweep_uuid FROM processing_inputs p \
        JOIN image_series i ON i.path = p.path AND i.filename_template = p.filename_template \
        AND i.first_image_number <= p.last_image_number AND i.last_image_number >= p.first_image_number \
        WHERE p.ingest_id IN (SELECT ingest_id FROM ingests) AND i.ingest_id IN (SELECT ingest_id FROM ingests) ORDER BY last";
    assert_eq!(
        mxpipe_store(&store, &["ingest", xml_path.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert!(
        query(&store, link_sql).is_empty(),
        "no collection yet: the inputs are unresolved"
    );
    for n in 1..=30 {
        crate::readers::cbf(
            &images.join(format!("abc2_1_{n:05}.cbf")),
            (n - 1) as f64 * 0.2,
            "1.11583",
        );
    }
    let out = mxpipe_store(&store, &["ingest", images.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let linked = query(&store, link_sql);
    let sweep = query(&store, "SELECT uuid FROM sweeps")[0]["uuid"].clone();
    assert_eq!(
        linked.len(),
        2,
        "both integrations (images 1-21 and 1-184) now link to the sweep: {linked:?}"
    );
    assert!(linked.iter().all(|r| r["sweep_uuid"] == sweep));
}

/// CORRECT.LP lines 1176-1185 (last "SUBSET OF INTENSITY DATA ... AS FUNCTION OF RESOLUTION"
/// table): first shell 5.04 Å, 20207 observed, R 2.6%, I/σ 71.42, R-meas 2.8%, CC(1/2) 100.0;
/// last shell 1.69 Å (from 1.79), R 373.0%, CC(1/2) 23.5; total 489902 observed, 99.8%, R 4.8%,
/// I/σ 16.42, R-meas 5.1%, Anomal corr 1, SigAno 0.730. Header: INCLUDE_RESOLUTION_RANGE 50.000 1.690,
/// X-RAY_WAVELENGTH 0.918400, SPACE_GROUP_NUMBER 5 (C2), UNIT_CELL_CONSTANTS 88.68 82.26 93.70 90 108.65 90,
/// NAME_TEMPLATE_OF_DATA_FRAMES images/ARwoDMSO-F2XEntry-A07a_1_????.cbf, DATA_RANGE 1 3600.
#[test]
fn xds_correct_lp_statistics_and_the_single_image_edge_case() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            td.join("processing/xds/CORRECT.LP").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let rows = stats(&store);
    let get = |shell: &str| rows.iter().find(|r| r["shell"] == shell).unwrap().clone();
    let o = get("overall");
    assert!(close(&o["resolution_low_a"], 50.0) && close(&o["resolution_high_a"], 1.69));
    assert_eq!(o["number_observations"], 489902);
    assert!(
        close(&o["r_merge"], 0.048)
            && close(&o["r_meas"], 0.051)
            && close(&o["cc_half"], 1.0)
            && close(&o["cc_ano"], 0.01)
    );
    assert!(
        close(&o["completeness_pct"], 99.8)
            && close(&o["i_over_sigma"], 16.42)
            && close(&o["sig_ano"], 0.73)
    );
    // XDS writes space group 5 as `C2`; stored in the PDB spelling (issue 25 item 8).
    assert_eq!(o["space_group"], "C 1 2 1");
    assert!(close(&o["cell_a_a"], 88.68) && close(&o["wavelength_a"], 0.9184));
    let i = get("inner");
    assert!(
        close(&i["resolution_high_a"], 5.04)
            && close(&i["r_merge"], 0.026)
            && close(&i["i_over_sigma"], 71.42)
    );
    let u = get("outer");
    assert!(
        close(&u["resolution_low_a"], 1.79)
            && close(&u["r_merge"], 3.73)
            && close(&u["cc_half"], 0.235)
    );
    assert_eq!(rows.len(), 10, "overall + 9 shells");
    let input = &query(
        &store,
        "SELECT path, filename_template, last_image_number FROM processing_inputs",
    )[0];
    assert_eq!(
        input["filename_template"],
        "ARwoDMSO-F2XEntry-A07a_1_%04d.cbf"
    );
    assert!(
        input["path"]
            .as_str()
            .unwrap()
            .ends_with("processing/xds/images")
    );
    assert_eq!(input["last_image_number"], 3600);
    // Single image: "-99.9%" R-factors and zero compared reflections are left out, not stored as values.
    let out = mxpipe_store(
        &store,
        &[
            "ingest",
            td.join("processing/xds/CORRECT_single_image.LP")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let single = query(
        &store,
        "SELECT * FROM reflection_statistics WHERE shell = 'overall' AND resolution_high_a = 1.5",
    );
    assert_eq!(single[0]["number_observations"], 572);
    assert!(
        single[0]["r_merge"].is_null() && single[0]["cc_half"].is_null(),
        "{single:?}"
    );
    // CORRECT.LP without its tables.
    let text = std::fs::read_to_string(td.join("processing/xds/CORRECT.LP")).unwrap();
    let cut = dir.path().join("CORRECT.LP");
    std::fs::write(
        &cut,
        &text[..text.find("SUBSET OF INTENSITY DATA").unwrap()],
    )
    .unwrap();
    let before = counts(&store);
    let out = mxpipe_store(&store, &["ingest", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text_of(&out).contains("AS FUNCTION OF RESOLUTION")
            && text_of(&out).contains("no such table"),
        "{}",
        text_of(&out)
    );
    assert_eq!(counts(&store), before);
}

/// XDS_ASCII.HKL header: SPACE_GROUP_NUMBER 1 (P1), UNIT_CELL_CONSTANTS 92.548 92.628 128.546 90.004
/// 90.055 120.029, X-RAY_WAVELENGTH 0.965000, NAME_TEMPLATE ref-opid30a1_4_xdslink_?????.cbf,
/// DATA_RANGE 1 1; 266 reflection records before !END_OF_DATA (`grep -vc '^!'`).
#[test]
fn xds_ascii_hkl_header_and_record_count() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = td.join("processing/xds/XDS_ASCII.HKL");
    let out = mxpipe_store(&store, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let r = &query(&store, "SELECT * FROM reflection_sets")[0];
    assert_eq!(r["space_group"], "P 1");
    assert!(
        close(&r["cell_c_a"], 128.546)
            && close(&r["cell_gamma_deg"], 120.029)
            && close(&r["wavelength_a"], 0.965)
    );
    assert_eq!(r["number_reflections"], 266);
    assert_eq!(r["filename"], "XDS_ASCII.HKL");
    let input = &query(
        &store,
        "SELECT filename_template, first_image_number, last_image_number FROM processing_inputs",
    )[0];
    assert_eq!(
        input["filename_template"],
        "ref-opid30a1_4_xdslink_%05d.cbf"
    );
    assert_eq!(
        (
            input["first_image_number"].as_i64(),
            input["last_image_number"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let cut = dir.path().join("XDS_ASCII.HKL");
    std::fs::write(&cut, text.replace("!END_OF_DATA", "")).unwrap();
    let out = mxpipe_store(&store, &["ingest", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text_of(&out).contains("!END_OF_DATA"), "{}", text_of(&out));
}

/// autoPROC.xml (ESRF ID30A-1, 2024): one job that integrated four sweeps, images 1-235 each, in
/// four directories …/run_01_07_datacollection, _09, _11 and _13 (lines 122-133, 222-233, 322-333,
/// 422-433). Two of those collections (two crystals, one folder each) are ingested as CBF series,
/// a third sweep is known only by its ISPyB dataCollectionId, the fourth is missing.
#[test]
fn multi_sweep_multi_crystal_processing_links_each_input_to_its_own_sweep() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let root =
        "/data/visitor/mx2532/id30a1/20240220/RAW_DATA/INS/INS-Helical_test1/run_01_MXPressA";
    let mut xml = std::fs::read_to_string(td.join("processing/autoproc/autoPROC.xml"))
        .unwrap()
        .replace(root, dir.path().to_str().unwrap());
    // ISPyB ids for the first three integrations: 2001231, 2001232, 2001234 (only the last is mapped).
    for id in ["2001231", "2001232", "2001234"] {
        xml = xml.replacen(
            "<startImageNumber>1</startImageNumber>",
            &format!(
                "<dataCollectionId>{id}</dataCollectionId><startImageNumber>1</startImageNumber >"
            ),
            1,
        );
    }
    let xml = xml.replace("</startImageNumber >", "</startImageNumber>");
    let xml_path = dir.path().join("autoPROC.xml");
    std::fs::write(&xml_path, xml).unwrap();
    for (run, wavelength) in [("07", "0.96546"), ("09", "0.96546")] {
        let images = dir.path().join(format!("run_01_{run}_datacollection"));
        std::fs::create_dir_all(&images).unwrap();
        for n in 1..=5 {
            let name = format!(
                "INS-Helical_test1_1_{}_{n:04}.cbf",
                run.trim_start_matches('0')
            );
            crate::readers::cbf(&images.join(name), (n - 1) as f64 * 0.2, wavelength);
        }
        let out = mxpipe_store(&store, &["ingest", images.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    }
    // A sweep known to ISPyB as dataCollectionId 2001234 (an MXLIMS message with the id map).
    let mut msg = read_json(&repo().join("samples/mad-interleaved.json"));
    msg["CollectionSweep"]["CollectionSweep2"]["identifiers"] =
        serde_json::json!({"ispyb.esrf.fr": "2001234"});
    let msg_path = dir.path().join("with-id-map.json");
    std::fs::write(&msg_path, msg.to_string()).unwrap();
    assert_eq!(
        mxpipe_store(&store, &["ingest", msg_path.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let out = mxpipe_store(&store, &["ingest", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("warning: 1 processing input(s) match no stored sweep yet"),
        "the fourth sweep is missing: {}",
        text_of(&out)
    );
    let out = mxpipe_store(&store, &["relink", "--output", "json", "--fail-unresolved"]);
    assert_eq!(out.status.code(), Some(1), "one input is unresolved");
    let links: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let sweep_of = |dir_name: &str| {
        query(
            &store,
            &format!("SELECT uuid FROM sweeps WHERE path LIKE '%{dir_name}'"),
        )[0]["uuid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let by_input = |part: &str| -> Vec<(String, String)> {
        links
            .iter()
            .filter(|l| l["images"].as_str().unwrap().contains(part))
            .map(|l| {
                (
                    l["sweep"].as_str().unwrap().to_owned(),
                    l["linked by"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let id_mapped = query(
        &store,
        "SELECT object_uuid FROM identifiers WHERE value = '2001234'",
    )[0]["object_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Inputs 1 and 2 link by images to the two crystals' sweeps (their ids are not mapped).
    let first = by_input("run_01_07_datacollection");
    assert_eq!(
        first,
        vec![(sweep_of("run_01_07_datacollection"), "images".into())]
    );
    let second = by_input("run_01_09_datacollection");
    assert_eq!(
        second,
        vec![(sweep_of("run_01_09_datacollection"), "images".into())]
    );
    assert_ne!(
        sweep_of("run_01_07_datacollection"),
        sweep_of("run_01_09_datacollection"),
        "two crystals, two sweeps"
    );
    assert_eq!(
        by_input("run_01_11_datacollection"),
        vec![(id_mapped, "dataCollectionId".to_owned())]
    );
    assert_eq!(
        by_input("run_01_13_datacollection"),
        vec![("unresolved".to_owned(), String::new())]
    );
}
