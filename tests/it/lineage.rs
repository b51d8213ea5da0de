//! The lineage graph (issue 16): a crystal measured at two sites and merged, followed by
//! `mxpipe lineage` across both; SPARQL against SQL on the same question; the exported graph
//! validated against the SHACL shapes in schemas/ with pyshacl (and shown failing); JSON-LD read
//! back by rdflib with the same triples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::common::*;

fn ok(o: Output) -> Output {
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    o
}

fn sites<'a>(a: &'a str, b: &'a str) -> Vec<String> {
    vec![format!("ESRF={a}"), format!("DLS={b}")]
}

/// `mxpipe ARGS… --site …` for every site.
fn over(sites: &[String], args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    for s in sites {
        all.extend(["--site", s.as_str()]);
    }
    mxpipe(&all)
}

/// Site A (ESRF) measures crystal lyso_x1 (experiment 1) and mints its PID; site B (DLS) gets
/// A's experiment as A exports it (the crystal travels with its PID), measures the same crystal
/// again (experiment 2) and merges both sweeps. Returns (A, B, crystal uuid, sample PID).
fn two_sites(dir: &Path) -> (PathBuf, PathBuf, String, String) {
    let merge = read_json(&repo().join("samples/two-crystal-merge.json"));
    let (a, b) = (dir.join("esrf"), dir.join("dls"));
    let mut msg_a = merge.clone();
    for (dict, key) in [
        ("MxExperiment", "MxExperiment2"),
        ("CollectionSweep", "CollectionSweep2"),
        ("Crystal", "Crystal2"),
        ("Pin", "Pin2"),
    ] {
        msg_a[dict].as_object_mut().unwrap().remove(key);
    }
    msg_a.as_object_mut().unwrap().remove("MxProcessing");
    msg_a.as_object_mut().unwrap().remove("ReflectionSet");
    let file_a = dir.join("a.json");
    std::fs::write(&file_a, msg_a.to_string()).unwrap();
    let config_a = dir.join("esrf.toml");
    std::fs::write(
        &config_a,
        "[pid]\nscheme = \"local\"\nprefix = \"https://pid.esrf.example/s/\"\n",
    )
    .unwrap();
    ok(mxpipe(&[
        "--config",
        config_a.to_str().unwrap(),
        "--store",
        a.to_str().unwrap(),
        "--site",
        "ESRF",
        "ingest",
        file_a.to_str().unwrap(),
    ]));
    let exp1 = merge["MxExperiment"]["MxExperiment1"]["uuid"]
        .as_str()
        .unwrap();
    let exported = dir.join("exp1.json");
    ok(mxpipe(&[
        "--store",
        a.to_str().unwrap(),
        "export",
        "mxlims",
        "--experiment",
        exp1,
        "--out",
        exported.to_str().unwrap(),
    ]));
    let exported = read_json(&exported);
    let crystal = exported["Crystal"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(
        crystal["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
            .as_str()
            .unwrap()
            .starts_with("https://pid.esrf.example/s/")
    );
    let mut msg_b = merge.clone();
    msg_b["Crystal"].as_object_mut().unwrap().remove("Crystal2");
    msg_b["Pin"].as_object_mut().unwrap().remove("Pin2");
    msg_b["Crystal"]["Crystal1"] = crystal.clone();
    msg_b["Crystal"]["Crystal1"]["containerRef"] = json!({"$ref": "#/Pin/Pin1"});
    msg_b["Crystal"]["Crystal1"]["sampleRef"] =
        json!({"$ref": "#/MacromoleculeSample/MacromoleculeSample1"});
    msg_b["MxExperiment"]["MxExperiment2"]["logisticalSampleRef"] =
        json!({"$ref": "#/Crystal/Crystal1"});
    if msg_b["CollectionSweep"]["CollectionSweep2"]
        .get("logisticalSampleRef")
        .is_some()
    {
        msg_b["CollectionSweep"]["CollectionSweep2"]["logisticalSampleRef"] =
            json!({"$ref": "#/Crystal/Crystal1"});
    }
    let file_b = dir.join("b.json");
    std::fs::write(&file_b, serde_json::to_string_pretty(&msg_b).unwrap()).unwrap();
    ok(mxpipe(&["validate", file_b.to_str().unwrap()]));
    ok(mxpipe(&[
        "--store",
        b.to_str().unwrap(),
        "--site",
        "DLS",
        "ingest",
        file_b.to_str().unwrap(),
    ]));
    let sample_pid = merge["MacromoleculeSample"]["MacromoleculeSample1"]["extensions"]["mxpipe.org"]["sampleIdentity"]["pid"]
        .as_str()
        .unwrap()
        .to_owned();
    (
        a,
        b,
        crystal["uuid"].as_str().unwrap().to_owned(),
        sample_pid,
    )
}

fn find<'a>(node: &'a Value, kind: &str, out: &mut Vec<&'a Value>) {
    if node["kind"] == kind {
        out.push(node);
    }
    for c in node["children"].as_array().into_iter().flatten() {
        find(c, kind, out);
    }
}

#[test]
fn a_crystal_measured_at_two_sites_and_merged_has_one_life_history() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, crystal, sample_pid) = two_sites(dir.path());
    let sites = sites(a.to_str().unwrap(), b.to_str().unwrap());
    let crystal_pid = crate::queries::query_cli(&[
        "--store",
        a.to_str().unwrap(),
        &format!("SELECT pid FROM crystals WHERE crystal_uuid = '{crystal}'"),
    ])[0]["pid"]
        .as_str()
        .unwrap()
        .to_owned();
    // By the crystal's PID, by its uuid: the same tree.
    let o = ok(over(&sites, &["lineage", &crystal_pid, "--format", "json"]));
    let tree: Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = ok(over(&sites, &["lineage", &crystal, "--format", "json"]));
    assert_eq!(serde_json::from_slice::<Value>(&o.stdout).unwrap(), tree);
    let root = &tree[0];
    assert_eq!(
        (root["kind"].as_str(), root["pid"].as_str()),
        (Some("Crystal"), Some(crystal_pid.as_str()))
    );
    let mut experiments = Vec::new();
    find(root, "Experiment", &mut experiments);
    assert_eq!(experiments.len(), 2, "{tree:#}");
    let at: BTreeSet<&str> = experiments
        .iter()
        .map(|e| e["site"].as_str().unwrap())
        .collect();
    assert!(
        at.contains("DLS") && at.iter().any(|s| s.contains("ESRF")),
        "{at:?}"
    );
    let mut sweeps = Vec::new();
    find(root, "Sweep", &mut sweeps);
    assert_eq!(sweeps.len(), 2);
    let mut merges = Vec::new();
    find(root, "Processing", &mut merges);
    assert_eq!(merges.len(), 2, "the merge under each sweep");
    assert_eq!(
        merges.iter().filter(|m| m["repeated"] == true).count(),
        1,
        "shown once in full"
    );
    assert!(
        merges
            .iter()
            .all(|m| m["label"].as_str().unwrap().contains("merging 2 sweeps"))
    );
    let mut sets = Vec::new();
    find(root, "ReflectionSet", &mut sets);
    assert_eq!(sets.len(), 1);
    // From the sample's PID: its crystal and everything below, as a tree.
    let o = ok(over(&sites, &["lineage", &sample_pid]));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.starts_with("Sample ")
            && text.contains(&crystal_pid)
            && text.contains("ReflectionSet"),
        "{text}"
    );
    assert!(text.contains("@ DLS") && text.contains("ESRF"), "{text}");
    // Unknown identifiers are an error naming it; a closed pipe ends quietly.
    let o = over(
        &sites,
        &["lineage", "https://pid.esrf.example/s/0000-0000-0"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text_of(&o).contains("0000-0000-0"), "{}", text_of(&o));

    // SPARQL and SQL answer "every reflection set derived from this sample" alike.
    let sample_uuid = read_json(&repo().join("samples/two-crystal-merge.json"))["MacromoleculeSample"]["MacromoleculeSample1"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let q = format!(
        "SELECT DISTINCT ?r WHERE {{ ?set a mxp:ReflectionSet ; mxp:uuid ?r ; (prov:wasDerivedFrom|prov:wasGeneratedBy|prov:used)+ ?x . ?x dcterms:identifier \"{sample_pid}\" }}"
    );
    let o = ok(over(&sites, &["sparql", "--format", "json", &q]));
    let sparql: BTreeSet<String> = serde_json::from_slice::<Vec<Value>>(&o.stdout)
        .unwrap()
        .iter()
        .map(|r| r["r"].as_str().unwrap().to_owned())
        .collect();
    let mut args = vec!["query".to_owned(), "--format".into(), "json".into()];
    for s in &sites {
        args.extend(["--site".to_owned(), s.clone()]);
    }
    args.push(format!(
        "SELECT DISTINCT r.reflection_set_uuid AS r FROM reflection_sets r JOIN processing_inputs i ON i.site = r.site AND i.processing_uuid = r.processing_uuid \
         JOIN sweeps w ON w.sweep_uuid = i.sweep_uuid WHERE w.sample_uuid = '{sample_uuid}'"
    ));
    let o = ok(mxpipe(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let sql: BTreeSet<String> = serde_json::from_slice::<Vec<Value>>(&o.stdout)
        .unwrap()
        .iter()
        .map(|r| r["r"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sparql, sql);
    assert_eq!(sql.len(), 1);
}

/// Over generated sites: for every sample, the reflection sets SPARQL derives from it are those
/// SQL joins to it.
#[test]
fn sparql_and_sql_agree_on_what_derives_from_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen");
    ok(mxpipe(&[
        "--store",
        generated.to_str().unwrap(),
        "generate",
        "--sweeps",
        "300",
        "--sites",
        "2",
        "--seed",
        "5",
    ]));
    let config = generated.join("mxpipe.toml");
    let c = config.to_str().unwrap();
    let q = "SELECT DISTINCT ?s ?r WHERE { ?set a mxp:ReflectionSet ; mxp:uuid ?r ; (prov:wasDerivedFrom|prov:wasGeneratedBy|prov:used)+ ?x . ?x a mxp:Sample ; mxp:uuid ?s }";
    let o = ok(mxpipe(&["--config", c, "sparql", "--format", "json", q]));
    let pairs = |o: &Output, a: &str, b: &str| -> BTreeSet<(String, String)> {
        serde_json::from_slice::<Vec<Value>>(&o.stdout)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r[a].as_str().unwrap().to_owned(),
                    r[b].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let sparql = pairs(&o, "s", "r");
    let o = ok(mxpipe(&[
        "--config",
        c,
        "query",
        "--format",
        "json",
        "SELECT DISTINCT w.sample_uuid AS s, r.reflection_set_uuid AS r FROM reflection_sets r JOIN processing_inputs i \
         ON i.site = r.site AND i.processing_uuid = r.processing_uuid JOIN sweeps w ON w.sweep_uuid = i.sweep_uuid \
         JOIN samples m ON m.site = w.site AND m.sample_uuid = w.sample_uuid AND m.mxlims_type = 'MacromoleculeSample'",
    ]));
    let sql = pairs(&o, "s", "r");
    assert!(sql.len() > 10, "{}", sql.len());
    assert_eq!(sparql, sql);

    // `lineage` reads only the part of the graph around its sample: the same trees as the whole
    // graph gives, for samples and crystals of both sites.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sites: Vec<mxpipe_queries::Site> = ["DLS", "ESRF"]
        .iter()
        .map(|n| mxpipe_queries::Site {
            name: n.to_string(),
            location: generated.join(n).to_str().unwrap().to_owned(),
        })
        .collect();
    let (ctx, _) = rt
        .block_on(mxpipe_queries::open_sites(
            &sites,
            &Default::default(),
            false,
        ))
        .unwrap();
    let whole = rt.block_on(mxpipe_lineage::build(&ctx)).unwrap();
    let o = ok(mxpipe(&[
        "--config",
        c,
        "query",
        "--format",
        "json",
        "(SELECT pid AS id FROM samples WHERE pid IS NOT NULL ORDER BY pid LIMIT 3) UNION ALL (SELECT crystal_uuid FROM crystals ORDER BY crystal_uuid LIMIT 3)",
    ]));
    let ids: Vec<String> = serde_json::from_slice::<Vec<Value>>(&o.stdout)
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 6);
    for id in ids {
        let part = rt
            .block_on(mxpipe_lineage::build_around(&ctx, &id))
            .unwrap();
        assert!(
            part.len() < whole.len() / 2,
            "{id}: {} of {} triples",
            part.len(),
            whole.len()
        );
        let a = serde_json::to_value(mxpipe_lineage::tree::lineage(&part, &id).unwrap()).unwrap();
        let b = serde_json::to_value(mxpipe_lineage::tree::lineage(&whole, &id).unwrap()).unwrap();
        assert_eq!(a, b, "{id}");
    }
}

fn rdf_check(args: &[&str]) -> Option<Output> {
    let py = python()?;
    Some(
        std::process::Command::new(py)
            .arg(repo().join("tests/checkers/rdf_check.py"))
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_exported_graph_has_the_documented_shape_in_every_format() {
    let Some(td) = testdata() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _, _) = two_sites(dir.path());
    // Site B's records in SciCat (the local contract server): catalogue records in the graph.
    let server = crate::scicat::Server::start(&py, &td, &[]);
    ok(crate::scicat::export_to(
        &b,
        &server,
        crate::scicat::SITE,
        "s3cret-pw",
    ));
    let sites = sites(a.to_str().unwrap(), b.to_str().unwrap());
    let shapes = repo().join("schemas/lineage.shacl.ttl");
    let ttl = dir.path().join("g.ttl");
    let o = ok(over(
        &sites,
        &["export", "rdf", "--out", ttl.to_str().unwrap()],
    ));
    let triples: usize = text_of(&o)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let text = std::fs::read_to_string(&ttl).unwrap();
    assert!(
        text.contains("mxp:CatalogueRecord") && text.contains("\"scicat\""),
        "no SciCat records in the graph"
    );
    let check = rdf_check(&[
        "shacl",
        shapes.to_str().unwrap(),
        ttl.to_str().unwrap(),
        "turtle",
    ])
    .unwrap();
    assert!(check.status.success(), "{}", text_of(&check));
    // A sweep no experiment generated breaks the shape: the check can fail.
    let bad = dir.path().join("bad.ttl");
    std::fs::write(
        &bad,
        format!(
            "{text}\n<urn:uuid:00000000-0000-4000-8000-000000000001> a mxp:Sweep , prov:Entity ; \
        mxp:uuid \"00000000-0000-4000-8000-000000000001\" ; mxp:site \"DLS\" .\n"
        ),
    )
    .unwrap();
    let check = rdf_check(&[
        "shacl",
        shapes.to_str().unwrap(),
        bad.to_str().unwrap(),
        "turtle",
    ])
    .unwrap();
    assert!(
        !check.status.success() && text_of(&check).contains("wasGeneratedBy"),
        "{}",
        text_of(&check)
    );
    // N-Quads and JSON-LD hold the same triples (read by rdflib).
    for (format, rdflib) in [
        ("nquads", "nquads"),
        ("jsonld", "json-ld"),
        ("turtle", "turtle"),
    ] {
        let file = dir.path().join(format!("g.{format}"));
        let mut args = vec![
            "export",
            "rdf",
            "--format",
            format,
            "--out",
            file.to_str().unwrap(),
        ];
        let owned: Vec<String> = sites
            .iter()
            .flat_map(|s| ["--site".to_owned(), s.clone()])
            .collect();
        args.extend(owned.iter().map(String::as_str));
        ok(mxpipe(&args));
        let count = rdf_check(&["count", file.to_str().unwrap(), rdflib]).unwrap();
        assert!(count.status.success(), "{}", text_of(&count));
        assert_eq!(
            String::from_utf8_lossy(&count.stdout).trim(),
            triples.to_string(),
            "{format}"
        );
    }
    // `lineage --format turtle` is a part of the same graph.
    let crystal =
        crate::queries::query_cli(&["--store", a.to_str().unwrap(), "SELECT pid FROM crystals"])[0]
            ["pid"]
            .as_str()
            .unwrap()
            .to_owned();
    let o = ok(over(&sites, &["lineage", &crystal, "--format", "turtle"]));
    let part = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        part.contains("prov:wasGeneratedBy") && part.contains(&format!("<{crystal}>")),
        "{part}"
    );
}
