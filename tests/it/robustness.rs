//! No input makes a reader panic: a seeded, in-process mutation test over every reader (stable
//! Rust, so CI catches regressions without the nightly fuzzers under `fuzz/`), and the replay of
//! every regression input under `tests/fuzz-regressions/<reader>/` (small files of our own making,
//! one per crash the fuzzers found).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use mxpipe_ingest::{Fragment, READERS, ReadOptions, Reader};

use crate::common::*;

/// A small deterministic generator (xorshift64*), so every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that break naive parsers: multi-byte UTF-8, invalid UTF-8, structure characters.
const NASTY: &[&[u8]] = &[
    "é".as_bytes(),
    "😀".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\0",
    b"\n",
    b"\r\n",
    b"{",
    b"}",
    b"\"",
    b"<",
    b">",
    b"&#233;",
    b"&#xFFFFFFFF;",
    b"loop_",
    b"_",
    b";",
    b"----- Begin chunk -----",
    b"-1e309",
    b"NaN",
    b"99999999999999999999",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                let nasty = NASTY[rng.below(NASTY.len())];
                data.splice(i..i, nasty.iter().copied());
            }
            2 if len > 0 => {
                data.truncate(rng.below(len));
            }
            3 if len > 1 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                data.drain(a..b);
            }
            4 if len > 1 => {
                let a = rng.below(len);
                let b = (a + rng.below(256)).min(len);
                let chunk: Vec<u8> = data[a..b].to_vec();
                let at = rng.below(len);
                data.splice(at..at, chunk);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(i..i, bytes);
            }
        }
    }
    data
}

/// Seed files per reader: real files from ../shared/testdata (read at run time, never copied
/// into the repository) and our own samples; small prefixes of the large ones.
fn seeds(testdata: &Path, reader: &str) -> Vec<Vec<u8>> {
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let prefix = |p: PathBuf, n: usize| {
        let mut b = read(p);
        b.truncate(n);
        b
    };
    let td = |s: &str| testdata.join(s);
    match reader {
        "mxlims" => valid_samples().into_iter().map(read).collect(),
        "nxmx" => vec![read(td("collection/nxmx/xrc_209_master.h5"))],
        "cbf" => vec![
            prefix(td("collection/cbf/phi_scan_001.cbf"), 6000),
            prefix(td("collection/cbf/omega_scan.cbf"), 6000),
        ],
        "autoproc-xml" => vec![
            read(td("processing/autoproc/autoPROC.xml")),
            read(td(
                "processing/ispyb-xml/mx_data_reduction_pipeline_results.xml",
            )),
        ],
        "xds-correct" => vec![
            read(td("processing/xds/CORRECT.LP")),
            read(td("processing/xds/CORRECT_single_image.LP")),
        ],
        "xds-ascii" => vec![prefix(td("processing/xds/XDS_ASCII.HKL"), 8000)],
        "mmcif" => vec![
            prefix(td("processing/mmcif/5i55.cif"), 40_000),
            read(repo().join("samples/ssx-chip-processing.cif")),
        ],
        "dials" => vec![read(td("processing/dials/experiments_thaum_0500.json"))],
        "crystfel" => vec![prefix(td("ssx/crystfel/crystfel.stream"), 30_000)],
        "mtz" => vec![
            read(td("processing/mtz/5e5z.mtz")),
            read(repo().join("samples/unmerged-two-sweeps.mtz")),
        ],
        other => panic!("no seeds for reader {other}: add them here"),
    }
}

/// Read one input as `mxpipe ingest` would, bulk rows included; a panic is returned as text.
fn read_all(reader: &dyn Reader, path: &Path) -> Result<(), String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        if let Ok(fragments) = reader.read(path, &ReadOptions::default()) {
            for f in fragments {
                if let Fragment::Message { bulk, .. } = f {
                    for b in bulk {
                        (b.open)().for_each(drop);
                    }
                }
            }
        }
        let _ = mxpipe_ingest::detect(path);
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Mutants per reader (HDF5 files are larger and slower to open).
fn mutants_for(reader: &str) -> usize {
    match reader {
        "nxmx" => 300,
        _ => 2000,
    }
}

#[test]
fn mutated_inputs_never_make_a_reader_panic() {
    let Some(testdata) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keep = repo().join("target-mutation-crashes");
    let mut crashes = Vec::new();
    for reader in READERS {
        let mut rng = Rng(0x6d78_7069_7065 ^ reader.name().len() as u64);
        let seeds = seeds(&testdata, reader.name());
        let path = dir.path().join(format!("input-{}", reader.name()));
        for i in 0..mutants_for(reader.name()) {
            let seed = &seeds[i % seeds.len()];
            let data = mutate(&mut rng, seed);
            std::fs::write(&path, &data).unwrap();
            if let Err(panic) = read_all(*reader, &path) {
                std::fs::create_dir_all(&keep).unwrap();
                let saved = keep.join(format!("{}-{i}", reader.name()));
                std::fs::write(&saved, &data).unwrap();
                crashes.push(format!(
                    "{} mutant {i} (saved as {}): {panic}",
                    reader.name(),
                    saved.display()
                ));
            }
        }
    }
    assert!(
        crashes.is_empty(),
        "{} reader panics:\n{}",
        crashes.len(),
        crashes.join("\n")
    );
}

#[test]
fn random_bytes_never_make_a_reader_or_detection_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(400);
    let mut crashes = Vec::new();
    for i in 0..400 {
        let n = rng.below(6000);
        let mut data: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        // Some start like a format, so the readers get past their first check.
        let starts: [&[u8]; 6] = [
            b"",
            b"data_x\n",
            b"{\"version\":",
            b"###CBF",
            b"CrystFEL stream format 2.3\n",
            b"<AutoProcContainer>",
        ];
        let start = starts[i % starts.len()];
        data.splice(0..0, start.iter().copied());
        let path = dir.path().join(format!("random-{i}"));
        std::fs::write(&path, &data).unwrap();
        for reader in READERS {
            if let Err(p) = read_all(*reader, &path) {
                crashes.push(format!("{} on random input {i}: {p}", reader.name()));
            }
        }
    }
    assert!(crashes.is_empty(), "{}", crashes.join("\n"));
}

#[test]
fn fuzz_regression_inputs_are_replayed() {
    let root = repo().join("tests/fuzz-regressions");
    let mut replayed = 0;
    for reader in READERS {
        let dir = root.join(reader.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if let Err(p) = read_all(*reader, &path) {
                panic!("{} panics on {}: {p}", reader.name(), path.display());
            }
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs under {}",
        root.display()
    );
}

/// Peak resident memory of this process (MB).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Found by fuzzing the NXmx reader: a 59-byte version-0 superblock whose driver-information-block
/// address points into the superblock made libhdf5 allocate and touch 4 GB before failing. The
/// reader now refuses it from its first bytes.
#[test]
fn a_corrupt_hdf5_superblock_is_refused_before_libhdf5_allocates() {
    let file =
        repo().join("tests/fuzz-regressions/nxmx/superblock-driver-block-inside-superblock.h5");
    let before = peak_rss_mb();
    let err = mxpipe_ingest::reader_named("nxmx")
        .unwrap()
        .read(&file, &ReadOptions::default())
        .unwrap_err();
    assert!(err.found.contains("driver information block"), "{err}");
    let grown = peak_rss_mb() - before;
    assert!(
        grown < 1024.0,
        "reading a 59-byte file grew the peak memory by {grown:.0} MB"
    );
}
