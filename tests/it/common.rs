//! Shared helpers: where the test data lives, running the binary, loading upstream schemas.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mxpipe::schema_dir::load_upstream;
use mxpipe_model::validate::UpstreamSchemas;
use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/testdata`, or `None` (with a loud message) when absent. With
/// `MXPIPE_REQUIRE_TESTDATA=1` (set by scripts/test and CI) absence is a failure.
pub fn testdata() -> Option<PathBuf> {
    let dir = repo().join("../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") {
        panic!("../shared/testdata is missing but MXPIPE_REQUIRE_TESTDATA=1");
    }
    eprintln!(
        "\n*** SKIPPED: ../shared/testdata not found next to the repository; this test needs it ***\n"
    );
    None
}

/// The upstream MXLIMS 0.6.13 schema folder.
pub fn upstream_dir(testdata: &Path) -> PathBuf {
    testdata.join("mxlims/0.6.13/schemas")
}

/// Upstream schemas, lenient (patched) or strict (as published).
pub fn upstream(testdata: &Path, strict: bool) -> UpstreamSchemas {
    load_upstream(&upstream_dir(testdata), strict).expect("upstream schemas load")
}

/// Read a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// All `*.json` files below a folder, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Our own valid sample messages (every sample except the deliberately invalid one).
pub fn valid_samples() -> Vec<PathBuf> {
    json_files(&repo().join("samples"))
        .into_iter()
        .filter(|p| !file_name(p).starts_with("invalid"))
        .collect()
}

/// File name as text.
pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Run the mxpipe binary.
pub fn mxpipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("mxpipe runs")
}
