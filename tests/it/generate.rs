//! `mxpipe generate`: the requested scale per site, consistent SSX counts, reused barcodes,
//! determinism (same seed, same store; other seed, other store) and idempotent re-runs.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::queries::query_cli;

fn generate(dir: &Path, seed: &str) {
    let out = mxpipe(&[
        "--store",
        dir.to_str().unwrap(),
        "generate",
        "--sweeps",
        "301",
        "--ssx-frames",
        "23000",
        "--sites",
        "2",
        "--seed",
        seed,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
}

fn q(dir: &Path, sql: &str) -> Vec<Value> {
    let config = dir.join("mxpipe.toml");
    query_cli(&["--config", config.to_str().unwrap(), sql])
}

#[test]
fn generate_writes_the_requested_scale_deterministically_and_idempotently() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    generate(&a, "7");
    // Rotation sweeps split over the two sites (151 + 150), every one with a beamline.
    let per_site = q(
        &a,
        "SELECT site, count(*) AS n, count(beamline) AS with_beamline FROM sweeps \
         WHERE sweep_type = 'simple' GROUP BY site ORDER BY site",
    );
    assert_eq!(per_site.len(), 2, "{per_site:?}");
    assert_eq!(
        (&per_site[0]["site"], &per_site[0]["n"]),
        (&"DLS".into(), &151.into())
    );
    assert_eq!(
        (&per_site[1]["site"], &per_site[1]["n"]),
        (&"ESRF".into(), &150.into())
    );
    assert!(per_site.iter().all(|r| r["n"] == r["with_beamline"]));
    // Every SSX frame is stored, and each run's counts agree with its frames.
    let frames = q(&a, "SELECT count(*) AS n FROM ssx_frames");
    assert_eq!(frames[0]["n"], 23000);
    let mismatched = q(
        &a,
        "SELECT r.job_uuid, r.frames_total, r.hits, f.n, f.hits AS frame_hits FROM ssx_runs r \
         JOIN (SELECT site, processing_uuid, count(*) AS n, sum(CAST(hit AS INT)) AS hits FROM ssx_frames \
               GROUP BY site, processing_uuid) f ON f.site = r.site AND f.processing_uuid = r.job_uuid \
         WHERE r.level = 'processing' AND (r.frames_total <> f.n OR r.hits <> f.hits)",
    );
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let runs = q(
        &a,
        "SELECT sum(frames_total) AS n FROM ssx_runs WHERE level = 'processing'",
    );
    assert_eq!(runs[0]["n"], 23000);
    // Interleaved MAD experiments alternate energies in acquisition order.
    let mad = q(
        &a,
        "SELECT s.experiment_uuid, s.ordinal, s.energy_ev FROM scans s JOIN experiments e \
         ON e.site = s.site AND e.experiment_uuid = s.experiment_uuid \
         WHERE e.experiment_strategy = 'MAD.interleaved' ORDER BY s.experiment_uuid, s.ordinal",
    );
    assert!(!mad.is_empty());
    for w in mad.windows(2) {
        if w[0]["experiment_uuid"] == w[1]["experiment_uuid"] {
            assert_ne!(w[0]["energy_ev"], w[1]["energy_ev"], "{w:?}");
        }
    }
    // Some pin barcodes are reused for different samples; processing has statistics.
    let reuse = q(&a, "SELECT barcode, identities FROM barcode_reuse");
    assert!(!reuse.is_empty());
    assert!(
        reuse.iter().all(|r| r["identities"].as_i64().unwrap() >= 2),
        "{reuse:?}"
    );
    let stats = q(
        &a,
        "SELECT count(*) AS n, min(resolution_high_a) AS best, max(resolution_high_a) AS worst \
         FROM reflection_sets WHERE outer_cc_half < cc_half AND crystal_uuid IS NOT NULL",
    );
    let n = stats[0]["n"].as_i64().unwrap();
    assert!(
        n > 150 && n < 301,
        "about 85 % of experiments are processed: {stats:?}"
    );
    assert!(
        stats[0]["best"].as_f64().unwrap() >= 1.0 && stats[0]["worst"].as_f64().unwrap() <= 3.6
    );

    // Same seed: the same store; another seed: another store.
    generate(&b, "7");
    generate(&c, "8");
    let fingerprint = "SELECT site, sweep_uuid, energy_ev, number_images, beamline FROM sweeps ORDER BY site, sweep_uuid";
    assert_eq!(q(&a, fingerprint), q(&b, fingerprint));
    assert_ne!(q(&a, fingerprint), q(&c, fingerprint));
    // A re-run adds nothing: no new ingest run anywhere.
    let before = q(&a, "SELECT count(*) AS n FROM ingests");
    generate(&a, "7");
    assert_eq!(q(&a, "SELECT count(*) AS n FROM ingests"), before);
}
