//! A cross-site query where one site is served over the S3 protocol by a real local
//! S3-compatible server (crates.io `s3s-fs`, loopback only), ingested through S3 as well.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::queries::ingest;

/// A running s3s-fs, stopped when dropped.
pub(crate) struct S3Server {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const KEY: &str = "mxpipe-test-key";
pub(crate) const SECRET: &str = "mxpipe-test-secret";

/// The s3s-fs binary: $MXPIPE_S3S_FS, else on PATH or in ~/.cargo/bin; None with a loud skip
/// (a failure under scripts/test, which installs it).
pub(crate) fn s3s_fs() -> Option<PathBuf> {
    let candidates = std::env::var_os("MXPIPE_S3S_FS")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect::<Vec<_>>()
        }))
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs")));
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    if std::env::var("MXPIPE_REQUIRE_TESTDATA").as_deref() == Ok("1") {
        panic!(
            "s3s-fs not found; scripts/test installs it (cargo install s3s-fs --version 0.14.1)"
        );
    }
    eprintln!(
        "\n*** SKIPPED: s3s-fs not found (scripts/test installs it); the S3 site test needs it ***\n"
    );
    None
}

pub(crate) fn start(bin: &Path, root: &Path) -> S3Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", KEY, "--secret-key", SECRET])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let server = S3Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "s3s-fs did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Run mxpipe with the configuration `cfg` first and the S3 keys (`secret`) in the environment.
fn mxpipe_s3(cfg: &str, secret: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mxpipe"))
        .args(["--config", cfg])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap()
}

#[test]
fn cross_site_query_over_a_local_store_and_an_s3_store() {
    let Some(bin) = s3s_fs() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3root");
    std::fs::create_dir_all(root.join("mxdata")).unwrap(); // a bucket is a folder
    let server = start(&bin, &root);
    let config = tmp.path().join("mxpipe.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nlocation = \"s3://mxdata/esrf\"\nsite = \"ESRF\"\n\
             options = {{ AWS_ENDPOINT_URL = \"http://127.0.0.1:{}\", AWS_ALLOW_HTTP = \"true\", \
             AWS_REGION = \"us-east-1\", AWS_S3_ALLOW_UNSAFE_RENAME = \"true\" }}\n",
            server.port
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    // Ingest into the S3 site through the S3 protocol.
    let merge = repo().join("samples/two-crystal-merge.json");
    let out = mxpipe_s3(cfg, SECRET, &["ingest", merge.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(
        root.join("mxdata/esrf/sweeps/_delta_log").is_dir(),
        "the S3 server holds the Delta tables"
    );
    // A local site.
    let local = tmp.path().join("dls");
    let mad = repo().join("samples/mad-interleaved.json");
    ingest(&local, "written-locally", &[&mad]);

    let sweeps_in = |p: &Path| read_json(p)["CollectionSweep"].as_object().unwrap().len();
    let dls = format!("DLS={}", local.display());
    let sql = "SELECT site, count(*) AS sweeps, min(energy_ev) AS min_energy_ev FROM sweeps GROUP BY site ORDER BY site";
    let out = mxpipe_s3(
        cfg,
        SECRET,
        &[
            "query",
            "--format",
            "json",
            "--site",
            &dls,
            "--site",
            "ESRF=s3://mxdata/esrf",
            sql,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["site"], "DLS");
    assert_eq!(rows[0]["sweeps"], sweeps_in(&mad));
    assert_eq!(rows[1]["site"], "ESRF");
    assert_eq!(rows[1]["sweeps"], sweeps_in(&merge));
    // The processing of the S3 site joins its sweeps like a local one.
    let out = mxpipe_s3(
        cfg,
        SECRET,
        &[
            "query",
            "--format",
            "json",
            "--site",
            "ESRF=s3://mxdata/esrf",
            "SELECT program_name, number_inputs FROM processing",
        ],
    );
    let p: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        p[0]["program_name"],
        read_json(&merge)["MxProcessing"]["MxProcessing1"]["programName"]
    );
    // Wrong credentials: the S3 site is named as unreachable (exit 2); the secret is not printed.
    let out = mxpipe_s3(
        cfg,
        "not-the-secret",
        &[
            "query",
            "--site",
            &dls,
            "--site",
            "ESRF=s3://mxdata/esrf",
            "SELECT 1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("site ESRF"), "{}", text_of(&out));
    assert!(!text_of(&out).contains("not-the-secret"));
}
