//! Anisotropic results kept and told apart (issue 25 item 8): autoPROC + STARANISO writes the
//! isotropic and the anisotropic result as two scaling containers; the anisotropic one carries the
//! diffraction-limit ellipsoid and spherical/ellipsoidal completeness. The test writes such a
//! file from the real two-container autoPROC XML of ../shared/testdata (elements added to its
//! second container, the first container's space group respelled `P222`), then checks the views
//! (labels in container order, the new columns, one space-group spelling), the AutoProcContainer
//! export (order and STARANISO elements kept; read back equal) and the web processing page.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::queries::query_cli;

/// The STARANISO variant of the two-container autoPROC XML, written to `dir/autoPROC.xml`.
fn staraniso_xml(td: &Path, dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        td.join("processing/ispyb-xml/autoPROC-two-ap_scaling_containers.xml"),
    )
    .unwrap();
    let at = text.rfind("<AutoProcScalingContainer>").unwrap();
    let (first, second) = text.split_at(at);
    let first = first.replacen(
        "<spaceGroup>P 2 2 2</spaceGroup>",
        "<spaceGroup>P222</spaceGroup>",
        1,
    );
    let ellipsoid = "<StaranisoEllipsoid><RotationMatrix11>1</RotationMatrix11><RotationMatrix12>0</RotationMatrix12>\
        <RotationMatrix13>0</RotationMatrix13><RotationMatrix21>0</RotationMatrix21><RotationMatrix22>1</RotationMatrix22>\
        <RotationMatrix23>0</RotationMatrix23><RotationMatrix31>0</RotationMatrix31><RotationMatrix32>0</RotationMatrix32>\
        <RotationMatrix33>1</RotationMatrix33><Eigenvalue1>2.31</Eigenvalue1><Eigenvalue2>2.52</Eigenvalue2>\
        <Eigenvalue3>2.87</Eigenvalue3></StaranisoEllipsoid></AutoProcScaling>";
    let second = second
        .replacen("</AutoProcScaling>", ellipsoid, 1)
        .replace(
            "</AutoProcScalingStatistics>",
            "<completenessSpherical>71.5</completenessSpherical><completenessEllipsoidal>93.2</completenessEllipsoidal>\
             <anomalousCompletenessSpherical>65.1</anomalousCompletenessSpherical>\
             <anomalousCompletenessEllipsoidal>90.4</anomalousCompletenessEllipsoidal></AutoProcScalingStatistics>",
        );
    assert!(
        first.contains("P222") && second.contains("StaranisoEllipsoid"),
        "the testdata file changed"
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("autoPROC.xml");
    std::fs::write(&path, format!("{first}{second}")).unwrap();
    path
}

fn sets(store: &Path) -> Vec<Value> {
    query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT processing_uuid, label, anisotropic, position, space_group, diffraction_limit_1_a AS d1, diffraction_limit_3_a AS d3, \
         completeness_pct, completeness_spherical_pct AS sph, completeness_ellipsoidal_pct AS ell \
         FROM reflection_sets ORDER BY position",
    ])
}

#[test]
fn anisotropic_results_are_labelled_kept_and_written_back_in_order() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let xml = staraniso_xml(&td, &dir.path().join("proc"));
    let store = dir.path().join("store");
    let o = mxpipe_store(
        &store,
        &["ingest", "--session", "mx12345-1", xml.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let rows = sets(&store);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["isotropic", "anisotropic"], "{rows:?}");
    // One spelling: `P222` and `P 2 2 2` are one group.
    assert!(
        rows.iter().all(|r| r["space_group"] == "P 2 2 2"),
        "{rows:?}"
    );
    let groups = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT space_group, count(*) AS n FROM reflection_sets GROUP BY space_group",
    ]);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let (iso, aniso) = (&rows[0], &rows[1]);
    assert!(iso["sph"].is_null() && iso["d1"].is_null(), "{iso}");
    assert_eq!(
        (aniso["sph"].as_f64(), aniso["ell"].as_f64()),
        (Some(71.5), Some(93.2)),
        "{aniso}"
    );
    assert_eq!(
        (aniso["d1"].as_f64(), aniso["d3"].as_f64()),
        (Some(2.31), Some(2.87)),
        "{aniso}"
    );
    let shells = query_cli(&[
        "--store",
        store.to_str().unwrap(),
        "SELECT shell, completeness_ano_ellipsoidal_pct AS e FROM reflection_shells WHERE completeness_ano_ellipsoidal_pct IS NOT NULL",
    ]);
    assert_eq!(
        shells.len(),
        3,
        "overall, inner and outer of the anisotropic set: {shells:?}"
    );
    assert!(shells.iter().all(|s| s["e"].as_f64() == Some(90.4)));

    // The AutoProcContainer export keeps the order and STARANISO's elements; read back, it gives
    // the same sets.
    let processing = rows[0]["processing_uuid"].as_str().unwrap().to_owned();
    let out = dir.path().join("back/autoPROC.xml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = mxpipe_store(
        &store,
        &[
            "export",
            "autoproc-xml",
            "--processing",
            &processing,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    let containers: Vec<&str> = written
        .split("<AutoProcScalingContainer>")
        .skip(1)
        .collect();
    assert_eq!(containers.len(), 2);
    assert!(
        !containers[0].contains("StaranisoEllipsoid")
            && containers[1].contains("<Eigenvalue2>2.52</Eigenvalue2>"),
        "{written}"
    );
    assert!(
        containers[1].contains("<completenessEllipsoidal>93.2</completenessEllipsoidal>"),
        "{written}"
    );
    let again = dir.path().join("again");
    let o = mxpipe_store(
        &again,
        &["ingest", "--session", "mx12345-1", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let strip = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("processing_uuid");
                r
            })
            .collect()
    };
    assert_eq!(strip(sets(&again)), strip(rows.clone()));

    // The web processing page: each set's label, space group and cell; the header's space group
    // (the job states none) from its first result.
    let (_cfg_dir, config) = crate::serve::serve_config("");
    let served = config.parent().unwrap().join("store");
    let o = mxpipe_store(
        &served,
        &["ingest", "--session", "mx12345-1", xml.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text_of(&o));
    let token = crate::serve::new_token(&config, &["--scope", "read"]);
    let server = crate::serve::start(&config, &served);
    let processing = sets(&served)[0]["processing_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, _, page) = crate::attack::http(
        &rt,
        "GET",
        &format!("{}/processing/{processing}", server.base),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{page}");
    let iso_at = page.find("— isotropic").expect("the isotropic label");
    let aniso_at = page.find("— anisotropic").expect("the anisotropic label");
    assert!(iso_at < aniso_at, "container order");
    assert!(page.matches("Space group P 2 2 2").count() == 2, "{page}");
    let summary = &page[..iso_at];
    assert!(
        summary.contains("<td>P 2 2 2</td>") || summary.contains(">P 2 2 2<"),
        "header space group: {summary}"
    );
}
