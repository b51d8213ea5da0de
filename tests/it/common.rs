//! Shared helpers: where the test data lives, running the binary, loading upstream schemas.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mxpipe_app::schemas::load_upstream;
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

/// Run `mxpipe --store STORE ARGS...`.
pub fn mxpipe_store(store: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--store", store.to_str().unwrap()];
    all.extend_from_slice(args);
    mxpipe(&all)
}

/// Start a local contract server (tests/checkers/*_contract_server.py) that prints `PORT N` as
/// its first line: the child and its `http://127.0.0.1:N` URL.
pub fn spawn_server(cmd: &mut Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("the server said {line:?}"))
        .to_owned();
    (child, format!("http://127.0.0.1:{port}"))
}

/// Output text of a finished process (stdout + stderr) for assertion messages.
pub fn text_of(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run SQL on a store with DataFusion; rows as JSON objects.
pub fn query(store: &Path, sql: &str) -> Vec<Value> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches = rt.block_on(async {
        let s =
            mxpipe_store::Store::open(store.to_str().unwrap(), "test", Default::default()).unwrap();
        s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    });
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// Committed rows per table (`mxpipe store stats`).
pub fn counts(store: &Path) -> std::collections::BTreeMap<String, u64> {
    let out = mxpipe_store(store, &["store", "stats", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_owned(),
                r["committed rows"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The Python interpreter with h5py and deltalake (set by scripts/test), or None with a loud skip.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("MXPIPE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") {
                panic!("MXPIPE_PYTHON is not set; run the tests through scripts/test");
            }
            eprintln!(
                "\n*** SKIPPED: MXPIPE_PYTHON not set (scripts/test sets it); this test needs h5py/deltalake ***\n"
            );
            None
        }
    }
}

/// Approximate equality for floats read back from the store.
pub fn close(a: &Value, b: f64) -> bool {
    a.as_f64()
        .is_some_and(|a| (a - b).abs() <= 1e-6 * b.abs().max(1.0))
}

/// Write the h5py NXmx fixtures (`tests/fixtures/make_nxmx.py`) into `dir`; false (with a loud
/// skip) without Python.
pub fn make_fixtures(dir: &Path) -> bool {
    let Some(py) = python() else { return false };
    let out = Command::new(py)
        .arg(repo().join("tests/fixtures/make_nxmx.py"))
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    true
}

/// Copy `file` into the folder `dir` (created when missing), keeping its name: the copy's path.
pub fn copy_into(file: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join(file.file_name().expect("a file"));
    std::fs::copy(file, &to).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    to
}

/// Status and detail of the file of an `ingest --output json` summary whose path ends with
/// `name` (a failure when the summary does not report it).
pub fn file_status(summary: &Value, name: &str) -> (String, String) {
    summary
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with(name))
        .map(|f| {
            (
                f["status"].as_str().unwrap().to_owned(),
                f["detail"].as_str().unwrap().to_owned(),
            )
        })
        .unwrap_or_else(|| panic!("{name} not reported: {summary}"))
}

/// Run `mxpipe --store STORE ingest INPUT`, let it write its data tables, and SIGKILL it just
/// before its commit record (`MXPIPE_PAUSE_BEFORE_COMMIT`): a writer killed mid-run.
pub fn ingest_killed_before_commit(store: &Path, input: &Path) {
    killed_before_commit(
        &[
            "--store",
            store.to_str().unwrap(),
            "ingest",
            input.to_str().unwrap(),
        ],
        &store.with_extension("paused"),
    );
}

/// Run `mxpipe ARGS…` with the commit hook armed (`MXPIPE_PAUSE_BEFORE_COMMIT=marker`) and
/// kill it (SIGKILL) once its first run wrote its data and not yet its commit record.
pub fn killed_before_commit(args: &[&str], marker: &Path) {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(args)
        .env("MXPIPE_PAUSE_BEFORE_COMMIT", marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !marker.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "mxpipe never reached the commit point"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = std::fs::remove_file(marker);
}
