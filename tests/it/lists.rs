//! Lists in the documentation that cannot go stale: each is checked against the registry it
//! names (the readers, the views, the workspace's crates and their descriptions).

use crate::common::{mxpipe, repo, text_of};

/// The reader names, from `mxpipe formats` (the `READERS` registry).
fn reader_names() -> Vec<String> {
    let out = mxpipe(&["formats"]);
    assert!(out.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    names
}

fn doc(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).expect("doc")
}

#[test]
fn every_reader_has_its_section_in_the_ingest_doc_and_is_named_in_the_serve_doc() {
    let ingest = doc("docs/ingest.md");
    let serve = doc("docs/serve.md");
    for name in reader_names() {
        let heading = format!("(`{name}`)");
        assert!(
            ingest
                .lines()
                .any(|l| l.starts_with("## ") && l.ends_with(&heading)),
            "docs/ingest.md has no section `## … {heading}` for the reader {name}"
        );
        assert!(
            serve.contains(&format!("`{name}`")),
            "docs/serve.md does not name the reader {name} among the formats of /v1/files"
        );
    }
}

#[test]
fn the_query_help_lists_every_documented_view() {
    let help = text_of(&mxpipe(&["query", "--help"]));
    let queries = doc("docs/queries.md");
    let views: Vec<&str> = queries
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split('`').next())
        .filter(|v| !v.starts_with("store."))
        .collect();
    assert!(views.len() >= 10, "{views:?}");
    let listed = help
        .split("Views:")
        .nth(1)
        .expect("a Views: line in `mxpipe query --help`");
    let listed: Vec<&str> = listed
        .split([',', '.', '\n', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    for v in &views {
        assert!(
            listed.contains(v),
            "`mxpipe query --help` does not list the view {v}"
        );
    }
}

#[test]
fn the_readme_and_architecture_list_every_crate_with_its_description() {
    let manifest: toml::Value = toml::from_str(&doc("Cargo.toml")).expect("Cargo.toml");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("members");
    let readme = doc("README.md");
    let architecture = doc("docs/architecture.md");
    let mut checked = 0;
    for m in members
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
    {
        let crate_toml: toml::Value =
            toml::from_str(&doc(&format!("{m}/Cargo.toml"))).expect("crate manifest");
        let name = crate_toml["package"]["name"].as_str().expect("name");
        let description = crate_toml["package"]["description"]
            .as_str()
            .unwrap_or_else(|| panic!("{m}/Cargo.toml has no description"));
        let row = format!("| `{m}/` (`{name}`) | {description} |");
        assert!(
            readme.contains(&row),
            "README.md's workspace table lacks the row (from {m}/Cargo.toml):\n{row}"
        );
        assert!(
            architecture.contains(&format!("| `{m}/` (`{name}`) |")),
            "docs/architecture.md's crate table has no row for {m}/"
        );
        checked += 1;
    }
    assert!(checked >= 12, "{checked} crates");
}

#[test]
fn the_import_doc_lists_every_normalisation_rule() {
    let doc = doc("docs/ispyb-import.md");
    assert!(
        doc.contains(&mxpipe_import::ispyb::rules::markdown()),
        "docs/ispyb-import.md's rules table differs from import/src/ispyb/rules.rs; paste:\n{}",
        mxpipe_import::ispyb::rules::markdown()
    );
}
