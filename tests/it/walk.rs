//! Every entry of a walked folder is accounted for (issue 25 item 3): a symbolic link to a file is
//! read; a link to a folder is walked only with `--follow`, else reported `skipped`; dangling links
//! and link loops are reported; a folder that cannot be read (chmod 000, run without the
//! capability to override permissions) is `failed` and, with `--keep-going`, the run goes on; an
//! empty walk says so; a non-UTF-8 file name is stored percent-encoded and decodes to the file.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::*;

/// `mxpipe --store STORE ARGS…` as a process that obeys file permissions: as root, without the
/// capabilities that bypass them (`setpriv`, util-linux); None when that cannot be arranged.
fn without_overrides(store: &Path, args: &[&str]) -> Option<Output> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set=-dac_override,-dac_read_search"])
            .arg(env!("CARGO_BIN_EXE_mxpipe"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_mxpipe"))
    };
    cmd.arg("--store").arg(store).args(args);
    cmd.output().ok()
}

#[test]
fn every_entry_of_a_walk_is_reported() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (raw, visit, elsewhere) = (
        dir.path().join("raw"),
        dir.path().join("visit"),
        dir.path().join("elsewhere"),
    );
    let proc = visit.join("proc");
    for d in [&raw, &proc, &elsewhere, &visit.join("locked")] {
        std::fs::create_dir_all(d).unwrap();
    }
    copy_into(&td.join("processing/autoproc/autoPROC.xml"), &raw);
    copy_into(&td.join("processing/xds/CORRECT.LP"), &elsewhere);
    symlink("../../raw/autoPROC.xml", proc.join("autoPROC.xml")).unwrap();
    symlink("../../elsewhere", proc.join("linked")).unwrap();
    symlink("nothing-here.xml", proc.join("dangling.xml")).unwrap();
    symlink("loop", proc.join("loop")).unwrap();
    symlink("..", proc.join("up")).unwrap();
    // A Latin-1 file name: not UTF-8.
    let latin1 = proc.join(std::ffi::OsStr::from_bytes(b"prot\xE9ine_1_0001.cbf"));
    std::fs::copy(td.join("collection/cbf/omega_scan.cbf"), &latin1).unwrap();
    copy_into(
        &td.join("processing/xds/XDS_ASCII.HKL"),
        &visit.join("locked"),
    );
    let locked = visit.join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let store = dir.path().join("store");
    let v = visit.to_str().unwrap();

    // Without --keep-going the unreadable folder stops the run: exit 1, nothing stored, and the
    // store says it holds nothing yet (not "not an mxpipe store").
    let o = without_overrides(&store, &["ingest", v]).expect("setpriv (util-linux) runs");
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("locked: cannot read this folder")
            && text_of(&o).contains("nothing was stored"),
        "{}",
        text_of(&o)
    );
    let q = mxpipe_store(&store, &["query", "SELECT count(*) AS n FROM jobs"]);
    assert!(text_of(&q).contains("holds nothing yet"), "{}", text_of(&q));

    // With --keep-going every entry is reported and the good files are stored.
    let o = without_overrides(&store, &["ingest", "--keep-going", "--output", "json", v]).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text_of(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (name, status, says) in [
        ("proc/autoPROC.xml", "ingested", "new"),
        ("proc/linked", "skipped", "--follow"),
        ("proc/dangling.xml", "skipped", "dangling symbolic link"),
        ("proc/loop", "skipped", "loop"),
        ("proc/up", "skipped", "--follow"),
        ("ine_1_0001.cbf", "ingested", "new"),
        ("visit/locked", "failed", "cannot read this folder"),
    ] {
        let (s, detail) = file_status(&summary, name);
        assert_eq!(s, status, "{name}: {detail}");
        assert!(detail.contains(says), "{name}: {detail}");
    }
    // The Latin-1 name is stored percent-encoded and decodes to the file itself.
    let rows = query(
        &store,
        "SELECT path FROM sources WHERE path LIKE '%ine_1_0001.cbf'",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let stored = rows[0]["path"].as_str().unwrap();
    assert!(stored.ends_with("/prot%E9ine_1_0001.cbf"), "{stored}");
    assert_eq!(mxpipe_model::paths::text_path(stored), latin1);

    // --follow walks the linked folder; `up` (a link to an ancestor) is a loop, reported.
    let o = without_overrides(
        &store,
        &["ingest", "--follow", "--keep-going", "--output", "json", v],
    )
    .unwrap();
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        file_status(&summary, "proc/linked/CORRECT.LP").0,
        "ingested"
    );
    let (s, detail) = file_status(&summary, "proc/up");
    assert!(s == "skipped" && detail.contains("loop"), "{s}: {detail}");
    assert_eq!(file_status(&summary, "proc/autoPROC.xml").0, "unchanged");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();

    // An empty walk says so and succeeds.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join(".hidden.xml"), "<x/>").unwrap();
    let o = mxpipe_store(&store, &["ingest", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
    assert!(
        text_of(&o).contains("warning: no files found under"),
        "{}",
        text_of(&o)
    );
}
